package attacks

import (
	"context"

	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks found by the transcript-mutation harness's extension
// (mutation_ext_test.go): titles, a device that already holds
// history, and pushes mixed with syncs. (Its first finding, seeds
// 0x10000000b, 0x200000008 and 0x30000002d — mallory's events pushed above
// the sync position, her removal synced below them — is the attack
// forgeries-pushed-before-removal-served, fixed on main meanwhile.)

var lateTitleAttacks = []attack{
	{"removal-served-late-keeps-title", attackRemovalLateKeepsTitle},
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
	withheld, whole, err := servedLate(h, extra, h.removal)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	m := lateRounds(withheld, whole)
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
