package api

import (
	"bytes"
	"errors"
	"fmt"
)

// Bounds on the shape of a JSON answer. A response body is read up to
// the response limit (16 MiB by default), but decoded values cost far
// more than their bytes: "{}" is two bytes of answer and a Problem of
// some 150 bytes once decoded, so a body of empty objects under "errors"
// held some 50 times its size. An answer is therefore counted before it
// is decoded. The limits are far above any honest answer: a page lists
// at most 100 items, and the largest (a conversation listing of groups
// with their member and admin lists) holds about 200,000 values.
const (
	// MaxResponseObjects bounds the JSON objects of one API answer.
	MaxResponseObjects = 1 << 16
	// MaxResponseValues bounds the values of one API answer: array
	// elements and object members, counted by their separators.
	MaxResponseValues = 1 << 20
	// maxActivityObjects and maxActivityValues bound one stream line or
	// webhook body (an event carries a few dozen values).
	maxActivityObjects = 1 << 10
	maxActivityValues  = 1 << 14
)

// ErrResponseTooComplex matches an answer holding more JSON objects or
// values than the limits above: it is refused before it is decoded.
var ErrResponseTooComplex = errors.New("api: response holds more JSON values than any honest answer")

// jsonShape counts the objects of a JSON text, and its values (every
// '{', '[' and ',' outside strings: a value separator or the start of a
// container's first value). It does not validate: a malformed text is
// refused by the decoder after it.
func jsonShape(b []byte) (objects, values int) {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			i = closingQuote(b, i+1)
		case '{':
			objects++
			values++
		case '[', ',':
			values++
		}
	}
	return objects, values
}

// closingQuote returns the index of the quote closing the string whose
// contents start at i (len(b) when it is not closed).
func closingQuote(b []byte, i int) int {
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		j += i
		k := j
		for k > i && b[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 {
			return j
		}
		i = j + 1
	}
}

// checkShape refuses (ErrResponseTooComplex) a JSON text holding more
// than maxObjects objects or maxValues values.
func checkShape(b []byte, maxObjects, maxValues int) error {
	objects, values := jsonShape(b)
	if objects > maxObjects || values > maxValues {
		return fmt.Errorf("%w: %d objects and %d values (at most %d and %d)", ErrResponseTooComplex, objects, values, maxObjects, maxValues)
	}
	return nil
}
