package inbound

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"sync"

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
	workers, window := 0, 0
	if opts != nil {
		workers, window = opts.Workers, opts.Window
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if window <= 0 {
		window = max(8*workers, 32)
	}
	window = max(window, workers)

	return func(yield func(*event.Event, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()

		type slot struct {
			raw  []byte
			err  error
			w    *work
			done chan struct{}
		}
		jobs := make(chan *slot)
		order := make(chan *slot, window) // bounds the in-flight window
		var srcErr error                  // written by the producer before closing order

		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for s := range jobs {
					if s.err == nil {
						s.w = prepare(keys, s.raw, opts)
					}
					close(s.done)
				}
			}()
		}
		wg.Add(1)
		go func() { // producer
			defer wg.Done()
			defer close(order)
			defer close(jobs)
			for raw, err := range events {
				s := &slot{raw: raw, err: err, done: make(chan struct{})}
				if err != nil && !isMalformed(err) {
					srcErr = fmt.Errorf("inbound: reading events: %w", err)
					return
				}
				select {
				case order <- s:
				case <-ctx.Done():
					return
				}
				if err != nil { // malformed input: no work to do
					close(s.done)
					continue
				}
				select {
				case jobs <- s:
				case <-ctx.Done():
					close(s.done)
					return
				}
			}
		}()
		defer wg.Wait()
		defer cancel()

		ov := overlay{}
		for s := range order {
			select {
			case <-s.done:
			case <-ctx.Done():
			}
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			var ev *event.Event
			if s.err != nil {
				ev = &event.Event{Err: s.err}
			} else {
				finish(s.w, keys, ov)
				ev = s.w.ev
			}
			if !yield(ev, nil) {
				return
			}
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

func isMalformed(err error) bool { return errors.Is(err, ErrMalformed) }
