package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/bot"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/pgtest"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// summary lines printed by TestMain (scripts/test.sh collects them).
var summary struct {
	sync.Mutex
	lines []string
}

func addSummary(line string) {
	summary.Lock()
	summary.lines = append(summary.lines, line)
	summary.Unlock()
}

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	summary.Lock()
	for _, l := range summary.lines {
		fmt.Println(l)
	}
	summary.Unlock()
	os.Exit(code)
}

// testNet is an in-process emulator served over loopback HTTP.
type testNet struct {
	t   testing.TB
	emu *emulator.Server
	srv *httptest.Server
}

func newNet(t testing.TB, opts ...emulator.Option) *testNet {
	t.Helper()
	emu := emulator.New(append([]emulator.Option{emulator.WithStreamHeartbeat(50 * time.Millisecond)}, opts...)...)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() {
		emu.EndStreams()
		srv.Close()
		_ = emu.Close()
	})
	return &testNet{t: t, emu: emu, srv: srv}
}

func (n *testNet) client(token string) *api.Client {
	n.t.Helper()
	c, err := api.New(api.WithBaseURL(n.srv.URL), api.WithBearerToken(token), api.WithHTTPClient(n.srv.Client()))
	if err != nil {
		n.t.Fatal(err)
	}
	return c
}

// app is a client with the emulator app's bearer token.
func (n *testNet) app() *api.Client {
	_, _, tok := n.emu.AppCredentials()
	return n.client(tok)
}

// account is one emulator user with its engine.
type account struct {
	n      *testNet
	id     string
	name   string
	token  string
	store  keystore.Store
	client *api.Client
	e      *session.Engine
}

// user provisions, creates, opens and registers an account.
func (n *testNet) user(name string) *account {
	n.t.Helper()
	ctx := context.Background()
	body, err := json.Marshal(api.ProvisionUserRequest{Username: name})
	if err != nil {
		n.t.Fatal(err)
	}
	resp, err := n.srv.Client().Post(n.srv.URL+"/emulator/v1/users", "application/json", bytes.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	var pr api.ProvisionUserResponse
	err = json.NewDecoder(resp.Body).Decode(&pr)
	resp.Body.Close()
	if err != nil || pr.ID == "" {
		n.t.Fatalf("provision %s: %v", name, err)
	}
	a := &account{n: n, id: pr.ID, name: name, token: pr.AccessToken, store: keystore.NewMemory(), client: n.client(pr.AccessToken)}
	if err := session.CreateAccount(ctx, a.store, a.id, nil); err != nil {
		n.t.Fatal(err)
	}
	a.open()
	if _, err := a.e.Register(ctx); err != nil {
		n.t.Fatal(err)
	}
	return a
}

// open (re)opens the account's engine on its store: a restart.
func (a *account) open() {
	a.n.t.Helper()
	e, err := session.Open(context.Background(), a.store, session.NewAPIServer(a.client))
	if err != nil {
		a.n.t.Fatal(err)
	}
	a.e = e
	a.n.t.Cleanup(func() { _ = e.Close() })
}

// send sends text to conversation (or user id) to.
func (a *account) send(ctx context.Context, to, text string) *session.Sent {
	a.n.t.Helper()
	s, err := a.e.SendText(ctx, to, text)
	if err != nil {
		a.n.t.Fatalf("%s sends %q: %v", a.name, text, err)
	}
	return s
}

// messages syncs conv and returns the verified messages from sender.
func (a *account) messages(ctx context.Context, conv, sender string) []event.Entry {
	a.n.t.Helper()
	if _, err := a.e.Sync(ctx, conv, nil); err != nil {
		a.n.t.Fatalf("%s syncs %s: %v", a.name, conv, err)
	}
	hist, err := a.e.History(ctx, conv, "", 0)
	if err != nil {
		a.n.t.Fatal(err)
	}
	var out []event.Entry
	for _, en := range hist {
		if en.Type == event.TypeMessage && en.SenderID == sender && en.Verified {
			out = append(out, en)
		}
	}
	return out
}

// waitMessages waits until conv holds want verified messages from sender
// (syncing as needed) and returns their texts.
func (a *account) waitMessages(ctx context.Context, conv, sender string, want int) []string {
	a.n.t.Helper()
	for {
		msgs := a.messages(ctx, conv, sender)
		if len(msgs) >= want {
			out := make([]string, len(msgs))
			for i, m := range msgs {
				out[i] = m.Text
			}
			return out
		}
		select {
		case <-ctx.Done():
			a.n.t.Fatalf("%s: %d of %d messages from %s in %s", a.name, len(msgs), want, sender, conv)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// record collects handler calls.
type record struct {
	mu      sync.Mutex
	calls   []call
	unver   []*bot.Unverified
	herrs   []error
	changed chan struct{}
}

type call struct {
	kind               bot.Kind
	conv, sender, text string
	command            string
	args               []string
	seq, mid           string
	mentioned, isGroup bool
}

func newRecord() *record { return &record{changed: make(chan struct{}, 1)} }

func (r *record) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *record) add(c *bot.Context) {
	r.mu.Lock()
	r.calls = append(r.calls, call{kind: c.Kind(), conv: c.Conversation(), sender: c.Sender(), text: c.Text(),
		command: c.Command(), args: c.Args(), seq: c.SequenceID(), mid: c.MessageID(), mentioned: c.Mentioned(), isGroup: c.IsGroup()})
	r.mu.Unlock()
	r.signal()
}

// hooks installs the recording hooks on b.
func (r *record) hooks(b *bot.Bot) {
	b.OnUnverified(func(_ context.Context, u *bot.Unverified) {
		r.mu.Lock()
		r.unver = append(r.unver, u)
		r.mu.Unlock()
		r.signal()
	})
	b.OnHandlerError(func(_ *bot.Context, err error) {
		r.mu.Lock()
		r.herrs = append(r.herrs, err)
		r.mu.Unlock()
		r.signal()
	})
}

func (r *record) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// waitFor waits until cond holds (checked under the lock).
func (r *record) waitFor(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timed out waiting for %s: calls %+v, unverified %v, handler errors %v", what, r.calls, r.unver, r.herrs)
		}
	}
}

// running is a bot started by start.
type running struct {
	b      *bot.Bot
	cancel context.CancelFunc
	done   chan error
}

// start runs b on src until stop.
func start(ctx context.Context, b *bot.Bot, src bot.Source) *running {
	rctx, cancel := context.WithCancel(ctx)
	r := &running{b: b, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- b.Run(rctx, src) }()
	return r
}

// waitReady waits for the bot's first reconciliation and connection.
func (r *running) waitReady(t testing.TB, ctx context.Context) {
	t.Helper()
	for !r.b.Ready() {
		select {
		case err := <-r.done:
			t.Fatalf("bot stopped before ready: %v", err)
		case <-ctx.Done():
			t.Fatal("bot never ready")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop ends Run and returns its error.
func (r *running) stop() error {
	r.cancel()
	return <-r.done
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// quiet is a logger that drops everything below Error (set XCHAT_BOT_LOG=1
// to see the bot's logs).
func quiet() *slog.Logger {
	if os.Getenv("XCHAT_BOT_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError}))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// echoBot returns a bot on a with !echo and the recording hooks.
func echoBot(a *account, rec *record, opts ...bot.Option) *bot.Bot {
	b := bot.New(a.e, append([]bot.Option{bot.WithLogger(quiet()), bot.WithName(a.name),
		bot.WithReconcile(0, 20*time.Millisecond)}, opts...)...)
	rec.hooks(b)
	b.Command("echo", func(c *bot.Context) error {
		rec.add(c)
		_, err := c.Reply(c.RawArgs())
		return err
	}, "say").Usage("TEXT").Describe("repeats TEXT")
	b.OnMessage(func(c *bot.Context) error { rec.add(c); return nil })
	return b
}

func joined(ss []string) string { return strings.Join(ss, "|") }

// stream is the bot's Activity stream source, subscribing the account.
func (n *testNet) stream(a *account) bot.Source { return bot.Stream(n.app(), a.client) }
