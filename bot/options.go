package bot

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Addressing decides which messages of a conversation are commands.
type Addressing int

const (
	// PrefixOrMention: "!echo hi" (the prefix) or "@bot echo hi" (a
	// leading mention of the bot's name, prefix optional after it). The
	// default in every conversation.
	PrefixOrMention Addressing = iota
	// MentionOnly: only "@bot echo hi" or "@bot !echo hi". For groups
	// shared with other bots that answer the same prefix.
	MentionOnly
	// Bare: every message is a command; the prefix and the mention are
	// optional ("echo hi"). For one-to-one conversations with the bot.
	Bare
)

// String names the addressing as the -group-commands flag spells it.
func (a Addressing) String() string {
	switch a {
	case MentionOnly:
		return "mention"
	case Bare:
		return "bare"
	}
	return "prefix-or-mention"
}

// ParseAddressing reads the String form ("prefix-or-mention", "mention",
// "bare").
func ParseAddressing(s string) (Addressing, error) {
	for _, a := range []Addressing{PrefixOrMention, MentionOnly, Bare} {
		if strings.EqualFold(s, a.String()) {
			return a, nil
		}
	}
	return 0, fmt.Errorf("%w: addressing %q (want prefix-or-mention, mention or bare)", ErrConfig, s)
}

// Defaults of the options.
const (
	DefaultPrefix      = "!"
	DefaultConcurrency = 8
	DefaultDrain       = 10 * time.Second
	DefaultBacklog     = time.Minute
	DefaultMaxHold     = 10 * time.Second
	// DefaultMaxMediaBytes bounds one attachment downloaded by Media.
	DefaultMaxMediaBytes = 64 << 20
	// batch is the number of stored entries a conversation worker reads
	// at a time.
	batch = 128
)

// Option configures New. An option given a value it does not accept (a
// nil logger, a non-positive concurrency, …) is not ignored: Run refuses
// to start, with an error that matches ErrConfig and names the option.
type Option func(*config)

type config struct {
	prefix         string
	name           string
	group, direct  Addressing
	allow          map[string]bool
	concurrency    int
	logger         *slog.Logger
	now            func() time.Time
	drain          time.Duration
	handlerTimeout time.Duration
	backlog        time.Duration
	maxHold        time.Duration
	reconcileEvery time.Duration
	reconcileAfter time.Duration
	maxMedia       int64
	// bad holds the options given values they do not accept; Run
	// refuses to start with them (see validate).
	bad []error
}

// reject records an option given a value it does not accept.
func (c *config) reject(format string, args ...any) {
	c.bad = append(c.bad, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
}

func defaultConfig() config {
	return config{
		prefix:      DefaultPrefix,
		concurrency: DefaultConcurrency,
		logger:      slog.Default(),
		now:         time.Now,
		drain:       DefaultDrain,
		backlog:     DefaultBacklog,
		maxHold:     DefaultMaxHold,
		maxMedia:    DefaultMaxMediaBytes,
	}
}

func (c *config) validate() error {
	if len(c.bad) > 0 {
		return errors.Join(c.bad...)
	}
	if strings.ContainsAny(c.prefix, " \t\n") {
		return fmt.Errorf("%w: prefix %q contains white space", ErrConfig, c.prefix)
	}
	if c.name != "" && !validName(c.name) {
		return fmt.Errorf("%w: name %q (an X username: letters, digits, _)", ErrConfig, c.name)
	}
	for _, a := range []Addressing{c.group, c.direct} {
		if a == MentionOnly && c.name == "" {
			return fmt.Errorf("%w: mention-only addressing needs the bot's name (WithName)", ErrConfig)
		}
		if a == PrefixOrMention && c.prefix == "" && c.name == "" {
			return fmt.Errorf("%w: no prefix and no name: nothing can address the bot", ErrConfig)
		}
	}
	return nil
}

// WithPrefix sets the command prefix (default "!"; "" for none). A prefix
// that is not valid UTF-8 never matches.
func WithPrefix(p string) Option { return func(c *config) { c.prefix = p } }

// WithName sets the bot's X username (without "@"): a message starting
// with "@name" addresses the bot.
func WithName(name string) Option {
	return func(c *config) { c.name = strings.TrimPrefix(name, "@") }
}

// WithGroupAddressing sets which group messages are commands (default
// PrefixOrMention).
func WithGroupAddressing(a Addressing) Option { return func(c *config) { c.group = a } }

// WithDirectAddressing sets which one-to-one messages are commands
// (default PrefixOrMention).
func WithDirectAddressing(a Addressing) Option { return func(c *config) { c.direct = a } }

// WithAllowList restricts every handler to events whose verified sender is
// one of userIDs; others are dropped (and counted as refused). No ids, the
// default: everyone.
func WithAllowList(userIDs ...string) Option {
	return func(c *config) {
		if len(userIDs) == 0 {
			c.allow = nil
			return
		}
		c.allow = map[string]bool{}
		for _, id := range userIDs {
			c.allow[id] = true
		}
	}
}

// WithConcurrency bounds the number of conversations handled at the same
// time (default 8). Events of one conversation are always handled one at a
// time, in order.
func WithConcurrency(n int) Option {
	return func(c *config) {
		if n <= 0 {
			c.reject("WithConcurrency(%d): want at least 1", n)
			return
		}
		c.concurrency = n
	}
}

// WithLogger sets the structured logger (default slog.Default()). The bot
// logs ids, commands and outcomes, never message text or arguments.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			c.reject("WithLogger(nil)")
			return
		}
		c.logger = l
	}
}

// WithClock sets the clock of rate limits, latency figures, holds and the
// backlog rule (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now == nil {
			c.reject("WithClock(nil)")
			return
		}
		c.now = now
	}
}

// WithDrain sets how long Run waits, once its context ends, for the
// handlers in flight before cancelling their contexts (default 10 s).
func WithDrain(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.reject("WithDrain(%v): negative", d)
			return
		}
		c.drain = d
	}
}

// WithHandlerTimeout bounds each handler call (its Context's deadline);
// 0, the default, means none.
func WithHandlerTimeout(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.reject("WithHandlerTimeout(%v): negative", d)
			return
		}
		c.handlerTimeout = d
	}
}

// WithBacklog sets how old, at the bot's first run in a keystore, an event
// may be and still be handled (default one minute): events the server
// dates earlier than the first run minus the backlog are recorded without
// running handlers, so a new bot does not answer a conversation's old
// commands. The dates are the server's, unsigned: the rule applies only
// until the bot has read what is stored in a conversation, never to what
// arrives after. Negative: handle the whole history.
func WithBacklog(d time.Duration) Option { return func(c *config) { c.backlog = d } }

// WithMaxHold bounds how long an event waits for a missing predecessor
// (default 10 s) when no reconciliation with /events settles the gap.
func WithMaxHold(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.reject("WithMaxHold(%v): want a positive duration", d)
			return
		}
		c.maxHold = d
	}
}

// WithReconcile sets the Follower's reconciliation periods (see
// realtime.Follower: ReconcileEvery and ReconcileAfter; 0 keeps the
// defaults).
func WithReconcile(every, after time.Duration) Option {
	return func(c *config) { c.reconcileEvery, c.reconcileAfter = every, after }
}

// WithMaxMediaBytes bounds the ciphertext Media.Download reads (default 64
// MiB).
func WithMaxMediaBytes(n int64) Option {
	return func(c *config) {
		if n <= 0 {
			c.reject("WithMaxMediaBytes(%d): want a positive size", n)
			return
		}
		c.maxMedia = n
	}
}
