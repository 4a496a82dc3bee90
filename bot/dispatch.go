package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/inbound"
)

// Dispatch. The keystore is the bot's inbox: the engine stores every event
// before it reports it (session.Follower's Emit), so a conversation's
// worker reads what is stored after its cursor (History) and handles it in
// sequence order; reports only ring the bell. Events stored by paths that
// report nothing (the bot's own sends, a handler's Sync) and events a
// crash left unhandled are found the same way.
//
// Order: an entry whose claimed predecessor (previous_sequence_id) is
// neither the entry before it nor already behind the cursor waits: a push
// overtook one that was dropped or delayed. It is released when the
// missing event is stored, when a reconciliation with /events has covered
// its position (the server serves nothing in between: a deleted message,
// a withheld key change), or after WithMaxHold.

// leasePrefix + conversation id names the store lease a conversation's
// worker holds (see pass); leaseRetry is how soon a worker that found it
// taken tries again.
const (
	leasePrefix = "xchat.bot.v1.conversation/"
	leaseRetry  = time.Second
)

// conv is the dispatch state of one conversation.
type conv struct {
	id string
	// Guarded by run.mu:
	queued, running, again bool
	// emitted maps the sequence ids of reported events not yet taken up
	// in order to their message ids: one the cursor passes without
	// taking it up was stored late (see handleLate).
	emitted map[string]string
	recon   string      // newest sequence id a reconciliation covered
	hold    *time.Timer // wakes the conversation when a hold runs out
	// Owned by the worker running the conversation:
	loaded    bool
	cur       cursor
	dirty     bool
	heldSince time.Time
	heldAt    string
	settled   []string // the sequence ids settled last (see handleLate)
}

// run is the state of one Run.
type run struct {
	b        *Bot
	storeCtx context.Context // engine and keystore work: survives the shutdown
	hctx     context.Context // parent of handler contexts
	hcancel  context.CancelFunc
	epoch    time.Time

	mu       sync.Mutex
	cond     *sync.Cond
	convs    map[string]*conv
	ready    []*conv
	stopping bool
	workers  sync.WaitGroup
}

func newRun(ctx context.Context, b *Bot, epoch time.Time) *run {
	r := &run{b: b, storeCtx: context.WithoutCancel(ctx), epoch: epoch, convs: map[string]*conv{}}
	r.hctx, r.hcancel = context.WithCancel(context.WithoutCancel(ctx))
	r.cond = sync.NewCond(&r.mu)
	return r
}

// start starts the workers.
func (r *run) start() {
	for range r.b.cfg.concurrency {
		r.workers.Add(1)
		go r.worker()
	}
}

// conv returns the state of cid (r.mu held).
func (r *run) convLocked(cid string) *conv {
	c := r.convs[cid]
	if c == nil {
		c = &conv{id: cid}
		r.convs[cid] = c
	}
	return c
}

// wake schedules a pass over cid.
func (r *run) wake(cid string) {
	if cid == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wakeLocked(r.convLocked(cid))
}

func (r *run) wakeLocked(c *conv) {
	switch {
	case r.stopping:
	case c.running:
		c.again = true
	case !c.queued:
		c.queued = true
		r.ready = append(r.ready, c)
		r.cond.Signal()
	}
}

// reconciled records that a reconciliation covered cid up to seq.
func (r *run) reconciled(cid, seq string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.convLocked(cid)
	if seq != "" && (c.recon == "" || less(c.recon, seq)) {
		c.recon = seq
	}
	r.wakeLocked(c)
}

// emitted is the engine's report of a newly stored event.
func (r *run) emitted(ev *session.Event) {
	if ev.ConversationID == "" {
		return
	}
	if !keystore.ValidVersion(ev.SequenceID) {
		// Not stored: it has no place in the conversation.
		en := session.EntryFromEvent(ev)
		r.b.unverified(r.storeCtx, &en, fmt.Errorf("%w: %w", ErrUnverified, ErrUnordered))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.convLocked(ev.ConversationID)
	if c.emitted == nil {
		c.emitted = map[string]string{}
	}
	c.emitted[ev.SequenceID] = ev.MessageID
	r.wakeLocked(c)
}

// stop stops handing out work; passes end after their current event.
func (r *run) stop() {
	r.mu.Lock()
	r.stopping = true
	for _, c := range r.convs {
		if c.hold != nil {
			c.hold.Stop()
		}
	}
	r.cond.Broadcast()
	r.mu.Unlock()
}

func (r *run) isStopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopping
}

// drain waits for the workers, cancelling the handlers' contexts after
// limit. It reports whether every worker returned.
func (r *run) drain(limit time.Duration) bool {
	done := make(chan struct{})
	go func() { r.workers.Wait(); close(done) }()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
		r.hcancel()
		return true
	case <-t.C:
	}
	r.hcancel()
	grace := time.NewTimer(5 * time.Second)
	defer grace.Stop()
	select {
	case <-done:
		return true
	case <-grace.C:
		return false
	}
}

func (r *run) worker() {
	defer r.workers.Done()
	for {
		r.mu.Lock()
		for len(r.ready) == 0 && !r.stopping {
			r.cond.Wait()
		}
		if r.stopping {
			r.mu.Unlock()
			return
		}
		c := r.ready[0]
		r.ready = slices.Delete(r.ready, 0, 1)
		c.queued, c.running = false, true
		r.mu.Unlock()

		r.pass(c)

		r.mu.Lock()
		c.running = false
		if c.again {
			c.again = false
			r.wakeLocked(c)
		}
		r.mu.Unlock()
	}
}

// pass handles what is stored after c's cursor, in order, until it runs
// out, meets a gap or the bot stops.
func (r *run) pass(c *conv) {
	ctx := r.storeCtx
	if l, ok := r.b.e.Store().(keystore.Leaser); ok {
		// Replicas of the account (a shared store) take turns on a
		// conversation; the one holding its lease reads the cursor the
		// previous holder left.
		release, got, err := l.TryLease(ctx, leasePrefix+c.id)
		if err != nil || !got {
			if err != nil {
				r.b.reportError(fmt.Errorf("bot: taking the lease of %s: %w", c.id, err))
			}
			r.b.m.busy.Add(1)
			r.after(leaseRetry, c)
			return
		}
		defer release() // after the cursor is written (defers run last first)
		if !c.dirty {
			c.loaded = false
		}
	}
	if !c.loaded {
		cur, err := loadCursor(ctx, r.b.e.Store(), c.id)
		if err != nil {
			r.b.reportError(err)
			return
		}
		c.cur, c.loaded = cur, true
	}
	defer r.persist(c)
	defer r.handleLate(c) // what the cursor passed meanwhile
	r.handleLate(c)
	for !r.isStopping() {
		entries, err := r.b.e.History(ctx, c.id, c.cur.Seq, batch)
		if err != nil {
			r.b.reportError(fmt.Errorf("bot: reading %s: %w", c.id, err))
			return
		}
		for i := range entries {
			en := &entries[i]
			if r.isStopping() || !r.linked(c, en) || !r.process(c, en, false) {
				return
			}
		}
		if len(entries) < batch {
			return
		}
	}
}

// persist writes c's cursor if it moved.
func (r *run) persist(c *conv) {
	if !c.dirty {
		return
	}
	if err := saveCursor(r.storeCtx, r.b.e.Store(), c.id, c.cur); err != nil {
		r.b.reportError(err)
		return
	}
	c.dirty = false
}

// linked reports whether en may be handled now: its claimed predecessor is
// behind the cursor, or a reconciliation covered it, or it waited long
// enough.
func (r *run) linked(c *conv, en *session.Entry) bool {
	p, at := en.PreviousSequenceID, c.cur.Seq
	r.mu.Lock()
	recon := c.recon
	r.mu.Unlock()
	switch {
	case at == "" || p == "" || p == at || less(p, at):
		// A predecessor behind the cursor is a fork the engine reports;
		// waiting would not mend it.
	case recon != "" && !less(recon, en.SequenceID):
	default:
		now := r.b.cfg.now()
		if c.heldAt != en.SequenceID {
			c.heldAt, c.heldSince = en.SequenceID, now
		}
		if wait := r.b.cfg.maxHold - now.Sub(c.heldSince); wait > 0 {
			r.after(wait, c)
			return false
		}
		r.b.m.gapsReleased.Add(1)
		r.b.cfg.logger.Warn("bot: handling an event whose predecessor never came",
			"conversation", c.id, "sequence_id", en.SequenceID, "missing", p)
	}
	c.heldAt, c.heldSince = "", time.Time{}
	return true
}

// after wakes c after d (replacing an earlier hold's wake-up).
func (r *run) after(d time.Duration, c *conv) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping {
		return
	}
	if c.hold != nil {
		c.hold.Stop()
	}
	c.hold = time.AfterFunc(d, func() { r.wake(c.id) })
}

// handleLate handles the reported events the cursor passed without taking
// them up: stored after a gap before them was given up on. Reports of
// events already settled (a report can run after its event was handled)
// are dropped.
func (r *run) handleLate(c *conv) {
	r.mu.Lock()
	var late []string
	for seq, mid := range c.emitted {
		if c.cur.Seq == "" || less(c.cur.Seq, seq) {
			continue // ahead: History brings it
		}
		delete(c.emitted, seq)
		if mid != "" && !slices.Contains(c.settled, seq) && !c.cur.seen(mid) {
			late = append(late, seq)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(late, func(a, b string) int {
		if less(a, b) {
			return -1
		}
		return 1
	})
	for _, seq := range late {
		if r.isStopping() {
			return
		}
		en, err := r.entryAt(c.id, seq)
		if err != nil || en == nil {
			r.b.reportError(fmt.Errorf("bot: reading late event %s of %s: %v", seq, c.id, err))
			continue
		}
		r.b.m.late.Add(1)
		if !r.process(c, en, true) {
			return
		}
	}
}

// entryAt returns the stored entry of cid at seq (nil when none).
func (r *run) entryAt(cid, seq string) (*session.Entry, error) {
	n, ok := new(big.Int).SetString(seq, 10)
	if !ok || n.Sign() <= 0 {
		return nil, fmt.Errorf("sequence id %q", seq)
	}
	prev := ""
	if n.Cmp(big.NewInt(1)) > 0 {
		prev = n.Sub(n, big.NewInt(1)).String()
	}
	got, err := r.b.e.History(r.storeCtx, cid, prev, 1)
	if err != nil || len(got) == 0 || got[0].SequenceID != seq {
		return nil, err
	}
	return &got[0], nil
}

// process routes one stored entry and settles it: the cursor moves past
// it (and is written at once when a handler ran, so that a crash replays
// as little as possible). It returns false, settling nothing, when a
// shutdown cancelled the handler: the next run handles the entry again.
func (r *run) process(c *conv, en *session.Entry, late bool) bool {
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
func (r *run) route(c *conv, en *session.Entry) (ran, ok bool) {
	b := r.b
	switch {
	case !en.Verified:
		reason := fmt.Errorf("%w: %s", ErrUnverified, en.Error)
		if en.Error == "" {
			reason = fmt.Errorf("%w: %w", ErrUnverified, ErrUnsigned)
		}
		b.unverified(r.storeCtx, en, reason)
		return false, true
	case en.SenderID == b.e.UserID():
		b.m.own.Add(1)
		return false, true
	case c.cur.seen(en.MessageID):
		b.m.duplicates.Add(1)
		return false, true
	case b.cfg.backlog >= 0 && !en.CreatedAt.IsZero() && en.CreatedAt.Before(r.epoch.Add(-b.cfg.backlog)):
		b.m.backlog.Add(1)
		return false, true
	case b.cfg.allow != nil && !b.cfg.allow[en.SenderID]:
		b.m.refused.Add(1)
		b.cfg.logger.Debug("bot: sender not on the allow-list", "conversation", en.ConversationID, "sender", en.SenderID)
		return false, true
	}
	kind, h, p := b.pick(en)
	if h == nil {
		b.m.ignored.Add(1)
		return false, true
	}
	return true, r.invoke(kind, h, en, p)
}

// pick chooses the handler of a verified entry of another user.
func (b *Bot) pick(en *session.Entry) (Kind, Handler, parsed) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	switch en.Type {
	case session.TypeMessage:
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
	case session.TypeEdit:
		return KindEdit, b.onEdit, parsed{}
	case session.TypeReactionAdd, session.TypeReactionRemove:
		return KindReaction, b.onReaction, parsed{}
	case session.TypeGroupChange:
		if joined(en, b.e.UserID()) {
			return KindJoin, b.onJoin, parsed{}
		}
	}
	return 0, nil, parsed{}
}

// joined reports whether a group change adds me.
func joined(en *session.Entry, me string) bool {
	g := en.Group
	if g == nil || (g.Kind != inbound.GroupCreated && g.Kind != inbound.GroupMembersAdded) {
		return false
	}
	return slices.Contains(g.MemberIDs, me)
}

// invoke runs h (wrapped in the middleware) for en and reports the
// outcome. It returns false when a shutdown cancelled the handler.
func (r *run) invoke(kind Kind, h Handler, en *session.Entry, p parsed) bool {
	b := r.b
	ctx, cancel := r.hctx, context.CancelFunc(func() {})
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
func (b *Bot) unverified(ctx context.Context, en *session.Entry, reason error) {
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

// less compares sequence ids numerically (invalid ones are never less).
func less(a, b string) bool {
	c, err := keystore.CompareVersions(a, b)
	return err == nil && c < 0
}
