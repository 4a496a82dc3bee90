package inbound

import "strings"

// CompareVersions compares two key versions (decimal strings, typically
// millisecond timestamps) numerically: it returns -1 if a < b, 0 if equal and
// +1 if a > b, for numbers of any length. Leading zeros are ignored. A
// string that is not a non-empty run of ASCII digits sorts below every valid
// version; two invalid strings compare bytewise.
func CompareVersions(a, b string) int {
	va, vb := validVersion(a), validVersion(b)
	switch {
	case !va && !vb:
		return strings.Compare(a, b)
	case !va:
		return -1
	case !vb:
		return 1
	}
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func validVersion(s string) bool {
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
