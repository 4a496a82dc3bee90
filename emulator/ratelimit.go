package emulator

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/xchat-go/xchat/api"
)

// rateLimiter is a fixed-window limiter per (user, bucket), the model X
// documents ("N requests per 15-minute window per user"). A bucket is an
// operation, except that the three legacy DM POST operations share one
// (seed 004: "these rate limits are shared across the POST endpoints"),
// which also has a per-user 24-hour cap. Every answer of an X API
// operation carries x-rate-limit-limit, x-rate-limit-remaining and
// x-rate-limit-reset (epoch seconds) of the tightest window.
type rateLimiter struct {
	mu      sync.Mutex
	def     rateRule
	rules   map[string]rateRule
	daily   map[string]rateRule // per-bucket 24-hour caps
	windows map[string]*rateWindow
}

type rateWindow struct {
	start time.Time
	count int
}

// dmPostBucket is the bucket the three legacy DM POST operations share.
const dmPostBucket = "dm_conversations:POST"

// DefaultDMDailyCap is X's per-user 24-hour cap on the shared DM POST
// bucket (seed 004: 1000 requests per user per 24 hours).
const DefaultDMDailyCap = 1000

// bucketOf maps an operation to its rate-limit bucket.
func bucketOf(op string) string {
	switch op {
	case api.OpCreateDirectMessagesConversation.ID, api.OpCreateDirectMessagesByParticipantID.ID,
		api.OpCreateDirectMessagesByConversationID.ID:
		return dmPostBucket
	}
	return op
}

func newRateLimiter(cfg *config) *rateLimiter {
	daily := map[string]rateRule{}
	if cfg.dmDailyCap > 0 {
		daily[dmPostBucket] = rateRule{cfg.dmDailyCap, 24 * time.Hour}
	}
	return &rateLimiter{def: cfg.defaultRate, rules: cloneMap(cfg.opRates), daily: daily, windows: map[string]*rateWindow{}}
}

// allow counts one request and sets the headers. It returns false when the
// request exceeds a limit.
func (l *rateLimiter) allow(w http.ResponseWriter, user, op string, now time.Time) bool {
	bucket := bucketOf(op)
	rule, ok := l.rules[op]
	if !ok {
		rule, ok = l.rules[bucket]
	}
	if !ok {
		rule = l.def
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	allowed := true
	var shown *windowState
	for i, r := range []rateRule{rule, l.daily[bucket]} {
		if r.limit <= 0 || r.window <= 0 {
			continue
		}
		st := l.count(user+"|"+bucket+"|"+strconv.Itoa(i), r, now)
		if st.remaining < 0 {
			allowed = false
		}
		if shown == nil || st.remaining < shown.remaining {
			shown = &st
		}
	}
	if shown == nil {
		// Unlimited: still tell the client where it stands.
		shown = &windowState{limit: DefaultRateLimit, remaining: DefaultRateLimit, reset: now.Add(DefaultRateWindow)}
	}
	h := w.Header()
	h.Set("x-rate-limit-limit", strconv.Itoa(shown.limit))
	h.Set("x-rate-limit-remaining", strconv.Itoa(max(shown.remaining, 0)))
	h.Set("x-rate-limit-reset", strconv.FormatInt(shown.reset.Unix(), 10))
	return allowed
}

type windowState struct {
	limit, remaining int
	reset            time.Time
}

// count adds one request to a window (l.mu held).
func (l *rateLimiter) count(key string, r rateRule, now time.Time) windowState {
	win := l.windows[key]
	if win == nil || !now.Before(win.start.Add(r.window)) {
		win = &rateWindow{start: now}
		l.windows[key] = win
	}
	win.count++
	return windowState{limit: r.limit, remaining: r.limit - win.count, reset: win.start.Add(r.window)}
}
