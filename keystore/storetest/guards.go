package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/xchat-go/xchat/keystore"
)

// txCall is one Tx method called with arguments that are invalid where the
// method takes any (an empty or NUL-bearing id, a non-canonical version).
type txCall struct {
	name  string
	write bool
	args  bool // the call has arguments to reject with ErrInvalid
	call  func(ctx context.Context, tx keystore.Tx) error
}

func ignore[T any](_ T, err error) error { return err }

// invalidCalls covers every Tx method.
var invalidCalls = []txCall{
	{"Identity", false, false, func(ctx context.Context, tx keystore.Tx) error { return ignore(tx.Identity(ctx)) }},
	{"SetIdentity", true, true, func(ctx context.Context, tx keystore.Tx) error { return tx.SetIdentity(ctx, nil) }},
	{"PeerKeys", false, true, func(ctx context.Context, tx keystore.Tx) error { return ignore(tx.PeerKeys(ctx, "")) }},
	{"PutPeerKey", true, true, func(ctx context.Context, tx keystore.Tx) error {
		return tx.PutPeerKey(ctx, keystore.PeerKey{UserID: "u", Version: "01", SigningPublicKey: []byte{1}})
	}},
	{"SetPeerVerified", true, true, func(ctx context.Context, tx keystore.Tx) error { return tx.SetPeerVerified(ctx, "u\x00", "1", true) }},
	{"PutConversationKey", true, true, func(ctx context.Context, tx keystore.Tx) error {
		return tx.PutConversationKey(ctx, keystore.ConversationKey{ConversationID: "c", Version: "1"}) // all-zero key
	}},
	{"ConversationKey", false, true, func(ctx context.Context, tx keystore.Tx) error { return ignore(tx.ConversationKey(ctx, "c", "1.0")) }},
	{"LatestConversationKey", false, true, func(ctx context.Context, tx keystore.Tx) error { return ignore(tx.LatestConversationKey(ctx, "")) }},
	{"ConversationKeys", false, true, func(ctx context.Context, tx keystore.Tx) error { return ignore(tx.ConversationKeys(ctx, "")) }},
	{"Conversation", false, true, func(ctx context.Context, tx keystore.Tx) error { return ignore(tx.Conversation(ctx, "")) }},
	{"PutConversation", true, true, func(ctx context.Context, tx keystore.Tx) error {
		return tx.PutConversation(ctx, &keystore.Conversation{ID: "c", Sync: keystore.SyncState{ChainHead: "-1"}})
	}},
	{"Conversations", false, false, func(ctx context.Context, tx keystore.Tx) error { return ignore(tx.Conversations(ctx)) }},
	{"PutEvents", true, true, func(ctx context.Context, tx keystore.Tx) error {
		return tx.PutEvents(ctx, "c", []keystore.StoredEvent{{SequenceID: "1"}, {SequenceID: "x"}})
	}},
	{"Events", false, true, func(ctx context.Context, tx keystore.Tx) error { return ignore(tx.Events(ctx, "c", "+1", 0)) }},
	{"EventByMessageID", false, true, func(ctx context.Context, tx keystore.Tx) error { return ignore(tx.EventByMessageID(ctx, "c", "")) }},
	{"PutOutbox", true, true, func(ctx context.Context, tx keystore.Tx) error {
		return tx.PutOutbox(ctx, keystore.OutboxItem{MessageID: "m", Attempts: -1})
	}},
	{"Outbox", false, false, func(ctx context.Context, tx keystore.Tx) error { return ignore(tx.Outbox(ctx)) }},
	{"AckOutbox", true, true, func(ctx context.Context, tx keystore.Tx) error { return tx.AckOutbox(ctx, "") }},
	{"Token", false, false, func(ctx context.Context, tx keystore.Tx) error { return ignore(tx.Token(ctx)) }},
	{"SetToken", true, false, func(ctx context.Context, tx keystore.Tx) error { return tx.SetToken(ctx, nil) }},
	{"Value", false, true, func(ctx context.Context, tx keystore.Tx) error { return ignore(tx.Value(ctx, "")) }},
	{"SetValue", true, true, func(ctx context.Context, tx keystore.Tx) error { return tx.SetValue(ctx, "a\x00", []byte("v")) }},
}

// testGuardsFirst checks the order of a Tx method's checks: a done context
// (the call's or the transaction's) and a write in View are reported before
// invalid arguments; every method rejects invalid arguments.
func testGuardsFirst(t *testing.T, s keystore.Store) {
	ctx := bg()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, c := range invalidCalls {
		if err := c.call(ctx, s); c.args && !errors.Is(err, keystore.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.name, err)
		}
		mustNil(t, s.View(ctx, func(tx keystore.Tx) error {
			if err := c.call(ctx, tx); c.write && !errors.Is(err, keystore.ErrReadOnly) {
				t.Errorf("%s in View: %v, want ErrReadOnly", c.name, err)
			}
			if err := c.call(cancelled, tx); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context: %v, want context.Canceled", c.name, err)
			}
			return nil
		}))
		txCtx, cancelTx := context.WithCancel(ctx)
		var callErr error
		err := s.Update(txCtx, func(tx keystore.Tx) error {
			cancelTx()
			callErr = c.call(ctx, tx)
			return callErr
		})
		if !errors.Is(callErr, context.Canceled) || !errors.Is(err, context.Canceled) {
			t.Errorf("%s in an Update whose context was cancelled: %v (Update: %v), want context.Canceled", c.name, callErr, err)
		}
	}
}

// TxAfterEnd checks that a Tx kept past the fn of Update or View fails every
// call with ErrClosed, before looking at the arguments. Memory tracks this;
// the sealed stores leave it to their backend's transaction.
func TxAfterEnd(t *testing.T, s keystore.Store) {
	ctx := bg()
	var kept []keystore.Tx
	mustNil(t, s.Update(ctx, func(tx keystore.Tx) error { kept = append(kept, tx); return nil }))
	mustNil(t, s.View(ctx, func(tx keystore.Tx) error { kept = append(kept, tx); return nil }))
	for _, tx := range kept {
		for _, c := range invalidCalls {
			if err := c.call(ctx, tx); !errors.Is(err, keystore.ErrClosed) {
				t.Errorf("%s after the transaction ended: %v, want ErrClosed", c.name, err)
			}
		}
	}
}
