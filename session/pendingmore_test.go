package session

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
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

// TestIndexEditKeepsDisplacedPending: an edit stored while its target is
// not stored verified is pending, and so is the edit it replaces in the
// index (one indexed while the target stood verified, before it failed):
// settleEdit takes the author's newest standing edit from the pending
// edits alone. An edit below the indexed one replaces nothing.
func TestIndexEditKeepsDisplacedPending(t *testing.T) {
	ctx := context.Background()
	const cid, target = "1001-1002", "100"
	raw := func(seq string) []byte {
		b, err := wire.EncodeMessageEvent(&tevent.MessageEvent{SequenceID: &seq})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	store := keystore.NewMemory()
	var got []pendingAction
	err := store.Update(ctx, func(tx keystore.Tx) error {
		if err := tx.SetValue(ctx, editIndexKey(cid, target), raw("150")); err != nil {
			return err
		}
		for _, seq := range []string{"120", "160"} {
			if err := indexEdit(ctx, tx, cid, target, &event.Event{SequenceID: seq, Raw: raw(seq)}); err != nil {
				return err
			}
		}
		var err error
		got, err = readPending(ctx, tx, pendingEditKey(cid, target))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []pendingAction{{Seq: "120"}, {Seq: "150"}, {Seq: "160"}}
	if !slices.Equal(got, want) {
		t.Fatalf("pending edits %v, want %v", got, want)
	}
}
