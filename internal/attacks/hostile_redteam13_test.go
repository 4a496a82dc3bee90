package attacks

import (
	"context"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks found by the transcript-mutation harness's extension
// (mutation_ext_test.go, h11r): a device that already holds history, and
// pushes mixed with syncs.

var redteam13Attacks = []attack{
	{"removal-synced-below-a-pushed-event", attackRemovalBelowPush},
	{"removal-pushed-below-stored-events", attackRemovalPushedLate},
	{"removal-served-late-keeps-title", attackRemovalLateKeepsTitle},
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

// attackRemovalLateKeepsTitle (FuzzTranscriptMutationExt's seed
// 0xfffffcc1, reduced): bob's first sync withholds alice's removal of
// mallory, so the title change mallory signs after it (sealed under the
// group key she still holds) verifies and retitles the group; the next
// sync serves the removal below it. Re-judging fails her title change,
// but unless the title it set is undone too, bob goes on showing the
// title of a member removed before she set it.
func attackRemovalLateKeepsTitle(w *world) (string, error) {
	h, msg, err := removedMemberScene(w, "mallory after her removal, beside her title")
	if err != nil {
		return "", err
	}
	const title = "mallory's title after her removal"
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(h.removal, 300)
	v := h.newestVersion()
	tc, err := h.retitle(h.mallory, e, v, h.keys[v], title)
	if err != nil {
		return "", err
	}
	extra := []*tevent.MessageEvent{tc, msg}
	withheld, err := pageWith(h, extra, h.removal)
	if err != nil {
		return "", err
	}
	whole, err := pageWith(h, extra, "")
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	m := &mutation{rounds: [][]mutPage{{withheld}, {whole}}, pushes: make([][]*tevent.MessageEvent, 3), kcs: map[string]string{}}
	first := ""
	m.afterStep = func(ctx context.Context, step int, e *session.Engine, _ keystore.Store, fail func(string, ...any)) {
		if c, err := e.Conversation(ctx, h.g); err == nil && step == 1 {
			first = c.Title
		}
	}
	m.check = func(_ context.Context, c *session.Conversation, v *shown, _ *session.Engine, _ keystore.Store, fail func(string, ...any)) {
		h.checkRoster(c, v, nil, fail)
		if c.Title == title {
			fail("bob shows mallory's title, set after her removal, once the removal is read")
		}
	}
	o := hs.run(w.t, m)
	if len(o.violations) > 0 {
		return "", errorf("removal served late below a title change: %v", o.violations)
	}
	if first != title {
		return "", errorf("setup: mallory's title not shown after the first sync (title %q)", first)
	}
	return "mallory's title undone when her removal arrived late", nil
}

// pageOf serves evs as one page, newest first (key changes in the meta).
func pageOf(evs []*tevent.MessageEvent) (mutPage, error) {
	h := &history{}
	return pageWith(h, evs, "")
}
