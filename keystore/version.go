package keystore

import (
	"fmt"
	"strings"

	"github.com/xchat-go/xchat/internal/decimal"
)

// ValidVersion reports whether v is a canonical decimal string: one or more
// ASCII digits, no sign, no leading zero unless v is "0", at most 40 digits.
// Key versions and sequence ids must be canonical. It is the module's one
// decimal rule (internal/decimal).
func ValidVersion(v string) bool { return decimal.Valid(v) }

// CompareVersions compares two canonical decimal strings numerically and
// returns -1, 0 or +1. It fails with ErrInvalid when either is not
// canonical, so "9" < "10" and "999" < "1700000000000".
func CompareVersions(a, b string) (int, error) {
	if !decimal.Valid(a) {
		return 0, fmt.Errorf("%w: non-canonical version %q", ErrInvalid, a)
	}
	if !decimal.Valid(b) {
		return 0, fmt.Errorf("%w: non-canonical version %q", ErrInvalid, b)
	}
	return decimal.Compare(a, b), nil
}

// versionKey encodes a canonical decimal as a bbolt key whose byte order is
// the numeric order: one length byte followed by the digits.
func versionKey(v string) []byte {
	return appendVersionKey(make([]byte, 0, 1+len(v)), v)
}

// appendVersionKey appends versionKey(v) to dst.
func appendVersionKey(dst []byte, v string) []byte {
	return append(append(dst, byte(len(v))), v...)
}

// parseVersionKey reverses versionKey, strictly.
func parseVersionKey(k []byte) (string, error) {
	if len(k) < 2 || int(k[0]) != len(k)-1 {
		return "", fmt.Errorf("%w: malformed version key", ErrCorrupt)
	}
	v := string(k[1:])
	if !ValidVersion(v) {
		return "", fmt.Errorf("%w: malformed version key", ErrCorrupt)
	}
	return v, nil
}

func checkVersion(what, v string) error {
	if !ValidVersion(v) {
		return fmt.Errorf("%w: %s %q is not a canonical decimal", ErrInvalid, what, v)
	}
	return nil
}

// checkID validates a record id (user, conversation or message id): non-empty,
// at most 256 bytes, no NUL.
func checkID(what, id string) error {
	if id == "" || len(id) > 256 {
		return fmt.Errorf("%w: %s must be 1..256 bytes", ErrInvalid, what)
	}
	if strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("%w: %s contains NUL", ErrInvalid, what)
	}
	return nil
}
