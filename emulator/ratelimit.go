package emulator

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// rateLimiter is a fixed-window limiter per (user, operation), the model X
// documents ("N requests per 15-minute window per user"). Every answer of
// an authenticated operation carries x-rate-limit-limit,
// x-rate-limit-remaining and x-rate-limit-reset (epoch seconds).
type rateLimiter struct {
	mu      sync.Mutex
	def     rateRule
	rules   map[string]rateRule
	windows map[string]*rateWindow
}

type rateWindow struct {
	start time.Time
	count int
}

func newRateLimiter(cfg *config) *rateLimiter {
	return &rateLimiter{def: cfg.defaultRate, rules: cloneMap(cfg.opRates), windows: map[string]*rateWindow{}}
}

// allow counts one request and sets the headers. It returns false when the
// request exceeds the limit.
func (l *rateLimiter) allow(w http.ResponseWriter, user, op string, now time.Time) bool {
	rule, ok := l.rules[op]
	if !ok {
		rule = l.def
	}
	if rule.limit <= 0 || rule.window <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	key := user + "|" + op
	win := l.windows[key]
	if win == nil || !now.Before(win.start.Add(rule.window)) {
		win = &rateWindow{start: now}
		l.windows[key] = win
	}
	win.count++
	remaining := rule.limit - win.count
	if remaining < 0 {
		remaining = 0
	}
	h := w.Header()
	h.Set("x-rate-limit-limit", strconv.Itoa(rule.limit))
	h.Set("x-rate-limit-remaining", strconv.Itoa(remaining))
	h.Set("x-rate-limit-reset", strconv.FormatInt(win.start.Add(rule.window).Unix(), 10))
	return win.count <= rule.limit
}
