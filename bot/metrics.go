package bot

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// latencyBuckets are the upper bounds (seconds) of the latency histograms.
var latencyBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// histogram is a fixed-bucket latency histogram.
type histogram struct {
	mu     sync.Mutex
	counts []uint64 // per bucket, plus +Inf
	sum    float64
	n      uint64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts == nil {
		h.counts = make([]uint64, len(latencyBuckets)+1)
	}
	i := 0
	for i < len(latencyBuckets) && s > latencyBuckets[i] {
		i++
	}
	h.counts[i]++
	h.sum += s
	h.n++
}

// Histogram is a snapshot of a latency histogram.
type Histogram struct {
	// Buckets are the upper bounds in seconds; Counts[i] counts the
	// observations in (Buckets[i-1], Buckets[i]], the last one those above
	// every bound.
	Buckets []float64
	Counts  []uint64
	Count   uint64
	Sum     time.Duration
}

// Quantile returns the bucket bound under which fraction q of the
// observations fell (an upper estimate; +Inf past the last bound).
func (h Histogram) Quantile(q float64) float64 {
	if h.Count == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(h.Count)))
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= want {
			if i < len(h.Buckets) {
				return h.Buckets[i]
			}
			break
		}
	}
	return math.Inf(1)
}

func (h *histogram) snapshot() Histogram {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := Histogram{Buckets: latencyBuckets, Counts: make([]uint64, len(latencyBuckets)+1), Count: h.n,
		Sum: time.Duration(h.sum * float64(time.Second))}
	copy(out.Counts, h.counts)
	return out
}

// metrics are the bot's counters.
type metrics struct {
	handled, failed, unverified, refused    atomic.Int64
	rateLimited, duplicates, backlog, own   atomic.Int64
	ignored, late, gapsReleased, errors     atomic.Int64
	keyChanges, commands, notFound, skipped atomic.Int64
	busy, reopened                          atomic.Int64
	handler, lag                            histogram
}

func (m *metrics) init() {}

// Stats are the bot's counters since New.
type Stats struct {
	// Handled counts handler calls that returned nil; Failed those that
	// returned an error or panicked (RateLimited among them).
	Handled, Failed, RateLimited int64
	// Commands counts command handler calls, NotFound addressed messages
	// naming no command.
	Commands, NotFound int64
	// Unverified counts events given to OnUnverified; Refused verified
	// events of senders off the allow-list; Own the bot's own events;
	// Backlog events older than the first run (WithBacklog); Ignored
	// verified events no handler is registered for (or of kinds bots do
	// not handle); Duplicates events whose message id was handled before.
	Unverified, Refused, Own, Backlog, Ignored, Duplicates int64
	// Late counts events stored after later ones were handled (a gap
	// filled after it was given up on); GapsReleased the times a missing
	// predecessor was given up on after WithMaxHold.
	Late, GapsReleased int64
	// Reopened counts messages refused for want of their key that were
	// routed again once the engine opened them (see Entry.Reopened).
	Reopened int64
	// Busy counts conversation passes left to another replica of the
	// account (a shared keystore: see keystore/pgstore), and passes
	// ended because another took the conversation over meanwhile (this
	// replica stalled past its lease).
	Busy int64
	// Skipped counts handler calls a shutdown cancelled (WithDrain ran
	// out): their events are handled again by the next run.
	Skipped int64
	// KeyChanges counts peer key changes reported; Errors reports to
	// OnError.
	KeyChanges, Errors int64
	// Latency is the duration of handler calls; Lag the time from the
	// server's timestamp of an event to the start of its handler.
	Latency, Lag Histogram
}

// Stats returns the counters.
func (b *Bot) Stats() Stats {
	m := &b.m
	return Stats{
		Handled: m.handled.Load(), Failed: m.failed.Load(), RateLimited: m.rateLimited.Load(),
		Commands: m.commands.Load(), NotFound: m.notFound.Load(),
		Unverified: m.unverified.Load(), Refused: m.refused.Load(), Own: m.own.Load(), Backlog: m.backlog.Load(),
		Ignored: m.ignored.Load(), Duplicates: m.duplicates.Load(), Late: m.late.Load(),
		GapsReleased: m.gapsReleased.Load(), Reopened: m.reopened.Load(), Skipped: m.skipped.Load(), Busy: m.busy.Load(),
		KeyChanges: m.keyChanges.Load(), Errors: m.errors.Load(),
		Latency: m.handler.snapshot(), Lag: m.lag.snapshot(),
	}
}

// Ready reports whether Run has completed its first reconciliation with
// /events and its transport is connected.
func (b *Bot) Ready() bool { return b.ready.Load() && b.connected.Load() }

// Running reports whether Run is running.
func (b *Bot) Running() bool { return b.running.Load() }

// HealthHandler serves, for a process supervisor or a load balancer:
//
//	GET /healthz   200 while Run runs, else 503 (liveness)
//	GET /readyz    200 once Ready, else 503 with the reason (readiness)
//	GET /metrics   the counters in the Prometheus text format
//
// It reveals counts only: no ids, no text.
func (b *Bot) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.Running() {
			http.Error(w, "not running", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case !b.Running():
			http.Error(w, "not running", http.StatusServiceUnavailable)
		case !b.ready.Load():
			http.Error(w, "first reconciliation not done", http.StatusServiceUnavailable)
		case !b.connected.Load():
			http.Error(w, "transport not connected", http.StatusServiceUnavailable)
		default:
			io.WriteString(w, "ready\n")
		}
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		b.WriteMetrics(w)
	})
	return mux
}

// WriteMetrics writes the counters in the Prometheus text format.
func (b *Bot) WriteMetrics(w io.Writer) {
	s := b.Stats()
	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("xchat_bot_handled_total", "Handler calls that returned without error.", s.Handled)
	counter("xchat_bot_failed_total", "Handler calls that returned an error or panicked.", s.Failed)
	counter("xchat_bot_rate_limited_total", "Events refused by the per-conversation rate limit.", s.RateLimited)
	counter("xchat_bot_commands_total", "Command handler calls.", s.Commands)
	counter("xchat_bot_command_not_found_total", "Addressed messages naming no command.", s.NotFound)
	counter("xchat_bot_unverified_total", "Events refused because they did not verify.", s.Unverified)
	counter("xchat_bot_refused_total", "Verified events from senders off the allow-list.", s.Refused)
	counter("xchat_bot_duplicates_total", "Events whose message id was handled before.", s.Duplicates)
	counter("xchat_bot_late_total", "Events handled after later ones of their conversation.", s.Late)
	counter("xchat_bot_reopened_total", "Events refused for want of their key, routed again once opened.", s.Reopened)
	counter("xchat_bot_gaps_released_total", "Missing predecessors given up on after the hold limit.", s.GapsReleased)
	counter("xchat_bot_key_changes_total", "Peer key changes reported.", s.KeyChanges)
	counter("xchat_bot_errors_total", "Transport, reconciliation and storage errors.", s.Errors)
	hist := func(name, help string, h Histogram) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
		var cum uint64
		for i, ub := range h.Buckets {
			cum += h.Counts[i]
			fmt.Fprintf(w, "%s_bucket{le=\"%g\"} %d\n", name, ub, cum)
		}
		fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", name, h.Count, name, h.Sum.Seconds(), name, h.Count)
	}
	hist("xchat_bot_handler_seconds", "Duration of handler calls.", s.Latency)
	hist("xchat_bot_event_lag_seconds", "Time from an event's server timestamp to its handler's start.", s.Lag)
	ready := 0
	if b.Ready() {
		ready = 1
	}
	fmt.Fprintf(w, "# HELP xchat_bot_ready Whether the bot is ready.\n# TYPE xchat_bot_ready gauge\nxchat_bot_ready %d\n", ready)
}
