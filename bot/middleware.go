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
	var mu sync.Mutex
	type bucket struct {
		tokens float64
		at     time.Time
	}
	buckets := map[string]*bucket{}
	rate := float64(n) / per.Seconds()
	return func(next Handler) Handler {
		return func(c *Context) error {
			now := c.bot.cfg.now()
			mu.Lock()
			bk := buckets[c.Conversation()]
			if bk == nil {
				bk = &bucket{tokens: float64(n), at: now}
				buckets[c.Conversation()] = bk
			}
			bk.tokens = min(float64(n), bk.tokens+now.Sub(bk.at).Seconds()*rate)
			bk.at = now
			ok := bk.tokens >= 1
			if ok {
				bk.tokens--
			}
			mu.Unlock()
			if !ok {
				return fmt.Errorf("%w: %s allows %d per %v", ErrRateLimited, c.Conversation(), n, per)
			}
			return next(c)
		}
	}
}
