package wire

import (
	"errors"
	"fmt"
)

var (
	// ErrMalformed reports input that is not a valid encoding of the requested
	// structure. Every decode failure matches it with errors.Is.
	ErrMalformed = errors.New("wire: malformed input")

	// ErrLimit reports input that exceeds a decoding limit (size, element
	// count or nesting depth). Errors matching ErrLimit also match ErrMalformed.
	ErrLimit = errors.New("wire: limit exceeded")

	// ErrTrailingData reports bytes left over after the top-level struct in
	// UnmarshalExact. Errors matching it also match ErrMalformed.
	ErrTrailingData = errors.New("wire: trailing data")

	// ErrBase64 reports a string that is not standard-alphabet base64.
	ErrBase64 = errors.New("wire: invalid base64")

	// ErrEncode reports a structure that cannot be encoded, for example a
	// union with no variant or several variants set.
	ErrEncode = errors.New("wire: cannot encode")
)

// wireError is an error with its own message that matches one or more of the
// sentinel errors above. Messages never include decoded field contents.
type wireError struct {
	kinds []error
	msg   string
}

func (e *wireError) Error() string   { return e.msg }
func (e *wireError) Unwrap() []error { return e.kinds }

// malformed builds an error matching ErrMalformed.
func malformed(format string, args ...any) error {
	return &wireError{
		kinds: []error{ErrMalformed},
		msg:   "wire: malformed input: " + fmt.Sprintf(format, args...),
	}
}

// limit builds an error matching ErrLimit and ErrMalformed.
func limit(format string, args ...any) error {
	return &wireError{
		kinds: []error{ErrLimit, ErrMalformed},
		msg:   "wire: limit exceeded: " + fmt.Sprintf(format, args...),
	}
}

// withContext re-labels err (one of ours) with a prefix naming what was
// being decoded, keeping its sentinel kinds.
func withContext(err error, what string) error {
	var we *wireError
	if errors.As(err, &we) {
		return &wireError{kinds: we.kinds, msg: we.msg + " (decoding " + what + ")"}
	}
	return &wireError{
		kinds: []error{ErrMalformed},
		msg:   "wire: malformed input: " + err.Error() + " (decoding " + what + ")",
	}
}
