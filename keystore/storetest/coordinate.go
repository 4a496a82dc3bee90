package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
)

// testLeases checks the Leaser rules: one holder per name, release hands
// it on, TryLease never waits, a waiting AcquireLease honours its context.
func testLeases(t *testing.T, s keystore.Store) {
	l, ok := s.(keystore.Leaser)
	if !ok {
		t.Fatalf("%T does not implement keystore.Leaser", s)
	}
	ctx := bg()
	rel, err := l.AcquireLease(ctx, "conv/a")
	mustNil(t, err)
	if _, got, err := l.TryLease(ctx, "conv/a"); err != nil || got {
		t.Fatalf("TryLease of a held lease: ok %v, err %v", got, err)
	}
	relB, got, err := l.TryLease(ctx, "conv/b")
	if err != nil || !got {
		t.Fatalf("TryLease of a free lease: ok %v, err %v", got, err)
	}
	relB()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := l.AcquireLease(short, "conv/a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AcquireLease of a held lease past its deadline: %v", err)
	}
	acquired := make(chan error, 1)
	go func() {
		r, err := l.AcquireLease(ctx, "conv/a")
		if err == nil {
			r()
		}
		acquired <- err
	}()
	rel()
	rel() // idempotent
	mustNil(t, <-acquired)
	if _, _, err := l.TryLease(ctx, ""); !errors.Is(err, keystore.ErrInvalid) {
		t.Fatalf("empty lease name: %v", err)
	}
}

// testOutboxClaims checks the OutboxClaimer rules: a queued item is held by
// its queuer, ClaimOutbox hands each free item out once, release returns
// it, acknowledgement ends it.
func testOutboxClaims(t *testing.T, s keystore.Store) {
	c, ok := s.(keystore.OutboxClaimer)
	if !ok {
		t.Fatalf("%T does not implement keystore.OutboxClaimer", s)
	}
	ctx := bg()
	item := func(mid, conv string, at time.Duration) keystore.OutboxItem {
		return keystore.OutboxItem{MessageID: mid, ConversationID: conv, Kind: "message", Body: []byte("b-" + mid), CreatedAt: t0.Add(at)}
	}
	mustNil(t, c.QueueOutbox(ctx, item("m1", "c1", 0)))
	mustNil(t, s.PutOutbox(ctx, item("m2", "c1", time.Second)))
	mustNil(t, s.PutOutbox(ctx, item("m3", "c2", 2*time.Second)))
	mustNil(t, s.PutOutbox(ctx, item("m0", "c1", -time.Second)))
	got, busy, err := c.ClaimOutbox(ctx, "c1")
	mustNil(t, err)
	if ids := mids(got); !slices.Equal(ids, []string{"m0", "m2"}) || busy != 1 {
		t.Fatalf("ClaimOutbox(c1) = %v busy %d, want [m0 m2] busy 1", ids, busy)
	}
	if string(got[1].Body) != "b-m2" || got[1].Kind != "message" || !got[1].CreatedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("claimed item = %+v", got[1])
	}
	again, busy, err := c.ClaimOutbox(ctx, "")
	mustNil(t, err)
	if ids := mids(again); !slices.Equal(ids, []string{"m3"}) || busy != 3 {
		t.Fatalf("ClaimOutbox(all) = %v busy %d, want [m3] busy 3", ids, busy)
	}
	mustNil(t, c.ReleaseOutbox(ctx, "m2"))
	mustNil(t, s.AckOutbox(ctx, "m0"))
	mustNil(t, c.ReleaseOutbox(ctx, "m0")) // acknowledged: nothing to release
	mustNil(t, c.ReleaseOutbox(ctx, "m9")) // never queued
	again, _, err = c.ClaimOutbox(ctx, "c1")
	mustNil(t, err)
	if ids := mids(again); !slices.Equal(ids, []string{"m2"}) {
		t.Fatalf("after release: %v, want [m2]", ids)
	}
	// A retry by the claim holder stores the new attempt count and keeps
	// the claim.
	retry := item("m2", "c1", time.Second)
	retry.Attempts, retry.LastError = 1, "503"
	mustNil(t, c.QueueOutbox(ctx, retry))
	if more, _ := testutil.Must2(c.ClaimOutbox(ctx, "c1"))(t); len(more) != 0 {
		t.Fatalf("a held item was claimed twice: %v", mids(more))
	}
	all, err := s.Outbox(ctx)
	mustNil(t, err)
	if ids := mids(all); !slices.Equal(ids, []string{"m1", "m2", "m3"}) || all[1].Attempts != 1 {
		t.Fatalf("outbox after claims = %v (%+v)", ids, all)
	}
	if _, _, err := c.ClaimOutbox(ctx, "a\x00b"); !errors.Is(err, keystore.ErrInvalid) {
		t.Fatalf("bad conversation id: %v", err)
	}
}

func mids(items []keystore.OutboxItem) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.MessageID)
	}
	return out
}
