package attacks

import (
	"errors"

	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/juicebox/proto"
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
	err, again, fail := restoreUnderLie(w, "recover1-unregistered", true, statusLie(proto.Recover1, proto.StatusNotRegistered), backupPIN)
	if fail != nil {
		return "", fail
	}
	switch {
	case errors.Is(err, juicebox.ErrNotRegistered):
		return "", errorf("one realm and an outage made an intact backup read as never set up: %v", err)
	case !errors.Is(err, juicebox.ErrTransient):
		return "", errorf("restore during the outage: %v", err)
	}
	if err := again(true); err != nil {
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
	err, again, fail := restoreUnderLie(w, "recover2-unregistered", true, statusLie(proto.Recover2, proto.StatusNotRegistered), backupPIN)
	if fail != nil {
		return "", fail
	}
	switch {
	case err == nil:
		return "", errorf("restore succeeded with one realm down and one lying")
	case errors.Is(err, juicebox.ErrNotRegistered):
		return "", errorf("a realm that named the registration, then denied it, made an intact backup read as never set up: %v", err)
	case !errors.Is(err, juicebox.ErrAssertion):
		return "", errorf("restore failed without naming the lying realm: %v", err)
	}
	if err := again(true); err != nil {
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
	err, again, fail := restoreUnderLie(w, "recover2-locked", true, statusLie(proto.Recover2, proto.StatusNoGuesses), backupPIN)
	if fail != nil {
		return "", fail
	}
	switch {
	case err == nil:
		return "", errorf("restore succeeded with one realm down and one lying")
	case errors.Is(err, juicebox.ErrNoGuesses) || errors.Is(err, juicebox.ErrNotRegistered):
		return "", errorf("a realm that named the registration, then claimed it locked, made an intact backup read as lost: %v", err)
	case !errors.Is(err, juicebox.ErrAssertion):
		return "", errorf("restore failed without naming the lying realm: %v", err)
	}
	if err := again(true); err != nil {
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
	return wrongPINUnderExhaustedLie(w, true)
}
