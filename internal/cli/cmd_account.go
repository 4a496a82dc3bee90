package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/session"
)

func init() {
	register(&command{
		name:    "init",
		summary: "create the account's keystore and keys",
		help: `Creates the keystore in the account directory (--home) and generates the
account's identity and signing keys. The keystore is encrypted with a
passphrase (XCHAT_PASSPHRASE or a prompt). Publish the keys afterwards with
'xchat keys register'. Prints the key fingerprint. If the account already has
registered keys (checked when a token is given), init offers to restore them
from the PIN backup instead; --new-keys creates new keys anyway.`,
		example: "  xchat --home ~/.xchat init --user-id 1001",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			userID := fs.String("user-id", "", "your X user `ID` (required)")
			newKeys := fs.Bool("new-keys", false, "create new keys even if the account already has registered keys (replaces them)")
			return func(ctx context.Context, a *app, _ []string) error {
				if *userID == "" {
					return usagef("init", "--user-id is required")
				}
				if err := api.ValidateUserID(*userID); err != nil {
					return usagef("init", "invalid --user-id %q: not a numeric user id", *userID)
				}
				if !*newKeys {
					// See cmd_backup.go: an account with keys is restored, not replaced.
					if restore, err := a.checkExistingKeys(ctx, *userID); err != nil || restore {
						if err != nil {
							return err
						}
						return a.restore(ctx, *userID, nil)
					}
				}
				return a.createAccount(ctx, func(db keystore.Store) error {
					return session.CreateAccount(ctx, db, *userID, nil)
				})
			}
		},
		result: true,
	})
	register(&command{
		name:    "keys register",
		summary: "publish the account's public keys",
		help:    `Publishes the account's public keys so others can start encrypted conversations with it. Prints the key version the server assigned.`,
		example: "  xchat keys register",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			return func(ctx context.Context, a *app, _ []string) error {
				e, err := a.openEngine(ctx, true)
				if err != nil {
					return err
				}
				v, err := e.Register(ctx)
				if err != nil {
					return fmt.Errorf("register keys: %w", err)
				}
				return a.result(map[string]string{"user_id": e.UserID(), "public_key_version": v}, v)
			}
		},
		result: true,
	})
	register(&command{
		name:    "keys show",
		args:    "[USER_ID]",
		maxArgs: 1,
		summary: "show your key fingerprint, or a peer's stored key versions",
		help: `Without an argument, shows this account's user id, key fingerprint and
registered key version. With USER_ID, shows every key version stored for that
peer (fingerprint, pinned, verified); --refresh fetches them from the server
first.`,
		example: "  xchat keys show\n  xchat keys show --refresh 1002",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			asJSON := fs.Bool("json", false, "print the result as JSON")
			refresh := fs.Bool("refresh", false, "fetch the peer's keys from the server first")
			return func(ctx context.Context, a *app, args []string) error {
				e, err := a.openEngine(ctx, len(args) == 1 && *refresh)
				if err != nil {
					return err
				}
				if len(args) == 0 {
					return a.showOwnKeys(e, *asJSON)
				}
				return a.showPeerKeys(ctx, e, args[0], *refresh, *asJSON)
			}
		},
	})
	register(&command{
		name:    "keys verify",
		args:    "USER_ID",
		minArgs: 1, maxArgs: 1,
		summary: "compare safety numbers with a peer and mark their keys verified",
		help: `Fetches USER_ID's published keys and prints the safety number you share with
them. Compare it with the number they see (in person or over a channel you
trust); if it matches, confirm and their keys are marked verified. --yes marks
them verified without asking (only after comparing!).`,
		example: "  xchat keys verify 1002",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			yes := fs.Bool("yes", false, "mark verified without asking")
			return func(ctx context.Context, a *app, args []string) error {
				return a.verifyPeer(ctx, args[0], *yes)
			}
		},
		result: true,
	})
	register(&command{
		name:    "login",
		summary: "sign in with OAuth 2.0 (PKCE) and store the token",
		help: `Runs the OAuth 2.0 Authorization Code flow with PKCE: prints the authorization
URL on stderr (and opens it with $BROWSER when set), waits for the redirect on a
loopback port and stores the tokens in the keystore. Later commands use (and
refresh) the stored token unless --token or XCHAT_TOKEN is given. The account
must exist (xchat init).`,
		example: "  xchat login --client-id YOUR_CLIENT_ID\n" +
			"  xchat --api http://127.0.0.1:8080 login --client-id test \\\n" +
			"      --auth-url http://127.0.0.1:8080/i/oauth2/authorize --token-url http://127.0.0.1:8080/2/oauth2/token",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			oauth := oauthFlags(fs)
			return func(ctx context.Context, a *app, _ []string) error {
				cfg := oauth(a)
				if cfg == nil {
					return usagef("login", "--client-id is required (or set %s)", EnvClientID)
				}
				return a.login(ctx, cfg)
			}
		},
	})
	register(&command{
		name:    "export-keys",
		summary: "write a passphrase-protected backup of the private keys",
		help: `Writes the account's 64-byte private key backup (identity key || signing key,
the format of the official SDK's exportKeys) sealed under a backup passphrase
(XCHAT_BACKUP_PASSPHRASE or a prompt) with Argon2id and XChaCha20-Poly1305.
The file is written with -o, or to stdout when stdout is not a terminal.`,
		example: "  xchat export-keys -o alice.xckeys",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			out := fs.String("o", "", "output `FILE` (created with mode 0600; refuses to overwrite)")
			return func(ctx context.Context, a *app, _ []string) error {
				return a.exportKeys(ctx, *out)
			}
		},
	})
	register(&command{
		name:    "import-keys",
		args:    "FILE",
		minArgs: 1, maxArgs: 1,
		summary: "create an account from an export-keys backup",
		help: `Creates a new keystore in the account directory holding the private keys of a
backup made by export-keys (FILE, or - for stdin). The backup passphrase comes
from XCHAT_BACKUP_PASSPHRASE or a prompt, the new keystore's passphrase from
XCHAT_PASSPHRASE or a prompt. Run 'xchat keys register' afterwards unless
--key-version names the version the keys are already registered under.`,
		example: "  xchat --home ~/.xchat-restored import-keys --user-id 1001 alice.xckeys",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			userID := fs.String("user-id", "", "the account's X user `ID` (required)")
			version := fs.String("key-version", "", "public key `VERSION` the keys are registered under, if known")
			return func(ctx context.Context, a *app, args []string) error {
				if err := api.ValidateUserID(*userID); err != nil {
					return usagef("import-keys", "--user-id is required (a numeric user id)")
				}
				return a.importKeys(ctx, *userID, *version, args[0])
			}
		},
		result: true,
	})
	register(&command{
		name:    "passphrase change",
		summary: "change the keystore passphrase",
		help: `Re-encrypts the keystore's key under a new passphrase. The current passphrase
comes from XCHAT_PASSPHRASE or a prompt, the new one from XCHAT_NEW_PASSPHRASE
or a prompt (asked twice).`,
		example: "  xchat passphrase change",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			return func(ctx context.Context, a *app, _ []string) error {
				return a.changePassphrase(ctx)
			}
		},
	})
}

// newStore creates the account directory's keystore and returns it with
// fail, which closes and removes it again and returns its argument.
func (a *app) newStore(ctx context.Context) (db keystore.Store, fail func(error) error, err error) {
	db, err = a.openStore(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	path := storeFilePath(db)
	return db, func(err error) error {
		a.close()
		if path != "" {
			_ = os.Remove(path)
		}
		return err
	}, nil
}

// createAccount creates the keystore, runs create in it and prints the
// fingerprint. On failure the new keystore is removed again.
func (a *app) createAccount(ctx context.Context, create func(db keystore.Store) error) error {
	db, fail, err := a.newStore(ctx)
	if err != nil {
		return err
	}
	if err := create(db); err != nil {
		return fail(err)
	}
	if base := a.explicitAPI(); base != "" {
		if err := a.saveSettings(ctx, db, settings{APIURL: base}); err != nil {
			return fail(err)
		}
	}
	e, err := a.openEngine(ctx, false)
	if err != nil {
		return fail(err)
	}
	fp, err := e.Fingerprint()
	if err != nil {
		return fail(err)
	}
	a.infof("Created account %s in %s.\nNext: publish your keys with 'xchat keys register'.", e.UserID(), a.storeName())
	return a.result(map[string]string{"user_id": e.UserID(), "fingerprint": fp, "home": a.mustHome()}, fp)
}

func (a *app) mustHome() string {
	h, _ := a.homeDir()
	return h
}

func (a *app) showOwnKeys(e *session.Engine, asJSON bool) error {
	fp, err := e.Fingerprint()
	if err != nil {
		return err
	}
	v := e.PublicKeyVersion()
	if asJSON {
		return writeJSONLine(a.env.Stdout, map[string]any{"user_id": e.UserID(), "fingerprint": fp,
			"public_key_version": v, "registered": v != ""})
	}
	if v == "" {
		v = "(not registered: run 'xchat keys register')"
	}
	fmt.Fprintf(a.env.Stdout, "user id:      %s\nfingerprint:  %s\nkey version:  %s\n", e.UserID(), fp, v)
	return nil
}

func (a *app) showPeerKeys(ctx context.Context, e *session.Engine, userID string, refresh, asJSON bool) error {
	if err := api.ValidateUserID(userID); err != nil {
		return usagef("keys show", "invalid user id %q", userID)
	}
	if refresh {
		if _, err := e.RefreshPeers(ctx, userID); err != nil {
			return err
		}
	}
	p, err := e.Peer(ctx, userID)
	if err != nil {
		return err
	}
	if len(p.History) == 0 {
		return fmt.Errorf("no keys stored for user %s (use --refresh to fetch them)", userID)
	}
	type keyJSON struct {
		Version     string    `json:"version"`
		Fingerprint string    `json:"fingerprint"`
		Pinned      bool      `json:"pinned"`
		Verified    bool      `json:"verified"`
		FirstSeen   time.Time `json:"first_seen"`
	}
	var keys []keyJSON
	for _, k := range p.History {
		keys = append(keys, keyJSON{k.Version, k.Fingerprint, k.Pinned, k.Verified, k.FirstSeen})
	}
	if asJSON {
		return writeJSONLine(a.env.Stdout, map[string]any{"user_id": userID, "keys": keys, "changed": p.Changed})
	}
	fmt.Fprintf(a.env.Stdout, "user %s\n", userID)
	for _, k := range keys {
		var flags []string
		if k.Pinned {
			flags = append(flags, "pinned")
		}
		if k.Verified {
			flags = append(flags, markOK+" verified")
		} else {
			flags = append(flags, "unverified")
		}
		fmt.Fprintf(a.env.Stdout, "  version %s  %s  %s\n", k.Version, k.Fingerprint, strings.Join(flags, ", "))
	}
	if p.Changed {
		fmt.Fprintf(a.env.Stdout, "  WARNING: keys changed since first seen; verify with 'xchat keys verify %s'\n", userID)
	}
	return nil
}

func (a *app) verifyPeer(ctx context.Context, userID string, yes bool) error {
	if err := api.ValidateUserID(userID); err != nil {
		return usagef("keys verify", "invalid user id %q", userID)
	}
	e, err := a.openEngine(ctx, true)
	if err != nil {
		return err
	}
	if userID == e.UserID() {
		return usagef("keys verify", "%s is your own user id: verify other people's keys (show yours with 'xchat keys show')", userID)
	}
	if _, err := e.RefreshPeers(ctx, userID); err != nil {
		return err
	}
	sn, err := e.SafetyNumber(ctx, userID)
	if err != nil {
		return err
	}
	p, err := e.Peer(ctx, userID)
	if err != nil {
		return err
	}
	a.names(ctx)
	k := newestKey(p)
	w := a.env.Stdout
	if a.json {
		w = a.env.Stderr // the result object comes last, once decided
	}
	fmt.Fprintf(w, "Safety number with %s:\n  %s\n", a.label(userID), sn)
	if k != nil {
		fmt.Fprintf(w, "Their fingerprint: %s (key version %s)\n", k.Fingerprint, k.Version)
	}
	if !yes {
		ok, err := a.confirm(fmt.Sprintf("Does %s see the same safety number?", userID))
		if errors.Is(err, errNoTTY) {
			return errors.New("not marked verified: confirm on a terminal, or pass --yes after comparing the numbers")
		}
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not marked verified: the safety numbers were not confirmed")
		}
	}
	if err := e.Verify(ctx, userID, sn); err != nil {
		return err
	}
	a.infof("%s The keys of %s are marked verified.", markOK, a.label(userID))
	res := map[string]any{"user_id": userID, "safety_number": sn, "verified": true}
	if k != nil {
		res["fingerprint"], res["key_version"] = k.Fingerprint, k.Version
	}
	if a.json {
		return a.result(res, "")
	}
	return nil
}

// newestKey is the key set the safety number covers.
func newestKey(p *session.Peer) *session.PeerKey {
	if p.Pending != nil {
		return p.Pending
	}
	if p.Current != nil {
		return p.Current
	}
	if n := len(p.History); n > 0 {
		return &p.History[n-1]
	}
	return nil
}

// oauthFlags declares the OAuth 2.0 login flags (login, restore) on fs and
// returns the function that builds their configuration: nil when no client
// id is given (--client-id or XCHAT_CLIENT_ID).
func oauthFlags(fs *flag.FlagSet) func(a *app) *api.OAuthConfig {
	clientID := fs.String("client-id", "", "OAuth 2.0 client `ID` (env "+EnvClientID+")")
	authURL := fs.String("auth-url", api.DefaultAuthURL, "authorization endpoint `URL`")
	tokenURL := fs.String("token-url", api.DefaultTokenURL, "token endpoint `URL`")
	listen := fs.String("listen", api.DefaultLoopbackAddr, "loopback address `ADDR` for the redirect; X requires the exact callback registered with the app (default http://"+api.DefaultLoopbackAddr+api.DefaultCallbackPath+"); port 0 picks a free port")
	timeout := fs.Duration("timeout", api.DefaultLoginTimeout, "give up after this long")
	return func(a *app) *api.OAuthConfig {
		id := *clientID
		if id == "" {
			id = a.env.Getenv(EnvClientID)
		}
		if id == "" {
			return nil
		}
		return &api.OAuthConfig{ClientID: id, AuthURL: *authURL, TokenURL: *tokenURL,
			LoopbackAddr: *listen, Timeout: *timeout, HTTPClient: httpClient, Now: a.env.Now}
	}
}

func (a *app) login(ctx context.Context, cfg *api.OAuthConfig) error {
	db, err := a.openStore(ctx, false)
	if err != nil {
		return err
	}
	if err := a.loginTo(ctx, db, cfg); err != nil {
		return err
	}
	a.infof("%s Logged in; the token is stored (encrypted) in the keystore.", markOK)
	return nil
}

// loginTo runs the OAuth 2.0 login and stores the token (sealed) and the
// settings to refresh it in db.
func (a *app) loginTo(ctx context.Context, db keystore.Store, cfg *api.OAuthConfig) error {
	open := func(u string) {
		fmt.Fprintf(a.env.Stderr, "To authorize xchat, open this URL in your browser:\n\n  %s\n\nWaiting for the redirect…\n", u)
		if a.env.OpenBrowser != nil {
			if err := a.env.OpenBrowser(u); err != nil {
				a.warnf("could not open a browser: %v", err)
			}
		}
	}
	tok, err := api.LoopbackLogin(ctx, cfg, open)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	st, err := a.loadSettings(ctx, db)
	if err != nil {
		return err
	}
	st.OAuth = &oauthSettings{ClientID: cfg.ClientID, AuthURL: cfg.AuthURL, TokenURL: cfg.TokenURL}
	if base := a.explicitAPI(); base != "" {
		st.APIURL = base
	}
	if err := db.SetToken(ctx, storedToken(tok, cfg.Scopes)); err != nil {
		return err
	}
	return a.saveSettings(ctx, db, st)
}

// runBrowser runs $BROWSER with u, if set, without waiting for it.
func runBrowser(u string) error {
	b := os.Getenv(EnvBrowser)
	if b == "" {
		return nil
	}
	cmd := exec.Command(b, u)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

func (a *app) exportKeys(ctx context.Context, out string) error {
	if out == "" && a.env.StdoutIsTerminal {
		return usagef("export-keys", "refusing to write the backup to a terminal: use -o FILE")
	}
	e, err := a.openEngine(ctx, false)
	if err != nil {
		return err
	}
	pass, err := a.secret(EnvBackupPassphrase, "Backup passphrase: ", true)
	if err != nil {
		return err
	}
	defer clear(pass)
	blob, err := e.ExportBackup()
	if err != nil {
		return err
	}
	sealed, err := keystore.SealBackupFile(blob, pass)
	clear(blob)
	if err != nil {
		return err
	}
	if out == "" || out == "-" {
		_, err = a.env.Stdout.Write(sealed)
		return err
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("export-keys: %w", err)
	}
	if _, err := f.Write(sealed); err != nil {
		f.Close()
		return fmt.Errorf("export-keys: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export-keys: %w", err)
	}
	a.infof("Wrote the key backup of %s to %s. Keep it and its passphrase safe.", e.UserID(), out)
	return nil
}

func (a *app) importKeys(ctx context.Context, userID, version, file string) error {
	if version != "" && !decimal.Valid(version) {
		return usagef("import-keys", "invalid --key-version %q", version)
	}
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(io.LimitReader(a.env.Stdin, keystore.BackupFileSize+1))
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return fmt.Errorf("import-keys: %w", err)
	}
	pass, err := a.secret(EnvBackupPassphrase, "Backup passphrase: ", false)
	if err != nil {
		return err
	}
	blob, err := keystore.OpenBackupFile(data, pass)
	clear(pass)
	if err != nil {
		if errors.Is(err, keystore.ErrWrongPassphrase) {
			return fmt.Errorf("import-keys: %w of the backup file", errWrongPassphrase)
		}
		return fmt.Errorf("import-keys: %w", err)
	}
	defer blob.Zero()
	return a.createAccount(ctx, func(db keystore.Store) error {
		return session.ImportBackup(ctx, db, userID, blob, version)
	})
}

func (a *app) changePassphrase(ctx context.Context) error {
	if a.g.noPassphrase {
		return errors.New("this keystore has no passphrase (--no-passphrase)")
	}
	old, err := a.secret(EnvPassphrase, "Current keystore passphrase: ", false)
	if err != nil {
		return err
	}
	a.pass = old
	db, err := a.openStore(ctx, false)
	if err != nil {
		return err
	}
	newPass, err := a.secret(EnvNewPassphrase, "New keystore passphrase: ", true)
	if err != nil {
		return err
	}
	defer clear(newPass)
	file, ok := db.(*boltstore.DB)
	if !ok {
		return errors.New("passphrase change: only a keystore file can change its passphrase (migrate it to a file and back with 'xchat store migrate')")
	}
	if err := file.ChangePassphrase(old, newPass); err != nil {
		if errors.Is(err, keystore.ErrWrongPassphrase) {
			return errWrongPassphrase
		}
		return err
	}
	a.infof("%s Passphrase changed.", markOK)
	return nil
}
