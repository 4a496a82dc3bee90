package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// pageIn processes one decrypted page of a sync inside tx, the storing
// transaction of its batch (see pageRunner): screening of the authors, key
// adoption, the transcript checks and storing. evs are the page's events
// as decrypted: its key changes first, then its data. The events not
// stored before, and those that were not base64, are queued for fn, which
// sees them once tx has committed (see flush). ordered says the pages come
// oldest first (staged pages, see run).
func (s *syncState) pageIn(ctx context.Context, tx keystore.Tx, p *syncPage, evs []*event.Event, ordered bool) error {
	kcCount := p.kcCount
	s.res.Events += len(evs) + len(p.bad)
	s.res.Failed += len(p.bad)
	s.addPairs(evs)
	found, err := s.e.screenSenders(ctx, tx, s.cid, evs, s.pass)
	if err != nil {
		return err
	}
	s.res.Anomalies = append(s.res.Anomalies, found...)

	// Adopt keys first (every key change of the page, in its metadata or
	// served as an event of its data), then walk the page's events in
	// transcript order for the transcript checks.
	data := evs[kcCount:]
	kcs := withDataKeyChanges(evs[:kcCount], data)
	adopted, err := s.adoptKeys(ctx, tx, kcs)
	if err != nil {
		return err
	}
	s.noteKeyServed(kcs)
	walk, keep := s.window(data, evs[:kcCount], ordered)
	s.noteServed(evs[:kcCount])
	s.checkLinks(walk)
	for _, ev := range walk {
		if s.stored != "" && !decimal.Less(s.stored, ev.SequenceID) {
			// Already stored: the server must serve the same bytes again.
			if prev, err := eventAt(ctx, tx, s.cid, ev.SequenceID); err != nil {
				return fmt.Errorf("session: reading history: %w", err)
			} else if p.stubbed[ev] && (prev == nil || prev.Type == keystore.DamagedType || !bytes.Equal(prev.Raw, ev.Raw)) {
				return errReDecrypt
			} else if prev != nil {
				prev.Body.Zero()
				if !bytes.Equal(prev.Raw, ev.Raw) {
					s.res.Anomalies = append(s.res.Anomalies, event.Anomaly{Kind: event.AnomalyConflict, ConversationID: s.cid, SequenceID: ev.SequenceID, Related: ev.SequenceID})
				}
				continue
			}
		}
		if s.stored != "" && !decimal.Less(s.stored, ev.SequenceID) {
			s.late = append(s.late, ev.SequenceID) // new, below the stored tip
		}
		if s.newest == "" || decimal.Less(s.newest, ev.SequenceID) {
			s.newest = ev.SequenceID
		}
		keep = append(keep, ev)
	}
	// Store oldest first so that group changes apply in order.
	sort.SliceStable(keep, func(i, j int) bool { return decimal.Less(keep[i].SequenceID, keep[j].SequenceID) })
	if err := s.store(ctx, tx, keep); err != nil {
		return err
	}
	if err := keysAgree(ctx, tx, s.cid, adopted); err != nil {
		return err
	}
	// Only now, with authorship decided as the deletes were stored, may
	// they explain breaks in the chain.
	if err := s.noteRemovals(ctx, tx, data); err != nil {
		return err
	}
	s.queue = append(s.queue, p.bad...)
	return nil
}

// withDataKeyChanges returns the key changes of a page's metadata, meta,
// followed by those served as events of its data. A key change is signed
// alike wherever the server lists it, and screened alike (screenSenders
// reads the whole page): one served only as a page event distributes its
// key as one in the metadata does, and opens the messages stored before
// it that await its key (noteKeyServed), as on a fresh device. Each is
// stored by the walk, so keysAgree holds it to its verdict there.
func withDataKeyChanges(meta, data []*event.Event) []*event.Event {
	kcs := meta
	for _, ev := range data {
		if ev.KeyChange == nil {
			continue
		}
		if len(kcs) == len(meta) {
			kcs = slices.Clip(meta) // never write into the page's data
		}
		kcs = append(kcs, ev)
	}
	return kcs
}

// window splits a page for the transcript checks: walk are the events
// taking part in the chain (data with a valid sequence id, and the key
// changes inside the stretch the page covers, or between it and what was
// walked before), sorted oldest first; keep are those stored without
// being walked (data without a valid sequence id, key changes served for
// their keys only, typing indicators: see chained).
func (s *syncState) window(data, kcs []*event.Event, ordered bool) (walk, keep []*event.Event) {
	ascending := ordered || pageAscending(data)
	pageMin, pageMax := "", ""
	for _, ev := range data {
		if !chained(ev) {
			continue
		}
		if pageMin == "" || decimal.Less(ev.SequenceID, pageMin) {
			pageMin = ev.SequenceID
		}
		if pageMax == "" || decimal.Less(pageMax, ev.SequenceID) {
			pageMax = ev.SequenceID
		}
	}
	for _, ev := range data {
		if chained(ev) {
			walk = append(walk, ev)
		} else {
			keep = append(keep, ev)
		}
	}
	for _, ev := range kcs {
		if s.inWindow(ev.SequenceID, pageMin, pageMax, ascending) {
			walk = append(walk, ev)
		} else {
			// Stored (once: storing again costs a read) even inside a
			// range walked before: a key change served there only now
			// has its key adopted, and no key is usable without its key
			// change in the history.
			keep = append(keep, ev)
		}
	}
	sort.SliceStable(walk, func(i, j int) bool { return decimal.Less(walk[i].SequenceID, walk[j].SequenceID) })
	return walk, keep
}

// chained reports whether a page's data event takes part in the chain of
// previous sequence ids: one with a valid sequence id that is no typing
// indicator. A typing indicator is pushed live, never part of the history
// (storeEventsTx hands it over without storing it): walked, it would fill
// the place of an event the server withheld (the gap unreported, nothing
// stored there) and move the sync position to a sequence id of its own.
func chained(ev *event.Event) bool {
	return decimal.ValidID(ev.SequenceID) && ev.Kind != event.KindTyping
}

// flush passes the events queued by the committed batch to fn, unless
// they are held for a late change's walk (see holdIfLate): then they are
// handed over after it, at the latest once maxHeldEvents are held.
func (s *syncState) flush(ctx context.Context) error {
	if err := s.noticeLate(ctx); err != nil {
		return err
	}
	if err := s.bindLate(ctx); err != nil {
		return err
	}
	s.res.Anomalies = append(s.res.Anomalies, s.pass.createFound...)
	s.pass.createFound = nil
	if s.holdUnrostered {
		if held, err := s.stillUnrostered(ctx); err != nil || held {
			return err
		}
	}
	if s.holdLate {
		if len(s.queue) < maxHeldEvents {
			return nil
		}
		return s.settleLate(ctx)
	}
	return s.handOver()
}

// bindLate binds, once a batch has committed, a group create read before
// its pair when the pair is stored now (Engine.bindLateCreate): what it
// fails among the events held from fn is handed over failed (beforeCreate,
// reported as createFound), what it opens (content the create failed
// among it) is handed to fn again, marked Reopened. It is committed already: nothing here is taken back. It runs
// only while the sync holds from fn what it stored with no roster held
// (holdUnrostered): what the reading fails of this sync's events was not
// handed to fn as verified (past maxHeldEvents the next sync binds it).
func (s *syncState) bindLate(ctx context.Context) error {
	if !s.holdUnrostered {
		return nil
	}
	lb, err := s.e.bindLateCreate(ctx, s.cid, true, s.pass.pairs)
	if err != nil || lb == nil {
		return err
	}
	j := s.pass.journal
	s.pass.journal = nil
	s.pass.failedByCreate(s.cid, lb.create, lb.failed)
	s.pass.journal = j
	for _, ev := range lb.opened {
		// Failed by the create when it was stored, opened by the
		// reading again: handed over as the store now keeps it.
		delete(s.pass.beforeCreate, ev.SequenceID)
	}
	// One stored by this sync is still held from fn (holdUnrostered):
	// handed once, in its place, as the store now keeps it, not failed
	// after its opening (nor counted as reopened: fn sees it once).
	queued := make(map[string]int, len(s.queue))
	for i, ev := range s.queue {
		queued[ev.SequenceID] = i
	}
	opened := make([]*event.Event, 0, len(lb.opened))
	for _, ev := range lb.opened {
		c := *ev
		if i, ok := queued[ev.SequenceID]; ok {
			s.queue[i] = &c
			continue
		}
		opened = append(opened, &c)
	}
	s.res.Reopened += len(opened)
	return s.handReopened(opened)
}

// handOver passes the queued events to fn. They are stored already, so an
// error from fn cannot take the rest of them back: every queued event is
// still handed to fn (a later sync would not hand it, being stored), and
// fn's first error then stops the sync. Each is handed over as what the
// store holds: an event of the conversation synced, whatever conversation
// its envelope claims (see ownConversation).
func (s *syncState) handOver() error {
	q := s.queue
	s.queue = nil
	if s.fn == nil {
		return nil
	}
	var first error
	for _, ev := range q {
		if cause := s.pass.beforeCreate[ev.SequenceID]; cause != nil && ev.Verified {
			reject(ev, cause) // failed by the group's create, stored later (see holdUnrostered)
			s.res.Failed++
		}
		if err := s.fn(ownConversation(ev, s.cid)); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ownConversation returns ev as an event of conversation cid, the one it
// was read in and is stored under (History shows it there). The
// conversation id an envelope names is unsigned: one that names another
// conversation, or none, failed the event (inbound.ErrWrongConversation,
// whose error names the claim), and handed over under the claim it would
// pass for an event of that conversation with whoever tells events apart
// by their ConversationID (a realtime.Follower limited to one
// conversation, the CLI's watch).
func ownConversation(ev *event.Event, cid string) *event.Event {
	if ev.ConversationID == cid {
		return ev
	}
	c := *ev
	c.ConversationID = cid
	return &c
}

// decryptAll decrypts a page with the store's keys; peers whose signing
// keys were unknown are fetched (once a sync: see notLookedUp) and the
// events decrypted again. Messages
// this account holds byte for byte are not run through the pipeline again
// (see reserved). It reads the store and may write it (pinning fetched
// keys): never call it inside a transaction.
func (s *syncState) decryptAll(ctx context.Context, p *syncPage) ([]*event.Event, error) {
	if err := s.reserved(ctx, p); err != nil {
		return nil, err
	}
	evs, err := s.decryptKnown(ctx, s.keys, p)
	if err != nil {
		return nil, err
	}
	if missing := s.notLookedUp(s.keys.missingSigners()); len(missing) > 0 {
		changes, rerr := s.e.refreshPeers(ctx, missing...)
		s.res.KeyChanges = append(s.res.KeyChanges, changes...)
		if rerr == nil || errors.Is(rerr, xchat.ErrNoPeerKeys) || errors.Is(rerr, xchat.ErrKeyBinding) {
			keys, err := s.e.keysFor(ctx)
			if err != nil {
				return nil, err
			}
			s.retired = append(s.retired, s.keys)
			s.keys = keys
			dropEvents(evs) // the first pass's events are dropped before the second
			return s.decryptKnown(ctx, s.keys, p)
		}
	}
	return evs, nil
}

// decrypt runs a page through the receive pipeline with keys, holding the
// page to its element budget (see pageBudget) as the events stream out.
func (s *syncState) decrypt(ctx context.Context, keys inbound.Keys, p *syncPage) ([]*event.Event, error) {
	opts := &inbound.Options{ConversationID: s.cid, Workers: s.e.cfg.workers, Signatures: p.memoOf(), Unwraps: s.unwrapMemo(), Decoded: p.decoded}
	evs := make([]*event.Event, 0, len(p.raws))
	var budget pageBudget
	for ev, err := range inbound.DecryptBatch(ctx, keys, inbound.FromBytes(p.raws), opts) {
		if err != nil {
			dropEvents(evs)
			return nil, fmt.Errorf("session: decrypting events: %w", err)
		}
		evs = append(evs, budget.hold(ev))
	}
	return evs, nil
}

// Re-served events. A sync reads again the events a page serves that this
// account stored before (the page that reaches the stored history, a
// re-sync with nothing new): their verdict is the stored one, and the walk
// only compares their bytes with the stored copy (see pageIn). So a
// message served byte for byte as stored, under the same conversation and
// sequence id, at or below the sync position, is not verified and
// decrypted again: it goes on with its envelope's ids alone (a stub). Only
// messages are: a re-served delete, key change or group change still
// counts for what this sync learns from it. The page's element budget
// cannot tell the difference: reserved applies only to pages whose bytes
// bound their decoded elements below it. Should a stub's stored copy be
// gone by the time the page is stored, the batch is run again with the
// page decrypted in full (errReDecrypt).

// What a sync does not do again, each switched on; benchmarks switch them
// off to measure what they save (BenchmarkResync, BenchmarkSyncPaged):
// the stubs of re-served messages, the memo of the keys unwrapped from the
// key change served with every page, and the verification of the pages'
// signatures ahead of their turn, while fetching and storing (see
// syncverify.go), and the decoding of the pages verified ahead while
// storing, which their turn starts from.
var (
	reuseStoredVerdicts = true
	memoUnwraps         = true
	verifyWhileFetching = true
	keepDecoded         = true
)

// errReDecrypt ends a batch whose first page must be decrypted in full.
var errReDecrypt = errors.New("session: re-served event no longer stored as served")

// reserved finds the messages of p stored byte for byte (see above) and
// records their stubs in p.stubs.
func (s *syncState) reserved(ctx context.Context, p *syncPage) error {
	p.stubs, p.stubbed = nil, nil
	if !reuseStoredVerdicts || s.stored == "" || p.full || len(p.raws) == p.kcCount {
		return nil
	}
	bound := 0
	for _, raw := range p.raws {
		bound += len(raw) + 2 // the pipeline's warnings: at most two an event
	}
	if bound > maxPageElements {
		return nil
	}
	return s.e.store.View(ctx, func(tx keystore.Tx) error {
		for i := p.kcCount; i < len(p.raws); i++ {
			stub, err := s.stubOf(ctx, tx, p.raws[i])
			if err != nil {
				return err
			}
			if stub != nil {
				if p.stubs == nil {
					p.stubs = map[int]*event.Event{}
				}
				p.stubs[i] = stub
			}
		}
		return nil
	})
}

// stubOf returns the stub of raw when it is a message stored byte for byte
// at its sequence id, at or below the sync position, or nil.
func (s *syncState) stubOf(ctx context.Context, tx keystore.Tx, raw []byte) (*event.Event, error) {
	seq, ok := wire.PeekSequenceID(raw)
	if !ok || !decimal.ValidID(seq) || decimal.Less(s.stored, seq) {
		return nil, nil
	}
	prev, err := eventAt(ctx, tx, s.cid, seq)
	if err != nil || prev == nil {
		return nil, err
	}
	prev.Body.Zero()
	if prev.Type == keystore.DamagedType || !bytes.Equal(prev.Raw, raw) {
		return nil, nil
	}
	me, err := wire.DecodeMessageEvent(raw)
	if err != nil || me.GetSequenceID() != seq || me.Detail == nil || me.Detail.MessageCreateEvent == nil {
		return nil, nil
	}
	ev := &event.Event{SequenceID: seq, PreviousSequenceID: me.GetPreviousSequenceID(), MessageID: me.GetMessageID(),
		SenderID: me.GetSenderID(), ConversationID: me.GetConversationID(), Raw: raw, Kind: event.KindMessage}
	if ms, err := strconv.ParseInt(me.GetCreatedAtMsec(), 10, 64); err == nil {
		ev.CreatedAt = time.UnixMilli(ms)
	}
	return ev, nil
}

// decryptKnown is decrypt with the page's stubs in place of their
// messages (see reserved).
func (s *syncState) decryptKnown(ctx context.Context, keys inbound.Keys, p *syncPage) ([]*event.Event, error) {
	if len(p.stubs) == 0 {
		return s.decrypt(ctx, keys, p)
	}
	rest := &syncPage{kcCount: p.kcCount, sigs: p.memoOf(), raws: make([][]byte, 0, len(p.raws)-len(p.stubs))}
	for i, raw := range p.raws {
		if p.stubs[i] == nil {
			rest.raws = append(rest.raws, raw)
		}
	}
	got, err := s.decrypt(ctx, keys, rest)
	if err != nil {
		return nil, err
	}
	evs := make([]*event.Event, 0, len(p.raws))
	p.stubbed = map[*event.Event]bool{}
	for i := range p.raws {
		if stub := p.stubs[i]; stub != nil {
			c := *stub
			p.stubbed[&c] = true
			evs = append(evs, &c)
			continue
		}
		evs, got = append(evs, got[0]), got[1:]
	}
	return evs, nil
}

// unwrapMemo is the sync's memo of unwrapped keys (nil when switched off).
func (s *syncState) unwrapMemo() *crypto.UnwrapMemo {
	if !memoUnwraps {
		return nil
	}
	return s.unwraps
}

// dropEvents wipes the keys of events that are dropped unused.
func dropEvents(evs []*event.Event) {
	for _, ev := range evs {
		if ev != nil && ev.KeyChange != nil && ev.KeyChange.Key != nil {
			ev.KeyChange.Key.Zero()
		}
	}
	clear(evs)
}

// The journal of a batch. A storing transaction may be run again (a
// backend that lost a serialization conflict runs it again, see
// keystore.Store.Update), so what it changes in the sync's own state is
// recorded, and put back before the next run (snapshot, restore).

// syncSnapshot is the sync's state when a batch's transaction starts.
type syncSnapshot struct {
	lo, loPrev, hi, newest string
	gaps, late, anomalies  int
	events, failed         int
	queue, undo            int
	keys                   convSnapshot
}

func (s *syncState) snapshot() syncSnapshot {
	return syncSnapshot{lo: s.lo, loPrev: s.loPrev, hi: s.hi, newest: s.newest, gaps: len(s.gaps), late: len(s.late),
		anomalies: len(s.res.Anomalies), events: s.res.Events, failed: s.res.Failed,
		queue: len(s.queue), undo: len(s.undo), keys: s.keys.snapshot()}
}

// restore puts the sync's state back as it was at snap (its keys too:
// snap must have been taken with the same s.keys).
func (s *syncState) restore(snap syncSnapshot) {
	s.lo, s.loPrev, s.hi, s.newest = snap.lo, snap.loPrev, snap.hi, snap.newest
	s.gaps = s.gaps[:snap.gaps]
	s.late = s.late[:snap.late]
	s.res.Anomalies = s.res.Anomalies[:snap.anomalies]
	s.res.Events, s.res.Failed = snap.events, snap.failed
	clear(s.queue[snap.queue:])
	s.queue = s.queue[:snap.queue]
	for i := len(s.undo) - 1; i >= snap.undo; i-- {
		s.undo[i]()
	}
	clear(s.undo[snap.undo:])
	s.undo = s.undo[:snap.undo]
	s.keys.restore(snap.keys)
}

// setRemoval records that the delete by "by" removes seq, journalled.
func (s *syncState) setRemoval(seq, by string) {
	if s.removals == nil {
		s.removals = map[string]string{}
	}
	s.undo = append(s.undo, undoSet(s.removals, seq))
	s.removals[seq] = by
}

// setServed records a key change served in meta, journalled.
func (s *syncState) setServed(seq, prev string) {
	if s.served == nil {
		s.served = map[string]string{}
	}
	s.undo = append(s.undo, undoSet(s.served, seq))
	s.served[seq] = prev
}

// addPairs records the verified v6+ key changes among evs, journalled.
func (s *syncState) addPairs(evs []*event.Event) {
	for _, ev := range evs {
		if kc := ev.KeyChange; kc != nil && ev.Verified && kc.UsableForEncryption {
			k := pairKey(ev.SenderID, kc.Version)
			s.undo = append(s.undo, undoSet(map[string]bool(s.pass.pairs), k))
			s.pass.pairs[k] = true
		}
	}
}

// undoSet returns what puts m[k] back as it is now.
func undoSet[V any](m map[string]V, k string) func() {
	old, had := m[k]
	return func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	}
}

// notLookedUp returns the users of missing whose keys this sync has not
// fetched yet, and marks them fetched: the server chooses the key versions
// its events name, so a sync's pages naming versions it never published
// cost one lookup of each user in all, not one a page.
func (s *syncState) notLookedUp(missing []string) []string {
	if s.lookedUp == nil {
		s.lookedUp = map[string]bool{}
	}
	out := missing[:0]
	for _, u := range missing {
		if !s.lookedUp[u] {
			s.lookedUp[u] = true
			out = append(out, u)
		}
	}
	return out
}
