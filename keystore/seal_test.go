package keystore

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// TestSealAppendedInPlace checks that a value sealed where its plaintext
// was appended opens to that plaintext, and that no copy of the plaintext
// is left: not in the sealed value, nor in a buffer given up because the
// plaintext outgrew it, nor after the plaintext failed to encode.
func TestSealAppendedInPlace(t *testing.T) {
	aead, err := chacha20poly1305.NewX(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	pt := bytes.Repeat([]byte("secret body "), 20)
	aad := recordAAD([]byte("events"), []byte("c"), []byte("k"))
	for _, c := range []struct {
		name string
		n    int
		full bool // leave no room for the tag: Seal must move the value
	}{{"room made", len(pt), false}, {"outgrown", 1, false}, {"no room for the tag", len(pt), true}} {
		var written []byte
		sealed, err := sealAppended(aead, rand.Reader, aad, c.n, func(b []byte) ([]byte, error) {
			b = append(b, pt...)
			if c.full {
				b = b[:len(b):len(b)]
			}
			written = b
			return b, nil
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := unseal(aead, sealed, aad, func() string { return "test" })
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%s: opened %q, %v", c.name, got, err)
		}
		if bytes.Contains(sealed, pt[:12]) || bytes.Contains(written, pt[:12]) {
			t.Fatalf("%s: plaintext left in the sealed value or the buffer written", c.name)
		}
	}
	var written []byte
	if _, err := sealAppended(aead, rand.Reader, aad, 8, func(b []byte) ([]byte, error) {
		written = append(b, pt...)
		return written, errors.New("encoding failed")
	}); err == nil {
		t.Fatal("an encoding error was not returned")
	}
	if bytes.Contains(written, pt[:12]) {
		t.Fatal("plaintext left after the encoding failed")
	}
}
