package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/keystore"
)

// Several engines may serve one account at once when they share a store
// that coordinates them (keystore/pgstore): each is a replica. The store's
// leases and outbox claims (keystore.Leaser, keystore.OutboxClaimer) make
// sure two replicas never work on the same conversation at the same time
// (sync, key rotation, group change, the preparation of a send) and never
// deliver the same outbox item; a replica that dies loses its leases and
// claims when they expire, and the others take its work over. The
// functions below are the engine's only contact with that coordination.
// Stores that coordinate nothing (Memory, DB) implement the same interfaces
// within their one process.
//
// A replica that stalls longer than a lease lasts (a GC pause, a frozen VM,
// a partition from the database) loses it while it is still in the middle
// of the work. With a store that fences its leases (keystore.FencedLeaser)
// the work it carries on with cannot store anything: its writes, and the
// posts it has not started yet, fail with an error wrapping
// keystore.ErrLeaseLost. The work is then the other replica's: an outbox
// item stays queued for it (do not send it again), a key change it posted
// is adopted by whichever replica syncs it next.

// conversationLease names the lease serialising work on one conversation.
func conversationLease(cid string) string { return "session/conversation/" + cid }

// lockShared takes the store's lease on conversation cid (see lockConv),
// waiting while another replica holds it; locked carries the lease when the
// store fences writes with it (keystore.FencedLeaser), and is ctx
// otherwise. A store that cannot be reached is tried again, with a growing
// pause, until it answers or ctx ends; a closed store or engine, or a lease
// lost that ctx carried already, ends the wait with an error.
func (e *Engine) lockShared(ctx context.Context, cid string) (locked context.Context, release func(), err error) {
	l, ok := e.store.(keystore.Leaser)
	if !ok {
		return ctx, func() {}, nil
	}
	f, fenced := e.store.(keystore.FencedLeaser)
	wait := 10 * time.Millisecond
	for {
		var release func()
		var err error
		locked := ctx
		if fenced {
			locked, release, err = f.AcquireFencedLease(ctx, conversationLease(cid))
		} else {
			release, err = l.AcquireLease(ctx, conversationLease(cid))
		}
		switch {
		case err == nil:
			return locked, release, nil
		case e.isClosed():
			return nil, nil, xchat.ErrClosed
		case ctx.Err() != nil:
			return nil, nil, fmt.Errorf("session: waiting for conversation %s: %w", cid, context.Cause(ctx))
		case errors.Is(err, keystore.ErrClosed) || errors.Is(err, keystore.ErrInvalid) || errors.Is(err, keystore.ErrLeaseLost):
			return nil, nil, fmt.Errorf("session: taking the lease of conversation %s: %w", cid, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("session: waiting for conversation %s: %w", cid, context.Cause(ctx))
		}
		wait = min(wait*2, time.Second)
	}
}

// checkLeases fails with keystore.ErrLeaseLost when a lease ctx carries
// (see lockConv) has passed to another replica: called before a post to
// the server, which no store can fence, so a replica that stalled past its
// lease does not send what another replica may be sending in its place.
// A lease lost after the check still fences the writes that record the
// post's outcome.
func (e *Engine) checkLeases(ctx context.Context) error {
	f, ok := e.store.(keystore.FencedLeaser)
	if !ok {
		return nil
	}
	// Only a lease known lost stops the post: a store that cannot answer
	// now leaves the decision to the fenced writes after it.
	if err := f.CheckLeases(ctx); errors.Is(err, keystore.ErrLeaseLost) {
		return fmt.Errorf("session: %w", err)
	}
	return nil
}

func (e *Engine) isClosed() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.closed
}

// queueOutbox stores item in the outbox before it is sent, claimed by this
// engine when the store hands out claims.
func (e *Engine) queueOutbox(ctx context.Context, item keystore.OutboxItem) error {
	if c, ok := e.store.(keystore.OutboxClaimer); ok {
		return c.QueueOutbox(ctx, item)
	}
	return e.store.PutOutbox(ctx, item)
}

// releaseOutbox gives back this engine's claim on an outbox item once its
// delivery attempt is over (an acknowledged item has none left).
func (e *Engine) releaseOutbox(ctx context.Context, messageID string) {
	if c, ok := e.store.(keystore.OutboxClaimer); ok {
		_ = c.ReleaseOutbox(context.WithoutCancel(ctx), messageID)
	}
}

// pendingOutbox returns the outbox items of cid ("" for all) this engine
// may deliver: with a claiming store, the items it claimed (busy counts
// those another replica holds); otherwise every item.
func (e *Engine) pendingOutbox(ctx context.Context, cid string) (items []keystore.OutboxItem, busy int, err error) {
	if c, ok := e.store.(keystore.OutboxClaimer); ok {
		return c.ClaimOutbox(ctx, cid)
	}
	all, err := e.store.Outbox(ctx)
	if err != nil {
		return nil, 0, err
	}
	for _, it := range all {
		if cid == "" || it.ConversationID == cid {
			items = append(items, it)
		}
	}
	return items, 0, nil
}

// releaseOutboxItems releases the claims of items not delivered.
func (e *Engine) releaseOutboxItems(ctx context.Context, items []keystore.OutboxItem) {
	for _, it := range items {
		e.releaseOutbox(ctx, it.MessageID)
	}
}
