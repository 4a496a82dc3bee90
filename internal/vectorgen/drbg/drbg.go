// Package drbg provides the deterministic byte source behind the committed
// test vectors: a ChaCha20 keystream keyed by SHA-256 of a seed string.
//
// It exists only so that `make vectors` is reproducible. It is not a
// cryptographically sound random number generator for real keys: the seed is
// public.
package drbg

import (
	"crypto/sha256"

	"golang.org/x/crypto/chacha20"
)

// Reader is a deterministic io.Reader. Its zero value is not usable; create
// one with New.
type Reader struct {
	c *chacha20.Cipher
}

// New returns a Reader whose output is the ChaCha20 keystream under key
// SHA-256(seed) and an all-zero nonce.
func New(seed string) *Reader {
	key := sha256.Sum256([]byte(seed))
	var nonce [chacha20.NonceSize]byte
	c, err := chacha20.NewUnauthenticatedCipher(key[:], nonce[:])
	if err != nil {
		// Key and nonce lengths are constants of the right size.
		panic("drbg: " + err.Error())
	}
	return &Reader{c: c}
}

// Read fills b with the next len(b) keystream bytes. It never fails.
func (r *Reader) Read(b []byte) (int, error) {
	clear(b)
	r.c.XORKeyStream(b, b)
	return len(b), nil
}

// Bytes returns the next n keystream bytes.
func (r *Reader) Bytes(n int) []byte {
	b := make([]byte, n)
	_, _ = r.Read(b)
	return b
}
