package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/pgstore"
)

// expireLease moves the expiry of lease name into the past by the
// database's clock: its holder "stalled" past the TTL. No renewal
// interferes: the pair's TTL is an hour, renewed every twenty minutes.
func expireLease(t *testing.T, s *pgstore.Store, name string) {
	t.Helper()
	tag, err := rawConn(t).Exec(context.Background(),
		`UPDATE `+s.Schema()+`.leases SET expires = now() - interval '1 second' WHERE name = $1`, name)
	mustNil(t, err)
	if tag.RowsAffected() != 1 {
		t.Fatalf("lease %s is not held", name)
	}
}

// TestFencedLeaseRefusesStalledHolder: a replica whose lease lapsed and
// was taken over can neither write under it nor queue an outbox item; the
// new holder's writes stand. Reads and giving back claims still work.
func TestFencedLeaseRefusesStalledHolder(t *testing.T) {
	ctx := context.Background()
	a, b := replicaPair(t, time.Hour)
	fa, releaseA, err := a.AcquireFencedLease(ctx, "conv/1")
	mustNil(t, err)
	defer releaseA()
	mustNil(t, a.SetValue(fa, "k", []byte("a1")))
	mustNil(t, a.CheckLeases(fa))
	// A lease that lapsed but was not taken over still fences nothing
	// out: no one else can have worked under it.
	expireLease(t, a, "conv/1")
	mustNil(t, a.SetValue(fa, "k", []byte("a2")))

	fb, releaseB, err := b.AcquireFencedLease(ctx, "conv/1") // the takeover
	mustNil(t, err)
	if b.Takeovers() != 1 {
		t.Fatalf("takeovers = %d, want 1", b.Takeovers())
	}
	mustNil(t, b.SetValue(fb, "k", []byte("b")))

	// The stalled holder carries on.
	if err := a.SetValue(fa, "k", []byte("a3")); !errors.Is(err, keystore.ErrLeaseLost) {
		t.Fatalf("write of the stalled holder: %v, want ErrLeaseLost", err)
	}
	if err := a.CheckLeases(fa); !errors.Is(err, keystore.ErrLeaseLost) {
		t.Fatalf("CheckLeases of the stalled holder: %v, want ErrLeaseLost", err)
	}
	item := keystore.OutboxItem{MessageID: "m1", ConversationID: "c", Body: []byte("x")}
	if err := a.QueueOutbox(fa, item); !errors.Is(err, keystore.ErrLeaseLost) {
		t.Fatalf("QueueOutbox of the stalled holder: %v, want ErrLeaseLost", err)
	}
	if _, _, err := a.ClaimOutbox(fa, "c"); !errors.Is(err, keystore.ErrLeaseLost) {
		t.Fatalf("ClaimOutbox of the stalled holder: %v, want ErrLeaseLost", err)
	}
	mustNil(t, a.ReleaseOutbox(fa, "m1"))
	v, err := a.Value(fa, "k") // reads are not fenced
	if err != nil || string(v) != "b" {
		t.Fatalf("k = %q, %v; want the new holder's %q", v, err, "b")
	}
	if ob, err := a.Outbox(ctx); err != nil || len(ob) != 0 {
		t.Fatalf("outbox after a refused queue: %d items, %v", len(ob), err)
	}
	// Unfenced writes are not the lease's business.
	mustNil(t, a.SetValue(ctx, "other", []byte("a")))

	// Released, the lease fences out its own holder's later writes; a
	// new acquisition (a fresh token) writes again.
	releaseB()
	if err := b.SetValue(fb, "k", []byte("late")); !errors.Is(err, keystore.ErrLeaseLost) {
		t.Fatalf("write under a released lease: %v, want ErrLeaseLost", err)
	}
	fa2, releaseA2, err := a.AcquireFencedLease(ctx, "conv/1")
	mustNil(t, err)
	defer releaseA2()
	mustNil(t, a.SetValue(fa2, "k", []byte("a4")))
	if err := a.SetValue(fa, "k", []byte("a5")); !errors.Is(err, keystore.ErrLeaseLost) {
		t.Fatalf("write under the first acquisition after a second: %v, want ErrLeaseLost", err)
	}
}

// TestFencedWriteHoldsOffTakeover: a takeover that starts while a fenced
// write of the old holder is in progress waits for it to commit, so the
// new holder sees the write and the write never lands after it took over.
func TestFencedWriteHoldsOffTakeover(t *testing.T) {
	ctx := context.Background()
	a, b := replicaPair(t, time.Hour)
	fa, releaseA, err := a.AcquireFencedLease(ctx, "conv/1")
	mustNil(t, err)
	defer releaseA()
	expireLease(t, a, "conv/1") // a stalls; b is about to take over
	got := make(chan takeoverRead, 1)
	started := false
	err = a.Update(fa, func(tx keystore.Tx) error {
		if err := tx.SetValue(fa, "k", []byte("from a")); err != nil {
			return err
		}
		if started {
			return nil // a serialization retry
		}
		started = true
		go func() {
			fb, release, err := b.AcquireFencedLease(ctx, "conv/1")
			if err != nil {
				got <- takeoverRead{err: err}
				return
			}
			defer release()
			v, err := b.Value(fb, "k")
			got <- takeoverRead{v: string(v), err: err}
		}()
		return waitForLockWait(ctx, t, got)
	})
	mustNil(t, err)
	r := <-got
	if r.err != nil || r.v != "from a" {
		t.Fatalf("the new holder read %q, %v; want the write it waited for", r.v, r.err)
	}
	if err := a.SetValue(fa, "k", []byte("again")); !errors.Is(err, keystore.ErrLeaseLost) {
		t.Fatalf("write after the takeover: %v, want ErrLeaseLost", err)
	}
}

// takeoverRead is what the new holder read once it took the lease over.
type takeoverRead struct {
	v   string
	err error
}

// waitForLockWait returns once a lease takeover waits on a row lock, or
// fails when the takeover finished first (it did not wait).
func waitForLockWait(ctx context.Context, t *testing.T, got chan takeoverRead) error {
	conn := rawConn(t)
	for {
		select {
		case r := <-got:
			got <- r
			return fmt.Errorf("the takeover completed during a fenced write (read %q, %v)", r.v, r.err)
		default:
		}
		var waiting bool
		err := conn.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_stat_activity
WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid() AND query LIKE '%leases%FOR UPDATE%'`).Scan(&waiting)
		if err != nil || waiting {
			return err
		}
		runtime.Gosched()
	}
}

// TestTryFencedLease: TryFencedLease takes a free lease (or one whose
// holder let it lapse) without waiting, refuses one held, and fences the
// writes made under it like AcquireFencedLease.
func TestTryFencedLease(t *testing.T) {
	ctx := context.Background()
	a, b := replicaPair(t, time.Hour)
	fa, releaseA, ok, err := a.TryFencedLease(ctx, "bot/1")
	mustNil(t, err)
	if !ok || fa == nil {
		t.Fatal("a free lease was not taken")
	}
	defer releaseA()
	mustNil(t, a.SetValue(fa, "k", []byte("a1")))
	if fb, release, ok, err := b.TryFencedLease(ctx, "bot/1"); err != nil || ok || fb != nil || release != nil {
		t.Fatalf("a held lease: ok %v, %v", ok, err)
	}
	expireLease(t, a, "bot/1")
	fb, releaseB, ok, err := b.TryFencedLease(ctx, "bot/1") // the takeover
	mustNil(t, err)
	if !ok {
		t.Fatal("a lapsed lease was not taken over")
	}
	defer releaseB()
	mustNil(t, b.SetValue(fb, "k", []byte("b")))
	if err := a.SetValue(fa, "k", []byte("a2")); !errors.Is(err, keystore.ErrLeaseLost) {
		t.Fatalf("write of the stalled holder: %v, want ErrLeaseLost", err)
	}
	// Fences nest: a lease taken under fb fences with both.
	fb2, releaseB2, err := b.AcquireFencedLease(fb, "conv/1")
	mustNil(t, err)
	defer releaseB2()
	mustNil(t, b.SetValue(fb2, "k", []byte("b2")))
	releaseB()
	if err := b.SetValue(fb2, "k", []byte("b3")); !errors.Is(err, keystore.ErrLeaseLost) {
		t.Fatalf("write under a nested lease once the outer one is released: %v, want ErrLeaseLost", err)
	}
}
