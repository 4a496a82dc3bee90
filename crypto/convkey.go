package crypto

import (
	"crypto/subtle"
	"fmt"
	"io"
)

// ConversationKeySize is the length of a conversation key.
const ConversationKeySize = 32

// ConversationKey is the symmetric key of one conversation key version. It
// encrypts messages with secretbox. Its fmt output is redacted.
type ConversationKey [ConversationKeySize]byte

// NewConversationKey returns a fresh key drawn from rand (nil means
// crypto/rand.Reader).
func NewConversationKey(rand io.Reader) (*ConversationKey, error) {
	var k ConversationKey
	if _, err := io.ReadFull(randOrDefault(rand), k[:]); err != nil {
		return nil, fmt.Errorf("crypto: reading randomness: %w", err)
	}
	return &k, nil
}

// Equal reports whether k and other are equal, in constant time.
func (k *ConversationKey) Equal(other *ConversationKey) bool {
	if k == nil || other == nil {
		return k == other
	}
	return subtle.ConstantTimeCompare(k[:], other[:]) == 1
}

// Zero wipes the key.
func (k *ConversationKey) Zero() { clear(k[:]) }

// String implements fmt.Stringer without revealing the key.
func (k ConversationKey) String() string { return "crypto.ConversationKey(REDACTED)" }

// GoString implements fmt.GoStringer without revealing the key.
func (k ConversationKey) GoString() string { return k.String() }

// Format implements fmt.Formatter so that every verb prints the redacted form.
func (k ConversationKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// WrapConversationKey encrypts k to the identity key to with ECIES. The
// result (113 bytes) is the encrypted_conversation_key of a participant.
func WrapConversationKey(rand io.Reader, to *PublicKey, k *ConversationKey) ([]byte, error) {
	if k == nil {
		return nil, fmt.Errorf("%w: nil key", ErrInvalidConversationKey)
	}
	return ECIESEncrypt(rand, to, k[:])
}

// UnwrapConversationKey decrypts a wrapped conversation key with the
// identity private key. The plaintext must be exactly 32 bytes.
func UnwrapConversationKey(k *PrivateKey, wrapped []byte) (*ConversationKey, error) {
	pt, err := ECIESDecrypt(k, wrapped)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	if len(pt) != ConversationKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidConversationKey, len(pt), ConversationKeySize)
	}
	var ck ConversationKey
	copy(ck[:], pt)
	return &ck, nil
}
