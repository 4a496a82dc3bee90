package bot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// TestRateLimitForgetsRefilledBuckets: one bucket per conversation id the
// server ever named would grow without bound in a long-running bot; full
// buckets are dropped as the map grows, while a drained one is kept (its
// limit still applies).
func TestRateLimitForgetsRefilledBuckets(t *testing.T) {
	l := &rateLimiter{n: 2, rate: 2 / time.Minute.Seconds(), buckets: map[string]*bucket{}}
	now := time.Unix(1_800_000_000, 0)
	if got := burst(l, "busy", now, 3); got != 2 {
		t.Fatalf("setup: %d of the busy conversation's 3 events in a minute passed, want 2", got)
	}
	for i := range 100_000 {
		now = now.Add(100 * time.Millisecond) // a bucket refills in 30 s: 300 conversations later
		if !l.allow(fmt.Sprint("conv-", i), now) {
			t.Fatalf("conversation %d's first event refused", i)
		}
	}
	if n := len(l.buckets); n > 4*minSweep {
		t.Errorf("%d buckets held after 100,000 conversations, one event each; want at most %d", n, 4*minSweep)
	}
	// Hours later the busy bucket has refilled (and may have been dropped):
	// it must allow two again, then refuse.
	if got := burst(l, "busy", now, 3); got != 2 {
		t.Errorf("%d of the busy conversation's 3 events passed after the sweeps, want 2", got)
	}
}

// burst asks l for n events of cid at now and returns how many passed.
func burst(l *rateLimiter, cid string, now time.Time, n int) int {
	passed := 0
	for range n {
		if l.allow(cid, now) {
			passed++
		}
	}
	return passed
}

// TestRateLimitKeepsDrainedBuckets: a sweep must not drop a bucket that has
// not refilled, or a flood across many conversations would reset the limit
// of the one being rate limited.
func TestRateLimitKeepsDrainedBuckets(t *testing.T) {
	l := &rateLimiter{n: 1, rate: 1 / time.Hour.Seconds(), buckets: map[string]*bucket{}}
	now := time.Unix(1_800_000_000, 0)
	if !l.allow("busy", now) {
		t.Fatal("setup: first event refused")
	}
	for i := range 10 * minSweep {
		if !l.allow(fmt.Sprint("conv-", i), now) {
			t.Fatalf("conversation %d's first event refused", i)
		}
	}
	if l.allow("busy", now) {
		t.Error("a flood of other conversations reset the busy one's limit")
	}
}

// TestKeyChangesReportedOnceBounded: the same change reported by several
// conversations' results reaches OnKeyChange once, a new version of the
// same user is reported, and the memory per user stays bounded however
// many versions the server invents.
func TestKeyChangesReportedOnceBounded(t *testing.T) {
	b, _ := offlineBot(t)
	var got []string
	b.OnKeyChange(func(_ context.Context, kc session.KeyChanged) { got = append(got, kc.New.Version) })
	k := &keyChanges{b: b, ctx: context.Background()}
	change := func(v string) session.KeyChanged {
		return session.KeyChanged{UserID: "2000", Kind: session.KeyRotated, New: &session.PeerKey{Version: v}}
	}
	k.report([]session.KeyChanged{change("1"), change("2")})
	k.report([]session.KeyChanged{change("1"), change("2")}) // the next conversation's result
	if len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Fatalf("reported %v, want [1 2]", got)
	}
	for i := range 1000 {
		k.report([]session.KeyChanged{change(fmt.Sprint(100 + i))})
	}
	if len(got) != 1002 {
		t.Errorf("%d reports after 1000 new versions, want 1002", len(got))
	}
	if n := len(k.last["2000"]); n > keyChangesPerUser {
		t.Errorf("%d changes remembered for one user, want at most %d", n, keyChangesPerUser)
	}
}

// TestCursorAwaitingBounded: a cursor remembers at most awaitingIDs
// messages refused for want of their key, the oldest giving way, once
// each; a stored cursor with more, or with one that is no sequence id,
// is refused as corrupt rather than read.
func TestCursorAwaitingBounded(t *testing.T) {
	var c cursor
	for i := range 3 * awaitingIDs {
		c.await(fmt.Sprint(1000 + i))
		c.await(fmt.Sprint(1000 + i)) // again: kept once
	}
	if len(c.Awaiting) != awaitingIDs || c.Awaiting[0] != fmt.Sprint(1000+2*awaitingIDs) {
		t.Fatalf("remembered %d, oldest %s; want %d, the newest", len(c.Awaiting), c.Awaiting[0], awaitingIDs)
	}
	c.unawait(c.Awaiting[0])
	if len(c.Awaiting) != awaitingIDs-1 {
		t.Fatalf("unawait left %d", len(c.Awaiting))
	}
	ctx := context.Background()
	st := keystore.NewMemory()
	if err := saveCursor(ctx, st, "1:2", c); err != nil {
		t.Fatal(err)
	}
	if got, err := loadCursor(ctx, st, "1:2"); err != nil || !slices.Equal(got.Awaiting, c.Awaiting) {
		t.Fatalf("loaded %v, %v", got.Awaiting, err)
	}
	for name, bad := range map[string]cursor{
		"too many":          {Awaiting: append(slices.Clone(c.Awaiting), "1", "2")},
		"no sequence id":    {Awaiting: []string{"12", "x"}},
		"an empty sequence": {Awaiting: []string{""}},
	} {
		if err := saveCursor(ctx, st, "1:2", bad); err != nil {
			t.Fatal(err)
		}
		if _, err := loadCursor(ctx, st, "1:2"); !errors.Is(err, keystore.ErrCorrupt) {
			t.Errorf("%s: loadCursor returned %v, want ErrCorrupt", name, err)
		}
	}
}

// TestReportsNeverStoredAreForgotten: the engine hands a failed event
// past the conversation's failed allowance to the bot without storing it,
// at whatever sequence id the server chose. Reports ahead of the cursor
// that a pass read to the end did not bring are of no stored event: they
// are forgotten, or a server pushing such events at ever new sequence ids
// would grow the bot's memory, and the work of each pass, without bound.
func TestReportsNeverStoredAreForgotten(t *testing.T) {
	_, r := offlineBot(t)
	const cid = "1000:2000"
	for i := range 1000 {
		r.emitted(&event.Event{ConversationID: cid, SequenceID: fmt.Sprint(1_000_000_000_000_000 + i), MessageID: fmt.Sprint("m-", i),
			Kind: event.KindMessage, SenderID: "2000", Err: errors.New("forged")})
	}
	r.mu.Lock()
	c := r.convs[cid]
	held := len(c.emitted)
	r.mu.Unlock()
	if held != 1000 {
		t.Fatalf("setup: %d reports held, want 1000", held)
	}
	r.pass(c)
	r.mu.Lock()
	held = len(c.emitted)
	r.mu.Unlock()
	if held != 0 {
		t.Fatalf("%d reports of events never stored held after a pass read everything stored, want none", held)
	}
}

// TestConversationsHoldingNothingAreForgotten: the server names
// conversations at will, and the engine hands a pushed event of one it
// does not record over unstored. A run keeps no state for a conversation
// once a pass found nothing in it: one kept for each conversation id a
// push named would grow without bound.
func TestConversationsHoldingNothingAreForgotten(t *testing.T) {
	_, r := offlineBot(t)
	for i := range 1000 {
		r.emitted(&event.Event{ConversationID: fmt.Sprint("1000:", 5000+i), SequenceID: "7", MessageID: "m",
			Kind: event.KindMessage, SenderID: fmt.Sprint(5000 + i), Err: errors.New("forged")})
	}
	r.mu.Lock()
	convs := slices.Collect(maps.Values(r.convs))
	r.mu.Unlock()
	if len(convs) != 1000 {
		t.Fatalf("setup: %d conversations, want 1000", len(convs))
	}
	for _, c := range convs {
		r.mu.Lock()
		c.queued, c.running = false, true // as the worker takes it up
		r.mu.Unlock()
		r.pass(c)
		r.passed(c)
	}
	r.mu.Lock()
	n := len(r.convs)
	r.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d conversations holding nothing kept after their passes, want none", n)
	}
}

// TestLateReportOfNothingStoredIsNoError: the engine hands over a failed
// event past its conversation's allowance without storing it; pushed at a
// place the cursor passed, it is reported behind the cursor with nothing
// stored there. That is nothing to route and no error of the bot's (it
// was reported as "reading late event …: <nil>").
func TestLateReportOfNothingStoredIsNoError(t *testing.T) {
	b, r := offlineBot(t)
	const cid = "1000:2000"
	r.emitted(&event.Event{ConversationID: cid, SequenceID: "5", MessageID: "m-5",
		Kind: event.KindMessage, SenderID: "2000", Err: errors.New("forged")})
	r.mu.Lock()
	c := r.convs[cid]
	c.cur.Seq = "9"
	r.mu.Unlock()
	r.handleLate(c)
	if n := b.m.errors.Load(); n != 0 {
		t.Fatalf("%d errors reported for a late report of nothing stored", n)
	}
}
