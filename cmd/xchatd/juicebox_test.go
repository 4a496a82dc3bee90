package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/backup"
)

// TestXchatdJuicebox: the binary serves the three realms and juicebox_config
// with the guess limit and PIN stretch its flags set.
func TestXchatdJuicebox(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "xchatd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "-juicebox-max-guesses", "0").CombinedOutput(); err == nil || !bytes.Contains(out, []byte("-juicebox-max-guesses")) {
		t.Fatalf("-juicebox-max-guesses 0 accepted: %s", out)
	}
	base, cmd := startXchatd(t, bin, "-addr", "127.0.0.1:0", "-juicebox-max-guesses", "7", "-juicebox-fast-insecure")
	id, token := provision(t, base, "alice")
	ctx := context.Background()
	c, err := api.New(api.WithBaseURL(base), api.WithBearerToken(token))
	if err != nil {
		t.Fatal(err)
	}
	store := keystore.NewMemory()
	if err := session.CreateAccount(ctx, store, id, nil); err != nil {
		t.Fatal(err)
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(c))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Register(ctx); err != nil {
		t.Fatal(err)
	}
	keys, _, err := c.GetUserPublicKeys(ctx, id, []string{"public_key_version", "juicebox_config"})
	if err != nil || len(keys.Data) != 1 {
		t.Fatalf("own keys: %v", err)
	}
	x, err := juicebox.ParseXConfig(keys.Data[0].JuiceboxConfig)
	if err != nil {
		t.Fatal(err)
	}
	if x.MaxGuessCount != 7 || x.Configuration.PinHashingMode != juicebox.FastInsecure {
		t.Fatalf("served %d guesses, %v", x.MaxGuessCount, x.Configuration.PinHashingMode)
	}
	opt := backup.WithJuiceboxOptions(juicebox.WithInsecureTestSettings())
	if err := backup.Setup(ctx, e, c, []byte("2580"), opt); err != nil {
		t.Fatal(err)
	}
	r, err := backup.Restore(ctx, keystore.NewMemory(), c, id, []byte("2580"), opt)
	fp := testutil.Must(e.Fingerprint())(t)
	if err != nil || r.Fingerprint != fp {
		t.Fatalf("restore through xchatd: %v", err)
	}
	stop(t, cmd)
}
