package keystore

import (
	"context"
	"fmt"
	"slices"
)

// checkedTx is the one Tx both implementations (Memory's memTx and the
// sealed store's sealedTx) go through. It holds every rule of the Tx
// contract that does not depend on how records are kept: a transaction that
// has ended, a done context or a write in a read-only transaction fails
// before any argument is looked at; then the arguments are validated and
// normalised (validate.go); then the read-modify-write rules (immutable key
// material, earliest FirstSeen/CreatedAt, not-found errors, nil deletes) are
// applied over txStorage, which only keeps and finds records. So the model
// and the durable stores cannot drift apart on any of them.
type checkedTx struct {
	ctx      context.Context // the transaction's context
	writable bool
	done     bool // the transaction has ended (set by Memory when fn returns)
	st       txStorage
	// prepped holds PutEvents' validated events while they are stored (no
	// txStorage keeps the slice), cleared after each call: a sync stores
	// its events one PutEvents each.
	prepped []StoredEvent
}

// txStorage keeps and finds the records of one transaction. checkedTx calls
// it only with validated, normalised arguments. Finders return nil (and no
// error) for an absent record; lists are never nil and come in the order
// the Tx contract gives (Outbox excepted: checkedTx sorts it).
type txStorage interface {
	identity() (*Identity, error)
	setIdentity(id Identity) error

	peerKeys(userID string) ([]PeerKey, error)
	peerKey(userID, version string) (*PeerKey, error)
	putPeerKey(k PeerKey) error

	conversationKey(conversationID, version string) (*ConversationKey, error)
	latestConversationKey(conversationID string) (*ConversationKey, error)
	conversationKeys(conversationID string) ([]ConversationKey, error)
	putConversationKey(k ConversationKey) error

	conversation(id string) (*Conversation, error)
	conversations() ([]Conversation, error)
	putConversation(c Conversation) error

	// putEvents stores a non-empty batch of events (checked, but the
	// caller's: their byte slices are only read, or copied to be kept).
	putEvents(conversationID string, events []StoredEvent) error
	events(ctx context.Context, conversationID, afterSeq string, limit int) ([]StoredEvent, error)
	// event returns the event stored under seq (a damaged record as one of
	// DamagedType, as events gives it), nil when there is none.
	event(conversationID, seq string) (*StoredEvent, error)
	eventByMessageID(conversationID, messageID string) (*StoredEvent, error)

	outbox() ([]OutboxItem, error)
	putOutbox(it OutboxItem) error
	deleteOutbox(messageID string) error

	token() (*Token, error)
	setToken(t Token) error
	deleteToken() error

	value(name string) ([]byte, error)
	setValue(name string, value []byte) error
	deleteValue(name string) error
}

// guard admits a call: it fails when the transaction has ended, when ctx or
// the transaction's context is done, or for a write in a read-only
// transaction, in that order; then with the first failed argument check.
func (t *checkedTx) guard(ctx context.Context, write bool, argChecks ...error) error {
	if t.done {
		return fmt.Errorf("%w: transaction used after it ended", ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := t.ctx.Err(); err != nil {
		return err
	}
	if write && !t.writable {
		return ErrReadOnly
	}
	for _, err := range argChecks {
		if err != nil {
			return err
		}
	}
	return nil
}

// writePrepared admits a write, validates and normalises arg with prep and
// stores the result with store.
func writePrepared[A, V any](t *checkedTx, ctx context.Context, arg A, prep func(A) (V, error), store func(V) error) error {
	if err := t.guard(ctx, true); err != nil {
		return err
	}
	v, err := prep(arg)
	if err != nil {
		return err
	}
	return store(v)
}

// orNotFound returns what a txStorage finder returned, with the error
// notFound makes when the record is absent.
func orNotFound[T any](v *T, err error, notFound func() error) (*T, error) {
	if err == nil && v == nil {
		return nil, notFound()
	}
	return v, err
}

// --- identity ---

func (t *checkedTx) Identity(ctx context.Context) (*Identity, error) {
	if err := t.guard(ctx, false); err != nil {
		return nil, err
	}
	id, err := t.st.identity()
	return orNotFound(id, err, func() error { return fmt.Errorf("%w: identity", ErrNotFound) })
}

func (t *checkedTx) SetIdentity(ctx context.Context, id *Identity) error {
	return writePrepared(t, ctx, id, prepIdentity, t.st.setIdentity)
}

// --- peers ---

func (t *checkedTx) PeerKeys(ctx context.Context, userID string) ([]PeerKey, error) {
	if err := t.guard(ctx, false, checkID("user id", userID)); err != nil {
		return nil, err
	}
	return t.st.peerKeys(userID)
}

func (t *checkedTx) PutPeerKey(ctx context.Context, k PeerKey) error {
	if err := t.guard(ctx, true); err != nil {
		return err
	}
	k, err := prepPeerKey(k)
	if err != nil {
		return err
	}
	old, err := t.st.peerKey(k.UserID, k.Version)
	if err != nil {
		return err
	}
	if k, err = mergePeerKey(old, k); err != nil {
		return err
	}
	return t.st.putPeerKey(k)
}

func (t *checkedTx) SetPeerVerified(ctx context.Context, userID, version string, verified bool) error {
	if err := t.guard(ctx, true, checkID("user id", userID), checkVersion("peer key version", version)); err != nil {
		return err
	}
	k, err := t.st.peerKey(userID, version)
	if err != nil {
		return err
	}
	if k == nil {
		return fmt.Errorf("%w: peer key %s/%s", ErrNotFound, userID, version)
	}
	k.Verified = verified
	return t.st.putPeerKey(*k)
}

// --- conversation keys ---

// PutConversationKey zeroes its copies of the key material when it returns.
func (t *checkedTx) PutConversationKey(ctx context.Context, k ConversationKey) error {
	if err := t.guard(ctx, true); err != nil {
		return err
	}
	k, err := prepConversationKey(k)
	if err != nil {
		return err
	}
	defer k.Key.Zero()
	old, err := t.st.conversationKey(k.ConversationID, k.Version)
	if err != nil {
		return err
	}
	if old != nil {
		defer old.Key.Zero()
	}
	if k, err = mergeConversationKey(old, k); err != nil {
		return err
	}
	return t.st.putConversationKey(k)
}

func (t *checkedTx) ConversationKey(ctx context.Context, conversationID, version string) (*ConversationKey, error) {
	if err := t.guard(ctx, false, checkID("conversation id", conversationID), checkVersion("conversation key version", version)); err != nil {
		return nil, err
	}
	k, err := t.st.conversationKey(conversationID, version)
	return orNotFound(k, err, func() error { return fmt.Errorf("%w: conversation key %s/%s", ErrNotFound, conversationID, version) })
}

func (t *checkedTx) LatestConversationKey(ctx context.Context, conversationID string) (*ConversationKey, error) {
	if err := t.guard(ctx, false, checkID("conversation id", conversationID)); err != nil {
		return nil, err
	}
	k, err := t.st.latestConversationKey(conversationID)
	return orNotFound(k, err, func() error { return fmt.Errorf("%w: no key for conversation %s", ErrNotFound, conversationID) })
}

func (t *checkedTx) ConversationKeys(ctx context.Context, conversationID string) ([]ConversationKey, error) {
	if err := t.guard(ctx, false, checkID("conversation id", conversationID)); err != nil {
		return nil, err
	}
	return t.st.conversationKeys(conversationID)
}

// --- conversations ---

func (t *checkedTx) Conversation(ctx context.Context, id string) (*Conversation, error) {
	if err := t.guard(ctx, false, checkID("conversation id", id)); err != nil {
		return nil, err
	}
	c, err := t.st.conversation(id)
	return orNotFound(c, err, func() error { return fmt.Errorf("%w: conversation %s", ErrNotFound, id) })
}

func (t *checkedTx) PutConversation(ctx context.Context, c *Conversation) error {
	return writePrepared(t, ctx, c, prepConversation, t.st.putConversation)
}

func (t *checkedTx) Conversations(ctx context.Context) ([]Conversation, error) {
	if err := t.guard(ctx, false); err != nil {
		return nil, err
	}
	return t.st.conversations()
}

// --- history ---

// PutEvents validates the whole batch before it stores any of it.
func (t *checkedTx) PutEvents(ctx context.Context, conversationID string, events []StoredEvent) error {
	if err := t.guard(ctx, true, checkID("conversation id", conversationID)); err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	prepped := slices.Grow(t.prepped[:0], len(events))[:len(events)]
	defer clear(prepped)
	for i, e := range events {
		var err error
		if prepped[i], err = checkEvent(e); err != nil {
			return err
		}
	}
	t.prepped = prepped
	return t.st.putEvents(conversationID, prepped)
}

func (t *checkedTx) Events(ctx context.Context, conversationID, afterSeq string, limit int) ([]StoredEvent, error) {
	if err := t.guard(ctx, false, checkID("conversation id", conversationID), checkOptionalVersion("sequence id", afterSeq)); err != nil {
		return nil, err
	}
	return t.st.events(ctx, conversationID, afterSeq, limit)
}

// EventAt implements EventFinder.
func (t *checkedTx) EventAt(ctx context.Context, conversationID, seq string) (*StoredEvent, error) {
	if err := t.guard(ctx, false, checkID("conversation id", conversationID), checkVersion("sequence id", seq)); err != nil {
		return nil, err
	}
	e, err := t.st.event(conversationID, seq)
	return orNotFound(e, err, func() error { return &notFound{"event", seq} })
}

func (t *checkedTx) EventByMessageID(ctx context.Context, conversationID, messageID string) (*StoredEvent, error) {
	if err := t.guard(ctx, false, checkID("conversation id", conversationID), checkID("message id", messageID)); err != nil {
		return nil, err
	}
	e, err := t.st.eventByMessageID(conversationID, messageID)
	return orNotFound(e, err, func() error { return &notFound{"message", messageID} })
}

// --- outbox ---

func (t *checkedTx) PutOutbox(ctx context.Context, item OutboxItem) error {
	return writePrepared(t, ctx, item, prepOutbox, t.st.putOutbox)
}

func (t *checkedTx) Outbox(ctx context.Context) ([]OutboxItem, error) {
	if err := t.guard(ctx, false); err != nil {
		return nil, err
	}
	out, err := t.st.outbox()
	if err != nil {
		return nil, err
	}
	sortOutbox(out)
	return out, nil
}

func (t *checkedTx) AckOutbox(ctx context.Context, messageID string) error {
	if err := t.guard(ctx, true, checkID("message id", messageID)); err != nil {
		return err
	}
	return t.st.deleteOutbox(messageID)
}

// --- token ---

func (t *checkedTx) Token(ctx context.Context) (*Token, error) {
	if err := t.guard(ctx, false); err != nil {
		return nil, err
	}
	tok, err := t.st.token()
	return orNotFound(tok, err, func() error { return fmt.Errorf("%w: token", ErrNotFound) })
}

func (t *checkedTx) SetToken(ctx context.Context, tok *Token) error {
	if err := t.guard(ctx, true); err != nil {
		return err
	}
	if tok == nil {
		return t.st.deleteToken()
	}
	return t.st.setToken(prepToken(tok))
}

// --- values ---

func (t *checkedTx) Value(ctx context.Context, name string) ([]byte, error) {
	if err := t.guard(ctx, false, checkValueName(name)); err != nil {
		return nil, err
	}
	v, err := t.st.value(name)
	if err == nil && v == nil {
		err = &notFound{"value", name}
	}
	return v, err
}

func (t *checkedTx) SetValue(ctx context.Context, name string, value []byte) error {
	if err := t.guard(ctx, true, checkValueName(name)); err != nil {
		return err
	}
	if value == nil {
		return t.st.deleteValue(name)
	}
	return t.st.setValue(name, value)
}
