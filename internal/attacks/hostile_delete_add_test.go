package attacks

import (
	"slices"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks of the fourth outside review: what a member may delete.

var deleteAddAttacks = []attack{
	{"delete-for-all-of-own-member-add", attackDeleteOwnMemberAdd},
}

// attackDeleteOwnMemberAdd: alice, the group's admin, adds mallory (the
// member add and the key rotation made with it), then signs a
// delete-for-everyone naming those two events, hoping to wipe from bob's
// transcript the record that she let mallory read the group. A delete for
// everyone removes messages (the XDK's "own messages only"); a group
// change or key change is not a message, and its record must stay.
func attackDeleteOwnMemberAdd(w *world) (string, error) {
	gr := newGroup(w)
	mallory := w.newUser("mallory", false)
	if err := gr.alice.e.AddMembers(w.ctx, gr.g, mallory.id); err != nil {
		return "", err
	}
	if r := gr.bob.sync(gr.g); r.err != nil {
		return "", r.err
	}
	h, err := gr.bob.e.History(w.ctx, gr.g, "", 0)
	if err != nil {
		return "", err
	}
	var targets []string
	for _, en := range h {
		add := en.Type == event.TypeGroupChange && en.Group != nil && slices.Contains(en.Group.MemberIDs, mallory.id)
		if en.Verified && en.SenderID == gr.alice.id && (add || (en.Type == event.TypeKeyChange && decimalAfter(en.SequenceID, gr.hello.SequenceID))) {
			targets = append(targets, en.SequenceID)
		}
	}
	if len(targets) != 2 {
		return "", errorf("setup: want alice's member add of mallory and its key change in bob's history, found %v", targets)
	}
	last := h[len(h)-1].SequenceID
	env := hostile.Envelope{SequenceID: hostile.NextSequenceID(last, 1), PreviousSequenceID: last,
		MessageID: "0b7c1a52-4444-4c4c-8888-000000000001", ConversationID: gr.g}
	p, err := crypto.MessageDeletePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: env.MessageID, SenderID: gr.alice.id, ConversationID: gr.g}, crypto.DeleteForAll, targets)
	if err != nil {
		return "", err
	}
	action := tevent.DeleteMessageAction(crypto.DeleteForAll)
	detail := &tevent.MessageEventDetail{MessageDeleteEvent: &tevent.MessageDeleteEvent{SequenceIds: targets, DeleteMessageAction: &action}}
	me, err := gr.alice.forger().Action(env, detail, p)
	if err != nil {
		return "", err
	}
	b64, err := hostile.EncodeEvent(me)
	if err != nil {
		return "", err
	}
	w.injectData("delete-own-member-add", gr.g, b64)
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		return "", r.err
	}
	after, err := gr.bob.e.History(w.ctx, gr.g, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range after {
		if !slices.Contains(targets, en.SequenceID) {
			continue
		}
		if en.Removed || !en.Verified {
			return "", errorf("alice's delete-for-all erased her %s %s (removed %v, verified %v)", en.Type, en.SequenceID, en.Removed, en.Verified)
		}
		if en.Type == event.TypeGroupChange && (en.Group == nil || !slices.Contains(en.Group.MemberIDs, mallory.id)) {
			return "", errorf("the member add %s no longer names mallory", en.SequenceID)
		}
	}
	ev, seen := r.byMessage(me.GetMessageID())
	if !seen {
		return "", errorf("the delete was not served")
	}
	if ev == nil {
		return "", errorf("not applied, but the delete of a group change is shown as a valid event")
	}
	return "not applied; reported: " + ev.Error(), nil
}

// decimalAfter reports whether sequence id a comes after b.
func decimalAfter(a, b string) bool {
	return len(a) > len(b) || (len(a) == len(b) && a > b)
}
