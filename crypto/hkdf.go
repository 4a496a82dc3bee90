package crypto

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// HKDFMaxLength is the largest output HKDF can produce (255 × 32).
const HKDFMaxLength = 255 * sha256.Size

// HKDF is the XDK's HKDF-SHA256 variant: the salt is a UTF-8 string (an
// empty salt means 32 zero bytes) and the expand step uses no info. length
// must be in [0, 8160]; 0 yields an empty slice, as in the XDK.
//
// Because HMAC pads short keys with zeros, an empty salt and 32 zero bytes
// are the same HMAC key, so this equals RFC 5869 HKDF-SHA256 with
// salt = []byte(salt) and empty info; the tests check that equivalence
// against RFC 5869's own test vectors.
func HKDF(secret []byte, salt string, length int) ([]byte, error) {
	if length < 0 || length > HKDFMaxLength {
		return nil, fmt.Errorf("%w: HKDF length %d not in [0, %d]", ErrInvalidLength, length, HKDFMaxLength)
	}
	if length == 0 {
		return []byte{}, nil
	}
	s := []byte(salt)
	if len(s) == 0 {
		s = make([]byte, sha256.Size)
	}
	out, err := hkdf.Key(sha256.New, secret, s, "", length)
	if err != nil {
		return nil, fmt.Errorf("crypto: hkdf: %w", err)
	}
	return out, nil
}
