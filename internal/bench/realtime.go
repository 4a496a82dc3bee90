package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/session/realtime"
)

// Send-to-display latency (issue #14): alice sends n messages to bob at a
// steady pace over loopback to an in-process emulator; each message's
// latency runs from the moment alice starts SendText (encrypt, sign, POST)
// to the moment bob's application is handed the verified, decrypted
// event. Bob follows either the Activity stream (realtime.Follower over
// api.Stream, as `xchat watch` does) or polls /events at the CLI's
// default interval. The median and p99 over the n messages are reported.

// Latency workload.
const (
	latencyPace          = 20 * time.Millisecond // between the starts of two sends
	latencyPoll          = 3 * time.Second       // xchat watch's default polling interval
	latencyPollQuick     = 300 * time.Millisecond
	latencyMessages      = 200
	latencyMessagesQuick = 30
)

// latency is the outcome of one latency run.
type latency struct {
	n                int
	median, p99, max time.Duration
	allocs           int64 // heap allocations of the whole process per message
}

// latencyRows measures the stream and polling and returns their rows.
func latencyRows(quick bool, logw io.Writer) ([]Row, error) {
	n, poll := latencyMessages, latencyPoll
	if quick {
		n, poll = latencyMessagesQuick, latencyPollQuick
	}
	fmt.Fprintf(logw, "latency: %d messages through the Activity stream\n", n)
	st, err := measureLatency(n, 0)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logw, "latency: %d messages by polling every %v\n", n, poll)
	pl, err := measureLatency(n, poll)
	if err != nil {
		return nil, err
	}
	row := func(name string, l *latency) Row {
		return Row{Name: name, Procs: runtime.GOMAXPROCS(0), Ours: float64(l.median), Wall: float64(l.median), Allocs: l.allocs,
			Note: fmt.Sprintf("send→display over %d messages sent every %v: median %v, p99 %v, max %v",
				l.n, latencyPace, round(l.median), round(l.p99), round(l.max))}
	}
	return []Row{
		row("send→display latency, Activity stream (median)", st),
		row(fmt.Sprintf("send→display latency, polling every %v (median)", poll), pl),
	}, nil
}

func round(d time.Duration) time.Duration {
	if d > 10*time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// e2eUser is one provisioned emulator account with its engine.
type e2eUser struct {
	id string
	e  *session.Engine
}

// latencyWorld is an emulator on loopback with alice and bob.
type latencyWorld struct {
	emu        *emulator.Server
	srv        *httptest.Server
	alice, bob *e2eUser
	bobToken   string
	appToken   string
}

func newLatencyWorld(ctx context.Context) (*latencyWorld, error) {
	w := &latencyWorld{emu: emulator.New(emulator.WithRateLimit(0, time.Minute))}
	w.srv = httptest.NewServer(w.emu)
	user := func(name string) (*e2eUser, string, error) {
		body, _ := json.Marshal(emulator.ProvisionRequest{Username: name})
		resp, err := w.srv.Client().Post(w.srv.URL+"/emulator/v1/users", "application/json", bytes.NewReader(body))
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		var pr emulator.ProvisionResponse
		if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
			return nil, "", err
		}
		w.appToken = pr.AppBearerToken
		c, err := w.client(pr.AccessToken)
		if err != nil {
			return nil, "", err
		}
		store := keystore.NewMemory()
		if err := session.CreateAccount(ctx, store, pr.ID, nil); err != nil {
			return nil, "", err
		}
		e, err := session.Open(ctx, store, session.NewAPIServer(c))
		if err != nil {
			return nil, "", err
		}
		if _, err := e.Register(ctx); err != nil {
			return nil, "", err
		}
		return &e2eUser{id: pr.ID, e: e}, pr.AccessToken, nil
	}
	var err error
	if w.alice, _, err = user("alice"); err != nil {
		w.close()
		return nil, err
	}
	if w.bob, w.bobToken, err = user("bob"); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *latencyWorld) client(token string) (*api.Client, error) {
	return api.New(api.WithBaseURL(w.srv.URL), api.WithBearerToken(token), api.WithHTTPClient(w.srv.Client()))
}

func (w *latencyWorld) close() {
	w.emu.EndStreams()
	w.srv.Close()
	for _, u := range []*e2eUser{w.alice, w.bob} {
		if u != nil {
			_ = u.e.Close()
		}
	}
	_ = w.emu.Close()
}

// displays records when bob's application was handed each message.
type displays struct {
	mu   sync.Mutex
	at   map[string]time.Time
	want int
	done chan struct{}
}

func (d *displays) emit(ev *event.Event) {
	if ev.Kind != event.KindMessage || !ev.Verified {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.at[ev.MessageID]; ok {
		return
	}
	d.at[ev.MessageID] = time.Now()
	if len(d.at) == d.want {
		close(d.done)
	}
}

// measureLatency sends n messages (after one that sets the conversation
// up) and follows them through the stream (poll 0) or by polling.
func measureLatency(n int, poll time.Duration) (*latency, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w, err := newLatencyWorld(ctx)
	if err != nil {
		return nil, err
	}
	defer w.close()
	first, err := w.alice.e.SendText(ctx, w.bob.id, "setup")
	if err != nil {
		return nil, err
	}
	if _, err := w.bob.e.Sync(ctx, first.ConversationID, nil); err != nil {
		return nil, err
	}
	d := &displays{at: map[string]time.Time{}, want: n, done: make(chan struct{})}
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	var follow func() error
	if poll == 0 {
		follow, err = w.streamFollower(fctx, d)
	} else {
		follow = w.poller(fctx, first.ConversationID, poll, d)
	}
	if err != nil {
		return nil, err
	}
	ferr := make(chan error, 1)
	go func() { ferr <- follow() }()

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	started := map[string]time.Time{}
	tick := time.NewTicker(latencyPace)
	defer tick.Stop()
	for i := range n {
		t0 := time.Now()
		s, err := w.alice.e.SendText(ctx, w.bob.id, historyText(i))
		if err != nil {
			return nil, fmt.Errorf("bench: latency send %d: %w", i, err)
		}
		started[s.MessageID] = t0
		<-tick.C
	}
	select {
	case <-d.done:
	case err := <-ferr:
		return nil, fmt.Errorf("bench: follower stopped: %v", err)
	case <-ctx.Done():
		return nil, fmt.Errorf("bench: only %d of %d messages displayed", len(d.at), n)
	}
	runtime.ReadMemStats(&ms)
	stop()
	return summarise(started, d, int64(ms.Mallocs-mallocs)/int64(n))
}

func summarise(started map[string]time.Time, d *displays, allocs int64) (*latency, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ls []time.Duration
	for mid, t0 := range started {
		t1, ok := d.at[mid]
		if !ok {
			return nil, fmt.Errorf("bench: message %s never displayed", mid)
		}
		ls = append(ls, t1.Sub(t0))
	}
	slices.Sort(ls)
	q := func(p float64) time.Duration { return ls[min(len(ls)-1, int(p*float64(len(ls))))] }
	return &latency{n: len(ls), median: q(0.5), p99: q(0.99), max: ls[len(ls)-1], allocs: allocs}, nil
}

// streamFollower subscribes bob, opens the app's stream and returns the
// Follower's run, once the stream is connected.
func (w *latencyWorld) streamFollower(ctx context.Context, d *displays) (func() error, error) {
	uc, err := w.client(w.bobToken)
	if err != nil {
		return nil, err
	}
	for _, t := range []string{api.EventChatReceived, api.EventChatSent} {
		if _, _, err := uc.CreateActivitySubscription(ctx, &api.CreateActivitySubscriptionRequest{
			EventType: t, Filter: api.ActivitySubscriptionFilter{UserID: w.bob.id}}); err != nil {
			return nil, err
		}
	}
	ac, err := w.client(w.appToken)
	if err != nil {
		return nil, err
	}
	f := &realtime.Follower{
		Engine: func(context.Context) (*session.Engine, error) { return w.bob.e, nil },
		Emit:   func(ev *event.Event, _ realtime.Via) error { d.emit(ev); return nil },
	}
	connected := make(chan struct{}, 1)
	s, err := ac.ActivityStream(ctx, &api.StreamOptions{OnStatus: func(st api.StreamStatus) {
		if st.State == api.StreamConnected {
			select {
			case connected <- struct{}{}:
			default:
			}
		}
		if st.Reconnect {
			f.Resync()
		}
	}})
	if err != nil {
		return nil, err
	}
	select {
	case <-connected:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return func() error { return f.Run(ctx, s.Events()) }, nil
}

// poller syncs the conversation every interval, as `xchat watch --poll`.
func (w *latencyWorld) poller(ctx context.Context, cid string, every time.Duration, d *displays) func() error {
	return func() error {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if _, err := w.bob.e.Sync(ctx, cid, func(ev *event.Event) error { d.emit(ev); return nil }); err != nil && ctx.Err() == nil {
				return err
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
}
