package api

import (
	"context"
	"time"
)

// The reconnect schedule of X's "Handling disconnections" page: once an
// established connection drops, reconnect at once (here: one that lasted
// StreamStableAfter; see Stream); when that fails, back
// off linearly by 250 ms up to 16 s for network errors, exponentially from
// 5 s up to 320 s for HTTP errors, and exponentially from 1 minute for
// HTTP 429. The page sets no cap on the 429 schedule; StreamBackoff caps it
// at 16 minutes (just over one 15-minute rate-limit window).
const (
	StreamNetworkStep = 250 * time.Millisecond
	StreamNetworkMax  = 16 * time.Second
	StreamHTTPBase    = 5 * time.Second
	StreamHTTPMax     = 320 * time.Second
	StreamRateBase    = 60 * time.Second
	StreamRateMax     = 16 * time.Minute
	// DefaultStreamIdleTimeout is the silence after which a stream counts
	// as stalled: X sends a keep-alive newline every 20 seconds at most.
	DefaultStreamIdleTimeout = 20 * time.Second
	// StreamMaxWait bounds every reconnect wait, whatever a Retry-After or
	// x-rate-limit-reset asks for: a server (or anything between) naming a
	// reset hours or years away would otherwise switch real-time delivery
	// off for that long with one answer. After it the stream asks again,
	// at most once per StreamMaxWait while the server keeps refusing.
	StreamMaxWait = StreamRateMax
	// StreamStableAfter is how long a connection must last for its drop to
	// be reconnected at once; one that ends sooner, even after delivering
	// lines, backs off on the network schedule.
	StreamStableAfter = 30 * time.Second
)

// FailureClass says which reconnect schedule a failure follows.
type FailureClass int

const (
	// FailureNetwork is a TCP/IP or TLS failure, a dropped or stalled
	// connection: linear schedule.
	FailureNetwork FailureClass = iota
	// FailureHTTP is an HTTP error worth retrying (5xx, 408): exponential
	// from 5 s.
	FailureHTTP
	// FailureRateLimit is HTTP 429 (or 420): exponential from 1 minute.
	FailureRateLimit
)

// String names the class.
func (f FailureClass) String() string {
	switch f {
	case FailureHTTP:
		return "http"
	case FailureRateLimit:
		return "rate-limit"
	}
	return "network"
}

// StreamBackoff computes the documented reconnect delays. The zero value
// is ready to use; it is not safe for concurrent use.
type StreamBackoff struct {
	network, http, rate int // consecutive failures per class
}

// Next returns the delay before the next attempt after a failure of class
// (the first network failure waits 250 ms, the first HTTP error 5 s, the
// first 429 one minute) and counts the failure. atLeast (a Retry-After, or
// the rate-limit reset) raises the delay, up to StreamMaxWait.
func (b *StreamBackoff) Next(class FailureClass, atLeast time.Duration) time.Duration {
	var d time.Duration
	switch class {
	case FailureHTTP:
		b.http++
		d = exponential(StreamHTTPBase, StreamHTTPMax, b.http)
	case FailureRateLimit:
		b.rate++
		d = exponential(StreamRateBase, StreamRateMax, b.rate)
	default:
		b.network++
		d = min(time.Duration(b.network)*StreamNetworkStep, StreamNetworkMax)
	}
	return max(d, min(atLeast, StreamMaxWait))
}

// Reset forgets past failures: called when a connection has delivered
// data and lasted StreamStableAfter, after which the next drop reconnects
// at once.
func (b *StreamBackoff) Reset() { *b = StreamBackoff{} }

func exponential(base, ceiling time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// Clock is the time source of a stream: its reconnect waits and its idle
// watchdog. Tests inject a fake one so that nothing really sleeps.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d, or returns ctx.Err() when ctx ends first.
	Sleep(ctx context.Context, d time.Duration) error
	// AfterFunc calls f in its own goroutine once d has elapsed, unless
	// the returned stop function is called first (stop reports whether it
	// prevented the call).
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// SystemClock is the real Clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx is done.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error { return sleepCtx(ctx, d) }

// AfterFunc is time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
