package crypto

import (
	"fmt"
	"io"

	"golang.org/x/crypto/nacl/secretbox"
)

const (
	// SecretboxNonceSize is the XSalsa20 nonce length.
	SecretboxNonceSize = 24
	// SecretboxOverhead is the number of bytes Seal adds: nonce(24) ‖ tag(16).
	SecretboxOverhead = SecretboxNonceSize + secretbox.Overhead
)

// Seal encrypts plaintext under key with XSalsa20-Poly1305 (NaCl secretbox)
// and a random 24-byte nonce from rand (nil means crypto/rand.Reader). The
// result is nonce(24) ‖ tag(16) ‖ ciphertext, the MessageCreateEvent.contents
// layout.
func Seal(rand io.Reader, key *ConversationKey, plaintext []byte) ([]byte, error) {
	return AppendSeal(nil, rand, key, plaintext)
}

// AppendSeal is Seal appending its output to dst. dst and plaintext must
// not overlap.
func AppendSeal(dst []byte, rand io.Reader, key *ConversationKey, plaintext []byte) ([]byte, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: nil key", ErrInvalidConversationKey)
	}
	var nonce [SecretboxNonceSize]byte
	if _, err := io.ReadFull(randOrDefault(rand), nonce[:]); err != nil {
		return nil, fmt.Errorf("crypto: reading randomness: %w", err)
	}
	dst = grow(dst, SecretboxOverhead+len(plaintext))
	dst = append(dst, nonce[:]...)
	return secretbox.Seal(dst, plaintext, &nonce, (*[32]byte)(key)), nil
}

// Open authenticates and decrypts a nonce(24) ‖ tag(16) ‖ ciphertext box.
// It returns ErrDecrypt if box is shorter than 40 bytes or forged.
func Open(key *ConversationKey, box []byte) ([]byte, error) {
	return AppendOpen(nil, key, box)
}

// AppendOpen is Open appending the plaintext to dst. dst and box must not
// overlap.
func AppendOpen(dst []byte, key *ConversationKey, box []byte) ([]byte, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: nil key", ErrInvalidConversationKey)
	}
	if len(box) < SecretboxOverhead {
		return nil, fmt.Errorf("%w: box is %d bytes, minimum %d", ErrDecrypt, len(box), SecretboxOverhead)
	}
	nonce := (*[SecretboxNonceSize]byte)(box[:SecretboxNonceSize])
	out, ok := secretbox.Open(dst, box[SecretboxNonceSize:], nonce, (*[32]byte)(key))
	if !ok {
		return nil, ErrDecrypt
	}
	return out, nil
}

// grow makes room for n more bytes in dst without changing its length.
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	out := make([]byte, len(dst), len(dst)+n)
	copy(out, dst)
	return out
}
