package session

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"

	"github.com/xchat-go/xchat/keystore"
)

// TestPendingPastBoundKept: the pending actions of one target past
// maxPending are kept in further records, every one returned once by
// takePending (an action recorded again is not duplicated), the further
// records removed with the list, and the settle count back where it was.
// A mark written before the further records existed (no More) is
// returned as it is: settle then reads the history.
func TestPendingPastBoundKept(t *testing.T) {
	ctx := context.Background()
	const cid, name = "1001-1002", "session/pending-delete/1001-1002/7"
	store := keystore.NewMemory()
	const n = 3*maxPending + 5
	var want []pendingAction
	err := store.Update(ctx, func(tx keystore.Tx) error {
		if err := tx.SetValue(ctx, settleCountKey(cid), []byte("0")); err != nil {
			return err
		}
		for i := range n {
			a := pendingAction{Seq: strconv.Itoa(100 + i), By: "1003"}
			want = append(want, a)
			for range 2 {
				if err := addPendingBounded(ctx, tx, cid, name, a); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []pendingAction
	err = store.Update(ctx, func(tx keystore.Tx) error {
		if c, err := settleCount(ctx, tx, cid); err != nil || c != 1 {
			t.Errorf("settle count %d (%v), want 1", c, err)
		}
		got, err = takePending(ctx, tx, cid, name)
		if err != nil {
			return err
		}
		for i := 1; i <= 4; i++ {
			if _, err := tx.Value(ctx, pendingMoreKey(name, i)); err == nil {
				t.Errorf("further record %d left behind", i)
			}
		}
		if c, err := settleCount(ctx, tx, cid); err != nil || c != 0 {
			t.Errorf("settle count %d (%v) after the take, want 0", c, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("took %d actions %v, want the %d recorded", len(got), got, len(want))
	}

	old := append(slices.Clone(want[:maxPending]), pendingAction{Seq: pendingOverflow})
	b, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	err = store.Update(ctx, func(tx keystore.Tx) error {
		if err := tx.SetValue(ctx, name, b); err != nil {
			return err
		}
		if err := bumpSettleCount(ctx, tx, cid, 1); err != nil {
			return err
		}
		if err := addPendingBounded(ctx, tx, cid, name, pendingAction{Seq: "999"}); err != nil {
			return err
		}
		got, err = takePending(ctx, tx, cid, name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, old) {
		t.Fatalf("an older mark's list taken as %v, want %v", got, old)
	}
}
