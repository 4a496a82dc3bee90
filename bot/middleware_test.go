package bot_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/bot"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestMiddleware: the rate limit lets two commands of a conversation
// through per minute of the bot's clock and refuses the third
// (ErrRateLimited, to OnHandlerError); after a minute one more passes.
// Recover turns a panic into ErrPanic; Logging logs the call without the
// message's text.
func TestMiddleware(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, echobot := n.user("alice"), n.user("echobot")
	clock := &fakeClock{now: time.Now()}
	var logs bytes.Buffer
	var lmu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		lmu.Lock()
		defer lmu.Unlock()
		return logs.Write(p)
	}), nil))
	rec := newRecord()
	b := echoBot(echobot, rec, bot.WithClock(clock.Now))
	b.Use(bot.Logging(logger), bot.Recover(), bot.RateLimit(2, time.Minute))
	b.Command("boom", func(c *bot.Context) error { rec.add(c); panic("kaboom") })
	r := start(ctx, b, n.stream(echobot))
	r.waitReady(t, ctx)

	conv := alice.send(ctx, echobot.id, "!echo secret one").ConversationID
	alice.send(ctx, conv, "!echo secret two")
	alice.send(ctx, conv, "!echo secret three") // over the limit
	rec.waitFor(t, ctx, "the refusal", func() bool { return len(rec.herrs) == 1 })
	clock.Add(time.Minute)
	alice.send(ctx, conv, "!boom")
	rec.waitFor(t, ctx, "the panic", func() bool { return len(rec.herrs) == 2 })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if got := texts(rec.snapshot()); strings.Join(got, "|") != "!echo secret one|!echo secret two|!boom" {
		t.Fatalf("handled %q", got)
	}
	if !errors.Is(rec.herrs[0], bot.ErrRateLimited) || !errors.Is(rec.herrs[1], bot.ErrPanic) {
		t.Fatalf("handler errors %v", rec.herrs)
	}
	if s := b.Stats(); s.Handled != 2 || s.Failed != 2 || s.RateLimited != 1 {
		t.Fatalf("stats %+v", s)
	}
	lmu.Lock()
	defer lmu.Unlock()
	out := logs.String()
	if strings.Contains(out, "secret") || !strings.Contains(out, "command=echo") || !strings.Contains(out, "bot: handler failed") {
		t.Fatalf("logs:\n%s", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestHealthAndWebhook: a bot fed by a webhook receiver (registered with
// the emulator, which posts each event signed with the app's secret)
// answers a command; its health endpoint says 503 before Run, ready and
// live during it, and the metrics count the handled command.
func TestHealthAndWebhook(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, echobot := n.user("alice"), n.user("echobot")
	consumer, client, _ := n.emu.AppCredentials()
	recv, err := api.NewWebhookReceiver(api.WebhookOptions{ConsumerSecret: []byte(consumer), OAuth2ClientSecret: []byte(client)})
	if err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(recv)
	defer hook.Close()
	defer recv.Close()
	rec := newRecord()
	b := echoBot(echobot, rec)
	health := httptest.NewServer(b.HealthHandler())
	defer health.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(health.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz before Run: %d", code)
	}
	src := &bot.WebhookSource{Receiver: recv, App: n.app(), User: echobot.client, URL: hook.URL}
	r := start(ctx, b, src)
	r.waitReady(t, ctx)
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(p); code != http.StatusOK {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	conv := alice.send(ctx, echobot.id, "!echo by webhook").ConversationID
	if got := joined(alice.waitMessages(ctx, conv, echobot.id, 1)); got != "by webhook" {
		t.Fatalf("alice read %q", got)
	}
	if st := recv.Stats(); st.Accepted == 0 || st.CRC == 0 {
		t.Fatalf("receiver %+v", st)
	}
	// The answer can be read before its handler has returned.
	rec.waitFor(t, ctx, "the handler's return", func() bool { return b.Stats().Handled == 1 })
	_, metrics := get("/metrics")
	for _, want := range []string{"xchat_bot_handled_total 1\n", "xchat_bot_ready 1\n", `xchat_bot_handler_seconds_bucket{le="+Inf"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if code, _ := get("/healthz"); code != http.StatusServiceUnavailable {
		t.Fatalf("healthz after Run: %d", code)
	}
}
