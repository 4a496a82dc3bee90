package attacks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// The extension, part 3: the invariants beyond the base harness's, which
// all hold too (mutation_test.go).
//
//   - admins: bob's confirmed admins lie within an honest roster no older
//     than the newest group change he verified; his claimed admins are
//     honest admins, or ids the server put in the create's unsigned admin
//     list; a roster with claimed admins or unconfirmed members is never
//     shown as confirmed; no group change by someone who is no admin takes
//     effect (dave's admin add of himself and removal of carol verify only
//     while the server's claims make him a claimed admin);
//   - title: the title bob shows is one an honest member set, or none (or
//     one that did not open); mallory's (signed in a change after her
//     removal, or claimed in the server's group_name) only while bob's
//     verified history does not hold her removal, or holds her change
//     below it;
//   - a device that holds history: every event verified in the honest
//     prefix stays stored and verified, and every key stored as verified
//     stays so, except mallory's once her removal is verified (a signed
//     event that justifies re-judging them).

// extRun is the extension's state for one run.
type extRun struct {
	h      *history
	p      *extPlan
	stored map[string]event.Entry // the prefix's verified entries by sequence id
	keys   map[string]string      // key versions stored as verified after the prefix → their creator
}

// newExtHarness builds a world, plays the extension's history chosen by
// seed and starts the hostile server.
func newExtHarness(tb testing.TB, seed uint64) *harness {
	w := newWorld(tb, emulator.WithRateLimit(0, 0))
	return startHarness(tb, newExtHistory(w, rand.New(rand.NewPCG(seed, 0x65787468))))
}

// runExt serves the extension's mutation seed to a fresh device of bob's.
func (hs *harness) runExt(tb testing.TB, seed uint64) (*runOutcome, *extPlan) {
	m, p := hs.h.mutateExt(rand.New(rand.NewPCG(seed, 0x6d757478)))
	m.openNotFailed = extNotFailedOpen[seed]
	x := &extRun{h: hs.h, p: p}
	m.afterStep, m.tolerate, m.check = x.afterStep, x.tolerate, x.check
	return hs.run(tb, m), p
}

// afterStep keeps what the prefix round (step 1) stored as verified.
func (x *extRun) afterStep(ctx context.Context, step int, e *session.Engine, store keystore.Store, fail func(string, ...any)) {
	if x.p.prefix == 0 || step != 1 {
		return
	}
	hist, err := e.History(ctx, x.h.g, "", 0)
	if err != nil {
		if !errors.Is(err, xchat.ErrUnknownConversation) {
			fail("History after the prefix: %v", err)
		}
		return
	}
	x.stored, x.keys = map[string]event.Entry{}, map[string]string{}
	for _, en := range hist {
		if en.Verified {
			x.stored[en.SequenceID] = en
		}
	}
	ks, err := store.ConversationKeys(ctx, x.h.g)
	if err != nil {
		fail("ConversationKeys after the prefix: %v", err)
		return
	}
	for _, k := range ks {
		if k.Verified {
			x.keys[k.Version] = k.CreatedBy
		}
		k.Key.Zero()
	}
}

// tolerate lets dave's group changes verify when the server's unsigned
// claims could make him a claimed admin (it inflated the create's admin
// list with him, or bob holds him as one): the roster says so.
func (x *extRun) tolerate(c *session.Conversation, en event.Entry) bool {
	dv := x.h.dv.id
	return x.h.daveForged[en.MessageID] && (slices.Contains(c.ClaimedAdmins, dv) || slices.Contains(x.p.inflated, dv))
}

// check runs the extension's checks.
func (x *extRun) check(ctx context.Context, c *session.Conversation, v *shown, e *session.Engine, store keystore.Store, fail func(string, ...any)) {
	hist, err := e.History(ctx, x.h.g, "", 0)
	if err != nil {
		fail("History: %v", err)
		return
	}
	x.p.claimed = len(c.ClaimedAdmins) > 0
	gains, malloryShown := x.gains(c, v, hist)
	x.h.checkRoster(c, v, gains, fail)
	x.checkClaims(c, gains, fail)
	x.checkTitle(c, v.removedAt == "" || malloryShown, fail)
	x.checkKept(ctx, v, hist, store, fail)
}

// gains returns the ids the forgeries bob verified (and the checks
// tolerate) add to the roster, and whether a title change of mallory's
// is among them.
func (x *extRun) gains(c *session.Conversation, v *shown, hist []event.Entry) (gains []string, malloryTitle bool) {
	honest := map[string]bool{}
	for _, it := range x.h.items {
		honest[it.me.GetMessageID()] = true
	}
	for _, en := range hist {
		if !en.Verified || honest[en.MessageID] || en.Group == nil {
			continue
		}
		if en.SenderID == x.h.mallory.id && !v.afterRemoval(en.SequenceID) || x.tolerate(c, en) {
			gains = append(gains, en.Group.AdminIDs...)
			gains = append(gains, en.Group.MemberIDs...)
			malloryTitle = malloryTitle || en.Group.Kind == event.GroupTitleChanged && en.SenderID == x.h.mallory.id
		}
	}
	return gains, malloryTitle
}

// checkClaims checks the admins bob holds on unsigned grounds and the
// roster's state.
func (x *extRun) checkClaims(c *session.Conversation, gains []string, fail func(string, ...any)) {
	var ever []string
	for _, r := range x.h.rosters {
		ever = append(ever, r.admins...)
	}
	for _, a := range c.ClaimedAdmins {
		if !slices.Contains(ever, a) && !slices.Contains(x.p.inflated, a) && !slices.Contains(gains, a) {
			fail("claimed admin %s: neither an honest admin nor named by the server's claims (inflated %v)", a, x.p.inflated)
		}
	}
	if (len(c.ClaimedAdmins) > 0 || len(c.UnconfirmedMembers) > 0) && c.Roster == session.RosterConfirmed {
		fail("roster shown as confirmed with claimed admins %v and unconfirmed members %v", c.ClaimedAdmins, c.UnconfirmedMembers)
	}
}

// checkTitle requires the title shown to be an honest one (or none, or
// one not opened); mallory's only when tolerated.
func (x *extRun) checkTitle(c *session.Conversation, tolerant bool, fail func(string, ...any)) {
	switch {
	case c.Title == "" || slices.Contains(x.h.titles, c.Title) || unopened(c.Title):
	case tolerant && slices.Contains(x.h.malloryTitles, c.Title):
	default:
		fail("title %q shown: no honest member set it (mallory's tolerated: %v)", c.Title, tolerant)
	}
}

// unopened reports whether a title shown is a sealed box left unopened
// (a member who never received the key that sealed it).
func unopened(title string) bool {
	b, err := wire.DecodeB64(title)
	return err == nil && len(b) >= crypto.SecretboxOverhead
}

// checkKept requires what the prefix stored as verified to stay so.
func (x *extRun) checkKept(ctx context.Context, v *shown, hist []event.Entry, store keystore.Store, fail func(string, ...any)) {
	if x.stored == nil {
		return
	}
	justified := func(sender string) bool { return sender == x.h.mallory.id && v.removedAt != "" }
	now := map[string]event.Entry{}
	for _, en := range hist {
		now[en.SequenceID] = en
	}
	for seq, was := range x.stored {
		en, ok := now[seq]
		switch {
		case !ok:
			fail("%s %s verified at %s after the prefix is no longer stored", was.Type, was.MessageID, seq)
		case en.MessageID != was.MessageID:
			fail("%s %s verified at %s after the prefix replaced by %s %s", was.Type, was.MessageID, seq, en.Type, en.MessageID)
		case !en.Verified && !justified(was.SenderID):
			fail("%s %s by %s verified at %s after the prefix, now unverified (%s)", was.Type, was.MessageID, was.SenderID, seq, en.Error)
		}
	}
	ks, err := store.ConversationKeys(ctx, x.h.g)
	if err != nil {
		fail("ConversationKeys: %v", err)
		return
	}
	held := map[string]bool{}
	for _, k := range ks {
		held[k.Version] = k.Verified
		k.Key.Zero()
	}
	for version, by := range x.keys {
		if !held[version] && !justified(by) {
			fail("key version %s by %s verified after the prefix, now unverified or gone", version, by)
		}
	}
}

// extHistories and extSeeds are how many histories and mutations the
// extension runs in make test.
const (
	extHistories = 3
	extSeeds     = 60
)

// extKnownOpen are the extension's seeds whose violations are found and
// not yet fixed, each with the reason; the summary line counts them.
var extKnownOpen = map[uint64]string{}

// extNotFailedOpen are the extension's seeds whose "not failed"
// violations (only those) are known open, as notFailedOpen. Fixed and
// kept as corpus:
//   - seeds 0x1000002af, 0x1000006f5, 0xfffffc18 and 0x1000007e2 (corpus
//     21f77a61db6762e5, 59b44a4359cfc4fa, a32a006c4adb04aa and
//     529388c09f55ad2e): syncs of the group the server cut short before
//     its create, whose group changes failed before a roster existed; a
//     group's sync cut short now processes nothing
//     (session/pages.go:syncState.cutShort);
//   - seed 0xfffffac1 (corpus 2f6c25b07d9e1573): mallory's key change and
//     her message under it backfilled in one batch below her removal; the
//     message, screened before the key change was stored, failed at its
//     place (now backfilled-key-change-with-its-authors-message);
//   - seed 0x10000015a (corpus 12515c4be257cd20): the create read before
//     its pair (not stored), the pair served in a later sync and the
//     create never again; the honest title changes, admin add and removal
//     read meanwhile failed for good. The create read unbound is now
//     remembered and bound once its pair is stored, the group read again
//     from no roster (session/latebind.go; attack
//     create-pair-served-late-honest-changes-fail-for-good);
//   - seed 0xfffff7d9 (corpus d0fb1a7fc9049133): the same family, the
//     create read alone (not stored), an admin removal then served and
//     stored failed at its sequence id (the server forked it away), its
//     pair served in a third sync. The create read first holds its place
//     as on a fresh device served the events in order: bound late, it
//     takes the place of the failed event stored there;
//   - seed 0x100000991 (corpus 9d45801cb5b1b504): the create read alone
//     (not stored, remembered unbound at its place), then in one sync a
//     message of its creator forked into that place and the create served
//     again, with its pair, just above it. The copy failed as a replay of
//     the remembered create, which was never bound: its pair was served
//     in the sync but stored only with a later batch, which also stored a
//     member add naming bob (a join roster), and no group change had
//     failed at the end of the first. The create read unbound now binds
//     at the end of any batch that holds its pair (stored, or served
//     verified in the sync), failed changes or not
//     (session/latebind.go:Engine.bindLateCreate; the scene, written
//     deterministically: attack
//     create-pair-on-later-page-join-starts-roster-first), and a copy is
//     a replay only of a create that can still bind (its place held by
//     no event verified: attack
//     create-place-taken-served-again-honest-changes-fail-for-good). The
//     seed's layout varies from run to run: the emulator's sequence ids
//     follow its clock, so which honest events share a millisecond (and
//     lie 1 apart, where the mutation's forks and copies land 1 or 2
//     above the tip) differs between runs; the seed was open in each of
//     8 runs before the fix and passed in each of 26 after it.
var extNotFailedOpen = map[uint64]string{}

// TestTranscriptMutationsExt serves bob mutations of the extension's
// histories (admins, titles, a device holding history, pushes mixed with
// syncs) and checks every invariant; the honest transcript must be taken
// whole first, its final roster and title reached.
func TestTranscriptMutationsExt(t *testing.T) {
	transcripts, violations, known, prefixed, claimed := 0, 0, 0, 0, 0
	var kept notFailed
	histories, seeds := envCount("MUTATION_EXT_HISTORIES", extHistories), envCount("MUTATION_EXT_SEEDS", extSeeds)
	for hseed := uint64(1); hseed <= histories; hseed++ {
		hs := newExtHarness(t, hseed)
		if err := hs.honestTaken(t); err != nil {
			t.Errorf("history %d: the honest transcript: %v", hseed, err)
		}
		transcripts++
		for s := uint64(1); s <= seeds; s++ {
			seed := hseed<<32 | s
			if only := os.Getenv("MUTATION_ONLY"); only != "" && only != fmt.Sprintf("%#x", seed) {
				continue
			}
			o, p := hs.runExt(t, seed)
			transcripts++
			kept.add(o.kept)
			if p.prefix > 0 {
				prefixed++
			}
			if p.claimed {
				claimed++
			}
			bad, open := judgeRun(t, extKnownOpen, hseed, seed, o.violations, o.m.ops)
			violations, known = violations+bad, known+open+judgeNotFailedOpen(t, hseed, seed, o.m, o.openNotFailed)
		}
	}
	line := fmt.Sprintf("mutations-ext: %d transcripts, %d invariant violations, %d known open, %d on a device holding history, %d with claimed admins; not failed: %s",
		transcripts, violations, known, prefixed, claimed, kept)
	t.Log(line)
	addSummary(line)
}

// FuzzTranscriptMutationExt explores the extension's mutation seeds of
// one history (scripts/fuzz.sh runs it): every invariant must hold.
func FuzzTranscriptMutationExt(f *testing.F) {
	hs := newExtHarness(f, 1)
	for s := uint64(1); s <= 8; s++ {
		f.Add(1<<32 | s) // the seeds TestTranscriptMutationsExt runs on this history
	}
	// 0x10000000b (with 0x200000008 and 0x30000002d on histories 2 and 3):
	// mallory's messages pushed above the sync position, her removal
	// synced below them (forgeries-pushed-before-removal-served).
	f.Add(uint64(0x10000000b))
	f.Fuzz(func(t *testing.T, seed uint64) {
		o, _ := hs.runExt(t, seed)
		if len(o.openNotFailed) > 0 {
			t.Logf("KNOWN OPEN (%s) seed %#x:\n  %s", o.m.openNotFailed, seed, joinLines(o.openNotFailed))
		}
		if why, open := extKnownOpen[seed]; open && len(o.violations) > 0 {
			t.Logf("KNOWN OPEN (%s) seed %#x:\n  %s", why, seed, joinLines(o.violations))
			return
		}
		if len(o.violations) > 0 {
			t.Fatalf("seed %#x: %d violations:\n  %s\nmutation:\n  %s", seed, len(o.violations), joinLines(o.violations), joinLines(o.m.ops))
		}
	})
}
