package keystore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// sealedTx keeps the records of one transaction of a Records backend (the
// txStorage under the checkedTx NewSealedTx returns). Keys (ids, versions,
// sequence ids) are stored in the clear so they can be ordered and looked
// up; every value is sealed with the store key and an AAD naming its bucket
// path and key.
type sealedTx struct {
	r Records
	s *Sealer
	// wrote holds the segment filters this transaction wrote: used by its
	// own lookups, never cached (it may yet roll back).
	wrote map[filterKey]*segmentFilter
	// ownState holds the segment lists this transaction wrote (never
	// cached, likewise); with deferState those of dirtyState are only
	// written by finish.
	ownState   map[string]*indexState
	deferState bool
	dirtyState map[string]bool

	// records is the chunk the event records' keys and sealed values of
	// this transaction are carved from (see room), one allocation for
	// many records instead of one each: the backend keeps what it is
	// given until the commit (bbolt does), so a carved record is never
	// written over, and the chunks go with the transaction. chunk is the
	// size of the last chunk made.
	records []byte
	chunk   int
	// aad is the buffer the event records' AAD is made in, and evPath
	// the events bucket of evConv: neither is kept by the backend.
	aad    []byte
	evConv string
	evPath [][]byte
	// name is the buffer a value's name is looked up with, and after that
	// of the sequence id an events scan starts after (the backend keeps
	// no key it is given to look up or start a scan at).
	name, after []byte
}

// maxRecordsChunk bounds the chunks event records are carved from. The
// first chunk of a transaction is the size of its first record (a
// transaction storing one event allocates what it did with no chunk),
// each next one twice the last, up to maxRecordsChunk.
const maxRecordsChunk = 64 << 10

// room returns n bytes of the current chunk (a new one when it has less),
// as an empty slice of capacity n; keep marks what was written there used.
func (t *sealedTx) room(n int) []byte {
	if cap(t.records)-len(t.records) < n {
		t.chunk = min(max(2*t.chunk, n), max(maxRecordsChunk, n))
		t.records = make([]byte, 0, t.chunk)
	}
	l := len(t.records)
	return t.records[l : l : l+n]
}

// keep returns b, written into room (the last room returned), capped at
// its length, and marks its bytes of the chunk used; b elsewhere (room was
// too small) is returned as it is and room's bytes stay free.
func (t *sealedTx) keep(room, b []byte) []byte {
	if len(b) == 0 || cap(room) == 0 || &b[0] != &room[:1][0] {
		return b
	}
	t.records = t.records[:len(t.records)+len(b)]
	return b[:len(b):len(b)]
}

// eventsPath returns the bucket path of a conversation's events.
func (t *sealedTx) eventsPath(conversationID string) [][]byte {
	if t.evPath == nil || t.evConv != conversationID {
		t.evConv, t.evPath = conversationID, path(bucketEvents, []byte(conversationID))
	}
	return t.evPath
}

// put seals the JSON encoding of v under key in the bucket at path.
func (t *sealedTx) put(path [][]byte, key []byte, v any) error {
	pt, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("keystore: encoding record: %w", err)
	}
	defer clear(pt)
	return t.putRaw(path, key, pt)
}

// putRaw seals pt under key in the bucket at path.
func (t *sealedTx) putRaw(path [][]byte, key, pt []byte) error {
	sealed, err := t.s.Seal(path, key, pt)
	if err != nil {
		return err
	}
	return t.r.Put(path, key, sealed)
}

// open authenticates and decodes the sealed value stored under key at path
// into v.
func (t *sealedTx) open(path [][]byte, key, sealed []byte, v any) error {
	pt, err := t.openRaw(path, key, sealed)
	if err != nil {
		return err
	}
	defer clear(pt)
	if err := json.Unmarshal(pt, v); err != nil {
		return fmt.Errorf("%w: %s: undecodable record", ErrCorrupt, describe(path, key))
	}
	return nil
}

// openEvent authenticates and decodes the sealed event record stored under
// key at path into r (either encoding, see decodeEventRecord).
func (t *sealedTx) openEvent(path [][]byte, key, sealed []byte, r *eventRecord) error {
	pt, err := t.openRaw(path, key, sealed)
	if err != nil {
		return err
	}
	if err := decodeEventRecord(pt, r); err != nil {
		return fmt.Errorf("%w: %s: undecodable record", ErrCorrupt, describe(path, key))
	}
	return nil
}

func (t *sealedTx) openRaw(path [][]byte, key, sealed []byte) ([]byte, error) {
	return t.s.Open(path, key, sealed)
}

// get loads and decodes one record; found is false when it is absent.
func (t *sealedTx) get(path [][]byte, key []byte, v any) (found bool, err error) {
	sealed, err := t.r.Get(path, key)
	if err != nil || sealed == nil {
		return false, err
	}
	return true, t.open(path, key, sealed, v)
}

// collect returns what conv makes of every record of the bucket at p, in
// key order; an empty bucket gives an empty, non-nil slice.
func collect[T any](t *sealedTx, p [][]byte, conv func(k, v []byte) (T, error)) ([]T, error) {
	out := []T{}
	err := t.r.Scan(p, nil, 0, func(k, v []byte) (bool, error) {
		x, err := conv(k, v)
		if err != nil {
			return false, err
		}
		out = append(out, x)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// describe names a record for error messages (ids only, never values).
func describe(path [][]byte, key []byte) string {
	var buf bytes.Buffer
	for _, p := range path {
		fmt.Fprintf(&buf, "%q/", p)
	}
	if len(key) >= 2 && int(key[0]) == len(key)-1 && ValidVersion(string(key[1:])) {
		fmt.Fprintf(&buf, "%q", key[1:]) // version key: length byte + digits
	} else {
		fmt.Fprintf(&buf, "%q", key)
	}
	return buf.String()
}

func path(p ...[]byte) [][]byte { return p }

// --- identity ---

func (t *sealedTx) identity() (*Identity, error) {
	var r identityRecord
	found, err := t.get(path(bucketAccount), keyIdentity, &r)
	if err != nil || !found {
		return nil, err
	}
	if len(r.Backup) != BackupSize {
		clear(r.Backup)
		return nil, fmt.Errorf("%w: identity backup has wrong length", ErrCorrupt)
	}
	return &Identity{UserID: r.UserID, Backup: r.Backup, PublicKeyVersion: r.PublicKeyVersion}, nil
}

// setIdentity zeroes id.Backup (checkedTx's copy) once it is sealed.
func (t *sealedTx) setIdentity(id Identity) error {
	defer id.Backup.Zero()
	return t.put(path(bucketAccount), keyIdentity, identityRecord{UserID: id.UserID, Backup: id.Backup, PublicKeyVersion: id.PublicKeyVersion})
}

// --- peers ---

func peerFromRecord(userID, version string, r *peerKeyRecord) PeerKey {
	return PeerKey{UserID: userID, Version: version, IdentityPublicKey: r.IdentityPublicKey, SigningPublicKey: r.SigningPublicKey,
		FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, Verified: r.Verified, Pinned: r.Pinned, Origin: r.Origin}
}

func peerRecord(k *PeerKey) peerKeyRecord {
	return peerKeyRecord{IdentityPublicKey: k.IdentityPublicKey, SigningPublicKey: k.SigningPublicKey,
		FirstSeen: k.FirstSeen, LastSeen: k.LastSeen, Verified: k.Verified, Pinned: k.Pinned, Origin: k.Origin}
}

func (t *sealedTx) peerKey(userID, version string) (*PeerKey, error) {
	var r peerKeyRecord
	found, err := t.get(path(bucketPeers, []byte(userID)), versionKey(version), &r)
	if err != nil || !found {
		return nil, err
	}
	k := peerFromRecord(userID, version, &r)
	return &k, nil
}

func (t *sealedTx) peerKeys(userID string) ([]PeerKey, error) {
	p := path(bucketPeers, []byte(userID))
	return collect(t, p, func(k, v []byte) (PeerKey, error) {
		ver, err := parseVersionKey(k)
		if err != nil {
			return PeerKey{}, err
		}
		var r peerKeyRecord
		err = t.open(p, k, v, &r)
		return peerFromRecord(userID, ver, &r), err
	})
}

func (t *sealedTx) putPeerKey(k PeerKey) error {
	return t.put(path(bucketPeers, []byte(k.UserID)), versionKey(k.Version), peerRecord(&k))
}

// --- conversation keys ---

func convKeyFromRecord(convID, version string, r *convKeyRecord) (ConversationKey, error) {
	defer clear(r.Key)
	if len(r.Key) != 32 {
		return ConversationKey{}, fmt.Errorf("%w: conversation key %s/%s has wrong length", ErrCorrupt, convID, version)
	}
	k := ConversationKey{ConversationID: convID, Version: version, Verified: r.Verified, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt}
	copy(k.Key[:], r.Key)
	return k, nil
}

// openConvKey opens the conversation key record stored under k at p.
func (t *sealedTx) openConvKey(p [][]byte, convID string, k, v []byte) (ConversationKey, error) {
	ver, err := parseVersionKey(k)
	if err != nil {
		return ConversationKey{}, err
	}
	var r convKeyRecord
	if err := t.open(p, k, v, &r); err != nil {
		return ConversationKey{}, err
	}
	return convKeyFromRecord(convID, ver, &r)
}

func (t *sealedTx) conversationKey(convID, version string) (*ConversationKey, error) {
	var r convKeyRecord
	found, err := t.get(path(bucketConvKeys, []byte(convID)), versionKey(version), &r)
	if err != nil || !found {
		return nil, err
	}
	k, err := convKeyFromRecord(convID, version, &r)
	if err != nil {
		return nil, err
	}
	return &k, nil
}

func (t *sealedTx) latestConversationKey(conversationID string) (*ConversationKey, error) {
	p := path(bucketConvKeys, []byte(conversationID))
	k, v, err := t.r.Last(p)
	if err != nil || k == nil {
		return nil, err
	}
	ck, err := t.openConvKey(p, conversationID, k, v)
	if err != nil {
		return nil, err
	}
	return &ck, nil
}

func (t *sealedTx) conversationKeys(conversationID string) ([]ConversationKey, error) {
	p := path(bucketConvKeys, []byte(conversationID))
	return collect(t, p, func(k, v []byte) (ConversationKey, error) {
		return t.openConvKey(p, conversationID, k, v)
	})
}

func (t *sealedTx) putConversationKey(k ConversationKey) error {
	return t.put(path(bucketConvKeys, []byte(k.ConversationID)), versionKey(k.Version),
		convKeyRecord{Key: k.Key[:], Verified: k.Verified, CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt})
}

// --- conversations ---

func convFromRecord(id string, r *conversationRecord) Conversation {
	return Conversation{ID: id, Type: r.Type, Name: r.Name, Members: r.Members, Meta: r.Meta,
		Sync:      SyncState{LastSequenceID: r.LastSequenceID, ChainHead: r.ChainHead, NextToken: r.NextToken},
		UpdatedAt: r.UpdatedAt}
}

func (t *sealedTx) conversation(id string) (*Conversation, error) {
	var r conversationRecord
	found, err := t.get(path(bucketConversations), []byte(id), &r)
	if err != nil || !found {
		return nil, err
	}
	c := convFromRecord(id, &r)
	return &c, nil
}

func (t *sealedTx) putConversation(c Conversation) error {
	return t.put(path(bucketConversations), []byte(c.ID), conversationRecord{
		Type: c.Type, Name: c.Name, Members: c.Members, Meta: c.Meta,
		LastSequenceID: c.Sync.LastSequenceID, ChainHead: c.Sync.ChainHead, NextToken: c.Sync.NextToken,
		UpdatedAt: c.UpdatedAt,
	})
}

func (t *sealedTx) conversations() ([]Conversation, error) {
	p := path(bucketConversations)
	return collect(t, p, func(k, v []byte) (Conversation, error) {
		var r conversationRecord
		err := t.open(p, k, v, &r)
		return convFromRecord(string(k), &r), err
	})
}

// --- history ---

func eventFromRecord(seq string, r *eventRecord) StoredEvent {
	return StoredEvent{SequenceID: seq, MessageID: r.MessageID, SenderID: r.SenderID, Type: r.Type, Body: r.Body,
		Verified: r.Verified, Error: r.Error, Raw: r.Raw, CreatedAt: r.CreatedAt}
}

// msgIndexKey is messageID ‖ 0x00 ‖ versionKey(seq); message ids never
// contain NUL, so a prefix scan finds every sequence id for a message id.
func msgIndexKey(messageID, seq string) []byte {
	k := make([]byte, 0, len(messageID)+2+len(seq))
	k = append(k, messageID...)
	k = append(k, 0)
	return append(k, versionKey(seq)...)
}

// putEvents seals each event's record as it is encoded (see
// sealAppended): no plaintext copy of its body is left, and the events
// (the caller's) are only read. Keys and records are carved from the
// transaction's chunks (see room).
func (t *sealedTx) putEvents(conversationID string, events []StoredEvent) error {
	p := t.eventsPath(conversationID)
	var index [][]byte
	for i := range events {
		e := &events[i]
		r := eventRecord{MessageID: e.MessageID, SenderID: e.SenderID, Type: e.Type, Body: e.Body,
			Verified: e.Verified, Error: e.Error, Raw: e.Raw, CreatedAt: e.CreatedAt}
		keyRoom := t.room(1 + len(e.SequenceID))
		key := t.keep(keyRoom, appendVersionKey(keyRoom, e.SequenceID))
		t.aad = appendRecordAAD(t.aad[:0], p, key)
		room := t.room(sealedSize(eventRecordSize(&r)))
		sealed, err := t.s.sealInto(t.aad, room, func(b []byte) ([]byte, error) {
			return appendEventRecord(b, &r)
		})
		if err != nil {
			return err
		}
		if err := t.r.Put(p, key, t.keep(room, sealed)); err != nil {
			return err
		}
		if e.MessageID != "" {
			index = append(index, msgIndexKey(e.MessageID, e.SequenceID))
		}
	}
	if len(index) == 0 {
		return nil
	}
	return t.indexAdd(conversationID, index)
}

func (t *sealedTx) events(ctx context.Context, conversationID, afterSeq string, limit int) ([]StoredEvent, error) {
	out := []StoredEvent{}
	p := t.eventsPath(conversationID)
	var start []byte
	scanLimit := limit
	if afterSeq != "" {
		t.after = appendVersionKey(t.after[:0], afterSeq)
		start = t.after
		if scanLimit > 0 {
			scanLimit++ // the first key may be afterSeq itself
		}
	}
	if limit <= 0 {
		scanLimit = 0
	}
	err := t.r.Scan(p, start, scanLimit, func(k, v []byte) (bool, error) {
		if start != nil && bytes.Equal(k, start) {
			return true, nil
		}
		if limit > 0 && len(out) >= limit {
			return false, nil
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		seq, err := parseVersionKey(k)
		if err != nil {
			return false, err
		}
		var r eventRecord
		if err := t.openEvent(p, k, v, &r); err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				return false, err
			}
			// One damaged record fails alone: the others are returned.
			out = append(out, StoredEvent{SequenceID: seq, Type: DamagedType, Error: err.Error()})
			return true, nil
		}
		out = append(out, eventFromRecord(seq, &r))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// event reads the record under seq alone, where events(seq-1, 1) would
// scan for the first record above seq-1 (and open it when it is above
// seq): a sync storing oldest first asks, for every event it stores,
// whether its sequence id is stored.
func (t *sealedTx) event(conversationID, seq string) (*StoredEvent, error) {
	p := t.eventsPath(conversationID)
	t.after = appendVersionKey(t.after[:0], seq)
	sealed, err := t.r.Get(p, t.after)
	if err != nil || sealed == nil {
		return nil, err
	}
	var r eventRecord
	if err := t.openEvent(p, t.after, sealed, &r); err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
			return nil, err
		}
		return &StoredEvent{SequenceID: seq, Type: DamagedType, Error: err.Error()}, nil // as events gives it
	}
	e := eventFromRecord(seq, &r)
	return &e, nil
}

// eventByMessageID walks the message id's index entries (see msgindex.go)
// from the highest sequence id down; an entry is stale when its event was
// since replaced. Only the sealed event record decides the answer: the
// index only chooses which records are read. The first verified event
// found is the answer; when none verified, the first unverified one.
func (t *sealedTx) eventByMessageID(conversationID, messageID string) (*StoredEvent, error) {
	cands, err := t.indexCandidates(conversationID, messageID)
	if err != nil {
		return nil, err
	}
	var unverified *StoredEvent
	p := path(bucketEvents, []byte(conversationID))
	for i := len(cands) - 1; i >= 0; i-- {
		seq, err := parseVersionKey(cands[i])
		if err != nil {
			return nil, err
		}
		sealed, err := t.r.Get(p, cands[i])
		if err != nil {
			return nil, err
		}
		if sealed == nil {
			continue
		}
		var r eventRecord
		if err := t.openEvent(p, cands[i], sealed, &r); err != nil {
			return nil, err
		}
		if r.MessageID != messageID {
			clear(r.Body)
			continue
		}
		e := eventFromRecord(seq, &r)
		if e.Verified {
			if unverified != nil {
				unverified.Body.Zero()
			}
			return &e, nil
		}
		if unverified == nil {
			unverified = &e
		} else {
			e.Body.Zero()
		}
	}
	return unverified, nil
}

// --- outbox ---

// putOutbox zeroes it.Body (checkedTx's copy) once it is sealed.
func (t *sealedTx) putOutbox(it OutboxItem) error {
	defer it.Body.Zero()
	return t.put(path(bucketOutbox), []byte(it.MessageID), outboxRecord{ConversationID: it.ConversationID, Kind: it.Kind,
		Body: it.Body, CreatedAt: it.CreatedAt, Attempts: it.Attempts, LastError: it.LastError})
}

func (t *sealedTx) outbox() ([]OutboxItem, error) {
	p := path(bucketOutbox)
	return collect(t, p, func(k, v []byte) (OutboxItem, error) {
		var r outboxRecord
		err := t.open(p, k, v, &r)
		return OutboxItem{MessageID: string(k), ConversationID: r.ConversationID, Kind: r.Kind, Body: r.Body,
			CreatedAt: r.CreatedAt, Attempts: r.Attempts, LastError: r.LastError}, err
	})
}

func (t *sealedTx) deleteOutbox(messageID string) error {
	return t.r.Delete(path(bucketOutbox), []byte(messageID))
}

// --- token ---

func (t *sealedTx) token() (*Token, error) {
	var r tokenRecord
	found, err := t.get(path(bucketAccount), keyToken, &r)
	if err != nil || !found {
		return nil, err
	}
	return &Token{AccessToken: r.AccessToken, RefreshToken: r.RefreshToken, TokenType: r.TokenType, Expiry: r.Expiry, Scopes: r.Scopes}, nil
}

func (t *sealedTx) setToken(tok Token) error {
	return t.put(path(bucketAccount), keyToken, tokenRecord(tok))
}

func (t *sealedTx) deleteToken() error {
	return t.r.Delete(path(bucketAccount), keyToken)
}

// --- values ---

// valuesPath is the path of the values bucket (read or written once or
// more per stored event: made once).
var valuesPath = path(bucketValues)

// value returns a stored empty value as an empty, non-nil slice.
func (t *sealedTx) value(name string) ([]byte, error) {
	p := valuesPath
	t.name = append(t.name[:0], name...)
	sealed, err := t.r.Get(p, t.name)
	if err != nil || sealed == nil {
		return nil, err
	}
	pt, err := t.openRaw(p, t.name, sealed)
	if err != nil {
		return nil, err
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}

func (t *sealedTx) setValue(name string, value []byte) error {
	return t.putRaw(valuesPath, []byte(name), value)
}

func (t *sealedTx) deleteValue(name string) error {
	return t.r.Delete(valuesPath, []byte(name))
}
