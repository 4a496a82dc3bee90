package cli

import (
	"context"
	"encoding/hex"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/juicebox"
)

// TestBackupRealmPinsEnv: with XCHAT_REALM_PINS set, 'backup setup'
// refuses a juicebox_config that differs from the pins (nothing reaches the
// realms) and goes through when it matches; malformed pins are an error
// naming the variable.
func TestBackupRealmPinsEnv(t *testing.T) {
	emu := emulator.New()
	srv := httptest.NewServer(emu)
	defer func() { srv.Close(); _ = emu.Close() }()
	set := emu.Juicebox()
	set.SetServedSettings(juicebox.FastInsecure, 20)
	aliceID, aliceToken := testutil.Provision(t, nil, srv.URL, "alice")
	home := t.TempDir()
	run := func(pins string, args ...string) (int, string) {
		env := map[string]string{EnvNoPrompt: "1", EnvInsecureTestBackup: "1", EnvPIN: "2580", EnvToken: aliceToken}
		if pins != "" {
			env[EnvRealmPins] = pins
		}
		e, _, errb := testEnv(env, nil)
		st := Run(context.Background(), append([]string{"--home", home, "--api", srv.URL, "--no-passphrase"}, args...), e)
		return st, errb.String()
	}
	var right, wrong []string
	for _, r := range set.Realms() {
		pin, other := r.ID().String(), r.ID().String()
		if k := r.PublicKey(); k != nil {
			pin += ":" + hex.EncodeToString(k)
			other += ":" + hex.EncodeToString(set.Realm("realm-west").PublicKey())
			if r.Name() == "realm-west" {
				other = r.ID().String() // stripped
			}
		}
		right, wrong = append(right, pin), append(wrong, other)
	}
	if st, errb := run("", "init", "--user-id", aliceID, "--new-keys"); st != 0 {
		t.Fatalf("init: %d %s", st, errb)
	}
	if st, errb := run("", "keys", "register"); st != 0 {
		t.Fatalf("keys register: %d %s", st, errb)
	}
	if st, errb := run("zz", "backup", "setup"); st == 0 || !strings.Contains(errb, EnvRealmPins) {
		t.Fatalf("setup with malformed pins: %d %s", st, errb)
	}
	st, errb := run(strings.Join(wrong, ","), "backup", "setup")
	if st == 0 || !strings.Contains(errb, "pinned realms") {
		t.Fatalf("setup against other pins: %d %s", st, errb)
	}
	for _, r := range set.Realms() {
		if rec := r.Record(set.Tenant(), aliceID); rec.NumGuesses != 0 {
			t.Fatalf("a refused setup registered on %s", r.Name())
		}
	}
	if st, errb := run(strings.Join(right, " "), "backup", "setup"); st != 0 {
		t.Fatalf("setup with matching pins: %d %s", st, errb)
	}
	for _, r := range set.Realms() {
		if rec := r.Record(set.Tenant(), aliceID); rec.NumGuesses == 0 {
			t.Fatalf("setup did not register on %s", r.Name())
		}
	}
}

func TestParseRealmPins(t *testing.T) {
	id, key := strings.Repeat("ab", 16), strings.Repeat("cd", 32)
	pins, err := parseRealmPins(" " + id + ":" + key + ", " + strings.Repeat("01", 16) + "\n")
	if err != nil || len(pins) != 2 || pins[0].ID.String() != id || hex.EncodeToString(pins[0].PublicKey) != key || pins[1].PublicKey != nil {
		t.Fatalf("parsed %+v, %v", pins, err)
	}
	for _, bad := range []string{"", " , ", id + ":", id + ":" + key[:62], "ab:" + key, id + ":" + key + "00"} {
		if _, err := parseRealmPins(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
