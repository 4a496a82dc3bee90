// Package sessiontest is the test harness of the packages built on the
// session engine (session/backup, session/realtime): an in-process
// emulator served over loopback HTTP and accounts opened on it. Package
// session's own tests keep theirs (they cannot import a package that
// imports session).
package sessiontest

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
)

// Net is an in-process emulator served over real loopback HTTP.
type Net struct {
	T   testing.TB
	Emu *emulator.Server
	Srv *httptest.Server
}

// NewNet starts an emulator with opts; the test's cleanup ends its streams
// and stops it.
func NewNet(t testing.TB, opts ...emulator.Option) *Net {
	t.Helper()
	emu := emulator.New(opts...)
	if err := emu.Err(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(func() {
		emu.EndStreams()
		srv.Close()
		_ = emu.Close()
	})
	return &Net{T: t, Emu: emu, Srv: srv}
}

// User is one registered account: its engine, store and API client.
type User struct {
	ID, Name, Token string
	E               *session.Engine
	Store           keystore.Store
	Client          *api.Client
}

// Provision creates a user on the emulator and returns id and token.
func (n *Net) Provision(name string) (id, token string) {
	n.T.Helper()
	return testutil.Provision(n.T, n.Srv.Client(), n.Srv.URL, name)
}

// Client is an API client with token that makes one attempt per call.
func (n *Net) Client(token string) *api.Client {
	n.T.Helper()
	c, err := api.New(api.WithBaseURL(n.Srv.URL), api.WithBearerToken(token), api.WithHTTPClient(n.Srv.Client()),
		api.WithMaxAttempts(1))
	if err != nil {
		n.T.Fatalf("api.New: %v", err)
	}
	return c
}

// AppClient is an API client holding the emulator app's bearer token.
func (n *Net) AppClient() *api.Client {
	_, _, tok := n.Emu.AppCredentials()
	return n.Client(tok)
}

// User provisions name, creates its account, opens it with opts and
// registers its keys.
func (n *Net) User(name string, opts ...session.Option) *User {
	n.T.Helper()
	ctx := context.Background()
	id, token := n.Provision(name)
	store := keystore.NewMemory()
	if err := session.CreateAccount(ctx, store, id, nil); err != nil {
		n.T.Fatalf("CreateAccount: %v", err)
	}
	c := n.Client(token)
	e, err := session.Open(ctx, store, session.NewAPIServer(c), opts...)
	if err != nil {
		n.T.Fatalf("Open: %v", err)
	}
	if _, err := e.Register(ctx); err != nil {
		n.T.Fatalf("Register %s: %v", name, err)
	}
	n.T.Cleanup(func() { _ = e.Close() })
	return &User{ID: id, Name: name, Token: token, E: e, Store: store, Client: c}
}

// Subscribe creates the chat subscriptions of u (user-context token), to
// the stream and, when webhookID is set, to that webhook.
func (n *Net) Subscribe(ctx context.Context, u *User, webhookID string, types ...string) {
	n.T.Helper()
	if len(types) == 0 {
		types = []string{api.EventChatReceived, api.EventChatSent, api.EventChatConversationJoin}
	}
	for _, typ := range types {
		_, _, err := u.Client.CreateActivitySubscription(ctx, &api.CreateActivitySubscriptionRequest{
			EventType: typ, Filter: api.ActivitySubscriptionFilter{UserID: u.ID}, Tag: u.Name, WebhookID: webhookID})
		if err != nil {
			n.T.Fatalf("subscribe %s to %s: %v", u.Name, typ, err)
		}
	}
}

// Ctx is a context that ends with the test or after a minute.
func Ctx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
