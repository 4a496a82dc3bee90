package attacks

import (
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// An attack on the floor of this account's own key change. When bob
// commits a key, the newest sequence id he had stored bounds where its
// key change may be placed (ownKeyFloorKey): a copy served back at or
// below it places nothing. What counts there must be what bob stored
// verified: a junk event the server pushes at a huge sequence id, stored
// failed, would raise the floor above every place the server will ever
// give his key change, so his key is never placed and every backfilled
// event judged by it fails, a denial the server gets for one push.

var ownKeyFloorAttacks = []attack{
	{"own-key-floor-raised-by-pushed-junk", func(w *world) (string, error) { return attackOwnKeyFloorJunk(w, true) }},
	{"own-key-floor-raised-by-synced-junk", func(w *world) (string, error) { return attackOwnKeyFloorJunk(w, false) }},
}

// attackOwnKeyFloorJunk: the server pushes bob a copy of alice's hello,
// its message id changed (so its signature fails), at a sequence id far
// above the transcript. Bob then rotates the key and writes under it,
// carol writes under bob's key, alice removes carol, and carol's message
// is served at its place below the removal, as in
// own-key-backfilled-honest-message-stays-failed: it must stand, as on a
// fresh device.
//
// The junk event names the place just below it as its predecessor, so
// it closes no place below it: one that did would keep the backfill
// judged as stored, as the server may have any event it serves do
// (previous sequence ids are unsigned; chainLeftGap).
//
// Pushed or served in a sync (then it is bob's sync position when he
// commits his key).
func attackOwnKeyFloorJunk(w *world, pushed bool) (string, error) {
	gr := newGroup(w)
	me, err := encodedOf(w, gr.bob, gr.g, gr.hello.MessageID)
	if err != nil {
		return "", err
	}
	junk := *me
	seq, prev, mid := hostile.NextSequenceID(gr.top(0), 1<<40), hostile.NextSequenceID(gr.top(0), 1<<40-1), forgedMID(71)
	junk.SequenceID, junk.PreviousSequenceID, junk.MessageID = &seq, &prev, &mid
	if pushed {
		push, err := pushOf(gr.bob, "junk-far-above", &junk, "", nil)
		if err != nil {
			return "", err
		}
		if _, handed, err := gr.bob.deliver(push); err != nil {
			return "", errorf("setup: pushing the junk event: %v", err)
		} else if len(handed) != 1 || handed[0].Err == nil {
			return "", errorf("setup: the junk event was not stored failed (%d handed)", len(handed))
		}
	} else {
		w.injectData("junk-far-above", gr.g, encodeAll(w, &junk)...)
		r := gr.bob.sync(gr.g)
		if err, seen := r.byMessage(mid); r.err != nil || !seen || err == nil {
			return "", errorf("setup: the junk event was not stored failed (sync %v, seen %v, error %v)", r.err, seen, err)
		}
		c, err := gr.bob.e.Conversation(w.ctx, gr.g)
		if err != nil {
			return "", err
		}
		if c.LastSequenceID != seq {
			return "", errorf("setup: bob's sync position is %s, not the junk event's %s", c.LastSequenceID, seq)
		}
	}
	v, err := gr.bob.e.Rotate(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	sent := gr.bob.send(gr.g, "bob under his own key")[0]
	if r := gr.carol.sync(gr.g); r.err != nil {
		return "", r.err
	}
	if r := gr.bob.sync(gr.g); r.err != nil {
		return "", r.err
	}
	if _, err := ownKeyChangeStored(gr, v); err != nil {
		return "", err
	}
	back := gr.top(5)
	verdict, mid2, err := backfillBelowRemoval(w, gr, back, sent.SequenceID, func(env hostile.Envelope) (*tevent.MessageEvent, error) {
		return gr.carol.forger().Message(env, v, gr.carol.convKey(gr.g, v), text("carol under bob's key, before her removal"))
	})
	switch {
	case err != nil:
		return "", err
	case verdict != nil:
		return "", errorf("after a junk event at %s (pushed %v), carol's honest message under bob's own key, backfilled below her removal, failed (%v) where a fresh device keeps it", seq, pushed, verdict)
	}
	if err := verifiedIn(gr.bob, gr.g, mid2); err != nil {
		return "", err
	}
	return "a junk event far above raises no floor: the backfilled message under bob's own key verified", nil
}
