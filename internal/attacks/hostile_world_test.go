package attacks

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// world is one emulator reachable two ways: honestly (for the attacker's
// accomplices and honest peers) and through a hostile proxy (for the victim).
type world struct {
	t      testing.TB
	ctx    context.Context
	emu    *emulator.Server
	proxy  *hostile.Proxy
	honest *httptest.Server
	evil   *httptest.Server
}

func newWorld(t testing.TB, opts ...emulator.Option) *world {
	t.Helper()
	// A guard against a hang, not a time bound: the heaviest attacks
	// (participant-amplification-page) took 60 s on a 2-core machine
	// shared with five other test runs and printed a deadline as MISSED.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	emu := emulator.New(opts...)
	proxy := hostile.NewProxy(emu)
	w := &world{t: t, ctx: ctx, emu: emu, proxy: proxy,
		honest: httptest.NewServer(emu), evil: httptest.NewServer(proxy)}
	t.Cleanup(func() {
		cancel()
		w.evil.Close()
		w.honest.Close()
		_ = emu.Close()
		if err := proxy.Err(); err != nil {
			t.Errorf("hostile proxy: %v", err)
		}
	})
	return w
}

// user is one account with its engine.
type user struct {
	w       *world
	id      string
	token   string
	store   keystore.Store
	e       *session.Engine
	client  *api.Client
	mu      sync.Mutex
	changes []session.KeyChanged
}

// provision creates an emulator account.
func (w *world) provision(name string) (id, token string) {
	w.t.Helper()
	return testutil.Provision(w.t, nil, w.honest.URL, name)
}

func apiClient(t testing.TB, base, token string, opts ...api.Option) *api.Client {
	t.Helper()
	all := append([]api.Option{api.WithBaseURL(base), api.WithBearerToken(token), api.WithMaxAttempts(1)}, opts...)
	c, err := api.New(all...)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	return c
}

// newUser provisions, creates, opens and registers an account. victim
// selects the hostile path.
func (w *world) newUser(name string, victim bool, opts ...session.Option) *user {
	w.t.Helper()
	id, token := w.provision(name)
	store := keystore.NewMemory()
	if err := session.CreateAccount(w.ctx, store, id, nil); err != nil {
		w.t.Fatalf("CreateAccount: %v", err)
	}
	base := w.honest.URL
	if victim {
		base = w.evil.URL
	}
	u := &user{w: w, id: id, token: token, store: store, client: apiClient(w.t, base, token)}
	opts = append([]session.Option{session.WithKeyChangeHandler(func(k session.KeyChanged) {
		u.mu.Lock()
		u.changes = append(u.changes, k)
		u.mu.Unlock()
	})}, opts...)
	e, err := session.Open(w.ctx, store, session.NewAPIServer(u.client), opts...)
	if err != nil {
		w.t.Fatalf("Open: %v", err)
	}
	if _, err := e.Register(w.ctx); err != nil {
		w.t.Fatalf("Register %s: %v", name, err)
	}
	u.e = e
	w.t.Cleanup(func() { _ = e.Close() })
	return u
}

// keyChanges returns the KeyChanged reports received so far.
func (u *user) keyChanges() []session.KeyChanged {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.changes)
}

// keys returns the user's private key pair.
func (u *user) keys() *crypto.KeyPair {
	u.w.t.Helper()
	b, err := u.e.ExportBackup()
	if err != nil {
		u.w.t.Fatal(err)
	}
	kp, err := crypto.ParseBackup(b)
	clear(b)
	if err != nil {
		u.w.t.Fatal(err)
	}
	return kp
}

// convKey returns the user's conversation key of cid at version.
func (u *user) convKey(cid, version string) *crypto.ConversationKey {
	u.w.t.Helper()
	k, err := u.store.ConversationKey(u.w.ctx, cid, version)
	if err != nil {
		u.w.t.Fatalf("conversation key %s/%s: %v", cid, version, err)
	}
	ck := crypto.ConversationKey(k.Key)
	return &ck
}

// send sends texts and returns the results.
func (u *user) send(to string, texts ...string) []*session.Sent {
	u.w.t.Helper()
	var out []*session.Sent
	for _, s := range texts {
		r, err := u.e.SendText(u.w.ctx, to, s)
		if err != nil {
			u.w.t.Fatalf("SendText %q: %v", s, err)
		}
		out = append(out, r)
	}
	return out
}

// syncResult is what a victim's sync exposed.
type syncResult struct {
	res    *session.SyncResult
	err    error
	events []*event.Event
}

// byMessage returns the error of the event with message id mid (and
// whether it was seen).
func (s *syncResult) byMessage(mid string) (error, bool) {
	for _, ev := range s.events {
		if ev.MessageID == mid {
			return ev.Err, true
		}
	}
	return nil, false
}

// anyErr reports whether some event's error matches target.
func (s *syncResult) anyErr(target error) bool {
	for _, ev := range s.events {
		if errors.Is(ev.Err, target) {
			return true
		}
	}
	return false
}

// anomaly reports whether an anomaly of one of kinds was found.
func (s *syncResult) anomaly(kinds ...event.AnomalyKind) (event.Anomaly, bool) {
	if s.res == nil {
		return event.Anomaly{}, false
	}
	for _, a := range s.res.Anomalies {
		if slices.Contains(kinds, a.Kind) {
			return a, true
		}
	}
	return event.Anomaly{}, false
}

func (u *user) sync(cid string) *syncResult {
	out := &syncResult{}
	out.res, out.err = u.e.Sync(u.w.ctx, cid, func(ev *event.Event) error {
		out.events = append(out.events, ev)
		return nil
	})

	return out
}

// verifiedTexts returns the verified message texts of u's stored history.
func (u *user) verifiedTexts(cid string) []string {
	u.w.t.Helper()
	h, err := u.e.History(u.w.ctx, cid, "", 0)
	if err != nil {
		u.w.t.Fatalf("History: %v", err)
	}
	var out []string
	for _, en := range h {
		if en.Verified && en.Type == event.TypeMessage {
			out = append(out, en.Text)
		}
	}
	return out
}

// forgedShown returns an error when u's history shows any of the message
// ids as verified, or any verified entry with one of the forged texts.
func (u *user) forgedShown(cid string, mids []string, texts []string) error {
	h, err := u.e.History(u.w.ctx, cid, "", 0)
	if err != nil {
		return err
	}
	for _, en := range h {
		if !en.Verified {
			continue
		}
		if slices.Contains(mids, en.MessageID) {
			return errorf("tampered event %s stored as verified (%q)", en.MessageID, en.Text)
		}
		if en.Text != "" && slices.Contains(texts, en.Text) {
			return errorf("forged text %q stored as verified", en.Text)
		}
	}
	return nil
}

// serverEvents lists every envelope of a conversation as the honest
// server holds it (newest first), read by u over the honest path.
func (w *world) serverEvents(u *user, pathID string) []*tevent.MessageEvent {
	w.t.Helper()
	c := apiClient(w.t, w.honest.URL, u.token)
	var out []*tevent.MessageEvent
	for d, err := range c.ConversationEvents(w.ctx, pathID, &api.ConversationEventsOptions{MaxResults: 100}) {
		if err != nil {
			w.t.Fatalf("listing events: %v", err)
		}
		me, err := hostile.DecodeEvent(d.EncodedEvent)
		if err != nil {
			w.t.Fatalf("server event: %v", err)
		}
		out = append(out, me)
	}
	return out
}

// serverKeyChanges returns the key change envelopes of the newest page's
// metadata as the honest server serves them.
func (w *world) serverKeyChanges(u *user, pathID string) []*tevent.MessageEvent {
	w.t.Helper()
	c := apiClient(w.t, w.honest.URL, u.token)
	page, _, err := c.GetConversationEvents(w.ctx, pathID, &api.ConversationEventsOptions{MaxResults: 100})
	if err != nil {
		w.t.Fatalf("listing events: %v", err)
	}
	var out []*tevent.MessageEvent
	if page.Meta != nil {
		for _, b := range page.Meta.KeyChangeEvents() {
			me, err := hostile.DecodeEvent(b)
			if err != nil {
				w.t.Fatalf("key change: %v", err)
			}
			out = append(out, me)
		}
	}
	return out
}
