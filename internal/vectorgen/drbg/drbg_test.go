package drbg

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
	"golang.org/x/crypto/chacha20"
)

func TestDeterministic(t *testing.T) {
	a, b := New("seed"), New("seed")
	x := a.Bytes(100)
	// Reading in pieces must give the same stream.
	y := append(b.Bytes(7), b.Bytes(93)...)
	if !bytes.Equal(x, y) {
		t.Fatalf("streams differ:\n%x\n%x", x, y)
	}
	if bytes.Equal(x, New("other").Bytes(100)) {
		t.Fatal("different seeds gave the same stream")
	}
}

// TestKeystream pins the construction to RFC 8439 §2.4.2's ChaCha20 test:
// with an all-zero key and nonce the keystream starts 76b8e0ad… (block 0).
func TestKeystream(t *testing.T) {
	var key [32]byte
	var nonce [12]byte
	c, err := chacha20.NewUnauthenticatedCipher(key[:], nonce[:])
	if err != nil {
		t.Fatal(err)
	}
	r := &Reader{c: c}
	want := testutil.Must(hex.DecodeString("76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"))(t)
	if got := r.Bytes(32); !bytes.Equal(got, want) {
		t.Fatalf("keystream %x, want %x", got, want)
	}
}
