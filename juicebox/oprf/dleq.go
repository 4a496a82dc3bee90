package oprf

import (
	"crypto/sha512"
	"crypto/subtle"
	"io"

	"github.com/bwesterb/go-ristretto"
)

// dleqLabel prefixes the challenge hash.
const dleqLabel = "Juicebox_DLEQ_2023_1;"

// Proof is a Chaum–Pedersen proof (Fiat–Shamir, Boneh–Shoup 0.6 p. 838)
// that the blinded output W and the public key V share the discrete log of
// the blinded input U and the base point G: W = k·U and V = k·G.
type Proof struct {
	// C is the challenge scalar.
	C [ScalarSize]byte
	// BetaZ is the response scalar.
	BetaZ [ScalarSize]byte
}

// challenge is scalar_from_hash(SHA-512(label ‖ u ‖ v ‖ w ‖ v_t ‖ w_t)),
// every field a 32-byte encoding (G is implied).
func challenge(u, v, w, vt, wt [PointSize]byte) *ristretto.Scalar {
	h := sha512.New()
	h.Write([]byte(dleqLabel))
	for _, p := range [][PointSize]byte{u, v, w, vt, wt} {
		h.Write(p[:])
	}
	var digest [64]byte
	h.Sum(digest[:0])
	return new(ristretto.Scalar).SetReduced(&digest)
}

// Prove is the realm's proof for blindedOutput = key·blindedInput, with
// publicKey = key·G. The nonce comes from rand.
func Prove(rand io.Reader, key *ristretto.Scalar, publicKey [PointSize]byte, blindedInput, blindedOutput *ristretto.Point) (Proof, error) {
	betaT, err := RandomScalar(rand)
	if err != nil {
		return Proof{}, err
	}
	defer betaT.SetZero()
	vt := Encode(new(ristretto.Point).ScalarMultBase(betaT))
	wt := Encode(new(ristretto.Point).ScalarMult(blindedInput, betaT))
	c := challenge(Encode(blindedInput), publicKey, Encode(blindedOutput), vt, wt)
	// beta_z = beta_t + key·c
	betaZ := new(ristretto.Scalar).MulAdd(key, c, betaT)
	return Proof{C: EncodeScalar(c), BetaZ: EncodeScalar(betaZ)}, nil
}

// VerifyProof checks that blindedOutput is the evaluation of blindedInput
// under the key whose public key is publicKey. It only ties the output to
// that public key: the caller decides whether the public key is acceptable
// (Juicebox checks a signature over it).
func VerifyProof(blindedInput, publicKey, blindedOutput [PointSize]byte, proof Proof) error {
	u, err := DecodePoint(blindedInput[:])
	if err != nil {
		return err
	}
	v, err := DecodePoint(publicKey[:])
	if err != nil {
		return err
	}
	w, err := DecodePoint(blindedOutput[:])
	if err != nil {
		return err
	}
	c, err := DecodeScalar(proof.C[:])
	if err != nil {
		return ErrInvalidProof
	}
	betaZ, err := DecodeScalar(proof.BetaZ[:])
	if err != nil {
		return ErrInvalidProof
	}
	// v_t = beta_z·G − c·V ; w_t = beta_z·U − c·W (all public values).
	var t ristretto.Point
	vt := new(ristretto.Point).PublicScalarMultBase(betaZ)
	vt.Sub(vt, t.PublicScalarMult(v, c))
	wt := new(ristretto.Point).PublicScalarMult(u, betaZ)
	wt.Sub(wt, t.PublicScalarMult(w, c))
	want := EncodeScalar(challenge(blindedInput, publicKey, blindedOutput, Encode(vt), Encode(wt)))
	if subtle.ConstantTimeCompare(want[:], proof.C[:]) != 1 {
		return ErrInvalidProof
	}
	return nil
}
