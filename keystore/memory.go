package keystore

import (
	"context"
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
	tx, mt := newMemTxn(ctx, m.state, true)
	committed := false
	defer func() {
		tx.done = true
		if !committed {
			mt.rollback()
		}
		mt.undo = nil
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
	tx, _ := newMemTxn(ctx, m.state, false)
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

// memTxn is a transaction's checkedTx and memTx in one allocation.
type memTxn struct {
	tx checkedTx
	mt memTx
}

// newMemTxn starts a transaction over s.
func newMemTxn(ctx context.Context, s *memState, writable bool) (*checkedTx, *memTx) {
	t := &memTxn{mt: memTx{s: s}}
	t.tx = checkedTx{ctx: ctx, writable: writable, st: &t.mt}
	return &t.tx, &t.mt
}

// memTx keeps the records of one transaction over a memState (the
// txStorage under Memory's checkedTx), journalling how to undo each write.
type memTx struct {
	s    *memState
	undo []func() // how to undo this transaction's writes, oldest first
}

// rollback undoes the transaction's writes, newest first.
func (t *memTx) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
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

// put stores e, journalling how to undo it in one entry. A sync stores a
// history oldest first, so a new sequence id is looked for at the end of
// the sorted ids before it is searched for.
func (es *memEvents) put(t *memTx, e StoredEvent) {
	seq, mid := e.SequenceID, e.MessageID
	var prev *StoredEvent // the event replaced, if any (a copy made only then)
	if old, held := es.bySeq[seq]; held {
		c := old
		prev = &c
	} else {
		es.seqs = insertSorted(es.seqs, seq)
	}
	es.bySeq[seq] = e
	oldMIDs, hadMID := es.byMID[mid]
	addMID := mid != "" && !slices.Contains(oldMIDs, seq)
	if addMID {
		es.byMID[mid] = append(slices.Clip(oldMIDs), seq)
	}
	t.undo = append(t.undo, func() {
		switch {
		case !addMID:
		case hadMID:
			es.byMID[mid] = oldMIDs
		default:
			delete(es.byMID, mid)
		}
		if prev != nil {
			es.bySeq[seq] = *prev
			return
		}
		delete(es.bySeq, seq)
		es.seqs = deleteSorted(es.seqs, seq)
	})
}

// insertSorted inserts seq, not held, into the ascending ids.
func insertSorted(seqs []string, seq string) []string {
	if n := len(seqs); n == 0 || decimal.Compare(seqs[n-1], seq) < 0 {
		return append(seqs, seq)
	}
	i, _ := slices.BinarySearchFunc(seqs, seq, decimal.Compare)
	return slices.Insert(seqs, i, seq)
}

// deleteSorted removes seq, if held, from the ascending ids.
func deleteSorted(seqs []string, seq string) []string {
	if n := len(seqs); n > 0 && seqs[n-1] == seq {
		return seqs[:n-1]
	}
	if j, found := slices.BinarySearchFunc(seqs, seq, decimal.Compare); found {
		return slices.Delete(seqs, j, j+1)
	}
	return seqs
}

func (t *memTx) identity() (*Identity, error) {
	if t.s.identity == nil {
		return nil, nil
	}
	return cloneIdentity(*t.s.identity), nil
}

func (t *memTx) setIdentity(id Identity) error {
	old := t.s.identity
	t.undo = append(t.undo, func() { t.s.identity = old })
	t.s.identity = &id
	return nil
}

func (t *memTx) peerKeys(userID string) ([]PeerKey, error) {
	out := []PeerKey{}
	for _, k := range t.s.peers[userID] {
		out = append(out, clonePeerKey(k))
	}
	slices.SortFunc(out, func(a, b PeerKey) int { return decimal.Compare(a.Version, b.Version) })
	return out, nil
}

func (t *memTx) peerKey(userID, version string) (*PeerKey, error) {
	if k, ok := t.s.peers[userID][version]; ok {
		return &k, nil
	}
	return nil, nil
}

func (t *memTx) putPeerKey(k PeerKey) error {
	setInner(t, t.s.peers, k.UserID, k.Version, k)
	return nil
}

func (t *memTx) conversationKey(conversationID, version string) (*ConversationKey, error) {
	if k, ok := t.s.convKeys[conversationID][version]; ok {
		return &k, nil
	}
	return nil, nil
}

// latestConversationKey scans the conversation's keys for the highest
// version rather than sorting a copy of them all.
func (t *memTx) latestConversationKey(conversationID string) (*ConversationKey, error) {
	keys := t.s.convKeys[conversationID]
	latest, found := "", false
	for v := range keys {
		if !found || decimal.Compare(v, latest) > 0 {
			latest, found = v, true
		}
	}
	if !found {
		return nil, nil
	}
	k := keys[latest]
	return &k, nil
}

func (t *memTx) conversationKeys(conversationID string) ([]ConversationKey, error) {
	out := slices.Collect(maps.Values(t.s.convKeys[conversationID]))
	if out == nil {
		out = []ConversationKey{}
	}
	slices.SortFunc(out, func(a, b ConversationKey) int { return decimal.Compare(a.Version, b.Version) })
	return out, nil
}

func (t *memTx) putConversationKey(k ConversationKey) error {
	setInner(t, t.s.convKeys, k.ConversationID, k.Version, k)
	return nil
}

func (t *memTx) conversation(id string) (*Conversation, error) {
	c, ok := t.s.convs[id]
	if !ok {
		return nil, nil
	}
	c = cloneConversation(c)
	return &c, nil
}

func (t *memTx) conversations() ([]Conversation, error) {
	out := make([]Conversation, 0, len(t.s.convs))
	for _, id := range slices.Sorted(maps.Keys(t.s.convs)) {
		out = append(out, cloneConversation(t.s.convs[id]))
	}
	return out, nil
}

func (t *memTx) putConversation(c Conversation) error {
	setEntry(t, t.s.convs, c.ID, c)
	return nil
}

func (t *memTx) putEvents(conversationID string, events []StoredEvent) error {
	es, ok := t.s.events[conversationID]
	if !ok {
		es = &memEvents{bySeq: map[string]StoredEvent{}, byMID: map[string][]string{}}
		setEntry(t, t.s.events, conversationID, es)
	}
	for _, e := range events {
		es.put(t, cloneEvent(e)) // the caller's slices are not kept
	}
	return nil
}

func (t *memTx) events(_ context.Context, conversationID, afterSeq string, limit int) ([]StoredEvent, error) {
	out := []StoredEvent{}
	es := t.s.events[conversationID]
	if es == nil {
		return out, nil
	}
	i := 0
	if n := len(es.seqs); afterSeq != "" && (n == 0 || decimal.Compare(afterSeq, es.seqs[n-1]) >= 0) {
		return out, nil // nothing after the newest (a sync storing oldest first asks this of every event)
	}
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

func (t *memTx) event(conversationID, seq string) (*StoredEvent, error) {
	es := t.s.events[conversationID]
	if es == nil {
		return nil, nil
	}
	e, ok := es.bySeq[seq]
	if !ok {
		return nil, nil
	}
	e = cloneEvent(e)
	return &e, nil
}

// eventByMessageID returns, when a message id appears more than once, the
// verified event with the highest sequence id, or the unverified one with
// the highest sequence id when none verified, as the sealed store does.
func (t *memTx) eventByMessageID(conversationID, messageID string) (*StoredEvent, error) {
	var best *StoredEvent
	if es := t.s.events[conversationID]; es != nil {
		for _, seq := range es.byMID[messageID] {
			e, ok := es.bySeq[seq]
			if !ok || e.MessageID != messageID {
				continue
			}
			if best == nil || (e.Verified && !best.Verified) ||
				(e.Verified == best.Verified && decimal.Compare(e.SequenceID, best.SequenceID) > 0) {
				best = &e
			}
		}
	}
	if best == nil {
		return nil, nil
	}
	e := cloneEvent(*best)
	return &e, nil
}

func (t *memTx) outbox() ([]OutboxItem, error) {
	out := make([]OutboxItem, 0, len(t.s.outbox))
	for _, it := range t.s.outbox {
		out = append(out, cloneOutbox(it))
	}
	return out, nil
}

func (t *memTx) putOutbox(it OutboxItem) error {
	setEntry(t, t.s.outbox, it.MessageID, it)
	return nil
}

func (t *memTx) deleteOutbox(messageID string) error {
	deleteEntry(t, t.s.outbox, messageID)
	return nil
}

func (t *memTx) token() (*Token, error) {
	if t.s.token == nil {
		return nil, nil
	}
	return cloneToken(*t.s.token), nil
}

func (t *memTx) setToken(tok Token) error { t.swapToken(&tok); return nil }

func (t *memTx) deleteToken() error { t.swapToken(nil); return nil }

// swapToken replaces the stored token (nil: none), journalling the old one.
func (t *memTx) swapToken(tok *Token) {
	old := t.s.token
	t.undo = append(t.undo, func() { t.s.token = old })
	t.s.token = tok
}

func (t *memTx) value(name string) ([]byte, error) {
	v, ok := t.s.values[name]
	if !ok {
		return nil, nil
	}
	return append([]byte{}, v...), nil
}

func (t *memTx) setValue(name string, value []byte) error {
	setEntry(t, t.s.values, name, append([]byte{}, value...))
	return nil
}

func (t *memTx) deleteValue(name string) error {
	deleteEntry(t, t.s.values, name)
	return nil
}
