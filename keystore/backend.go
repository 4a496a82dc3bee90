package keystore

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Records is the storage under a sealed store, inside one transaction:
// ordered byte keys in buckets named by a path of names. A backend (the
// bbolt file of boltstore.DB, or a database table) implements it; NewSealedTx turns it
// into a Tx whose every value is sealed exactly as boltstore.DB seals it, so the
// backend only ever holds ciphertext and the ids DB keeps in the clear.
//
// Bucket path elements and keys never contain what a backend must escape:
// the top-level names are fixed ASCII words and the second level is an id
// checked by the store (1..256 bytes, no NUL). Keys compare bytewise.
type Records interface {
	// Get returns the value under key, or nil (and no error) when the
	// bucket or the key is absent.
	Get(bucket [][]byte, key []byte) ([]byte, error)
	// Put stores value under key, creating the bucket when needed.
	Put(bucket [][]byte, key, value []byte) error
	// Delete removes key; an absent bucket or key is not an error.
	Delete(bucket [][]byte, key []byte) error
	// Scan calls fn for the records of bucket whose key is >= from (every
	// record when from is nil), in ascending key order, until fn returns
	// false or an error, or limit records were visited (limit <= 0: no
	// limit). The slices are valid only during the call.
	Scan(bucket [][]byte, from []byte, limit int, fn func(key, value []byte) (bool, error)) error
	// Last returns the record with the greatest key of bucket, or nil keys
	// when it is empty or absent.
	Last(bucket [][]byte) (key, value []byte, err error)
	// Walk calls fn for every record of every bucket (the header is not a
	// record), in no particular order.
	Walk(fn func(bucket [][]byte, key, value []byte) error) error
}

// Sealer seals and opens the values of a sealed store under its store key,
// bound to each record's bucket path and key. It is created by CreateHeader
// or UnlockHeader and must be closed to zero the key.
//
// It also carries what the sealed transactions of one opened store share:
// the message-id index settings and its cache of segment filters.
type Sealer struct {
	key  SecretKey
	aead cipher.AEAD
	rand io.Reader

	indexRecent int          // R, see WithMessageIndexRecent
	filters     *filterCache // decoded filters of committed segments
	states      *stateCache  // segment lists last read from committed records
}

func newSealer(key *SecretKey, o *options) (*Sealer, error) {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	r := o.rand
	if r == nil {
		r = rand.Reader
	}
	recent := o.indexRecent
	if recent <= 0 {
		recent = DefaultIndexRecent
	}
	return &Sealer{key: *key, aead: aead, rand: r, indexRecent: recent, filters: newFilterCache(), states: newStateCache()}, nil
}

// Seal seals plaintext for the record at bucket/key as
// version ‖ nonce ‖ XChaCha20-Poly1305(store key, plaintext, aad(bucket, key)).
func (s *Sealer) Seal(bucket [][]byte, key, plaintext []byte) ([]byte, error) {
	return seal(s.aead, s.rand, plaintext, recordAAD(append(bucket[:len(bucket):len(bucket)], key)...))
}

// sealInto is sealAppended into room (see sealInto) with aad, the
// record's recordAAD, made by the caller.
func (s *Sealer) sealInto(aad, room []byte, appendPT func([]byte) ([]byte, error)) ([]byte, error) {
	return sealInto(s.aead, s.rand, aad, room, appendPT)
}

// Open authenticates and decrypts the sealed value of the record at
// bucket/key; a value moved to another record or altered fails with
// ErrCorrupt.
func (s *Sealer) Open(bucket [][]byte, key, sealed []byte) ([]byte, error) {
	return unseal(s.aead, sealed, recordAAD(append(bucket[:len(bucket):len(bucket)], key)...), func() string { return describe(bucket, key) })
}

// SameKey reports, in constant time, whether s and o seal under the same
// store key.
func (s *Sealer) SameKey(o *Sealer) bool { return s.key.Equal(&o.key) }

// Close zeroes the store key. The AEAD instance keeps an internal copy Go
// gives no way to clear; it becomes unreachable with s.
func (s *Sealer) Close() {
	s.key.Zero()
	s.aead = nil
	s.filters.clear()
	s.states.clear()
}

// NewSealedTx returns the Tx of a sealed store over one backend
// transaction. Writes fail with ErrReadOnly unless writable; every call
// fails once ctx is done.
func NewSealedTx(ctx context.Context, r Records, s *Sealer, writable bool) Tx {
	return &checkedTx{ctx: ctx, writable: writable, st: &sealedTx{r: r, s: s}}
}

// RunSealedTx runs fn with the Tx of a sealed store over one backend
// transaction, which the backend commits when RunSealedTx returns nil.
// Unlike NewSealedTx's Tx, it writes each conversation's message-id index
// state once, after fn, instead of at every PutEvents; the Tx fails with
// ErrClosed once fn has returned.
func RunSealedTx(ctx context.Context, r Records, s *Sealer, writable bool, fn func(tx Tx) error) error {
	st := &sealedTx{r: r, s: s, deferState: writable}
	tx := &checkedTx{ctx: ctx, writable: writable, st: st}
	err := fn(tx)
	tx.done = true
	if err != nil {
		return err
	}
	return st.finish()
}

// keyOptions collects the protection options of Open for CreateHeader and
// UnlockHeader.
func keyOptions(opts []Option) (*options, error) {
	o := &options{params: DefaultArgon2Params, rand: rand.Reader}
	if err := applyOptions(o, opts); err != nil {
		o.zero()
		return nil, err
	}
	if o.hasPassphrase == o.hasKey {
		o.zero()
		return nil, fmt.Errorf("%w: exactly one of WithPassphrase or WithKey is required", ErrInvalid)
	}
	if o.hasPassphrase {
		if err := o.params.validate(); err != nil {
			o.zero()
			return nil, err
		}
	}
	return o, nil
}

func (o *options) zero() {
	clear(o.passphrase)
	o.key.Zero()
}

// CreateHeader makes a new random store key protected as opts say
// (exactly one of WithPassphrase or WithKey; WithArgon2Params and WithRand
// apply) and returns the header to store beside the records and the Sealer
// for them.
func CreateHeader(opts ...Option) (header []byte, s *Sealer, err error) {
	o, err := keyOptions(opts)
	if err != nil {
		return nil, nil, err
	}
	defer o.zero()
	var key, kek SecretKey
	defer key.Zero()
	defer kek.Zero()
	h, err := newHeader(o, &key, &kek)
	if err != nil {
		return nil, nil, err
	}
	s, err = newSealer(&key, o)
	if err != nil {
		return nil, nil, err
	}
	return h.marshal(), s, nil
}

// newHeader fills key with a fresh store key and returns its header.
func newHeader(o *options, key, kek *SecretKey) (*header, error) {
	if _, err := io.ReadFull(o.rand, key[:]); err != nil {
		return nil, fmt.Errorf("keystore: generating store key: %w", err)
	}
	h := &header{version: formatVersion}
	if _, err := io.ReadFull(o.rand, h.salt[:]); err != nil {
		return nil, fmt.Errorf("keystore: generating salt: %w", err)
	}
	if o.hasPassphrase {
		h.mode, h.params = modePassphrase, o.params
		*kek = deriveKEK(o.passphrase, h.salt[:], h.params)
	} else {
		h.mode, *kek = modeKey, o.key
	}
	if err := h.wrap(kek, key, o.rand); err != nil {
		return nil, err
	}
	return h, nil
}

// UnlockHeader opens a header made by CreateHeader (or a boltstore file's) with
// the passphrase or key in opts. A wrong one fails with ErrWrongPassphrase
// or ErrWrongKey, an unknown format with ErrUnsupportedVersion, a damaged
// header with ErrCorrupt.
func UnlockHeader(header []byte, opts ...Option) (*Sealer, error) {
	s, _, err := OpenHeader(header, opts...)
	return s, err
}

// OpenHeader is UnlockHeader that also returns, for a header of format 1
// or 2, the header upgraded to the current format (the same store key,
// secret, salt and parameters; the key wrapped again with a fresh nonce),
// nil for a current one. A backend opening a store for writing must store
// the upgraded header before any write, so that a program knowing only an
// older format no longer opens the store.
func OpenHeader(header []byte, opts ...Option) (s *Sealer, upgraded []byte, err error) {
	o, err := keyOptions(opts)
	if err != nil {
		return nil, nil, err
	}
	defer o.zero()
	key, upgraded, err := unlockHeader(bytes.Clone(header), o)
	defer key.Zero()
	if err != nil {
		return nil, nil, err
	}
	s, err = newSealer(&key, o)
	return s, upgraded, err
}

// unlockHeader parses raw and unwraps its store key with o's secret; an
// older format is also re-wrapped as the current one.
func unlockHeader(raw []byte, o *options) (key SecretKey, upgraded []byte, err error) {
	h, err := parseHeader(raw)
	if err != nil {
		return SecretKey{}, nil, err
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
		return SecretKey{}, nil, fmt.Errorf("%w: store is protected by a passphrase", ErrWrongKey)
	default:
		return SecretKey{}, nil, fmt.Errorf("%w: store is protected by a key, not a passphrase", ErrWrongPassphrase)
	}
	key, ok := h.unwrap(&kek)
	if !ok {
		return SecretKey{}, nil, wrongErr
	}
	if h.version == formatVersion {
		return key, nil, nil
	}
	nh := *h
	nh.version = formatVersion
	if err := nh.wrap(&kek, &key, o.rand); err != nil {
		key.Zero()
		return SecretKey{}, nil, err
	}
	return key, nh.marshal(), nil
}

// SealedStore is a Store whose records live in a Records backend under a
// Sealer: boltstore.DB, and the PostgreSQL store of keystore/pgstore. CopyRecords
// moves an account between two of them.
type SealedStore interface {
	Store
	// ViewRecords runs fn in one read-only transaction of the backend.
	ViewRecords(ctx context.Context, fn func(r Records, s *Sealer) error) error
	// UpdateRecords runs fn in one read-write transaction of the backend.
	UpdateRecords(ctx context.Context, fn func(r Records, s *Sealer) error) error
}

// CopyRecords copies every record of src into dst, opening each value with
// src's store key and sealing it again with dst's, all in one transaction
// of dst; it returns the number of records copied. dst must hold no
// identity yet (ErrConflict otherwise), so an account is never merged into
// another one. Keys (ids, versions) are copied as they are.
func CopyRecords(ctx context.Context, dst, src SealedStore) (int, error) {
	if _, err := dst.Identity(ctx); err == nil {
		return 0, fmt.Errorf("%w: destination store already holds an account", ErrConflict)
	} else if !isNotFound(err) {
		return 0, err
	}
	type rec struct {
		bucket [][]byte
		key    []byte
		pt     []byte
		sealed bool
	}
	var recs []rec
	defer func() {
		for _, r := range recs {
			clear(r.pt)
		}
	}()
	err := src.ViewRecords(ctx, func(r Records, s *Sealer) error {
		return r.Walk(func(bucket [][]byte, key, value []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			b := make([][]byte, len(bucket))
			for i := range bucket {
				b[i] = bytes.Clone(bucket[i])
			}
			k := bytes.Clone(key)
			if unsealedBucket(b[0]) {
				recs = append(recs, rec{b, k, nil, false}) // index entries are not sealed
				return nil
			}
			pt, err := s.Open(b, k, value)
			if err != nil {
				return err
			}
			recs = append(recs, rec{b, k, pt, true})
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("keystore: reading source: %w", err)
	}
	err = dst.UpdateRecords(ctx, func(r Records, s *Sealer) error {
		for _, rc := range recs {
			v := []byte{}
			if rc.sealed {
				var err error
				if v, err = s.Seal(rc.bucket, rc.key, rc.pt); err != nil {
					return err
				}
			}
			if err := r.Put(rc.bucket, rc.key, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("keystore: writing destination: %w", err)
	}
	return len(recs), nil
}

// OutboxBucket returns the bucket path of the outbox records (keyed by
// message id), for a backend that keeps delivery claims beside them.
func OutboxBucket() [][]byte { return [][]byte{bucketOutbox} }

// CheckID reports (wrapping ErrInvalid) an id the store would refuse: empty,
// longer than 256 bytes, or containing NUL.
func CheckID(what, id string) error { return checkID(what, id) }

// OpenOptions are the settings of a list of Options a backend's Open reads
// itself; the secret (WithPassphrase or WithKey) is consumed by
// CreateHeader, UnlockHeader and RewrapHeader instead.
type OpenOptions struct {
	// LockTimeout is WithLockTimeout's, DefaultLockTimeout when unset.
	LockTimeout time.Duration
	// Rand is WithRand's, crypto/rand when unset.
	Rand io.Reader
	// Argon2 is WithArgon2Params's when HasArgon2.
	Argon2    Argon2Params
	HasArgon2 bool
}

// ReadOptions checks opts as Open does (exactly one of WithPassphrase or
// WithKey; valid Argon2id parameters) and returns the settings besides the
// secret.
func ReadOptions(opts ...Option) (OpenOptions, error) {
	o, err := keyOptions(opts)
	if err != nil {
		return OpenOptions{}, err
	}
	defer o.zero()
	out := OpenOptions{LockTimeout: o.lockTimeout, Rand: o.rand, Argon2: o.params, HasArgon2: o.hasParams}
	if out.LockTimeout <= 0 {
		out.LockTimeout = DefaultLockTimeout
	}
	return out, nil
}

// RewrapHeader returns the header raw with the store key s holds wrapped under
// newSecret (WithPassphrase or WithKey) instead of oldSecret, with a fresh
// salt. A passphrase keeps the header's Argon2id parameters unless opts
// hold WithArgon2Params; WithRand in opts sets the randomness. The old
// secret must be of the header's kind (ErrInvalid otherwise) and unwrap it
// (ErrWrongPassphrase or ErrWrongKey otherwise); a header wrapping another
// key than s's fails with ErrCorrupt.
func RewrapHeader(raw []byte, s *Sealer, oldSecret, newSecret Option, opts ...Option) ([]byte, error) {
	var oldO, newO options
	defer oldO.zero()
	defer newO.zero()
	extra := options{rand: rand.Reader}
	defer extra.zero()
	if err := applyOptions(&oldO, []Option{oldSecret}); err != nil {
		return nil, err
	}
	if err := applyOptions(&newO, []Option{newSecret}); err != nil {
		return nil, err
	}
	if err := applyOptions(&extra, opts); err != nil {
		return nil, err
	}
	h, err := parseHeader(raw)
	if err != nil {
		return nil, err
	}
	if err := checkCurrent(h, &oldO, s); err != nil {
		return nil, err
	}
	nh := &header{version: h.version, params: h.params}
	if extra.hasParams {
		nh.params = extra.params
	}
	if _, err := io.ReadFull(extra.rand, nh.salt[:]); err != nil {
		return nil, fmt.Errorf("keystore: generating salt: %w", err)
	}
	var nk SecretKey
	defer nk.Zero()
	switch {
	case newO.hasPassphrase:
		if err := nh.params.validate(); err != nil {
			return nil, err
		}
		nh.mode = modePassphrase
		nk = deriveKEK(newO.passphrase, nh.salt[:], nh.params)
	case newO.hasKey:
		nh.mode, nh.params, nk = modeKey, Argon2Params{}, newO.key
	default:
		return nil, fmt.Errorf("%w: no new passphrase or key", ErrInvalid)
	}
	if err := nh.wrap(&nk, &s.key, extra.rand); err != nil {
		return nil, err
	}
	return nh.marshal(), nil
}

// checkCurrent verifies that the old secret o unwraps h to s's key.
func checkCurrent(h *header, o *options, s *Sealer) error {
	var kek SecretKey
	defer kek.Zero()
	var wrongErr error
	switch {
	case o.hasPassphrase && h.mode == modePassphrase:
		kek, wrongErr = deriveKEK(o.passphrase, h.salt[:], h.params), ErrWrongPassphrase
	case o.hasPassphrase:
		return fmt.Errorf("%w: store is protected by a key, not a passphrase", ErrInvalid)
	case o.hasKey && h.mode == modeKey:
		kek, wrongErr = o.key, ErrWrongKey
	case o.hasKey:
		return fmt.Errorf("%w: store is protected by a passphrase, not a key", ErrInvalid)
	default:
		return fmt.Errorf("%w: no current passphrase or key", ErrInvalid)
	}
	got, ok := h.unwrap(&kek)
	defer got.Zero()
	if !ok {
		return wrongErr
	}
	if !got.Equal(&s.key) {
		return fmt.Errorf("%w: header wraps a different store key", ErrCorrupt)
	}
	return nil
}
