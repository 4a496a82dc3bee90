package bot_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/bot"
	"github.com/xchat-go/xchat/internal/pgtest"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/pgstore"
	"github.com/xchat-go/xchat/session"
)

// TestReplicas: two replicas of one bot account share its keystore in
// PostgreSQL, each with its own engine and Activity stream (so both see
// every push). 8 senders send 25 commands each: every command is handled
// exactly once across the replicas, each conversation's in order.
func TestReplicas(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	dsn := pgtest.Shared(t).NewDatabase(t)
	key := [32]byte{0x15, 0xb0}
	bot0 := n.user("echobot") // provisioned; its account moves to PostgreSQL below
	_, engines := pgReplicas(t, n, bot0, dsn, key, 2*time.Second)

	const senders, per = 8, 25
	var mu sync.Mutex
	seen := map[string]int{}    // message id -> handler calls
	next := map[string]int{}    // conversation -> next index
	byReplica := make([]int, 2) // calls per replica
	var violations []string
	changed := make(chan struct{}, 1)
	runs := make([]*running, 2)
	for i, e := range engines {
		b := bot.New(e, bot.WithLogger(quiet()), bot.WithReconcile(0, 50*time.Millisecond))
		b.Command("n", func(c *bot.Context) error {
			var idx int
			if _, err := fmt.Sscanf(c.RawArgs(), "%d", &idx); err != nil {
				return err
			}
			mu.Lock()
			if want := next[c.Conversation()]; idx != want {
				violations = append(violations, fmt.Sprintf("%s: %d after %d", c.Conversation(), idx, want-1))
			}
			next[c.Conversation()] = idx + 1
			seen[c.MessageID()]++
			byReplica[i]++
			mu.Unlock()
			select {
			case changed <- struct{}{}:
			default:
			}
			return nil
		})
		runs[i] = start(ctx, b, n.stream(bot0))
	}
	for _, r := range runs {
		r.waitReady(t, ctx)
	}
	var wg sync.WaitGroup
	for s := range senders {
		u := n.user(fmt.Sprintf("sender%d", s))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range per {
				if _, err := u.e.SendText(ctx, bot0.id, fmt.Sprintf("!n %d", j)); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got == senders*per {
			break
		}
		select {
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("handled %d of %d", got, senders*per)
		}
	}
	for _, r := range runs {
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for _, c := range seen {
		dups += c - 1
	}
	t.Logf("%d commands handled by the replicas %v, %d duplicates, %d order violations; passes left to the other replica: %d, %d",
		len(seen), byReplica, dups, len(violations), runs[0].b.Stats().Busy, runs[1].b.Stats().Busy)
	if dups != 0 || len(violations) != 0 {
		t.Fatalf("duplicates %d, violations %v", dups, violations[:min(10, len(violations))])
	}
}

// pgReplicas moves bot0's account into the PostgreSQL database dsn (sealed
// under key) and opens two replicas of it there, each its own store
// (holders replica-0 and replica-1, leases lasting ttl) and engine.
func pgReplicas(t *testing.T, n *testNet, bot0 *account, dsn string, key [32]byte, ttl time.Duration) ([]*pgstore.Store, []*session.Engine) {
	t.Helper()
	ctx := ctxT(t)
	stores := make([]*pgstore.Store, 2)
	engines := make([]*session.Engine, 2)
	for i := range stores {
		s, err := pgstore.Open(ctx, dsn, pgstore.Keystore(keystore.WithKey(key)), pgstore.WithHolder(fmt.Sprintf("replica-%d", i)),
			pgstore.WithLeaseTTL(ttl))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	backup, err := bot0.e.ExportBackup()
	if err != nil {
		t.Fatal(err)
	}
	if err := session.ImportBackup(ctx, stores[0], bot0.id, backup, bot0.e.PublicKeyVersion()); err != nil {
		t.Fatal(err)
	}
	clear(backup)
	for i, s := range stores {
		e, err := session.Open(ctx, s, session.NewAPIServer(n.client(bot0.token)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		engines[i] = e
	}
	return stores, engines
}
