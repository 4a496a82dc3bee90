package crypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	xb64 "github.com/xchat-go/xchat/internal/b64"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// SignatureSize is the length of a raw r ‖ s P-256 signature.
const SignatureSize = 64

// p256Order is the order n of the P-256 group.
var p256Order, _ = new(big.Int).SetString("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)

// Sign returns the deterministic (RFC 6979) ECDSA P-256 signature over
// SHA-256(msg) in raw r(32) ‖ s(32) form. S is not normalised. This is
// byte-for-byte what the XDK (RustCrypto p256 SigningKey::sign) produces for
// the same key and message, so signatures are reproducible and need no
// randomness.
func Sign(k *PrivateKey, msg []byte) ([]byte, error) {
	if err := checkSigner(k); err != nil {
		return nil, err
	}
	h := sha256.Sum256(msg)
	return signDigest(k, &h)
}

func checkSigner(k *PrivateKey) error {
	if k == nil || k.sig == nil {
		return fmt.Errorf("%w: nil key", ErrInvalidPrivateKey)
	}
	return nil
}

// signDigest is Sign for a SHA-256 digest; checkSigner must have accepted k.
func signDigest(k *PrivateKey, h *[sha256.Size]byte) ([]byte, error) {
	der, err := k.sig.Sign(nil, h[:], crypto.SHA256) // nil rand selects RFC 6979
	if err != nil {
		return nil, fmt.Errorf("crypto: ecdsa sign: %w", err)
	}
	var r, s big.Int
	var inner cryptobyte.String
	in := cryptobyte.String(der)
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() {
		return nil, errors.New("crypto: ecdsa sign: malformed DER signature")
	}
	sig := make([]byte, SignatureSize)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

// Verify checks a raw r ‖ s ECDSA P-256/SHA-256 signature over msg. It
// returns ErrInvalidSignature unless sig is exactly 64 bytes, 0 < r, s < n,
// and the signature verifies. High-S signatures are accepted, as the XDK
// (RustCrypto p256 VerifyingKey::verify) accepts them.
func Verify(pub *PublicKey, msg, sig []byte) error {
	if err := checkVerifier(pub, sig); err != nil {
		return err
	}
	h := sha256.Sum256(msg)
	return verifyDigest(pub, &h, sig)
}

func checkVerifier(pub *PublicKey, sig []byte) error {
	if pub == nil || pub.sig == nil {
		return fmt.Errorf("%w: nil public key", ErrInvalidPublicKey)
	}
	if len(sig) != SignatureSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrInvalidSignature, len(sig), SignatureSize)
	}
	return nil
}

// verifyDigest is Verify for a SHA-256 digest; checkVerifier must have
// accepted pub and sig.
func verifyDigest(pub *PublicKey, h *[sha256.Size]byte, sig []byte) error {
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	if r.Sign() == 0 || s.Sign() == 0 || r.Cmp(p256Order) >= 0 || s.Cmp(p256Order) >= 0 {
		return fmt.Errorf("%w: scalar out of range", ErrInvalidSignature)
	}
	if !ecdsa.Verify(pub.sig, h[:], r, s) {
		return ErrInvalidSignature
	}
	return nil
}

// EncodeSignature renders a signature as the XDK does for
// MessageEventSignature.signature and action signatures: standard base64
// without padding.
func EncodeSignature(sig []byte) string {
	return base64.RawStdEncoding.EncodeToString(sig)
}

// DecodeSignature decodes a base64 signature and checks its length. Like
// the XDK's decoder (standard alphabet, DecodePaddingMode::Indifferent, no
// trailing bits) it accepts the padded and the unpadded form, and rejects
// the URL-safe alphabet, whitespace, wrong padding and non-zero trailing
// bits. (Registration signatures are emitted padded; event signatures
// unpadded.)
func DecodeSignature(s string) ([]byte, error) {
	b, err := DecodeBase64(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}
	if len(b) != SignatureSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidSignature, len(b), SignatureSize)
	}
	return b, nil
}

// DecodeBase64 decodes standard-alphabet base64 exactly as the XDK's
// base64_decode does (Rust base64 0.22, STANDARD alphabet,
// DecodePaddingMode::Indifferent): padding may be absent, complete or
// partial ("xx", "xx=" and "xx==" all decode), but never more than the
// final quantum needs; trailing bits must be zero; whitespace, line breaks
// and '=' before the end are rejected. The live XDK 0.4.3 showed exactly
// this behaviour (see the tests). Errors match ErrInvalidBase64; the empty
// string decodes to an empty slice.
func DecodeBase64(s string) ([]byte, error) {
	b, err := xb64.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidBase64, err)
	}
	return b, nil
}
