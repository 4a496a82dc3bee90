package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/wire"
)

// Paging of a sync. The X API lists a conversation newest first, but a
// group's roster must be followed in transcript order: a member added (or
// removed) on an older page decides whether the events of newer pages are
// by members. So when the new events span several pages, the pages are
// fetched down to the history already stored, staged in the keystore
// (sealed, one page at a time in memory) and then processed oldest first.
// A sync that fits one page processes it directly.

// stagedPage is one page of a sync staged in the keystore.
type stagedPage struct {
	n   int    // its stage number
	top string // newest sequence id of its data ("" when none)
}

func stageKey(cid string, n int) string { return "session/stage/" + cid + "/" + strconv.Itoa(n) }

// span tracks the sequence ids the fetched pages cover.
type span struct{ lo, hi string }

// scan extends the span by the data of resp (envelopes decoded for their
// sequence ids only) and returns whether the page reaches the history
// stored before the sync (newest-first paging need not go further) and its
// newest sequence id.
func (sp *span) scan(resp *api.GetChatConversationEventsResponse, stored string) (done bool, top string) {
	var seqs []string
	for _, d := range resp.Data {
		raw, err := wire.DecodeB64(d.EncodedEvent)
		if err != nil {
			continue
		}
		me, err := wire.DecodeMessageEvent(raw)
		if err != nil || !decimal.ValidID(me.GetSequenceID()) {
			continue
		}
		seq := me.GetSequenceID()
		seqs = append(seqs, seq)
		if top == "" || decimal.Less(top, seq) {
			top = seq
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
	return done && up <= down, top
}

// run fetches the conversation's new pages and processes them: directly
// when the first page is the last, otherwise staged and oldest first.
// Pagination that keeps claiming more events without bringing any stops
// the sync with ErrServerResponse (the pages fetched so far are still
// processed).
func (s *syncState) run(ctx context.Context, srv Server) error {
	if err := s.clearStaged(ctx); err != nil {
		return err
	}
	var staged []stagedPage
	var sp span
	token, tokens, idle := "", map[string]bool{}, 0
	var ferr error
	for pages := 1; ; pages++ {
		resp, err := srv.GetConversationEvents(ctx, PathID(s.cid), s.e.cfg.pageSize, token)
		if err != nil {
			ferr = fmt.Errorf("session: fetching events: %w", err)
			break
		}
		lo, hi := sp.lo, sp.hi
		done, top := sp.scan(resp, s.stored)
		last := done || resp.Meta == nil || !resp.Meta.HasMore || resp.Meta.NextToken == ""
		if pages == 1 && last {
			return s.page(ctx, resp, false)
		}
		if err := s.stage(ctx, len(staged)+1, resp); err != nil {
			ferr = err
			break
		}
		staged = append(staged, stagedPage{n: len(staged) + 1, top: top})
		if last {
			break
		}
		if ferr = pagingFault(resp.Meta.NextToken, tokens, sp.lo == lo && sp.hi == hi, &idle, pages); ferr != nil {
			break
		}
		token = resp.Meta.NextToken
	}
	return errors.Join(ferr, s.processStaged(ctx, staged))
}

// pagingFault reports a server whose pagination does not progress: a
// repeated token, maxIdlePages pages in a row that extended the range by
// nothing, or more than maxSyncPages pages. It records the token.
func pagingFault(next string, tokens map[string]bool, stalled bool, idle *int, pages int) error {
	if tokens[next] {
		return fmt.Errorf("%w: server repeated a pagination token", ErrServerResponse)
	}
	if stalled {
		*idle++
	} else {
		*idle = 0
	}
	if *idle >= maxIdlePages {
		return fmt.Errorf("%w: %d pages in a row brought no new events but the server claims more", ErrServerResponse, *idle)
	}
	if pages >= maxSyncPages {
		return fmt.Errorf("%w: server still claims more events after %d pages", ErrServerResponse, pages)
	}
	tokens[next] = true
	return nil
}

// stage stores page n of this sync.
func (s *syncState) stage(ctx context.Context, n int, resp *api.GetChatConversationEventsResponse) error {
	b, err := json.Marshal(resp)
	if err != nil {
		return fmt.Errorf("session: staging page: %w", err)
	}
	if err := s.e.store.SetValue(ctx, stageKey(s.cid, n), b); err != nil {
		return fmt.Errorf("session: staging page: %w", err)
	}
	return nil
}

// staged reads back staged page n.
func (s *syncState) staged(ctx context.Context, n int) (*api.GetChatConversationEventsResponse, error) {
	b, err := s.e.store.Value(ctx, stageKey(s.cid, n))
	if err != nil {
		return nil, fmt.Errorf("session: reading staged page: %w", err)
	}
	var resp api.GetChatConversationEventsResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, fmt.Errorf("session: staged page unreadable: %w", err)
	}
	return &resp, nil
}

// clearStaged deletes the staged pages of cid (left by an interrupted
// sync, or by this one).
func (s *syncState) clearStaged(ctx context.Context) error {
	for n := 1; ; n++ {
		if _, err := s.e.store.Value(ctx, stageKey(s.cid, n)); errors.Is(err, keystore.ErrNotFound) {
			return nil
		} else if err != nil {
			return fmt.Errorf("session: reading staged page: %w", err)
		}
		if err := s.e.store.SetValue(ctx, stageKey(s.cid, n), nil); err != nil {
			return fmt.Errorf("session: clearing staged page: %w", err)
		}
	}
}

// processStaged processes the staged pages oldest first, after collecting
// the key-change pairs all of them carry (a group create on an older page
// may be bound by a key change served with a newer one).
func (s *syncState) processStaged(ctx context.Context, pages []stagedPage) error {
	if len(pages) == 0 {
		return nil
	}
	defer func() { _ = s.clearStaged(context.WithoutCancel(ctx)) }()
	sort.SliceStable(pages, func(i, j int) bool { return decimal.Less(pages[i].top, pages[j].top) })
	if IsGroup(s.cid) {
		if err := s.collectPairs(ctx, pages); err != nil {
			return err
		}
	}
	for _, p := range pages {
		resp, err := s.staged(ctx, p.n)
		if err != nil {
			return err
		}
		if err := s.page(ctx, resp, true); err != nil {
			return err
		}
	}
	return nil
}

// collectPairs records the verified v6+ key changes the staged pages serve
// (verifying them; their keys are not kept).
func (s *syncState) collectPairs(ctx context.Context, pages []stagedPage) error {
	for _, p := range pages {
		resp, err := s.staged(ctx, p.n)
		if err != nil {
			return err
		}
		raws, _, kcCount, err := decodePage(resp)
		if err != nil {
			return err
		}
		evs, err := s.decryptAll(ctx, raws[:kcCount])
		if err != nil {
			return err
		}
		s.pass.pairs.add(evs)
		for _, ev := range evs {
			if ev.KeyChange != nil && ev.KeyChange.Key != nil {
				ev.KeyChange.Key.Zero()
			}
		}
	}
	return nil
}
