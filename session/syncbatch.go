package session

import (
	"context"
	"errors"
	"sync"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// Storing a sync in batches. The pages of a sync are stored in batches of
// a few pages (maxBatchPages, maxBatchEvents), one write transaction each
// (every commit of a durable store is flushed to disk: four per page made
// the disk the bottleneck), and the next page is decrypted while the page
// before is screened and stored. That page's decryption may only use what the
// sequential order would have given it: the keys learnt from the pages
// before it, which are stored in the open transaction. So it runs ahead
// with the keys cached so far and never reads the store (cachedKeys), and
// its result is used only when no key was cached or changed meanwhile
// (storeKeys.generation) and every lookup was answered from the cache;
// otherwise it is decrypted again, with the cache when that answers every
// lookup, else after the batch has committed, the ordinary way (which may
// fetch unknown signers' keys: never inside a transaction). fn sees a
// batch's new events once it has committed.

// maxBatchPages and maxBatchEvents bound a batch: a page joins the batch
// while the batch holds fewer pages, and its events would not take it past
// maxBatchEvents. They bound the memory a batch holds (its pages and their
// new events until fn has seen them, and the store's own copy of what the
// transaction changed: every event's sealed record, about 1.1 KB for a
// short text, until the commit) and how long other writers wait for the
// store; each batch costs one commit, flushed to disk. Measured on the
// bench's e2e sync of 10k events (internal/bench), batches of 512 or 1024
// events commit 20 or 13 times instead of 50, and raise its peak heap by
// 1 to 2 MiB for each page of 100 events more a batch holds (from
// 7 MiB; at 1024 the peak anonymous RSS is past twice the streamed
// pipeline's), for commits that each take longer (more pages to flush).
// 384 (three pages of 100) commits 36 times instead of 52 there, its peak
// anonymous RSS unchanged at 12.5-12.9 MiB (1.67x the streamed pipeline's)
// once the keystore carves a batch's records from shared chunks.
const (
	maxBatchPages  = 8
	maxBatchEvents = 384
)

// errDecryptFirst ends a batch's transaction, uncommitted, whose first page
// must be decrypted outside any transaction.
var errDecryptFirst = errors.New("session: page must be decrypted outside the transaction")

// pageRunner stores the pages of a sync in batches.
type pageRunner struct {
	s       *syncState
	next    func(ctx context.Context, tx keystore.Tx) (*syncPage, error)
	ordered bool

	queued []*syncPage // pages read and not yet stored, in order
	end    bool        // next has no more pages
	err    error       // why next failed (it is not called again)
	ahead  *aheadRun   // the decryption of queued[1] (or [0]) ahead of its turn
	cancel context.CancelFunc
}

// processPages stores the pages next returns (nil at the end) in batches;
// next is given the open transaction when it is called inside one.
func (s *syncState) processPages(ctx context.Context, next func(context.Context, keystore.Tx) (*syncPage, error), ordered bool) error {
	ctx, cancel := context.WithCancel(ctx)
	r := &pageRunner{s: s, next: next, ordered: ordered, cancel: cancel}
	defer r.stop()
	for {
		p, err := r.page(ctx, nil, 0)
		if err != nil || p == nil {
			return err
		}
		evs := r.takeAhead(p)
		if evs == nil {
			if evs, err = s.decryptAll(ctx, p); err != nil {
				return err
			}
			s.shareSigners()
		}
		if err := r.batch(ctx, evs); err != nil {
			return err
		}
		if err := s.flush(ctx); err != nil {
			return err
		}
	}
}

// stop ends the decryption ahead, if any.
func (r *pageRunner) stop() {
	r.cancel()
	if r.ahead != nil {
		r.ahead.drop()
		r.ahead = nil
	}
}

// page returns the i-th queued page, reading pages as needed (nil past
// the last page). A page beyond the page bounds is its error.
func (r *pageRunner) page(ctx context.Context, tx keystore.Tx, i int) (*syncPage, error) {
	for len(r.queued) <= i && !r.end && r.err == nil {
		p, err := r.next(ctx, tx)
		if err != nil {
			r.err = err
			break
		}
		if p == nil {
			r.end = true
			break
		}
		r.queued = append(r.queued, p)
	}
	if i >= len(r.queued) {
		return nil, r.err
	}
	p := r.queued[i]
	return p, p.err()
}

// batch stores, in one transaction, the first queued page (its events
// given) and the pages after it while their decryption ahead holds, up to
// maxBatchPages and maxBatchEvents.
func (r *pageRunner) batch(ctx context.Context, first []*event.Event) error {
	s := r.s
	snap := s.snapshot()
	runs, done := 0, 0
	err := s.e.store.Update(ctx, func(stx keystore.Tx) error {
		tx := newBatchTx(stx, s.cid)
		if runs++; runs > 1 {
			// Run again: the first run's changes to the sync's state and
			// to the events are taken back.
			s.restore(snap)
			dropEvents(first)
			first = nil
		}
		done = 0
		events := 0
		evs := first
		for {
			p := r.queued[done]
			if evs == nil {
				if evs = r.decryptCached(ctx, p); evs == nil {
					if done == 0 {
						return errDecryptFirst
					}
					return nil // the rest after this batch
				}
			}
			next, err := r.page(ctx, tx, done+1)
			if err == nil && next != nil && r.ahead == nil {
				r.ahead = s.decryptAhead(ctx, next)
			}
			if err := s.pageIn(ctx, tx, p, evs, r.ordered); err != nil {
				return err
			}
			done++
			events += len(p.raws)
			if err != nil || next == nil || done == maxBatchPages || events+len(next.raws) > maxBatchEvents {
				return nil // a page's error is met as its turn comes
			}
			evs = r.takeAhead(next)
		}
	})
	if errors.Is(err, errDecryptFirst) {
		return nil
	}
	if errors.Is(err, errReDecrypt) {
		s.restore(snap)
		dropEvents(first)
		r.queued[0].full = true
		return nil
	}
	if err != nil {
		// Nothing of the batch is stored: its events are not handed to
		// fn, and the sync's state is put back as it was.
		s.restore(snap)
		return err
	}
	clear(r.queued[:done])
	r.queued = r.queued[done:]
	s.undo = s.undo[:0]
	return nil
}

// takeAhead returns the events of p decrypted ahead, when they are what a
// decryption now would give, or nil.
func (r *pageRunner) takeAhead(p *syncPage) []*event.Event {
	a := r.ahead
	if a == nil || a.p != p {
		return nil
	}
	r.ahead = nil
	return a.result(r.s)
}

// decryptCached decrypts p with the keys cached so far, or returns nil
// when they do not answer every lookup.
func (r *pageRunner) decryptCached(ctx context.Context, p *syncPage) []*event.Event {
	a := r.s.decryptAhead(ctx, p)
	return a.result(r.s)
}

// aheadRun is the decryption of a page ahead of its turn.
type aheadRun struct {
	p    *syncPage
	keys *storeKeys
	gen  uint64
	view *cachedKeys
	wg   sync.WaitGroup
	evs  []*event.Event
	err  error
}

// decryptAhead starts decrypting p with the keys cached so far.
func (s *syncState) decryptAhead(ctx context.Context, p *syncPage) *aheadRun {
	a := &aheadRun{p: p, keys: s.keys, gen: s.keys.generation(), view: &cachedKeys{k: s.keys}}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.evs, a.err = s.decrypt(ctx, a.view, p)
	}()
	return a
}

// result waits for the decryption and returns its events when they are
// what decrypting p now would give: no lookup missed the cache, and
// neither the keys nor their cache changed since it started. Otherwise
// the events are dropped and result returns nil.
func (a *aheadRun) result(s *syncState) []*event.Event {
	a.wg.Wait()
	if a.err != nil || a.view.miss.Load() || a.keys != s.keys || a.gen != s.keys.generation() {
		a.drop()
		return nil
	}
	return a.evs
}

// drop waits for the decryption and drops its events.
func (a *aheadRun) drop() {
	a.wg.Wait()
	dropEvents(a.evs)
	a.evs = nil
}

// singlePage returns a next function for processPages serving p alone.
func singlePage(p *syncPage) func(context.Context, keystore.Tx) (*syncPage, error) {
	return func(context.Context, keystore.Tx) (*syncPage, error) {
		q := p
		p = nil
		return q, nil
	}
}
