package shamir

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/bwesterb/go-ristretto"
)

// subsets calls f with every subset of shares of size k.
func subsets[T any](shares []T, k int, f func([]T)) {
	var rec func(start int, cur []T)
	rec = func(start int, cur []T) {
		if len(cur) == k {
			f(append([]T(nil), cur...))
			return
		}
		for i := start; i < len(shares); i++ {
			rec(i+1, append(cur, shares[i]))
		}
	}
	rec(0, nil)
}

// TestThresholds follows the SDK's secret_sharing tests: for every count
// up to 8 and threshold 2..count, every subset of exactly threshold shares
// (and of threshold+1) recovers the secret, and every subset of
// threshold-1 shares does not.
func TestThresholds(t *testing.T) {
	for count := 2; count <= 8; count++ {
		for threshold := 2; threshold <= count; threshold++ {
			secret := new(ristretto.Scalar).Rand()
			shares, err := Split(secret, threshold, count, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if len(shares) != count {
				t.Fatalf("%d shares, want %d", len(shares), count)
			}
			for i, s := range shares {
				if s.Index != uint32(i+1) {
					t.Fatalf("share %d has index %d", i, s.Index)
				}
				if s.Secret.Equals(secret) {
					t.Fatalf("share %d equals the secret", i)
				}
			}
			for _, k := range []int{threshold, threshold + 1} {
				if k > count {
					continue
				}
				subsets(shares, k, func(sub []ScalarShare) {
					got, err := CombineScalars(sub)
					if err != nil {
						t.Fatal(err)
					}
					if !got.Equals(secret) {
						t.Fatalf("%d-of-%d: %d shares did not recover the secret", threshold, count, k)
					}
				})
			}
			subsets(shares, threshold-1, func(sub []ScalarShare) {
				got, err := CombineScalars(sub)
				if err != nil {
					t.Fatal(err)
				}
				if got.Equals(secret) {
					t.Fatalf("%d-of-%d: %d shares recovered the secret", threshold, count, threshold-1)
				}
			})
		}
	}
}

// TestPointShares checks the threshold OPRF identity the protocol relies
// on: combining shares_i·P recovers secret·P.
func TestPointShares(t *testing.T) {
	secret := new(ristretto.Scalar).Rand()
	p := new(ristretto.Point).Rand()
	want := new(ristretto.Point).ScalarMult(p, secret)
	shares, err := Split(secret, 2, 3, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	points := make([]PointShare, len(shares))
	for i, s := range shares {
		points[i].Index = s.Index
		points[i].Secret.ScalarMult(p, &s.Secret)
	}
	subsets(points, 2, func(sub []PointShare) {
		got, err := CombinePoints(sub)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equals(want) {
			t.Fatalf("indices %d,%d: wrong point", sub[0].Index, sub[1].Index)
		}
	})
}

func TestBadInput(t *testing.T) {
	s := new(ristretto.Scalar).Rand()
	for _, c := range [][2]int{{0, 3}, {4, 3}, {1, 0}, {2, 256}} {
		if _, err := Split(s, c[0], c[1], rand.Reader); !errors.Is(err, ErrBadParameters) {
			t.Errorf("Split(%d of %d): %v", c[0], c[1], err)
		}
	}
	shares, err := Split(s, 2, 3, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CombineScalars([]ScalarShare{shares[0], shares[0]}); !errors.Is(err, ErrDuplicateIndex) {
		t.Errorf("duplicate shares: %v", err)
	}
	if _, err := CombineScalars(nil); !errors.Is(err, ErrBadParameters) {
		t.Errorf("no shares: %v", err)
	}
	zero := shares[0]
	zero.Index = 0
	if _, err := CombineScalars([]ScalarShare{zero, shares[1]}); !errors.Is(err, ErrBadParameters) {
		t.Errorf("index 0: %v", err)
	}
	if _, err := CombinePoints([]PointShare{{Index: 1}, {Index: 1}}); !errors.Is(err, ErrDuplicateIndex) {
		t.Errorf("duplicate point shares: %v", err)
	}
	if _, err := Split(s, 2, 3, &shortReader{}); err == nil {
		t.Error("Split with a failing reader succeeded")
	}
}

type shortReader struct{}

func (shortReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }
