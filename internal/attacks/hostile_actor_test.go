package attacks

import (
	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on the actor a group change names besides its sender. A join
// request signs the id of the user requesting to join, an invite disable
// the id of the member who disabled the invite. Both are signed by the
// event's sender, who is the one acting: a sender who signs another
// user's id there claims an act of someone else's, and the name shown
// would be hers.

var actorAttacks = []attack{
	{"join-request-signed-for-another-user", attackJoinRequestForAnother},
	{"invite-disable-signed-as-another-member", attackInviteDisableAsAnother},
}

// attackJoinRequestForAnother: carol, a member, signs a join request
// whose requesting user is mallory (who asked for nothing). Shown, bob
// would read that mallory asked to join.
func attackJoinRequestForAnother(w *world) (string, error) {
	gr := newGroup(w)
	mallory := w.newUser("mallory", false)
	env := gr.env(gr.top(1), gr.hello.SequenceID, 61)
	p, err := crypto.GroupJoinRequestPayload(crypto.SignatureVersion,
		crypto.Header{MessageID: env.MessageID, SenderID: gr.carol.id, ConversationID: gr.g}, mallory.id)
	me, err := gr.carol.groupAction(env, &tevent.GroupChange{GroupJoinRequest: &tevent.GroupJoinRequest{RequestingUserID: &mallory.id}}, p, err)
	if err != nil {
		return "", err
	}
	return actorForged(w, gr, me, "join request", func(g *event.GroupChange) string { return g.RequestingUserID }, mallory.id)
}

// attackInviteDisableAsAnother: carol, a member but no admin, signs an
// invite disable whose disabling member is alice, the admin.
func attackInviteDisableAsAnother(w *world) (string, error) {
	gr := newGroup(w)
	env := gr.env(gr.top(1), gr.hello.SequenceID, 62)
	p, err := crypto.GroupInviteDisablePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: env.MessageID, SenderID: gr.carol.id, ConversationID: gr.g}, gr.alice.id)
	me, err := gr.carol.groupAction(env, &tevent.GroupChange{GroupInviteDisable: &tevent.GroupInviteDisable{DisabledByMemberID: &gr.alice.id}}, p, err)
	if err != nil {
		return "", err
	}
	return actorForged(w, gr, me, "invite disable", func(g *event.GroupChange) string { return g.DisabledBy }, gr.alice.id)
}

// actorForged serves bob me, a group change whose signed actor (named by
// actor) is forged as not its sender, and requires it to fail
// (ErrNotAuthorized) with the forged name shown nowhere: not in what the
// sync hands over, not in bob's history.
func actorForged(w *world, gr *group, me *tevent.MessageEvent, what string, actor func(*event.GroupChange) string, forged string) (string, error) {
	w.injectData("forged-actor", gr.g, encodeAll(w, me)...)
	r := gr.bob.sync(gr.g)
	for _, ev := range r.events {
		if ev.MessageID == me.GetMessageID() && ev.GroupChange != nil && actor(ev.GroupChange) == forged {
			return "", errorf("the %s by %s was handed over naming %s as its actor (verified %v, error %v)", what, me.GetSenderID(), forged, ev.Verified, ev.Err)
		}
	}
	hist, err := gr.bob.e.History(w.ctx, gr.g, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range hist {
		if en.MessageID == me.GetMessageID() && (en.Verified || en.Group != nil && actor(en.Group) == forged) {
			return "", errorf("the %s by %s is stored (verified %v) naming %s as its actor", what, me.GetSenderID(), en.Verified, forged)
		}
	}
	ev, err := eventErr(r, me.GetMessageID(), xchat.ErrNotAuthorized)
	if err != nil {
		return "", err
	}
	return what + " naming another actor than its sender refused: " + ev.Error(), nil
}
