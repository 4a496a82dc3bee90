package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/session/backup"
)

// Environment variables of the backup commands.
const (
	// EnvPIN supplies the backup PIN (setup, restore, and the current PIN
	// of change-pin).
	EnvPIN = "XCHAT_PIN"
	// EnvNewPIN supplies the new PIN of "backup change-pin".
	EnvNewPIN = "XCHAT_NEW_PIN"
	// EnvInsecureTestBackup, when "1", lets the backup client accept what
	// only test servers offer: the FastInsecure PIN stretch and plain-HTTP
	// realms on non-loopback hosts. Never set it for a real account.
	EnvInsecureTestBackup = "XCHAT_INSECURE_TEST_BACKUP"
	// EnvRealmPins pins the Juicebox realms every backup command accepts
	// (juicebox.WithRealmPins): "ID" for a software realm, "ID:NOISEKEY" for
	// a hardware one (hex), separated by commas or spaces.
	EnvRealmPins = "XCHAT_REALM_PINS"
)

func init() {
	register(&command{
		name:    "backup setup",
		summary: "back up your private keys under a PIN (Juicebox)",
		help: `Backs the account's private keys up under a PIN, the way X's apps do: the
keys are split across the account's Juicebox realms (from the X API) and can be
recovered on a new device with the PIN alone ('xchat restore'). The PIN comes
from XCHAT_PIN or is asked twice on the terminal; it must have at least 4
characters, not all the same, and not be a run like 1234 or 9876. A limited
number of wrong PINs (20 on X) destroys the backup. The keys must be
registered ('xchat keys register'). An existing backup is only replaced with
--replace.`,
		example: "  xchat backup setup",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			replace := fs.Bool("replace", false, "replace an existing backup (its PIN stops working)")
			return func(ctx context.Context, a *app, _ []string) error {
				return a.backupSetup(ctx, *replace)
			}
		},
	})
	register(&command{
		name:    "backup status",
		summary: "show whether the keys are backed up, realm by realm",
		help: `Asks each of the account's Juicebox realms whether it holds the backup (this
uses no PIN guess) and prints what each said.`,
		example: "  xchat backup status\n  xchat backup status --json",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			asJSON := fs.Bool("json", false, "print JSON")
			return func(ctx context.Context, a *app, _ []string) error {
				return a.backupStatus(ctx, *asJSON)
			}
		},
	})
	register(&command{
		name:    "backup change-pin",
		summary: "change the backup's PIN",
		help: `Proves the current PIN (XCHAT_PIN or a prompt; a wrong one costs a guess) and
backs the keys up again under a new PIN (XCHAT_NEW_PIN or asked twice), which
must follow the same rules as for setup.`,
		example: "  xchat backup change-pin",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			return func(ctx context.Context, a *app, _ []string) error {
				return a.backupChangePIN(ctx)
			}
		},
	})
	register(&command{
		name:    "backup delete",
		summary: "delete the backup from every realm",
		help: `Deletes the backup from all of the account's Juicebox realms. Afterwards the
keys can no longer be restored with a PIN; keep this device (or an
export-keys file). Asks for confirmation on the terminal unless --yes.`,
		example: "  xchat backup delete --yes",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			yes := fs.Bool("yes", false, "delete without asking")
			return func(ctx context.Context, a *app, _ []string) error {
				return a.backupDelete(ctx, *yes)
			}
		},
	})
	register(&command{
		name:    "restore",
		summary: "restore the account's keys from its PIN backup (new device)",
		help: `Creates the keystore in a new account directory (--home) holding the account's
private keys recovered from its PIN backup. Needs a token: --token or
XCHAT_TOKEN, or --client-id (or XCHAT_CLIENT_ID) to sign in with OAuth 2.0
first, as 'xchat login' does, on a device that has no keystore yet (the
token is then kept in the new keystore). Needs the PIN (XCHAT_PIN or a
prompt). The recovered keys are
checked against the account's registered public keys before anything is
stored, so the fingerprint printed is the one your contacts know, and earlier
conversations can be read again. Each wrong PIN uses up one guess.`,
		example: "  xchat --home ~/.xchat-new restore --user-id 1001 --client-id YOUR_CLIENT_ID\n" +
			"  XCHAT_TOKEN=… xchat --home ~/.xchat-new restore --user-id 1001",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			userID := fs.String("user-id", "", "your X user `ID` (required)")
			oauth := oauthFlags(fs)
			return func(ctx context.Context, a *app, _ []string) error {
				if err := api.ValidateUserID(*userID); err != nil {
					return usagef("restore", "--user-id is required (a numeric user id)")
				}
				return a.restore(ctx, *userID, oauth(a))
			}
		},
	})
}

// backupOptions are the Juicebox client options of every backup command.
func (a *app) backupOptions() ([]backup.Option, error) {
	var opts []backup.Option
	if a.env.Getenv(EnvInsecureTestBackup) == "1" {
		opts = append(opts, backup.WithJuiceboxOptions(juicebox.WithInsecureTestSettings()))
	}
	if v := a.env.Getenv(EnvRealmPins); v != "" {
		pins, err := parseRealmPins(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvRealmPins, err)
		}
		opts = append(opts, backup.WithRealmPins(pins...))
	}
	return opts, nil
}

// parseRealmPins parses EnvRealmPins: entries separated by commas or
// spaces, each a realm id in hex, followed for a hardware realm by ":" and
// its Noise public key in hex.
func parseRealmPins(v string) ([]juicebox.RealmPin, error) {
	var pins []juicebox.RealmPin
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		idHex, keyHex, hardware := strings.Cut(f, ":")
		id, err := juicebox.ParseRealmID(idHex)
		if err != nil {
			return nil, fmt.Errorf("%q is not a realm id (32 hex digits)", idHex)
		}
		p := juicebox.RealmPin{ID: id}
		if hardware {
			if p.PublicKey, err = hex.DecodeString(keyHex); err != nil || len(p.PublicKey) != 32 {
				return nil, fmt.Errorf("realm %s: the Noise key is not 64 hex digits", id)
			}
		}
		pins = append(pins, p)
	}
	if len(pins) == 0 {
		return nil, errors.New("no realm pins")
	}
	return pins, nil
}

// readPIN returns the PIN from envName or a terminal prompt (twice when
// confirm is set). The caller clears it.
func (a *app) readPIN(envName, prompt string, confirm bool) ([]byte, error) {
	if v := a.env.Getenv(envName); v != "" {
		return []byte(v), nil
	}
	t, err := a.tty()
	if err != nil {
		return nil, fmt.Errorf("PIN needed: set %s or run in a terminal", envName)
	}
	if err := t.Prompt(prompt); err != nil {
		return nil, err
	}
	p, err := t.ReadPassword()
	if err != nil {
		return nil, fmt.Errorf("read PIN: %w", err)
	}
	if len(p) == 0 {
		return nil, errors.New("empty PIN")
	}
	if !confirm {
		return p, nil
	}
	if err := juicebox.CheckNewPIN(p); err != nil {
		clear(p)
		return nil, err
	}
	if err := t.Prompt("Repeat the PIN: "); err != nil {
		clear(p)
		return nil, err
	}
	q, err := t.ReadPassword()
	if err != nil {
		clear(p)
		return nil, fmt.Errorf("read PIN: %w", err)
	}
	same := bytes.Equal(p, q)
	clear(q)
	if !same {
		clear(p)
		return nil, errors.New("the PINs do not match")
	}
	return p, nil
}

func (a *app) backupSetup(ctx context.Context, replace bool) error {
	e, err := a.openEngine(ctx, true)
	if err != nil {
		return err
	}
	if !replace {
		bopts, err := a.backupOptions()
		if err != nil {
			return err
		}
		st, err := backup.Status(ctx, e, a.client, bopts...)
		if err != nil {
			return backupError(err)
		}
		if st.Registered {
			return errors.New("a backup already exists: change its PIN with 'xchat backup change-pin', or replace it with 'xchat backup setup --replace'")
		}
	}
	pin, err := a.readPIN(EnvPIN, "Backup PIN: ", true)
	if err != nil {
		return err
	}
	defer clear(pin)
	bopts, err := a.backupOptions()
	if err != nil {
		return err
	}
	if err := backup.Setup(ctx, e, a.client, pin, bopts...); err != nil {
		return backupError(err)
	}
	fp, _ := e.Fingerprint()
	a.infof("%s Your private keys are backed up under your PIN (fingerprint %s).\nOn a new device: xchat restore --user-id %s", markOK, fp, e.UserID())
	return nil
}

func (a *app) backupStatus(ctx context.Context, asJSON bool) error {
	e, err := a.openEngine(ctx, true)
	if err != nil {
		return err
	}
	bopts, err := a.backupOptions()
	if err != nil {
		return err
	}
	st, err := backup.Status(ctx, e, a.client, bopts...)
	if err != nil {
		return backupError(err)
	}
	state := "not backed up"
	switch {
	case st.Registered:
		state = "backed up"
	case st.Locked:
		state = "locked"
	}
	type realmJSON struct {
		Realm    string `json:"realm"`
		Hardware bool   `json:"hardware"`
		State    string `json:"state"`
		Error    string `json:"error,omitempty"`
	}
	var realms []realmJSON
	for _, r := range st.Realms {
		rj := realmJSON{Realm: r.Realm.String(), Hardware: r.Hardware, State: "not registered"}
		switch {
		case r.Err != nil:
			rj.State, rj.Error = "unreachable", r.Err.Error()
		case r.Locked:
			rj.State = "locked"
		case r.Registered:
			rj.State = "registered"
		}
		realms = append(realms, rj)
	}
	if asJSON {
		out := map[string]any{"state": state, "realms": realms, "recover_threshold": st.RecoverThreshold,
			"max_guess_count": st.MaxGuessCount}
		if !st.SetUpAt.IsZero() {
			out["set_up_at"] = st.SetUpAt.Format(time.RFC3339)
		}
		return writeJSONLine(a.env.Stdout, out)
	}
	fmt.Fprintf(a.env.Stdout, "backup:  %s (recovery needs %d of %d realms; %d wrong PINs lock it)\n", state, st.RecoverThreshold, len(st.Realms), st.MaxGuessCount)
	if !st.SetUpAt.IsZero() {
		fmt.Fprintf(a.env.Stdout, "set up:  %s (from this device)\n", st.SetUpAt.Format(time.RFC3339))
	}
	for _, r := range realms {
		kind := "software"
		if r.Hardware {
			kind = "hardware"
		}
		line := fmt.Sprintf("  realm %s (%s): %s", r.Realm, kind, r.State)
		if r.Error != "" {
			line += " (" + oneLine(r.Error) + ")"
		}
		fmt.Fprintln(a.env.Stdout, line)
	}
	return nil
}

func (a *app) backupChangePIN(ctx context.Context) error {
	e, err := a.openEngine(ctx, true)
	if err != nil {
		return err
	}
	old, err := a.readPIN(EnvPIN, "Current backup PIN: ", false)
	if err != nil {
		return err
	}
	defer clear(old)
	pin, err := a.readPIN(EnvNewPIN, "New backup PIN: ", true)
	if err != nil {
		return err
	}
	defer clear(pin)
	bopts, err := a.backupOptions()
	if err != nil {
		return err
	}
	if err := backup.ChangePIN(ctx, e, a.client, old, pin, bopts...); err != nil {
		return backupError(err)
	}
	a.infof("%s The backup's PIN is changed.", markOK)
	return nil
}

func (a *app) backupDelete(ctx context.Context, yes bool) error {
	e, err := a.openEngine(ctx, true)
	if err != nil {
		return err
	}
	if !yes {
		ok, err := a.confirm("Delete the PIN backup of your keys from every realm?")
		if errors.Is(err, errNoTTY) {
			return errors.New("not deleted: confirm on a terminal, or pass --yes")
		}
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not deleted")
		}
	}
	bopts, err := a.backupOptions()
	if err != nil {
		return err
	}
	if err := backup.Delete(ctx, e, a.client, bopts...); err != nil {
		return backupError(err)
	}
	a.infof("%s The backup is deleted. Keep this device or an export-keys file: the keys can no longer be restored with a PIN.", markOK)
	return nil
}

// restore creates the account directory's keystore from the PIN backup.
// On any failure the new keystore is removed again.
func (a *app) restore(ctx context.Context, userID string, login *api.OAuthConfig) error {
	if login == nil && a.g.token == "" && a.env.Getenv(EnvToken) == "" {
		return fmt.Errorf("%w: restore needs to sign in: pass --client-id (or set %s) to sign in with OAuth 2.0 now, or --token (or set %s)", errNotLoggedIn, EnvClientID, EnvToken)
	}
	db, fail, err := a.newStore(ctx)
	if err != nil {
		return err
	}
	if login != nil && a.g.token == "" && a.env.Getenv(EnvToken) == "" {
		// A new device has no keystore to log in to before this one.
		if err := a.loginTo(ctx, db, login); err != nil {
			return fail(err)
		}
	}
	c, err := a.newClient(ctx, db)
	if err != nil {
		return fail(err)
	}
	version, fp, err := backup.RegisteredKeys(ctx, c, userID)
	if err != nil {
		return fail(backupError(err))
	}
	a.infof("Restoring the keys of user %s (key version %s, fingerprint %s).", userID, version, fp)
	pin, err := a.readPIN(EnvPIN, "Backup PIN: ", false)
	if err != nil {
		return fail(err)
	}
	defer clear(pin)
	bopts, err := a.backupOptions()
	if err != nil {
		return fail(err)
	}
	r, err := backup.Restore(ctx, db, c, userID, pin, bopts...)
	if err != nil {
		return fail(backupError(err))
	}
	if base := a.explicitAPI(); base != "" {
		st, err := a.loadSettings(ctx, db)
		if err != nil {
			return fail(err)
		}
		st.APIURL = base
		if err := a.saveSettings(ctx, db, st); err != nil {
			return fail(err)
		}
	}
	a.infof("%s Restored the keys of user %s in %s; earlier conversations can be read again.", markOK, r.UserID, a.storeName())
	fmt.Fprintln(a.env.Stdout, r.Fingerprint)
	return nil
}

// backupError adds what the user needs to know to backup failures.
func backupError(err error) error {
	var pe *juicebox.InvalidPinError
	switch {
	case errors.As(err, &pe) && pe.GuessesRemaining > 0:
		return &exitError{status: ExitFailure, err: fmt.Errorf("wrong PIN: %d %s remaining before the backup is destroyed", pe.GuessesRemaining, plural(int(pe.GuessesRemaining), "guess", "guesses"))}
	case errors.Is(err, juicebox.ErrNoGuesses):
		return &exitError{status: ExitFailure, err: errors.New("the backup is locked: too many wrong PINs were entered, and its realms have destroyed it. " +
			"The keys cannot be recovered with a PIN any more: restore from an export-keys file or another device, " +
			"or start over with new keys ('xchat init --new-keys'; earlier conversations stay unreadable)")}
	case errors.Is(err, juicebox.ErrNotRegistered):
		return fmt.Errorf("no backup found: set one up on a device that has the keys with 'xchat backup setup' (%w)", err)
	case errors.Is(err, backup.ErrNoRegisteredKeys):
		return fmt.Errorf("the account has no registered keys, so there is nothing to restore: create them with 'xchat init' (%w)", err)
	case errors.Is(err, backup.ErrKeyMismatch):
		return fmt.Errorf("%w; nothing was stored", err)
	case errors.Is(err, backup.ErrKeysSuperseded):
		return fmt.Errorf("%w: the account registered other keys since; restore those with 'xchat restore' in a new --home", err)
	}
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// checkExistingKeys is run by init: if the account already has registered
// keys, creating new ones would lock the user out of every earlier
// conversation, so init offers to restore instead (or needs --new-keys).
// Without a token the check cannot be made and init proceeds.
func (a *app) checkExistingKeys(ctx context.Context, userID string) (restore bool, err error) {
	tok := a.g.token
	if tok == "" {
		tok = a.env.Getenv(EnvToken)
	}
	if tok == "" {
		a.infof("Note: without a token (--token or %s) init cannot check whether user %s already has keys; if it does, use 'xchat restore' instead.", EnvToken, userID)
		return false, nil
	}
	base := a.explicitAPI()
	if base == "" {
		base = api.DefaultBaseURL
	}
	c, err := api.New(api.WithBaseURL(base), api.WithBearerToken(tok))
	if err != nil {
		return false, err
	}
	version, fp, err := backup.RegisteredKeys(ctx, c, userID)
	if errors.Is(err, backup.ErrNoRegisteredKeys) {
		return false, nil
	}
	if err != nil {
		a.warnf("could not check whether user %s already has keys: %v", userID, err)
		return false, nil
	}
	a.infof("User %s already has registered keys (version %s, fingerprint %s).\nNew keys would replace them: your contacts would see a key change and the conversations so far would stay unreadable here.", userID, version, fp)
	ok, cerr := a.confirm("Restore your keys from your PIN backup instead (recommended)?")
	switch {
	case errors.Is(cerr, errNoTTY):
		return false, fmt.Errorf("user %s already has keys: restore them with 'xchat restore --user-id %s', or create new ones anyway with 'xchat init --user-id %s --new-keys'", userID, userID, userID)
	case cerr != nil:
		return false, cerr
	case ok:
		return true, nil
	}
	return false, errors.New("not created: run 'xchat init --new-keys' to replace the account's keys")
}
