package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
)

// streamClock is a manual api.Clock: Sleep records the delay and moves
// time forward at once; Advance moves time and fires due timers.
type streamClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func newStreamClock() *streamClock { return &streamClock{now: time.Unix(1_800_000_000, 0)} }

func (c *streamClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *streamClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	c.Advance(d)
	return nil
}

func (c *streamClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Advance moves time by d and runs the timers that fall due.
func (c *streamClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t.f)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	for _, f := range due {
		go f()
	}
}

func (c *streamClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// statusLog records stream statuses and signals each one.
type statusLog struct {
	mu  sync.Mutex
	all []api.StreamStatus
	ch  chan api.StreamStatus
}

func newStatusLog() *statusLog { return &statusLog{ch: make(chan api.StreamStatus, 1024)} }

func (l *statusLog) record(s api.StreamStatus) {
	l.mu.Lock()
	l.all = append(l.all, s)
	l.mu.Unlock()
	l.ch <- s
}

// waitState waits for the next status of the given state.
func (l *statusLog) waitState(t *testing.T, ctx context.Context, st api.StreamState) api.StreamStatus {
	t.Helper()
	for {
		select {
		case s := <-l.ch:
			if s.State == st {
				return s
			}
		case <-ctx.Done():
			t.Fatalf("no %s status", st)
		}
	}
}

func streamClient(t *testing.T, h http.Handler) (*api.Client, *counter) {
	t.Helper()
	cnt := &counter{h: h}
	srv := httptest.NewServer(cnt)
	t.Cleanup(srv.Close)
	c, err := api.New(api.WithBaseURL(srv.URL), api.WithHTTPClient(srv.Client()), api.WithBearerToken("app-token"))
	if err != nil {
		t.Fatal(err)
	}
	return c, cnt
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

const evLine = `{"data":{"event_uuid":"%d","event_type":"chat.received","filter":{"user_id":"1"},"payload":{"encoded_event":"AA=="}}}`

func TestStreamBackoffSchedule(t *testing.T) {
	var b api.StreamBackoff
	var net []time.Duration
	for range 66 {
		net = append(net, b.Next(api.FailureNetwork, 0))
	}
	if net[0] != 250*time.Millisecond || net[1] != 500*time.Millisecond || net[63] != 16*time.Second || net[65] != 16*time.Second {
		t.Errorf("network schedule %v", net)
	}
	want := []time.Duration{5, 10, 20, 40, 80, 160, 320, 320}
	for i, w := range want {
		if got := b.Next(api.FailureHTTP, 0); got != w*time.Second {
			t.Errorf("http attempt %d: %v, want %v", i+1, got, w*time.Second)
		}
	}
	wantRate := []time.Duration{1, 2, 4, 8, 16, 16}
	for i, w := range wantRate {
		if got := b.Next(api.FailureRateLimit, 0); got != w*time.Minute {
			t.Errorf("429 attempt %d: %v, want %v", i+1, got, w*time.Minute)
		}
	}
	b.Reset()
	if got := b.Next(api.FailureRateLimit, 5*time.Minute); got != 5*time.Minute {
		t.Errorf("Retry-After above the schedule: %v", got)
	}
	// A reset or Retry-After years or a day away waits StreamMaxWait at most.
	for _, far := range []time.Duration{24 * time.Hour, time.Duration(1<<63 - 1)} {
		if got := b.Next(api.FailureRateLimit, far); got != api.StreamMaxWait {
			t.Errorf("wait asked %v: %v, want %v", far, got, api.StreamMaxWait)
		}
		if got := b.Next(api.FailureHTTP, far); got != api.StreamMaxWait {
			t.Errorf("http wait asked %v: %v, want %v", far, got, api.StreamMaxWait)
		}
	}
	b.Reset()
	if got := b.Next(api.FailureNetwork, 0); got != 250*time.Millisecond {
		t.Errorf("after Reset: %v", got)
	}
}

// TestStreamReconnectSchedule drives a server through HTTP errors, 429s
// and refused connections, then a connection that delivers, lasts
// StreamStableAfter and drops: the client waits as documented, reconnects
// at once after the drop and asks for backfill covering the gap. (One that
// drops sooner backs off: TestAttacks/activity-stream-drops-after-keepalive
// in internal/attacks.)
func TestStreamReconnectSchedule(t *testing.T) {
	clk := newStreamClock()
	var mu sync.Mutex
	var queries []string
	step := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/2/activity/stream" || r.Header.Get("Authorization") != "Bearer app-token" {
			t.Errorf("request %s %q", r.URL.Path, r.Header.Get("Authorization"))
		}
		mu.Lock()
		step++
		n := step
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		// Fresh connections only: net/http retries a request whose reused
		// connection fails before answering, which would skip a step.
		w.Header().Set("Connection", "close")
		switch {
		case n <= 2:
			writeProblem(w, 503, api.Problem{Title: "Service Unavailable"})
		case n <= 4:
			writeProblem(w, 429, api.Problem{Title: "Too Many Requests"})
		case n <= 6:
			hj, _ := w.(http.Hijacker)
			conn, _, err := hj.Hijack()
			if err == nil {
				conn.Close() // a network failure before any answer
			}
		case n == 7:
			w.WriteHeader(200)
			clk.Advance(api.StreamStableAfter) // a stable connection (the watchdog is set longer)
			fmt.Fprintf(w, evLine+"\n", 1)     // delivered, then the server drops it
		default:
			w.WriteHeader(200)
			fmt.Fprintf(w, evLine+"\n", 2)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	})
	c, _ := streamClient(t, h)
	log := newStatusLog()
	ctx := testCtx(t)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := c.ActivityStream(sctx, &api.StreamOptions{Clock: clk, OnStatus: log.record, BackfillMinutes: 2, IdleTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for ev := range s.Events() {
		got = append(got, string(ev.EventUUID))
		if len(got) == 2 {
			break
		}
	}
	if strings.Join(got, ",") != "1,2" {
		t.Fatalf("events %v", got)
	}
	rc := log.waitState(t, ctx, api.StreamConnected)
	for !rc.Reconnect {
		rc = log.waitState(t, ctx, api.StreamConnected)
	}
	cancel()
	for range s.Events() {
	}
	if !errors.Is(s.Err(), context.Canceled) {
		t.Errorf("Err = %v", s.Err())
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, time.Minute, 2 * time.Minute,
		250 * time.Millisecond, 500 * time.Millisecond, 0}
	if fmt.Sprint(clk.Sleeps()) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v", clk.Sleeps(), want)
	}
	mu.Lock()
	defer mu.Unlock()
	if queries[0] != "backfill_minutes=2" {
		t.Errorf("first connection asked %q", queries[0])
	}
	// The drop came right after the last byte: one minute of backfill.
	if queries[7] != "backfill_minutes=1" {
		t.Errorf("reconnection asked %q, want backfill_minutes=1", queries[7])
	}
	st := s.Stats()
	if st.Connects != 2 || st.Reconnects != 1 || st.Events != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestStreamIdleTimeout: a connection that goes silent for more than the
// idle timeout is dropped and reopened, with backfill for the silence.
func TestStreamIdleTimeout(t *testing.T) {
	var mu sync.Mutex
	var queries []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		n := len(queries)
		mu.Unlock()
		w.WriteHeader(200)
		fmt.Fprintf(w, "\n"+evLine+"\n", n)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // then silence
	})
	c, _ := streamClient(t, h)
	clk := newStreamClock()
	log := newStatusLog()
	ctx := testCtx(t)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := c.ActivityStream(sctx, &api.StreamOptions{Clock: clk, OnStatus: log.record})
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-s.Events(); ev.EventUUID != "1" {
		t.Fatalf("first event %q", ev.EventUUID)
	}
	clk.Advance(19 * time.Second)
	clk.Advance(3*time.Minute - 19*time.Second) // 3 minutes of silence
	d := log.waitState(t, ctx, api.StreamDisconnected)
	if !errors.Is(d.Err, api.ErrStreamStalled) {
		t.Fatalf("disconnected with %v", d.Err)
	}
	if ev := <-s.Events(); ev.EventUUID != "2" {
		t.Fatalf("second event %q", ev.EventUUID)
	}
	cancel()
	for range s.Events() {
	}
	mu.Lock()
	defer mu.Unlock()
	if len(queries) != 2 || queries[0] != "" || queries[1] != "backfill_minutes=3" {
		t.Errorf("queries %q", queries)
	}
	if st := s.Stats(); st.StalledConns != 1 || st.KeepAlives < 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestStreamLines: keep-alives are consumed, over-long and malformed lines
// are skipped and reported, stream problems reported, events delivered in
// order; memory stays bounded by MaxLineBytes.
func TestStreamLines(t *testing.T) {
	long := `{"data":{"event_uuid":"9","event_type":"chat.received","payload":{"encoded_event":"` + strings.Repeat("A", 300<<10) + `"}}}`
	body := strings.Join([]string{
		"", "\r", "{}",
		fmt.Sprintf(evLine, 1),
		long,
		`{"data":{"event_uuid":"","event_type":"x"}}`,
		`not json`,
		`{"errors":[{"title":"operational-disconnect","type":"https://api.x.com/2/problems/operational-disconnect"}]}`,
		// 100 problems: the first MaxStreamProblems are kept; 10,000 empty
		// ones (30 KB): past the activity bounds, skipped undecoded.
		`{"errors":[` + strings.TrimSuffix(strings.Repeat(`{"title":"operational-disconnect"},`, 100), ",") + `]}`,
		`{"errors":` + emptyProblems(10_000) + `}`,
		fmt.Sprintf(evLine, 2),
	}, "\n") + "\n"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		io.WriteString(w, body)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	c, _ := streamClient(t, h)
	log := newStatusLog()
	ctx := testCtx(t)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := c.ActivityStream(sctx, &api.StreamOptions{Clock: newStreamClock(), OnStatus: log.record, MaxLineBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	a, b := <-s.Events(), <-s.Events()
	if a.EventUUID != "1" || b.EventUUID != "2" {
		t.Fatalf("events %q %q", a.EventUUID, b.EventUUID)
	}
	cancel()
	for range s.Events() {
	}
	var skipped, problems int
	for _, st := range log.all {
		switch st.State {
		case api.StreamSkipped:
			skipped++
		case api.StreamProblem:
			problems++
			var pe *api.StreamProblemError
			if !errors.As(st.Err, &pe) || pe.Problems[0].Title != "operational-disconnect" {
				t.Errorf("problem status %v", st.Err)
			} else if len(pe.Problems) > api.MaxStreamProblems || len(pe.Problems)+pe.More != []int{1, 100}[problems-1] || len(st.Err.Error()) > 2048 {
				t.Errorf("problem status %d: %d problems kept, %d more: %q", problems, len(pe.Problems), pe.More, st.Err)
			}
		}
	}
	st := s.Stats()
	if skipped != 4 || problems != 2 || st.Skipped != 4 || st.KeepAlives != 3 || st.Events != 2 {
		t.Errorf("skipped %d problems %d stats %+v", skipped, problems, st)
	}
}

// TestStreamFatal: an authentication failure is not retried.
func TestStreamFatal(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, 401, api.Problem{Title: "Unauthorized", Type: "about:blank"})
	})
	c, cnt := streamClient(t, h)
	s, err := c.ActivityStream(testCtx(t), &api.StreamOptions{Clock: newStreamClock()})
	if err != nil {
		t.Fatal(err)
	}
	var final error
	for ev, err := range s.All() {
		if ev != nil {
			t.Fatalf("event %+v", ev)
		}
		final = err
	}
	if !errors.Is(final, api.ErrUnauthorized) || cnt.Count() != 1 {
		t.Fatalf("final %v after %d requests", final, cnt.Count())
	}
}

func TestStreamOptionsValidated(t *testing.T) {
	c, _ := streamClient(t, http.NotFoundHandler())
	for _, o := range []api.StreamOptions{{BackfillMinutes: 6}, {BackfillMinutes: -1},
		{StartTime: time.Unix(100, 0), EndTime: time.Unix(50, 0)}} {
		if _, err := c.ActivityStream(context.Background(), &o); !errors.Is(err, api.ErrInvalidInput) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
