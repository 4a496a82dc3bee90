// Package decimal is the one rule for the decimal strings XChat uses as
// versions and ids: key versions (millisecond timestamps), sequence ids and
// user ids (64-bit snowflakes). They travel as strings and must be ordered
// numerically, never as strings: "9" < "10".
//
// Only canonical decimals have a meaning: one or more ASCII digits, no sign,
// no leading zero unless the value is "0". A parser rejects anything else
// where it first reads it ([Valid], [ValidID]); nothing downstream guesses
// what "007" or "+7" was meant to be.
//
// [Compare] is total so that sorting never fails and never panics: every
// non-canonical string sorts below every canonical one, and non-canonical
// strings order bytewise among themselves. In particular "01" sorts below
// "2", where ordering by length then bytes would put it above.
//
// It lives in internal/ and imports nothing of this module, so the keystore,
// the wire decoder's callers, the session engine and the emulator (which
// share no other package that could hold it) all use the same rule.
package decimal

// MaxDigits bounds any version or id: it comfortably covers 64-bit ids and
// millisecond timestamps, and bounds what one comparison can cost.
const MaxDigits = 40

// MaxIDDigits bounds sequence ids and user ids: X's ids are 64-bit
// snowflakes, at most 19 decimal digits.
const MaxIDDigits = 19

// Valid reports whether s is a canonical decimal of at most MaxDigits
// digits.
func Valid(s string) bool { return canonical(s, MaxDigits) }

// ValidID reports whether s is a canonical decimal of at most MaxIDDigits
// digits: the form of a sequence id or user id.
func ValidID(s string) bool { return canonical(s, MaxIDDigits) }

// canonical is the one validator: 1..max ASCII digits, no leading zero
// unless s is "0".
func canonical(s string, max int) bool {
	if len(s) == 0 || len(s) > max || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Compare returns -1, 0 or +1 as a is numerically below, equal to or above
// b when both are canonical (Valid). A non-canonical string sorts below
// every canonical one; two non-canonical strings compare bytewise.
func Compare(a, b string) int {
	va, vb := Valid(a), Valid(b)
	switch {
	case va && vb:
		return compareCanonical(a, b)
	case va:
		return 1
	case vb:
		return -1
	}
	return compareBytes(a, b)
}

// Less reports whether Compare(a, b) < 0.
func Less(a, b string) bool { return Compare(a, b) < 0 }

// compareCanonical orders canonical decimals: the shorter is smaller, equal
// lengths compare bytewise.
func compareCanonical(a, b string) int {
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return compareBytes(a, b)
}

func compareBytes(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
