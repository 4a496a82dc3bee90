package keystore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Memory is an in-memory Store for tests. It follows the same rules as DB
// (validation, ordering, conflicts, transactions) but keeps nothing on disk
// and seals nothing. Values are copied in and out, so callers never share
// memory with the store. It is safe for concurrent use.
type Memory struct {
	autoTx

	mu     sync.RWMutex
	state  *memState
	closed bool
}

// memState is one immutable-once-published snapshot. Update copies the top
// level and clones inner maps on first write (copy on write).
type memState struct {
	identity *Identity
	token    *Token
	values   map[string][]byte
	peers    map[string]map[string]PeerKey         // user -> version -> key
	convKeys map[string]map[string]ConversationKey // conversation -> version -> key
	convs    map[string]Conversation
	events   map[string]map[string]StoredEvent // conversation -> seq -> event
	outbox   map[string]OutboxItem
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	m := &Memory{state: &memState{
		values:   map[string][]byte{},
		peers:    map[string]map[string]PeerKey{},
		convKeys: map[string]map[string]ConversationKey{},
		convs:    map[string]Conversation{},
		events:   map[string]map[string]StoredEvent{},
		outbox:   map[string]OutboxItem{},
	}}
	m.autoTx = autoTx{view: m.View, update: m.Update}
	return m
}

// Update runs fn against a copy of the state and publishes the copy only
// when fn returns nil.
func (m *Memory) Update(ctx context.Context, fn func(tx Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	s := m.state
	next := &memState{
		identity: s.identity, token: s.token,
		values: maps.Clone(s.values), peers: maps.Clone(s.peers), convKeys: maps.Clone(s.convKeys),
		convs: maps.Clone(s.convs), events: maps.Clone(s.events), outbox: maps.Clone(s.outbox),
	}
	tx := &memTx{ctx: ctx, s: next, writable: true, owned: map[string]bool{}}
	if err := fn(tx); err != nil {
		return err
	}
	m.state = next
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
	return fn(&memTx{ctx: ctx, s: m.state})
}

// Close discards the state, zeroing the secrets it held.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	// Snapshots share inner values, so only wipe the current one: older
	// snapshots were either published (and are this one's ancestors sharing
	// these same slices) or discarded.
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
		for _, e := range evs {
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
	owned    map[string]bool // inner maps already cloned in this transaction
}

func (t *memTx) check(ctx context.Context, write bool) error {
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

// own returns an inner map that this transaction may modify.
func own[V any](t *memTx, kind string, outer map[string]map[string]V, key string) map[string]V {
	tag := kind + "\x00" + key
	if !t.owned[tag] {
		outer[key] = maps.Clone(outer[key])
		if outer[key] == nil {
			outer[key] = map[string]V{}
		}
		t.owned[tag] = true
	}
	return outer[key]
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
	slices.SortFunc(out, func(a, b PeerKey) int { return compareCanonical(a.Version, b.Version) })
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
	own(t, "peers", t.s.peers, k.UserID)[k.Version] = k
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
	own(t, "peers", t.s.peers, userID)[version] = k
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
	own(t, "convkeys", t.s.convKeys, k.ConversationID)[k.Version] = k
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

func (t *memTx) LatestConversationKey(ctx context.Context, conversationID string) (*ConversationKey, error) {
	ks, err := t.ConversationKeys(ctx, conversationID)
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		return nil, fmt.Errorf("%w: no key for conversation %s", ErrNotFound, conversationID)
	}
	return &ks[len(ks)-1], nil
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
	slices.SortFunc(out, func(a, b ConversationKey) int { return compareCanonical(a.Version, b.Version) })
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
	t.s.convs[v.ID] = v
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
	m := own(t, "events", t.s.events, conversationID)
	for _, e := range prepped {
		m[e.SequenceID] = e
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
	seqs := slices.SortedFunc(maps.Keys(t.s.events[conversationID]), compareCanonical)
	out := []StoredEvent{}
	for _, s := range seqs {
		if afterSeq != "" && compareCanonical(s, afterSeq) <= 0 {
			continue
		}
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, cloneEvent(t.s.events[conversationID][s]))
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
	for _, e := range t.s.events[conversationID] {
		if e.MessageID == messageID && (best == nil || compareCanonical(e.SequenceID, best.SequenceID) > 0) {
			c := e
			best = &c
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
	t.s.outbox[it.MessageID] = it
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
	delete(t.s.outbox, messageID)
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
		delete(t.s.values, name)
		return nil
	}
	t.s.values[name] = append([]byte{}, value...)
	return nil
}
