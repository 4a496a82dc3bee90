package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// Routing: what becomes of one stored event (a handler, a hook, or
// nothing), and the handler call itself.

// process routes one stored entry and settles it: the cursor moves past
// it (and is written at once when a handler ran, so that a crash replays
// as little as possible). It returns false, settling nothing, when a
// shutdown cancelled the handler: the next run handles the entry again.
func (r *run) process(c *conv, en *event.Entry, late bool) bool {
	ran, ok := r.route(c, en)
	if !ok {
		return false
	}
	if !late {
		c.cur.Seq = en.SequenceID
	}
	if en.Verified {
		// Only a signed message id counts for de-duplication: a forgery
		// naming a future message's id must not make it a duplicate.
		c.cur.remember(en.MessageID)
	} else if session.AwaitsKey(en) {
		c.cur.await(en.SequenceID) // the engine may open it later: see handleReopened
	}
	c.settled = append(c.settled, en.SequenceID)
	if n := len(c.settled) - recentIDs; n > 0 {
		c.settled = slices.Delete(c.settled, 0, n)
	}
	c.dirty = true
	r.mu.Lock()
	delete(c.emitted, en.SequenceID)
	r.mu.Unlock()
	if ran {
		r.persist(c)
	}
	return true
}

// route hands en to the hooks and handlers its kind and sender call for.
// ran reports a handler call; ok is false when a shutdown cancelled it.
func (r *run) route(c *conv, en *event.Entry) (ran, ok bool) {
	b := r.b
	switch {
	case !en.Verified:
		reason := fmt.Errorf("%w: %s", ErrUnverified, en.Error)
		if en.Error == "" {
			reason = fmt.Errorf("%w: %w", ErrUnverified, ErrUnsigned)
		}
		b.unverified(r.writeCtx(c), en, reason)
		return false, true
	case en.SenderID == b.e.UserID():
		b.m.own.Add(1)
		return false, true
	case c.cur.seen(en.MessageID):
		b.m.duplicates.Add(1)
		return false, true
	case !c.cur.Caught && b.cfg.backlog >= 0 && !en.CreatedAt.IsZero() && en.CreatedAt.Before(r.epoch.Add(-b.cfg.backlog)):
		// The date is the server's (unsigned): it decides only while the
		// bot reads the history it found in the conversation, never once
		// the bot has caught up there, or the server could date any later
		// command back and have the bot settle it unanswered for good.
		b.m.backlog.Add(1)
		return false, true
	case b.cfg.allow != nil && !b.cfg.allow[en.SenderID]:
		b.m.refused.Add(1)
		b.cfg.logger.Debug("bot: sender not on the allow-list", "conversation", en.ConversationID, "sender", en.SenderID)
		return false, true
	}
	if en.Type == event.TypeEdit {
		if err := r.editAuthored(en); err != nil {
			b.unverified(r.writeCtx(c), en, err)
			return false, true
		}
	}
	kind, h, p := b.pick(en)
	if h == nil {
		b.m.ignored.Add(1)
		return false, true
	}
	if !r.holds(c) {
		// Another replica took the conversation over: it handles en.
		return false, false
	}
	return true, r.invoke(c, kind, h, en, p)
}

// editAuthored checks that the message a verified edit names is stored,
// verified and its sender's. An edit names its target by an unsigned
// sequence id and may arrive before it (a withheld or reordered target):
// the engine settles such an edit when the target arrives and rejects it
// then if someone else wrote the target, but a handler's action cannot be
// undone, so no handler sees an edit whose author wrote no message there.
func (r *run) editAuthored(en *event.Entry) error {
	target, err := r.entryAt(en.ConversationID, en.TargetSequenceID)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w: %w", ErrUnverified, ErrUnconfirmedEdit, err)
	case target == nil:
		return fmt.Errorf("%w: %w: message %s is not stored", ErrUnverified, ErrUnconfirmedEdit, en.TargetSequenceID)
	case !target.Verified || target.Type != event.TypeMessage || target.SenderID != en.SenderID:
		return fmt.Errorf("%w: %w: %s %s is not a verified message of %s", ErrUnverified, ErrUnconfirmedEdit, target.Type, en.TargetSequenceID, en.SenderID)
	}
	return nil
}

// pick chooses the handler of a verified entry of another user.
func (b *Bot) pick(en *event.Entry) (Kind, Handler, parsed) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	switch en.Type {
	case event.TypeMessage:
		a := b.cfg.direct
		if session.IsGroup(en.ConversationID) {
			a = b.cfg.group
		}
		p := parse(en.Text, b.cfg.prefix, b.cfg.name)
		if !p.addressed(a) {
			return KindMessage, b.onMessage, p
		}
		if cmd := b.commands[p.command]; cmd != nil {
			b.m.commands.Add(1)
			return KindCommand, cmd.handler, p
		}
		b.m.notFound.Add(1)
		if b.onNotFound != nil {
			return KindCommand, b.onNotFound, p
		}
		return KindMessage, b.onMessage, p
	case event.TypeEdit:
		return KindEdit, b.onEdit, parsed{}
	case event.TypeReactionAdd, event.TypeReactionRemove:
		return KindReaction, b.onReaction, parsed{}
	case event.TypeGroupChange:
		if joined(en, b.e.UserID()) {
			return KindJoin, b.onJoin, parsed{}
		}
	}
	return 0, nil, parsed{}
}

// joined reports whether a group change adds me.
func joined(en *event.Entry, me string) bool {
	g := en.Group
	if g == nil || (g.Kind != event.GroupCreated && g.Kind != event.GroupMembersAdded) {
		return false
	}
	return slices.Contains(g.MemberIDs, me)
}

// invoke runs h (wrapped in the middleware) for en and reports the
// outcome. It returns false when a shutdown cancelled the handler.
func (r *run) invoke(cv *conv, kind Kind, h Handler, en *event.Entry, p parsed) bool {
	b := r.b
	ctx, cancel := r.handlerCtx(r.hctx, cv), context.CancelFunc(func() {})
	if b.cfg.handlerTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, b.cfg.handlerTimeout)
	}
	defer cancel()
	log := b.cfg.logger.With("conversation", en.ConversationID, "sequence_id", en.SequenceID, "kind", kind.String())
	if kind == KindCommand {
		log = log.With("command", p.command)
	}
	c := &Context{Context: ctx, bot: b, kind: kind, entry: *en, p: p, logger: log}
	start := b.cfg.now()
	if !en.CreatedAt.IsZero() {
		b.m.lag.observe(start.Sub(en.CreatedAt))
	}
	err := safely(b.chain(h), c)
	took := b.cfg.now().Sub(start)
	b.m.handler.observe(took)
	if err != nil && r.hctx.Err() != nil {
		b.m.skipped.Add(1)
		log.Warn("bot: handler cancelled by the shutdown; its event is handled again by the next run", "err", err)
		return false
	}
	if errors.Is(err, keystore.ErrLeaseLost) && !r.holds(cv) {
		// This replica stalled past its lease: the one that took the
		// conversation over handles the event (again), and this one's
		// answers were refused.
		log.Warn("bot: handler outlived this replica's lease; the replica that took the conversation over handles its event", "err", err)
		return false
	}
	if err == nil {
		b.m.handled.Add(1)
		log.Debug("bot: handled", "took", took)
		return true
	}
	b.m.failed.Add(1)
	if errors.Is(err, ErrRateLimited) {
		b.m.rateLimited.Add(1)
	}
	b.handlerError(c, err)
	return true
}

// safely runs h, turning a panic into ErrPanic.
func safely(h Handler, c *Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: %v", ErrPanic, v)
			c.logger.Error("bot: handler panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	return h(c)
}

func (b *Bot) handlerError(c *Context, err error) {
	b.mu.RLock()
	fn := b.onHErr
	b.mu.RUnlock()
	if fn != nil {
		safeCall(b.cfg.logger, func() { fn(c, err) })
		return
	}
	c.logger.Warn("bot: handler failed", "err", err)
}

// unverified hands a refused event to OnUnverified or the log.
func (b *Bot) unverified(ctx context.Context, en *event.Entry, reason error) {
	b.m.unverified.Add(1)
	u := &Unverified{ConversationID: en.ConversationID, SequenceID: en.SequenceID, MessageID: en.MessageID,
		ClaimedSender: en.SenderID, Type: en.Type, Reason: reason}
	b.mu.RLock()
	fn := b.onUnver
	b.mu.RUnlock()
	if fn != nil {
		safeCall(b.cfg.logger, func() { fn(ctx, u) })
		return
	}
	b.cfg.logger.Warn("bot: refused an unverified event", "conversation", u.ConversationID,
		"sequence_id", u.SequenceID, "claimed_sender", u.ClaimedSender, "reason", reason)
}

// safeCall runs a hook, logging a panic instead of dying of it.
func safeCall(log *slog.Logger, fn func()) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("bot: hook panicked", "panic", fmt.Sprint(v))
		}
	}()
	fn()
}
