package keystore

import (
	"errors"
	"math/big"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
)

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"9", "10", -1},
		{"10", "9", 1},
		{"999", "1700000000000", -1},
		{"1700000000000", "999", 1},
		{"1700000000000", "1700000000000", 0},
		{"0", "1", -1},
		{"18446744073709551616", "18446744073709551615", 1}, // beyond uint64
	} {
		got, err := CompareVersions(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, %v; want %d", c.a, c.b, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "01", "00", "-1", "+1", "1 ", "0x10", "1.5", "１"} {
		if _, err := CompareVersions(bad, "1"); !errors.Is(err, ErrInvalid) {
			t.Errorf("CompareVersions(%q) err = %v, want ErrInvalid", bad, err)
		}
	}
}

// TestVersionKeyOrderMatchesBigInt checks the on-disk key order against
// math/big for many pairs, independently of compareCanonical.
func TestVersionKeyOrderMatchesBigInt(t *testing.T) {
	vals := []string{"0", "1", "2", "9", "10", "11", "99", "100", "999", "1000", "1699999999999", "1700000000000",
		"1700000000001", "9223372036854775807", "9223372036854775808", "18446744073709551615", "99999999999999999999999"}
	for _, a := range vals {
		for _, b := range vals {
			ba, _ := new(big.Int).SetString(a, 10)
			bb, _ := new(big.Int).SetString(b, 10)
			want := ba.Cmp(bb)
			ka, kb := string(versionKey(a)), string(versionKey(b))
			got := 0
			if ka < kb {
				got = -1
			} else if ka > kb {
				got = 1
			}
			if got != want {
				t.Errorf("key order %s vs %s = %d, want %d", a, b, got, want)
			}
			if c := testutil.Must(CompareVersions(a, b))(t); c != want {
				t.Errorf("CompareVersions(%s, %s) = %d, want %d", a, b, c, want)
			}
		}
		back, err := parseVersionKey(versionKey(a))
		if err != nil || back != a {
			t.Errorf("parseVersionKey(versionKey(%s)) = %q, %v", a, back, err)
		}
	}
}

func FuzzParseVersionKey(f *testing.F) {
	for _, s := range []string{"0", "10", "1700000000000"} {
		f.Add(versionKey(s))
	}
	f.Add([]byte{})
	f.Add([]byte{2, '0', '1'})
	f.Fuzz(func(t *testing.T, k []byte) {
		v, err := parseVersionKey(k)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if !ValidVersion(v) || string(versionKey(v)) != string(k) {
			t.Fatalf("accepted non-canonical key %q -> %q", k, v)
		}
	})
}

func FuzzCompareVersions(f *testing.F) {
	f.Add("9", "10")
	f.Add("999", "1700000000000")
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := CompareVersions(a, b)
		if err != nil {
			return
		}
		ba, ok1 := new(big.Int).SetString(a, 10)
		bb, ok2 := new(big.Int).SetString(b, 10)
		if !ok1 || !ok2 {
			t.Fatalf("accepted %q, %q that big.Int rejects", a, b)
		}
		if want := ba.Cmp(bb); got != want {
			t.Fatalf("CompareVersions(%q, %q) = %d, big.Int says %d", a, b, got, want)
		}
	})
}

func TestPredecessor(t *testing.T) {
	for v, want := range map[string]string{"0": "", "1": "0", "9": "8", "10": "9", "100": "99", "1700000000000": "1699999999999",
		"18446744073709551616": "18446744073709551615", "100000000000000000000": "99999999999999999999", "120": "119"} {
		if got := predecessor(v); got != want {
			t.Errorf("predecessor(%s) = %q, want %q", v, got, want)
		}
	}
}
