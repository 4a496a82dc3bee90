package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
)

const (
	eciesKeySize   = 16 // AES-128
	eciesNonceSize = 16 // non-standard 128-bit GCM IV, as in the XDK
	eciesTagSize   = 16
	// ECIESOverhead is the number of bytes ECIESEncrypt adds to a plaintext:
	// the 65-byte ephemeral public key and the 16-byte GCM tag.
	ECIESOverhead = PublicKeySize + eciesTagSize
)

// ECIESEncrypt encrypts plaintext to the identity key to: it draws an
// ephemeral P-256 key from rand (nil means crypto/rand.Reader), derives
// AES-128 key ‖ 16-byte IV with the ANSI X9.63 KDF (SHA-256, shared info =
// the 65-byte ephemeral public key) from the ECDH secret and seals with
// AES-128-GCM without additional data. The output is
// ephemeral_pub(65) ‖ ciphertext ‖ tag(16).
func ECIESEncrypt(rand io.Reader, to *PublicKey, plaintext []byte) ([]byte, error) {
	if to == nil || to.dh == nil {
		return nil, fmt.Errorf("%w: nil recipient", ErrInvalidPublicKey)
	}
	eph, err := GenerateKey(rand)
	if err != nil {
		return nil, err
	}
	defer eph.Zero()
	z, err := eph.dh.ECDH(to.dh)
	if err != nil {
		return nil, fmt.Errorf("crypto: ecdh: %w", err)
	}
	defer clear(z)
	ephPub := eph.pub.raw[:]
	var km [eciesKeySize + eciesNonceSize]byte
	defer clear(km[:])
	x963KDF(km[:], z, ephPub)
	out := make([]byte, 0, ECIESOverhead+len(plaintext))
	out = append(out, ephPub...)
	return eciesSeal(out, km[:eciesKeySize], km[eciesKeySize:], plaintext)
}

// ECIESDecrypt reverses ECIESEncrypt with the recipient's identity key. It
// returns ErrDecrypt for inputs shorter than 81 bytes or failing
// authentication, and ErrInvalidPublicKey for an invalid ephemeral key.
func ECIESDecrypt(k *PrivateKey, ct []byte) ([]byte, error) {
	if k == nil || k.dh == nil {
		return nil, fmt.Errorf("%w: nil key", ErrInvalidPrivateKey)
	}
	if len(ct) < ECIESOverhead {
		return nil, fmt.Errorf("%w: ciphertext is %d bytes, minimum %d", ErrDecrypt, len(ct), ECIESOverhead)
	}
	ephPub := ct[:PublicKeySize]
	eph, err := newPublicKey(ephPub)
	if err != nil {
		return nil, fmt.Errorf("crypto: ephemeral key: %w", err)
	}
	z, err := k.dh.ECDH(eph.dh)
	if err != nil {
		return nil, fmt.Errorf("crypto: ecdh: %w", err)
	}
	defer clear(z)
	var km [eciesKeySize + eciesNonceSize]byte
	defer clear(km[:])
	x963KDF(km[:], z, ephPub)
	return eciesOpen(nil, km[:eciesKeySize], km[eciesKeySize:], ct[PublicKeySize:])
}

// x963KDF fills out with the ANSI X9.63 KDF over SHA-256:
// K_i = SHA256(z ‖ counter_be32 ‖ sharedInfo), counter starting at 1.
func x963KDF(out, z, sharedInfo []byte) {
	var ctr [4]byte
	h := sha256.New()
	for i := uint32(1); len(out) > 0; i++ {
		binary.BigEndian.PutUint32(ctr[:], i)
		h.Reset()
		h.Write(z)
		h.Write(ctr[:])
		h.Write(sharedInfo)
		var sum [sha256.Size]byte
		h.Sum(sum[:0])
		n := copy(out, sum[:])
		clear(sum[:])
		out = out[n:]
	}
}

// eciesAEAD returns AES-GCM with a 16-byte nonce for a 16-byte key; it is
// the exact AEAD used by ECIES and by the Wycheproof AES-GCM runner.
func eciesAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != eciesKeySize {
		return nil, fmt.Errorf("%w: AES key is %d bytes, want %d", ErrInvalidLength, len(key), eciesKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: aes: %w", err)
	}
	aead, err := cipher.NewGCMWithNonceSize(block, eciesNonceSize)
	if err != nil {
		return nil, fmt.Errorf("crypto: gcm: %w", err)
	}
	return aead, nil
}

// eciesSeal appends AES-128-GCM(key, iv, plaintext) ‖ tag to dst.
func eciesSeal(dst, key, iv, plaintext []byte) ([]byte, error) {
	aead, err := eciesAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != eciesNonceSize {
		return nil, fmt.Errorf("%w: IV is %d bytes, want %d", ErrInvalidLength, len(iv), eciesNonceSize)
	}
	return aead.Seal(dst, iv, plaintext, nil), nil
}

// eciesOpen authenticates and decrypts ciphertext ‖ tag, appending to dst.
func eciesOpen(dst, key, iv, sealed []byte) ([]byte, error) {
	aead, err := eciesAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != eciesNonceSize {
		return nil, fmt.Errorf("%w: IV is %d bytes, want %d", ErrInvalidLength, len(iv), eciesNonceSize)
	}
	if len(sealed) < eciesTagSize {
		return nil, ErrDecrypt
	}
	pt, err := aead.Open(dst, iv, sealed, nil)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
