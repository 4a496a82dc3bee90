package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
)

// TestLoginStoresAndRefreshesToken logs in through the emulator's OAuth
// endpoints and checks when the next commands refresh the stored token.
// The CLI and the emulator share a manual clock, so the test tells
// refresh-on-expiry from refresh-always (a command just before expiry must
// keep the token) and from refresh-never (the emulator refuses the expired
// token, so a command just after must refresh it and store the new one).
func TestLoginStoresAndRefreshesToken(t *testing.T) {
	clk := testutil.NewClock()
	emu := emulator.New(emulator.WithClock(clk.Now), emulator.WithAccessTokenTTL(time.Hour))
	srv := httptest.NewServer(emu)
	defer func() { srv.Close(); _ = emu.Close() }()

	aliceID, aliceToken := testutil.Provision(t, nil, srv.URL, "alice")

	home := t.TempDir()
	run := func(args ...string) (int, string, string) {
		env, out, errb := testEnv(map[string]string{EnvNoPrompt: "1"}, nil)
		env.Now = clk.Now
		b := &emulatorBrowser{user: aliceID}
		env.OpenBrowser = b.open
		st := Run(context.Background(), append([]string{"--home", home, "--api", srv.URL, "--no-passphrase"}, args...), env)
		b.wait(t)
		return st, out.String(), errb.String()
	}
	if st, _, errb := run("init", "--user-id", aliceID); st != 0 {
		t.Fatalf("init: %d %s", st, errb)
	}
	st, out, errb := run("login", "--client-id", "cli-test", "--auth-url", srv.URL+"/i/oauth2/authorize",
		"--token-url", srv.URL+"/2/oauth2/token", "--timeout", "20s", "--listen", "127.0.0.1:0")
	if st != 0 || out != "" || !strings.Contains(errb, "Logged in") {
		t.Fatalf("login: %d stdout %q stderr %q", st, out, errb)
	}
	first := storedTok(t, home)
	if first.AccessToken == "" || first.RefreshToken == "" || first.AccessToken == aliceToken {
		t.Fatalf("stored token after login: access %v refresh %v", first.AccessToken != "", first.RefreshToken != "")
	}
	if !first.Expiry.Equal(clk.Now().Add(time.Hour)) {
		t.Fatalf("stored expiry %v, want an hour after %v on the shared clock", first.Expiry, clk.Now())
	}
	if strings.Contains(errb, first.AccessToken) || strings.Contains(errb, first.RefreshToken) {
		t.Fatal("login printed the token")
	}
	if st, _, errb := run("keys", "register"); st != 0 {
		t.Fatalf("register with the login token: %d %s", st, errb)
	}

	clk.Advance(time.Hour - time.Minute) // a minute before expiry
	if st, _, errb := run("conversations", "--json"); st != 0 {
		t.Fatalf("command before expiry: %d %s", st, errb)
	}
	if kept := storedTok(t, home); kept.AccessToken != first.AccessToken || kept.RefreshToken != first.RefreshToken {
		t.Fatal("the token was refreshed before it expired")
	}

	clk.Advance(2 * time.Minute) // a minute after expiry
	if st, _, errb := run("conversations", "--json"); st != 0 {
		t.Fatalf("command after expiry: %d %s", st, errb)
	}
	second := storedTok(t, home)
	if second.AccessToken == first.AccessToken || second.RefreshToken == first.RefreshToken {
		t.Error("the expired access token was not refreshed")
	}
	if !second.Expiry.Equal(clk.Now().Add(time.Hour)) {
		t.Errorf("refreshed expiry %v, want an hour after %v", second.Expiry, clk.Now())
	}
}

func storedTok(t *testing.T, home string) *keystore.Token {
	t.Helper()
	db, err := boltstore.Open(filepath.Join(home, storeFile), keystore.WithKey(noKey))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tok, err := db.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// emulatorBrowser stands in for the user's browser on the emulator's
// authorize page: it signs in as user (the emulator's emulator_user
// parameter) and follows the redirect back to the CLI's loopback callback.
type emulatorBrowser struct {
	user string
	done chan error // the browsing's outcome; nil until a page is opened
}

func (b *emulatorBrowser) open(u string) error {
	pu, err := url.Parse(u)
	if err != nil {
		return err
	}
	q := pu.Query()
	q.Set("emulator_user", b.user)
	pu.RawQuery = q.Encode()
	b.done = make(chan error, 1)
	go func() {
		r, err := http.Get(pu.String())
		if err == nil {
			r.Body.Close()
		}
		b.done <- err
	}()
	return nil
}

// wait fails t when a page was opened and browsing it failed.
func (b *emulatorBrowser) wait(t *testing.T) {
	t.Helper()
	if b.done == nil {
		return
	}
	if err := <-b.done; err != nil {
		t.Fatalf("browser: %v", err)
	}
}
