package session

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// testNet is an in-process emulator served over real loopback HTTP.
type testNet struct {
	t   testing.TB
	emu *emulator.Server
	srv *httptest.Server
}

func newNet(t testing.TB, opts ...emulator.Option) *testNet {
	t.Helper()
	emu := emulator.New(opts...)
	if err := emu.Err(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(func() {
		srv.Close()
		_ = emu.Close()
	})
	return &testNet{t: t, emu: emu, srv: srv}
}

// testUser is one account: its engine, store and API client.
type testUser struct {
	id     string
	name   string
	token  string
	e      *Engine
	store  keystore.Store
	server Server
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
func (n *testNet) user(name string, opts ...Option) *testUser {
	n.t.Helper()
	return n.userWith(name, nil, opts...)
}

// userWith is user with a Server wrapper (for hostile tests).
func (n *testNet) userWith(name string, wrap func(Server) Server, opts ...Option) *testUser {
	n.t.Helper()
	ctx := context.Background()
	id, token := n.provision(name)
	store := keystore.NewMemory()
	if err := CreateAccount(ctx, store, id, nil); err != nil {
		n.t.Fatalf("CreateAccount: %v", err)
	}
	var srv Server = NewAPIServer(n.client(token))
	if wrap != nil {
		srv = wrap(srv)
	}
	e, err := Open(ctx, store, srv, opts...)
	if err != nil {
		n.t.Fatalf("Open: %v", err)
	}
	if _, err := e.Register(ctx); err != nil {
		n.t.Fatalf("Register %s: %v", name, err)
	}
	n.t.Cleanup(func() { _ = e.Close() })
	return &testUser{id: id, name: name, token: token, e: e, store: store, server: srv}
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

// actionEvent wraps a signed action (as the engine posts it) in the
// MessageEvent envelope a server would deliver, from sender in conv at
// sequence id seq, and returns it as padded base64.
func actionEvent(t testing.TB, a api.ActionSignature, seq, sender, conv string) string {
	t.Helper()
	raw, err := wire.DecodeB64(a.EncodedMessageEventDetail)
	if err != nil {
		t.Fatal(err)
	}
	detail, err := wire.DecodeMessageEventDetail(raw)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := crypto.DecodeSignature(a.MessageEventSignature.Signature)
	if err != nil {
		t.Fatal(err)
	}
	h := wire.Envelope{SequenceID: seq, MessageID: a.MessageID, SenderID: sender, ConversationID: conv}
	env, err := h.Encode(detail, wire.Signature(sig, a.MessageEventSignature.PublicKeyVersion, crypto.SignatureVersion))
	if err != nil {
		t.Fatal(err)
	}
	return wire.EncodeB64(env)
}
