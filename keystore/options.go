package keystore

import (
	"io"
	"time"
)

// DefaultLockTimeout is how long Open waits for another process to release
// the store file before failing with ErrLocked.
const DefaultLockTimeout = 500 * time.Millisecond

// Option configures Open.
type Option func(*options)

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
	return func(o *options) {
		o.passphrase = append([]byte{}, passphrase...)
		o.hasPassphrase = true
	}
}

// WithKey protects the store with a 32-byte key supplied by the embedding
// application (for example from an OS keyring); no key derivation is done.
func WithKey(key [32]byte) Option {
	return func(o *options) {
		o.key = key
		o.hasKey = true
	}
}

// WithArgon2Params sets the Argon2id cost used when a passphrase-protected
// store is created or its passphrase is changed. Opening an existing store
// always uses the parameters recorded in its header.
func WithArgon2Params(p Argon2Params) Option {
	return func(o *options) {
		o.params = p
		o.hasParams = true
	}
}

// WithLockTimeout sets how long Open waits for the file lock held by another
// process; d <= 0 selects DefaultLockTimeout.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) { o.lockTimeout = d }
}

// WithRand sets the source of randomness for keys, salts and nonces
// (default crypto/rand).
func WithRand(r io.Reader) Option {
	return func(o *options) { o.rand = r }
}
