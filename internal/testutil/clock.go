// Package testutil holds the helpers that tests in several packages need:
// a manual clock and checks that never discard an error. It is imported by
// tests only.
package testutil

import (
	"context"
	"sync"
	"time"
)

// Clock is a manual clock: it moves only when told (Advance) or when code
// under test sleeps on it (Sleep advances it at once and records the
// delay). It stands in for time.Now wherever a test must decide when
// something expires, so that no test sleeps on the wall clock.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

// NewClock returns a clock set to the current time, truncated to the
// second, so that context deadlines (which use the real clock) and the
// clock agree when a test starts.
func NewClock() *Clock { return &Clock{now: time.Now().Truncate(time.Second)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Sleep advances the clock by d at once and records d; it returns ctx's
// error, without advancing, when ctx has ended.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

// Sleeps returns every delay passed to Sleep, in order.
func (c *Clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}
