package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestDecodeB64Accepts(t *testing.T) {
	cases := []struct {
		in   string
		want string
	}{
		{"", ""},
		{"Zg==", "f"}, // RFC 4648 §10 vectors, padded and unpadded
		{"Zg", "f"},
		{"Zg=", "f"}, // partial padding: DecodePaddingMode::Indifferent allows fewer pads
		{"Zm8=", "fo"},
		{"Zm8", "fo"},
		{"Zm9v", "foo"},
		{"Zm9vYg==", "foob"},
		{"Zm9vYmE", "fooba"},
		{"Zm9vYmFy", "foobar"},
		{"+/+/", "\xfb\xff\xbf"},
	}
	for _, tc := range cases {
		got, err := DecodeB64(tc.in)
		if err != nil {
			t.Errorf("DecodeB64(%q): %v", tc.in, err)
			continue
		}
		if got == nil || !bytes.Equal(got, []byte(tc.want)) {
			t.Errorf("DecodeB64(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDecodeB64Rejects(t *testing.T) {
	for _, in := range []string{
		"Zg===",       // more padding than canonical
		"Zm9v=",       // padding where none fits
		"Zm9v====",    // whole padding quantum
		"Z",           // impossible length
		"Zm9vY",       // impossible length
		"Zh==",        // non-zero trailing bits
		"Zm9=",        // non-zero trailing bits
		"-_-_",        // URL-safe alphabet
		"Zm9v\n",      // line break
		"Zm\n9v",      // line break inside (the standard library skips it)
		"Zm\r9v",      // carriage return inside
		"Zm9v\r\n",    // CRLF at the end
		"Zg=\n",       // line break after padding
		"Zm 9v",       // space
		" Zm9v",       // leading space
		"Zg==Zg==",    // padding in the middle
		"Zm=9v",       // padding in the middle
		"=",           // padding only
		"!!!not-b64!", // garbage
		"Zm9v\x00",    // NUL
		"Zm9vé",       // non-ASCII
	} {
		if _, err := DecodeB64(in); !errors.Is(err, ErrBase64) {
			t.Errorf("DecodeB64(%q) error = %v, want ErrBase64", in, err)
		}
	}
}

func TestEncodeB64(t *testing.T) {
	for _, tc := range []struct{ in, pad, nopad string }{
		{"", "", ""},
		{"f", "Zg==", "Zg"},
		{"fo", "Zm8=", "Zm8"},
		{"foo", "Zm9v", "Zm9v"},
		{"\xfb\xff\xbf", "+/+/", "+/+/"},
	} {
		if got := EncodeB64([]byte(tc.in)); got != tc.pad {
			t.Errorf("EncodeB64(%q) = %q, want %q", tc.in, got, tc.pad)
		}
		if got := EncodeB64NoPad([]byte(tc.in)); got != tc.nopad {
			t.Errorf("EncodeB64NoPad(%q) = %q, want %q", tc.in, got, tc.nopad)
		}
	}
}

// TestEncodeB64MatchesStdlib checks both encoders against the standard
// library's, for every length up to past their chunk size.
func TestEncodeB64MatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 2100; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if got, want := EncodeB64(b), base64.StdEncoding.EncodeToString(b); got != want {
			t.Fatalf("EncodeB64 of %d bytes = %q, want %q", n, got, want)
		}
		if got, want := EncodeB64NoPad(b), base64.RawStdEncoding.EncodeToString(b); got != want {
			t.Fatalf("EncodeB64NoPad of %d bytes = %q, want %q", n, got, want)
		}
	}
}

// b64Bench is the size of an encoded 1 KiB text message's create event.
var b64Bench = bytes.Repeat([]byte{0xfb, 0x01, 0x7e}, 400)

func BenchmarkEncodeB64(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(b64Bench)))
	for b.Loop() {
		_ = EncodeB64(b64Bench)
	}
}

func BenchmarkDecodeB64(b *testing.B) {
	s := EncodeB64(b64Bench)
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := DecodeB64(s); err != nil {
			b.Fatal(err)
		}
	}
}
