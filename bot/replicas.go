package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/xchat-go/xchat/keystore"
)

// Replicas. A conversation's worker holds the store's lease on it for the
// length of a pass (see pass). With a store that fences its leases
// (keystore.FencedLeaser: keystore/pgstore), the lease is carried by the
// context of every store effect of the pass: the handlers' Contexts (so
// the engine's sends made with them, which queue their outbox items and
// check the lease before posting under it) and the cursor's writes. A
// replica that stalled past its lease while another took the conversation
// over and handled the same events again can then store nothing more, and
// send nothing more, on the strength of what it read while it held it: its
// answers fail with an error wrapping keystore.ErrLeaseLost, its cursor
// write is refused, and its pass ends, dropping the cursor it moved (the
// new holder's stands).

// takeLease takes the bot's lease on conversation cid without waiting:
// fenced carries it when the store fences its leases, and is the run's
// store context otherwise.
func (r *run) takeLease(l keystore.Leaser, cid string) (fenced context.Context, release func(), ok bool, err error) {
	if f, isFenced := l.(keystore.FencedLeaser); isFenced {
		return f.TryFencedLease(r.storeCtx, leasePrefix+cid)
	}
	release, ok, err = l.TryLease(r.storeCtx, leasePrefix+cid)
	return r.storeCtx, release, ok, err
}

// writeCtx is the context of c's store writes: the one carrying its lease
// during a pass.
func (r *run) writeCtx(c *conv) context.Context {
	if c.fenced != nil {
		return c.fenced
	}
	return r.storeCtx
}

// handlerCtx returns ctx (the handler's deadline and cancellation) also
// carrying c's lease.
func (r *run) handlerCtx(ctx context.Context, c *conv) context.Context {
	if c.fenced == nil || c.fenced == r.storeCtx {
		return ctx
	}
	return leaseCtx{Context: ctx, lease: c.fenced}
}

// leaseCtx is a handler's context (Context: its deadline, its
// cancellation) with the values of lease, the run's store context that
// carries the conversation's lease (and every value of Run's context).
type leaseCtx struct {
	context.Context
	lease context.Context
}

// Value looks key up in the lease's context first. That context is not
// cancellable (it survives the shutdown), so the context package's own
// lookups of the cancellation fall through to the handler's.
func (l leaseCtx) Value(key any) any {
	if v := l.lease.Value(key); v != nil {
		return v
	}
	return l.Context.Value(key)
}

// holds reports whether this replica still holds c's lease, checked in
// the store (fenced stores only; the others' leases never lapse). A lease
// known lost ends c's pass (see lostLease); a store that cannot answer
// leaves the decision to the fenced writes.
func (r *run) holds(c *conv) bool {
	if c.lost {
		return false
	}
	f, ok := r.b.e.Store().(keystore.FencedLeaser)
	if !ok || c.fenced == nil {
		return true
	}
	if err := f.CheckLeases(c.fenced); errors.Is(err, keystore.ErrLeaseLost) {
		r.lostLease(c, err)
		return false
	}
	return true
}

// lostLease ends c's pass after its lease passed to another replica: the
// cursor this pass moved is dropped, unwritten, and read again from the
// store when this replica next holds the lease.
func (r *run) lostLease(c *conv, err error) {
	if c.lost {
		return
	}
	c.lost, c.loaded, c.dirty = true, false, false
	r.b.m.busy.Add(1)
	r.b.cfg.logger.Warn("bot: another replica took the conversation over; this one stops handling it",
		"conversation", c.id, "err", err)
}

// persistLost reports (after marking c lost) whether err, a cursor write's,
// says the lease is lost.
func (r *run) persistLost(c *conv, err error) bool {
	if !errors.Is(err, keystore.ErrLeaseLost) {
		return false
	}
	r.lostLease(c, err)
	return true
}

// CheckLease fails with an error wrapping keystore.ErrLeaseLost when
// another replica of the bot (sharing a keystore in PostgreSQL) has taken
// the handler's conversation over: this replica stalled past its lease,
// and the other handles the event again. Call it just before an effect
// the store cannot fence (see the package documentation's Replicas); it
// is nil with a store whose leases never lapse.
func (c *Context) CheckLease() error {
	f, ok := c.bot.e.Store().(keystore.FencedLeaser)
	if !ok {
		return nil
	}
	if err := f.CheckLeases(c); err != nil {
		return fmt.Errorf("bot: checking the lease of %s: %w", c.entry.ConversationID, err)
	}
	return nil
}
