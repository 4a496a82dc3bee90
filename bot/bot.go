package bot

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/xchat-go/xchat/session"
)

// Handler handles one verified event. An error (or a panic) is reported
// to OnHandlerError; the event counts as handled either way and is not
// retried.
type Handler func(c *Context) error

// Middleware wraps a handler (see Use, Logging, Recover, RateLimit).
type Middleware func(next Handler) Handler

// Bot dispatches one account's verified events to handlers. Create it with
// New, register handlers, then call Run. Registration is safe at any time.
type Bot struct {
	e   *session.Engine
	cfg config

	mu         sync.RWMutex // guards the registrations below
	commands   map[string]*Command
	order      []*Command
	middleware []Middleware
	onMessage  Handler
	onEdit     Handler
	onReaction Handler
	onJoin     Handler
	onNotFound Handler
	onKey      func(context.Context, session.KeyChanged)
	onHErr     func(*Context, error)
	onUnver    func(context.Context, *Unverified)
	onErr      func(error)

	running   atomic.Bool
	ready     atomic.Bool
	connected atomic.Bool
	m         metrics
}

// New returns a bot on engine e (opened on the account's keystore, online).
// Invalid options are reported by Run.
func New(e *session.Engine, opts ...Option) *Bot {
	b := &Bot{e: e, cfg: defaultConfig(), commands: map[string]*Command{}}
	for _, o := range opts {
		o(&b.cfg)
	}
	b.m.init()
	return b
}

// Engine returns the bot's engine.
func (b *Bot) Engine() *session.Engine { return b.e }

// Prefix returns the command prefix.
func (b *Bot) Prefix() string { return b.cfg.prefix }

// UserID returns the bot account's user id.
func (b *Bot) UserID() string { return b.e.UserID() }

// Command registers h under name and aliases (case-insensitive; letters,
// digits and underscores). A later registration of a name replaces the
// earlier one.
func (b *Bot) Command(name string, h Handler, aliases ...string) *Command {
	c := &Command{name: strings.ToLower(name), handler: h}
	for _, a := range aliases {
		c.aliases = append(c.aliases, strings.ToLower(a))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range append([]string{c.name}, c.aliases...) {
		if old := b.commands[n]; old != nil {
			b.forget(old)
		}
		b.commands[n] = c
	}
	b.order = append(b.order, c)
	return c
}

// forget removes every name of old (replaced by a new registration).
func (b *Bot) forget(old *Command) {
	for n, c := range b.commands {
		if c == old {
			delete(b.commands, n)
		}
	}
	for i, c := range b.order {
		if c == old {
			b.order = append(b.order[:i], b.order[i+1:]...)
			break
		}
	}
}

// Commands returns the registered commands in registration order.
func (b *Bot) Commands() []*Command {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return append([]*Command(nil), b.order...)
}

// Use appends middleware; the first added is the outermost. It wraps
// every handler: commands, messages, edits, reactions, joins.
func (b *Bot) Use(mw ...Middleware) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.middleware = append(b.middleware, mw...)
}

// OnMessage handles verified text messages that ran no command (not
// addressed to the bot, or no such command and no OnCommandNotFound).
func (b *Bot) OnMessage(h Handler) { b.set(&b.onMessage, h) }

// OnEdit handles verified edits (Context.Text is the new text,
// Context.Target the edited message) of messages stored as their sender's.
// An edit whose target is not (yet) stored, or not its sender's, goes to
// OnUnverified (ErrUnconfirmedEdit): authorship of the target decides
// whether an edit is allowed, and a target that arrives later is too late
// for a handler that already acted.
func (b *Bot) OnEdit(h Handler) { b.set(&b.onEdit, h) }

// OnReaction handles verified reactions added or removed
// (Context.Reaction).
func (b *Bot) OnReaction(h Handler) { b.set(&b.onReaction, h) }

// OnJoin handles the bot being added to a group (a verified group create
// or member add naming the bot; Context.Sender is who added it).
func (b *Bot) OnJoin(h Handler) { b.set(&b.onJoin, h) }

// OnCommandNotFound handles addressed messages naming no registered
// command.
func (b *Bot) OnCommandNotFound(h Handler) { b.set(&b.onNotFound, h) }

func (b *Bot) set(slot *Handler, h Handler) {
	b.mu.Lock()
	defer b.mu.Unlock()
	*slot = h
}

// OnKeyChange is called with every change of a peer's published keys the
// engine reports (its safety number changed; see session.KeyChanged). It
// runs on the delivery goroutine: keep it short.
func (b *Bot) OnKeyChange(fn func(ctx context.Context, kc session.KeyChanged)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onKey = fn
}

// OnHandlerError is called when a handler returns an error or panics
// (ErrPanic). Without it the error is logged.
func (b *Bot) OnHandlerError(fn func(c *Context, err error)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onHErr = fn
}

// OnUnverified is called with every event no handler may see (see
// Unverified). Without it the event is logged.
func (b *Bot) OnUnverified(fn func(ctx context.Context, u *Unverified)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onUnver = fn
}

// OnError is called with failures Run carries on after: transport and
// reconciliation errors, rejected deliveries, keystore errors. Without it
// they are logged.
func (b *Bot) OnError(fn func(error)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onErr = fn
}

// reportError hands err to OnError or the log.
func (b *Bot) reportError(err error) {
	if err == nil {
		return
	}
	b.m.errors.Add(1)
	b.mu.RLock()
	fn := b.onErr
	b.mu.RUnlock()
	if fn != nil {
		fn(err)
		return
	}
	b.cfg.logger.Warn("bot: error", "err", err)
}

// chain wraps h in the middleware.
func (b *Bot) chain(h Handler) Handler {
	b.mu.RLock()
	mws := b.middleware
	b.mu.RUnlock()
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
