package wire

import (
	"encoding/base64"
	"fmt"

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
	return base64.StdEncoding.EncodeToString(b)
}

// EncodeB64NoPad encodes b as standard base64 without padding, the form used
// for signatures and inside signed component strings.
func EncodeB64NoPad(b []byte) string {
	return base64.RawStdEncoding.EncodeToString(b)
}
