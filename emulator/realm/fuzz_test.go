package realm

import (
	"testing"
	"time"
)

// FuzzValidateToken: the token parser never panics, and accepts only
// tokens signed with the realm's key for its audience.
func FuzzValidateToken(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	key := []byte("0123456789abcdef0123456789abcdef")
	aud := "0102030405060708090a0b0c0d0e0f10"
	f.Add(issueToken(key, "xemulator", 1, "1001", aud, now))
	f.Add(issueToken(key, "xemulator", 7, "", aud, now))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, tok string) {
		keys := map[string][]byte{"xemulator:1": key}
		tenant, sub, err := validateToken(tok, keys, aud, now)
		if err != nil {
			return
		}
		if tenant != "xemulator" || sub == "" {
			t.Fatalf("accepted %q as %q/%q", tok, tenant, sub)
		}
	})
}
