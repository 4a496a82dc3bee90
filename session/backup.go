package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/keystore"
)

// PIN-protected key backup (Juicebox), as X's apps use it: the secret is
// the account's identity ‖ signing private keys (the 64-byte backup blob),
// the user info is empty, the guess limit and realms come from the
// juicebox_config the X API returns to the account itself on its public
// keys. SetupBackup registers, RestoreAccount recovers on a new device,
// ChangeBackupPIN and DeleteBackup manage it.

// Errors of the backup workflows. The juicebox errors are re-exported so
// apps need only this package; test with errors.Is and errors.As.
var (
	// ErrNoBackupConfig reports an account record without juicebox_config.
	ErrNoBackupConfig = errors.New("session: the server returned no juicebox_config for the account")
	// ErrNoRegisteredKeys reports an account with no registered public
	// keys: there is nothing to restore.
	ErrNoRegisteredKeys = errors.New("session: the account has no registered public keys")
	// ErrBackupKeyMismatch reports a backup whose keys are not the
	// account's current registered keys; nothing was stored.
	ErrBackupKeyMismatch = errors.New("session: the backup does not hold the account's registered keys")
	// ErrKeysSuperseded reports keys that are no longer the account's
	// newest registered keys: backing them up would restore stale keys.
	ErrKeysSuperseded = errors.New("session: this device's keys are not the account's newest registered keys")
	// ErrBackupNotFound reports that no backup is registered.
	ErrBackupNotFound = juicebox.ErrNotRegistered
	// ErrBackupLocked reports a backup locked by too many wrong PINs. An
	// *InvalidPINError with no guesses remaining matches it too.
	ErrBackupLocked = juicebox.ErrNoGuesses
	// ErrWeakPIN reports a new PIN that X's rules refuse.
	ErrWeakPIN = juicebox.ErrWeakPIN
)

// InvalidPINError reports a wrong PIN and the guesses remaining.
type InvalidPINError = juicebox.InvalidPinError

// CheckNewPIN applies X's rules to a new PIN: at least four characters, not
// one repeated character, not a run of consecutive digits.
func CheckNewPIN(pin []byte) error { return juicebox.CheckNewPIN(pin) }

// BackupServer is the part of the X API the backup workflows need: the
// account's own key records, with juicebox_config. APIServer implements it.
type BackupServer interface {
	// OwnPublicKeys lists the registered public keys of userID (the
	// authenticated account) including juicebox_config
	// (GET /2/users/{id}/public_keys).
	OwnPublicKeys(ctx context.Context, userID string) (*api.GetUsersPublicKeyResponse, error)
}

var _ BackupServer = (*APIServer)(nil)

// OwnPublicKeys implements BackupServer.
func (s *APIServer) OwnPublicKeys(ctx context.Context, userID string) (*api.GetUsersPublicKeyResponse, error) {
	fields := append(append([]string(nil), publicKeyFields...), "juicebox_config")
	resp, _, err := s.Client.GetUserPublicKeys(ctx, userID, fields)
	if err = partialOK(resp != nil, err); err != nil {
		return nil, err
	}
	return resp, nil
}

// BackupOption configures a backup workflow.
type BackupOption func(*backupConfig)

type backupConfig struct {
	jb []juicebox.Option
}

// WithJuiceboxOptions passes options to the Juicebox client (timeouts, an
// HTTP client, or WithInsecureTestSettings against a test emulator).
func WithJuiceboxOptions(opts ...juicebox.Option) BackupOption {
	return func(c *backupConfig) { c.jb = append(c.jb, opts...) }
}

// backupValue names the keystore record of the last backup setup.
const backupValue = "session.backup"

// backupRecord is what the engine remembers about its backup.
type backupRecord struct {
	KeyVersion string    `json:"key_version"`
	SetUpAt    time.Time `json:"set_up_at"`
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

// ownKeys fetches and parses the account's key records, newest first.
// Records whose keys do not parse are skipped (they can match nothing).
func ownKeys(ctx context.Context, srv BackupServer, userID string) ([]keyRecord, error) {
	resp, err := srv.OwnPublicKeys(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("session: fetching the account's keys: %w", err)
	}
	var out []keyRecord
	for _, k := range resp.Data {
		if k.UserID != "" && k.UserID != userID {
			continue
		}
		rec, ok := parseKeyRecord(k)
		if ok {
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
	idRaw, err1 := decodeB64(k.PublicKey)
	sgRaw, err2 := decodeB64(k.SigningPublicKey)
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

// juiceboxClient builds the client for a record's juicebox_config.
func juiceboxClient(raw []byte, cfg *backupConfig) (*juicebox.Client, *juicebox.XConfig, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, ErrNoBackupConfig
	}
	x, err := juicebox.ParseXConfig(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("session: juicebox_config: %w", err)
	}
	c, err := juicebox.NewClient(x.Configuration, x.Tokens, cfg.jb...)
	if err != nil {
		return nil, nil, fmt.Errorf("session: %w", err)
	}
	return c, x, nil
}

func backupOptions(opts []BackupOption) *backupConfig {
	c := &backupConfig{}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c
}

// backupTarget resolves the engine's key record on the server: it must
// exist, hold this device's keys and be the newest.
func (e *Engine) backupTarget(ctx context.Context) (*crypto.KeyPair, *keyRecord, error) {
	kp, version, err := e.registered()
	if err != nil {
		return nil, nil, err
	}
	srv, ok := e.server.(BackupServer)
	if !ok || e.server == nil {
		return nil, nil, fmt.Errorf("%w: the server does not support key backup", ErrOffline)
	}
	recs, err := ownKeys(ctx, srv, e.userID)
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		return nil, nil, fmt.Errorf("%w: the server lists no keys for %s", ErrNotRegistered, e.userID)
	}
	if recs[0].version != version || !recs[0].matches(kp) {
		return nil, nil, fmt.Errorf("%w (newest is version %s, this device has %s)", ErrKeysSuperseded, recs[0].version, version)
	}
	return kp, &recs[0], nil
}

// SetupBackup backs the account's private keys up under pin (which must
// pass CheckNewPIN), replacing any earlier backup, with the guess limit of
// the account's juicebox_config. The keys must be registered and be the
// account's newest.
func (e *Engine) SetupBackup(ctx context.Context, pin []byte, opts ...BackupOption) error {
	if err := CheckNewPIN(pin); err != nil {
		return err
	}
	kp, rec, err := e.backupTarget(ctx)
	if err != nil {
		return err
	}
	c, x, err := juiceboxClient(rec.config, backupOptions(opts))
	if err != nil {
		return err
	}
	secret := kp.Backup()
	defer clear(secret)
	if err := c.Register(ctx, pin, secret, juicebox.XUserInfo, x.MaxGuessCount); err != nil {
		return fmt.Errorf("session: backup: %w", err)
	}
	return e.saveBackupRecord(ctx, &backupRecord{KeyVersion: rec.version, SetUpAt: e.now().UTC()})
}

func (e *Engine) saveBackupRecord(ctx context.Context, r *backupRecord) error {
	if r == nil {
		return e.store.SetValue(ctx, backupValue, nil)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return e.store.SetValue(ctx, backupValue, b)
}

// ChangeBackupPIN re-registers the backup under newPIN after proving
// oldPIN (a wrong old PIN costs a guess, as in the XDK). The backup must
// hold this device's keys.
func (e *Engine) ChangeBackupPIN(ctx context.Context, oldPIN, newPIN []byte, opts ...BackupOption) error {
	if err := CheckNewPIN(newPIN); err != nil {
		return err
	}
	kp, rec, err := e.backupTarget(ctx)
	if err != nil {
		return err
	}
	c, x, err := juiceboxClient(rec.config, backupOptions(opts))
	if err != nil {
		return err
	}
	got, err := c.Recover(ctx, oldPIN, juicebox.XUserInfo)
	if err != nil {
		return fmt.Errorf("session: backup: %w", err)
	}
	old, err := crypto.ParseBackup(got)
	clear(got)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBackupKeyMismatch, err)
	}
	same := old.Identity.Equal(kp.Identity) && old.Signing.Equal(kp.Signing)
	old.Zero()
	if !same {
		return fmt.Errorf("%w: it holds other keys than this device's; set it up again instead", ErrBackupKeyMismatch)
	}
	secret := kp.Backup()
	defer clear(secret)
	if err := c.Register(ctx, newPIN, secret, juicebox.XUserInfo, x.MaxGuessCount); err != nil {
		return fmt.Errorf("session: backup: %w", err)
	}
	return e.saveBackupRecord(ctx, &backupRecord{KeyVersion: rec.version, SetUpAt: e.now().UTC()})
}

// DeleteBackup removes the backup from every realm.
func (e *Engine) DeleteBackup(ctx context.Context, opts ...BackupOption) error {
	_, version, err := e.registered()
	if err != nil {
		return err
	}
	srv, ok := e.server.(BackupServer)
	if !ok || e.server == nil {
		return fmt.Errorf("%w: the server does not support key backup", ErrOffline)
	}
	recs, err := ownKeys(ctx, srv, e.userID)
	if err != nil {
		return err
	}
	var raw []byte
	for _, r := range recs {
		if r.version == version || raw == nil {
			raw = r.config
		}
	}
	c, _, err := juiceboxClient(raw, backupOptions(opts))
	if err != nil {
		return err
	}
	if err := c.Delete(ctx); err != nil {
		return fmt.Errorf("session: backup: %w", err)
	}
	return e.saveBackupRecord(ctx, nil)
}

// BackupStatus is what the realms say about the account's backup.
type BackupStatus struct {
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

// BackupStatus asks the realms about the backup without using a guess.
func (e *Engine) BackupStatus(ctx context.Context, opts ...BackupOption) (*BackupStatus, error) {
	if _, _, err := e.registered(); err != nil {
		return nil, err
	}
	srv, ok := e.server.(BackupServer)
	if !ok || e.server == nil {
		return nil, fmt.Errorf("%w: the server does not support key backup", ErrOffline)
	}
	recs, err := ownKeys(ctx, srv, e.userID)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrNoBackupConfig
	}
	c, x, err := juiceboxClient(recs[0].config, backupOptions(opts))
	if err != nil {
		return nil, err
	}
	realms, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	st := &BackupStatus{Realms: realms, RecoverThreshold: x.Configuration.RecoverThreshold, MaxGuessCount: x.MaxGuessCount}
	versions := map[[16]byte]int{}
	locked := 0
	for _, r := range realms {
		if r.Locked {
			locked++
		} else if r.Registered {
			versions[r.Version]++
		}
	}
	for _, n := range versions {
		st.Registered = st.Registered || n >= st.RecoverThreshold
	}
	st.Locked = !st.Registered && locked >= st.RecoverThreshold
	if b, err := e.store.Value(ctx, backupValue); err == nil {
		var r backupRecord
		if json.Unmarshal(b, &r) == nil {
			st.SetUpAt = r.SetUpAt
		}
	}
	return st, nil
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

// RestoreAccount recovers the account's private keys from its backup with
// pin and stores them in store (which must hold no account yet) as the
// account userID. The recovered keys must be the account's newest
// registered keys (the identity and signing public keys are compared
// before anything is stored); otherwise it fails with ErrBackupKeyMismatch
// and stores nothing. A wrong PIN fails with *InvalidPINError (guesses
// remaining), a locked backup with ErrBackupLocked. Open the store
// afterwards as usual.
func RestoreAccount(ctx context.Context, store keystore.Store, srv BackupServer, userID string, pin []byte, opts ...BackupOption) (*Restored, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	if store == nil || srv == nil {
		return nil, fmt.Errorf("%w: nil store or server", ErrInvalidArgument)
	}
	if _, err := store.Identity(ctx); err == nil {
		return nil, ErrAccountExists
	}
	recs, err := ownKeys(ctx, srv, userID)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrNoRegisteredKeys
	}
	newest := &recs[0]
	c, _, err := juiceboxClient(newest.config, backupOptions(opts))
	if err != nil {
		return nil, err
	}
	secret, err := c.Recover(ctx, pin, juicebox.XUserInfo)
	if err != nil {
		return nil, fmt.Errorf("session: restore: %w", err)
	}
	kp, err := crypto.ParseBackup(secret)
	clear(secret)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBackupKeyMismatch, err)
	}
	defer kp.Zero()
	if !newest.matches(kp) {
		for _, r := range recs[1:] {
			if r.matches(kp) {
				return nil, fmt.Errorf("%w: it holds the superseded keys of version %s (the account's keys are now version %s)", ErrBackupKeyMismatch, r.version, newest.version)
			}
		}
		return nil, fmt.Errorf("%w: its keys match none of the account's registered keys", ErrBackupKeyMismatch)
	}
	if err := putIdentity(ctx, store, userID, kp, newest.version); err != nil {
		return nil, err
	}
	return &Restored{UserID: userID, PublicKeyVersion: newest.version, Fingerprint: crypto.FingerprintString(kp.Identity.PublicKey())}, nil
}

// RegisteredKeys reports the newest public key version registered for
// userID and its fingerprint, or ErrNoRegisteredKeys. It lets a new
// install notice an account that already has keys (and a backup to
// restore) before creating new ones.
func RegisteredKeys(ctx context.Context, srv BackupServer, userID string) (version, fingerprint string, err error) {
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
