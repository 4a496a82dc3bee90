package attacks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator/realm"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/juicebox/proto"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/backup"
)

// Attacks on the PIN-protected key backup (Juicebox): the X API hands out
// juicebox_config unsigned, and the realms it names answer through it.

var backupRealmAttacks = []attack{
	{"backup-guess-limit-raised", attackBackupGuessLimitRaised},
	{"backup-realm-claims-wrong-pin-after-proof", attackBackupRealmClaimsWrongPIN},
	{"backup-realm-claims-guesses-exhausted", attackBackupRealmClaimsGuessesExhausted},
	{"backup-realm-claims-locked-during-outage", attackBackupRealmClaimsLockedDuringOutage},
}

// backupPIN is the victim's backup PIN in these attacks.
const backupPIN = "2580"

// fastBackups makes the emulator's realms advertise the test-only PIN
// stretch (the attacks are about realm answers, not Argon2id) and returns
// the backup option that lets the client accept it.
func fastBackups(w *world) backup.Option {
	w.emu.Juicebox().SetServedSettings(juicebox.FastInsecure, realm.DefaultMaxGuesses)
	return backup.WithJuiceboxOptions(juicebox.WithInsecureTestSettings())
}

// attackBackupGuessLimitRaised: the server raises max_guess_count in the
// victim's juicebox_config to 65,535 when bob sets up his backup. The
// realms (hardware ones included, whose operator cannot lift a limit once
// registered) enforce whatever the client registers: obeyed, the limit
// lets whoever holds the account's realm tokens try every 4-digit PIN
// online, and the hardware realms' guess limit protects nothing.
func attackBackupGuessLimitRaised(w *world) (string, error) {
	opt := fastBackups(w)
	bob := w.newUser("bob", true)
	w.proxy.Add(hostile.PublicKeys("raise-guess-limit", func(_ *http.Request, keys []api.PublicKey) ([]api.PublicKey, error) {
		for i := range keys {
			if len(keys[i].JuiceboxConfig) == 0 {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(keys[i].JuiceboxConfig, &m); err != nil {
				return nil, err
			}
			m["max_guess_count"] = 65535
			raw, err := json.Marshal(m)
			if err != nil {
				return nil, err
			}
			keys[i].JuiceboxConfig = raw
		}
		return keys, nil
	}))
	err := backup.Setup(w.ctx, bob.e, bob.client, []byte(backupPIN), opt)
	if w.proxy.Hits("raise-guess-limit") == 0 {
		return "", errorf("the server never served bob's juicebox_config")
	}
	if err != nil {
		if errors.Is(err, juicebox.ErrConfig) {
			return "setup refused: " + err.Error(), nil
		}
		return "", err
	}
	set := w.emu.Juicebox()
	for _, r := range set.Realms() {
		rec := r.Record(set.Tenant(), bob.id)
		if rec.NumGuesses == 0 || rec.NumGuesses > juicebox.MaxGuessCountLimit {
			return "", errorf("realm %s registered bob's backup with %d guesses", r.Name(), rec.NumGuesses)
		}
	}
	return "registered with the guess limit capped", nil
}

// realmLie rewrites one answer of the software realm realm-b: it returns
// the answer to serve in its place, or nil to leave r as it is.
type realmLie func(r *proto.SecretsResponse) *proto.SecretsResponse

// statusLie answers every request of kind with status alone.
func statusLie(kind proto.Kind, status proto.Status) realmLie {
	return func(r *proto.SecretsResponse) *proto.SecretsResponse {
		if r.Kind != kind {
			return nil // not the step this attack lies about
		}
		return &proto.SecretsResponse{Kind: kind, Status: status}
	}
}

// restoreUnderLie sets up bob's backup under backupPIN, takes the hardware
// realm realm-east down when outage is set, has lie rewrite realm-b's
// answers (the proxy rule called rule) and restores bob's backup on a new
// device with pin. It returns the restore's error and again, which restores
// with backupPIN on another new device, after ending the outage and the lie
// when over is set; err is set when the set-up failed or the restore never
// reached the lie.
func restoreUnderLie(w *world, rule string, outage bool, lie realmLie, pin string) (restoreErr error, again func(over bool) error, err error) {
	opt := fastBackups(w)
	bob := w.newUser("bob", true)
	if err := backup.Setup(w.ctx, bob.e, bob.client, []byte(backupPIN), opt); err != nil {
		return nil, nil, err
	}
	east := w.emu.Juicebox().Realm("realm-east")
	if outage {
		east.SetFaults(realm.Faults{Down: true})
	}
	var lied atomic.Int32
	w.proxy.Add(hostile.Rule{Name: rule, Method: http.MethodPost, Path: realm.PathPrefix + "realm-b/req",
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			r, err := proto.DecodeSecretsResponse(resp.Body)
			if err != nil {
				return nil
			}
			served := lie(r)
			if served == nil {
				return nil
			}
			lied.Add(1)
			resp.Body, err = served.Marshal()
			return err
		}})
	_, restoreErr = backup.Restore(w.ctx, keystore.NewMemory(), bob.client, bob.id, []byte(pin), opt)
	if lied.Load() == 0 {
		return nil, nil, errorf("bob's restore never reached the lie of %s", rule)
	}
	again = func(over bool) error {
		if over {
			east.SetFaults(realm.Faults{})
			w.proxy.Reset()
		}
		_, err := backup.Restore(w.ctx, keystore.NewMemory(), bob.client, bob.id, []byte(backupPIN), opt)
		return err
	}
	return restoreErr, again, nil
}

// attackBackupRealmClaimsWrongPIN: bob restores his backup on a new device
// with the right PIN. The server keeps one hardware realm unreachable and
// answers the software realm's last step (Recover3) with BadUnlockKeyTag
// and no guesses left, after the two realms' OPRF answers proved the PIN
// (the unlock key commitment matched). Reported as a wrong PIN, bob is
// told his backup is locked for good (or, with guesses left, to try other
// PINs: each attempt spends a guess on every realm until the backup is
// destroyed).
func attackBackupRealmClaimsWrongPIN(w *world) (string, error) {
	err, _, fail := restoreUnderLie(w, "recover3-bad-tag", true, statusLie(proto.Recover3, proto.StatusBadUnlockKeyTag), backupPIN)
	if fail != nil {
		return "", fail
	}
	var pe *juicebox.InvalidPinError
	switch {
	case err == nil:
		return "", errorf("restore succeeded with one realm down and one lying")
	case errors.As(err, &pe) || errors.Is(err, juicebox.ErrNoGuesses):
		return "", errorf("the right PIN was reported wrong: %v", err)
	case !errors.Is(err, juicebox.ErrAssertion):
		return "", errorf("restore failed without naming the lying realm: %v", err)
	}
	return "restore failed as a protocol violation: " + err.Error(), nil
}

// attackBackupRealmClaimsGuessesExhausted: bob mistypes his PIN while
// restoring. The server rewrites the software realm's Recover2 answer to
// say every guess is used up (guess_count = num_guesses); the two hardware
// realms say 19 remain, and two realms are all a recovery needs. Shown the
// smallest count, bob is told his backup is locked for good and gives his
// keys up, though the right PIN still recovers them.
func attackBackupRealmClaimsGuessesExhausted(w *world) (string, error) {
	return wrongPINUnderExhaustedLie(w, false)
}

// wrongPINUnderExhaustedLie restores bob's backup with a wrong PIN while
// realm-b's Recover2 answer claims every guess used up (with realm-east
// down when outage is set), then with the right PIN while the lie is
// still told: the lie must not read as a locked backup, and the right PIN
// must still restore.
func wrongPINUnderExhaustedLie(w *world, outage bool) (string, error) {
	rule := "recover2-exhausted"
	if outage {
		rule += "-outage"
	}
	err, again, fail := restoreUnderLie(w, rule, outage, func(r *proto.SecretsResponse) *proto.SecretsResponse {
		if r.Kind != proto.Recover2 || r.Status != proto.StatusOK {
			return nil
		}
		r.Recover2.GuessCount = r.Recover2.NumGuesses
		return r
	}, "1111")
	if fail != nil {
		return "", fail
	}
	var pe *juicebox.InvalidPinError
	switch {
	case errors.Is(err, juicebox.ErrNoGuesses):
		return "", errorf("one realm (realm-east down: %v) made a recoverable backup read as locked: %v", outage, err)
	case !errors.As(err, &pe):
		return "", errorf("restore with a wrong PIN: %v", err)
	}
	if err := again(outage); err != nil {
		return "", errorf("the right PIN no longer restores: %v", err)
	}
	return fmt.Sprintf("wrong PIN reported with %d guesses remaining; the right PIN restores", pe.GuessesRemaining), nil
}

// attackBackupRealmClaimsLockedDuringOutage: bob restores with the right
// PIN while the server keeps one hardware realm down and answers the
// software realm's Recover1 with NoGuesses. Recovery cannot proceed, but
// the backup is intact on the two hardware realms; reported as locked
// (ErrNoGuesses: "the keys cannot be recovered"), bob gives his keys up
// instead of trying again later.
func attackBackupRealmClaimsLockedDuringOutage(w *world) (string, error) {
	err, again, fail := restoreUnderLie(w, "recover1-locked", true, statusLie(proto.Recover1, proto.StatusNoGuesses), backupPIN)
	if fail != nil {
		return "", fail
	}
	switch {
	case errors.Is(err, juicebox.ErrNoGuesses):
		return "", errorf("one realm and an outage made an intact backup read as locked: %v", err)
	case !errors.Is(err, juicebox.ErrTransient):
		return "", errorf("restore during the outage: %v", err)
	}
	if err := again(true); err != nil {
		return "", errorf("the backup does not restore after the outage: %v", err)
	}
	return "reported as an outage: " + err.Error(), nil
}
