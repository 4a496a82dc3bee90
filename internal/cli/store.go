package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/keystore/storeurl"
)

// storeSpec is the keystore given by --store or XCHAT_STORE ("" for the
// file in the account directory). An explicit --home beats XCHAT_STORE, so
// "xchat --home DIR store migrate --to \"$XCHAT_STORE\"" reads the file.
func (a *app) storeSpec() string {
	if a.g.store != "" {
		return a.g.store
	}
	if a.g.home != "" {
		return ""
	}
	return a.env.Getenv(EnvStore)
}

// storeName names the account's keystore for messages (never with a
// password).
func (a *app) storeName() string {
	if spec := a.storeSpec(); spec != "" {
		return storeurl.Describe(spec)
	}
	return a.mustHome()
}

// storeFilePath is the file of a keystore file, "" for any other store (a
// new account in PostgreSQL is not removed on failure: its schema may be
// shared by replicas).
func storeFilePath(db keystore.Store) string {
	if f, ok := db.(*boltstore.DB); ok {
		return f.Path()
	}
	return ""
}

// openSharedStore opens an account in PostgreSQL (see storeurl). With
// create it must hold no account yet; otherwise it must.
func (a *app) openSharedStore(ctx context.Context, spec string, create bool) (keystore.Store, error) {
	opt, err := a.protection(create)
	if err != nil {
		return nil, err
	}
	s, err := storeurl.Open(ctx, spec, []keystore.Option{opt})
	if err != nil {
		switch {
		case errors.Is(err, keystore.ErrWrongPassphrase):
			return nil, fmt.Errorf("wrong passphrase for %s", storeurl.Describe(spec))
		case errors.Is(err, keystore.ErrWrongKey) && a.g.noPassphrase:
			return nil, fmt.Errorf("%s is protected by a passphrase: drop --no-passphrase", storeurl.Describe(spec))
		case errors.Is(err, keystore.ErrWrongKey):
			return nil, fmt.Errorf("%s was created with --no-passphrase: pass --no-passphrase", storeurl.Describe(spec))
		}
		return nil, fmt.Errorf("keystore %s: %w", storeurl.Describe(spec), err)
	}
	_, err = s.Identity(ctx)
	switch {
	case err == nil && create:
		_ = s.Close()
		return nil, fmt.Errorf("an account already exists in %s", storeurl.Describe(spec))
	case errors.Is(err, keystore.ErrNotFound) && !create:
		_ = s.Close()
		return nil, fmt.Errorf("no account in %s: run 'xchat --store URL init --user-id ID' or 'xchat store migrate' first", storeurl.Describe(spec))
	case err != nil && !errors.Is(err, keystore.ErrNotFound):
		_ = s.Close()
		return nil, err
	}
	a.store = s
	return s, nil
}

// openDestination opens the keystore a migration writes to: a PostgreSQL
// URL, or an account directory (its keystore file must not exist yet),
// protected like the source.
func (a *app) openDestination(ctx context.Context, to string) (keystore.SealedStore, string, error) {
	opt, err := a.protection(false)
	if err != nil {
		return nil, "", err
	}
	spec, name := to, storeurl.Describe(to)
	if !storeurl.IsPostgres(to) {
		spec = filepath.Join(to, storeFile)
		if exists(spec) {
			return nil, "", fmt.Errorf("%s already holds a keystore", to)
		}
	}
	s, err := storeurl.Open(ctx, spec, []keystore.Option{opt, keystore.WithLockTimeout(lockTimeout)})
	if err != nil {
		return nil, "", fmt.Errorf("keystore %s: %w", name, err)
	}
	sealed, ok := s.(keystore.SealedStore)
	if !ok {
		_ = s.Close()
		return nil, "", fmt.Errorf("keystore %s cannot receive a migration", name)
	}
	return sealed, name, nil
}
