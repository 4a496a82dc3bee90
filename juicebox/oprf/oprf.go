// Package oprf is Juicebox's verifiable oblivious pseudorandom function: a
// 2HashDH OPRF over Ristretto255 with SHA-512 (not RFC 9497), and the
// Chaum–Pedersen DLEQ proof a realm attaches to each evaluation.
//
//	H(x)      = Ristretto255 from_uniform_bytes(SHA-512(x))   (no domain tag)
//	OPRF(k,x) = SHA-512("Juicebox_OPRF_2023_1;" ‖ x ‖ encode(k·H(x)))
//
// The client blinds H(x) with a random scalar r and sends r·H(x); the realm
// answers k·r·H(x) with a proof that it used the key whose public key is
// k·G; the client checks the proof and unblinds. Everything here is
// deterministic given the io.Reader passed for randomness, so the SDK's
// published vectors can be replayed.
//
// Scalars and points are github.com/bwesterb/go-ristretto values, whose
// DeriveDalek is curve25519-dalek's hash_from_bytes::<Sha512> and whose
// encodings are RFC 9496's.
package oprf

import (
	"crypto/sha512"
	"errors"
	"fmt"
	"io"

	"github.com/bwesterb/go-ristretto"
)

// Sizes of the encodings.
const (
	// ScalarSize is the length of an encoded scalar.
	ScalarSize = 32
	// PointSize is the length of an encoded (compressed) point.
	PointSize = 32
	// OutputSize is the length of the OPRF output.
	OutputSize = 64
)

// outputLabel prefixes the output hash.
const outputLabel = "Juicebox_OPRF_2023_1;"

// Errors reported for bad encodings and bad proofs.
var (
	// ErrInvalidPoint reports bytes that are not a canonical Ristretto255
	// encoding.
	ErrInvalidPoint = errors.New("oprf: not a canonical ristretto255 point")
	// ErrInvalidScalar reports bytes that are not a canonical scalar
	// (little-endian, below the group order).
	ErrInvalidScalar = errors.New("oprf: not a canonical scalar")
	// ErrInvalidProof reports a DLEQ proof that does not verify.
	ErrInvalidProof = errors.New("oprf: invalid proof")
)

// RandomScalar draws 64 bytes from rand and reduces them modulo the group
// order, as curve25519-dalek's Scalar::random does.
func RandomScalar(rand io.Reader) (*ristretto.Scalar, error) {
	var seed [64]byte
	defer clear(seed[:])
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("oprf: reading randomness: %w", err)
	}
	return new(ristretto.Scalar).SetReduced(&seed), nil
}

// DecodeScalar parses a canonical scalar encoding.
func DecodeScalar(b []byte) (*ristretto.Scalar, error) {
	if len(b) != ScalarSize {
		return nil, ErrInvalidScalar
	}
	var buf [32]byte
	copy(buf[:], b)
	defer clear(buf[:])
	s := new(ristretto.Scalar)
	if !s.SetBytesStrict(&buf) {
		return nil, ErrInvalidScalar
	}
	return s, nil
}

// DecodePoint parses a canonical point encoding.
func DecodePoint(b []byte) (*ristretto.Point, error) {
	if len(b) != PointSize {
		return nil, ErrInvalidPoint
	}
	var buf [32]byte
	copy(buf[:], b)
	p := new(ristretto.Point)
	if !p.SetBytes(&buf) {
		return nil, ErrInvalidPoint
	}
	return p, nil
}

// Encode returns the 32-byte encoding of p.
func Encode(p *ristretto.Point) [PointSize]byte {
	var out [PointSize]byte
	p.BytesInto(&out)
	return out
}

// EncodeScalar returns the 32-byte little-endian encoding of s.
func EncodeScalar(s *ristretto.Scalar) [ScalarSize]byte {
	var out [ScalarSize]byte
	s.BytesInto(&out)
	return out
}

// HashToPoint is H(x): dalek's RistrettoPoint::hash_from_bytes::<Sha512>.
func HashToPoint(input []byte) *ristretto.Point {
	return new(ristretto.Point).DeriveDalek(input)
}

// PublicKey returns the encoding of key·G.
func PublicKey(key *ristretto.Scalar) [PointSize]byte {
	return Encode(new(ristretto.Point).ScalarMultBase(key))
}

// hashToOutput is SHA-512(label ‖ input ‖ encode(result)). The input is the
// only variable-length field, so its length is not encoded (as in the SDK).
func hashToOutput(input []byte, result *ristretto.Point) [OutputSize]byte {
	h := sha512.New()
	h.Write([]byte(outputLabel))
	h.Write(input)
	enc := Encode(result)
	h.Write(enc[:])
	var out [OutputSize]byte
	h.Sum(out[:0])
	return out
}

// Evaluate computes OPRF(key, input) directly (no blinding): what the
// client computes at registration with the whole key.
func Evaluate(key *ristretto.Scalar, input []byte) [OutputSize]byte {
	result := new(ristretto.Point).ScalarMult(HashToPoint(input), key)
	return hashToOutput(input, result)
}

// Blind starts an evaluation on the client: it returns the blinding factor
// (keep it secret until Finalize) and the blinded input to send.
func Blind(input []byte, rand io.Reader) (blind *ristretto.Scalar, blindedInput [PointSize]byte, err error) {
	r, err := RandomScalar(rand)
	if err != nil {
		return nil, blindedInput, err
	}
	return r, Encode(new(ristretto.Point).ScalarMult(HashToPoint(input), r)), nil
}

// Finalize unblinds the (possibly combined) blinded output and returns the
// OPRF output. Check the realm's proof with VerifyProof before using it.
func Finalize(input []byte, blind *ristretto.Scalar, blindedOutput *ristretto.Point) [OutputSize]byte {
	inv := new(ristretto.Scalar).Inverse(blind)
	defer inv.SetZero()
	result := new(ristretto.Point).ScalarMult(blindedOutput, inv)
	return hashToOutput(input, result)
}

// BlindEvaluate is the realm's step: key·blindedInput.
func BlindEvaluate(key *ristretto.Scalar, blindedInput *ristretto.Point) *ristretto.Point {
	return new(ristretto.Point).ScalarMult(blindedInput, key)
}
