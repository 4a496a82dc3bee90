package attacks

import (
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session/event"
)

// Attacks on a message stored before its key: the server serves a
// genuine message but withholds the verified key change that distributes
// its key, and serves the change on a later sync. Bob stores the message
// failed ("unknown conversation key version"); a fresh device served the
// transcript in order decrypts and keeps it verified. Unless the key's
// arrival opens the stored message again, the server makes bob's device
// show genuine messages as failed for good.

var redteam30Attacks = []attack{
	{"key-change-withheld-message-stays-failed-dm", attackKeyWithheldDM},
	{"key-change-withheld-message-stays-failed-group", attackKeyWithheldGroup},
}

// attackKeyWithheldDM: alice rotates the one-to-one conversation's key
// and writes under it; bob's first sync is served the message but not the
// key change, his second the key change.
func attackKeyWithheldDM(w *world) (string, error) {
	d := newDM(w)
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", errorf("setup: %v", r.err)
	}
	v, err := d.alice.e.Rotate(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	sent := d.alice.send(d.bob.id, "under the withheld key", "and another")
	var hide atomic.Bool
	hide.Store(true)
	w.proxy.Add(hostile.Events("withhold-key-change", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		if !hide.Load() {
			return nil
		}
		return withholdKeyVersion(page, v)
	}))
	first := d.bob.sync(d.cid)
	if first.err != nil {
		return "", errorf("first sync: %v", first.err)
	}
	if err, seen := first.byMessage(sent[0].MessageID); !seen || err == nil {
		return "", errorf("setup: the message under the withheld key was not stored failed (seen %v, err %v)", seen, err)
	}
	hide.Store(false)
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", errorf("second sync: %v", r.err)
	}
	return keptOpened(d.bob, d.cid, sent[0].MessageID, sent[1].MessageID)
}

// withholdKeyVersion drops from page the key change of version v (from
// the metadata and the data).
func withholdKeyVersion(page *api.GetChatConversationEventsResponse, v string) error {
	isIt := func(b string) bool {
		me, err := hostile.DecodeEvent(b)
		if err != nil {
			return false
		}
		kc := me.GetDetail().GetConversationKeyChangeEvent()
		return kc != nil && kc.GetConversationKeyVersion() == v
	}
	if page.Meta != nil {
		kept := page.Meta.ConversationKeyEvents[:0]
		for _, b := range page.Meta.ConversationKeyEvents {
			if !isIt(b) {
				kept = append(kept, b)
			}
		}
		page.Meta.ConversationKeyEvents = kept
	}
	kept := page.Data[:0]
	for _, d := range page.Data {
		if !isIt(d.EncodedEvent) {
			kept = append(kept, d)
		}
	}
	page.Data = kept
	return nil
}

// keptOpened requires u's history to show the messages mids verified.
func keptOpened(u *user, cid string, mids ...string) (string, error) {
	hist, err := u.e.History(u.w.ctx, cid, "", 0)
	if err != nil {
		return "", err
	}
	for _, mid := range mids {
		var got *event.Entry
		for i := range hist {
			if hist[i].MessageID == mid {
				got = &hist[i]
			}
		}
		switch {
		case got == nil:
			return "", errorf("message %s missing from the history", mid)
		case !got.Verified:
			return "", errorf("message %s stays failed (%s) after its key change arrived, where a fresh device served the transcript in order keeps it verified", mid, got.Error)
		}
	}
	return fmt.Sprintf("%d messages stored before their key change opened and verified when it arrived", len(mids)), nil
}

// attackKeyWithheldGroup: alice rotates the group's key and writes under
// it, carol answers; bob's first sync is served everything but the key
// change, his second all of it.
func attackKeyWithheldGroup(w *world) (string, error) {
	h := newBareHistory(w)
	h.synced(h.bob)
	h.readServer()
	h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc := h.items[len(h.items)-1].me
	h.say(h.alice, "under the withheld key")
	msg := h.items[len(h.items)-1].me
	h.say(h.carol, "carol under it too")
	h.seal()
	withheld, whole, err := servedLate(h, nil, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	fresh := hs.run(w.t, oneRound(whole))
	if !fresh.verified[msg.GetMessageID()] {
		return "", errorf("setup: a fresh device fails the message (%v)", fresh.failed[msg.GetMessageID()])
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case len(o.violations) > 0:
		return "", errorf("key change served late: %v", o.violations)
	case o.failed[msg.GetMessageID()] == nil:
		return "", errorf("setup: the message was not stored failed by the first sync")
	case !o.verified[msg.GetMessageID()]:
		return "", errorf("alice's message stays failed (%v) after its key change arrived, where a fresh device keeps it verified", o.failed[msg.GetMessageID()])
	}
	return "the message stored before its key change opened and verified when it arrived", nil
}
