package attacks

import (
	"github.com/xchat-go/xchat/internal/decimal"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks found by the transcript-mutation harness's extension
// (mutation_ext_test.go, h11r): a device that already holds history, and
// pushes mixed with syncs.

var redteam13Attacks = []attack{
	{"removal-synced-below-a-pushed-event", attackRemovalBelowPush},
	{"removal-pushed-below-stored-events", attackRemovalPushedLate},
}

// attackRemovalBelowPush (the extension's seeds 0x10000000b, 0x200000008
// and 0x30000002d, reduced): bob's device has synced the group up to just
// before alice's removal of mallory. The server pushes him mallory's
// message signed after the removal (through Deliver: she is a member as
// far as he can tell, so it verifies), then serves the removal in the
// next sync, below the pushed message but above the newest event the
// previous sync stored. A push leaves the sync position where it was, so
// unless the engine takes the removal as served late against everything
// it stored (pushed events too), mallory's message is never re-judged.
func attackRemovalBelowPush(w *world) (string, error) {
	h, msg, err := removedMemberScene(w, "mallory after her removal, pushed")
	if err != nil {
		return "", err
	}
	var before []*tevent.MessageEvent
	for _, it := range h.items {
		if decimal.Less(it.seq(), h.removal) {
			before = append(before, it.me)
		}
	}
	first, err := pageOf(before)
	if err != nil {
		return "", err
	}
	whole, err := pageWith(h, []*tevent.MessageEvent{msg}, "")
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	pushes := [][]*tevent.MessageEvent{nil, {msg}, nil}
	o := hs.run(w.t, &mutation{rounds: [][]mutPage{{first}, {whole}}, pushes: pushes, kcs: map[string]string{}})
	if len(o.violations) > 0 {
		return "", errorf("removal synced below a pushed event: %v", o.violations)
	}
	return "mallory's pushed message re-judged when her removal was synced below it", nil
}

// attackRemovalPushedLate: the same scene the other way round. Bob's
// first sync withholds alice's removal of mallory, so mallory's message
// signed after it verifies and is stored; the server then pushes him the
// removal (through Deliver), below that message. Unless a push re-judges
// what is stored above a removal it brings, the next sync (which finds
// the removal stored already) never does either.
func attackRemovalPushedLate(w *world) (string, error) {
	h, msg, err := removedMemberScene(w, "mallory after her removal, before the pushed removal")
	if err != nil {
		return "", err
	}
	withheld, err := pageWith(h, []*tevent.MessageEvent{msg}, h.removal)
	if err != nil {
		return "", err
	}
	whole, err := pageWith(h, []*tevent.MessageEvent{msg}, "")
	if err != nil {
		return "", err
	}
	var removal *tevent.MessageEvent
	for _, it := range h.items {
		if it.seq() == h.removal {
			removal = it.me
		}
	}
	hs := startHarness(w.t, h)
	pushes := [][]*tevent.MessageEvent{nil, {removal}, nil}
	o := hs.run(w.t, &mutation{rounds: [][]mutPage{{withheld}, {whole}}, pushes: pushes, kcs: map[string]string{}})
	if len(o.violations) > 0 {
		return "", errorf("removal pushed below stored events: %v", o.violations)
	}
	if o.failed[msg.GetMessageID()] != nil {
		return "", errorf("setup: mallory's message refused in the first sync: %v", o.failed[msg.GetMessageID()])
	}
	return "mallory's stored message re-judged when her removal was pushed below it", nil
}

// pageOf serves evs as one page, newest first (key changes in the meta).
func pageOf(evs []*tevent.MessageEvent) (mutPage, error) {
	h := &history{}
	return pageWith(h, evs, "")
}
