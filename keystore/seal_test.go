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

// TestSealIntoRoom checks sealing into room carved from a larger chunk,
// as a transaction carves its event records: a value that fits is sealed
// in room's bytes and opens to its plaintext, the chunk's bytes around
// room are left as they were, and a plaintext that outgrew room leaves no
// copy of itself in room.
func TestSealIntoRoom(t *testing.T) {
	aead, err := chacha20poly1305.NewX(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	pt := bytes.Repeat([]byte("secret body "), 20)
	aad := appendRecordAAD(nil, [][]byte{[]byte("events"), []byte("c")}, []byte("k"))
	for _, c := range []struct {
		name    string
		n       int
		inPlace bool
	}{{"fits", len(pt), true}, {"outgrown", len(pt) / 2, false}} {
		chunk := bytes.Repeat([]byte{0xAA}, 3*sealedSize(len(pt)))
		at := sealedSize(len(pt))
		room := chunk[at : at : at+sealedSize(c.n)]
		sealed, err := sealInto(aead, rand.Reader, aad, room, func(b []byte) ([]byte, error) {
			b = append(b, pt[:len(pt)/3]...) // written in pieces, as a record is
			return append(b, pt[len(pt)/3:]...), nil
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := unseal(aead, sealed, aad, func() string { return "test" })
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%s: opened %q, %v", c.name, got, err)
		}
		if inPlace := &sealed[0] == &chunk[at]; inPlace != c.inPlace {
			t.Fatalf("%s: sealed in room %v, want %v", c.name, inPlace, c.inPlace)
		}
		if bytes.Contains(chunk, pt[:12]) || bytes.Contains(chunk, pt[12:24]) {
			t.Fatalf("%s: plaintext left in the chunk", c.name)
		}
		end := at + sealedSize(c.n)
		if c.inPlace {
			end = at + len(sealed)
		}
		if bytes.Count(chunk[:at], []byte{0xAA}) != at || bytes.Count(chunk[end:], []byte{0xAA}) != len(chunk)-end {
			t.Fatalf("%s: bytes of the chunk outside room were written", c.name)
		}
	}
}

// TestAppendRecordAAD checks that the AAD a transaction makes in its own
// buffer is recordAAD's, byte for byte, whatever the buffer held before.
func TestAppendRecordAAD(t *testing.T) {
	bucket := [][]byte{[]byte("events"), []byte("conv-1")}
	key := versionKey("1234567890")
	want := recordAAD(bucket[0], bucket[1], key)
	buf := []byte("left over from the last record, longer than the AAD itself ...............")
	if got := appendRecordAAD(buf[:0], bucket, key); !bytes.Equal(got, want) {
		t.Fatalf("appendRecordAAD = %q, want %q", got, want)
	}
	if got := appendVersionKey([]byte("x"), "42"); !bytes.Equal(got, append([]byte("x"), versionKey("42")...)) {
		t.Fatalf("appendVersionKey = %q", got)
	}
}

// BenchmarkCheckValueName is the check of a value name every Value and
// SetValue makes (a sync looks a few up for every event it stores).
func BenchmarkCheckValueName(b *testing.B) {
	name := "session/pending-preview/1234567890123456789:9876543210987654321/2c2a1d32-988b-4b0e-9e63-c3baab3003fd"
	for b.Loop() {
		if err := checkValueName(name); err != nil {
			b.Fatal(err)
		}
	}
}
