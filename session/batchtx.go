package session

import (
	"bytes"
	"context"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// batchTx is the transaction of one storing batch of a sync (see
// pageRunner.batch). The server serves a conversation's key changes with
// every page, and each page asks what the store holds under their
// sequence ids twice (storedVerdict while screening, storedCopy while
// storing): batchTx remembers the answer for the batch, so the key
// change's record is opened once a batch, not twice a page. Every write
// of the batch goes through this transaction, and every write of an event
// through PutEvents, which forgets what it overwrites: what is remembered
// is what the store holds.
type batchTx struct {
	keystore.Tx
	cid string
	kcs map[string]*storedState // by sequence id
}

// storedState is what the store holds under a sequence id, as
// storedVerdict and storedCopy read it.
type storedState struct {
	stored   bool // a record is stored there
	damaged  bool // one that cannot be opened (keystore.DamagedType)
	raw      []byte
	verified bool
	removed  bool
	errText  string
}

func newBatchTx(tx keystore.Tx, cid string) *batchTx {
	return &batchTx{Tx: tx, cid: cid}
}

// EventAt finds an event by sequence id in the underlying transaction
// (keystore.EventFinder, which the embedding would hide).
func (t *batchTx) EventAt(ctx context.Context, cid, seq string) (*keystore.StoredEvent, error) {
	return keystore.EventAt(ctx, t.Tx, cid, seq)
}

// PutEvents stores events, forgetting what was remembered under their
// sequence ids.
func (t *batchTx) PutEvents(ctx context.Context, cid string, evs []keystore.StoredEvent) error {
	if cid == t.cid {
		for i := range evs {
			delete(t.kcs, evs[i].SequenceID)
		}
	}
	return t.Tx.PutEvents(ctx, cid, evs)
}

// storedAt returns what the store holds under ev's sequence id, from the
// batch's memory when tx is a batch's and ev a key change of its
// conversation (ok false otherwise: the caller reads the store itself).
func storedAt(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) (st *storedState, ok bool, err error) {
	t, is := tx.(*batchTx)
	if !is || ev.KeyChange == nil || cid != t.cid {
		return nil, false, nil
	}
	if st := t.kcs[ev.SequenceID]; st != nil {
		return st, true, nil
	}
	old, err := eventAt(ctx, t.Tx, cid, ev.SequenceID)
	if err != nil {
		return nil, false, err
	}
	st = &storedState{}
	if old != nil {
		en := entryFromStored(cid, old)
		old.Body.Zero()
		*st = storedState{stored: true, damaged: old.Type == keystore.DamagedType, raw: bytes.Clone(old.Raw),
			verified: en.Verified, removed: en.Removed, errText: en.Error}
	}
	if t.kcs == nil {
		t.kcs = map[string]*storedState{}
	}
	t.kcs[ev.SequenceID] = st
	return st, true, nil
}
