package keystore

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/crypto/chacha20poly1305"
)

// DefaultLockTimeout is how long Open waits for another process to release
// the store file before failing with ErrLocked.
const DefaultLockTimeout = 500 * time.Millisecond

// Option configures Open. An option given a value it cannot use makes Open
// fail with ErrInvalid; no value is silently replaced by a default.
type Option func(*options) error

type options struct {
	passphrase    []byte
	hasPassphrase bool
	key           SecretKey
	hasKey        bool
	params        Argon2Params
	hasParams     bool
	lockTimeout   time.Duration
	rand          io.Reader
}

// WithPassphrase protects the store with a passphrase: the store key is
// wrapped under a key derived from it with Argon2id. The slice is copied.
func WithPassphrase(passphrase []byte) Option {
	return func(o *options) error {
		o.passphrase = append([]byte{}, passphrase...)
		o.hasPassphrase = true
		return nil
	}
}

// WithKey protects the store with a 32-byte key supplied by the embedding
// application (for example from an OS keyring); no key derivation is done.
func WithKey(key [32]byte) Option {
	return func(o *options) error {
		o.key = key
		o.hasKey = true
		return nil
	}
}

// WithArgon2Params sets the Argon2id cost used when a passphrase-protected
// store is created or its passphrase is changed. Opening an existing store
// always uses the parameters recorded in its header. Parameters outside the
// accepted bounds are refused.
func WithArgon2Params(p Argon2Params) Option {
	return func(o *options) error {
		if err := p.validate(); err != nil {
			return err
		}
		o.params = p
		o.hasParams = true
		return nil
	}
}

// WithLockTimeout sets how long Open waits for the file lock held by another
// process (default DefaultLockTimeout); d must be positive.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: lock timeout %v is not positive", ErrInvalid, d)
		}
		o.lockTimeout = d
		return nil
	}
}

// Bucket and key names of the on-disk layout.
var (
	bucketMeta          = []byte("meta")
	bucketAccount       = []byte("account")
	bucketValues        = []byte("values")
	bucketPeers         = []byte("peers")
	bucketConvKeys      = []byte("convkeys")
	bucketConversations = []byte("conversations")
	bucketEvents        = []byte("events")
	bucketMsgIndex      = []byte("msgindex")
	bucketOutbox        = []byte("outbox")

	keyHeader   = []byte("header")
	keyIdentity = []byte("identity")
	keyToken    = []byte("token")

	topBuckets = [][]byte{bucketMeta, bucketAccount, bucketValues, bucketPeers, bucketConvKeys,
		bucketConversations, bucketEvents, bucketMsgIndex, bucketOutbox}
)

// DB is the bbolt-backed Store: one file per account, every value sealed
// with XChaCha20-Poly1305 under a random store key. It is safe for
// concurrent use; only one process can hold the file open.
type DB struct {
	autoTx

	path        string
	bolt        *bolt.DB
	rand        io.Reader
	params      Argon2Params
	hasParams   bool
	lockTimeout time.Duration

	rekeyMu sync.Mutex // serialises ChangePassphrase / ChangeKey

	mu     sync.RWMutex // guards everything below; held (read) during transactions
	key    SecretKey
	aead   cipher.AEAD
	closed bool
}

// Open opens the store at path, creating it (and its directory) when it
// does not exist. Exactly one of WithPassphrase or WithKey must be given.
//
// Opening an existing store writes nothing until the passphrase or key has
// been verified; a wrong one fails with ErrWrongPassphrase or ErrWrongKey. A
// store held by another process fails with ErrLocked after the lock timeout.
func Open(path string, opts ...Option) (*DB, error) {
	o := options{params: DefaultArgon2Params, lockTimeout: DefaultLockTimeout, rand: rand.Reader}
	defer func() {
		clear(o.passphrase)
		o.key.Zero()
	}()
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalid)
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.hasPassphrase == o.hasKey {
		return nil, fmt.Errorf("%w: exactly one of WithPassphrase or WithKey is required", ErrInvalid)
	}
	if o.hasPassphrase {
		if err := o.params.validate(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("keystore: creating directory: %w", err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.lockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, fmt.Errorf("keystore: opening %s: %w", path, err)
	}
	db := &DB{path: path, bolt: bdb, rand: o.rand, params: o.params, hasParams: o.hasParams, lockTimeout: o.lockTimeout}
	if err := db.unlock(&o); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	db.autoTx = autoTx{view: db.View, update: db.Update}
	return db, nil
}

// unlock reads (or, for a new store, creates) the header and installs the
// store key.
func (db *DB) unlock(o *options) error {
	var raw []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta); b != nil {
			if v := b.Get(keyHeader); v != nil {
				raw = bytes.Clone(v)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("keystore: reading header: %w", err)
	}
	if raw == nil {
		return db.create(o)
	}
	h, err := parseHeader(raw)
	if err != nil {
		return err
	}
	var kek SecretKey
	defer kek.Zero()
	wrongErr := ErrWrongPassphrase
	switch {
	case o.hasPassphrase && h.mode == modePassphrase:
		kek = deriveKEK(o.passphrase, h.salt[:], h.params)
	case o.hasKey && h.mode == modeKey:
		kek, wrongErr = o.key, ErrWrongKey
	case o.hasKey:
		return fmt.Errorf("%w: store is protected by a passphrase", ErrWrongKey)
	default:
		return fmt.Errorf("%w: store is protected by a key, not a passphrase", ErrWrongPassphrase)
	}
	key, ok := h.unwrap(&kek)
	defer key.Zero()
	if !ok {
		return wrongErr
	}
	return db.install(&key)
}

// create initialises a new store: random store key, header, buckets, in
// one transaction.
func (db *DB) create(o *options) error {
	var key, kek SecretKey
	defer key.Zero()
	defer kek.Zero()
	if _, err := io.ReadFull(db.rand, key[:]); err != nil {
		return fmt.Errorf("keystore: generating store key: %w", err)
	}
	h := &header{}
	if _, err := io.ReadFull(db.rand, h.salt[:]); err != nil {
		return fmt.Errorf("keystore: generating salt: %w", err)
	}
	if o.hasPassphrase {
		h.mode, h.params = modePassphrase, o.params
		kek = deriveKEK(o.passphrase, h.salt[:], h.params)
	} else {
		h.mode, kek = modeKey, o.key
	}
	if err := h.wrap(&kek, &key, db.rand); err != nil {
		return err
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range topBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyHeader, h.marshal())
	})
	if err != nil {
		return fmt.Errorf("keystore: initialising store: %w", err)
	}
	return db.install(&key)
}

func (db *DB) install(key *SecretKey) error {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	db.key = *key
	db.aead = aead
	return nil
}

// Path returns the file the store lives in.
func (db *DB) Path() string { return db.path }

// Update runs fn in one bbolt read-write transaction, committed (and
// fsynced) before Update returns nil.
func (db *DB) Update(ctx context.Context, fn func(tx Tx) error) error {
	return db.run(ctx, true, fn)
}

// View runs fn in one read-only bbolt transaction.
func (db *DB) View(ctx context.Context, fn func(tx Tx) error) error {
	return db.run(ctx, false, fn)
}

func (db *DB) run(ctx context.Context, writable bool, fn func(tx Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return ErrClosed
	}
	body := func(btx *bolt.Tx) error {
		return fn(&boltTx{ctx: ctx, tx: btx, aead: db.aead, rand: db.rand, writable: writable})
	}
	if writable {
		return db.bolt.Update(body)
	}
	return db.bolt.View(body)
}

// Close closes the file and zeroes the store key. The AEAD instance built
// from the key keeps an internal copy Go gives no way to clear; it becomes
// unreachable here.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	db.key.Zero()
	db.aead = nil
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("keystore: closing: %w", err)
	}
	return nil
}

// ChangePassphrase re-wraps the store key under a key derived from newPass
// (with a fresh salt, and the parameters of WithArgon2Params if given, else
// those already in use). Only the header is rewritten, in one transaction.
// A wrong oldPass fails with ErrWrongPassphrase and changes nothing.
func (db *DB) ChangePassphrase(oldPass, newPass []byte) error {
	return db.rekey(func(h *header) (SecretKey, error) {
		if h.mode != modePassphrase {
			return SecretKey{}, fmt.Errorf("%w: store is protected by a key, not a passphrase", ErrInvalid)
		}
		return deriveKEK(oldPass, h.salt[:], h.params), nil
	}, ErrWrongPassphrase, func(nh *header) SecretKey {
		nh.mode = modePassphrase
		return deriveKEK(newPass, nh.salt[:], nh.params)
	})
}

// ChangeKey re-wraps the store key of a key-protected store under newKey.
// A wrong oldKey fails with ErrWrongKey and changes nothing.
func (db *DB) ChangeKey(oldKey, newKey [32]byte) error {
	return db.rekey(func(h *header) (SecretKey, error) {
		if h.mode != modeKey {
			return SecretKey{}, fmt.Errorf("%w: store is protected by a passphrase, not a key", ErrInvalid)
		}
		return oldKey, nil
	}, ErrWrongKey, func(nh *header) SecretKey {
		nh.mode, nh.params = modeKey, Argon2Params{}
		return newKey
	})
}

func (db *DB) rekey(oldKEK func(*header) (SecretKey, error), wrongErr error, newKEK func(*header) SecretKey) error {
	db.rekeyMu.Lock()
	defer db.rekeyMu.Unlock()
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return ErrClosed
	}
	var raw []byte
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		raw = bytes.Clone(tx.Bucket(bucketMeta).Get(keyHeader))
		return nil
	}); err != nil {
		return fmt.Errorf("keystore: reading header: %w", err)
	}
	h, err := parseHeader(raw)
	if err != nil {
		return err
	}
	kek, err := oldKEK(h)
	defer kek.Zero()
	if err != nil {
		return err
	}
	got, ok := h.unwrap(&kek)
	defer got.Zero()
	if !ok {
		return wrongErr
	}
	if !got.Equal(&db.key) {
		return fmt.Errorf("%w: header wraps a different store key", ErrCorrupt)
	}
	nh := &header{params: h.params}
	if db.hasParams {
		nh.params = db.params
	}
	if _, err := io.ReadFull(db.rand, nh.salt[:]); err != nil {
		return fmt.Errorf("keystore: generating salt: %w", err)
	}
	nk := newKEK(nh)
	defer nk.Zero()
	if err := nh.wrap(&nk, &db.key, db.rand); err != nil {
		return err
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if !bytes.Equal(b.Get(keyHeader), raw) {
			return fmt.Errorf("%w: header changed during rekey", ErrConflict)
		}
		return b.Put(keyHeader, nh.marshal())
	})
	if err != nil {
		return fmt.Errorf("keystore: writing header: %w", err)
	}
	return nil
}
