package backup_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/emulator/realm"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/backup"
	"github.com/xchat-go/xchat/session/event"
)

// testNet is an in-process emulator over loopback HTTP whose realms
// advertise the fast (test-only) PIN stretch.
type testNet struct {
	t   testing.TB
	srv *httptest.Server
}

// newNet starts an emulator whose backups allow maxGuesses guesses.
func newNet(t testing.TB, maxGuesses uint16) *testNet {
	t.Helper()
	emu := emulator.New(emulator.WithJuiceboxOptions(
		realm.WithPinHashingMode(juicebox.FastInsecure), realm.WithMaxGuesses(maxGuesses)))
	if err := emu.Err(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(func() {
		srv.Close()
		_ = emu.Close()
	})
	return &testNet{t: t, srv: srv}
}

// testBackup lets the Juicebox client accept the emulator's test settings.
var testBackup = backup.WithJuiceboxOptions(juicebox.WithInsecureTestSettings())

// user is one registered account: its engine and API client.
type user struct {
	id, token string
	e         *session.Engine
	c         *api.Client
}

// provision creates a user on the emulator and returns id and token.
func (n *testNet) provision(name string) (string, string) {
	n.t.Helper()
	return testutil.Provision(n.t, n.srv.Client(), n.srv.URL, name)
}

func (n *testNet) client(token string) *api.Client {
	n.t.Helper()
	c, err := api.New(api.WithBaseURL(n.srv.URL), api.WithBearerToken(token), api.WithHTTPClient(n.srv.Client()),
		api.WithMaxAttempts(1))
	if err != nil {
		n.t.Fatalf("api.New: %v", err)
	}
	return c
}

// user provisions, creates, opens and registers an account.
func (n *testNet) user(name string) *user {
	n.t.Helper()
	ctx := context.Background()
	id, token := n.provision(name)
	store := keystore.NewMemory()
	if err := session.CreateAccount(ctx, store, id, nil); err != nil {
		n.t.Fatalf("CreateAccount: %v", err)
	}
	c := n.client(token)
	e, err := session.Open(ctx, store, session.NewAPIServer(c))
	if err != nil {
		n.t.Fatalf("Open: %v", err)
	}
	if _, err := e.Register(ctx); err != nil {
		n.t.Fatalf("Register %s: %v", name, err)
	}
	n.t.Cleanup(func() { _ = e.Close() })
	return &user{id: id, token: token, e: e, c: c}
}

// restore recovers u's account into a fresh store (a new device).
func (n *testNet) restore(ctx context.Context, u *user, pin string) (keystore.Store, *backup.Restored, error) {
	store := keystore.NewMemory()
	r, err := backup.Restore(ctx, store, n.client(u.token), u.id, []byte(pin), testBackup)
	return store, r, err
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// texts returns the verified message texts of entries, in order.
func texts(entries []event.Entry) []string {
	var out []string
	for _, e := range entries {
		if e.Type == event.TypeMessage && e.Verified {
			out = append(out, e.Text)
		}
	}
	return out
}
