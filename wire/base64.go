package wire

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/xchat-go/xchat/internal/b64"
)

// DecodeB64 decodes standard-alphabet base64 the way the official SDK does
// (crates/core/src/protocol/serialization.rs: STANDARD alphabet with
// DecodePaddingMode::Indifferent): padding may be complete, partial or
// absent, but never more than the canonical amount. URL-safe characters,
// whitespace and line breaks, misplaced '=', impossible lengths and non-zero
// trailing bits are rejected with an error matching ErrBase64. The empty
// string decodes to an empty slice.
func DecodeB64(s string) ([]byte, error) {
	out, err := b64.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBase64, err)
	}
	return out, nil
}

// EncodeB64 encodes b as standard base64 with padding, the form used for
// Thrift blobs on the wire (encoded_message_create_event and friends).
func EncodeB64(b []byte) string {
	return encodeString(base64.StdEncoding, b)
}

// EncodeB64NoPad encodes b as standard base64 without padding, the form used
// for signatures and inside signed component strings.
func EncodeB64NoPad(b []byte) string {
	return encodeString(base64.RawStdEncoding, b)
}

// encodeString is enc.EncodeToString with one allocation instead of two
// (EncodeToString encodes into a slice and copies it into the string):
// it encodes through a stack buffer into a strings.Builder sized exactly.
func encodeString(enc *base64.Encoding, b []byte) string {
	const chunk = 768 // input bytes per step: a multiple of 3, so only the last step pads
	var buf [chunk / 3 * 4]byte
	var sb strings.Builder
	sb.Grow(enc.EncodedLen(len(b)))
	for len(b) > 0 {
		n := min(len(b), chunk)
		enc.Encode(buf[:], b[:n])
		sb.Write(buf[:enc.EncodedLen(n)])
		b = b[n:]
	}
	return sb.String()
}
