// Package b64 holds the module's base64 decoders, so that crypto and wire
// share one implementation of the official SDK's rule without wire
// importing crypto. Callers wrap the errors in their own sentinels
// (crypto.ErrInvalidBase64, wire.ErrBase64).
package b64

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// errMisplaced reports '=' before the end, or a line break.
var errMisplaced = errors.New("misplaced '=' or line break")

// rawStd is the strict unpadded standard alphabet, made once (Strict
// returns a copy of the whole encoding).
var rawStd = base64.RawStdEncoding.Strict()

// Decode decodes standard-alphabet base64 exactly as the XDK's
// base64_decode does (Rust base64 0.22, STANDARD alphabet,
// DecodePaddingMode::Indifferent): padding may be absent, complete or
// partial ("xx", "xx=" and "xx==" all decode), but never more than the
// final quantum needs; trailing bits must be zero; whitespace, line breaks,
// the URL-safe alphabet and '=' before the end are rejected. The empty
// string decodes to an empty, non-nil slice.
func Decode(s string) ([]byte, error) {
	core := strings.TrimRight(s, "=")
	pad := len(s) - len(core)
	if fit := (4 - len(core)%4) % 4; pad > 0 && pad > fit {
		return nil, fmt.Errorf("%d padding characters where at most %d fit", pad, fit)
	}
	// The standard library skips '\r' and '\n'; the XDK refuses them.
	// Three byte searches are far quicker than one search for any of
	// three bytes.
	if strings.IndexByte(core, '=') >= 0 || strings.IndexByte(core, '\r') >= 0 || strings.IndexByte(core, '\n') >= 0 {
		return nil, errMisplaced
	}
	b, err := rawStd.DecodeString(core)
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// DecodeAny decodes the key material of registration and lookup bodies,
// which clients send in either alphabet: standard or URL-safe base64,
// padded or not, with zero trailing bits (line breaks are skipped, as
// encoding/base64 does). ok is false for the empty string and anything
// else.
func DecodeAny(s string) ([]byte, bool) {
	if s == "" {
		return nil, false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}
