package session

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// TestChangeIndexCompleteOnlyFromEmpty: the group change index is complete
// only when started before anything of the conversation was stored (a
// store written before it existed never judges a backfill at its place),
// lists stored group changes ascending once each, and is marked
// incomplete past maxIndexedChanges.
func TestChangeIndexCompleteOnlyFromEmpty(t *testing.T) {
	ctx := context.Background()
	store := keystore.NewMemory()
	const fresh, legacy = "g1001", "g1002"
	err := store.Update(ctx, func(tx keystore.Tx) error {
		if err := tx.PutEvents(ctx, legacy, []keystore.StoredEvent{{SequenceID: "5", Type: "message"}}); err != nil {
			return err
		}
		for _, cid := range []string{fresh, legacy} {
			if err := startChangeIndex(ctx, tx, cid); err != nil {
				return err
			}
		}
		for _, seq := range []string{"30", "7", "30", "100"} {
			for _, cid := range []string{fresh, legacy} {
				if err := noteGroupChange(ctx, tx, cid, &event.Event{Kind: event.KindGroupChange, SequenceID: seq}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	idx, found, err := loadChangeIndex(ctx, store, fresh)
	if err != nil || !found {
		t.Fatalf("fresh index: found %v, %v", found, err)
	}
	if !idx.Complete || !slices.Equal(idx.Seqs, []string{"7", "30", "100"}) {
		t.Errorf("fresh index = %+v, want complete [7 30 100]", idx)
	}
	idx, found, err = loadChangeIndex(ctx, store, legacy)
	if err != nil || !found {
		t.Fatalf("legacy index: found %v, %v", found, err)
	}
	if idx.Complete || len(idx.Seqs) != 0 {
		t.Errorf("index of a conversation stored before it = %+v, want incomplete and empty", idx)
	}

	err = store.Update(ctx, func(tx keystore.Tx) error {
		for i := range maxIndexedChanges {
			ev := &event.Event{Kind: event.KindGroupChange, SequenceID: strconv.Itoa(1000 + i)}
			if err := noteGroupChange(ctx, tx, fresh, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	idx, _, err = loadChangeIndex(ctx, store, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if idx.Complete {
		t.Errorf("index past %d changes still complete (%d listed)", maxIndexedChanges, len(idx.Seqs))
	}
}
