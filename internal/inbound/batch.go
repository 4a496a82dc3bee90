package inbound

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/session/event"
)

// FromBytes adapts a slice of encoded events for DecryptBatch.
func FromBytes(events [][]byte) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		for _, e := range events {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// FromBase64 adapts base64 events (as the REST API returns them) for
// DecryptBatch. An entry that is not base64 becomes an event with
// ErrMalformed; it does not stop the batch.
func FromBase64(events []string) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		for _, s := range events {
			if !yield(decodeB64(s)) {
				return
			}
		}
	}
}

// DecryptBatch decrypts a stream of encoded events (raw Thrift bytes) in
// order. Signature verification and key unwrapping, the costly steps, run
// on a bounded pool of workers; key adoption and message decryption run in
// input order, so a key change is applied before every later message that
// depends on it (its key is remembered for the rest of the batch, keyed by
// conversation and version; Keys wins on lookups, and a batch key that
// contradicts a known key is rejected with ErrKeyConflict). At most
// Options.Window events are in flight, so memory stays flat however long
// the history is.
//
// The sequence yields every input event exactly once, in input order, with
// a nil error; per-event problems are in Event.Err. An input item whose
// error wraps ErrMalformed yields an event carrying that error; any other
// input error, or ctx ending, is yielded once as (nil, err) and ends the
// sequence. Breaking out of the loop stops the workers.
func DecryptBatch(ctx context.Context, keys Keys, events iter.Seq2[[]byte, error], opts *Options) iter.Seq2[*event.Event, error] {
	workers, window := batchSize(opts)
	return func(yield func(*event.Event, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// jobs is buffered like order, so that handing an event to the
		// workers never parks the producer: a rendezvous per event cost a
		// thread wake-up each, and kept a worker waiting for the producer.
		jobs := make(chan *slot, window)
		order := make(chan *slot, window) // bounds the in-flight window
		var srcErr error                  // written by the producer before closing order
		var wg sync.WaitGroup
		learnt := &learntKeys{}
		defer learnt.zero() // after wg.Wait (deferred later, run first)
		prepareIn(ctx, &wg, workers, jobs, keys, opts, learnt)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := feed(ctx, events, order, jobs)
			srcErr = err
			close(jobs)
			close(order)
		}()
		defer wg.Wait()
		defer cancel()
		if !finishInOrder(ctx, order, keys, learnt, yield) {
			return
		}
		if srcErr != nil {
			yield(nil, srcErr)
			return
		}
		if err := ctx.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// batchSize returns the number of workers (default GOMAXPROCS) and the
// in-flight window (default 8 per worker, at least 32, never below the
// number of workers).
func batchSize(opts *Options) (workers, window int) {
	if opts != nil {
		workers, window = opts.Workers, opts.Window
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if window <= 0 {
		window = max(8*workers, 32)
	}
	return workers, max(window, workers)
}

// slot is one input event on its way through DecryptBatch: prepared by a
// worker (then done is closed), finished in input order.
type slot struct {
	pos  int // input position
	raw  []byte
	err  error
	w    *work
	done chan struct{}
}

// prepareIn starts the workers that verify signatures and unwrap keys (the
// costly, order-free steps) of the slots sent on jobs. Once ctx is done
// they only release what is queued (the batch ends without its events).
func prepareIn(ctx context.Context, wg *sync.WaitGroup, workers int, jobs <-chan *slot, keys Keys, opts *Options, learnt *learntKeys) {
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			growStack()
			for s := range jobs {
				if s.err == nil && ctx.Err() == nil {
					s.w = prepareAt(keys, s.raw, s.pos, opts, learnt)
				}
				close(s.done)
			}
		}()
	}
}

// feed queues every input event in order (blocking while the window is
// full) and hands it to the workers. A malformed input item is queued as
// it is, with no work; another input error is returned and ends the
// batch, as does ctx.
func feed(ctx context.Context, events iter.Seq2[[]byte, error], order chan<- *slot, jobs chan<- *slot) error {
	pos := 0
	for raw, err := range events {
		s := &slot{pos: pos, raw: raw, err: err, done: make(chan struct{})}
		pos++
		if err != nil && !isMalformed(err) {
			return fmt.Errorf("inbound: reading events: %w", err)
		}
		select {
		case order <- s:
		case <-ctx.Done():
			return nil
		}
		if err != nil { // malformed input: no work to do
			close(s.done)
			continue
		}
		select {
		case jobs <- s:
		case <-ctx.Done():
			close(s.done)
			return nil
		}
	}
	return nil
}

// finishInOrder finishes each prepared event in input order (key adoption,
// then decryption with the keys learnt so far in the batch) and yields it;
// the verified keys learnt are published to the workers (see learntKeys).
// It reports whether the sequence may go on.
func finishInOrder(ctx context.Context, order <-chan *slot, keys Keys, learnt *learntKeys, yield func(*event.Event, error) bool) bool {
	ov := overlay{}
	for s := range order {
		select {
		case <-s.done:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			yield(nil, err)
			return false
		}
		ev := &event.Event{Err: s.err}
		if s.err == nil {
			finish(s.w, keys, ov)
			ev = s.w.ev
			if ev.KeyChange != nil {
				learnt.publish(ov)
			}
		}
		if !yield(ev, nil) {
			return false
		}
	}
	return true
}

func isMalformed(err error) bool { return errors.Is(err, ErrMalformed) }

// learntKeys publishes to the workers of a batch the verified keys its key
// changes taught the sequential stage, so that a message under such a key
// is decrypted in parallel, as one under a key held before the batch is.
// Only verified keys are published: a verified batch key is never replaced
// for the rest of the batch (adoptBatchKey: a conflicting verified change
// is refused, an unverified one never replaces a key), and keys learnt in
// the batch win over the caller's on lookup (lookupKey), so the key a
// worker finds is the one finish would use. Published keys come only from
// events already finished, which precede in input order every event still
// being prepared. The snapshots hold copies of the keys (the caller may
// wipe a yielded key change's key), wiped when the batch ends.
type learntKeys struct {
	cur    atomic.Pointer[overlay]
	copies []*crypto.ConversationKey // every key published; sequential stage only
}

// key returns the verified key published for conv and version, or nil.
func (l *learntKeys) key(conv, version string) *crypto.ConversationKey {
	if l == nil {
		return nil
	}
	ov := l.cur.Load()
	if ov == nil {
		return nil
	}
	if bk, ok := ov.get(conv, version); ok && bk.verified {
		return bk.key
	}
	return nil
}

// publish makes the verified keys of ov the ones workers see. A key the
// previous snapshot already holds, byte for byte, keeps its copy, so a
// batch of many key changes copies each key once, not once per publish.
func (l *learntKeys) publish(ov overlay) {
	prev := l.cur.Load()
	snap := overlay{}
	for conv, vs := range ov {
		for version, bk := range vs {
			if !bk.verified || bk.key == nil {
				continue
			}
			if prev != nil {
				if old, ok := prev.get(conv, version); ok && old.key.Equal(bk.key) {
					snap.put(conv, version, old.key, true)
					continue
				}
			}
			k := *bk.key
			l.copies = append(l.copies, &k)
			snap.put(conv, version, &k, true)
		}
	}
	l.cur.Store(&snap)
}

// zero wipes every key published (call once no worker runs).
func (l *learntKeys) zero() {
	l.cur.Store(nil)
	for _, k := range l.copies {
		k.Zero()
	}
	l.copies = nil
}

// workerStack is the stack a goroutine preparing events grows to at once
// (growStack): decoding an event walks its Thrift structure recursively,
// deeper than a new goroutine's stack, which the runtime then grows by
// doubling, copying the frames at every step. A sync runs a batch per
// page, each with goroutines of its own, so that happened for every page.
const workerStack = 16 << 10

// growStack makes the calling goroutine's stack large enough for
// preparing events in one step, while it is shallow and cheap to copy.
//
//go:noinline
func growStack() {
	var pad [workerStack]byte
	touchStack(pad[:])
}

//go:noinline
func touchStack(b []byte) { b[len(b)-1] = 0 }
