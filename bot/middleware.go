package bot

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Logging logs every handler call at Info (Warn when it fails) with its
// conversation, sequence id, kind, command, sender and duration; never the
// text or the arguments.
func Logging(l *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return func(c *Context) error {
			log := l
			if log == nil {
				log = c.Logger()
			} else {
				log = log.With("conversation", c.Conversation(), "sequence_id", c.SequenceID(), "kind", c.Kind().String())
				if c.Kind() == KindCommand {
					log = log.With("command", c.Command())
				}
			}
			start := c.bot.cfg.now()
			err := next(c)
			took := c.bot.cfg.now().Sub(start)
			if err != nil {
				log.Warn("bot: handler failed", "sender", c.Sender(), "took", took, "err", err)
				return err
			}
			log.Info("bot: handled", "sender", c.Sender(), "took", took)
			return nil
		}
	}
}

// Recover turns a panic of the handlers it wraps into an error wrapping
// ErrPanic. (The bot also recovers from panics that reach it, so a panic
// never stops the process; Recover lets outer middleware see the error.)
func Recover() Middleware {
	return func(next Handler) Handler {
		return func(c *Context) (err error) {
			defer func() {
				if v := recover(); v != nil {
					err = fmt.Errorf("%w: %v", ErrPanic, v)
				}
			}()
			return next(c)
		}
	}
}

// RateLimit lets at most n events of one conversation through per period
// (a token bucket refilled continuously, so bursts up to n pass); others
// fail with ErrRateLimited without running the handler. It uses the bot's
// clock (WithClock).
func RateLimit(n int, per time.Duration) Middleware {
	if n < 1 || per <= 0 {
		return func(next Handler) Handler {
			return func(*Context) error {
				return errors.Join(ErrRateLimited, fmt.Errorf("%w: rate limit %d per %v", ErrConfig, n, per))
			}
		}
	}
	l := &rateLimiter{n: float64(n), rate: float64(n) / per.Seconds(), buckets: map[string]*bucket{}}
	return func(next Handler) Handler {
		return func(c *Context) error {
			ok := l.allow(c.Conversation(), c.bot.cfg.now())
			if !ok {
				return fmt.Errorf("%w: %s allows %d per %v", ErrRateLimited, c.Conversation(), n, per)
			}
			return next(c)
		}
	}
}

// bucket is one conversation's token bucket.
type bucket struct {
	tokens float64
	at     time.Time
}

// rateLimiter holds RateLimit's buckets. A full bucket is the same as none,
// so full ones are dropped whenever the map has doubled since the last
// sweep: conversation ids come from the server, and a long-running bot
// must not keep one bucket per conversation it ever heard from.
type rateLimiter struct {
	mu      sync.Mutex
	n, rate float64
	buckets map[string]*bucket
	sweepAt int // the map's size that triggers the next sweep
}

// minSweep is the number of buckets below which none are dropped.
const minSweep = 1024

// allow takes a token from conversation cid's bucket at now.
func (l *rateLimiter) allow(cid string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	bk := l.buckets[cid]
	if bk == nil {
		l.sweep(now)
		bk = &bucket{tokens: l.n, at: now}
		l.buckets[cid] = bk
	}
	bk.tokens = min(l.n, bk.tokens+now.Sub(bk.at).Seconds()*l.rate)
	bk.at = now
	if bk.tokens < 1 {
		return false
	}
	bk.tokens--
	return true
}

// sweep drops the buckets that have refilled by now, once the map has
// grown to twice its size after the last sweep (amortised O(1) per call).
func (l *rateLimiter) sweep(now time.Time) {
	if len(l.buckets) < max(l.sweepAt, minSweep) {
		return
	}
	for cid, bk := range l.buckets {
		if bk.tokens+now.Sub(bk.at).Seconds()*l.rate >= l.n {
			delete(l.buckets, cid)
		}
	}
	l.sweepAt = 2 * len(l.buckets)
}
