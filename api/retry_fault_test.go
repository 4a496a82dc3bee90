package api_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
)

func TestRetry5xxIdempotentWithBackoff(t *testing.T) {
	var calls atomic.Int64
	c, cnt, clk := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			writeProblem(w, http.StatusServiceUnavailable, api.Problem{Type: api.ProblemInternalError, Title: "Service Unavailable"})
			return
		}
		writeJSON(w, 200, map[string]any{"data": []any{}, "meta": map[string]any{"result_count": 0}})
	}, api.WithBackoff(100*time.Millisecond, time.Second))
	_, resp, err := c.ListConversations(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cnt.Count() != 3 || resp.Attempts != 3 {
		t.Fatalf("calls=%d attempts=%d", cnt.Count(), resp.Attempts)
	}
	// maxRand picks the top of each full-jitter range: base, then 2*base.
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}
	got := clk.Sleeps()
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("sleeps = %v, want %v", got, want)
	}
}

func TestBackoffJitterIsBoundedAndCapped(t *testing.T) {
	var seen []int64
	var mu sync.Mutex
	rnd := func(n int64) int64 {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, n)
		return n / 2
	}
	c, cnt, clk := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}, api.WithBackoff(time.Second, 3*time.Second), api.WithMaxAttempts(5), api.WithRand(rnd))
	_, _, err := c.ListConversations(context.Background(), nil)
	var e *api.Error
	if !errors.As(err, &e) || e.StatusCode != 502 || cnt.Count() != 5 {
		t.Fatalf("err=%v calls=%d", err, cnt.Count())
	}
	// Ceilings 1s, 2s, 3s (capped), 3s; jitter draws from [0, ceiling].
	wantN := []int64{int64(time.Second) + 1, int64(2*time.Second) + 1, int64(3*time.Second) + 1, int64(3*time.Second) + 1}
	if len(seen) != len(wantN) {
		t.Fatalf("rand calls = %v", seen)
	}
	for i := range wantN {
		if seen[i] != wantN[i] {
			t.Errorf("rand[%d] bound = %d, want %d", i, seen[i], wantN[i])
		}
		if s := clk.Sleeps()[i]; s != time.Duration(wantN[i]/2) {
			t.Errorf("sleep[%d] = %v", i, s)
		}
	}
}

func TestNoRetryForNonIdempotent(t *testing.T) {
	for _, status := range []int{500, 503} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			c, cnt, clk := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
			_, _, err := c.InitializeGroup(context.Background())
			var e *api.Error
			if !errors.As(err, &e) || e.StatusCode != status {
				t.Fatalf("err = %v", err)
			}
			if cnt.Count() != 1 || len(clk.Sleeps()) != 0 {
				t.Fatalf("calls=%d sleeps=%v: non-idempotent call retried", cnt.Count(), clk.Sleeps())
			}
		})
	}
}

// A 429 means the server did not act: even a non-idempotent call is
// repeated once the limit resets.
func TestRetry429NonIdempotent(t *testing.T) {
	var calls atomic.Int64
	c, cnt, clk := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		writeJSON(w, 200, map[string]any{"data": map[string]string{"conversation_id": "g123"}})
	})
	if _, _, err := c.InitializeGroup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cnt.Count() != 2 || len(clk.Sleeps()) != 1 || clk.Sleeps()[0] < 3*time.Second {
		t.Fatalf("calls=%d sleeps=%v", cnt.Count(), clk.Sleeps())
	}
}

// Issue #13 item 7: the spec does not promise that a repeated message_id is
// de-duplicated, so the client never repeats a send or a key change whose
// first attempt may have reached the server (5xx, or a reset after the
// request left); the engine looks for it first (package session).
func TestMessageIDWritesNotRepeatedAfterAmbiguousFailure(t *testing.T) {
	calls := map[string]func(c *api.Client) error{
		"sendChatMessage": func(c *api.Client) error {
			_, _, err := c.SendMessage(context.Background(), groupID, validSendRequest("msg-77"))
			return err
		},
		"addConversationKeys": func(c *api.Client) error {
			_, _, err := c.AddConversationKeys(context.Background(), groupID, &api.AddConversationKeysRequest{
				ConversationKeyVersion:      "2",
				ConversationParticipantKeys: []api.ConversationParticipantKey{{UserID: aliceID, EncryptedConversationKey: "AA==", PublicKeyVersion: "1"}},
			})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name+"/500", func(t *testing.T) {
			c, cnt, clk := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
			var e *api.Error
			if err := call(c); !errors.As(err, &e) || e.StatusCode != 500 {
				t.Fatalf("err = %v", err)
			}
			if cnt.Count() != 1 || len(clk.Sleeps()) != 0 {
				t.Fatalf("calls=%d sleeps=%v: repeated after a 5xx", cnt.Count(), clk.Sleeps())
			}
		})
		t.Run(name+"/reset", func(t *testing.T) {
			url, reqs := resetServer(t, 1, `{"data":{}}`)
			clk := testutil.NewClock()
			c, err := api.New(api.WithBaseURL(url), api.WithBearerToken("t"), api.WithClock(clk.Now, clk.Sleep),
				api.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
			if err != nil {
				t.Fatal(err)
			}
			if err := call(c); err == nil {
				t.Fatal("no error after a reset")
			}
			if reqs.Load() != 1 {
				t.Fatalf("sent %d times after a reset", reqs.Load())
			}
		})
	}
}

// A DELETE repeated after an attempt that may have arrived (its connection
// reset after the request left) and answered 404 has succeeded: the first
// attempt deleted it. A 404 on the first attempt is an error.
func TestRetriedDeleteNotFoundIsSuccess(t *testing.T) {
	url, reqs := resetServerThen(t, 1, func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, api.Problem{Type: "https://api.x.com/2/problems/resource-not-found", Title: "Not Found Error"})
	})
	clk := testutil.NewClock()
	c, err := api.New(api.WithBaseURL(url), api.WithBearerToken("t"), api.WithClock(clk.Now, clk.Sleep),
		api.WithRand(maxRand), api.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
	if err != nil {
		t.Fatal(err)
	}
	d, resp, err := c.DeleteDmEvent(context.Background(), "123")
	if err != nil || d == nil || !d.Deleted {
		t.Fatalf("retried delete answered 404: %+v, %v", d, err)
	}
	if reqs.Load() != 2 || resp.Attempts != 2 {
		t.Fatalf("requests=%d attempts=%d", reqs.Load(), resp.Attempts)
	}

	c2, cnt, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, api.Problem{Title: "Not Found Error"})
	})
	if _, _, err := c2.DeleteDmEvent(context.Background(), "123"); !errors.Is(err, api.ErrNotFound) || cnt.Count() != 1 {
		t.Fatalf("first-attempt 404: %v after %d calls", err, cnt.Count())
	}
}

func TestRetry429HonoursReset(t *testing.T) {
	clk := testutil.NewClock()
	reset := clk.Now().Add(42 * time.Second).Truncate(time.Second)
	var calls atomic.Int64
	c, cnt, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("x-rate-limit-limit", "10")
			w.Header().Set("x-rate-limit-remaining", "0")
			w.Header().Set("x-rate-limit-reset", strconv.FormatInt(reset.Unix(), 10))
			writeProblem(w, 429, api.Problem{Type: api.ProblemUsageCapped, Title: "Too Many Requests"})
			return
		}
		writeJSON(w, 200, map[string]any{"data": []any{}, "meta": map[string]any{"result_count": 0}})
	}, api.WithClock(clk.Now, clk.Sleep))
	start := clk.Now()
	if _, _, err := c.GetConversationEvents(context.Background(), groupID, nil); err != nil {
		t.Fatal(err)
	}
	if cnt.Count() != 2 {
		t.Fatalf("calls = %d", cnt.Count())
	}
	if waited := clk.Now().Sub(start); waited < reset.Sub(start) {
		t.Fatalf("waited %v, less than until reset %v", waited, reset.Sub(start))
	}
}

func TestRetry429HonoursRetryAfter(t *testing.T) {
	var calls atomic.Int64
	c, cnt, clk := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
			return
		}
		writeJSON(w, 200, map[string]any{"data": map[string]any{"blocked": true}})
	})
	d, _, err := c.BlockDms(context.Background(), bobID)
	if err != nil || !d.Blocked {
		t.Fatal(err)
	}
	if cnt.Count() != 2 || len(clk.Sleeps()) != 1 || clk.Sleeps()[0] < 7*time.Second {
		t.Fatalf("calls=%d sleeps=%v", cnt.Count(), clk.Sleeps())
	}
}

func TestRetry429FailFast(t *testing.T) {
	c, cnt, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(429)
	}, api.WithFailFast(true))
	ctx := context.Background()
	if _, _, err := c.ListConversations(ctx, nil); !errors.Is(err, api.ErrRateLimited) {
		t.Fatalf("err = %v", err)
	}
	// The Retry-After window is remembered: the next call is refused locally.
	if _, _, err := c.ListConversations(ctx, nil); !errors.Is(err, api.ErrRateLimited) {
		t.Fatalf("err = %v", err)
	}
	if cnt.Count() != 1 {
		t.Fatalf("calls = %d", cnt.Count())
	}
}

func TestRetryStopsAtDeadline(t *testing.T) {
	c, cnt, clk := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
	}, api.WithBackoff(10*time.Second, time.Minute))
	ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(5*time.Second))
	defer cancel()
	_, _, err := c.ListConversations(ctx, nil)
	var e *api.Error
	if !errors.As(err, &e) || e.StatusCode != 500 {
		t.Fatalf("err = %v", err)
	}
	if cnt.Count() != 1 || len(clk.Sleeps()) != 0 {
		t.Fatalf("calls=%d sleeps=%v: retried past the deadline", cnt.Count(), clk.Sleeps())
	}
}

// resetServer accepts connections and closes the first `drops` of them
// (with RST) before answering; later ones get a JSON 200.
func resetServer(t *testing.T, drops int64, body string) (string, *atomic.Int64) {
	t.Helper()
	return resetServerThen(t, drops, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	})
}

// resetServerThen accepts connections and closes the first `drops` of them
// (with RST) before answering; h answers the later ones.
func resetServerThen(t *testing.T, drops int64, h http.HandlerFunc) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var reqs atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reqs.Add(1) <= drops {
			hj, ok := w.(http.Hijacker)
			if !ok {
				t.Error("no hijacker")
				return
			}
			conn, _, err := hj.Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			conn.Close()
			return
		}
		h(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), &reqs
}

func TestRetryConnectionReset(t *testing.T) {
	url, reqs := resetServer(t, 2, `{"data":{"deleted":true}}`)
	clk := testutil.NewClock()
	c, err := api.New(api.WithBaseURL(url), api.WithBearerToken("t"), api.WithClock(clk.Now, clk.Sleep), api.WithRand(maxRand),
		api.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
	if err != nil {
		t.Fatal(err)
	}
	d, resp, err := c.DeleteDmEvent(context.Background(), "123")
	if err != nil || !d.Deleted {
		t.Fatalf("err = %v", err)
	}
	if reqs.Load() != 3 || resp.Attempts != 3 || len(clk.Sleeps()) != 2 {
		t.Fatalf("server requests=%d attempts=%d sleeps=%v", reqs.Load(), resp.Attempts, clk.Sleeps())
	}
}

func TestNoRetryConnectionResetNonIdempotent(t *testing.T) {
	url, reqs := resetServer(t, 1, `{"data":{"conversation_id":"g1"}}`)
	clk := testutil.NewClock()
	c, err := api.New(api.WithBaseURL(url), api.WithBearerToken("t"), api.WithClock(clk.Now, clk.Sleep),
		api.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.CreateGroup(context.Background(), &api.CreateChatConversationRequest{
		ConversationID: groupID, ConversationKeyVersion: "1", GroupMembers: []string{aliceID, bobID},
		ConversationParticipantKeys: []api.ConversationParticipantKey{{UserID: aliceID, EncryptedConversationKey: "AA==", PublicKeyVersion: "1"}},
	})
	if err == nil {
		t.Fatal("no error after connection reset")
	}
	var e *api.Error
	if errors.As(err, &e) {
		t.Fatalf("transport failure reported as HTTP error: %v", err)
	}
	if reqs.Load() != 1 || len(clk.Sleeps()) != 0 {
		t.Fatalf("non-idempotent request sent %d times", reqs.Load())
	}
}

func TestTokenSourceErrorNotRetried(t *testing.T) {
	c, cnt, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {}, api.WithTokenSource(failingTS{}))
	if _, _, err := c.ListConversations(context.Background(), nil); err == nil || !errors.Is(err, errTS) {
		t.Fatalf("err = %v", err)
	}
	if cnt.Count() != 0 {
		t.Fatal("request sent without a token")
	}
}

func TestDialFailureRetriedEvenForNonIdempotent(t *testing.T) {
	// Reserve a port, close it, and point the client there: every dial is
	// refused, so nothing can reach a server and retrying is harmless.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	clk := testutil.NewClock()
	c, err := api.New(api.WithBaseURL("http://"+addr), api.WithBearerToken("t"), api.WithClock(clk.Now, clk.Sleep), api.WithMaxAttempts(3))
	if err != nil {
		t.Fatal(err)
	}
	_, resp, err := c.InitializeGroup(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	if resp.Attempts != 3 || len(clk.Sleeps()) != 2 {
		t.Fatalf("attempts=%d sleeps=%v", resp.Attempts, clk.Sleeps())
	}
	if strings.Contains(err.Error(), "Bearer") || strings.Contains(err.Error(), " t ") {
		t.Fatalf("error leaks credentials: %v", err)
	}
}

func TestRetryAbandonedOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := testutil.NewClock()
	// The caller gives up while the client waits to retry.
	sleep := func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}
	c, cnt, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(503)
	}, api.WithClock(clk.Now, sleep))
	_, _, err := c.ListConversations(ctx, nil)
	var e *api.Error
	if !errors.As(err, &e) || !errors.Is(err, context.Canceled) || cnt.Count() != 1 {
		t.Fatalf("err=%v calls=%d", err, cnt.Count())
	}
}
