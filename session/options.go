package session

import (
	"fmt"
	"io"
	"time"

	"github.com/xchat-go/xchat"
)

// Option configures Open. An option given a value it cannot use makes Open
// fail with xchat.ErrInvalidArgument; no value is silently replaced by a default.
type Option func(*config) error

type config struct {
	rand     io.Reader
	now      func() time.Time
	policy   TrustPolicy
	workers  int
	onChange func(KeyChanged)
	pageSize int
	spillDir string

	maxSyncBytes int64
	// maxFailedEvents and maxFailedBytes bound the failed events kept per
	// conversation (see WithMaxFailedEvents).
	maxFailedEvents int
	maxFailedBytes  int64
	// maxListed bounds the conversations recorded from listings that hold
	// nothing verified (see WithMaxListedConversations).
	maxListed int
}

// invalidOption is the error of an option given a value it cannot use.
func invalidOption(format string, args ...any) error {
	return fmt.Errorf("%w: %s", xchat.ErrInvalidArgument, fmt.Sprintf(format, args...))
}

// WithRand sets the randomness source for keys, nonces and message ids
// (default crypto/rand). The engine serialises reads from it, so any
// io.Reader may be used; nil is refused.
func WithRand(r io.Reader) Option {
	return func(c *config) error {
		if r == nil {
			return invalidOption("WithRand: nil reader")
		}
		c.rand = r
		return nil
	}
}

// WithClock sets the clock used for conversation key versions and
// timestamps (default time.Now); nil is refused.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return invalidOption("WithClock: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithTrustPolicy sets the peer key trust policy (default TrustOnFirstUse).
// A value other than TrustOnFirstUse and TrustStrict is refused.
func WithTrustPolicy(p TrustPolicy) Option {
	return func(c *config) error {
		if !p.valid() {
			return invalidOption("WithTrustPolicy: unknown policy %v", p)
		}
		c.policy = p
		return nil
	}
}

// WithWorkers sets the number of goroutines that decrypt a page of events
// (default GOMAXPROCS); a number below 1 is refused.
func WithWorkers(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return invalidOption("WithWorkers: %d workers", n)
		}
		c.workers = n
		return nil
	}
}

// WithKeyChangeHandler registers fn to be called, synchronously and without
// engine locks held, every time a peer's published keys change. The same
// changes are also returned by RefreshPeers and recorded in the key history
// (see Peer). nil is refused (leave the option out for no handler).
func WithKeyChangeHandler(fn func(KeyChanged)) Option {
	return func(c *config) error {
		if fn == nil {
			return invalidOption("WithKeyChangeHandler: nil handler")
		}
		c.onChange = fn
		return nil
	}
}

// WithPageSize sets max_results for event and conversation listing requests
// (1..100, default 100); a size outside that range is refused.
func WithPageSize(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 100 {
			return invalidOption("WithPageSize: %d is outside 1..100", n)
		}
		c.pageSize = n
		return nil
	}
}

// WithSpillDir sets the directory of the temporary files in which a sync
// of several pages keeps the pages it has fetched until it processes them
// oldest first (default: the system's temporary directory); "" is refused
// (leave the option out for the default). Each page is sealed under a key
// held only in memory, and the file is removed at once (or, where the
// system does not allow that, when the sync ends). Where no file can be
// made there, the pages are kept in the keystore instead.
func WithSpillDir(dir string) Option {
	return func(c *config) error {
		if dir == "" {
			return invalidOption("WithSpillDir: empty directory")
		}
		c.spillDir = dir
		return nil
	}
}

// defaultMaxSyncBytes is the default of WithMaxSyncBytes: 1 GiB, some ten
// thousand pages of an honest history (a page of 100 messages is about a
// hundred kilobytes).
const defaultMaxSyncBytes = 1 << 30

// Defaults of WithMaxFailedEvents: 1,024 failed events and 16 MiB of
// them per conversation. An honest conversation keeps none (an event
// fails when it was forged, tampered with, replayed or sent by someone
// who may not send it), so the bound is met only under attack.
const (
	defaultMaxFailedEvents = 1024
	defaultMaxFailedBytes  = 16 << 20
)

// WithMaxFailedEvents bounds the failed events (those that fail
// verification, decryption or the engine's gates: Event.Err set) the store
// keeps per conversation, by number and by their encoded size (defaults
// 1,024 and 16 MiB); a bound below 1 is refused. Which events fail is the
// server's choice — it can forge events without end, by sync or by push —
// so a conversation past its allowance keeps no more of them: a failed
// event over it is still passed to the callback (with its Err), but not
// stored, and the sync or delivery reports it (AnomalyFailedNotKept).
// Verified events are never affected. Across all conversations (which a
// server can name without end) the engine keeps 16 times the bound
// (16,384 events and 256 MiB by default). The allowances count the failed
// events kept since this release, and renew with verified events: each one
// stored gives one event and bytes/events bytes back to its conversation's
// allowance and the engine's, so failed events kept stay within the bound
// plus one event (and bytes/events bytes) per verified event stored.
func WithMaxFailedEvents(events int, bytes int64) Option {
	return func(c *config) error {
		if events < 1 || bytes < 1 {
			return invalidOption("WithMaxFailedEvents: %d events, %d bytes", events, bytes)
		}
		c.maxFailedEvents, c.maxFailedBytes = events, bytes
		return nil
	}
}

// defaultMaxListed is the default of WithMaxListedConversations.
const defaultMaxListed = 10_000

// WithMaxListedConversations bounds the conversations RefreshConversations
// (and so SyncAll) records from the server's listing while they hold
// nothing verified (default 10,000; below 1 is refused). Which
// conversations a listing names is the server's choice alone — up to
// 10,000 pages of 100 — and each recorded one is kept for ever and synced
// by every SyncAll. A listed conversation holds something once a verified
// event of it is stored, and then no longer counts; one listed past the
// bound is not recorded, and the listing fails with ErrListingNotKept
// (SyncAll still syncs the conversations stored). Conversations this
// account starts, or whose events it stores, are never affected.
func WithMaxListedConversations(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return invalidOption("WithMaxListedConversations: %d conversations", n)
		}
		c.maxListed = n
		return nil
	}
}

// WithMaxSyncBytes bounds the events one sync of a conversation fetches
// (their encoded size, as served, or what keeping them aside takes when
// that is more — entries of a byte or two, say; default 1 GiB, some ten
// thousand pages of an honest history); a bound
// below 1 is refused. A sync of several pages keeps the pages aside (see
// WithSpillDir) until it has them all, and then stores them: the bound
// caps the disk a server can make one sync fill (the spill stays within
// it plus the page that passed it). A sync whose pages pass it
// stops fetching with xchat.ErrServerResponse after the page that did; the
// pages fetched are processed, and a later sync fetches only what is newer
// than them.
func WithMaxSyncBytes(n int64) Option {
	return func(c *config) error {
		if n < 1 {
			return invalidOption("WithMaxSyncBytes: %d bytes", n)
		}
		c.maxSyncBytes = n
		return nil
	}
}
