package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/xchat-go/xchat/keystore"
)

func init() {
	register(&command{
		name:    "store migrate",
		summary: "copy the account to another keystore (file ↔ PostgreSQL)",
		help: `Copies every record of the account's keystore (the file in --home, or the
PostgreSQL account of --store/XCHAT_STORE) into another keystore: a
postgres:// URL, or an account directory whose keystore file does not exist
yet. Values are opened with the source's key and sealed again with the
destination's, protected by the same passphrase (or --no-passphrase). The
destination must hold no account; the source is left as it was. Stop every
process using the account first: sends and syncs made during the copy are
not in it.`,
		example: `  xchat --home ~/.xchat store migrate --to 'postgres://bot@db/xchat?xchat_schema=bot'
  xchat --store 'postgres://bot@db/xchat?xchat_schema=bot' store migrate --to ~/.xchat-back`,
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			to := fs.String("to", "", "destination: a postgres:// `URL` or an account directory (required)")
			return func(ctx context.Context, a *app, _ []string) error {
				if *to == "" {
					return usagef("store migrate", "--to is required")
				}
				return a.migrateStore(ctx, *to)
			}
		},
	})
}

// migrateStore copies the open account into the keystore at to.
func (a *app) migrateStore(ctx context.Context, to string) error {
	src, err := a.openStore(ctx, false)
	if err != nil {
		return err
	}
	sealed, ok := src.(keystore.SealedStore)
	if !ok {
		return errors.New("store migrate: the source keystore cannot be copied")
	}
	dst, name, err := a.openDestination(ctx, to)
	if err != nil {
		return err
	}
	defer dst.Close()
	n, err := keystore.CopyRecords(ctx, dst, sealed)
	if errors.Is(err, keystore.ErrConflict) {
		return fmt.Errorf("store migrate: %s already holds an account", name)
	}
	if err != nil {
		return fmt.Errorf("store migrate: %w", err)
	}
	a.infof("%s Copied %d records from %s to %s.", markOK, n, a.storeName(), name)
	return nil
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
