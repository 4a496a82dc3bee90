// Package backup keeps a session account's private keys under a PIN with
// Juicebox, as X's apps do: Setup backs them up, Restore recovers them on a
// new device, ChangePIN, Delete and Status manage the backup.
//
// The secret is the account's 64-byte key blob (identity ‖ signing private
// keys, the one session.ImportBackup takes), the user info is empty, and
// the guess limit and realms come from the juicebox_config the X API
// returns to the account itself on its own public keys (Server). X's PIN
// rules (juicebox.CheckNewPIN) apply to new PINs; a wrong PIN costs one of
// the account's guesses, and the limit locks the backup for good.
//
// The server chooses the realms: a server that controls them all could
// brute-force the PIN offline. The juicebox client refuses configurations
// that would weaken the PIN stretch or the realms' majority (unless
// WithJuiceboxOptions says otherwise, for tests), and Restore stores the
// recovered keys only after checking they are the account's newest
// registered keys.
//
// That check compares two answers of the same server, so it catches a stale
// or foreign backup, not a server that controls both the realms it names
// and the key listing: such a server can make Restore store keys of its
// choosing (whose public halves it lists as the account's newest). A new
// device has nothing else to check them against; show Restored.Fingerprint
// so that the user can compare it with the fingerprint the old device
// showed (xchat keys show). Peers who pinned the real keys see a key change.
//
// # Errors
//
// Besides the engine's errors (xchat.ErrNotRegistered,
// xchat.ErrInvalidArgument, xchat.ErrAccountExists, ...), the
// workflows fail with these; test with errors.Is and errors.As:
//
//	Error                      Meaning                                       What the app should do
//	-------------------------  --------------------------------------------  ---------------------------------------
//	ErrNoConfig                the server sent no juicebox_config            backups are not offered to the account
//	ErrNoRegisteredKeys        the account has no registered keys            nothing to restore: create an account
//	ErrKeyMismatch             the backup holds keys other than the          set the backup up again from the device
//	                           account's newest registered keys              holding those keys; nothing was stored
//	ErrKeysSuperseded          this device's keys are no longer the          restore the newest keys (or register
//	                           account's newest                              new ones) before backing up
//	juicebox.ErrWeakPIN        the new PIN breaks X's rules                  ask for another PIN
//	*juicebox.InvalidPinError  wrong PIN; GuessesRemaining says how many     ask again, showing the guesses left
//	                           guesses are left
//	juicebox.ErrNoGuesses      the backup is locked by wrong PINs            the keys cannot be recovered
//	juicebox.ErrNotRegistered  no backup is registered                       offer to set one up
package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/wire"
)

// Errors of the backup workflows (see the package documentation).
var (
	// ErrNoConfig reports an account record without juicebox_config.
	ErrNoConfig = errors.New("backup: the server returned no juicebox_config for the account")
	// ErrNoRegisteredKeys reports an account with no registered public
	// keys: there is nothing to restore.
	ErrNoRegisteredKeys = errors.New("backup: the account has no registered public keys")
	// ErrKeyMismatch reports a backup whose keys are not the account's
	// current registered keys; nothing was stored.
	ErrKeyMismatch = errors.New("backup: the backup does not hold the account's registered keys")
	// ErrKeysSuperseded reports keys that are no longer the account's
	// newest registered keys: backing them up would restore stale keys.
	ErrKeysSuperseded = errors.New("backup: this device's keys are not the account's newest registered keys")
)

// Server is the part of the X API the workflows need: the account's own
// key records, with juicebox_config (GET /2/users/{id}/public_keys).
// *api.Client implements it.
type Server interface {
	GetUserPublicKeys(ctx context.Context, userID string, fields []string) (*api.GetUsersPublicKeyResponse, *api.Response, error)
}

// Option configures a workflow. An option given a value it cannot use makes
// the workflow fail with xchat.ErrInvalidArgument.
type Option func(*config) error

type config struct {
	jb []juicebox.Option
}

// WithJuiceboxOptions passes options to the Juicebox client (timeouts, an
// HTTP client, or WithInsecureTestSettings against a test emulator).
func WithJuiceboxOptions(opts ...juicebox.Option) Option {
	return func(c *config) error {
		for _, o := range opts {
			if o == nil {
				return fmt.Errorf("%w: WithJuiceboxOptions: nil option", xchat.ErrInvalidArgument)
			}
		}
		c.jb = append(c.jb, opts...)
		return nil
	}
}

// WithRealmPins pins the Juicebox realms the embedder trusts (see
// juicebox.WithRealmPins): a juicebox_config the server hands out, at setup,
// restore or any other workflow, that names an unpinned realm or a Noise key
// other than the pinned one is refused with juicebox.ErrRealmNotPinned
// before any request reaches a realm. Without pins the server's realms are
// taken as they come (SECURITY.md, "PIN-protected key backup").
func WithRealmPins(pins ...juicebox.RealmPin) Option {
	return WithJuiceboxOptions(juicebox.WithRealmPins(pins...))
}

func configure(opts []Option) (*config, error) {
	c := &config{}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", xchat.ErrInvalidArgument)
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// recordValue names the keystore record of the last setup (the name it had
// when the workflows were part of package session, so stores keep it).
const recordValue = "session.backup"

// record is what the account remembers about its backup.
type record struct {
	KeyVersion string    `json:"key_version"`
	SetUpAt    time.Time `json:"set_up_at"`
}

// Setup backs the account's private keys up under pin (which must pass
// juicebox.CheckNewPIN), replacing any earlier backup, with the guess limit
// of the account's juicebox_config. The keys must be registered and be the
// account's newest.
func Setup(ctx context.Context, e *session.Engine, srv Server, pin []byte, opts ...Option) error {
	t, err := begin(ctx, e, srv, pin, opts)
	if err != nil {
		return err
	}
	defer t.kp.Zero()
	return t.register(ctx, e, pin)
}

// ChangePIN re-registers the backup under newPIN after proving oldPIN (a
// wrong old PIN costs a guess, as in the XDK). The backup must hold this
// device's keys.
func ChangePIN(ctx context.Context, e *session.Engine, srv Server, oldPIN, newPIN []byte, opts ...Option) error {
	t, err := begin(ctx, e, srv, newPIN, opts)
	if err != nil {
		return err
	}
	defer t.kp.Zero()
	if err := holdsKeys(ctx, t.c, oldPIN, t.kp); err != nil {
		return err
	}
	return t.register(ctx, e, newPIN)
}

// registration is what Setup and ChangePIN register: this device's keys,
// the account's newest key record and its Juicebox client.
type registration struct {
	kp  *crypto.KeyPair
	rec *keyRecord
	c   *juicebox.Client
	x   *juicebox.XConfig
}

// begin checks the new PIN and resolves what a registration needs. The
// caller zeroes the key pair.
func begin(ctx context.Context, e *session.Engine, srv Server, newPIN []byte, opts []Option) (*registration, error) {
	if err := juicebox.CheckNewPIN(newPIN); err != nil {
		return nil, err
	}
	cfg, err := configure(opts)
	if err != nil {
		return nil, err
	}
	kp, rec, err := target(ctx, e, srv)
	if err != nil {
		return nil, err
	}
	c, x, err := client(rec.config, cfg)
	if err != nil {
		kp.Zero()
		return nil, err
	}
	return &registration{kp: kp, rec: rec, c: c, x: x}, nil
}

// register registers the keys under pin, replacing any registration, and
// records the setup.
func (t *registration) register(ctx context.Context, e *session.Engine, pin []byte) error {
	secret := t.kp.Backup()
	defer clear(secret)
	if err := t.c.Register(ctx, pin, secret, juicebox.XUserInfo, t.x.MaxGuessCount); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return saveRecord(ctx, e.Store(), &record{KeyVersion: t.rec.version, SetUpAt: time.Now().UTC()})
}

// holdsKeys recovers the backup with pin and checks it holds kp.
func holdsKeys(ctx context.Context, c *juicebox.Client, pin []byte, kp *crypto.KeyPair) error {
	got, err := c.Recover(ctx, pin, juicebox.XUserInfo)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	old, err := crypto.ParseBackup(got)
	clear(got)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeyMismatch, err)
	}
	same := old.Identity.Equal(kp.Identity) && old.Signing.Equal(kp.Signing)
	old.Zero()
	if !same {
		return fmt.Errorf("%w: it holds other keys than this device's; set it up again instead", ErrKeyMismatch)
	}
	return nil
}

// Delete removes the backup from every realm.
func Delete(ctx context.Context, e *session.Engine, srv Server, opts ...Option) error {
	cfg, err := configure(opts)
	if err != nil {
		return err
	}
	version, err := registeredVersion(e)
	if err != nil {
		return err
	}
	recs, err := ownKeys(ctx, srv, e.UserID())
	if err != nil {
		return err
	}
	var raw []byte
	for _, r := range recs {
		if r.version == version || raw == nil {
			raw = r.config
		}
	}
	c, _, err := client(raw, cfg)
	if err != nil {
		return err
	}
	if err := c.Delete(ctx); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return saveRecord(ctx, e.Store(), nil)
}

// State is what the realms say about the account's backup.
type State struct {
	// Registered: at least the recover threshold of realms agree on one
	// registration.
	Registered bool
	// Locked: the backup ran out of guesses.
	Locked bool
	// Realms is each realm's answer.
	Realms []juicebox.RealmStatus
	// RecoverThreshold is how many realms a recovery needs.
	RecoverThreshold int
	// MaxGuessCount is the guess limit new registrations get.
	MaxGuessCount uint16
	// SetUpAt is when this device last set the backup up (zero if never).
	SetUpAt time.Time
}

// Status asks the realms about the backup without using a guess.
func Status(ctx context.Context, e *session.Engine, srv Server, opts ...Option) (*State, error) {
	cfg, err := configure(opts)
	if err != nil {
		return nil, err
	}
	if _, err := registeredVersion(e); err != nil {
		return nil, err
	}
	recs, err := ownKeys(ctx, srv, e.UserID())
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrNoConfig
	}
	c, x, err := client(recs[0].config, cfg)
	if err != nil {
		return nil, err
	}
	realms, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	st := &State{Realms: realms, RecoverThreshold: x.Configuration.RecoverThreshold, MaxGuessCount: x.MaxGuessCount}
	st.Registered, st.Locked = agreement(realms, st.RecoverThreshold)
	if b, err := e.Store().Value(ctx, recordValue); err == nil {
		var r record
		if json.Unmarshal(b, &r) == nil {
			st.SetUpAt = r.SetUpAt
		}
	}
	return st, nil
}

// agreement reports whether threshold realms agree on one registration,
// and, if not, whether threshold realms are locked.
func agreement(realms []juicebox.RealmStatus, threshold int) (registered, locked bool) {
	versions := map[[16]byte]int{}
	nLocked := 0
	for _, r := range realms {
		if r.Locked {
			nLocked++
		} else if r.Registered {
			versions[r.Version]++
		}
	}
	for _, n := range versions {
		registered = registered || n >= threshold
	}
	return registered, !registered && nLocked >= threshold
}

// Restored describes an account restored from its backup.
type Restored struct {
	// UserID is the account.
	UserID string
	// PublicKeyVersion is the registered version the keys belong to.
	PublicKeyVersion string
	// Fingerprint is the identity key's fingerprint.
	Fingerprint string
}

// Restore recovers the account's private keys from its backup with pin and
// stores them in store (which must hold no account yet) as the account
// userID. The recovered keys must be the account's newest registered keys
// (the identity and signing public keys are compared before anything is
// stored); otherwise it fails with ErrKeyMismatch and stores nothing. A
// wrong PIN fails with *juicebox.InvalidPinError (guesses remaining), a
// locked backup with juicebox.ErrNoGuesses. Open the store afterwards with
// session.Open.
func Restore(ctx context.Context, store keystore.Store, srv Server, userID string, pin []byte, opts ...Option) (*Restored, error) {
	cfg, err := configure(opts)
	if err != nil {
		return nil, err
	}
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	if store == nil || srv == nil {
		return nil, fmt.Errorf("%w: nil store or server", xchat.ErrInvalidArgument)
	}
	if _, err := store.Identity(ctx); err == nil {
		return nil, xchat.ErrAccountExists
	}
	recs, err := ownKeys(ctx, srv, userID)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrNoRegisteredKeys
	}
	newest := &recs[0]
	c, _, err := client(newest.config, cfg)
	if err != nil {
		return nil, err
	}
	secret, err := c.Recover(ctx, pin, juicebox.XUserInfo)
	if err != nil {
		return nil, fmt.Errorf("backup: restore: %w", err)
	}
	defer clear(secret)
	kp, err := crypto.ParseBackup(secret)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyMismatch, err)
	}
	defer kp.Zero()
	if err := newestHolds(recs, kp); err != nil {
		return nil, err
	}
	if err := session.ImportBackup(ctx, store, userID, secret, newest.version); err != nil {
		return nil, err
	}
	return &Restored{UserID: userID, PublicKeyVersion: newest.version, Fingerprint: crypto.FingerprintString(kp.Identity.PublicKey())}, nil
}

// newestHolds checks that kp is the newest of recs (newest first), saying
// which older one it is otherwise.
func newestHolds(recs []keyRecord, kp *crypto.KeyPair) error {
	if recs[0].matches(kp) {
		return nil
	}
	for _, r := range recs[1:] {
		if r.matches(kp) {
			return fmt.Errorf("%w: it holds the superseded keys of version %s (the account's keys are now version %s)", ErrKeyMismatch, r.version, recs[0].version)
		}
	}
	return fmt.Errorf("%w: its keys match none of the account's registered keys", ErrKeyMismatch)
}

// RegisteredKeys reports the newest public key version registered for
// userID and its fingerprint, or ErrNoRegisteredKeys. It lets a new
// install notice an account that already has keys (and a backup to
// restore) before creating new ones.
func RegisteredKeys(ctx context.Context, srv Server, userID string) (version, fingerprint string, err error) {
	if err := checkUserID(userID); err != nil {
		return "", "", err
	}
	recs, err := ownKeys(ctx, srv, userID)
	if err != nil {
		return "", "", err
	}
	if len(recs) == 0 {
		return "", "", ErrNoRegisteredKeys
	}
	return recs[0].version, crypto.FingerprintString(recs[0].identity), nil
}

func checkUserID(id string) error {
	if !decimal.ValidID(id) {
		return fmt.Errorf("%w: user id %q is not a canonical decimal of 1-19 digits", xchat.ErrInvalidArgument, id)
	}
	return nil
}

// registeredVersion returns the engine's registered key version, or
// xchat.ErrNotRegistered.
func registeredVersion(e *session.Engine) (string, error) {
	if e == nil {
		return "", fmt.Errorf("%w: nil engine", xchat.ErrInvalidArgument)
	}
	if _, err := e.Fingerprint(); err != nil {
		return "", err // xchat.ErrClosed
	}
	v := e.PublicKeyVersion()
	if v == "" {
		return "", xchat.ErrNotRegistered
	}
	return v, nil
}

// target resolves the engine's key record on the server: it must exist,
// hold this device's keys and be the newest. The caller zeroes the key
// pair.
func target(ctx context.Context, e *session.Engine, srv Server) (*crypto.KeyPair, *keyRecord, error) {
	blob, err := e.ExportBackup()
	if err != nil {
		return nil, nil, err
	}
	version, err := registeredVersion(e)
	if err != nil {
		clear(blob)
		return nil, nil, err
	}
	kp, err := crypto.ParseBackup(blob)
	clear(blob)
	if err != nil {
		return nil, nil, err
	}
	recs, err := ownKeys(ctx, srv, e.UserID())
	if err == nil && len(recs) == 0 {
		err = fmt.Errorf("%w: the server lists no keys for %s", xchat.ErrNotRegistered, e.UserID())
	}
	if err == nil && (recs[0].version != version || !recs[0].matches(kp)) {
		err = fmt.Errorf("%w (newest is version %s, this device has %s)", ErrKeysSuperseded, recs[0].version, version)
	}
	if err != nil {
		kp.Zero()
		return nil, nil, err
	}
	return kp, &recs[0], nil
}

// keyRecord is one parsed registered key set of the account.
type keyRecord struct {
	version  string
	identity *crypto.PublicKey
	signing  *crypto.PublicKey
	config   []byte
}

// matches reports whether kp is this key set.
func (k *keyRecord) matches(kp *crypto.KeyPair) bool {
	return k.identity.Equal(kp.Identity.PublicKey()) && k.signing.Equal(kp.Signing.PublicKey())
}

// keyFields are the PublicKey fields the workflows read.
var keyFields = []string{"public_key", "public_key_version", "signing_public_key", "identity_public_key_signature", "juicebox_config"}

// ownKeys fetches and parses the account's key records, newest first.
// Records whose keys do not parse are skipped (they can match nothing).
func ownKeys(ctx context.Context, srv Server, userID string) ([]keyRecord, error) {
	if srv == nil {
		return nil, fmt.Errorf("%w: nil server", xchat.ErrInvalidArgument)
	}
	resp, _, err := srv.GetUserPublicKeys(ctx, userID, keyFields)
	var pe *api.PartialError
	if resp != nil && errors.As(err, &pe) {
		err = nil // problems about some records: the rest are checked one by one
	}
	if err != nil {
		return nil, fmt.Errorf("backup: fetching the account's keys: %w", err)
	}
	var out []keyRecord
	for _, k := range resp.Data {
		if k.UserID != "" && k.UserID != userID {
			continue
		}
		if rec, ok := parseKeyRecord(k); ok {
			out = append(out, rec)
		}
	}
	// Newest (numerically largest version) first.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && decimal.Less(out[j-1].version, out[j].version); j-- {
			out[j-1], out[j] = out[j], out[j-1]
		}
	}
	return out, nil
}

func parseKeyRecord(k api.PublicKey) (keyRecord, bool) {
	if !decimal.Valid(k.PublicKeyVersion) {
		return keyRecord{}, false
	}
	idRaw, err1 := wire.DecodeB64(k.PublicKey)
	sgRaw, err2 := wire.DecodeB64(k.SigningPublicKey)
	if err1 != nil || err2 != nil {
		return keyRecord{}, false
	}
	id, err1 := crypto.ParsePublicKey(idRaw)
	sg, err2 := crypto.ParsePublicKey(sgRaw)
	if err1 != nil || err2 != nil {
		return keyRecord{}, false
	}
	return keyRecord{version: k.PublicKeyVersion, identity: id, signing: sg, config: k.JuiceboxConfig}, true
}

// client builds the Juicebox client for a record's juicebox_config.
func client(raw []byte, cfg *config) (*juicebox.Client, *juicebox.XConfig, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, ErrNoConfig
	}
	x, err := juicebox.ParseXConfig(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("backup: juicebox_config: %w", err)
	}
	c, err := juicebox.NewClient(x.Configuration, x.Tokens, cfg.jb...)
	if err != nil {
		return nil, nil, fmt.Errorf("backup: %w", err)
	}
	return c, x, nil
}

// saveRecord records the setup (nil: the backup is gone).
func saveRecord(ctx context.Context, store keystore.Store, r *record) error {
	if r == nil {
		return store.SetValue(ctx, recordValue, nil)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return store.SetValue(ctx, recordValue, b)
}
