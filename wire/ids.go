package wire

import "strings"

// OneToOneID joins the user ids of a one-to-one conversation into the id
// events carry and signatures cover: the two ids ordered by length, then
// bytes, and joined by ':' ("9:10"). For canonical decimals that is numeric
// order. It is the XDK's join_sorted_pair (crates/core/src/pipeline.rs),
// kept byte for byte even for digit strings with leading zeros, because the
// result is signed: callers validate user ids before they get here.
func OneToOneID(a, b string) string {
	if len(a) > len(b) || (len(a) == len(b) && a > b) {
		a, b = b, a
	}
	return a + ":" + b
}

// SplitOneToOne returns the two user ids of a one-to-one conversation id
// "a:b" whose parts are both non-empty runs of ASCII digits (the XDK's
// is_digits). ok is false for group ids and anything else.
func SplitOneToOne(id string) (a, b string, ok bool) {
	a, b, ok = strings.Cut(id, ":")
	if !ok || !digits(a) || !digits(b) {
		return "", "", false
	}
	return a, b, true
}

// digits reports whether s is a non-empty run of ASCII digits.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
