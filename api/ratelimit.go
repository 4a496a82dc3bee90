package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RateLimit is the x-rate-limit-* state reported by a response. A zero
// Reset means the response carried no rate-limit headers.
type RateLimit struct {
	Limit     int       // x-rate-limit-limit: requests allowed per window
	Remaining int       // x-rate-limit-remaining: requests left in the window
	Reset     time.Time // x-rate-limit-reset: when the window resets
}

// Known reports whether the headers were present.
func (r RateLimit) Known() bool { return !r.Reset.IsZero() }

func parseRateLimit(h http.Header) RateLimit {
	var rl RateLimit
	reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("x-rate-limit-reset")), 10, 64)
	if err != nil || reset <= 0 || reset > 1<<40 {
		return RateLimit{}
	}
	rl.Reset = time.Unix(reset, 0)
	if v, err := strconv.Atoi(strings.TrimSpace(h.Get("x-rate-limit-limit"))); err == nil && v >= 0 {
		rl.Limit = v
	}
	if v, err := strconv.Atoi(strings.TrimSpace(h.Get("x-rate-limit-remaining"))); err == nil && v >= 0 {
		rl.Remaining = v
	} else {
		// Without a usable remaining count, do not assume exhaustion.
		rl.Remaining = -1
	}
	return rl
}

// RateLimitBucket names the rate-limit window an operation draws from: its
// own id, except that the three legacy DM POST operations share one window
// (and X's 24-hour caps) — seed 004: "these rate limits are shared across
// the POST endpoints". A 429 from one of them holds back the other two.
func RateLimitBucket(op Operation) string { return bucketOf(op.ID) }

// DmPostBucket is the bucket shared by the legacy DM POST operations.
const DmPostBucket = "dm_conversations:POST"

func bucketOf(op string) string {
	switch op {
	case OpCreateDirectMessagesConversation.ID, OpCreateDirectMessagesByParticipantID.ID,
		OpCreateDirectMessagesByConversationID.ID:
		return DmPostBucket
	}
	return op
}

// rateLimiter remembers, per bucket (see RateLimitBucket), the last window
// reported by the server, and counts requests sent since then, so a request that would
// exceed an exhausted window is held (or refused) without touching the
// network.
type rateLimiter struct {
	mu    sync.Mutex
	state map[string]*RateLimit
}

func newRateLimiter() *rateLimiter { return &rateLimiter{state: make(map[string]*RateLimit)} }

// wait blocks until op may be sent, or fails with *RateLimitError. It
// reserves one request of the window.
func (l *rateLimiter) wait(ctx context.Context, c *Client, opID string) error {
	op := bucketOf(opID)
	for {
		l.mu.Lock()
		st := l.state[op]
		now := c.now()
		if st == nil || st.Remaining < 0 || !now.Before(st.Reset) {
			if st != nil && !now.Before(st.Reset) {
				delete(l.state, op)
			}
			l.mu.Unlock()
			return ctx.Err()
		}
		if st.Remaining > 0 {
			st.Remaining--
			l.mu.Unlock()
			return ctx.Err()
		}
		snapshot := *st
		l.mu.Unlock()

		d := snapshot.Reset.Sub(now)
		if c.failFast || d > c.maxRateLimitWait || exceedsDeadline(ctx, now, d) {
			return &RateLimitError{Op: opID, RateLimit: snapshot}
		}
		if err := c.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// update records the window reported by a response.
func (l *rateLimiter) update(opID string, rl RateLimit, status int, retryAfter time.Duration, now time.Time) {
	op := bucketOf(opID)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case rl.Known():
		cp := rl
		if status == http.StatusTooManyRequests {
			cp.Remaining = 0
			if !cp.Reset.After(now) && retryAfter > 0 {
				cp.Reset = now.Add(retryAfter)
			}
		}
		l.state[op] = &cp
	case status == http.StatusTooManyRequests && retryAfter > 0:
		l.state[op] = &RateLimit{Remaining: 0, Reset: now.Add(retryAfter)}
	}
}

// resetDelay is how long until op's recorded window resets (0 if unknown).
func (l *rateLimiter) resetDelay(opID string, now time.Time) time.Duration {
	op := bucketOf(opID)
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.state[op]; st != nil && st.Remaining == 0 && st.Reset.After(now) {
		return st.Reset.Sub(now)
	}
	return 0
}

// RateLimit returns the last rate-limit window recorded for op's bucket,
// adjusted for requests sent since, and whether one is known and still
// current.
func (c *Client) RateLimit(op Operation) (RateLimit, bool) {
	c.limits.mu.Lock()
	defer c.limits.mu.Unlock()
	st := c.limits.state[bucketOf(op.ID)]
	if st == nil || !c.now().Before(st.Reset) {
		return RateLimit{}, false
	}
	return *st, true
}
