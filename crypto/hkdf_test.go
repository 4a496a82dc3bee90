package crypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"
)

// TestHKDFRFC5869 uses RFC 5869 test case 3 (SHA-256, empty salt, empty
// info), the one case the XDK's info-less variant can express: an empty salt
// string becomes 32 zero bytes, which as an HMAC key equals the RFC's
// empty salt.
func TestHKDFRFC5869(t *testing.T) {
	ikm := bytes.Repeat([]byte{0x0b}, 22)
	want := unhex(t, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
	got, err := HKDF(ikm, "", 42)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("RFC 5869 case 3: %x, %v", got, err)
	}
}

// TestHKDFSpec recomputes the XDK algorithm from its description with
// crypto/hmac: PRK = HMAC(salt, secret); T(i) = HMAC(PRK, T(i-1) ‖ i).
func TestHKDFSpec(t *testing.T) {
	secret, salt := []byte("tree secret"), "conversation key"
	mac := func(key, msg []byte) []byte { h := hmac.New(sha256.New, key); h.Write(msg); return h.Sum(nil) }
	prk := mac([]byte(salt), secret)
	var want, prev []byte
	for i := byte(1); len(want) < 100; i++ {
		prev = mac(prk, append(bytes.Clone(prev), i))
		want = append(want, prev...)
	}
	got, err := HKDF(secret, salt, 100)
	if err != nil || !bytes.Equal(got, want[:100]) {
		t.Fatalf("HKDF differs from the XDK definition: %v", err)
	}
}

func TestHKDFLengths(t *testing.T) {
	if out, err := HKDF([]byte("s"), "", 0); err != nil || len(out) != 0 {
		t.Errorf("length 0: %v", err)
	}
	if out, err := HKDF([]byte("s"), "x", HKDFMaxLength); err != nil || len(out) != 8160 {
		t.Errorf("max length: %v", err)
	}
	for _, n := range []int{-1, HKDFMaxLength + 1} {
		if _, err := HKDF([]byte("s"), "", n); !errors.Is(err, ErrInvalidLength) {
			t.Errorf("length %d: %v", n, err)
		}
	}
}
