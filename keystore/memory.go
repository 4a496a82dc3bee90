package keystore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/xchat-go/xchat/internal/decimal"
)

// Memory is an in-memory Store for tests. It follows the same rules as the
// durable backends (validation, ordering, conflicts, transactions) but keeps
// nothing on disk and seals nothing. Values are copied in and out, so callers never share
// memory with the store. It is safe for concurrent use.
//
// Update holds the write lock for its whole run and writes in place,
// journalling how to undo each write; the journal is replayed backwards
// when fn fails (or panics), so a write costs the same whatever the size of
// the store.
type Memory struct {
	AutoTx

	mu     sync.RWMutex
	state  *memState
	closed bool

	leases localLeases // see Leaser and OutboxClaimer
}

// memState is the store's state. Readers see it only between updates.
type memState struct {
	identity *Identity
	token    *Token
	values   map[string][]byte
	peers    map[string]map[string]PeerKey         // user -> version -> key
	convKeys map[string]map[string]ConversationKey // conversation -> version -> key
	convs    map[string]Conversation
	events   map[string]*memEvents // conversation -> events
	outbox   map[string]OutboxItem
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	m := &Memory{state: &memState{
		values:   map[string][]byte{},
		peers:    map[string]map[string]PeerKey{},
		convKeys: map[string]map[string]ConversationKey{},
		convs:    map[string]Conversation{},
		events:   map[string]*memEvents{},
		outbox:   map[string]OutboxItem{},
	}}
	m.AutoTx = AutoTx{view: m.View, update: m.Update}
	return m
}

// Update runs fn against the state; its writes stay only when fn returns
// nil, and are undone otherwise (also when fn panics).
func (m *Memory) Update(ctx context.Context, fn func(tx Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	tx := &memTx{ctx: ctx, s: m.state, writable: true}
	committed := false
	defer func() {
		tx.done = true
		if !committed {
			for i := len(tx.undo) - 1; i >= 0; i-- {
				tx.undo[i]()
			}
		}
		tx.undo = nil
	}()
	if err := fn(tx); err != nil {
		return err
	}
	committed = true
	return nil
}

// View runs fn against the current snapshot.
func (m *Memory) View(ctx context.Context, fn func(tx Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	tx := &memTx{ctx: ctx, s: m.state}
	defer func() { tx.done = true }()
	return fn(tx)
}

// Close discards the state, zeroing the secrets it held.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	s := m.state
	if s.identity != nil {
		s.identity.Backup.Zero()
	}
	for _, ks := range s.convKeys {
		for v, k := range ks {
			k.Key.Zero()
			ks[v] = k
		}
	}
	for _, evs := range s.events {
		for _, e := range evs.bySeq {
			e.Body.Zero()
		}
	}
	for _, it := range s.outbox {
		it.Body.Zero()
	}
	for _, v := range s.values {
		clear(v)
	}
	m.state = &memState{}
	return nil
}

// memTx is a transaction over a memState.
type memTx struct {
	ctx      context.Context
	s        *memState
	writable bool
	done     bool     // fn has returned: the transaction may no longer be used
	undo     []func() // how to undo this transaction's writes, oldest first
}

func (t *memTx) check(ctx context.Context, write bool) error {
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
	return nil
}

// setInner sets outer[key][k] = v, journalling the previous state.
func setInner[V any](t *memTx, outer map[string]map[string]V, key, k string, v V) {
	inner, ok := outer[key]
	if !ok {
		inner = map[string]V{}
		outer[key] = inner
		t.undo = append(t.undo, func() { delete(outer, key) })
	}
	setEntry(t, inner, k, v)
}

// setEntry sets m[k] = v, journalling the previous state.
func setEntry[V any](t *memTx, m map[string]V, k string, v V) {
	if old, ok := m[k]; ok {
		t.undo = append(t.undo, func() { m[k] = old })
	} else {
		t.undo = append(t.undo, func() { delete(m, k) })
	}
	m[k] = v
}

// deleteEntry deletes m[k], journalling the previous state.
func deleteEntry[V any](t *memTx, m map[string]V, k string) {
	if old, ok := m[k]; ok {
		t.undo = append(t.undo, func() { m[k] = old })
		delete(m, k)
	}
}

// memEvents are one conversation's events, indexed by sequence id (with
// the ids kept sorted) and by message id.
type memEvents struct {
	bySeq map[string]StoredEvent
	seqs  []string            // ascending (decimal.Compare)
	byMID map[string][]string // message id -> sequence ids (possibly stale)
}

// put stores e, journalling how to undo it.
func (es *memEvents) put(t *memTx, e StoredEvent) {
	if _, ok := es.bySeq[e.SequenceID]; !ok {
		i, _ := slices.BinarySearchFunc(es.seqs, e.SequenceID, decimal.Compare)
		es.seqs = slices.Insert(es.seqs, i, e.SequenceID)
		seq := e.SequenceID
		t.undo = append(t.undo, func() {
			if j, found := slices.BinarySearchFunc(es.seqs, seq, decimal.Compare); found {
				es.seqs = slices.Delete(es.seqs, j, j+1)
			}
		})
	}
	setEntry(t, es.bySeq, e.SequenceID, e)
	if e.MessageID != "" && !slices.Contains(es.byMID[e.MessageID], e.SequenceID) {
		setEntry(t, es.byMID, e.MessageID, append(slices.Clip(es.byMID[e.MessageID]), e.SequenceID))
	}
}

func (t *memTx) Identity(ctx context.Context) (*Identity, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if t.s.identity == nil {
		return nil, fmt.Errorf("%w: identity", ErrNotFound)
	}
	return cloneIdentity(*t.s.identity), nil
}

func (t *memTx) SetIdentity(ctx context.Context, id *Identity) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	v, err := prepIdentity(id)
	if err != nil {
		return err
	}
	old := t.s.identity
	t.undo = append(t.undo, func() { t.s.identity = old })
	t.s.identity = &v
	return nil
}

func (t *memTx) PeerKeys(ctx context.Context, userID string) ([]PeerKey, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	out := []PeerKey{}
	for _, k := range t.s.peers[userID] {
		out = append(out, clonePeerKey(k))
	}
	slices.SortFunc(out, func(a, b PeerKey) int { return decimal.Compare(a.Version, b.Version) })
	return out, nil
}

func (t *memTx) PutPeerKey(ctx context.Context, k PeerKey) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	k, err := prepPeerKey(k)
	if err != nil {
		return err
	}
	var old *PeerKey
	if o, ok := t.s.peers[k.UserID][k.Version]; ok {
		old = &o
	}
	if k, err = mergePeerKey(old, k); err != nil {
		return err
	}
	setInner(t, t.s.peers, k.UserID, k.Version, k)
	return nil
}

func (t *memTx) SetPeerVerified(ctx context.Context, userID, version string, verified bool) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	if err := checkID("user id", userID); err != nil {
		return err
	}
	if err := checkVersion("peer key version", version); err != nil {
		return err
	}
	k, ok := t.s.peers[userID][version]
	if !ok {
		return fmt.Errorf("%w: peer key %s/%s", ErrNotFound, userID, version)
	}
	k.Verified = verified
	setInner(t, t.s.peers, userID, version, k)
	return nil
}

func (t *memTx) PutConversationKey(ctx context.Context, k ConversationKey) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	k, err := prepConversationKey(k)
	if err != nil {
		return err
	}
	var old *ConversationKey
	if o, ok := t.s.convKeys[k.ConversationID][k.Version]; ok {
		old = &o
	}
	if k, err = mergeConversationKey(old, k); err != nil {
		return err
	}
	setInner(t, t.s.convKeys, k.ConversationID, k.Version, k)
	return nil
}

func (t *memTx) ConversationKey(ctx context.Context, conversationID, version string) (*ConversationKey, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkID("conversation id", conversationID); err != nil {
		return nil, err
	}
	if err := checkVersion("conversation key version", version); err != nil {
		return nil, err
	}
	k, ok := t.s.convKeys[conversationID][version]
	if !ok {
		return nil, fmt.Errorf("%w: conversation key %s/%s", ErrNotFound, conversationID, version)
	}
	return &k, nil
}

// LatestConversationKey scans the conversation's keys for the highest
// version rather than sorting a copy of them all.
func (t *memTx) LatestConversationKey(ctx context.Context, conversationID string) (*ConversationKey, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkID("conversation id", conversationID); err != nil {
		return nil, err
	}
	keys := t.s.convKeys[conversationID]
	latest, found := "", false
	for v := range keys {
		if !found || decimal.Compare(v, latest) > 0 {
			latest, found = v, true
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: no key for conversation %s", ErrNotFound, conversationID)
	}
	k := keys[latest]
	return &k, nil
}

func (t *memTx) ConversationKeys(ctx context.Context, conversationID string) ([]ConversationKey, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkID("conversation id", conversationID); err != nil {
		return nil, err
	}
	out := slices.Collect(maps.Values(t.s.convKeys[conversationID]))
	if out == nil {
		out = []ConversationKey{}
	}
	slices.SortFunc(out, func(a, b ConversationKey) int { return decimal.Compare(a.Version, b.Version) })
	return out, nil
}

func (t *memTx) Conversation(ctx context.Context, id string) (*Conversation, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkID("conversation id", id); err != nil {
		return nil, err
	}
	c, ok := t.s.convs[id]
	if !ok {
		return nil, fmt.Errorf("%w: conversation %s", ErrNotFound, id)
	}
	c = cloneConversation(c)
	return &c, nil
}

func (t *memTx) PutConversation(ctx context.Context, c *Conversation) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	v, err := prepConversation(c)
	if err != nil {
		return err
	}
	setEntry(t, t.s.convs, v.ID, v)
	return nil
}

func (t *memTx) Conversations(ctx context.Context) ([]Conversation, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	out := make([]Conversation, 0, len(t.s.convs))
	for _, id := range slices.Sorted(maps.Keys(t.s.convs)) {
		out = append(out, cloneConversation(t.s.convs[id]))
	}
	return out, nil
}

func (t *memTx) PutEvents(ctx context.Context, conversationID string, events []StoredEvent) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	if err := checkID("conversation id", conversationID); err != nil {
		return err
	}
	prepped := make([]StoredEvent, len(events))
	for i, e := range events {
		var err error
		if prepped[i], err = prepEvent(e); err != nil {
			return err
		}
	}
	if len(prepped) == 0 {
		return nil
	}
	es, ok := t.s.events[conversationID]
	if !ok {
		es = &memEvents{bySeq: map[string]StoredEvent{}, byMID: map[string][]string{}}
		setEntry(t, t.s.events, conversationID, es)
	}
	for _, e := range prepped {
		es.put(t, e)
	}
	return nil
}

func (t *memTx) Events(ctx context.Context, conversationID, afterSeq string, limit int) ([]StoredEvent, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkID("conversation id", conversationID); err != nil {
		return nil, err
	}
	if err := checkOptionalVersion("sequence id", afterSeq); err != nil {
		return nil, err
	}
	out := []StoredEvent{}
	es := t.s.events[conversationID]
	if es == nil {
		return out, nil
	}
	i := 0
	if afterSeq != "" {
		var found bool
		if i, found = slices.BinarySearchFunc(es.seqs, afterSeq, decimal.Compare); found {
			i++
		}
	}
	for ; i < len(es.seqs); i++ {
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, cloneEvent(es.bySeq[es.seqs[i]]))
	}
	return out, nil
}

func (t *memTx) EventByMessageID(ctx context.Context, conversationID, messageID string) (*StoredEvent, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkID("conversation id", conversationID); err != nil {
		return nil, err
	}
	if err := checkID("message id", messageID); err != nil {
		return nil, err
	}
	// The highest sequence id wins when a message id appears twice, as in DB.
	var best *StoredEvent
	if es := t.s.events[conversationID]; es != nil {
		for _, seq := range es.byMID[messageID] {
			e, ok := es.bySeq[seq]
			if ok && e.MessageID == messageID && (best == nil || decimal.Compare(e.SequenceID, best.SequenceID) > 0) {
				best = &e
			}
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: message %s", ErrNotFound, messageID)
	}
	e := cloneEvent(*best)
	return &e, nil
}

func (t *memTx) PutOutbox(ctx context.Context, item OutboxItem) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	it, err := prepOutbox(item)
	if err != nil {
		return err
	}
	setEntry(t, t.s.outbox, it.MessageID, it)
	return nil
}

func (t *memTx) Outbox(ctx context.Context) ([]OutboxItem, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	out := make([]OutboxItem, 0, len(t.s.outbox))
	for _, it := range t.s.outbox {
		out = append(out, cloneOutbox(it))
	}
	sortOutbox(out)
	return out, nil
}

func (t *memTx) AckOutbox(ctx context.Context, messageID string) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	if err := checkID("message id", messageID); err != nil {
		return err
	}
	deleteEntry(t, t.s.outbox, messageID)
	return nil
}

func (t *memTx) Token(ctx context.Context) (*Token, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if t.s.token == nil {
		return nil, fmt.Errorf("%w: token", ErrNotFound)
	}
	return cloneToken(*t.s.token), nil
}

func (t *memTx) SetToken(ctx context.Context, tok *Token) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	old := t.s.token
	t.undo = append(t.undo, func() { t.s.token = old })
	if tok == nil {
		t.s.token = nil
		return nil
	}
	v := prepToken(tok)
	t.s.token = &v
	return nil
}

func (t *memTx) Value(ctx context.Context, name string) ([]byte, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkValueName(name); err != nil {
		return nil, err
	}
	v, ok := t.s.values[name]
	if !ok {
		return nil, fmt.Errorf("%w: value %s", ErrNotFound, name)
	}
	return append([]byte{}, v...), nil
}

func (t *memTx) SetValue(ctx context.Context, name string, value []byte) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	if err := checkValueName(name); err != nil {
		return err
	}
	if value == nil {
		deleteEntry(t, t.s.values, name)
		return nil
	}
	setEntry(t, t.s.values, name, append([]byte{}, value...))
	return nil
}
