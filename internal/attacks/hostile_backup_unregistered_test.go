package attacks

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/xchat-go/xchat/emulator/realm"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/juicebox/proto"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/backup"
)

// Attacks on what a restore concludes from realms that say no backup is
// registered.

var backupUnregisteredAttacks = []attack{
	{"backup-realm-claims-unregistered-during-outage", attackBackupRealmClaimsUnregistered},
	{"backup-realm-unregisters-mid-restore", attackBackupRealmUnregistersMidRestore},
	{"backup-realm-locks-mid-restore", attackBackupRealmLocksMidRestore},
	{"backup-realm-claims-guesses-exhausted-during-outage", attackBackupRealmClaimsExhaustedDuringOutage},
}

// attackBackupRealmClaimsUnregistered: bob restores his backup on a new
// device while the hardware realm realm-east is unreachable; the software
// realm's Recover1 answer is rewritten to NotRegistered. The backup is
// intact on the two hardware realms (all a recovery needs), but reported
// as "no backup is registered", bob is told to set up a new account: new
// keys, and his old keys and history are given up for good.
func attackBackupRealmClaimsUnregistered(w *world) (string, error) {
	opt := fastBackups(w)
	bob := w.newUser("bob", true)
	if err := backup.Setup(w.ctx, bob.e, bob.client, []byte(backupPIN), opt); err != nil {
		return "", err
	}
	east := w.emu.Juicebox().Realm("realm-east")
	east.SetFaults(realm.Faults{Down: true})
	var lied atomic.Int32
	w.proxy.Add(hostile.Rule{Name: "recover1-unregistered", Method: http.MethodPost, Path: realm.PathPrefix + "realm-b/req",
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			r, err := proto.DecodeSecretsResponse(resp.Body)
			if err != nil || r.Kind != proto.Recover1 {
				return nil
			}
			lied.Add(1)
			lie := &proto.SecretsResponse{Kind: proto.Recover1, Status: proto.StatusNotRegistered}
			resp.Body, err = lie.Marshal()
			return err
		}})
	_, err := backup.Restore(w.ctx, keystore.NewMemory(), bob.client, bob.id, []byte(backupPIN), opt)
	if lied.Load() == 0 {
		return "", errorf("bob's restore never reached the software realm's Recover1")
	}
	switch {
	case errors.Is(err, juicebox.ErrNotRegistered):
		return "", errorf("one realm and an outage made an intact backup read as never set up: %v", err)
	case !errors.Is(err, juicebox.ErrTransient):
		return "", errorf("restore during the outage: %v", err)
	}
	east.SetFaults(realm.Faults{})
	w.proxy.Reset()
	if _, err := backup.Restore(w.ctx, keystore.NewMemory(), bob.client, bob.id, []byte(backupPIN), opt); err != nil {
		return "", errorf("the backup does not restore after the outage: %v", err)
	}
	return "reported as an outage: " + err.Error(), nil
}

// attackBackupRealmUnregistersMidRestore: as above, with realm-east down
// during bob's restore, but the software realm answers Recover1 honestly
// (bob's registration version) and only its Recover2 says NotRegistered.
// The restore then runs on the two realms that named the version, and one
// of them, contradicting itself, would decide it: "no backup".
func attackBackupRealmUnregistersMidRestore(w *world) (string, error) {
	opt := fastBackups(w)
	bob := w.newUser("bob", true)
	if err := backup.Setup(w.ctx, bob.e, bob.client, []byte(backupPIN), opt); err != nil {
		return "", err
	}
	east := w.emu.Juicebox().Realm("realm-east")
	east.SetFaults(realm.Faults{Down: true})
	var lied atomic.Int32
	w.proxy.Add(hostile.Rule{Name: "recover2-unregistered", Method: http.MethodPost, Path: realm.PathPrefix + "realm-b/req",
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			r, err := proto.DecodeSecretsResponse(resp.Body)
			if err != nil || r.Kind != proto.Recover2 {
				return nil
			}
			lied.Add(1)
			lie := &proto.SecretsResponse{Kind: proto.Recover2, Status: proto.StatusNotRegistered}
			resp.Body, err = lie.Marshal()
			return err
		}})
	_, err := backup.Restore(w.ctx, keystore.NewMemory(), bob.client, bob.id, []byte(backupPIN), opt)
	if lied.Load() == 0 {
		return "", errorf("bob's restore never reached the software realm's Recover2")
	}
	switch {
	case err == nil:
		return "", errorf("restore succeeded with one realm down and one lying")
	case errors.Is(err, juicebox.ErrNotRegistered):
		return "", errorf("a realm that named the registration, then denied it, made an intact backup read as never set up: %v", err)
	case !errors.Is(err, juicebox.ErrAssertion):
		return "", errorf("restore failed without naming the lying realm: %v", err)
	}
	east.SetFaults(realm.Faults{})
	w.proxy.Reset()
	if _, err := backup.Restore(w.ctx, keystore.NewMemory(), bob.client, bob.id, []byte(backupPIN), opt); err != nil {
		return "", errorf("the backup does not restore after the outage: %v", err)
	}
	return "reported as a protocol violation: " + err.Error(), nil
}

// attackBackupRealmLocksMidRestore: realm-east is down during bob's
// restore; the software realm names his registration in Recover1 (so it
// is not locked) and answers his right PIN's Recover2 with NoGuesses. The
// restore runs on the two realms that named the version, and the one
// contradicting itself would decide it: "locked, the keys cannot be
// recovered", for a backup intact on the hardware realms.
func attackBackupRealmLocksMidRestore(w *world) (string, error) {
	opt := fastBackups(w)
	bob := w.newUser("bob", true)
	if err := backup.Setup(w.ctx, bob.e, bob.client, []byte(backupPIN), opt); err != nil {
		return "", err
	}
	east := w.emu.Juicebox().Realm("realm-east")
	east.SetFaults(realm.Faults{Down: true})
	var lied atomic.Int32
	w.proxy.Add(hostile.Rule{Name: "recover2-locked", Method: http.MethodPost, Path: realm.PathPrefix + "realm-b/req",
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			r, err := proto.DecodeSecretsResponse(resp.Body)
			if err != nil || r.Kind != proto.Recover2 {
				return nil
			}
			lied.Add(1)
			lie := &proto.SecretsResponse{Kind: proto.Recover2, Status: proto.StatusNoGuesses}
			resp.Body, err = lie.Marshal()
			return err
		}})
	_, err := backup.Restore(w.ctx, keystore.NewMemory(), bob.client, bob.id, []byte(backupPIN), opt)
	if lied.Load() == 0 {
		return "", errorf("bob's restore never reached the software realm's Recover2")
	}
	switch {
	case err == nil:
		return "", errorf("restore succeeded with one realm down and one lying")
	case errors.Is(err, juicebox.ErrNoGuesses) || errors.Is(err, juicebox.ErrNotRegistered):
		return "", errorf("a realm that named the registration, then claimed it locked, made an intact backup read as lost: %v", err)
	case !errors.Is(err, juicebox.ErrAssertion):
		return "", errorf("restore failed without naming the lying realm: %v", err)
	}
	east.SetFaults(realm.Faults{})
	w.proxy.Reset()
	if _, err := backup.Restore(w.ctx, keystore.NewMemory(), bob.client, bob.id, []byte(backupPIN), opt); err != nil {
		return "", errorf("the backup does not restore after the outage: %v", err)
	}
	return "reported as a protocol violation: " + err.Error(), nil
}

// attackBackupRealmClaimsExhaustedDuringOutage: realm-east is down while
// bob mistypes his PIN; the software realm's Recover2 answer claims every
// guess used up. Only two realms answered, so the threshold-th largest
// count is the smallest: the one lie would read as "locked, the keys
// cannot be recovered", though the two hardware realms allow 19 more.
func attackBackupRealmClaimsExhaustedDuringOutage(w *world) (string, error) {
	opt := fastBackups(w)
	bob := w.newUser("bob", true)
	if err := backup.Setup(w.ctx, bob.e, bob.client, []byte(backupPIN), opt); err != nil {
		return "", err
	}
	east := w.emu.Juicebox().Realm("realm-east")
	east.SetFaults(realm.Faults{Down: true})
	var lied atomic.Int32
	w.proxy.Add(hostile.Rule{Name: "recover2-exhausted-outage", Method: http.MethodPost, Path: realm.PathPrefix + "realm-b/req",
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			r, err := proto.DecodeSecretsResponse(resp.Body)
			if err != nil || r.Kind != proto.Recover2 || r.Status != proto.StatusOK {
				return nil
			}
			lied.Add(1)
			r.Recover2.GuessCount = r.Recover2.NumGuesses
			resp.Body, err = r.Marshal()
			return err
		}})
	_, err := backup.Restore(w.ctx, keystore.NewMemory(), bob.client, bob.id, []byte("1111"), opt)
	if lied.Load() == 0 {
		return "", errorf("bob's restore never reached the software realm's Recover2")
	}
	var pe *juicebox.InvalidPinError
	switch {
	case errors.Is(err, juicebox.ErrNoGuesses):
		return "", errorf("one realm and an outage made a recoverable backup read as locked: %v", err)
	case !errors.As(err, &pe):
		return "", errorf("restore with a wrong PIN: %v", err)
	}
	east.SetFaults(realm.Faults{})
	w.proxy.Reset()
	if _, err := backup.Restore(w.ctx, keystore.NewMemory(), bob.client, bob.id, []byte(backupPIN), opt); err != nil {
		return "", errorf("the right PIN no longer restores: %v", err)
	}
	return fmt.Sprintf("wrong PIN reported with %d guesses remaining; the right PIN restores", pe.GuessesRemaining), nil
}
