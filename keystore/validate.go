package keystore

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Validation, normalisation and merge rules shared by DB and Memory, so both
// implementations behave identically.

const maxPublicKeySize = 1024

// normTime drops the monotonic reading and location so stored times compare
// equal with == after a round trip.
func normTime(t time.Time) time.Time { return t.UTC() }

// cloneBytes copies b; empty becomes nil so both implementations agree.
func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

// cloneStrings copies s; empty becomes nil so both implementations agree.
func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func checkOptionalVersion(what, v string) error {
	if v == "" {
		return nil
	}
	return checkVersion(what, v)
}

func prepIdentity(id *Identity) (Identity, error) {
	if id == nil {
		return Identity{}, fmt.Errorf("%w: nil identity", ErrInvalid)
	}
	if err := checkID("user id", id.UserID); err != nil {
		return Identity{}, err
	}
	if len(id.Backup) != BackupSize {
		return Identity{}, fmt.Errorf("%w: identity backup is %d bytes, want %d", ErrInvalid, len(id.Backup), BackupSize)
	}
	if err := checkOptionalVersion("public key version", id.PublicKeyVersion); err != nil {
		return Identity{}, err
	}
	return Identity{UserID: id.UserID, Backup: cloneBytes(id.Backup), PublicKeyVersion: id.PublicKeyVersion}, nil
}

func cloneIdentity(id Identity) *Identity {
	id.Backup = cloneBytes(id.Backup)
	return &id
}

func prepPeerKey(k PeerKey) (PeerKey, error) {
	if err := checkID("user id", k.UserID); err != nil {
		return PeerKey{}, err
	}
	if err := checkVersion("peer key version", k.Version); err != nil {
		return PeerKey{}, err
	}
	if len(k.IdentityPublicKey) > maxPublicKeySize || len(k.SigningPublicKey) > maxPublicKeySize {
		return PeerKey{}, fmt.Errorf("%w: public key longer than %d bytes", ErrInvalid, maxPublicKeySize)
	}
	if len(k.IdentityPublicKey) == 0 && len(k.SigningPublicKey) == 0 {
		return PeerKey{}, fmt.Errorf("%w: peer key without public keys", ErrInvalid)
	}
	if len(k.Origin) > MaxOriginLen {
		return PeerKey{}, fmt.Errorf("%w: peer key origin longer than %d bytes", ErrInvalid, MaxOriginLen)
	}
	k.IdentityPublicKey = cloneBytes(k.IdentityPublicKey)
	k.SigningPublicKey = cloneBytes(k.SigningPublicKey)
	k.FirstSeen = normTime(k.FirstSeen)
	k.LastSeen = normTime(k.LastSeen)
	return k, nil
}

func clonePeerKey(k PeerKey) PeerKey {
	k.IdentityPublicKey = cloneBytes(k.IdentityPublicKey)
	k.SigningPublicKey = cloneBytes(k.SigningPublicKey)
	return k
}

// mergePeerKey applies the PutPeerKey rule: key bytes are immutable, the
// earliest FirstSeen and the first non-empty Origin win.
func mergePeerKey(old *PeerKey, k PeerKey) (PeerKey, error) {
	if old == nil {
		return k, nil
	}
	if !bytes.Equal(old.IdentityPublicKey, k.IdentityPublicKey) || !bytes.Equal(old.SigningPublicKey, k.SigningPublicKey) {
		return PeerKey{}, fmt.Errorf("%w: user %s key version %s already stored with different keys", ErrConflict, k.UserID, k.Version)
	}
	k.FirstSeen = earliest(old.FirstSeen, k.FirstSeen)
	if old.Origin != "" {
		k.Origin = old.Origin
	}
	return k, nil
}

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

func prepConversationKey(k ConversationKey) (ConversationKey, error) {
	if err := checkID("conversation id", k.ConversationID); err != nil {
		return ConversationKey{}, err
	}
	if err := checkVersion("conversation key version", k.Version); err != nil {
		return ConversationKey{}, err
	}
	if k.Key == (SecretKey{}) {
		return ConversationKey{}, fmt.Errorf("%w: all-zero conversation key", ErrInvalid)
	}
	k.CreatedAt = normTime(k.CreatedAt)
	return k, nil
}

func mergeConversationKey(old *ConversationKey, k ConversationKey) (ConversationKey, error) {
	if old == nil {
		return k, nil
	}
	if !old.Key.Equal(&k.Key) {
		return ConversationKey{}, fmt.Errorf("%w: conversation %s key version %s already stored with a different key", ErrConflict, k.ConversationID, k.Version)
	}
	k.CreatedAt = earliest(old.CreatedAt, k.CreatedAt)
	return k, nil
}

func prepConversation(c *Conversation) (Conversation, error) {
	if c == nil {
		return Conversation{}, fmt.Errorf("%w: nil conversation", ErrInvalid)
	}
	if err := checkID("conversation id", c.ID); err != nil {
		return Conversation{}, err
	}
	if err := checkOptionalVersion("last sequence id", c.Sync.LastSequenceID); err != nil {
		return Conversation{}, err
	}
	if err := checkOptionalVersion("chain head", c.Sync.ChainHead); err != nil {
		return Conversation{}, err
	}
	out := cloneConversation(*c)
	out.UpdatedAt = normTime(out.UpdatedAt)
	return out, nil
}

func cloneConversation(c Conversation) Conversation {
	c.Members = cloneStrings(c.Members)
	c.Meta = cloneBytes(c.Meta)
	return c
}

// checkEvent validates e and normalises its time; its byte slices are
// still the caller's.
func checkEvent(e StoredEvent) (StoredEvent, error) {
	if err := checkVersion("sequence id", e.SequenceID); err != nil {
		return StoredEvent{}, err
	}
	if e.MessageID != "" {
		if err := checkID("message id", e.MessageID); err != nil {
			return StoredEvent{}, err
		}
	}
	e.CreatedAt = normTime(e.CreatedAt)
	return e, nil
}

func cloneEvent(e StoredEvent) StoredEvent {
	e.Body = cloneBytes(e.Body)
	e.Raw = cloneBytes(e.Raw)
	return e
}

func prepOutbox(it OutboxItem) (OutboxItem, error) {
	if err := checkID("message id", it.MessageID); err != nil {
		return OutboxItem{}, err
	}
	if it.ConversationID != "" {
		if err := checkID("conversation id", it.ConversationID); err != nil {
			return OutboxItem{}, err
		}
	}
	if it.Attempts < 0 {
		return OutboxItem{}, fmt.Errorf("%w: negative attempts", ErrInvalid)
	}
	it = cloneOutbox(it)
	it.CreatedAt = normTime(it.CreatedAt)
	return it, nil
}

func cloneOutbox(it OutboxItem) OutboxItem {
	it.Body = cloneBytes(it.Body)
	return it
}

// sortOutbox orders items by CreatedAt, then MessageID.
func sortOutbox(items []OutboxItem) {
	slices.SortFunc(items, func(a, b OutboxItem) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		switch {
		case a.MessageID < b.MessageID:
			return -1
		case a.MessageID > b.MessageID:
			return 1
		}
		return 0
	})
}

func prepToken(t *Token) Token {
	out := *t
	out.Scopes = cloneStrings(t.Scopes)
	out.Expiry = normTime(out.Expiry)
	return out
}

func cloneToken(t Token) *Token {
	t.Scopes = cloneStrings(t.Scopes)
	return &t
}

func checkValueName(name string) error { return checkID("value name", name) }

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
