package keystore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// sealedTx implements Tx over one transaction of a Records backend. Keys
// (ids, versions, sequence ids) are stored in the clear so they can be
// ordered and looked up; every value is sealed with the store key and an
// AAD naming its bucket path and key.
type sealedTx struct {
	ctx      context.Context
	r        Records
	s        *Sealer
	writable bool
}

func (t *sealedTx) check(ctx context.Context, write bool) error {
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

// each opens every record of the bucket at path, in key order.
func (t *sealedTx) each(path [][]byte, fn func(k, v []byte) error) error {
	return t.r.Scan(path, nil, 0, func(k, v []byte) (bool, error) {
		return true, fn(k, v)
	})
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

func (t *sealedTx) Identity(ctx context.Context) (*Identity, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	var r identityRecord
	found, err := t.get(path(bucketAccount), keyIdentity, &r)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: identity", ErrNotFound)
	}
	if len(r.Backup) != BackupSize {
		clear(r.Backup)
		return nil, fmt.Errorf("%w: identity backup has wrong length", ErrCorrupt)
	}
	return &Identity{UserID: r.UserID, Backup: r.Backup, PublicKeyVersion: r.PublicKeyVersion}, nil
}

func (t *sealedTx) SetIdentity(ctx context.Context, id *Identity) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	v, err := prepIdentity(id)
	if err != nil {
		return err
	}
	defer v.Backup.Zero()
	return t.put(path(bucketAccount), keyIdentity, identityRecord{UserID: v.UserID, Backup: v.Backup, PublicKeyVersion: v.PublicKeyVersion})
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

func (t *sealedTx) PeerKeys(ctx context.Context, userID string) ([]PeerKey, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	out := []PeerKey{}
	p := path(bucketPeers, []byte(userID))
	err := t.each(p, func(k, v []byte) error {
		ver, err := parseVersionKey(k)
		if err != nil {
			return err
		}
		var r peerKeyRecord
		if err := t.open(p, k, v, &r); err != nil {
			return err
		}
		out = append(out, peerFromRecord(userID, ver, &r))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (t *sealedTx) PutPeerKey(ctx context.Context, k PeerKey) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	k, err := prepPeerKey(k)
	if err != nil {
		return err
	}
	old, err := t.peerKey(k.UserID, k.Version)
	if err != nil {
		return err
	}
	if k, err = mergePeerKey(old, k); err != nil {
		return err
	}
	return t.put(path(bucketPeers, []byte(k.UserID)), versionKey(k.Version), peerRecord(&k))
}

func (t *sealedTx) SetPeerVerified(ctx context.Context, userID, version string, verified bool) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	if err := checkID("user id", userID); err != nil {
		return err
	}
	if err := checkVersion("peer key version", version); err != nil {
		return err
	}
	k, err := t.peerKey(userID, version)
	if err != nil {
		return err
	}
	if k == nil {
		return fmt.Errorf("%w: peer key %s/%s", ErrNotFound, userID, version)
	}
	k.Verified = verified
	return t.put(path(bucketPeers, []byte(userID)), versionKey(version), peerRecord(k))
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

func (t *sealedTx) convKey(convID, version string) (*ConversationKey, error) {
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

func (t *sealedTx) PutConversationKey(ctx context.Context, k ConversationKey) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	k, err := prepConversationKey(k)
	if err != nil {
		return err
	}
	defer k.Key.Zero()
	old, err := t.convKey(k.ConversationID, k.Version)
	if err != nil {
		return err
	}
	if old != nil {
		defer old.Key.Zero()
	}
	if k, err = mergeConversationKey(old, k); err != nil {
		return err
	}
	return t.put(path(bucketConvKeys, []byte(k.ConversationID)), versionKey(k.Version),
		convKeyRecord{Key: k.Key[:], Verified: k.Verified, CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt})
}

func (t *sealedTx) ConversationKey(ctx context.Context, conversationID, version string) (*ConversationKey, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkID("conversation id", conversationID); err != nil {
		return nil, err
	}
	if err := checkVersion("conversation key version", version); err != nil {
		return nil, err
	}
	k, err := t.convKey(conversationID, version)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, fmt.Errorf("%w: conversation key %s/%s", ErrNotFound, conversationID, version)
	}
	return k, nil
}

func (t *sealedTx) LatestConversationKey(ctx context.Context, conversationID string) (*ConversationKey, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkID("conversation id", conversationID); err != nil {
		return nil, err
	}
	p := path(bucketConvKeys, []byte(conversationID))
	k, v, err := t.r.Last(p)
	if err != nil {
		return nil, err
	}
	if k != nil {
		ver, err := parseVersionKey(k)
		if err != nil {
			return nil, err
		}
		var r convKeyRecord
		if err := t.open(p, k, v, &r); err != nil {
			return nil, err
		}
		ck, err := convKeyFromRecord(conversationID, ver, &r)
		if err != nil {
			return nil, err
		}
		return &ck, nil
	}
	return nil, fmt.Errorf("%w: no key for conversation %s", ErrNotFound, conversationID)
}

func (t *sealedTx) ConversationKeys(ctx context.Context, conversationID string) ([]ConversationKey, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkID("conversation id", conversationID); err != nil {
		return nil, err
	}
	out := []ConversationKey{}
	p := path(bucketConvKeys, []byte(conversationID))
	err := t.each(p, func(k, v []byte) error {
		ver, err := parseVersionKey(k)
		if err != nil {
			return err
		}
		var r convKeyRecord
		if err := t.open(p, k, v, &r); err != nil {
			return err
		}
		ck, err := convKeyFromRecord(conversationID, ver, &r)
		if err != nil {
			return err
		}
		out = append(out, ck)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// --- conversations ---

func convFromRecord(id string, r *conversationRecord) Conversation {
	return Conversation{ID: id, Type: r.Type, Name: r.Name, Members: r.Members, Meta: r.Meta,
		Sync:      SyncState{LastSequenceID: r.LastSequenceID, ChainHead: r.ChainHead, NextToken: r.NextToken},
		UpdatedAt: r.UpdatedAt}
}

func (t *sealedTx) Conversation(ctx context.Context, id string) (*Conversation, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkID("conversation id", id); err != nil {
		return nil, err
	}
	var r conversationRecord
	found, err := t.get(path(bucketConversations), []byte(id), &r)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: conversation %s", ErrNotFound, id)
	}
	c := convFromRecord(id, &r)
	return &c, nil
}

func (t *sealedTx) PutConversation(ctx context.Context, c *Conversation) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	v, err := prepConversation(c)
	if err != nil {
		return err
	}
	return t.put(path(bucketConversations), []byte(v.ID), conversationRecord{
		Type: v.Type, Name: v.Name, Members: v.Members, Meta: v.Meta,
		LastSequenceID: v.Sync.LastSequenceID, ChainHead: v.Sync.ChainHead, NextToken: v.Sync.NextToken,
		UpdatedAt: v.UpdatedAt,
	})
}

func (t *sealedTx) Conversations(ctx context.Context) ([]Conversation, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	out := []Conversation{}
	p := path(bucketConversations)
	err := t.each(p, func(k, v []byte) error {
		var r conversationRecord
		if err := t.open(p, k, v, &r); err != nil {
			return err
		}
		out = append(out, convFromRecord(string(k), &r))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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

func (t *sealedTx) PutEvents(ctx context.Context, conversationID string, events []StoredEvent) error {
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
	p := path(bucketEvents, []byte(conversationID))
	for _, e := range prepped {
		r := eventRecord{MessageID: e.MessageID, SenderID: e.SenderID, Type: e.Type, Body: e.Body,
			Verified: e.Verified, Error: e.Error, Raw: e.Raw, CreatedAt: e.CreatedAt}
		pt, err := encodeEventRecord(&r)
		if err == nil {
			err = t.putRaw(p, versionKey(e.SequenceID), pt)
			clear(pt)
		}
		e.Body.Zero()
		if err != nil {
			return err
		}
		if e.MessageID != "" {
			if err := t.r.Put(path(bucketMsgIndex, []byte(conversationID)), msgIndexKey(e.MessageID, e.SequenceID), []byte{}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *sealedTx) Events(ctx context.Context, conversationID, afterSeq string, limit int) ([]StoredEvent, error) {
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
	p := path(bucketEvents, []byte(conversationID))
	var start []byte
	scanLimit := limit
	if afterSeq != "" {
		start = versionKey(afterSeq)
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
		if err := t.open(p, k, v, &r); err != nil {
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

func (t *sealedTx) EventByMessageID(ctx context.Context, conversationID, messageID string) (*StoredEvent, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkID("conversation id", conversationID); err != nil {
		return nil, err
	}
	if err := checkID("message id", messageID); err != nil {
		return nil, err
	}
	prefix := append([]byte(messageID), 0)
	// Walk this message id's entries from the highest sequence id down;
	// an entry is stale when its event was since replaced.
	var cands [][]byte
	err := t.r.Scan(path(bucketMsgIndex, []byte(conversationID)), prefix, 0, func(k, _ []byte) (bool, error) {
		if !bytes.HasPrefix(k, prefix) {
			return false, nil
		}
		cands = append(cands, bytes.Clone(k[len(prefix):]))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	{
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
			if err := t.open(p, cands[i], sealed, &r); err != nil {
				return nil, err
			}
			if r.MessageID == messageID {
				e := eventFromRecord(seq, &r)
				return &e, nil
			}
			clear(r.Body)
		}
	}
	return nil, &notFound{"message", messageID}
}

// --- outbox ---

func (t *sealedTx) PutOutbox(ctx context.Context, item OutboxItem) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	it, err := prepOutbox(item)
	if err != nil {
		return err
	}
	defer it.Body.Zero()
	return t.put(path(bucketOutbox), []byte(it.MessageID), outboxRecord{ConversationID: it.ConversationID, Kind: it.Kind,
		Body: it.Body, CreatedAt: it.CreatedAt, Attempts: it.Attempts, LastError: it.LastError})
}

func (t *sealedTx) Outbox(ctx context.Context) ([]OutboxItem, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	out := []OutboxItem{}
	p := path(bucketOutbox)
	err := t.each(p, func(k, v []byte) error {
		var r outboxRecord
		if err := t.open(p, k, v, &r); err != nil {
			return err
		}
		out = append(out, OutboxItem{MessageID: string(k), ConversationID: r.ConversationID, Kind: r.Kind, Body: r.Body,
			CreatedAt: r.CreatedAt, Attempts: r.Attempts, LastError: r.LastError})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortOutbox(out)
	return out, nil
}

func (t *sealedTx) AckOutbox(ctx context.Context, messageID string) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	if err := checkID("message id", messageID); err != nil {
		return err
	}
	return t.r.Delete(path(bucketOutbox), []byte(messageID))
}

// --- token ---

func (t *sealedTx) Token(ctx context.Context) (*Token, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	var r tokenRecord
	found, err := t.get(path(bucketAccount), keyToken, &r)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: token", ErrNotFound)
	}
	return &Token{AccessToken: r.AccessToken, RefreshToken: r.RefreshToken, TokenType: r.TokenType, Expiry: r.Expiry, Scopes: r.Scopes}, nil
}

func (t *sealedTx) SetToken(ctx context.Context, tok *Token) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	if tok == nil {
		return t.r.Delete(path(bucketAccount), keyToken)
	}
	v := prepToken(tok)
	return t.put(path(bucketAccount), keyToken, tokenRecord(v))
}

// --- values ---

func (t *sealedTx) Value(ctx context.Context, name string) ([]byte, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if err := checkValueName(name); err != nil {
		return nil, err
	}
	p := path(bucketValues)
	sealed, err := t.r.Get(p, []byte(name))
	if err != nil {
		return nil, err
	}
	{
		if sealed != nil {
			pt, err := t.openRaw(p, []byte(name), sealed)
			if err != nil {
				return nil, err
			}
			if pt == nil {
				pt = []byte{}
			}
			return pt, nil
		}
	}
	return nil, &notFound{"value", name}
}

func (t *sealedTx) SetValue(ctx context.Context, name string, value []byte) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	if err := checkValueName(name); err != nil {
		return err
	}
	if value == nil {
		return t.r.Delete(path(bucketValues), []byte(name))
	}
	return t.putRaw(path(bucketValues), []byte(name), value)
}
