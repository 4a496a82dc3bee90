package cli

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/juicebox"
)

// TestRestoreSignsInOnFreshHome: on a new device there is no keystore to
// run 'xchat login' in, so 'restore --client-id' signs in with OAuth first:
// the keys come back with the account's fingerprint, the token is kept in
// the new keystore (a later command needs no --token), and no token is
// printed.
func TestRestoreSignsInOnFreshHome(t *testing.T) {
	emu := emulator.New()
	srv := httptest.NewServer(emu)
	defer func() { srv.Close(); _ = emu.Close() }()
	emu.Juicebox().SetServedSettings(juicebox.FastInsecure, 20)
	aliceID, aliceToken := testutil.Provision(t, nil, srv.URL, "alice")

	run := func(home string, env map[string]string, args ...string) (int, string, string) {
		env[EnvNoPrompt], env[EnvInsecureTestBackup], env[EnvPIN] = "1", "1", "2580"
		e, out, errb := testEnv(env, nil)
		b := &emulatorBrowser{user: aliceID}
		e.OpenBrowser = b.open
		st := Run(context.Background(), append([]string{"--home", home, "--api", srv.URL, "--no-passphrase"}, args...), e)
		b.wait(t)
		return st, out.String(), errb.String()
	}

	old := t.TempDir()
	withToken := map[string]string{EnvToken: aliceToken}
	if st, _, errb := run(old, withToken, "init", "--user-id", aliceID, "--new-keys"); st != 0 {
		t.Fatalf("init: %d %s", st, errb)
	}
	if st, _, errb := run(old, withToken, "keys", "register"); st != 0 {
		t.Fatalf("keys register: %d %s", st, errb)
	}
	if st, _, errb := run(old, withToken, "backup", "setup"); st != 0 {
		t.Fatalf("backup setup: %d %s", st, errb)
	}
	st, fp, errb := run(old, map[string]string{}, "keys", "show")
	if st != 0 {
		t.Fatalf("keys show: %d %s", st, errb)
	}

	fresh := t.TempDir()
	if st, _, errb := run(fresh, map[string]string{}, "restore", "--user-id", aliceID); st != 4 || !strings.Contains(errb, "--client-id") {
		t.Fatalf("restore without a token or client id: %d %s", st, errb)
	}
	st, out, errb := run(fresh, map[string]string{}, "restore", "--user-id", aliceID, "--client-id", "cli-test",
		"--auth-url", srv.URL+"/i/oauth2/authorize", "--token-url", srv.URL+"/2/oauth2/token", "--listen", "127.0.0.1:0")
	if st != 0 {
		t.Fatalf("restore --client-id: %d %s", st, errb)
	}
	if got, want := strings.TrimSpace(out), strings.TrimSpace(fp); !strings.Contains(want, got) || got == "" {
		t.Fatalf("restored fingerprint %q, the account's %q", got, want)
	}
	tok := storedTok(t, fresh)
	if tok.AccessToken == "" || tok.RefreshToken == "" || strings.Contains(errb, tok.AccessToken) {
		t.Fatalf("token after restore: stored %v, refresh %v, printed %v", tok.AccessToken != "", tok.RefreshToken != "", strings.Contains(errb, tok.AccessToken))
	}
	if st, _, errb := run(fresh, map[string]string{}, "conversations", "--json"); st != 0 {
		t.Fatalf("a command with the stored token: %d %s", st, errb)
	}
}
