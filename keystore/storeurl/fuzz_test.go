package storeurl

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParsePostgres feeds arbitrary keystore URLs to the parser: it never
// panics, never passes an xchat_ parameter on to the driver, and Describe
// never shows the password.
func FuzzParsePostgres(f *testing.F) {
	for _, s := range []string{
		"postgres://bot:pw@db/xchat?xchat_schema=bot1&xchat_lease_ttl=10s",
		"postgresql://u@h:5432/d?sslmode=disable",
		"postgres://h/d?xchat_lease_ttl=-1s",
		"postgres://%zz",
		"postgres://u:p@[::1]:5/d?xchat_schema=A&xchat_schema=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		d := Describe(spec)
		if !IsPostgres(spec) {
			if d != spec {
				t.Fatalf("Describe changed a path: %q -> %q", spec, d)
			}
			return
		}
		if i := strings.Index(spec, "://"); i > 0 {
			if user, rest, ok := strings.Cut(spec[i+3:], "@"); ok {
				// A password that also stands elsewhere in the URL (a
				// host "000000" beside the password "000000") is shown
				// there, not leaked.
				if _, pw, ok := strings.Cut(user, ":"); ok && len(pw) >= 6 && !strings.ContainsAny(pw, "/?#%[]") &&
					!strings.Contains(spec[:i+3]+rest, pw) && strings.Contains(d, pw) {
					t.Fatalf("Describe(%q) = %q shows the password", spec, d)
				}
			}
		}
		dsn, _, err := parsePostgres(spec)
		if err != nil {
			return
		}
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parsePostgres(%q) made an unparsable %q", spec, dsn)
		}
		for k := range u.Query() {
			if strings.HasPrefix(k, "xchat_") {
				t.Fatalf("parsePostgres(%q) passed %s on in %q", spec, k, dsn)
			}
		}
	})
}
