// Package keystore holds the durable, encrypted-at-rest state of one XChat
// account: its identity key backup, pinned peer keys, conversation keys,
// conversations with their sync position, decrypted history, the outbox of
// prepared-but-unacknowledged sends and the OAuth token.
//
// This package is the contract ([Store]), the record sealing every durable
// backend shares ([Records], [Sealer], [NewSealedTx]) and [Memory], an
// in-memory store for tests and the model of the contract. The backends are
// sub-packages an application picks one of: keystore/boltstore, a single
// go.etcd.io/bbolt file per account (the embedded default), and
// keystore/pgstore, an account in PostgreSQL for several replicas of one
// account (keystore/storeurl chooses by one string). In both, every value is
// sealed with XChaCha20-Poly1305 under a random store key (itself wrapped
// under a key derived from a passphrase with Argon2id, or under a key
// supplied by the embedding application). Neither the engine (package
// session) nor this package depends on a backend.
//
// The package is data-oriented: it stores bytes and plain structs and leaves
// their meaning to the caller. Versions (key versions) and sequence ids are
// canonical decimal strings and are always ordered numerically, never as
// strings (see [CompareVersions]).
//
// Every write is one transaction. [Store.Update] runs several writes
// atomically, for example acknowledging an outbox item together with storing
// the server's copy of the event.
//
// # On-disk format
//
// A boltstore file is a bbolt database (a pgstore schema holds the same
// records in one table). The "meta" bucket holds a versioned header
// (magic "XCKS", format version, protection mode, Argon2id parameters, salt
// and the wrapped store key); unknown versions are rejected. The other
// buckets hold records whose keys are plain (user, conversation and message
// ids, sequence ids and key versions, so they can be ordered and looked up)
// and whose values are each sealed as
//
//	version (1) ‖ nonce (24) ‖ XChaCha20-Poly1305(store key, record, aad)
//
// where a record is JSON, but for an event record, binary since store
// format 3 (see recordbin.go: a format-3 store still reads the JSON event
// records of the formats before, and programs that know only formats 1
// and 2 refuse it), and aad names the record's bucket path and key, so a
// value moved to another record fails authentication with ErrCorrupt. The entries of the
// message-id index (which sequence ids a message id was stored under) are
// keys with empty values; the index is log-structured (a small recent part
// and immutable sorted segments with sealed Bloom filters, see
// msgindex.go), which is store format 2. A format-1 store (one index
// B-tree, "msgindex") is upgraded in place when it is opened: its index is
// kept as the oldest segment, and programs that know only format 1 refuse
// the store from then on.
//
// # Security and durability
//
// Sealing protects the confidentiality of every value and the integrity of
// each record in place. It does not detect the deletion of whole records or
// the rollback of the file to an older copy, and ids remain visible to
// anyone who can read the file. Each write is one bbolt transaction, fsynced
// before it returns: a crash of the process at any point leaves a readable
// store holding every committed write; against power loss the store is as
// durable as bbolt's fsync on the host file system.
package keystore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Errors returned by this package wrap one of these where
// they apply; test them with errors.Is.
var (
	// ErrNotFound reports that the requested record does not exist.
	ErrNotFound = errors.New("keystore: not found")
	// ErrWrongPassphrase reports that the passphrase does not unlock the store
	// or backup file. Nothing has been modified.
	ErrWrongPassphrase = errors.New("keystore: wrong passphrase")
	// ErrWrongKey reports that the key given with WithKey does not unlock the
	// store, or that the store is protected by a passphrase instead.
	ErrWrongKey = errors.New("keystore: wrong key")
	// ErrLocked reports that another process holds the store file open.
	ErrLocked = errors.New("keystore: store is locked by another process")
	// ErrCorrupt reports a record or header that fails authentication or does
	// not parse: the file has been damaged or tampered with.
	ErrCorrupt = errors.New("keystore: corrupt or tampered data")
	// ErrUnsupportedVersion reports a file, header, record or backup format
	// version this package does not know.
	ErrUnsupportedVersion = errors.New("keystore: unsupported format version")
	// ErrInvalid reports an invalid argument, such as a non-canonical version
	// or sequence id, an empty id or a key blob of the wrong length.
	ErrInvalid = errors.New("keystore: invalid argument")
	// ErrConflict reports an attempt to replace immutable key material: a peer
	// key or conversation key already stored under the same version with
	// different bytes, or an identity import over a different identity.
	ErrConflict = errors.New("keystore: conflicting key material")
	// ErrClosed reports use of a closed store.
	ErrClosed = errors.New("keystore: store is closed")
	// ErrReadOnly reports a write attempted inside [Store.View].
	ErrReadOnly = errors.New("keystore: write in read-only transaction")
	// ErrDamaged reports a store file that is damaged or is not a keystore:
	// empty, foreign, truncated, structurally corrupt, or holding a record
	// that fails authentication. The error is a *DamagedError naming the
	// file; a damaged record also matches ErrCorrupt. The file is never
	// modified by the failing call.
	ErrDamaged = errors.New("keystore is damaged")
)

// DamagedError reports damage to the store file at Path. It matches
// ErrDamaged and unwraps to the cause.
type DamagedError struct {
	Path string
	Err  error
}

// Error implements error: "keystore PATH is damaged: CAUSE".
func (e *DamagedError) Error() string {
	return fmt.Sprintf("keystore %s is damaged: %v", e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *DamagedError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrDamaged) true.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// DamagedType is the StoredEvent.Type of a history record whose stored
// bytes are damaged: Events returns it in place of the record (with the
// reason in Error) so one bad record does not hide the others.
const DamagedType = "damaged"

// BackupSize is the length of the identity key backup blob: the 32-byte
// identity private key followed by the 32-byte signing private key.
const BackupSize = 64

// Identity is this account's own key material.
type Identity struct {
	// UserID is the account's X user id.
	UserID string
	// Backup is the BackupSize-byte identity‖signing private key blob.
	Backup SecretBytes
	// PublicKeyVersion is the version under which the public keys are
	// registered with the server, or "" when not registered yet.
	PublicKeyVersion string
}

// PeerKey is one version of another user's public keys as seen by this
// account. Each (UserID, Version) pair is stored once; its key bytes are
// immutable, so the set of versions is the full change history.
type PeerKey struct {
	UserID  string
	Version string
	// IdentityPublicKey and SigningPublicKey are stored exactly as given
	// (SPKI or SEC1 encodings, whatever the caller chose).
	IdentityPublicKey []byte
	SigningPublicKey  []byte
	// FirstSeen is when this version was first stored; PutPeerKey keeps the
	// earliest value.
	FirstSeen time.Time
	// LastSeen is when the caller last observed this version.
	LastSeen time.Time
	// Verified records an out-of-band verification by the user.
	Verified bool
	// Pinned marks the version the caller trusts for this user.
	Pinned bool
	// Origin is caller data recording how the version became known (the
	// session engine records whether it came with the first lookup of the
	// user or was published later above the pinned version), at most
	// MaxOriginLen bytes. Like FirstSeen it is written once: PutPeerKey
	// keeps the first non-empty Origin.
	Origin string
}

// MaxOriginLen bounds PeerKey.Origin.
const MaxOriginLen = 64

// ConversationKey is one version of a conversation's symmetric key.
type ConversationKey struct {
	ConversationID string
	Version        string
	Key            SecretKey
	// Verified records that the key's distribution was signature-checked.
	Verified bool
	// CreatedBy is the user id that distributed the key, if known.
	CreatedBy string
	// CreatedAt is when the key was created or first received.
	CreatedAt time.Time
}

// SyncState is a conversation's position in the server's event stream.
type SyncState struct {
	// LastSequenceID is the highest sequence id stored for the conversation.
	LastSequenceID string
	// ChainHead is the sequence id at the end of the verified
	// previous_sequence_id chain.
	ChainHead string
	// NextToken is the pagination token to resume fetching from.
	NextToken string
}

// Conversation is a conversation known to this account.
type Conversation struct {
	ID string
	// Type is the caller's conversation kind (for example "one_to_one" or
	// "group"); opaque to the store.
	Type    string
	Name    string
	Members []string
	// Meta is opaque caller data (for example JSON), sealed at rest.
	Meta      []byte
	Sync      SyncState
	UpdatedAt time.Time
}

// StoredEvent is one conversation event as the session decoded it.
type StoredEvent struct {
	// SequenceID is the server-assigned canonical decimal sequence id; events
	// are ordered by it numerically.
	SequenceID string
	MessageID  string
	SenderID   string
	// Type is the caller's event kind (for example "message").
	Type string
	// Body is the decrypted body (text or JSON, the caller decides), sealed
	// at rest.
	Body SecretBytes
	// Verified reports that the event's signature and key checked out.
	Verified bool
	// Error describes why the event could not be decrypted or verified.
	Error string
	// Raw is the encoded event as received from the server.
	Raw []byte
	// CreatedAt is the event's timestamp.
	CreatedAt time.Time
}

// OutboxItem is a send that has been prepared (encrypted and signed) but not
// yet acknowledged by the server. Retrying it reuses MessageID.
type OutboxItem struct {
	MessageID      string
	ConversationID string
	// Kind is the caller's send kind (for example "message" or "key_change").
	Kind string
	// Body is the prepared request, opaque to the store, sealed at rest.
	Body      SecretBytes
	CreatedAt time.Time
	Attempts  int
	LastError string
}

// Token is a stored OAuth 2.0 token. Its String, GoString and Format methods
// redact the secrets.
type Token struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	Expiry       time.Time
	Scopes       []string
}

// IdentityStore holds the account's own identity.
type IdentityStore interface {
	// Identity returns the stored identity or an error wrapping ErrNotFound.
	Identity(ctx context.Context) (*Identity, error)
	// SetIdentity stores id, replacing any previous identity. Backup must be
	// BackupSize bytes.
	SetIdentity(ctx context.Context, id *Identity) error
}

// PeerStore holds other users' public keys with their full history.
type PeerStore interface {
	// PeerKeys returns every stored version for userID in ascending numeric
	// version order; an unknown user yields an empty slice and no error.
	PeerKeys(ctx context.Context, userID string) ([]PeerKey, error)
	// PutPeerKey inserts or updates a version. If the version exists with
	// different key bytes it fails with ErrConflict; otherwise the earliest
	// FirstSeen and the first non-empty Origin are kept and the other
	// fields are replaced.
	PutPeerKey(ctx context.Context, k PeerKey) error
	// SetPeerVerified sets the Verified flag of an existing version
	// (ErrNotFound when absent).
	SetPeerVerified(ctx context.Context, userID, version string, verified bool) error
}

// ConversationKeyStore holds conversation keys per version.
type ConversationKeyStore interface {
	// PutConversationKey inserts or updates a version. If the version exists
	// with a different key it fails with ErrConflict; otherwise the earliest
	// CreatedAt is kept and the other fields are replaced.
	PutConversationKey(ctx context.Context, k ConversationKey) error
	// ConversationKey returns one version or an error wrapping ErrNotFound.
	ConversationKey(ctx context.Context, conversationID, version string) (*ConversationKey, error)
	// LatestConversationKey returns the numerically highest version stored
	// (the conversation's high-water mark) or an error wrapping ErrNotFound.
	LatestConversationKey(ctx context.Context, conversationID string) (*ConversationKey, error)
	// ConversationKeys returns all versions in ascending numeric order; an
	// unknown conversation yields an empty slice and no error.
	ConversationKeys(ctx context.Context, conversationID string) ([]ConversationKey, error)
}

// ConversationStore holds conversations and their sync state.
type ConversationStore interface {
	// Conversation returns one conversation or an error wrapping ErrNotFound.
	Conversation(ctx context.Context, id string) (*Conversation, error)
	// PutConversation inserts or replaces a conversation.
	PutConversation(ctx context.Context, c *Conversation) error
	// Conversations returns all conversations ordered by ID (byte order).
	Conversations(ctx context.Context) ([]Conversation, error)
}

// HistoryStore holds decrypted events per conversation.
type HistoryStore interface {
	// PutEvents stores events in one transaction, replacing any event with
	// the same sequence id.
	PutEvents(ctx context.Context, conversationID string, events []StoredEvent) error
	// Events returns up to limit events (all when limit <= 0) whose sequence
	// id is numerically greater than afterSeq ("" means from the start), in
	// ascending sequence order.
	Events(ctx context.Context, conversationID, afterSeq string, limit int) ([]StoredEvent, error)
	// EventByMessageID returns the stored event with that message id or an
	// error wrapping ErrNotFound. When several events hold it, a verified
	// one wins over unverified ones (an unverified event's ids are the
	// server's word), then the highest sequence id.
	EventByMessageID(ctx context.Context, conversationID, messageID string) (*StoredEvent, error)
}

// OutboxStore holds prepared-but-unacknowledged sends.
type OutboxStore interface {
	// PutOutbox inserts or replaces the item with the same MessageID.
	PutOutbox(ctx context.Context, item OutboxItem) error
	// Outbox returns all pending items ordered by CreatedAt, then MessageID.
	Outbox(ctx context.Context) ([]OutboxItem, error)
	// AckOutbox removes an item. Acknowledging an absent item is not an
	// error, so a retried acknowledgement after a crash is harmless.
	AckOutbox(ctx context.Context, messageID string) error
}

// TokenStore holds the OAuth token.
type TokenStore interface {
	// Token returns the stored token or an error wrapping ErrNotFound.
	Token(ctx context.Context) (*Token, error)
	// SetToken stores t, replacing any previous token; nil deletes it.
	SetToken(ctx context.Context, t *Token) error
}

// ValueStore holds small named values (settings, caller bookkeeping), sealed
// at rest.
type ValueStore interface {
	// Value returns the value stored under name or an error wrapping
	// ErrNotFound.
	Value(ctx context.Context, name string) ([]byte, error)
	// SetValue stores value under name; a nil value deletes it.
	SetValue(ctx context.Context, name string, value []byte) error
}

// Tx is the full set of record operations. A Store is a Tx whose every write
// is its own transaction; inside Update and View the same methods share one
// transaction.
type Tx interface {
	IdentityStore
	PeerStore
	ConversationKeyStore
	ConversationStore
	HistoryStore
	OutboxStore
	TokenStore
	ValueStore
}

// EventFinder is implemented by the transactions (and the AutoTx) of this
// package's stores. EventAt returns the event stored under sequence id
// seq, or an error wrapping ErrNotFound when none is (a record that
// cannot be opened is returned as one of DamagedType, as Events returns
// it). Use the package function EventAt, which falls back to Events for
// a Tx without the method.
type EventFinder interface {
	EventAt(ctx context.Context, conversationID, seq string) (*StoredEvent, error)
}

// EventAt returns the event tx stores under sequence id seq, or an error
// wrapping ErrNotFound: with tx's EventAt when it is an EventFinder, else
// as the first of tx's Events after seq's predecessor (so a Tx that is
// not one reads the next event above seq to find out there is none).
func EventAt(ctx context.Context, tx Tx, conversationID, seq string) (*StoredEvent, error) {
	if f, ok := tx.(EventFinder); ok {
		return f.EventAt(ctx, conversationID, seq)
	}
	if !ValidVersion(seq) {
		return nil, fmt.Errorf("%w: sequence id %q is not a canonical decimal", ErrInvalid, seq)
	}
	evs, err := tx.Events(ctx, conversationID, predecessor(seq), 1)
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 || evs[0].SequenceID != seq {
		for i := range evs {
			evs[i].Body.Zero()
		}
		return nil, &notFound{"event", seq}
	}
	return &evs[0], nil
}

// predecessor returns the canonical decimal one below canonical v, "" for
// "0" (Events then reads from the start).
func predecessor(v string) string {
	if v == "0" {
		return ""
	}
	b := []byte(v)
	i := len(b) - 1
	for b[i] == '0' {
		b[i] = '9'
		i--
	}
	b[i]--
	if b[0] == '0' && len(b) > 1 {
		b = b[1:]
	}
	return string(b)
}

// Store is one account's durable state.
type Store interface {
	Tx
	// Update runs fn in one read-write transaction: either every write fn
	// made is committed, or (when fn or the commit fails) none is. fn must
	// use only tx, not the Store, and must not retain tx.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn in one read-only, consistent snapshot; writes fail with
	// ErrReadOnly.
	View(ctx context.Context, fn func(tx Tx) error) error
	// Close releases the store and zeroes the key material it holds.
	Close() error
}

// Compile-time checks.
var _ Store = (*Memory)(nil)
