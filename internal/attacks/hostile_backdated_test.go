package attacks

import (
	"errors"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on what the backfill rule (session/backfill.go) accepts: an
// event served below changes already stored is judged at its place only
// when the stored chain left that place open. The chain is the server's
// (previous sequence ids are unsigned), but a chain bob stored closed
// around a place stays closed: an event the server stores there after
// the fact cannot open it again.

var backdatedAttacks = []attack{
	{"backdated-message-into-chain-reopened-by-inserted-event", attackChainReopened},
	{"pushed-backdated-message-into-chain-reopened-by-inserted-event", attackChainReopenedPushed},
}

// reopenedScene is backdatedAfterRemoval (bob stored alice's removal of
// carol, the chain closed below it) with, besides carol's backdated
// message msg, an event the server inserts between msg's place and the
// removal after the fact: carol's message naming msg's place as its
// predecessor (it fails: she is no member, and its own place is closed).
func reopenedScene(w *world, said string) (gr *group, junk, msg *event.MessageEvent, err error) {
	gr, msg, err = backdatedAfterRemoval(w, said)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return nil, nil, nil, err
	}
	back := msg.GetSequenceID()
	junk, err = gr.carol.forger().Message(gr.env(hostile.NextSequenceID(back, 2), back, 2801), c.KeyVersion,
		gr.carol.convKey(gr.g, c.KeyVersion), text("carol, inserted to reopen the chain"))
	return gr, junk, msg, err
}

// attackChainReopened: bob stored alice's removal of carol, whose
// predecessor closes the chain below it. The server first serves a
// failing event of its making just above the place it wants (its
// predecessor names that place), then carol's message signed after her
// removal at that place: the event just above it now names it, so the
// chain looks open there, though the removal bob stored before closed it.
// Read at its place carol was a member: the backdated message stands
// unless an event stored into a closed place is kept from reopening it.
func attackChainReopened(w *world) (string, error) {
	said := "carol, after her removal, backdated into a reopened chain"
	gr, junk, msg, err := reopenedScene(w, said)
	if err != nil {
		return "", err
	}
	w.injectData("reopen", gr.g, encodeAll(w, junk)...)
	if r := gr.bob.sync(gr.g); r.err != nil {
		return "", r.err
	}
	w.injectData("backdated", gr.g, encodeAll(w, msg)...)
	r := gr.bob.sync(gr.g)
	if err := gr.bob.forgedShown(gr.g, []string{msg.GetMessageID()}, []string{said}); err != nil {
		return "", errorf("backdated message of a removed member accepted in a chain reopened after the fact: %w", err)
	}
	ev, err := eventErr(r, msg.GetMessageID(), xchat.ErrNotMember)
	if err != nil {
		return "", err
	}
	return "backdated message rejected: " + ev.Error(), nil
}

// attackChainReopenedPushed: as
// backdated-message-into-chain-reopened-by-inserted-event, with both the
// inserted event and carol's backdated message pushed.
func attackChainReopenedPushed(w *world) (string, error) {
	said := "carol, after her removal, pushed into a reopened chain"
	gr, junk, msg, err := reopenedScene(w, said)
	if err != nil {
		return "", err
	}
	pj, err := pushOf(gr.bob, "reopen-1", junk, "", nil)
	if err != nil {
		return "", err
	}
	if _, _, err := gr.bob.deliver(pj); err != nil {
		return "", err
	}
	pm, err := pushOf(gr.bob, "reopen-2", msg, "", nil)
	if err != nil {
		return "", err
	}
	_, handed, err := gr.bob.deliver(pm)
	if err != nil {
		return "", err
	}
	if err := gr.bob.forgedShown(gr.g, []string{msg.GetMessageID()}, []string{said}); err != nil {
		return "", errorf("pushed backdated message of a removed member accepted in a chain reopened after the fact: %w", err)
	}
	for _, h := range handed {
		if h.MessageID == msg.GetMessageID() {
			if h.Verified || !errors.Is(h.Err, xchat.ErrNotMember) {
				return "", errorf("pushed backdated message: verified %v, error %v, want ErrNotMember", h.Verified, h.Err)
			}
			return "rejected: " + h.Err.Error(), nil
		}
	}
	return "", errorf("pushed backdated message not reported (%d handed)", len(handed))
}
