// Package shamir is Shamir secret sharing over the Ristretto255 scalar field,
// as Juicebox uses it: scalars are split into shares with indices 1..n, and
// both scalars and group elements (threshold OPRF outputs) are recombined by
// Lagrange interpolation at zero.
//
// Recombining fewer than the threshold number of shares, or shares of
// different splits, yields a wrong value indistinguishable from random: the
// protocol above detects that with commitments, not this package.
package shamir

import (
	"errors"
	"fmt"
	"io"

	"github.com/bwesterb/go-ristretto"

	"github.com/xchat-go/xchat/juicebox/oprf"
)

// MaxShares bounds the number of shares (Juicebox allows up to 255 realms).
const MaxShares = 255

// Errors.
var (
	// ErrDuplicateIndex reports two shares with the same index.
	ErrDuplicateIndex = errors.New("shamir: duplicate share index")
	// ErrBadParameters reports an impossible threshold or share count.
	ErrBadParameters = errors.New("shamir: invalid threshold or share count")
)

// ScalarShare is one share of a scalar.
type ScalarShare struct {
	// Index is the share's x coordinate, 1..n.
	Index uint32
	// Secret is the polynomial's value at Index.
	Secret ristretto.Scalar
}

// PointShare is one share of a group element (for example a realm's
// evaluation under its OPRF key share).
type PointShare struct {
	// Index is the share's x coordinate, 1..n.
	Index uint32
	// Secret is the share's value.
	Secret ristretto.Point
}

// Split shares secret among count shares (indices 1..count) so that any
// threshold of them recover it. The threshold-1 random coefficients come
// from rand, 64 bytes each, reduced as dalek's Scalar::random does.
func Split(secret *ristretto.Scalar, threshold, count int, rand io.Reader) ([]ScalarShare, error) {
	if threshold < 1 || count < 1 || threshold > count || count > MaxShares {
		return nil, fmt.Errorf("%w: threshold %d of %d", ErrBadParameters, threshold, count)
	}
	coeffs := make([]ristretto.Scalar, threshold-1)
	defer func() {
		for i := range coeffs {
			coeffs[i].SetZero()
		}
	}()
	for i := range coeffs {
		c, err := oprf.RandomScalar(rand)
		if err != nil {
			return nil, err
		}
		coeffs[i] = *c
		c.SetZero()
	}
	shares := make([]ScalarShare, count)
	for n := 1; n <= count; n++ {
		x := indexScalar(uint32(n))
		// Horner, highest coefficient first: ((c_k·x + c_{k-1})·x + …)·x + secret.
		var acc ristretto.Scalar
		acc.SetZero()
		for i := range coeffs {
			acc.Add(&acc, &coeffs[i])
			acc.Mul(&acc, x)
		}
		acc.Add(&acc, secret)
		shares[n-1] = ScalarShare{Index: uint32(n), Secret: acc}
	}
	return shares, nil
}

// indexScalar is the scalar value of a share index.
func indexScalar(i uint32) *ristretto.Scalar {
	return new(ristretto.Scalar).SetUint64(uint64(i))
}

// lagrange returns the Lagrange coefficient at zero of the share at position
// i among indices: Π_{j≠i} x_j / Π_{j≠i} (x_j − x_i).
func lagrange(indices []uint32, i int) (*ristretto.Scalar, error) {
	num := new(ristretto.Scalar).SetOne()
	den := new(ristretto.Scalar).SetOne()
	xi := indexScalar(indices[i])
	for j, idx := range indices {
		if j == i {
			continue
		}
		if idx == indices[i] {
			return nil, ErrDuplicateIndex
		}
		xj := indexScalar(idx)
		num.Mul(num, xj)
		den.Mul(den, new(ristretto.Scalar).Sub(xj, xi))
	}
	return num.Mul(num, new(ristretto.Scalar).Inverse(den)), nil
}

func checkIndices(indices []uint32) error {
	if len(indices) == 0 {
		return fmt.Errorf("%w: no shares", ErrBadParameters)
	}
	for _, idx := range indices {
		if idx == 0 {
			return fmt.Errorf("%w: share index 0", ErrBadParameters)
		}
	}
	return nil
}

// CombineScalars recovers the secret from shares.
func CombineScalars(shares []ScalarShare) (*ristretto.Scalar, error) {
	indices := make([]uint32, len(shares))
	for i, s := range shares {
		indices[i] = s.Index
	}
	if err := checkIndices(indices); err != nil {
		return nil, err
	}
	out := new(ristretto.Scalar).SetZero()
	for i := range shares {
		l, err := lagrange(indices, i)
		if err != nil {
			return nil, err
		}
		out.MulAdd(&shares[i].Secret, l, out)
	}
	return out, nil
}

// CombinePoints recovers a group element from point shares.
func CombinePoints(shares []PointShare) (*ristretto.Point, error) {
	indices := make([]uint32, len(shares))
	for i, s := range shares {
		indices[i] = s.Index
	}
	if err := checkIndices(indices); err != nil {
		return nil, err
	}
	out := new(ristretto.Point).SetZero()
	var term ristretto.Point
	for i := range shares {
		l, err := lagrange(indices, i)
		if err != nil {
			return nil, err
		}
		out.Add(out, term.ScalarMult(&shares[i].Secret, l))
	}
	return out, nil
}
