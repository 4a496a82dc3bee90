package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/xchat-go/xchat/keystore"
)

// The settle count of a conversation is how many records settle may act
// on are stored for it: pending deletes, pending reply previews, and
// pending edits (an edit stored, indexed or not, while its target was not
// stored verified, and the edit it replaced in the index). settle reads it instead of looking each record up for every
// event it stores: with none pending there is nothing to settle, and a
// sync of a conversation whose events arrive in order stores thousands of
// events with none. The count is written in the transaction that writes
// or takes a record, so the two never disagree on disk.
//
// Soundness rests on the count never being lower than the records stored:
// a zero while a delete is pending would let its target stand. So the
// count is kept only where it is known from the start: it is created, at
// zero, by the first storing step of a conversation with no event stored
// (storeEventsTx, or the echo of a send that starts the conversation:
// ackMessage), when no record that matters can exist (each is written
// with or after an event of the conversation: a pending preview with the
// reply that quotes, a pending delete after its delete, an edit after its
// edit). A conversation stored before the count existed has none and
// keeps the look-ups (unknown); a count that cannot be read, or that
// would fall below zero, is unknown for good. A record that goes without
// settle taking it (overwritten, or unreadable) only keeps the count
// above zero: the look-ups are made, as without a count.
//
// An edit stored while its target was stored verified needs no settling:
// its author was checked against that target (gateAuthorship), and the
// target's sequence id never holds another event (a re-served event with
// other bytes is a conflict, kept out), so settle, were it run again for
// the same event (a failed entry reopened), would find the edit's author
// its own.

// settleCountKey names cid's settle count (a decimal; any other content,
// "unknown" as written, is unknown).
func settleCountKey(cid string) string { return "session/settle-count/" + cid }

// pendingEditKey names the pending edits of the event at seq: edits
// stored while no verified event was stored there (see addPendingEdit).
func pendingEditKey(cid, seq string) string { return "session/pending-edit/" + cid + "/" + seq }

// settleUnknown is a count that says nothing: look the records up.
const settleUnknown = -1

// settleCache holds a conversation's settle count for the storing step in
// progress, so that its events do not each read it. It is bound to the
// transaction: every change to the count within it goes through
// bumpSettleCount, which updates the cache and the store together.
type settleCache struct {
	tx  keystore.Tx
	cid string
	n   int
}

type settleCacheKey struct{}

// cachedSettle returns the cache ctx carries for tx and cid, if any.
func cachedSettle(ctx context.Context, tx keystore.Tx, cid string) *settleCache {
	c, _ := ctx.Value(settleCacheKey{}).(*settleCache)
	if c == nil || c.tx != tx || c.cid != cid {
		return nil
	}
	return c
}

// readSettleCount reads cid's settle count; absent reports that none is
// stored (unknown, but creatable while cid holds no event).
func readSettleCount(ctx context.Context, tx keystore.Tx, cid string) (n int, absent bool, err error) {
	b, err := tx.Value(ctx, settleCountKey(cid))
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return settleUnknown, true, nil
	case err != nil:
		return 0, false, fmt.Errorf("session: reading the settle count: %w", err)
	}
	n, perr := strconv.Atoi(string(b))
	if perr != nil || n < 0 {
		return settleUnknown, false, nil
	}
	return n, false, nil
}

// settleCount returns cid's settle count (settleUnknown when none is
// known).
func settleCount(ctx context.Context, tx keystore.Tx, cid string) (int, error) {
	if c := cachedSettle(ctx, tx, cid); c != nil {
		return c.n, nil
	}
	n, _, err := readSettleCount(ctx, tx, cid)
	return n, err
}

// bumpSettleCount adds delta to cid's settle count, when one is known. A
// count that would fall below zero (a record taken that was not counted:
// it cannot happen, unless the store was changed by other code) becomes
// unknown for good.
func bumpSettleCount(ctx context.Context, tx keystore.Tx, cid string, delta int) error {
	c := cachedSettle(ctx, tx, cid)
	n, err := settleCount(ctx, tx, cid)
	if err != nil || n == settleUnknown {
		return err
	}
	n += delta
	val := strconv.Itoa(n)
	if n < 0 {
		n, val = settleUnknown, "unknown"
	}
	if err := tx.SetValue(ctx, settleCountKey(cid), []byte(val)); err != nil {
		return fmt.Errorf("session: storing the settle count: %w", err)
	}
	if c != nil {
		c.n = n
	}
	return nil
}

// startSettleCount reads cid's settle count for a storing step in tx, and
// creates it at zero when none is stored and no event of cid is: the
// returned context carries it for the step (see settleCache).
func startSettleCount(ctx context.Context, tx keystore.Tx, cid string) (context.Context, error) {
	if cachedSettle(ctx, tx, cid) != nil {
		return ctx, nil
	}
	n, absent, err := readSettleCount(ctx, tx, cid)
	if err != nil {
		return nil, err
	}
	if absent {
		evs, err := tx.Events(ctx, cid, "", 1)
		if err != nil {
			return nil, fmt.Errorf("session: reading history: %w", err)
		}
		for i := range evs {
			evs[i].Body.Zero()
		}
		// Events stored before the count: unknown, for good (stored as
		// such, so that later steps need not read the history again).
		val := "unknown"
		if len(evs) == 0 {
			n, val = 0, "0"
		}
		if err := tx.SetValue(ctx, settleCountKey(cid), []byte(val)); err != nil {
			return nil, fmt.Errorf("session: storing the settle count: %w", err)
		}
	}
	return context.WithValue(ctx, settleCacheKey{}, &settleCache{tx: tx, cid: cid, n: n}), nil
}
