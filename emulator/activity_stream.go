package emulator

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/xchat-go/xchat/api"
)

// activityStream is GET /2/activity/stream: newline-delimited JSON over a
// long-lived response. It replays the retained events asked for
// (backfill_minutes, start_time), then writes every event published for
// the app's subscriptions as it happens, with a keep-alive newline every
// heartbeat interval. With end_time the connection ends after the replay.
func (s *Server) activityStream(w http.ResponseWriter, r *http.Request, _ *principal) *apiError {
	from, to, perr := streamWindow(r, s.cfg.clock())
	if perr != nil {
		return perr
	}
	rt := s.rt
	conn := &streamConn{ch: make(chan []byte, streamConnBuffer), kill: make(chan struct{})}
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return errUnavailable("The emulator is shutting down.")
	}
	// Register before taking the replay so nothing published in between
	// is missed (it may come twice; backfill repeats events anyway).
	rt.conns[conn] = true
	var replay [][]byte
	if !from.IsZero() {
		replay = rt.since(from, to, "")
	}
	rt.mu.Unlock()
	defer func() {
		rt.mu.Lock()
		delete(rt.conns, conn)
		rt.mu.Unlock()
	}()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return nil
	}
	ctx := r.Context()
	for _, line := range replay {
		if !rt.waitUnstalled(ctx, conn) || !writeLine(w, rc, line) {
			return nil
		}
	}
	if !to.IsZero() {
		return nil
	}
	s.streamLive(ctx, w, rc, conn)
	return nil
}

// streamLive writes events and heartbeats until the connection ends.
func (s *Server) streamLive(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, conn *streamConn) {
	rt := s.rt
	tick := time.NewTicker(rt.beat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-conn.kill:
			return
		case <-rt.closing:
			return
		case line := <-conn.ch:
			if !rt.waitUnstalled(ctx, conn) || !writeLine(w, rc, line) {
				return
			}
		case <-tick.C:
			if rt.isStalled() {
				continue
			}
			if !writeLine(w, rc, nil) {
				return
			}
		}
	}
}

// writeLine writes line and a newline (a bare newline is the keep-alive)
// and flushes; false when the client is gone.
func writeLine(w http.ResponseWriter, rc *http.ResponseController, line []byte) bool {
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	if _, err := w.Write(buf); err != nil {
		return false
	}
	return rc.Flush() == nil
}

func (rt *realtime) isStalled() bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.stalled
}

// waitUnstalled blocks while streams are stalled; false when the
// connection ended meanwhile.
func (rt *realtime) waitUnstalled(ctx context.Context, conn *streamConn) bool {
	for {
		rt.mu.Lock()
		stalled, ch := rt.stalled, rt.stallCh
		rt.mu.Unlock()
		if !stalled {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		case <-conn.kill:
			return false
		case <-rt.closing:
			return false
		}
	}
}

// streamWindow reads backfill_minutes, start_time and end_time: from is
// the oldest retained event to replay (zero: none), to the newest (zero:
// no bound, then live events).
func streamWindow(r *http.Request, now time.Time) (from, to time.Time, perr *apiError) {
	q := r.URL.Query()
	if v := q.Get("backfill_minutes"); v != "" || q.Has("backfill_minutes") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > api.ActivityBackfillMaxMinutes {
			e := errInvalid("backfill_minutes", "The `backfill_minutes` query parameter value [%s] is not between 0 and %d", clip(v), api.ActivityBackfillMaxMinutes)
			e.problem.Value = clip(v)
			return from, to, e
		}
		if n > 0 {
			from = now.Add(-time.Duration(n) * time.Minute)
		}
	}
	parse := func(name string) (time.Time, *apiError) {
		v := q.Get(name)
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, errInvalid(name, "The `%s` query parameter value [%s] is not a YYYY-MM-DDTHH:mm:ssZ time.", name, clip(v))
		}
		return t, nil
	}
	start, perr := parse("start_time")
	if perr != nil {
		return from, to, perr
	}
	if to, perr = parse("end_time"); perr != nil {
		return from, to, perr
	}
	if !start.IsZero() && (from.IsZero() || start.Before(from)) {
		from = start
	}
	if !to.IsZero() && !from.IsZero() && to.Before(from) {
		return from, to, errInvalid("end_time", "end_time is before start_time.")
	}
	if !to.IsZero() && from.IsZero() {
		from = now.Add(-retention)
	}
	return from, to, nil
}
