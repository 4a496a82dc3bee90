package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"golang.org/x/oauth2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
)

// fakeClock is a manual clock whose sleep advances time instantly and
// records every requested delay.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	// Start at the real time so that context deadlines (which use the real
	// clock) and the fake clock agree at the start of a test.
	return &fakeClock{now: time.Now().Truncate(time.Second)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// maxRand makes the full-jitter backoff deterministic: always the ceiling.
func maxRand(n int64) int64 { return n - 1 }

// counter is an http.Handler wrapper counting requests.
type counter struct {
	n atomic.Int64
	h http.Handler
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.h.ServeHTTP(w, r)
}

func (c *counter) Count() int { return int(c.n.Load()) }

// newServer starts an httptest server and a client pointed at it, with a
// fake clock and deterministic jitter. Extra options come last.
func newServer(t testing.TB, h http.HandlerFunc, opts ...api.Option) (*api.Client, *counter, *fakeClock) {
	t.Helper()
	cnt := &counter{h: h}
	srv := httptest.NewServer(cnt)
	t.Cleanup(srv.Close)
	clk := newFakeClock()
	base := []api.Option{
		api.WithBaseURL(srv.URL),
		api.WithHTTPClient(srv.Client()),
		api.WithBearerToken("test-token-SECRET"),
		api.WithClock(clk.Now, clk.Sleep),
		api.WithRand(maxRand),
	}
	c, err := api.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c, cnt, clk
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, status int, p api.Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

const (
	aliceID = "1215441834412953600"
	bobID   = "1603419180975409153"
	groupID = "g1234567890123456789"
)

func validSendRequest(msgID string) *api.SendChatMessageRequest {
	return &api.SendChatMessageRequest{
		MessageID:                 msgID,
		EncodedMessageCreateEvent: "AAECAw==",
	}
}

var errTS = errors.New("token source broken")

type failingTS struct{}

func (failingTS) Token() (*oauth2.Token, error) { return nil, errTS }
