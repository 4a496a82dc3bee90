package crypto

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
)

const (
	// PrivateKeySize is the length of a P-256 private scalar.
	PrivateKeySize = 32
	// PublicKeySize is the length of an uncompressed SEC1 P-256 point.
	PublicKeySize = 65
	// SPKISize is the length of a P-256 SubjectPublicKeyInfo DER encoding.
	SPKISize = 91
	// BackupSize is the length of the identity ‖ signing backup blob.
	BackupSize = 2 * PrivateKeySize
)

// spkiPrefix is the fixed DER header of a P-256 SubjectPublicKeyInfo:
// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused) }.
var spkiPrefix = []byte{
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
	0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03,
	0x42, 0x00,
}

func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

// PrivateKey is a P-256 private key usable both for ECDH (identity role) and
// ECDSA (signing role). Its fmt output is redacted.
type PrivateKey struct {
	scalar [PrivateKeySize]byte
	dh     *ecdh.PrivateKey
	sig    *ecdsa.PrivateKey
	pub    *PublicKey
}

// GenerateKey returns a fresh P-256 private key whose scalar is drawn from
// rand (nil means crypto/rand.Reader) by rejection sampling, so a
// deterministic reader yields a deterministic key.
func GenerateKey(rand io.Reader) (*PrivateKey, error) {
	r := randOrDefault(rand)
	var buf [PrivateKeySize]byte
	defer clear(buf[:])
	// The rejection probability per draw is about 2^-32.
	for range 64 {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return nil, fmt.Errorf("crypto: reading randomness: %w", err)
		}
		k, err := NewPrivateKey(buf[:])
		if err == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("crypto: random source produced no valid scalar: %w", ErrInvalidPrivateKey)
}

// NewPrivateKey parses a 32-byte big-endian P-256 scalar. It rejects other
// lengths, zero, and values not below the group order. The input is copied.
func NewPrivateKey(scalar []byte) (*PrivateKey, error) {
	if len(scalar) != PrivateKeySize {
		return nil, fmt.Errorf("%w: scalar is %d bytes, want %d", ErrInvalidPrivateKey, len(scalar), PrivateKeySize)
	}
	dh, err := ecdh.P256().NewPrivateKey(scalar)
	if err != nil {
		return nil, fmt.Errorf("%w: scalar out of range", ErrInvalidPrivateKey)
	}
	sig, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar)
	if err != nil {
		return nil, fmt.Errorf("%w: scalar out of range", ErrInvalidPrivateKey)
	}
	pub, err := newPublicKey(dh.PublicKey().Bytes())
	if err != nil {
		return nil, err
	}
	k := &PrivateKey{dh: dh, sig: sig, pub: pub}
	copy(k.scalar[:], scalar)
	return k, nil
}

// Bytes returns a copy of the 32-byte big-endian scalar.
func (k *PrivateKey) Bytes() []byte {
	return bytes.Clone(k.scalar[:])
}

// PublicKey returns the public key of k.
func (k *PrivateKey) PublicKey() *PublicKey { return k.pub }

// Equal reports whether k and other hold the same scalar, in constant time.
func (k *PrivateKey) Equal(other *PrivateKey) bool {
	if k == nil || other == nil {
		return k == other
	}
	return subtle.ConstantTimeCompare(k.scalar[:], other.scalar[:]) == 1
}

// Zero wipes the copy of the scalar held by k and drops the references to
// the standard-library key objects. Go offers no way to wipe the internal
// state of crypto/ecdh and crypto/ecdsa keys, so this is best effort. k must
// not be used afterwards.
func (k *PrivateKey) Zero() {
	clear(k.scalar[:])
	k.dh, k.sig = nil, nil
}

// String implements fmt.Stringer without revealing the scalar.
func (k *PrivateKey) String() string { return "crypto.PrivateKey(REDACTED)" }

// GoString implements fmt.GoStringer without revealing the scalar.
func (k *PrivateKey) GoString() string { return k.String() }

// Format implements fmt.Formatter so that every verb prints the redacted form.
func (k *PrivateKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// PublicKey is a validated P-256 public key (never the point at infinity).
type PublicKey struct {
	raw [PublicKeySize]byte
	dh  *ecdh.PublicKey
	sig *ecdsa.PublicKey
}

func newPublicKey(sec1 []byte) (*PublicKey, error) {
	if len(sec1) != PublicKeySize || sec1[0] != 0x04 {
		return nil, fmt.Errorf("%w: want %d-byte uncompressed point", ErrInvalidPublicKey, PublicKeySize)
	}
	dh, err := ecdh.P256().NewPublicKey(sec1)
	if err != nil {
		return nil, fmt.Errorf("%w: point not on curve", ErrInvalidPublicKey)
	}
	sig, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), sec1)
	if err != nil {
		return nil, fmt.Errorf("%w: point not on curve", ErrInvalidPublicKey)
	}
	p := &PublicKey{dh: dh, sig: sig}
	copy(p.raw[:], sec1)
	return p, nil
}

// ParsePublicKey parses a P-256 public key given either as a 65-byte
// uncompressed SEC1 point (0x04 ‖ X ‖ Y) or as a 91-byte SubjectPublicKeyInfo
// DER encoding with the exact id-ecPublicKey/prime256v1 header. It rejects
// every other length, compressed points, points off the curve and the point
// at infinity.
//
// The XDK additionally accepts 33-byte compressed points where it reads
// recipient keys; registered keys are always uncompressed SPKI, so this
// stricter rule loses no interoperability.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	switch len(b) {
	case PublicKeySize:
		return newPublicKey(b)
	case SPKISize:
		if !bytes.Equal(b[:len(spkiPrefix)], spkiPrefix) {
			return nil, fmt.Errorf("%w: not a P-256 SubjectPublicKeyInfo", ErrInvalidPublicKey)
		}
		return newPublicKey(b[len(spkiPrefix):])
	default:
		return nil, fmt.Errorf("%w: %d bytes, want %d (SEC1) or %d (SPKI)", ErrInvalidPublicKey, len(b), PublicKeySize, SPKISize)
	}
}

// Bytes returns the 65-byte uncompressed SEC1 encoding.
func (p *PublicKey) Bytes() []byte { return bytes.Clone(p.raw[:]) }

// SPKI returns the 91-byte SubjectPublicKeyInfo DER encoding used by the X
// API and in MessageEventSignature.signing_public_key.
func (p *PublicKey) SPKI() []byte {
	out := make([]byte, 0, SPKISize)
	out = append(out, spkiPrefix...)
	return append(out, p.raw[:]...)
}

// Equal reports whether p and other encode the same point.
func (p *PublicKey) Equal(other *PublicKey) bool {
	if p == nil || other == nil {
		return p == other
	}
	return p.raw == other.raw
}

// EqualEncoded reports whether b encodes p in a form ParsePublicKey
// accepts (SEC1 uncompressed or SubjectPublicKeyInfo): the answer of
// parsing b and comparing, without the cost of parsing. A point has one
// encoding of each form, so comparing bytes is exact.
func (p *PublicKey) EqualEncoded(b []byte) bool {
	if p == nil {
		return false
	}
	switch len(b) {
	case PublicKeySize:
		return bytes.Equal(b, p.raw[:])
	case SPKISize:
		return bytes.Equal(b[:len(spkiPrefix)], spkiPrefix) && bytes.Equal(b[len(spkiPrefix):], p.raw[:])
	}
	return false
}

// KeyPair is a user's pair of long-term keys.
type KeyPair struct {
	// Identity is the ECDH key that conversation keys are wrapped to.
	Identity *PrivateKey
	// Signing is the ECDSA key that signs events and the key binding.
	Signing *PrivateKey
}

// GenerateKeyPair returns fresh identity and signing keys drawn from rand
// (nil means crypto/rand.Reader), identity first.
func GenerateKeyPair(rand io.Reader) (*KeyPair, error) {
	id, err := GenerateKey(rand)
	if err != nil {
		return nil, err
	}
	sg, err := GenerateKey(rand)
	if err != nil {
		id.Zero()
		return nil, err
	}
	return &KeyPair{Identity: id, Signing: sg}, nil
}

// Backup returns the 64-byte backup blob identity(32) ‖ signing(32), the
// layout of the XDK's exportKeys. The caller should wipe it after use.
func (kp *KeyPair) Backup() []byte {
	out := make([]byte, 0, BackupSize)
	out = append(out, kp.Identity.scalar[:]...)
	return append(out, kp.Signing.scalar[:]...)
}

// Zero wipes both private keys.
func (kp *KeyPair) Zero() {
	if kp.Identity != nil {
		kp.Identity.Zero()
	}
	if kp.Signing != nil {
		kp.Signing.Zero()
	}
}

// String implements fmt.Stringer without revealing key material.
func (kp *KeyPair) String() string { return "crypto.KeyPair(REDACTED)" }

// GoString implements fmt.GoStringer without revealing key material.
func (kp *KeyPair) GoString() string { return kp.String() }

// Format implements fmt.Formatter so that every verb prints the redacted form.
func (kp *KeyPair) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, kp.String()) }

// ParseBackup parses a 64-byte identity ‖ signing backup blob.
//
// The XDK's importKeys also accepts a 32-byte identity-only blob, after
// which it can decrypt but not sign (crates/core/src/crypto/keys.rs,
// XChatPrivateKeys::from_bytes). ParseBackup rejects that form: this engine
// always needs the registered signing key, and a half-loaded key pair would
// fail later and less clearly. Any length other than 64 is an error.
func ParseBackup(b []byte) (*KeyPair, error) {
	if len(b) != BackupSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidBackup, len(b), BackupSize)
	}
	id, err := NewPrivateKey(b[:PrivateKeySize])
	if err != nil {
		return nil, fmt.Errorf("%w: identity key: %w", ErrInvalidBackup, err)
	}
	sg, err := NewPrivateKey(b[PrivateKeySize:])
	if err != nil {
		id.Zero()
		return nil, fmt.Errorf("%w: signing key: %w", ErrInvalidBackup, err)
	}
	return &KeyPair{Identity: id, Signing: sg}, nil
}
