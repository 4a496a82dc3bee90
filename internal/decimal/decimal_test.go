package decimal

import (
	"math/big"
	"slices"
	"strconv"
	"testing"
)

func TestValid(t *testing.T) {
	for _, s := range []string{"0", "1", "9", "10", "1700000000000", "9223372036854775807", "9999999999999999999"} {
		if !Valid(s) || !ValidID(s) {
			t.Errorf("Valid(%q), ValidID(%q) = %v, %v; want true", s, s, Valid(s), ValidID(s))
		}
	}
	long := "1" + zeros(19) // 20 digits
	if !Valid(long) || ValidID(long) {
		t.Errorf("20 digits: Valid %v (want true), ValidID %v (want false)", Valid(long), ValidID(long))
	}
	max := "1" + zeros(MaxDigits-1)
	if !Valid(max) || Valid(max+"0") {
		t.Errorf("MaxDigits bound: Valid(%d digits) = %v, Valid(%d digits) = %v", len(max), Valid(max), len(max)+1, Valid(max+"0"))
	}
	for _, s := range []string{"", "01", "00", "007", "-1", "+1", " 1", "1 ", "0x10", "1.5", "1e3", "１", "1\x00"} {
		if Valid(s) || ValidID(s) {
			t.Errorf("Valid(%q) or ValidID(%q) accepted a non-canonical decimal", s, s)
		}
	}
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

// TestCompareMatchesBigInt checks the order of canonical decimals against
// math/big, an independent implementation of numeric order.
func TestCompareMatchesBigInt(t *testing.T) {
	var vals []string
	for i := 0; i <= 1200; i += 7 {
		vals = append(vals, strconv.Itoa(i))
	}
	vals = append(vals, "1699999999999", "1700000000000", "1700000000001", "9223372036854775807",
		"9223372036854775808", "18446744073709551615", "18446744073709551616", "99999999999999999999999")
	for _, a := range vals {
		ba, ok := new(big.Int).SetString(a, 10)
		if !ok {
			t.Fatalf("big.Int cannot parse %q", a)
		}
		for _, b := range vals {
			bb, ok := new(big.Int).SetString(b, 10)
			if !ok {
				t.Fatalf("big.Int cannot parse %q", b)
			}
			if got, want := Compare(a, b), ba.Cmp(bb); got != want {
				t.Fatalf("Compare(%s, %s) = %d, want %d", a, b, got, want)
			}
			if got, want := Less(a, b), ba.Cmp(bb) < 0; got != want {
				t.Fatalf("Less(%s, %s) = %v, want %v", a, b, got, want)
			}
		}
	}
}

// legacyLess is the comparator session/peers.go used before this package
// (length, then bytes), kept here only to show the bug it had.
func legacyLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// TestLeadingZeroBug shows the old session comparator's bug: by length
// then bytes "01" sorted above "2", though as a number it is below. Here a
// leading zero makes a string non-canonical: parsers reject it, and the
// total order puts it below every canonical decimal.
func TestLeadingZeroBug(t *testing.T) {
	if !legacyLess("2", "01") {
		t.Fatal("the legacy comparator no longer shows the bug this test documents")
	}
	if Valid("01") {
		t.Fatal(`"01" must not be a valid decimal`)
	}
	if !Less("01", "2") || Less("2", "01") || Compare("01", "2") != -1 {
		t.Fatalf(`Compare("01", "2") = %d, want -1 (non-canonical sorts below canonical)`, Compare("01", "2"))
	}
	if Compare("007", "7") != -1 {
		t.Fatalf(`"007" is not 7: Compare = %d, want -1`, Compare("007", "7"))
	}
}

// TestCompareIsTotalOrder checks that Compare is a total order over a mix of
// canonical and non-canonical strings, so sorting never depends on input
// order.
func TestCompareIsTotalOrder(t *testing.T) {
	vals := []string{"", "0", "00", "01", "1", "2", "007", "7", "10", "-1", "+1", "x", "1a", "１", "99", "100", "18446744073709551616"}
	for _, a := range vals {
		for _, b := range vals {
			if Compare(a, b) != -Compare(b, a) {
				t.Errorf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, Compare(a, b), b, a, Compare(b, a))
			}
			if (Compare(a, b) == 0) != (a == b) {
				t.Errorf("Compare(%q, %q) = %d: only equal strings compare equal", a, b, Compare(a, b))
			}
			for _, c := range vals {
				if Compare(a, b) < 0 && Compare(b, c) < 0 && Compare(a, c) >= 0 {
					t.Errorf("not transitive: %q < %q < %q but Compare(%q, %q) = %d", a, b, c, a, c, Compare(a, c))
				}
			}
		}
	}
	sorted := slices.Clone(vals)
	slices.SortFunc(sorted, Compare)
	firstCanonical := slices.IndexFunc(sorted, Valid)
	for i, s := range sorted {
		if Valid(s) != (i >= firstCanonical) {
			t.Fatalf("sorted %q: non-canonical strings must all come first", sorted)
		}
	}
}

func FuzzCompare(f *testing.F) {
	for _, s := range [][2]string{{"9", "10"}, {"01", "2"}, {"", "0"}, {"1700000000000", "999"}, {"18446744073709551616", "18446744073709551615"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		c := Compare(a, b)
		if c != -Compare(b, a) || (c == 0) != (a == b) {
			t.Fatalf("Compare(%q, %q) = %d, Compare(%q, %q) = %d", a, b, c, b, a, Compare(b, a))
		}
		if !Valid(a) || !Valid(b) {
			return
		}
		ba, _ := new(big.Int).SetString(a, 10)
		bb, _ := new(big.Int).SetString(b, 10)
		if ba == nil || bb == nil {
			t.Fatalf("big.Int rejects a valid decimal: %q or %q", a, b)
		}
		if want := ba.Cmp(bb); c != want {
			t.Fatalf("Compare(%s, %s) = %d, want %d", a, b, c, want)
		}
	})
}
