package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
)

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
func newServer(t testing.TB, h http.HandlerFunc, opts ...api.Option) (*api.Client, *counter, *testutil.Clock) {
	t.Helper()
	cnt := &counter{h: h}
	srv := httptest.NewServer(cnt)
	t.Cleanup(srv.Close)
	clk := testutil.NewClock()
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
