package decimal_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
)

// TestCallSitesAgree checks that every exported comparator and validator of
// decimal versions in the module gives internal/decimal's answer: the
// keystore's (which refuses non-canonical input). The session engine, its
// receive pipeline and the emulator call internal/decimal directly.
func TestCallSitesAgree(t *testing.T) {
	vals := []string{"", "0", "00", "01", "1", "2", "007", "7", "9", "10", "-1", "+1", "x", "１",
		"999", "1700000000000", "9223372036854775808", "18446744073709551616", strings.Repeat("1", 41)}
	for _, a := range vals {
		if got, want := keystore.ValidVersion(a), decimal.Valid(a); got != want {
			t.Errorf("keystore.ValidVersion(%q) = %v, decimal.Valid = %v", a, got, want)
		}
		for _, b := range vals {
			want := decimal.Compare(a, b)
			got, err := keystore.CompareVersions(a, b)
			switch {
			case decimal.Valid(a) && decimal.Valid(b):
				if err != nil || got != want {
					t.Errorf("keystore.CompareVersions(%q, %q) = %d, %v; decimal.Compare = %d", a, b, got, err, want)
				}
			case !errors.Is(err, keystore.ErrInvalid):
				t.Errorf("keystore.CompareVersions(%q, %q) err = %v, want ErrInvalid", a, b, err)
			}
		}
	}
}
