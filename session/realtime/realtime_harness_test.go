package realtime

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/sessiontest"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// rtWatch is one account following its events in real time through a
// Follower, recording what the application was handed.
type rtWatch struct {
	t    testing.TB
	u    *sessiontest.User
	f    *Follower
	done chan error

	mu       sync.Mutex
	byMID    map[string]int // verified message id -> times emitted
	texts    []string       // verified texts, in emission order
	failed   []*event.Event
	via      map[Via]int
	changed  chan struct{}
	reported []error

	connected            chan struct{}
	connects, reconnects int
	deliveries           map[session.DeliveryStatus]int
	anomalies            []event.Anomaly
}

// newWatch prepares a Follower for u; reconcileEvery < 0 leaves
// reconciliation to deliveries and Resync. Start it with run.
func newWatch(t testing.TB, u *sessiontest.User, reconcileEvery time.Duration) *rtWatch {
	w := &rtWatch{t: t, u: u, done: make(chan error, 1), byMID: map[string]int{}, via: map[Via]int{},
		changed: make(chan struct{}, 1), connected: make(chan struct{}, 1), deliveries: map[session.DeliveryStatus]int{}}
	w.f = &Follower{
		Engine:         func(context.Context) (*session.Engine, error) { return u.E, nil },
		Emit:           w.emit,
		ReconcileEvery: reconcileEvery,
		OnError: func(err error) {
			w.mu.Lock()
			w.reported = append(w.reported, err)
			w.mu.Unlock()
		},
		OnDelivered: func(d *session.Delivered) {
			w.mu.Lock()
			w.deliveries[d.Status]++
			w.mu.Unlock()
			w.signal()
		},
		OnSync: func(r *session.SyncResult) {
			w.mu.Lock()
			w.anomalies = append(w.anomalies, r.Anomalies...)
			w.mu.Unlock()
		},
	}
	return w
}

func (w *rtWatch) signal() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// onStatus is the stream status hook: reconnections and skipped lines ask
// for a full reconciliation, as an application does.
func (w *rtWatch) onStatus(st api.StreamStatus) {
	switch st.State {
	case api.StreamConnected:
		w.mu.Lock()
		w.connects++
		if st.Reconnect {
			w.reconnects++
		}
		w.mu.Unlock()
		w.signal()
		if st.Reconnect {
			w.f.Resync()
		}
		select {
		case w.connected <- struct{}{}:
		default:
		}
	case api.StreamSkipped:
		w.f.Resync()
	}
}

// stream opens the app's Activity stream for w and starts following it.
func (w *rtWatch) stream(ctx context.Context, n *sessiontest.Net, opts *api.StreamOptions) *api.Stream {
	w.t.Helper()
	s := w.openStream(ctx, n, opts)
	w.run(ctx, s.Events())
	return s
}

// openStream opens the app's Activity stream reporting to w.
func (w *rtWatch) openStream(ctx context.Context, n *sessiontest.Net, opts *api.StreamOptions) *api.Stream {
	w.t.Helper()
	o := api.StreamOptions{}
	if opts != nil {
		o = *opts
	}
	o.OnStatus = w.onStatus
	s, err := n.AppClient().ActivityStream(ctx, &o)
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// run starts the follower over events.
func (w *rtWatch) run(ctx context.Context, events <-chan *api.ActivityEvent) {
	go func() { w.done <- w.f.Run(ctx, events) }()
}

// waitConnected waits for the next successful stream connection.
func (w *rtWatch) waitConnected(ctx context.Context) {
	w.t.Helper()
	select {
	case <-w.connected:
	case <-ctx.Done():
		w.t.Fatal("the stream never connected")
	}
}

func (w *rtWatch) emit(ev *event.Event, via Via) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.via[via]++
	switch {
	case ev.Err != nil:
		w.failed = append(w.failed, ev)
	case ev.Kind == event.KindMessage && ev.Verified && ev.Message != nil:
		w.byMID[ev.MessageID]++
		w.texts = append(w.texts, ev.Entry().Text)
	}
	w.signal()
	return nil
}

// waitFor waits until cond holds over the recorded state; the deadline
// only turns a hang into a failure.
func (w *rtWatch) waitFor(ctx context.Context, what string, cond func() bool) {
	w.t.Helper()
	for {
		w.mu.Lock()
		ok := cond()
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-w.changed:
		case err := <-w.done:
			w.t.Fatalf("follower stopped while waiting for %s: %v", what, err)
		case <-ctx.Done():
			w.mu.Lock()
			defer w.mu.Unlock()
			w.t.Fatalf("timed out waiting for %s (have %d messages, %d failed, reports %v)", what, len(w.byMID), len(w.failed), w.reported)
		}
	}
}

// tally compares the emitted messages with the expected message ids.
func (w *rtWatch) tally(want []string) (got, lost, dups int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, mid := range want {
		switch n := w.byMID[mid]; {
		case n == 0:
			lost++
		case n > 1:
			dups += n - 1
		}
	}
	return len(w.byMID), lost, dups
}

func (w *rtWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d messages (%d via push, %d via reconcile), %d failed", len(w.byMID), w.via[ViaPush], w.via[ViaReconcile], len(w.failed))
}
