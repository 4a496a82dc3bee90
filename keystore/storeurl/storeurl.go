// Package storeurl opens the keystore an application is configured with:
// a bbolt file (boltstore.Open, the embedded default) or an account in
// PostgreSQL (keystore/pgstore, for several replicas of one account),
// chosen by the form of one string, as xchat's --store flag and XCHAT_STORE
// take it:
//
//	/var/lib/bot/keystore.db                               a bbolt file
//	postgres://bot@db.internal/xchat?xchat_schema=bot1     PostgreSQL
//
// In a PostgreSQL URL (postgres:// or postgresql://, in pgx's syntax)
// the parameters xchat_schema (the account's schema, default "xchat") and
// xchat_lease_ttl (a Go duration, default pgstore.DefaultLeaseTTL) are
// read here and removed before the rest reaches the driver.
package storeurl

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/keystore/pgstore"
)

// IsPostgres reports whether spec names a PostgreSQL keystore.
func IsPostgres(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}

// Open opens (creating it when new) the keystore spec names, protected as
// protect says (keystore.WithPassphrase or keystore.WithKey, and any other
// keystore.Option; the bbolt-only ones are ignored for PostgreSQL). pg adds
// pgstore options (such as pgstore.WithHolder) for a PostgreSQL spec.
func Open(ctx context.Context, spec string, protect []keystore.Option, pg ...pgstore.Option) (keystore.Store, error) {
	if spec == "" {
		return nil, fmt.Errorf("%w: empty keystore location", keystore.ErrInvalid)
	}
	if !IsPostgres(spec) {
		return boltstore.Open(strings.TrimPrefix(spec, "file:"), protect...)
	}
	dsn, opts, err := parsePostgres(spec)
	if err != nil {
		return nil, err
	}
	opts = append(append(opts, pgstore.Keystore(protect...)), pg...)
	return pgstore.Open(ctx, dsn, opts...)
}

// parsePostgres splits the xchat_ parameters off a PostgreSQL URL.
func parsePostgres(spec string) (string, []pgstore.Option, error) {
	u, err := url.Parse(spec)
	if err != nil {
		return "", nil, fmt.Errorf("%w: keystore URL %s does not parse", keystore.ErrInvalid, Describe(spec))
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "xchat_") && k != "xchat_schema" && k != "xchat_lease_ttl" {
			return "", nil, fmt.Errorf("%w: unknown keystore URL parameter %q (known: xchat_schema, xchat_lease_ttl)", keystore.ErrInvalid, k)
		}
	}
	var opts []pgstore.Option
	if s := q.Get("xchat_schema"); s != "" {
		opts = append(opts, pgstore.WithSchema(s))
	}
	if s := q.Get("xchat_lease_ttl"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return "", nil, fmt.Errorf("%w: xchat_lease_ttl %q is not a positive duration", keystore.ErrInvalid, s)
		}
		opts = append(opts, pgstore.WithLeaseTTL(d))
	}
	q.Del("xchat_schema")
	q.Del("xchat_lease_ttl")
	u.RawQuery = q.Encode()
	return u.String(), opts, nil
}

// Describe returns spec fit for messages: a URL without its password.
func Describe(spec string) string {
	if !IsPostgres(spec) {
		return spec
	}
	u, err := url.Parse(spec)
	if err != nil {
		return "(unparsable PostgreSQL URL)"
	}
	return u.Redacted()
}
