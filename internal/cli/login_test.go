package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
)

// TestLoginStoresAndRefreshesToken logs in through the emulator's OAuth
// endpoints, lets the access token expire and checks that the next command
// refreshes it and saves the new token in the keystore.
func TestLoginStoresAndRefreshesToken(t *testing.T) {
	emu := emulator.New(emulator.WithAccessTokenTTL(2 * time.Second))
	srv := httptest.NewServer(emu)
	defer func() { srv.Close(); _ = emu.Close() }()

	body, _ := json.Marshal(emulator.ProvisionRequest{Username: "alice"})
	resp, err := http.Post(srv.URL+"/emulator/v1/users", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var pr emulator.ProvisionResponse
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	home := t.TempDir()
	run := func(args ...string) (int, string, string) {
		env, out, errb := testEnv(map[string]string{EnvNoPrompt: "1"}, nil)
		env.OpenBrowser = func(u string) error {
			pu, err := url.Parse(u)
			if err != nil {
				return err
			}
			q := pu.Query()
			q.Set("emulator_user", pr.ID)
			pu.RawQuery = q.Encode()
			go func() {
				if r, err := http.Get(pu.String()); err == nil {
					r.Body.Close()
				}
			}()
			return nil
		}
		st := Run(context.Background(), append([]string{"--home", home, "--api", srv.URL, "--no-passphrase"}, args...), env)
		return st, out.String(), errb.String()
	}
	if st, _, errb := run("init", "--user-id", pr.ID); st != 0 {
		t.Fatalf("init: %d %s", st, errb)
	}
	st, out, errb := run("login", "--client-id", "cli-test", "--auth-url", srv.URL+"/i/oauth2/authorize",
		"--token-url", srv.URL+"/2/oauth2/token", "--timeout", "20s", "--listen", "127.0.0.1:0")
	if st != 0 || out != "" || !strings.Contains(errb, "Logged in") {
		t.Fatalf("login: %d stdout %q stderr %q", st, out, errb)
	}
	first := storedTok(t, home)
	if first.AccessToken == "" || first.RefreshToken == "" || first.AccessToken == pr.AccessToken {
		t.Fatalf("stored token after login: access %v refresh %v", first.AccessToken != "", first.RefreshToken != "")
	}
	if strings.Contains(errb, first.AccessToken) || strings.Contains(errb, first.RefreshToken) {
		t.Fatal("login printed the token")
	}
	if st, _, errb := run("keys", "register"); st != 0 {
		t.Fatalf("register with the login token: %d %s", st, errb)
	}

	time.Sleep(2500 * time.Millisecond) // the access token expires
	if st, _, errb := run("keys", "register"); st != 0 {
		t.Fatalf("register after expiry: %d %s", st, errb)
	}
	second := storedTok(t, home)
	if second.AccessToken == first.AccessToken {
		t.Error("the expired access token was not refreshed")
	}
	if !second.Expiry.After(first.Expiry) {
		t.Errorf("expiry not moved forward: %v then %v", first.Expiry, second.Expiry)
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
