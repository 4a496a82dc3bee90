package keystore

import "context"

// AutoTx implements every Tx method by running it in its own transaction,
// read-only for reads and read-write for writes. Memory and boltstore.DB embed it, and
// so can another Store implementation (see NewAutoTx).
type AutoTx struct {
	view   func(ctx context.Context, fn func(Tx) error) error
	update func(ctx context.Context, fn func(Tx) error) error
}

// NewAutoTx returns the AutoTx running each call in view or update (a
// Store's View and Update methods).
func NewAutoTx(view, update func(ctx context.Context, fn func(Tx) error) error) AutoTx {
	return AutoTx{view: view, update: update}
}

func viewOne[T any](a AutoTx, ctx context.Context, fn func(Tx) (T, error)) (T, error) {
	var out T
	err := a.view(ctx, func(tx Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// Identity implements the Tx method of the same name in its own transaction.
func (a AutoTx) Identity(ctx context.Context) (*Identity, error) {
	return viewOne(a, ctx, func(tx Tx) (*Identity, error) { return tx.Identity(ctx) })
}

// SetIdentity implements the Tx method of the same name in its own transaction.
func (a AutoTx) SetIdentity(ctx context.Context, id *Identity) error {
	return a.update(ctx, func(tx Tx) error { return tx.SetIdentity(ctx, id) })
}

// PeerKeys implements the Tx method of the same name in its own transaction.
func (a AutoTx) PeerKeys(ctx context.Context, userID string) ([]PeerKey, error) {
	return viewOne(a, ctx, func(tx Tx) ([]PeerKey, error) { return tx.PeerKeys(ctx, userID) })
}

// PutPeerKey implements the Tx method of the same name in its own transaction.
func (a AutoTx) PutPeerKey(ctx context.Context, k PeerKey) error {
	return a.update(ctx, func(tx Tx) error { return tx.PutPeerKey(ctx, k) })
}

// SetPeerVerified implements the Tx method of the same name in its own transaction.
func (a AutoTx) SetPeerVerified(ctx context.Context, userID, version string, verified bool) error {
	return a.update(ctx, func(tx Tx) error { return tx.SetPeerVerified(ctx, userID, version, verified) })
}

// PutConversationKey implements the Tx method of the same name in its own transaction.
func (a AutoTx) PutConversationKey(ctx context.Context, k ConversationKey) error {
	return a.update(ctx, func(tx Tx) error { return tx.PutConversationKey(ctx, k) })
}

// ConversationKey implements the Tx method of the same name in its own transaction.
func (a AutoTx) ConversationKey(ctx context.Context, conversationID, version string) (*ConversationKey, error) {
	return viewOne(a, ctx, func(tx Tx) (*ConversationKey, error) { return tx.ConversationKey(ctx, conversationID, version) })
}

// LatestConversationKey implements the Tx method of the same name in its own transaction.
func (a AutoTx) LatestConversationKey(ctx context.Context, conversationID string) (*ConversationKey, error) {
	return viewOne(a, ctx, func(tx Tx) (*ConversationKey, error) { return tx.LatestConversationKey(ctx, conversationID) })
}

// ConversationKeys implements the Tx method of the same name in its own transaction.
func (a AutoTx) ConversationKeys(ctx context.Context, conversationID string) ([]ConversationKey, error) {
	return viewOne(a, ctx, func(tx Tx) ([]ConversationKey, error) { return tx.ConversationKeys(ctx, conversationID) })
}

// Conversation implements the Tx method of the same name in its own transaction.
func (a AutoTx) Conversation(ctx context.Context, id string) (*Conversation, error) {
	return viewOne(a, ctx, func(tx Tx) (*Conversation, error) { return tx.Conversation(ctx, id) })
}

// PutConversation implements the Tx method of the same name in its own transaction.
func (a AutoTx) PutConversation(ctx context.Context, c *Conversation) error {
	return a.update(ctx, func(tx Tx) error { return tx.PutConversation(ctx, c) })
}

// Conversations implements the Tx method of the same name in its own transaction.
func (a AutoTx) Conversations(ctx context.Context) ([]Conversation, error) {
	return viewOne(a, ctx, func(tx Tx) ([]Conversation, error) { return tx.Conversations(ctx) })
}

// PutEvents implements the Tx method of the same name in its own transaction.
func (a AutoTx) PutEvents(ctx context.Context, conversationID string, events []StoredEvent) error {
	return a.update(ctx, func(tx Tx) error { return tx.PutEvents(ctx, conversationID, events) })
}

// Events implements the Tx method of the same name in its own transaction.
func (a AutoTx) Events(ctx context.Context, conversationID, afterSeq string, limit int) ([]StoredEvent, error) {
	return viewOne(a, ctx, func(tx Tx) ([]StoredEvent, error) { return tx.Events(ctx, conversationID, afterSeq, limit) })
}

// EventAt implements EventFinder in its own transaction.
func (a AutoTx) EventAt(ctx context.Context, conversationID, seq string) (*StoredEvent, error) {
	return viewOne(a, ctx, func(tx Tx) (*StoredEvent, error) { return EventAt(ctx, tx, conversationID, seq) })
}

// EventByMessageID implements the Tx method of the same name in its own transaction.
func (a AutoTx) EventByMessageID(ctx context.Context, conversationID, messageID string) (*StoredEvent, error) {
	return viewOne(a, ctx, func(tx Tx) (*StoredEvent, error) { return tx.EventByMessageID(ctx, conversationID, messageID) })
}

// PutOutbox implements the Tx method of the same name in its own transaction.
func (a AutoTx) PutOutbox(ctx context.Context, item OutboxItem) error {
	return a.update(ctx, func(tx Tx) error { return tx.PutOutbox(ctx, item) })
}

// Outbox implements the Tx method of the same name in its own transaction.
func (a AutoTx) Outbox(ctx context.Context) ([]OutboxItem, error) {
	return viewOne(a, ctx, func(tx Tx) ([]OutboxItem, error) { return tx.Outbox(ctx) })
}

// AckOutbox implements the Tx method of the same name in its own transaction.
func (a AutoTx) AckOutbox(ctx context.Context, messageID string) error {
	return a.update(ctx, func(tx Tx) error { return tx.AckOutbox(ctx, messageID) })
}

// Token implements the Tx method of the same name in its own transaction.
func (a AutoTx) Token(ctx context.Context) (*Token, error) {
	return viewOne(a, ctx, func(tx Tx) (*Token, error) { return tx.Token(ctx) })
}

// SetToken implements the Tx method of the same name in its own transaction.
func (a AutoTx) SetToken(ctx context.Context, t *Token) error {
	return a.update(ctx, func(tx Tx) error { return tx.SetToken(ctx, t) })
}

// Value implements the Tx method of the same name in its own transaction.
func (a AutoTx) Value(ctx context.Context, name string) ([]byte, error) {
	return viewOne(a, ctx, func(tx Tx) ([]byte, error) { return tx.Value(ctx, name) })
}

// SetValue implements the Tx method of the same name in its own transaction.
func (a AutoTx) SetValue(ctx context.Context, name string, value []byte) error {
	return a.update(ctx, func(tx Tx) error { return tx.SetValue(ctx, name, value) })
}
