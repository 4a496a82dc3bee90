package api_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
)

// limitedHandler reports a window of `limit` requests resetting at reset
// for GET requests; other methods succeed without rate-limit headers.
func limitedHandler(limit int, reset func() time.Time) (http.HandlerFunc, *atomic.Int64) {
	var used atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			// Another endpoint, with its own (unreported) limit.
			writeJSON(w, 200, map[string]any{"data": map[string]any{"success": true}})
			return
		}
		n := used.Add(1)
		rem := max(int64(limit)-n, 0)
		w.Header().Set("x-rate-limit-limit", strconv.Itoa(limit))
		w.Header().Set("x-rate-limit-remaining", strconv.FormatInt(rem, 10))
		w.Header().Set("x-rate-limit-reset", strconv.FormatInt(reset().Unix(), 10))
		if n > int64(limit) {
			writeProblem(w, http.StatusTooManyRequests, api.Problem{Type: api.ProblemUsageCapped, Title: "Too Many Requests"})
			return
		}
		writeJSON(w, 200, map[string]any{"data": []any{}, "meta": map[string]any{"result_count": 0}})
	}, &used
}

func TestRateLimitHeadersOnResponse(t *testing.T) {
	clk := testutil.NewClock()
	reset := clk.Now().Add(15 * time.Minute).Truncate(time.Second)
	h, _ := limitedHandler(50, func() time.Time { return reset })
	c, _, _ := newServer(t, h, api.WithClock(clk.Now, clk.Sleep))
	_, resp, err := c.ListConversations(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.RateLimit.Limit != 50 || resp.RateLimit.Remaining != 49 || !resp.RateLimit.Reset.Equal(reset) || !resp.RateLimit.Known() {
		t.Fatalf("rate limit = %+v", resp.RateLimit)
	}
	rl, ok := c.RateLimit(api.OpGetChatConversations)
	if !ok || rl.Remaining != 49 {
		t.Fatalf("remembered = %+v %v", rl, ok)
	}
	if _, ok := c.RateLimit(api.OpSendChatTypingIndicator); ok {
		t.Fatal("limit remembered for an endpoint never called")
	}
}

func TestExhaustedLimitFailsFastWithoutNetwork(t *testing.T) {
	clk := testutil.NewClock()
	reset := clk.Now().Add(10 * time.Minute).Truncate(time.Second)
	h, _ := limitedHandler(2, func() time.Time { return reset })
	c, cnt, _ := newServer(t, h, api.WithClock(clk.Now, clk.Sleep), api.WithFailFast(true))
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, _, err := c.ListConversations(ctx, nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, _, err := c.ListConversations(ctx, nil)
	var rle *api.RateLimitError
	if !errors.As(err, &rle) || !errors.Is(err, api.ErrRateLimited) {
		t.Fatalf("err = %T %v", err, err)
	}
	if !rle.RateLimit.Reset.Equal(reset) || rle.Op != "getChatConversations" {
		t.Errorf("rate limit error = %+v", rle)
	}
	if cnt.Count() != 2 {
		t.Fatalf("network calls = %d, want 2 (third must be refused locally)", cnt.Count())
	}
	// Other endpoints are not affected.
	if _, _, err := c.SendTyping(ctx, groupID); err != nil {
		t.Fatalf("other endpoint blocked: %v", err)
	}
	if len(clk.Sleeps()) != 0 {
		t.Errorf("fail-fast slept: %v", clk.Sleeps())
	}
}

func TestExhaustedLimitWaitsForReset(t *testing.T) {
	clk := testutil.NewClock()
	var reset atomic.Int64
	reset.Store(clk.Now().Add(90 * time.Second).Unix())
	var calls atomic.Int64
	h := func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		rem := "0"
		if n > 1 {
			rem = "14" // a fresh window after the reset
		}
		w.Header().Set("x-rate-limit-limit", "15")
		w.Header().Set("x-rate-limit-remaining", rem)
		w.Header().Set("x-rate-limit-reset", strconv.FormatInt(reset.Load(), 10))
		writeJSON(w, 200, map[string]any{"data": []any{}, "meta": map[string]any{"result_count": 0}})
	}
	c, cnt, _ := newServer(t, h, api.WithClock(clk.Now, clk.Sleep))
	ctx := context.Background()
	if _, _, err := c.ListConversations(ctx, nil); err != nil {
		t.Fatal(err)
	}
	start := clk.Now()
	if _, _, err := c.ListConversations(ctx, nil); err != nil {
		t.Fatal(err)
	}
	waited := clk.Now().Sub(start)
	if want := time.Unix(reset.Load(), 0).Sub(start); waited != want {
		t.Fatalf("waited %v, want %v (until reset)", waited, want)
	}
	if cnt.Count() != 2 {
		t.Fatalf("calls = %d", cnt.Count())
	}
}

func TestExhaustedLimitBeyondDeadlineFailsWithoutNetwork(t *testing.T) {
	clk := testutil.NewClock()
	reset := clk.Now().Add(10 * time.Minute)
	h, _ := limitedHandler(1, func() time.Time { return reset })
	c, cnt, _ := newServer(t, h, api.WithClock(clk.Now, clk.Sleep))
	if _, _, err := c.ListConversations(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(time.Minute))
	defer cancel()
	_, _, err := c.ListConversations(ctx, nil)
	if !errors.Is(err, api.ErrRateLimited) || cnt.Count() != 1 || len(clk.Sleeps()) != 0 {
		t.Fatalf("err=%v calls=%d sleeps=%v", err, cnt.Count(), clk.Sleeps())
	}
}

func TestLocalReservationPreventsBurst(t *testing.T) {
	clk := testutil.NewClock()
	reset := clk.Now().Add(time.Hour)
	// The server reports remaining=3 after the first call and then stops
	// sending headers, so only local accounting can stop the fifth call.
	var calls atomic.Int64
	h := func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("x-rate-limit-limit", "4")
			w.Header().Set("x-rate-limit-remaining", "3")
			w.Header().Set("x-rate-limit-reset", strconv.FormatInt(reset.Unix(), 10))
		}
		writeJSON(w, 200, map[string]any{"data": map[string]any{"success": true}})
	}
	c, cnt, _ := newServer(t, h, api.WithClock(clk.Now, clk.Sleep), api.WithFailFast(true))
	ctx := context.Background()
	var errs int
	for i := 0; i < 6; i++ {
		if _, _, err := c.SendTyping(ctx, groupID); err != nil {
			if !errors.Is(err, api.ErrRateLimited) {
				t.Fatal(err)
			}
			errs++
		}
	}
	if cnt.Count() != 4 || errs != 2 {
		t.Fatalf("calls=%d refused=%d, want 4 and 2", cnt.Count(), errs)
	}
}

func TestRateLimitHeaderGarbageIgnored(t *testing.T) {
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-rate-limit-limit", "lots")
		w.Header().Set("x-rate-limit-remaining", "-4")
		w.Header().Set("x-rate-limit-reset", "soon")
		writeJSON(w, 200, map[string]any{"data": map[string]any{"success": true}})
	}, api.WithFailFast(true))
	for i := 0; i < 3; i++ {
		_, resp, err := c.SendTyping(context.Background(), groupID)
		if err != nil || resp.RateLimit.Known() {
			t.Fatalf("err=%v rl=%+v", err, resp.RateLimit)
		}
	}
}
