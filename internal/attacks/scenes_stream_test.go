package attacks

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/hostile"
)

// The answered-stream scene: the server answers bob's Activity stream
// connects as it likes, and the stream (on a waitClock, so no time passes)
// schedules its reconnects.

// streamAnswered registers bob and makes the proxy (rule name) answer his
// Activity stream connects as rewrite says: each connect goes out without
// its authorization, so the emulator answers at once (401) instead of
// holding the stream open, and rewrite turns that answer into the
// server's. It returns the waits the stream scheduled, stopping it after
// the n-th (fewer if it ended first), and the stream's own error.
func streamAnswered(w *world, name string, rewrite func(*http.Request, *hostile.Response) error, n int) (waits []time.Duration, streamErr, err error) {
	bob := w.newUser("bob", true)
	w.proxy.Add(hostile.Rule{Name: name, Method: http.MethodGet, Path: `/2/activity/stream`,
		Request: func(r *http.Request) { r.Header.Del("Authorization") },
		Rewrite: rewrite})
	clk := &waitClock{now: time.Unix(1_800_000_000, 0)}
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	var mu sync.Mutex
	s, err := bob.client.ActivityStream(ctx, &api.StreamOptions{Clock: clk, OnStatus: func(st api.StreamStatus) {
		if st.State != api.StreamWaiting {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, st.Wait)
		if len(waits) == n {
			cancel()
		}
	}})
	if err != nil {
		return nil, nil, err
	}
	<-s.Done()
	mu.Lock()
	defer mu.Unlock()
	return waits, s.Err(), nil
}
