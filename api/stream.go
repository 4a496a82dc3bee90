package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of ActivityStream.
const (
	// DefaultStreamBuffer is the number of events buffered between the
	// connection and the consumer. When it is full the connection is not
	// read (TCP applies back-pressure) and the idle watchdog is paused.
	DefaultStreamBuffer = 256
	// streamReadBuffer is the bufio size of the line reader.
	streamReadBuffer = 64 << 10
	// maxStreamErrorBody bounds the body read from a failed connect.
	maxStreamErrorBody = 64 << 10
)

// ErrStreamStalled is the failure of a connection that delivered no byte
// (not even a keep-alive) for the idle timeout.
var ErrStreamStalled = errors.New("api: activity stream stalled")

// errStreamEnded is the failure of a connection the server closed.
var errStreamEnded = errors.New("api: activity stream closed by the server")

// StreamOptions configure ActivityStream. The zero value follows X's
// documents.
type StreamOptions struct {
	// BackfillMinutes (0..5) is asked of the first connection. Every
	// reconnection asks for the minutes since the last byte received,
	// rounded up and capped at 5: a longer gap can only be filled by
	// reading /events (see StreamStatus.Gap).
	BackfillMinutes int
	// StartTime and EndTime, when set, bound the first connection's events
	// (start_time, end_time); reconnections use backfill instead.
	StartTime, EndTime time.Time
	// IdleTimeout is the silence after which a connection is dropped and
	// reopened (default DefaultStreamIdleTimeout).
	IdleTimeout time.Duration
	// MaxLineBytes bounds one line (default
	// DefaultMaxActivityMessageBytes); a longer line is skipped whole and
	// reported (StreamSkipped).
	MaxLineBytes int
	// Buffer is the number of events buffered for the consumer (default
	// DefaultStreamBuffer).
	Buffer int
	// Clock replaces the real clock (tests).
	Clock Clock
	// OnStatus, when set, is called (from the stream's goroutine, never
	// concurrently) at every change: connecting, connected, disconnected,
	// waiting, skipped lines, reported problems.
	OnStatus func(StreamStatus)
}

// StreamState is the kind of a StreamStatus.
type StreamState int

// Stream states reported to StreamOptions.OnStatus.
const (
	// StreamConnecting: an attempt starts.
	StreamConnecting StreamState = iota
	// StreamConnected: the server answered 200; Reconnect tells whether a
	// connection was lost before (the consumer should reconcile).
	StreamConnected
	// StreamDisconnected: an established connection ended (Err says why).
	StreamDisconnected
	// StreamWaiting: an attempt failed (Err); the next one is in Wait.
	StreamWaiting
	// StreamSkipped: a line was dropped (too long or malformed, Err): an
	// event may be lost, so the consumer should reconcile.
	StreamSkipped
	// StreamProblem: the server reported problems on the stream (Err is a
	// *StreamProblemError).
	StreamProblem
)

// String names the state.
func (s StreamState) String() string {
	return [...]string{"connecting", "connected", "disconnected", "waiting", "skipped", "problem"}[s]
}

// StreamStatus is one change of a stream's state.
type StreamStatus struct {
	State StreamState
	// Attempt counts connection attempts since the stream started (1 is
	// the first).
	Attempt int
	// Err is the failure (Disconnected, Waiting, Skipped, Problem).
	Err error
	// Class is the failure's reconnect schedule (Waiting).
	Class FailureClass
	// Wait is the delay before the next attempt (Waiting).
	Wait time.Duration
	// Backfill is the backfill_minutes asked (Connecting, Connected).
	Backfill int
	// Reconnect is set on Connected after a lost connection.
	Reconnect bool
	// Gap is the silence since the last byte of the previous connection
	// (Connected after a reconnect). Over 5 minutes backfill cannot cover
	// it.
	Gap time.Duration
}

// StreamStats counts what a stream did.
type StreamStats struct {
	Connects, Reconnects   int
	Events, KeepAlives     int
	Skipped, Problems      int
	LastByte, LastEventAt  time.Time
	Failures, StalledConns int
}

// Stream is a live GET /2/activity/stream connection that reconnects by
// itself. Read its events from Events (or All) until the channel closes:
// when the context given to ActivityStream ends or a failure is not worth
// retrying (HTTP 400, 401, 403, 404…; see Err).
type Stream struct {
	c      *Client
	hc     *http.Client
	opts   StreamOptions
	clock  Clock
	events chan *ActivityEvent
	done   chan struct{}

	mu    sync.Mutex
	err   error
	stats StreamStats
}

// ActivityStream opens the Activity stream (activityStream) with the
// client's token, which must be an app bearer token, and keeps it open:
// keep-alive lines are consumed, a connection silent for the idle timeout
// is dropped, and lost connections are reopened on X's documented schedule
// with backfill_minutes covering the gap. Events are parsed
// (ParseActivityMessage) but not verified: hand them to the engine.
//
// The stream holds at most opts.Buffer events plus one line in memory.
func (c *Client) ActivityStream(ctx context.Context, opts *StreamOptions) (*Stream, error) {
	o := StreamOptions{}
	if opts != nil {
		o = *opts
	}
	if o.BackfillMinutes < 0 || o.BackfillMinutes > ActivityBackfillMaxMinutes {
		return nil, invalid("backfill_minutes", strconv.Itoa(o.BackfillMinutes), fmt.Sprintf("must be in [0, %d]", ActivityBackfillMaxMinutes))
	}
	if !o.StartTime.IsZero() && !o.EndTime.IsZero() && o.EndTime.Before(o.StartTime) {
		return nil, invalid("end_time", "", "is before start_time")
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultStreamIdleTimeout
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxActivityMessageBytes
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultStreamBuffer
	}
	clk := o.Clock
	if clk == nil {
		clk = SystemClock{}
	}
	// The client-wide timeout would cut a long-lived response.
	hc := *c.httpClient
	hc.Timeout = 0
	s := &Stream{c: c, hc: &hc, opts: o, clock: clk,
		events: make(chan *ActivityEvent, o.Buffer), done: make(chan struct{})}
	go s.run(ctx)
	return s, nil
}

// Events returns the channel of events. It is closed when the stream ends.
func (s *Stream) Events() <-chan *ActivityEvent { return s.events }

// Done is closed when the stream has ended.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Err returns why the stream ended: the context's error, or a failure not
// worth retrying (an *Error). It is nil while the stream runs.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Stats returns the stream's counters.
func (s *Stream) Stats() StreamStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// All iterates over the events; a final error (other than the context's
// end) is yielded last.
func (s *Stream) All() iter.Seq2[*ActivityEvent, error] {
	return func(yield func(*ActivityEvent, error) bool) {
		for ev := range s.events {
			if !yield(ev, nil) {
				return
			}
		}
		if err := s.Err(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			yield(nil, err)
		}
	}
}

func (s *Stream) status(st StreamStatus) {
	if s.opts.OnStatus != nil {
		s.opts.OnStatus(st)
	}
}

func (s *Stream) update(f func(*StreamStats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// attemptResult is the outcome of one connection attempt.
type attemptResult struct {
	established bool // the server answered 200
	delivered   bool // at least one line was read
	err         error
	class       FailureClass
	atLeast     time.Duration
	fatal       bool
}

// run is the reconnect loop.
func (s *Stream) run(ctx context.Context) {
	defer close(s.done)
	defer close(s.events)
	var (
		backoff  StreamBackoff
		lastByte time.Time // of any connection
		lost     bool      // a connection was established and lost
	)
	for attempt := 1; ; attempt++ {
		backfill, gap := s.opts.BackfillMinutes, time.Duration(0)
		if lost {
			gap = s.clock.Now().Sub(lastByte)
			backfill = backfillFor(gap)
		}
		s.status(StreamStatus{State: StreamConnecting, Attempt: attempt, Backfill: backfill})
		began := s.clock.Now()
		res := s.connect(ctx, attempt, backfill, attempt == 1, lost, gap, &lastByte)
		if ctx.Err() != nil {
			s.finish(ctx.Err())
			return
		}
		if res.fatal {
			s.finish(res.err)
			return
		}
		s.update(func(st *StreamStats) { st.Failures++ })
		if res.established {
			lost = true
			s.status(StreamStatus{State: StreamDisconnected, Attempt: attempt, Err: res.err})
		}
		delay := reconnectDelay(&backoff, res, s.clock.Now().Sub(began))
		s.status(StreamStatus{State: StreamWaiting, Attempt: attempt, Err: res.err, Class: res.class, Wait: delay})
		if err := s.clock.Sleep(ctx, delay); err != nil {
			s.finish(err)
			return
		}
	}
}

// reconnectDelay is the wait after a connection that ended with res after
// lived. An established connection that delivered and lived at least
// StreamStableAfter dropped: reconnect at once (X's schedule). One that
// ended sooner counts as a network failure, whatever it delivered: a
// server (or anyone able to reset connections) that ends every connection
// after its first line would otherwise make the stream reconnect in a
// tight loop, each reconnection costing the consumer a full
// reconciliation.
func reconnectDelay(b *StreamBackoff, res attemptResult, lived time.Duration) time.Duration {
	switch {
	case res.delivered && lived >= StreamStableAfter:
		b.Reset()
		return 0
	case res.delivered:
		return b.Next(FailureNetwork, 0)
	}
	return b.Next(res.class, res.atLeast)
}

func (s *Stream) finish(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// backfillFor returns the whole minutes covering gap, 1..5.
func backfillFor(gap time.Duration) int {
	m := int((gap + time.Minute - 1) / time.Minute)
	return min(max(m, 1), ActivityBackfillMaxMinutes)
}

func (s *Stream) target(backfill int, first bool) string {
	u := *s.c.baseURL
	u.Path = s.c.baseURL.Path + PathActivityStream()
	u.RawPath = ""
	q := url.Values{}
	if backfill > 0 {
		q.Set("backfill_minutes", strconv.Itoa(backfill))
	}
	if first && !s.opts.StartTime.IsZero() {
		q.Set("start_time", s.opts.StartTime.UTC().Format(time.RFC3339))
	}
	if first && !s.opts.EndTime.IsZero() {
		q.Set("end_time", s.opts.EndTime.UTC().Format(time.RFC3339))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// connect runs one connection until it fails or ctx ends.
func (s *Stream) connect(ctx context.Context, attempt, backfill int, first, reconnect bool, gap time.Duration, lastByte *time.Time) attemptResult {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, s.target(backfill, first), nil)
	if err != nil {
		return attemptResult{err: fmt.Errorf("api: %s: building request: %w", OpActivityStream.ID, err), fatal: true}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", s.c.userAgent)
	if s.c.tokenSource != nil {
		tok, err := s.c.tokenSource.Token()
		if err != nil {
			return attemptResult{err: &tokenError{op: OpActivityStream.ID, err: redactRetrieveError(err)}, fatal: true}
		}
		tok.SetAuthHeader(req)
	}
	// The watchdog also covers a server that accepts and never answers.
	wd := newWatchdog(s.clock, s.opts.IdleTimeout, cancel)
	defer wd.stop()
	hr, err := s.hc.Do(req)
	if err != nil {
		if wd.fired() {
			err = ErrStreamStalled
		}
		return attemptResult{err: &transportError{op: OpActivityStream.ID, err: scrubURLError(err)}, class: FailureNetwork}
	}
	defer hr.Body.Close()
	if hr.StatusCode != http.StatusOK {
		return s.failedConnect(hr)
	}
	s.update(func(st *StreamStats) {
		st.Connects++
		if reconnect {
			st.Reconnects++
		}
	})
	s.status(StreamStatus{State: StreamConnected, Attempt: attempt, Backfill: backfill, Reconnect: reconnect, Gap: gap})
	res := attemptResult{established: true, class: FailureNetwork}
	body := &touchReader{r: hr.Body, wd: wd, clock: s.clock, last: lastByte, s: s}
	res.err = s.readLines(cctx, body, wd, &res.delivered)
	if wd.fired() {
		res.err = ErrStreamStalled
		s.update(func(st *StreamStats) { st.StalledConns++ })
	}
	return res
}

// failedConnect classifies a non-200 answer.
func (s *Stream) failedConnect(hr *http.Response) attemptResult {
	body, _ := io.ReadAll(io.LimitReader(hr.Body, maxStreamErrorBody))
	apiErr := decodeError(OpActivityStream.ID, hr.StatusCode, body)
	apiErr.RateLimit = parseRateLimit(hr.Header)
	apiErr.RetryAfter = parseRetryAfter(hr.Header, s.clock.Now())
	res := attemptResult{err: apiErr}
	switch code := hr.StatusCode; {
	case code == http.StatusTooManyRequests || code == 420:
		res.class = FailureRateLimit
		res.atLeast = apiErr.RetryAfter
		if reset := apiErr.RateLimit.Reset; !reset.IsZero() && apiErr.RateLimit.Remaining == 0 {
			res.atLeast = max(res.atLeast, reset.Sub(s.clock.Now()))
		}
	case code >= 500 || code == http.StatusRequestTimeout:
		res.class = FailureHTTP
		res.atLeast = apiErr.RetryAfter
	default:
		// Authentication, permission and request errors do not heal by
		// reconnecting.
		res.fatal = true
	}
	return res
}

// readLines reads newline-delimited JSON until the connection fails.
func (s *Stream) readLines(ctx context.Context, body io.Reader, wd *watchdog, delivered *bool) error {
	br := bufio.NewReaderSize(body, streamReadBuffer)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if len(line)+len(chunk) > s.opts.MaxLineBytes+2 {
				s.skipLine(br, err)
				line = line[:0]
				*delivered = true
				continue
			}
			line = append(line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == nil || (errors.Is(err, io.EOF) && len(line) > 0) {
			*delivered = true
			if serr := s.handleLine(ctx, line, wd); serr != nil {
				return serr
			}
			if cap(line) > streamReadBuffer {
				line = nil // do not keep a huge buffer alive
			} else {
				line = line[:0]
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errStreamEnded
			}
			return &transportError{op: OpActivityStream.ID, err: err}
		}
	}
}

// skipLine discards the rest of an over-long line and reports it.
func (s *Stream) skipLine(br *bufio.Reader, err error) {
	for errors.Is(err, bufio.ErrBufferFull) {
		_, err = br.ReadSlice('\n')
	}
	s.update(func(st *StreamStats) { st.Skipped++ })
	s.status(StreamStatus{State: StreamSkipped, Err: fmt.Errorf("%w: line over %d bytes", ErrActivityTooLarge, s.opts.MaxLineBytes)})
}

// handleLine parses one line and hands an event to the consumer. The
// error return ends the connection (the context ended).
func (s *Stream) handleLine(ctx context.Context, line []byte, wd *watchdog) error {
	if isBlank(line) {
		s.update(func(st *StreamStats) { st.KeepAlives++ })
		return nil
	}
	m, err := parseActivityMessage(line, s.opts.MaxLineBytes+2)
	if err != nil {
		s.update(func(st *StreamStats) { st.Skipped++ })
		s.status(StreamStatus{State: StreamSkipped, Err: err})
		return nil
	}
	if m.KeepAlive() {
		s.update(func(st *StreamStats) { st.KeepAlives++ })
		return nil
	}
	if len(m.Errors) > 0 {
		s.update(func(st *StreamStats) { st.Problems++ })
		s.status(StreamStatus{State: StreamProblem, Err: newStreamProblemError(m.Errors)})
	}
	if m.Data == nil {
		return nil
	}
	s.update(func(st *StreamStats) { st.Events++; st.LastEventAt = s.clock.Now() })
	// A slow consumer is not a stalled server: pause the watchdog while
	// the buffer is full.
	select {
	case s.events <- m.Data:
		return nil
	default:
	}
	wd.pause()
	defer wd.resume()
	select {
	case s.events <- m.Data:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != '\n' && c != '\r' && c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

// touchReader feeds the watchdog and the last-byte time on every read.
type touchReader struct {
	r     io.Reader
	wd    *watchdog
	clock Clock
	last  *time.Time
	s     *Stream
}

// Read implements io.Reader.
func (t *touchReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		now := t.clock.Now()
		*t.last = now
		t.wd.touch()
		t.s.update(func(st *StreamStats) { st.LastByte = now })
	}
	return n, err
}

// watchdog cancels a connection that stays silent for the idle timeout.
type watchdog struct {
	clock  Clock
	idle   time.Duration
	cancel context.CancelFunc

	mu      sync.Mutex
	stopFn  func() bool
	gen     uint64
	paused  bool
	stopped bool
	hit     atomic.Bool
}

func newWatchdog(clock Clock, idle time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{clock: clock, idle: idle, cancel: cancel}
	w.arm()
	return w
}

// arm (re)starts the timer; callers hold no lock.
func (w *watchdog) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.paused {
		return
	}
	if w.stopFn != nil {
		w.stopFn()
	}
	w.gen++
	gen := w.gen
	w.stopFn = w.clock.AfterFunc(w.idle, func() {
		w.mu.Lock()
		live := gen == w.gen && !w.stopped && !w.paused
		w.mu.Unlock()
		if live {
			w.hit.Store(true)
			w.cancel()
		}
	})
}

func (w *watchdog) touch() { w.arm() }

func (w *watchdog) pause() {
	w.mu.Lock()
	w.paused = true
	w.gen++
	if w.stopFn != nil {
		w.stopFn()
		w.stopFn = nil
	}
	w.mu.Unlock()
}

func (w *watchdog) resume() {
	w.mu.Lock()
	w.paused = false
	w.mu.Unlock()
	w.arm()
}

func (w *watchdog) stop() {
	w.mu.Lock()
	w.stopped = true
	w.gen++
	if w.stopFn != nil {
		w.stopFn()
	}
	w.mu.Unlock()
}

func (w *watchdog) fired() bool { return w.hit.Load() }
