package session

import (
	"context"
	"errors"
	"sync"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// Verifying a staged sync's signatures ahead of their turn. Checking the
// signatures is most of a sync's work, and it needs nothing from the pages
// before: so it runs wherever a core is free, in both phases of a staged
// sync (see run).
//
//   - While the pages are fetched, a verifier takes the fetched pages it
//     has room for (fetchVerifier: one being verified, verifyQueue
//     waiting) and hands each back with its memo; a page it has no room
//     for is staged at once without one. Fetching and staging never wait
//     for it.
//   - While the staged pages are stored, oldest first, a reader reads them
//     from the spill up to verifyLookahead pages ahead of the store loop
//     (readAhead) and verifies those not every signature of which
//     verified while fetching.
//
// What either records is a page's memo (syncPage.memo): the signatures
// that verified, each keyed on SHA-256 of its key, payload and signature
// (see crypto.VerifyMemo). The reader, whose pages stay in memory until
// their turn, also keeps what it decoded of them (syncPage.decoded, see
// inbound.Decoded: the events' Thrift decoding and their messages'
// payload hashes, which depend on the bytes alone), so that the turn
// does not decode and hash them again; pages staged after verification
// keep only their memo, so that staging bounds memory. The page is still decrypted and checked in
// transcript order at its turn, with the keys of that turn; only a
// signature verified with the identical key over the identical bytes is
// not checked again. A verification that does not run to its end
// (cancelled, or failing) records nothing, and a signature that did not
// verify is never recorded: such signatures, and those of a page never
// verified ahead, are checked at the page's turn.
//
// The verification keys are the sync's own (syncState.pre): while fetching
// they are read from the store; while storing only their cache is used
// (cachedKeys: the store may not be read from another goroutine while the
// storing transaction is open), given the signing keys each page's turn
// found (shareSigners); a signature whose key is not cached is left to
// the page's turn.

// verifyQueue is how many fetched pages may wait for the fetch verifier
// (besides the one it verifies); verifyLookahead how many staged pages the
// reader may hold, read and verified, ahead of the store loop (besides
// the one it verifies). Each page held keeps its events decoded until its
// turn, for the whole of a long sync's second phase: measured on the
// bench's e2e sync (4 runs, same machine, same run), holding 2 instead of
// 3 lowered the peak anonymous RSS at 100k events by 0.6-1.0 MiB (of
// 15.3) and left it unchanged at 1k; holding 6 did not make the reader
// wait less for the store loop, which waits for its commits.
// maxVerifying is how many fetched pages may be with the fetch verifier
// at once, not yet staged: those waiting, the one verified, and those
// handed back and not yet taken.
const (
	verifyQueue     = 1
	verifyLookahead = 2
	maxVerifying    = 2*verifyQueue + 2
)

// syncTrace, when set (by tests), is told of each page of a staged sync
// as it is staged (step "staged") and as it is verified ahead of the store
// loop (step "ahead"), by stage number, with the count of signatures its
// memo holds and whether every signature of it verified ahead.
var syncTrace func(step string, n, memo int, all bool)

// trace calls syncTrace, if set.
func trace(step string, n int, p *syncPage, all bool) {
	if syncTrace != nil {
		syncTrace(step, n, len(p.memo), all)
	}
}

// verifyPage verifies the signatures of p with keys (those its memo does
// not hold) and records in p.memo those that verified; with keep, also
// what it decoded of p's events in p.decoded (only for a page kept in
// memory until its turn). It reports whether every signature of p
// verified. A verification that does not run to its end leaves the memo
// as it was.
func (s *syncState) verifyPage(ctx context.Context, keys inbound.Keys, p *syncPage, keep bool) bool {
	if len(p.raws) == 0 {
		return true
	}
	memo := crypto.NewVerifyMemo(len(p.raws) + 8)
	memo.Restore(p.memo)
	opts := &inbound.Options{ConversationID: s.cid, Workers: s.e.cfg.workers, Signatures: memo, Unwraps: s.unwrapMemo(), VerifyOnly: true}
	if keep && keepDecoded {
		p.decoded = inbound.NewDecoded(len(p.raws))
		opts.Decoded = p.decoded
	}
	all := true
	for ev, err := range inbound.DecryptBatch(ctx, keys, inbound.FromBytes(p.raws), opts) {
		if err != nil {
			p.decoded = nil
			return false
		}
		all = all && ev.Err == nil
		dropEvents([]*event.Event{ev})
	}
	p.memo, p.sigs = memo.Entries(), nil
	return all
}

// shareSigners gives the verification keys the signing keys the sync's
// keys have found (the peers whose keys a page's turn fetched and pinned,
// see decryptAll), so that the pages read ahead of the store loop are
// verified with them too.
func (s *syncState) shareSigners() {
	if s.pre == nil || s.keys == nil || s.pre == s.keys {
		return
	}
	s.keys.mu.Lock()
	found := make(map[keyID]*crypto.PublicKey, len(s.keys.signing))
	for id, pk := range s.keys.signing {
		found[id] = pk
	}
	s.keys.mu.Unlock()
	s.pre.mu.Lock()
	defer s.pre.mu.Unlock()
	for id, pk := range found {
		if _, ok := s.pre.signing[id]; !ok {
			s.pre.signing[id] = pk
		}
	}
}

// preKeys returns the sync's verification keys, made on first use, or
// nil when none can be made (nothing is then verified ahead).
func (s *syncState) preKeys(ctx context.Context) *storeKeys {
	if s.pre == nil {
		keys, err := s.e.keysFor(ctx)
		if err != nil {
			return nil
		}
		s.pre = keys
	}
	return s.pre
}

// verifyJob is a fetched page on its way through the fetch verifier: its
// stage number, and whether every signature of it verified.
type verifyJob struct {
	n   int
	p   *syncPage
	all bool
}

// fetchVerifier verifies fetched pages in the background (see above). A
// nil *fetchVerifier takes no page.
type fetchVerifier struct {
	in  chan verifyJob
	out chan verifyJob
	wg  sync.WaitGroup
}

// startFetchVerifier starts the fetch verifier, or returns nil when
// verification ahead is off or no keys can be made. The pages it takes
// are handed back on out (all of them, also when ctx ends: with no memo
// then), which is closed after finish.
func (s *syncState) startFetchVerifier(ctx context.Context) *fetchVerifier {
	if !verifyWhileFetching {
		return nil
	}
	keys := s.preKeys(ctx)
	if keys == nil {
		return nil
	}
	v := &fetchVerifier{in: make(chan verifyJob, verifyQueue), out: make(chan verifyJob, verifyQueue+1)}
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		defer close(v.out)
		for j := range v.in {
			j.all = s.verifyPage(ctx, keys, j.p, false)
			v.out <- j // the fetch loop takes every page back (finish)
		}
	}()
	return v
}

// offer hands page n to the verifier when it has room for it.
func (v *fetchVerifier) offer(n int, p *syncPage) bool {
	if v == nil || len(p.raws) == 0 || p.err() != nil {
		return false
	}
	select {
	case v.in <- verifyJob{n: n, p: p}:
		return true
	default:
		return false
	}
}

// results is where the verified pages come back (nil for a nil verifier:
// nothing ever does).
func (v *fetchVerifier) results() <-chan verifyJob {
	if v == nil {
		return nil
	}
	return v.out
}

// finish takes back the pages still with the verifier, passing each to
// stage until stage fails, and waits for the verifier to end.
func (v *fetchVerifier) finish(stage func(verifyJob) error) error {
	if v == nil {
		return nil
	}
	close(v.in)
	var err error
	for j := range v.out {
		if err == nil {
			err = stage(j)
		}
	}
	v.wg.Wait()
	return err
}

// readPage is a staged page read back by readAhead, or why it could not
// be.
type readPage struct {
	p   *syncPage
	err error
}

// errStagedShort reports that the reader of the staged pages ended before
// the last page (only when the sync's context ended).
var errStagedShort = errors.New("session: staged pages ended early")

// readAhead reads the staged pages in order in the background, up to
// verifyLookahead pages ahead of the caller, verifying those not every
// signature of which verified while fetching, with the cache of the sync's
// verification keys. It
// returns a next function for processPages serving them, and stop, which
// ends the reader (the caller calls it before the spill is closed).
func (s *syncState) readAhead(ctx context.Context, sp spill, pages []stagedPage) (next func(context.Context, keystore.Tx) (*syncPage, error), stop func()) {
	rctx, cancel := context.WithCancel(ctx)
	out := make(chan readPage, verifyLookahead)
	var keys inbound.Keys
	if s.pre != nil && verifyWhileFetching {
		keys = &cachedKeys{k: s.pre}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(out)
		for _, sg := range pages {
			p, err := sp.get(rctx, nil, sg.n)
			if err == nil && !sg.verified && keys != nil && p.err() == nil {
				trace("ahead", sg.n, p, s.verifyPage(rctx, keys, p, true))
			}
			select {
			case out <- readPage{p: p, err: err}:
			case <-rctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	got := 0
	next = func(ctx context.Context, _ keystore.Tx) (*syncPage, error) {
		if got == len(pages) {
			return nil, nil
		}
		select {
		case r, ok := <-out:
			if !ok {
				return nil, errors.Join(errStagedShort, context.Cause(rctx))
			}
			got++
			return r.p, r.err
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	stop = func() {
		cancel()
		wg.Wait()
	}
	return next, stop
}
