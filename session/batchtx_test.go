package session

import (
	"context"
	"errors"
	"testing"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// A batch remembers what the store holds under a key change's sequence id
// only until the batch writes there: a key change stored, then flipped
// failed, within one batch is judged each time as the store holds it.
func TestBatchTxForgetsWhatItWrites(t *testing.T) {
	ctx := context.Background()
	store := keystore.NewMemory()
	const cid = "1:2"
	raw := []byte("key change bytes")
	kc := &event.Event{SequenceID: "5", Kind: event.KindKeyChange, KeyChange: &event.KeyChange{Version: "1"}, Raw: raw}
	err := store.Update(ctx, func(stx keystore.Tx) error {
		tx := newBatchTx(stx, cid)
		if verdict, stored, err := storedVerdict(ctx, tx, cid, kc); err != nil || stored || verdict != nil {
			t.Fatalf("nothing stored: verdict %v, stored %v, %v", verdict, stored, err)
		}
		if h, err := storedCopy(ctx, tx, cid, kc); err != nil || h != heldNone {
			t.Fatalf("nothing stored: held %v, %v", h, err)
		}
		en := event.Entry{ConversationID: cid, SequenceID: "5", Type: event.TypeKeyChange, Verified: true}
		if err := tx.PutEvents(ctx, cid, []keystore.StoredEvent{storeEntry(&en, raw, "")}); err != nil {
			return err
		}
		if verdict, stored, err := storedVerdict(ctx, tx, cid, kc); err != nil || !stored || verdict != nil {
			t.Fatalf("stored verified: verdict %v, stored %v, %v", verdict, stored, err)
		}
		if h, err := storedCopy(ctx, tx, cid, kc); err != nil || h != heldSame {
			t.Fatalf("stored: held %v, %v", h, err)
		}
		if err := flipEntry(ctx, tx, cid, "5", errors.New("judged again")); err != nil {
			return err
		}
		if verdict, stored, err := storedVerdict(ctx, tx, cid, kc); err != nil || !stored || !errors.Is(verdict, errStoredFailed) {
			t.Fatalf("stored failed: verdict %v, stored %v, %v", verdict, stored, err)
		}
		other := &event.Event{SequenceID: "5", Kind: event.KindKeyChange, KeyChange: &event.KeyChange{Version: "1"}, Raw: []byte("other bytes")}
		if h, err := storedCopy(ctx, tx, cid, other); err != nil || h != heldOther {
			t.Fatalf("other bytes: held %v, %v", h, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
