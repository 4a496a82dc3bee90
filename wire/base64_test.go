package wire

import (
	"bytes"
	"errors"
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
