package bot_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xchat-go/xchat/bot"
	"github.com/xchat-go/xchat/internal/pgtest"
	"github.com/xchat-go/xchat/keystore"
)

// TestReplicaStalledInHandler: two replicas of one bot account share its
// keystore in PostgreSQL. The replica that takes a command up stalls in
// its handler (a GC pause, a frozen VM: here a channel) past its lease on
// the conversation (its expiry moved into the past in the database: no
// clock, no sleep); the other replica takes the conversation over and
// answers the command. When the stalled one carries on, its answer fails
// with keystore.ErrLeaseLost and is not sent: the sender sees one answer,
// and the conversation's cursor is the new holder's.
func TestReplicaStalledInHandler(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	dsn := pgtest.Shared(t).NewDatabase(t)
	key := [32]byte{0x15, 0xb1}
	bot0 := n.user("stallbot")
	alice := n.user("alice")
	// An hour's TTL: no lease expires during the test but the one the
	// test expires.
	stores, engines := pgReplicas(t, n, bot0, dsn, key, time.Hour)

	type answer struct {
		replica int
		lease   error // Context.CheckLease before the answer
		err     error
	}
	var mu sync.Mutex
	calls := 0
	stalled := -1
	reached := make(chan string, 1) // the stalled handler's conversation
	resume := make(chan struct{})
	answered := make(chan answer, 4)
	runs := make([]*running, 2)
	for i, e := range engines {
		b := bot.New(e, bot.WithLogger(quiet()), bot.WithReconcile(0, 50*time.Millisecond))
		b.Command("ask", func(c *bot.Context) error {
			mu.Lock()
			calls++
			first := stalled < 0
			if first {
				stalled = i
			}
			mu.Unlock()
			if first {
				reached <- c.Conversation()
				<-resume
			}
			lease := c.CheckLease()
			_, err := c.Reply("the answer")
			answered <- answer{i, lease, err}
			return err
		})
		runs[i] = start(ctx, b, n.stream(bot0))
	}
	for _, r := range runs {
		r.waitReady(t, ctx)
	}
	cmd := alice.send(ctx, bot0.id, "!ask")

	var cid string
	select {
	case cid = <-reached:
	case <-ctx.Done():
		t.Fatal("no replica took the command up")
	}
	expireBotLease(t, ctx, dsn, stores[0].Schema(), cid)
	// The other replica takes the conversation over (its retry of the
	// lease) and answers.
	var b answer
	select {
	case b = <-answered:
	case <-ctx.Done():
		t.Fatal("the other replica never answered")
	}
	if b.replica == stalled || b.err != nil || b.lease != nil {
		t.Fatalf("answer of replica %d (the stalled one is %d): %v (lease %v)", b.replica, stalled, b.err, b.lease)
	}
	close(resume)
	var a answer
	select {
	case a = <-answered:
	case <-ctx.Done():
		t.Fatal("the stalled replica never carried on")
	}
	for _, r := range runs {
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
	}
	got := alice.messages(ctx, cmd.ConversationID, bot0.id)
	t.Logf("stalled replica %d: answer error %v; the sender sees %d answer(s); handler calls %d", stalled, a.err, len(got), calls)
	if len(got) != 1 {
		t.Fatalf("the sender sees %d answers to one command, want 1", len(got))
	}
	if !errors.Is(a.err, keystore.ErrLeaseLost) || !errors.Is(a.lease, keystore.ErrLeaseLost) {
		t.Fatalf("the stalled replica's answer: %v, its CheckLease: %v; want ErrLeaseLost", a.err, a.lease)
	}
	if calls != 2 {
		t.Fatalf("%d handler calls, want 2 (the stalled one and the takeover)", calls)
	}
}

// expireBotLease moves the expiry of the bot's lease on conversation cid
// into the past by the database's clock: its holder "stalled" past it.
func expireBotLease(t *testing.T, ctx context.Context, dsn, schema, cid string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, `UPDATE `+schema+`.leases SET expires = now() - interval '1 second' WHERE name = $1`,
		"xchat.bot.v1.conversation/"+cid)
	if err != nil {
		t.Fatal(err)
	}
	if tag.RowsAffected() != 1 {
		t.Fatalf("the bot's lease on %s is not held", cid)
	}
}
