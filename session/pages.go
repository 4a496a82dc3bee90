package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// Paging of a sync. The X API lists a conversation newest first, but the
// checks of a sync read the transcript in order: a group's roster (a member
// added or removed on an older page decides whether the events of newer
// pages are by members), and for every conversation which of two events
// with one message id is the replay, whether an edit or a delete is by the
// author of its target and whether a reply's quote is bound, which must be
// decided before the event is stored and handed to the application. So
// when the new events span several pages, the pages are fetched down to
// the history already stored, staged (see spill) and then processed oldest
// first. A sync that fits one page processes it directly.
//
// Fetching overlaps the rest: the next page is requested while the page
// just received is staged, and the signatures of the pages are verified
// ahead of their turn wherever a core is free, while fetching and while
// storing (see syncverify.go). The signatures that verify are recorded
// with the page, so processing it in turn checks each one once (see
// crypto.VerifyMemo: only an identical key, payload and signature is
// taken as verified).

// stagedPage is one page of a sync staged aside.
type stagedPage struct {
	n        int    // its stage number (the order it was fetched in)
	lo, top  string // oldest and newest sequence ids of its data ("" when none)
	hi       string // newest sequence id of its data and key changes
	verified bool   // every signature of it verified ahead (its memo holds them)
}

// span tracks the sequence ids the fetched pages cover.
type span struct{ lo, hi string }

// scan extends the span by a page's data (encoded events) and returns
// whether the page reaches the history stored before the sync
// (newest-first paging need not go further) and its oldest and newest
// sequence ids. Only the sequence ids are read (see wire.PeekSequenceID).
func (sp *span) scan(data [][]byte, stored string) (done bool, lo, top string) {
	var seqs []string
	for _, raw := range data {
		seq, ok := wire.PeekSequenceID(raw)
		if !ok {
			me, err := wire.DecodeMessageEvent(raw)
			if err != nil {
				continue
			}
			seq = me.GetSequenceID()
		}
		if !decimal.ValidID(seq) {
			continue
		}
		seqs = append(seqs, seq)
		if top == "" || decimal.Less(top, seq) {
			top = seq
		}
		if lo == "" || decimal.Less(seq, lo) {
			lo = seq
		}
		if sp.lo == "" || decimal.Less(seq, sp.lo) {
			sp.lo = seq
		}
		if sp.hi == "" || decimal.Less(sp.hi, seq) {
			sp.hi = seq
		}
		if stored != "" && !decimal.Less(stored, seq) {
			done = true
		}
	}
	up, down := 0, 0
	for i := 1; i < len(seqs); i++ {
		switch {
		case decimal.Less(seqs[i-1], seqs[i]):
			up++
		case decimal.Less(seqs[i], seqs[i-1]):
			down++
		}
	}
	// A server paging oldest first is read to the end.
	return done && up <= down, lo, top
}

// pageData returns the encoded events of a fetched page's data: those
// of the decoded page, or, for a page beyond the page bounds (which keeps
// none), those of resp.
func pageData(p *syncPage, resp *api.GetChatConversationEventsResponse) [][]byte {
	if p.err() == nil {
		return p.raws[p.kcCount:]
	}
	var data [][]byte
	for _, d := range resp.Data {
		if raw, err := wire.DecodeB64(d.EncodedEvent); err == nil {
			data = append(data, raw)
		}
	}
	return data
}

// fetched is one page handed over by fetchPages.
type fetched struct {
	page *syncPage // nil when the fetch failed
	lo   string    // oldest sequence id of its data
	top  string    // newest sequence id of its data
	hi   string    // newest sequence id of its data and key changes
	last bool      // no page follows
	err  error     // the fetch failed, or the pagination (after this page)
}

// fetchPages requests the conversation's pages, newest first, down to the
// history stored, and hands them over one by one: the request for a page
// goes out as soon as the page before it has been read, while that page is
// processed. It stops after the last page, an error, or when ctx ends.
func (s *syncState) fetchPages(ctx context.Context, srv Server) <-chan fetched {
	out := make(chan fetched, 1)
	go func() {
		defer close(out)
		send := func(f fetched) bool {
			select {
			case out <- f:
				return true
			case <-ctx.Done():
				return false
			}
		}
		var sp span
		var fetchedBytes int64
		token, tokens, idle := "", map[string]bool{}, 0
		for pages := 1; ; pages++ {
			resp, err := srv.GetConversationEvents(ctx, api.ConversationPathID(s.cid), s.e.cfg.pageSize, token)
			if err != nil {
				send(fetched{err: fmt.Errorf("session: fetching events: %w", err)})
				return
			}
			lo, hi := sp.lo, sp.hi
			if resp == nil {
				send(fetched{err: fmt.Errorf("%w: no events page", xchat.ErrServerResponse)})
				return
			}
			p := decodePage(resp)
			done, plo, top := sp.scan(pageData(p, resp), s.stored)
			f := fetched{page: p, lo: plo, top: top, hi: pageHigh(p, top), last: done || resp.Meta == nil || !resp.Meta.HasMore || resp.Meta.NextToken == ""}
			fetchedBytes += p.spillCharge()
			if !f.last {
				f.err = pagingFault(resp.Meta.NextToken, tokens, sp.lo == lo && sp.hi == hi, &idle, pages)
			}
			if !f.last && f.err == nil && fetchedBytes > s.e.cfg.maxSyncBytes {
				f.err = syncBound{fmt.Errorf("%w: the %d pages fetched hold %d bytes of events (at most %d a sync, see WithMaxSyncBytes); the older events are not fetched",
					xchat.ErrServerResponse, pages, fetchedBytes, s.e.cfg.maxSyncBytes)}
			}
			if !send(f) || f.last || f.err != nil {
				return
			}
			token = resp.Meta.NextToken
		}
	}()
	return out
}

// run fetches the conversation's new pages and processes them: directly
// when the first page is the last, otherwise staged and oldest first.
// Pagination that keeps claiming more events without bringing any stops
// the sync with xchat.ErrServerResponse. A fetch cut short leaves the
// pages fetched above a stretch of transcript not read (see cutShort):
// in a group nothing of them is processed, as when the pages overlap; in
// a one-to-one conversation they are.
func (s *syncState) run(ctx context.Context, srv Server) error {
	if err := s.clearStaged(ctx); err != nil {
		return err
	}
	fctx, stop := context.WithCancel(ctx)
	pages := s.fetchPages(fctx, srv)
	defer func() {
		stop()
		for range pages { // the fetcher ends once ctx is done
		}
	}()
	first, ok := <-pages
	if !ok {
		return context.Cause(fctx)
	}
	if first.page != nil && first.last {
		if err := s.holdIfJoinedPage(ctx, first.page); err != nil {
			return err
		}
		return s.processPages(ctx, singlePage(first.page), false)
	}
	sp := s.newSpill(s.e.cfg.spillDir)
	defer func() { _ = sp.close(ctx) }()
	staged, ferr := s.stageAll(ctx, sp, first, pages)
	stop()
	if s.cutShort(ferr) {
		return ferr
	}
	return errors.Join(ferr, s.processStaged(ctx, sp, staged))
}

// syncBound is a fetch stopped by the bounds of a sync (WithMaxSyncBytes,
// maxSyncPages) rather than by a fault of the answers.
type syncBound struct{ error }

// Unwrap returns the error the bound stopped the fetch with.
func (b syncBound) Unwrap() error { return b.error }

// cutShort reports whether the pages of a group's sync whose fetch ended
// with err must not be processed. The X API lists newest first, so a fetch
// that ends before its last page (a pagination stall, a repeated or
// oversized token, a failed request, the context's end) leaves its pages
// above events not read: the group changes there decide the roster those
// pages are judged by, so read without them the pages' group changes fail
// (xchat.ErrRosterUnknown, or against a roster they changed), and a failure
// is final: once stored, and the sync position above them, a later sync
// reads only what is newer, and what the server serves below them later
// judges nothing above again. Processing nothing leaves the sync position
// where it was: the next sync fetches the same pages and the rest with
// them, in order. A fetch the sync's own bounds stopped (syncBound) is
// processed as far as it went, its pages' changes judged as the stretch of
// group history read allows (see WithMaxSyncBytes): a history that large
// could otherwise never be synced.
func (s *syncState) cutShort(err error) bool {
	var bound syncBound
	return err != nil && IsGroup(s.cid) && !errors.As(err, &bound)
}

// stageAll stages the fetched pages, first and those pages brings, as they
// arrive: each page the fetch verifier has room for is staged once it has
// been verified, the others at once (so they may be staged out of fetch
// order; their numbers are those of fetch order). It returns the pages
// staged, in fetch order, and the error that ended the fetch, if any.
func (s *syncState) stageAll(ctx context.Context, sp spill, first fetched, pages <-chan fetched) ([]stagedPage, error) {
	var staged []stagedPage
	var held []bool // whether each page was staged
	put := func(j verifyJob) error {
		if err := sp.put(ctx, j.n, j.p); err != nil {
			return err
		}
		staged[j.n-1].verified, held[j.n-1] = j.all, true
		trace("staged", j.n, j.p, j.all)
		return nil
	}
	v := s.startFetchVerifier(ctx)
	var ferr error
	f, ok := first, true
	for {
		if p := f.page; p != nil {
			n := len(staged) + 1
			staged, held = append(staged, stagedPage{n: n, lo: f.lo, top: f.top, hi: f.hi}), append(held, false)
			if !v.offer(n, p) {
				if ferr = put(verifyJob{n: n, p: p}); ferr != nil {
					break
				}
			}
		}
		if f.err != nil || f.last {
			ferr = f.err
			break
		}
		if f, ok, ferr = nextFetched(ctx, pages, v.results(), put); ferr != nil || !ok {
			break
		}
	}
	ferr = errors.Join(ferr, v.finish(put))
	// A page that could not be staged ends the pages processed: those
	// fetched before it are, as when staging fails in fetch order.
	if i := slices.Index(held, false); i >= 0 {
		staged = staged[:i]
	}
	return staged, ferr
}

// nextFetched waits for the next fetched page, staging the pages the
// verifier hands back meanwhile. ok is false when the fetcher has ended
// without one (err says why).
func nextFetched(ctx context.Context, pages <-chan fetched, verified <-chan verifyJob, put func(verifyJob) error) (f fetched, ok bool, err error) {
	for {
		select {
		case j, open := <-verified:
			if !open {
				verified = nil
				continue
			}
			if err := put(j); err != nil {
				return fetched{}, false, err
			}
		case f, ok = <-pages:
			if !ok {
				return fetched{}, false, context.Cause(ctx)
			}
			return f, true, nil
		}
	}
}

// pagingFault reports a server whose pagination (of events, or of the
// conversation listing) does not progress: a token longer than
// api.MaxPaginationTokenBytes (every token is kept until the listing ends,
// and sent back in a URL), a repeated token, maxIdlePages pages in a row
// that brought nothing new, or more than maxSyncPages pages. It records
// the token.
func pagingFault(next string, tokens map[string]bool, stalled bool, idle *int, pages int) error {
	if len(next) > api.MaxPaginationTokenBytes {
		return fmt.Errorf("%w: a pagination token of %d bytes (at most %d)", xchat.ErrServerResponse, len(next), api.MaxPaginationTokenBytes)
	}
	if tokens[next] {
		return fmt.Errorf("%w: server repeated a pagination token", xchat.ErrServerResponse)
	}
	if stalled {
		*idle++
	} else {
		*idle = 0
	}
	if *idle >= maxIdlePages {
		return fmt.Errorf("%w: %d pages in a row brought nothing new but the server claims more", xchat.ErrServerResponse, *idle)
	}
	if pages >= maxSyncPages {
		return syncBound{fmt.Errorf("%w: server still claims more after %d pages", xchat.ErrServerResponse, pages)}
	}
	tokens[next] = true
	return nil
}

// processStaged processes the staged pages oldest first, after collecting
// the key-change pairs all of them carry (a group create on an older page
// may be bound by a key change served with a newer one).
func (s *syncState) processStaged(ctx context.Context, sp spill, pages []stagedPage) error {
	if len(pages) == 0 {
		return nil
	}
	sort.SliceStable(pages, func(i, j int) bool { return decimal.Less(pages[i].top, pages[j].top) })
	if err := pagesOverlap(pages); err != nil {
		return err
	}
	if IsGroup(s.cid) {
		if err := s.collectPairs(ctx, sp, pages); err != nil {
			return err
		}
		if err := s.findCreate(ctx, sp, pages); err != nil {
			return err
		}
	}
	if sp.shared() {
		s.shareSigners() // those collectPairs found
		next, stop := s.readAhead(ctx, sp, pages)
		defer stop()
		return s.processPages(ctx, next, true)
	}
	i := 0
	return s.processPages(ctx, func(ctx context.Context, tx keystore.Tx) (*syncPage, error) {
		if i == len(pages) {
			return nil, nil
		}
		i++
		return sp.get(ctx, tx, pages[i-1].n)
	}, true)
}

// pageHigh is the newest sequence id of a page's data (top) and key
// changes.
func pageHigh(p *syncPage, top string) string {
	if p.err() != nil {
		return top
	}
	hi := top
	for _, raw := range p.raws[:p.kcCount] {
		if seq, ok := wire.PeekSequenceID(raw); ok && decimal.ValidID(seq) && (hi == "" || decimal.Less(hi, seq)) {
			hi = seq
		}
	}
	return hi
}

// pagesOverlap refuses staged pages (sorted by their newest sequence id)
// whose sequence ranges overlap. Pages are read oldest page first, each
// page's events (its key changes with them) in order: with overlapping
// ranges the transcript would not be read in order, and a member's message
// or key change after her removal, served with older events, would be read
// before the removal and taken as a member's. An honest server's pages
// are disjoint ranges of the transcript, and a page carries, besides the
// key changes of its own messages (older than they are), only on the
// newest page (read last) the newest key change.
func pagesOverlap(pages []stagedPage) error {
	prev := ""
	for _, p := range pages {
		lo := p.lo
		if lo == "" {
			lo = p.hi // key changes only
		}
		if lo == "" {
			continue
		}
		if prev != "" && decimal.Less(lo, prev) {
			return fmt.Errorf("%w: pages overlap: a page reaches down to sequence id %s, below sequence id %s of a page read before it", xchat.ErrServerResponse, lo, prev)
		}
		if prev == "" || decimal.Less(prev, p.hi) {
			prev = p.hi
		}
	}
	return nil
}

// collectPairs records the verified v6+ key changes the staged pages serve
// (verifying them; their keys are not kept).
func (s *syncState) collectPairs(ctx context.Context, sp spill, pages []stagedPage) error {
	for _, sg := range pages {
		p, err := sp.get(ctx, nil, sg.n)
		if err != nil {
			return err
		}
		if err := p.err(); err != nil {
			return err
		}
		kcs := &syncPage{raws: p.raws[:p.kcCount], kcCount: p.kcCount, memo: p.memo}
		evs, err := s.decryptAll(ctx, kcs)
		if err != nil {
			return err
		}
		s.pass.pairs.add(evs)
		dropEvents(evs)
	}
	return nil
}

// findCreate records in s.pass the group creates the staged pages serve
// (verified; see rosterPass.creates), when the group holds no roster: the
// pages are stored oldest first, one batch at a time, and content the
// server placed below the create on an older page must be judged by the
// create (rosterRec.outsiderBelowCreate) as it is stored, not handed to fn
// as verified before the create is read. Only the events the envelope
// names a group create are decrypted (verified) here. When the roster held
// is one a join started, it only looks for a create below that join
// (holdIfJoinedCreate).
func (s *syncState) findCreate(ctx context.Context, sp spill, pages []stagedPage) error {
	r, err := loadRoster(ctx, s.e.store, s.cid)
	switch {
	case err != nil:
		return err
	case r.Base == baseJoin:
		return s.holdIfJoinedCreate(ctx, sp, pages, r)
	case r.Base != "":
		return nil
	}
	for _, sg := range pages {
		p, err := sp.get(ctx, nil, sg.n)
		if err != nil {
			return err
		}
		if err := p.err(); err != nil {
			return err
		}
		var creates [][]byte
		for _, raw := range p.raws[p.kcCount:] {
			if namesCreate(raw) {
				creates = append(creates, raw)
			}
		}
		if len(creates) == 0 {
			continue
		}
		evs, err := s.decryptAll(ctx, &syncPage{raws: creates, full: true})
		if err != nil {
			return err
		}
		for _, ev := range evs {
			screenEnvelope(ev)
			if g := ev.GroupChange; ev.Verified && g != nil && g.Kind == event.GroupCreated && decimal.ValidID(ev.SequenceID) {
				s.pass.creates = append(s.pass.creates, ev)
			}
		}
	}
	return nil
}

// namesCreate reports whether raw is an event whose envelope carries a
// group create.
func namesCreate(raw []byte) bool {
	me, err := wire.DecodeMessageEvent(raw)
	if err != nil || me.Detail == nil || me.Detail.GroupChangeEvent == nil || me.Detail.GroupChangeEvent.GroupChange == nil {
		return false
	}
	return me.Detail.GroupChangeEvent.GroupChange.GroupCreate != nil
}
