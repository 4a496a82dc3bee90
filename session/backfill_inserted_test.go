package session

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/xchat-go/xchat/keystore"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// putLinked stores, as storeEvent does (noteInserted first), an event of
// cid at seq whose wire bytes name prev as its predecessor ("" for none).
func putLinked(ctx context.Context, t *testing.T, tx keystore.Tx, cid, seq, prev string) {
	t.Helper()
	me := &tevent.MessageEvent{SequenceID: &seq, ConversationID: &cid}
	if prev != "" {
		me.PreviousSequenceID = &prev
	}
	raw, err := wire.EncodeMessageEvent(me)
	if err != nil {
		t.Fatal(err)
	}
	if err := noteInserted(ctx, tx, cid, seq); err != nil {
		t.Fatal(err)
	}
	if err := tx.PutEvents(ctx, cid, []keystore.StoredEvent{{SequenceID: seq, Type: "message", Raw: raw}}); err != nil {
		t.Fatal(err)
	}
}

// gapAt is chainLeftGap over cid's stored change index.
func gapAt(ctx context.Context, t *testing.T, tx keystore.Tx, cid, seq string) bool {
	t.Helper()
	idx, found, err := loadChangeIndex(ctx, tx, cid)
	if err != nil || !found {
		t.Fatalf("change index: found %v, %v", found, err)
	}
	gap, err := chainLeftGap(ctx, tx, cid, &idx, seq)
	if err != nil {
		t.Fatal(err)
	}
	return gap
}

// TestInsertedEventOpensNoPlace: an event stored into a place the stored
// chain closed is recorded (noteInserted), and its predecessor opens no
// place below it (chainLeftGap), also through a run of such events stored
// top down; an honest backfill into a place left open is not recorded and
// keeps the places it opens open; past maxIndexedChanges records the
// index is marked incomplete.
func TestInsertedEventOpensNoPlace(t *testing.T) {
	ctx := context.Background()
	store := keystore.NewMemory()
	const cid = "g1001"
	err := store.Update(ctx, func(tx keystore.Tx) error {
		if err := startChangeIndex(ctx, tx, cid); err != nil {
			return err
		}
		putLinked(ctx, t, tx, cid, "10", "")
		putLinked(ctx, t, tx, cid, "50", "10") // closes 11..49
		if gapAt(ctx, t, tx, cid, "30") {
			t.Error("place 30, closed by 50 (predecessor 10), reads open")
		}
		putLinked(ctx, t, tx, cid, "40", "30") // inserted, naming 30
		if gapAt(ctx, t, tx, cid, "30") {
			t.Error("place 30 reopened by 40, an event stored into the closed place")
		}
		putLinked(ctx, t, tx, cid, "48", "46") // a run stored top down
		putLinked(ctx, t, tx, cid, "46", "44")
		if gapAt(ctx, t, tx, cid, "44") {
			t.Error("place 44 reopened by 46, stored below 48, itself stored into a closed place")
		}
		putLinked(ctx, t, tx, cid, "70", "60") // at the top, leaving 60 open
		if !gapAt(ctx, t, tx, cid, "60") {
			t.Error("place 60, left open by 70 (predecessor 60), reads closed")
		}
		putLinked(ctx, t, tx, cid, "60", "55") // an honest backfill
		if !gapAt(ctx, t, tx, cid, "55") {
			t.Error("place 55, left open by the backfill 60, reads closed")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	idx, _, err := loadChangeIndex(ctx, store, cid)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"40", "46", "48"}; !idx.Complete || !slices.Equal(idx.Inserted, want) {
		t.Fatalf("index = %+v, want complete with inserted %v", idx, want)
	}

	err = store.Update(ctx, func(tx keystore.Tx) error {
		idx.Inserted = idx.Inserted[:0]
		for i := range maxIndexedChanges {
			idx.Inserted = append(idx.Inserted, strconv.Itoa(100000+i))
		}
		if err := idx.save(ctx, tx, cid); err != nil {
			return err
		}
		putLinked(ctx, t, tx, cid, "49", "47") // into the place 50 closed
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	idx, _, err = loadChangeIndex(ctx, store, cid)
	if err != nil {
		t.Fatal(err)
	}
	if idx.Complete {
		t.Errorf("index past %d inserted events still complete", maxIndexedChanges)
	}
}
