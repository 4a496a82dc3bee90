package bot_test

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xchat-go/xchat/bot"
	"github.com/xchat-go/xchat/emulator"
)

// texts returns the texts of the calls.
func texts(cs []call) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.text)
	}
	return out
}

// TestRestartWithoutReplay: a bot handles three commands and stops; two
// more arrive while it is down, and two more the account's engine stores
// without the bot (as `xchat read` on the same keystore would). A new bot
// on a reopened engine and the same keystore handles exactly those four,
// in order, and none of the first three again: alice gets seven answers.
func TestRestartWithoutReplay(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, echobot := n.user("alice"), n.user("echobot")
	rec1 := newRecord()
	r1 := start(ctx, echoBot(echobot, rec1), n.stream(echobot))
	r1.waitReady(t, ctx)
	var conv string
	for _, text := range []string{"!echo 1", "!echo 2", "!echo 3"} {
		conv = alice.send(ctx, echobot.id, text).ConversationID
	}
	if got := joined(alice.waitMessages(ctx, conv, echobot.id, 3)); got != "1|2|3" {
		t.Fatalf("first run answered %q", got)
	}
	if err := r1.stop(); err != nil {
		t.Fatal(err)
	}

	alice.send(ctx, echobot.id, "!echo 4")
	alice.send(ctx, echobot.id, "!echo 5")
	alice.send(ctx, echobot.id, "!echo 6")
	alice.send(ctx, echobot.id, "!echo 7")
	if _, err := echobot.e.Sync(ctx, conv, nil); err != nil { // stored, not handled
		t.Fatal(err)
	}
	if err := echobot.e.Close(); err != nil {
		t.Fatal(err)
	}
	echobot.open()
	rec2 := newRecord()
	r2 := start(ctx, echoBot(echobot, rec2), n.stream(echobot))
	r2.waitReady(t, ctx)
	alice.send(ctx, echobot.id, "!echo end") // handled after any replay
	rec2.waitFor(t, ctx, "the end marker", func() bool {
		return slices.ContainsFunc(rec2.calls, func(c call) bool { return c.text == "!echo end" })
	})
	if err := r2.stop(); err != nil {
		t.Fatal(err)
	}
	want := []string{"!echo 4", "!echo 5", "!echo 6", "!echo 7", "!echo end"}
	if got := texts(rec2.snapshot()); !slices.Equal(got, want) {
		t.Fatalf("second run handled %q, want %q", got, want)
	}
	if got := joined(alice.waitMessages(ctx, conv, echobot.id, 8)); got != "1|2|3|4|5|6|7|end" {
		t.Fatalf("alice got %q", got)
	}
}

// TestShutdownLeavesUnfinishedForNextRun: a bot is stopped while a
// handler is stuck (its Context is cancelled when the drain runs out) and
// a later command waits behind it. The next run handles both, and not the
// one finished before.
func TestShutdownLeavesUnfinishedForNextRun(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, echobot := n.user("alice"), n.user("echobot")
	rec1 := newRecord()
	stuck := make(chan struct{})
	b1 := echoBot(echobot, rec1, bot.WithDrain(0))
	b1.Command("slow", func(c *bot.Context) error {
		rec1.add(c)
		close(stuck)
		<-c.Done()
		return c.Err()
	})
	r1 := start(ctx, b1, n.stream(echobot))
	r1.waitReady(t, ctx)
	conv := alice.send(ctx, echobot.id, "!echo first").ConversationID
	alice.send(ctx, echobot.id, "!slow")
	alice.send(ctx, echobot.id, "!echo after")
	select {
	case <-stuck:
	case <-ctx.Done():
		t.Fatal("the slow command never ran")
	}
	if got := joined(alice.waitMessages(ctx, conv, echobot.id, 1)); got != "first" {
		t.Fatalf("first run answered %q", got)
	}
	if err := r1.stop(); err != nil {
		t.Fatal(err)
	}
	if s := b1.Stats(); s.Skipped != 1 || s.Handled != 1 {
		t.Fatalf("first run: %+v", s)
	}

	echobot.open()
	rec2 := newRecord()
	b2 := echoBot(echobot, rec2)
	b2.Command("slow", func(c *bot.Context) error { rec2.add(c); _, err := c.Reply("slow done"); return err })
	r2 := start(ctx, b2, n.stream(echobot))
	rec2.waitFor(t, ctx, "two calls", func() bool { return len(rec2.calls) >= 2 })
	alice.send(ctx, echobot.id, "!echo end")
	rec2.waitFor(t, ctx, "the end marker", func() bool { return len(rec2.calls) >= 3 })
	if err := r2.stop(); err != nil {
		t.Fatal(err)
	}
	if got, want := texts(rec2.snapshot()), []string{"!slow", "!echo after", "!echo end"}; !slices.Equal(got, want) {
		t.Fatalf("second run handled %q, want %q", got, want)
	}
	if got := joined(alice.waitMessages(ctx, conv, echobot.id, 4)); got != "first|slow done|after|end" {
		t.Fatalf("alice got %q", got)
	}
}

// TestBacklogAtFirstRun: a bot started on an account whose keystore
// already holds a command the server dated two minutes ago does not answer
// it (WithBacklog is one minute); WithBacklog(-1) handles the whole
// history.
func TestBacklogAtFirstRun(t *testing.T) {
	var offset atomic.Int64
	offset.Store(int64(-2 * time.Minute))
	n := newNet(t, emulator.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	ctx := ctxT(t)
	alice, echobot, bob := n.user("alice"), n.user("echobot"), n.user("bob")
	conv := alice.send(ctx, echobot.id, "!echo old").ConversationID
	conv2 := alice.send(ctx, bob.id, "!echo old").ConversationID
	for _, u := range []*account{echobot, bob} {
		if _, err := u.e.SyncAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	offset.Store(0)

	rec := newRecord()
	b := echoBot(echobot, rec)
	r := start(ctx, b, n.stream(echobot))
	r.waitReady(t, ctx)
	alice.send(ctx, conv, "!echo new")
	rec.waitFor(t, ctx, "one call", func() bool { return len(rec.calls) == 1 })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if got := texts(rec.snapshot()); !slices.Equal(got, []string{"!echo new"}) || b.Stats().Backlog != 2 { // the key change and the command
		t.Fatalf("handled %q, stats %+v", got, b.Stats())
	}

	rec2 := newRecord()
	r2 := start(ctx, echoBot(bob, rec2, bot.WithBacklog(-1)), n.stream(bob))
	r2.waitReady(t, ctx)
	alice.send(ctx, conv2, "!echo new")
	rec2.waitFor(t, ctx, "two calls", func() bool { return len(rec2.calls) == 2 })
	if err := r2.stop(); err != nil {
		t.Fatal(err)
	}
	if got := texts(rec2.snapshot()); !slices.Equal(got, []string{"!echo old", "!echo new"}) {
		t.Fatalf("with the whole history: %q", got)
	}
}

// TestBacklogNotAfterCatchUp: the backlog rule trusts the server's
// unsigned dates only for the history the bot finds in a conversation.
// Once it has read that history, a command the server dates to before
// the bot's first run is new all the same and is answered (the cursor
// records the catch-up, so a restart keeps it).
func TestBacklogNotAfterCatchUp(t *testing.T) {
	var offset atomic.Int64
	offset.Store(int64(-2 * time.Minute))
	n := newNet(t, emulator.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	ctx := ctxT(t)
	alice, echobot := n.user("alice"), n.user("echobot")
	conv := alice.send(ctx, echobot.id, "!echo old").ConversationID
	if _, err := echobot.e.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	offset.Store(0)

	rec := newRecord()
	b := echoBot(echobot, rec)
	r := start(ctx, b, n.stream(echobot))
	r.waitReady(t, ctx)
	alice.send(ctx, conv, "!echo new")
	rec.waitFor(t, ctx, "one call", func() bool { return len(rec.calls) == 1 })
	offset.Store(int64(-time.Hour)) // the server dates what follows an hour back
	alice.send(ctx, conv, "!echo backdated")
	rec.waitFor(t, ctx, "two calls", func() bool { return len(rec.calls) == 2 })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	r2 := start(ctx, echoBot(echobot, rec), n.stream(echobot))
	r2.waitReady(t, ctx)
	alice.send(ctx, conv, "!echo backdated again")
	rec.waitFor(t, ctx, "three calls", func() bool { return len(rec.calls) == 3 })
	if err := r2.stop(); err != nil {
		t.Fatal(err)
	}
	if got := texts(rec.snapshot()); !slices.Equal(got, []string{"!echo new", "!echo backdated", "!echo backdated again"}) || b.Stats().Backlog != 2 {
		t.Fatalf("handled %q, stats %+v", got, b.Stats())
	}
}
