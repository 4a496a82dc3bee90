package boltstore

import (
	"context"
	"errors"
	"testing"

	"github.com/xchat-go/xchat/keystore"
)

// TestLookupAllocations bounds the allocations of the look-ups a sync makes
// for every event it stores, each usually finding nothing: a named value
// (the edit index, pending deletes and quotes) and the event stored at a
// sequence id (a one-event Events scan). The answer's not-found error is
// one allocation; the look-up itself makes none beyond it.
func TestLookupAllocations(t *testing.T) {
	ctx := context.Background()
	db, _ := tempDB(t)
	err := db.Update(ctx, func(tx keystore.Tx) error {
		if err := tx.PutEvents(ctx, "1:2", []keystore.StoredEvent{{SequenceID: "1000", SenderID: "1", Type: "message", Raw: []byte("x")}}); err != nil {
			return err
		}
		value := testing.AllocsPerRun(100, func() {
			if _, err := tx.Value(ctx, "session/edit/1:2/999"); !errors.Is(err, keystore.ErrNotFound) {
				t.Fatal(err)
			}
		})
		events := testing.AllocsPerRun(100, func() {
			evs, err := tx.Events(ctx, "1:2", "1000", 1)
			if err != nil || len(evs) != 0 {
				t.Fatal(evs, err)
			}
		})
		t.Logf("value miss: %v allocations; one-event scan past the last: %v", value, events)
		if value > 1 || events > 2 {
			t.Errorf("value miss: %v allocations (at most 1: its error); one-event scan: %v (at most 2)", value, events)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
