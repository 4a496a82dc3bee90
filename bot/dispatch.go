package bot

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// Dispatch. The keystore is the bot's inbox: the engine stores every event
// before it reports it (realtime.Follower's Emit), so a conversation's
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
	// reopened: the engine reported a message it opened once its key
	// arrived (see handleReopened). opened are the sequence ids of the
	// events it reported opened (Event.Reopened), at most reportedIDs:
	// a group change or message a group create bound late opened, which
	// the cursor never awaited.
	reopened bool
	opened   []string
	recon    string      // newest sequence id a reconciliation covered
	hold     *time.Timer // wakes the conversation when a hold runs out
	// Owned by the worker running the conversation:
	loaded    bool
	cur       cursor
	dirty     bool
	heldSince time.Time
	heldAt    string
	settled   []string // the sequence ids settled last (see handleLate)
	scanned   bool     // the cursor's Awaiting were read this run
	// fenced carries the store lease during a pass (see replicas.go);
	// lost: the lease passed to another replica during this pass.
	fenced context.Context
	lost   bool
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
func (r *run) emitted(ev *event.Event) {
	if ev.ConversationID == "" {
		return
	}
	if !keystore.ValidVersion(ev.SequenceID) {
		// Not stored: it has no place in the conversation.
		en := ev.Entry()
		r.b.unverified(r.storeCtx, &en, fmt.Errorf("%w: %w", ErrUnverified, ErrUnordered))
		return
	}
	if ev.Kind == event.KindTyping {
		// Handed over and never stored, at whatever sequence id the
		// server gave it (often one stored already): there is nothing
		// at its place to take up, and no handler is for it.
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.convLocked(ev.ConversationID)
	if ev.Reopened {
		// Not a new event: the verified form of one stored failed for
		// want of its key, which the cursor may have passed already.
		c.reopened = true
		if !slices.Contains(c.opened, ev.SequenceID) {
			c.opened = append(c.opened, ev.SequenceID)
			if n := len(c.opened) - reportedIDs; n > 0 {
				c.opened = slices.Delete(c.opened, 0, n)
			}
		}
		r.wakeLocked(c)
		return
	}
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
		r.passed(c)
	}
}

// passed ends a pass over c: c runs again when woken meanwhile, and is
// forgotten when it holds nothing (nothing stored, nothing reported or
// awaited, no wake-up set): the server names conversations at will (a
// pushed event of a conversation the engine does not record is handed
// over unstored), and one kept for each would grow the bot's memory
// without bound. A later report makes it afresh, from the stored cursor.
func (r *run) passed(c *conv) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.running = false
	switch {
	case c.again:
		c.again = false
		r.wakeLocked(c)
	case c.loaded && !c.dirty && c.cur.Seq == "" && len(c.cur.Awaiting) == 0 && len(c.emitted) == 0 &&
		!c.reopened && !c.queued && c.hold == nil && c.recon == "" && c.heldAt == "":
		delete(r.convs, c.id)
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
		fenced, release, got, err := r.takeLease(l, c.id)
		if err != nil || !got {
			if err != nil {
				r.b.reportError(fmt.Errorf("bot: taking the lease of %s: %w", c.id, err))
			}
			r.b.m.busy.Add(1)
			r.after(leaseRetry, c)
			return
		}
		defer release() // after the cursor is written (defers run last first)
		c.fenced, c.lost = fenced, false
		defer func() { c.fenced = nil }()
		if !c.dirty {
			c.loaded = false
		} else if stored, err := loadCursor(ctx, r.b.e.Store(), c.id); err == nil {
			// A cursor this replica could not write (its database was
			// away) while another held the lease and moved the stored
			// one on: written as it is, it would take the conversation
			// back, and the events in between would reach the handlers
			// twice. The two are merged.
			c.cur = mergeCursors(stored, c.cur)
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
	if !r.handleReopened(c) {
		return
	}
	for !r.isStopping() && !c.lost {
		entries, err := r.b.e.History(ctx, c.id, c.cur.Seq, batch)
		if err != nil {
			r.b.reportError(fmt.Errorf("bot: reading %s: %w", c.id, err))
			return
		}
		for i := range entries {
			en := &entries[i]
			if r.isStopping() || c.lost || !r.linked(c, en) || !r.process(c, en, false) {
				return
			}
		}
		if len(entries) < batch {
			r.caughtUp(c)
			r.forgetUnstored(c)
			return
		}
	}
}

// caughtUp records that a pass read everything stored in c: the history
// the bot found there is settled, so the backlog rule, which trusts the
// server's unsigned dates, stops applying to c (see route). A conversation
// with nothing stored records nothing: the server names conversations at
// will, and a cursor written for each would grow the store without bound.
func (r *run) caughtUp(c *conv) {
	if c.cur.Caught || c.cur.Seq == "" {
		return
	}
	c.cur.Caught = true
	c.dirty = true
}

// forgetUnstored drops, once a pass has read everything stored after c's
// cursor, the reports of events ahead of the cursor: the read brought
// every event stored before it, so these are of events the engine handed
// over without storing them (a failed event past the conversation's
// allowance, at a sequence id the server chose), or of events stored
// since, which the next read brings in order all the same (their report
// woke c). Kept, a server pushing such events at ever new sequence ids
// would grow them, and the work of every handleLate, without bound.
func (r *run) forgetUnstored(c *conv) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for seq := range c.emitted {
		if c.cur.Seq == "" || less(c.cur.Seq, seq) {
			delete(c.emitted, seq)
		}
	}
}

// persist writes c's cursor if it moved.
func (r *run) persist(c *conv) {
	if !c.dirty || c.lost {
		return
	}
	if err := saveCursor(r.writeCtx(c), r.b.e.Store(), c.id, c.cur); err != nil {
		if !r.persistLost(c, err) {
			r.b.reportError(err)
		}
		return
	}
	c.dirty = false
}

// linked reports whether en may be handled now: its claimed predecessor is
// behind the cursor, or a reconciliation covered it, or it waited long
// enough.
func (r *run) linked(c *conv, en *event.Entry) bool {
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
// them up: stored after a gap before them was given up on, or stored
// behind it (a push of an old position, such as a replay the engine
// refused). Reports of events already settled (a report can run after its
// event was handled) are dropped; a late event whose message id was
// handled before goes through route like any other, which sends a failed
// one to OnUnverified and counts a verified one as a duplicate.
func (r *run) handleLate(c *conv) {
	r.mu.Lock()
	var late []string
	for seq, mid := range c.emitted {
		if c.cur.Seq == "" || less(c.cur.Seq, seq) {
			continue // ahead: History brings it
		}
		delete(c.emitted, seq)
		if mid != "" && !slices.Contains(c.settled, seq) {
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
		if r.isStopping() || c.lost {
			return
		}
		en, err := r.entryAt(c.id, seq)
		if err != nil {
			r.b.reportError(fmt.Errorf("bot: reading late event %s of %s: %w", seq, c.id, err))
			continue
		}
		if en == nil {
			// Handed over by the engine but not stored (a failed event
			// past its conversation's allowance): nothing to route, and
			// no error of the bot's.
			continue
		}
		r.b.m.late.Add(1)
		if !r.process(c, en, true) {
			return
		}
	}
}

// handleReopened handles, once, the messages the bot refused for want of
// their key (the cursor's Awaiting) that the engine has opened since: the
// engine then stores the verified entry in place of the failed one, below
// the cursor, and reports it with Event.Reopened. They are read again
// when such a report comes and on a run's first pass over the
// conversation (an opening while the bot was down reports nothing to
// it): each entry read verified is forgotten and routed like any other
// (so handled once, its message id remembered: one settled verified
// already is a duplicate); one failed for anything else now, or gone, is
// forgotten; one still awaiting its key stays. Only the last awaitingIDs
// refused are remembered: an older one opened later is handled only when
// its opening is reported while the bot runs (handleOpened), as are the
// other events reported opened. It returns false when a shutdown
// cancelled a handler (the entry stays remembered).
func (r *run) handleReopened(c *conv) bool {
	r.mu.Lock()
	check := c.reopened || !c.scanned
	c.reopened = false
	opened := c.opened
	c.opened = nil
	r.mu.Unlock()
	c.scanned = true
	if !check {
		return true
	}
	awaited := slices.Clone(c.cur.Awaiting)
	for _, seq := range awaited {
		if r.isStopping() {
			r.mu.Lock()
			c.reopened = true // read again by the next pass
			c.opened = append(opened, c.opened...)
			r.mu.Unlock()
			return false
		}
		en, err := r.entryAt(c.id, seq)
		if err != nil {
			r.b.reportError(fmt.Errorf("bot: reading event %s of %s, refused before its key: %w", seq, c.id, err))
			continue
		}
		if en != nil && session.AwaitsKey(en) {
			continue
		}
		c.cur.unawait(seq)
		c.dirty = true
		if en == nil || !en.Verified {
			continue
		}
		en.Reopened = true
		r.b.m.reopened.Add(1)
		if !r.process(c, en, true) {
			c.cur.await(seq)
			r.mu.Lock()
			c.opened = append(opened, c.opened...)
			r.mu.Unlock()
			return false
		}
	}
	return r.handleOpened(c, awaited, opened)
}

// reportedIDs bounds the sequence ids of opened events a conversation
// remembers between passes (see handleOpened).
const reportedIDs = 256

// handleOpened handles, once, the events the engine reported opened
// (Event.Reopened) that the cursor did not await: a group change, or a
// message failed for its author's membership, that a group create bound
// late opened (session.Engine.Sync). Only one at or below the cursor,
// which the bot settled refused, is routed here, verified as stored now,
// marked Reopened (so handled once, its message id remembered: one
// settled verified already is a duplicate); one above the cursor is
// reached by the pass. Reports are not written down: an opening reported
// while the bot was down, or left when a shutdown cut a pass short, is
// not handled. It returns false when a shutdown cancelled a handler.
func (r *run) handleOpened(c *conv, awaited, opened []string) bool {
	for i, seq := range opened {
		if slices.Contains(awaited, seq) || c.cur.Seq == "" || less(c.cur.Seq, seq) {
			continue
		}
		if r.isStopping() {
			return false
		}
		en, err := r.entryAt(c.id, seq)
		if err != nil {
			r.b.reportError(fmt.Errorf("bot: reading event %s of %s, opened late: %w", seq, c.id, err))
			continue
		}
		if en == nil || !en.Verified || c.cur.seen(en.MessageID) {
			continue
		}
		en.Reopened = true
		r.b.m.reopened.Add(1)
		if !r.process(c, en, true) {
			r.mu.Lock()
			c.opened = append(slices.Clone(opened[i:]), c.opened...)
			c.reopened = true
			r.mu.Unlock()
			return false
		}
	}
	return true
}

// entryAt returns the stored entry of cid at seq (nil when none).
func (r *run) entryAt(cid, seq string) (*event.Entry, error) {
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

// less compares sequence ids numerically (invalid ones are never less).
func less(a, b string) bool {
	c, err := keystore.CompareVersions(a, b)
	return err == nil && c < 0
}
