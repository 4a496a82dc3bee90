package b64

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// TestDecodeAny checks the lenient decoder against the standard library's
// four encodings of the same bytes, and its refusals.
func TestDecodeAny(t *testing.T) {
	want := []byte{0xfb, 0xff, 0xbf, 0x01}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		s := enc.EncodeToString(want)
		got, ok := DecodeAny(s)
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("DecodeAny(%q) = %x, %v; want %x", s, got, ok, want)
		}
	}
	for _, bad := range []string{"", "Zh==", "!!!!", "Zg===", "Zm 9v"} {
		if b, ok := DecodeAny(bad); ok {
			t.Errorf("DecodeAny(%q) = %x, accepted", bad, b)
		}
	}
}

// TestDecodeStrict checks the XDK rule on the padding cases that tell it
// apart from the standard library's strict decoders (the wider tables are
// in crypto and wire, which wrap Decode).
func TestDecodeStrict(t *testing.T) {
	for in, want := range map[string]string{"": "", "Zg": "f", "Zg=": "f", "Zg==": "f", "Zm9v": "foo"} {
		got, err := Decode(in)
		if err != nil || got == nil || string(got) != want {
			t.Errorf("Decode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"Zg===", "Zm9v=", "-_-_", "Zh==", "Zg==Zg==", "Zm9v\n"} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}
