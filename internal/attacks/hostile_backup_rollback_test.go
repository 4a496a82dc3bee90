package attacks

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator/realm"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/backup"
)

// Attacks on what a registration leaves behind: a realm may claim to
// store a registration it drops, and the server chooses the register
// threshold.

var backupRollbackAttacks = []attack{
	{"backup-new-pin-rolled-back-to-old", attackBackupNewPINRolledBack},
}

// lowerRegisterThreshold rewrites the register_threshold of every
// juicebox_config the server hands out to n.
func lowerRegisterThreshold(name string, n int) hostile.Rule {
	return hostile.PublicKeys(name, func(_ *http.Request, keys []api.PublicKey) ([]api.PublicKey, error) {
		for i := range keys {
			if len(keys[i].JuiceboxConfig) == 0 {
				continue
			}
			var x map[string]any
			if err := json.Unmarshal(keys[i].JuiceboxConfig, &x); err != nil {
				return nil, err
			}
			inner, _ := x["key_store_token_map_json"].(string)
			var cfg map[string]any
			if err := json.Unmarshal([]byte(inner), &cfg); err != nil {
				return nil, err
			}
			cfg["register_threshold"] = n
			b, err := json.Marshal(cfg)
			if err != nil {
				return nil, err
			}
			x["key_store_token_map_json"] = string(b)
			if keys[i].JuiceboxConfig, err = json.Marshal(x); err != nil {
				return nil, err
			}
		}
		return keys, nil
	})
}

// attackBackupNewPINRolledBack: bob backed his keys up under one PIN and
// sets the backup up again under a new one (the old PIN leaked). The
// server lowers register_threshold to 2 in the juicebox_config it serves,
// keeps the hardware realm realm-east unreachable, and the software realm
// realm-b answers Register2 "OK" but keeps serving the old registration.
// Setup reports success on two realms' word; only realm-west holds the new
// registration, and realm-b and realm-east, two of three, hold the old
// one: the old PIN still opens the backup, the new one no longer does.
func attackBackupNewPINRolledBack(w *world) (string, error) {
	opt := fastBackups(w)
	bob := w.newUser("bob", true)
	if err := backup.Setup(w.ctx, bob.e, bob.client, []byte(backupPIN), opt); err != nil {
		return "", errorf("setup: %v", err)
	}
	w.proxy.Add(lowerRegisterThreshold("register-threshold-2", 2))
	set := w.emu.Juicebox()
	set.Realm("realm-east").SetFaults(realm.Faults{Down: true})
	set.Realm("realm-b").SetFaults(realm.Faults{StaleVersion: true})
	const newPIN = "7391"
	err := backup.Setup(w.ctx, bob.e, bob.client, []byte(newPIN), opt)
	if w.proxy.Hits("register-threshold-2") == 0 {
		return "", errorf("the server never served bob's juicebox_config")
	}
	if err != nil {
		if errors.Is(err, juicebox.ErrTransient) || errors.Is(err, juicebox.ErrConfig) {
			return "setup under the new PIN refused: " + err.Error(), nil
		}
		return "", errorf("setup failed for another reason: %v", err)
	}
	// The setup "succeeded": the realms recover again, and the old PIN
	// opens what bob was told is now under the new one.
	set.Realm("realm-east").SetFaults(realm.Faults{})
	if _, rerr := backup.Restore(w.ctx, keystore.NewMemory(), bob.client, bob.id, []byte(backupPIN), opt); rerr == nil {
		return "", errorf("setup under a new PIN reported success, and the old PIN still restores bob's keys")
	}
	return "", errorf("setup reported success with one realm down and one not storing")
}
