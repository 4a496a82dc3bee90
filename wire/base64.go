package wire

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// rawStrict decodes unpadded standard base64 and rejects non-zero trailing
// bits, like the SDK's base64 engine (decode_allow_trailing_bits = false).
var rawStrict = base64.RawStdEncoding.Strict()

// DecodeB64 decodes standard-alphabet base64 the way the official SDK does
// (crates/core/src/protocol/serialization.rs: STANDARD alphabet with
// DecodePaddingMode::Indifferent): padding may be complete, partial or
// absent, but never more than the canonical amount. URL-safe characters,
// whitespace and line breaks, misplaced '=', impossible lengths and non-zero
// trailing bits are rejected with an error matching ErrBase64. The empty
// string decodes to an empty slice.
func DecodeB64(s string) ([]byte, error) {
	data := strings.TrimRight(s, "=")
	pad := len(s) - len(data)
	for i := 0; i < len(data); i++ {
		if !isStdB64(data[i]) {
			return nil, fmt.Errorf("%w: unexpected character at offset %d", ErrBase64, i)
		}
	}
	canonicalPad := (4 - len(data)%4) % 4
	if len(data)%4 == 1 {
		return nil, fmt.Errorf("%w: impossible length %d", ErrBase64, len(data))
	}
	if pad > canonicalPad {
		return nil, fmt.Errorf("%w: %d padding characters where at most %d fit", ErrBase64, pad, canonicalPad)
	}
	out, err := rawStrict.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBase64, err)
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

func isStdB64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

// EncodeB64 encodes b as standard base64 with padding, the form used for
// Thrift blobs on the wire (encoded_message_create_event and friends).
func EncodeB64(b []byte) string {
	return base64.StdEncoding.EncodeToString(b)
}

// EncodeB64NoPad encodes b as standard base64 without padding, the form used
// for signatures and inside signed component strings.
func EncodeB64NoPad(b []byte) string {
	return base64.RawStdEncoding.EncodeToString(b)
}
