package keystore

import (
	"fmt"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the Argon2id cost parameters used to derive a key from a
// passphrase. They are stored alongside the salt, so a store or backup file
// always opens with the parameters it was created with.
type Argon2Params struct {
	// Time is the number of passes (1..64).
	Time uint32
	// MemoryKiB is the memory cost in KiB (8*Threads .. 4 GiB).
	MemoryKiB uint32
	// Threads is the parallelism (1..64).
	Threads uint8
}

// DefaultArgon2Params are the parameters used unless WithArgon2Params says
// otherwise: 3 passes over 64 MiB with 4 lanes.
var DefaultArgon2Params = Argon2Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

// Upper bounds that keep a hostile header or backup file from demanding
// unbounded work.
const (
	maxArgonTime    = 64
	maxArgonMemory  = 4 << 20 // KiB = 4 GiB
	maxArgonThreads = 64
	saltSize        = 16
)

// validate checks p against the accepted bounds.
func (p Argon2Params) validate() error {
	if p.Time < 1 || p.Time > maxArgonTime {
		return fmt.Errorf("%w: argon2 time %d outside 1..%d", ErrInvalid, p.Time, maxArgonTime)
	}
	if p.Threads < 1 || p.Threads > maxArgonThreads {
		return fmt.Errorf("%w: argon2 threads %d outside 1..%d", ErrInvalid, p.Threads, maxArgonThreads)
	}
	if p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxArgonMemory {
		return fmt.Errorf("%w: argon2 memory %d KiB outside %d..%d", ErrInvalid, p.MemoryKiB, 8*uint32(p.Threads), maxArgonMemory)
	}
	return nil
}

// deriveKEK derives a 32-byte key-encryption key from passphrase and salt.
func deriveKEK(passphrase, salt []byte, p Argon2Params) SecretKey {
	var k SecretKey
	d := argon2.IDKey(passphrase, salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(k)))
	copy(k[:], d)
	clear(d)
	return k
}
