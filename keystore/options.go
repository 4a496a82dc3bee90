package keystore

import (
	"fmt"
	"io"
	"time"
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
	indexRecent   int
}

// applyOptions applies opts to o and returns the first error; a nil option
// is an error.
func applyOptions(o *options, opts []Option) error {
	for _, opt := range opts {
		if opt == nil {
			return fmt.Errorf("%w: nil option", ErrInvalid)
		}
		if err := opt(o); err != nil {
			return err
		}
	}
	return nil
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

// WithRand sets the source of randomness for keys, salts and nonces
// (default crypto/rand); nil is refused.
func WithRand(r io.Reader) Option {
	return func(o *options) error {
		if r == nil {
			return fmt.Errorf("%w: nil randomness source", ErrInvalid)
		}
		o.rand = r
		return nil
	}
}

// MaxIndexRecent bounds WithMessageIndexRecent.
const MaxIndexRecent = 1 << 20

// WithMessageIndexRecent sets R, how many entries the recent part of a
// conversation's message-id index holds before they become an immutable
// segment (default DefaultIndexRecent; 1..MaxIndexRecent). It changes
// only when segments are made, never what a lookup answers, so a store
// may be opened with any value.
func WithMessageIndexRecent(n int) Option {
	return func(o *options) error {
		if n < 1 || n > MaxIndexRecent {
			return fmt.Errorf("%w: message index recent size %d", ErrInvalid, n)
		}
		o.indexRecent = n
		return nil
	}
}
