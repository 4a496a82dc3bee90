package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// SyncResult summarises one Sync.
type SyncResult struct {
	// ConversationID is the canonical id synced.
	ConversationID string
	// Entries are the events stored by this sync, oldest first (empty
	// when Sync was given a function to stream them to), and the messages
	// it re-opened (see Reopened), one entry a sequence id.
	Entries []event.Entry
	// Anomalies are transcript findings: gaps, forks, duplicates,
	// conflicting duplicates, reorders and messages under unknown key
	// versions. Gaps also appear where the server legitimately withholds
	// events (deleted messages, key changes no message uses).
	Anomalies []event.Anomaly
	// KeyChanges are peer key changes detected while refreshing the
	// participants' keys.
	KeyChanges []KeyChanged
	// Events counts the events received; Failed those that did not verify
	// or decrypt.
	Events, Failed int
	// NewestSequenceID is the newest sequence id stored after the sync.
	NewestSequenceID string
	// Roster says how far the group's roster rests on signed group changes
	// after the sync (RosterConfirmed for a one-to-one conversation);
	// RosterSince is the sequence id a roster started after the group's
	// creation starts from (see Conversation). Roster findings (divergent
	// member adds, rejected or replayed creates) are in Anomalies.
	Roster      RosterState
	RosterSince string
	// Reopened counts the messages stored failed, for want of their key,
	// that this sync opened once served their key change (see Engine.Sync):
	// each is handed to fn again (with fn nil, in Entries, in place of a
	// failed entry this sync stored), verified, with Event.Reopened set.
	// It also counts a group create read before its pair and the group
	// changes this sync opened once it stored the pair and bound the
	// create late (see Event.Reopened), handed over alike.
	Reopened int
}

// Sync fetches the conversation's new events from the server, verifies and
// decrypts them and stores them (see History). With fn nil it returns the
// events stored, oldest first, in SyncResult.Entries; otherwise it calls fn
// with each of them instead and Entries stays empty.
//
// Sync fetches the events from the newest back to the newest one already
// stored, page by page (a server paging oldest first is read to the end
// instead). When the new events span several pages, the pages are staged
// (sealed, see WithSpillDir) and processed oldest first, so that the
// transcript's checks (a group's roster, replays, the authorship of edits
// and deletes) read it in order; their signatures are verified while they
// are fetched. Each page streams through the receive pipeline (signature
// verification against pinned keys, ECIES unwrap of key changes,
// decryption) and into the store, pages in batches of one transaction (fn
// sees a batch's events once it has committed; after a group change served
// late, once the walk that re-judges what lies above it has run — at most
// 1,024 events are held for it, see the package documentation, Groups),
// so with fn memory use does not depend on the history's length.
//
// Keys learnt from key changes are stored; only a verified v6+ key change
// signed with its sender's current key, above the conversation's
// high-water mark, can become the encryption key, so a replayed older key
// change never does (see screenKey and keepUnverifiedKey for the keys that
// only decrypt). Group rosters follow verified, authorised group changes
// only (see the package documentation, Groups); SyncResult.Roster says how
// far the roster rests on them. Peers whose signing keys are unknown are
// fetched and the
// page is decrypted again. Transcript anomalies (gaps, forks, duplicates)
// are reported, never hidden; a break in the chain left by events a held,
// verified delete by their author removed (which the server no longer
// serves) or by a key change served only while a message uses its version
// is explained, not an anomaly (see resolveGaps); an event never seen here
// and named only by another user's delete is reported as
// AnomalyUnconfirmedDelete. fn returning an error stops the sync once fn
// has seen the rest of the batch in hand: that batch is stored already,
// and a stored event is never handed to fn again, so none is skipped.
// Sync then returns fn's first error.
//
// One stored event is handed to fn again: a message stored failed for
// want of its key version alone (the server served it and withheld the
// key change that distributes its key), which a later sync or push served
// a verified key change of that version opens (see the package
// documentation, and SyncResult.Reopened). Once the sync's pages are
// stored, such messages are handed to fn, oldest first, after the events
// stored, verified and with Event.Reopened set: the verified entry has
// replaced the failed one in History. They are handed over whatever fn
// returns (and also after an error that stopped the sync early), and
// fn's first error is returned.
//
// Hostile input is contained: an event with a malformed id fails alone
// (xchat.ErrMalformed); an event whose envelope names another
// conversation, or none, fails (inbound.ErrWrongConversation) and is handed
// to fn, and listed in Entries, with the ConversationID of this
// conversation, where it is stored (as History shows it); signed events by non-members of the
// conversation fail with xchat.ErrNotMember; unauthorised group changes, and
// edits and deletes of another author's message, with xchat.ErrNotAuthorized;
// group changes that do not fit the roster held with xchat.ErrRosterDivergence;
// replays of a stored message id under a new sequence id with xchat.ErrReplayed;
// none of them takes effect. Pagination that keeps claiming more events
// without bringing any (see maxIdlePages), or a page beyond the page
// bounds (see maxPageEvents), stops the sync with xchat.ErrServerResponse.
// A group's sync whose fetch ends before its last page (such a stall, a
// failed request) stores none of its pages: they lie above events not
// read, which decide the roster they are judged by; the next sync fetches
// them again with the rest. Only a fetch stopped by WithMaxSyncBytes is
// stored as far as it went.
func (e *Engine) Sync(ctx context.Context, id string, fn func(*event.Event) error) (*SyncResult, error) {
	if fn != nil {
		return e.syncEach(ctx, id, fn)
	}
	var entries []event.Entry
	var at map[string]int // sequence id → index in entries, once a message re-opens
	res, err := e.syncEach(ctx, id, func(ev *event.Event) error {
		if ev.Reopened {
			// Stored failed by this sync and opened by it: the verified
			// entry replaces the failed one.
			if at == nil {
				at = make(map[string]int, len(entries))
				for i := range entries {
					at[entries[i].SequenceID] = i
				}
			}
			if i, ok := at[ev.SequenceID]; ok {
				entries[i] = ev.Entry()
				return nil
			}
			at[ev.SequenceID] = len(entries)
		}
		entries = append(entries, ev.Entry())
		return nil
	})
	if res != nil {
		// A sync hands events over oldest first: sorting is needed only
		// when it did not (decimal.Compare is a total order, so entries
		// in order pairwise are sorted, as the stable sort would leave them).
		less := func(i, j int) bool { return decimal.Less(entries[i].SequenceID, entries[j].SequenceID) }
		if !sort.SliceIsSorted(entries, less) {
			sort.SliceStable(entries, less)
		}
		res.Entries = entries
	}
	return res, err
}

// syncEach is Sync streaming to fn (which may be nil).
func (e *Engine) syncEach(ctx context.Context, id string, fn func(*event.Event) error) (*SyncResult, error) {
	defer e.deliverChanges()
	srv, err := e.srv()
	if err != nil {
		return nil, err
	}
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return nil, err
	}
	ctx, unlock, err := e.lockConv(ctx, cid)
	if err != nil {
		return nil, err
	}
	defer unlock()

	res := &SyncResult{ConversationID: cid, Roster: RosterUnknown}
	rec, err := e.peekConversation(ctx, cid)
	if err != nil {
		return nil, err
	}
	if !IsGroup(cid) && !slices.Contains(rec.Members, e.userID) {
		return nil, fmt.Errorf("%w: %s", xchat.ErrNotMember, cid)
	}
	if len(rec.Members) > 0 {
		changes, err := e.refreshPeers(ctx, rec.Members...)
		res.KeyChanges = append(res.KeyChanges, changes...)
		if err != nil && !errors.Is(err, xchat.ErrNoPeerKeys) && !errors.Is(err, xchat.ErrKeyBinding) {
			return res, err
		}
	}
	keys, err := e.keysFor(ctx)
	if err != nil {
		return nil, err
	}
	st := &syncState{
		e: e, res: res, cid: cid, keys: keys, fn: fn,
		stored: rec.Sync.LastSequenceID, pass: newRosterPass(), unwraps: crypto.NewUnwrapMemo(0),
		lookedUp: map[string]bool{},
	}
	for _, m := range rec.Members {
		st.lookedUp[m] = true // refreshed above
	}
	st.pass.journal = &st.undo
	defer st.unwraps.Close()
	defer st.zeroKeys()
	if err := st.holdIfLate(ctx); err != nil {
		return nil, err
	}
	if err := st.holdIfUnrostered(ctx); err != nil {
		return nil, err
	}
	runErr := st.run(ctx, srv)
	// Re-judge above the late changes the pages stored (committed), also
	// when the sync stopped early, and hand fn what was held for it.
	if err := st.settleLate(ctx); err != nil {
		return res, errors.Join(runErr, err)
	}
	// Open what was stored before the keys the committed pages brought.
	if err := st.reopenAwaiting(ctx); err != nil {
		return res, errors.Join(runErr, err)
	}
	if runErr != nil {
		return res, runErr
	}
	if err := st.joinStored(ctx, e.store); err != nil {
		return res, err
	}
	if err := st.checkLate(ctx, e.store); err != nil {
		return res, err
	}
	if err := st.resolveGaps(ctx, e.store); err != nil {
		return res, err
	}
	if err := st.finish(ctx); err != nil {
		return res, err
	}
	if IsGroup(cid) {
		e.refreshGroupTitle(ctx, cid)
	}
	return res, e.rosterResult(ctx, res)
}

// rejudgeLate re-judges, in one transaction, what is stored above the
// late changes this sync (or one stopped before) stored (see
// Engine.rejudgeLate), reporting what failed; the events held for fn
// that the walk failed are failed as it failed them.
func (s *syncState) rejudgeLate(ctx context.Context) error {
	if pending, err := lateChanges(ctx, s.e.store, s.cid); err != nil || len(pending) == 0 {
		return err // nothing late: no write transaction
	}
	var (
		found  []event.Anomaly
		causes map[string]error
	)
	err := s.e.store.Update(ctx, func(tx keystore.Tx) error {
		var err error
		found, causes, err = s.e.rejudgeLate(ctx, tx, s.cid)
		return err
	})
	if err != nil {
		return err
	}
	s.res.Anomalies = append(s.res.Anomalies, found...)
	for _, ev := range s.queue {
		if cause := causes[ev.SequenceID]; cause != nil && ev.Verified {
			reject(ev, cause)
			s.res.Failed++
		}
	}
	return nil
}

// Holding events for the walk. A change that takes rights away, served
// below events stored already, is re-judged once the sync has stored
// everything (rejudgeLate); until then what the sync stores above it is
// judged with the rights it took still given (a member a failed add let
// in still passes as a member). So once such a change is recorded, the
// events the sync stores are held from fn and handed over after the walk,
// with the verdicts it gave them: fn never acts on an event as verified
// that the walk then fails. At most maxHeldEvents are held: past that the
// walk runs at once and the held events are handed over (a signed re-add
// stored by a later batch of the same sync then no longer restores what
// that walk failed, as when it comes in a later sync).

// maxHeldEvents bounds the events a sync holds from fn while late changes
// wait for their walk.
const maxHeldEvents = 1024

// holdIfLate starts holding events from fn when late changes are recorded
// for the conversation already (a sync stopped before its walk).
func (s *syncState) holdIfLate(ctx context.Context) error {
	if s.fn == nil {
		return nil
	}
	pending, err := lateChanges(ctx, s.e.store, s.cid)
	if err != nil {
		return fmt.Errorf("session: reading late changes: %w", err)
	}
	s.holdLate = len(pending) > 0
	return nil
}

// noticeLate starts holding events from fn when the batch just committed
// stored a change that takes rights away and it was recorded as late.
func (s *syncState) noticeLate(ctx context.Context) error {
	check := s.rightsTaken
	s.rightsTaken = false
	if !check || s.holdLate || s.fn == nil {
		return nil
	}
	return s.holdIfLate(ctx)
}

// Holding events while no roster is held. Read before any roster, a
// group's events are admitted whoever their author; the group's create,
// stored by a later batch of the same sync, may then fail them
// (rejudgeBeforeCreate). So while the group holds no roster, the events
// the sync stores are held from fn, and handed over once a batch has
// established a roster (with the verdicts the create gave them: see
// handOver), at the end of the sync, or at maxHeldEvents (a create stored
// later in that sync could then fail events fn saw verified; a sync's
// staged pages are searched for the create before any is stored, see
// findCreate, so none is left to find).

// holdIfUnrostered starts holding events from fn when the group holds no
// roster. It holds whatever fn is: a sync with no fn (Engine.Reconcile
// passed nil) binds a create read before its pair (bindLate) as one with
// an fn does, and only while it holds.
func (s *syncState) holdIfUnrostered(ctx context.Context) error {
	if !IsGroup(s.cid) {
		return nil
	}
	r, err := loadRoster(ctx, s.e.store, s.cid)
	if err != nil {
		return err
	}
	s.holdUnrostered = r.Base == ""
	if r.Base == baseJoin {
		// A create read unbound, or stored failed, below the add that
		// started the roster may bind (see latejoin.go).
		ahead, err := joinedCreateAhead(ctx, s.e.store, s.cid, r, nil)
		if err == nil && !ahead {
			err = s.e.store.View(ctx, func(tx keystore.Tx) error {
				ahead, err = joinedCreateStored(ctx, tx, s.cid, r.Since)
				return err
			})
		}
		if err != nil {
			return err
		}
		s.holdUnrostered, s.holdJoined = ahead, ahead
	}
	return nil
}

// stillUnrostered reports whether the events queued stay held because the
// group still holds no roster (and fewer than maxHeldEvents are held); when
// not, it stops holding for want of a roster.
func (s *syncState) stillUnrostered(ctx context.Context) (bool, error) {
	if len(s.queue) < maxHeldEvents {
		r, err := loadRoster(ctx, s.e.store, s.cid)
		if err != nil || r.Base == "" || s.holdJoined && r.Base == baseJoin {
			return err == nil, err
		}
	}
	s.holdUnrostered, s.holdJoined = false, false
	return false, nil
}

// zeroKeys zeroes the conversation keys the sync's key caches copied,
// once it is over.
func (s *syncState) zeroKeys() {
	s.keys.zero()
	s.pre.zero()
	for _, k := range s.retired {
		k.zero()
	}
}

// settleLate runs the walk (rejudgeLate) and hands fn the events held for
// it. When the walk fails, they are handed over failed with its error (the
// store keeps them as judged; the next sync or push re-judges them).
func (s *syncState) settleLate(ctx context.Context) error {
	err := s.rejudgeLate(ctx)
	if err != nil {
		cause := fmt.Errorf("session: not judged again after a group change served late: %w", err)
		for _, ev := range s.queue {
			if ev.Verified {
				reject(ev, cause)
				s.res.Failed++
			}
		}
	}
	s.holdLate, s.holdUnrostered, s.holdJoined = false, false, false
	return errors.Join(err, s.handOver())
}

// rosterResult fills in res.Roster and res.RosterSince.
func (e *Engine) rosterResult(ctx context.Context, res *SyncResult) error {
	if !IsGroup(res.ConversationID) {
		res.Roster = RosterConfirmed
		return nil
	}
	r, err := loadRoster(ctx, e.store, res.ConversationID)
	if err != nil {
		return err
	}
	res.Roster, res.RosterSince = r.state(), r.Since
	return nil
}

// Pagination bounds of Sync: a server that keeps claiming more events
// (has_more with ever fresh tokens) while its pages extend the transcript
// by nothing is cut off after maxIdlePages such pages in a row, and any
// sync after maxSyncPages pages.
const (
	maxIdlePages = 2
	maxSyncPages = 10000
)

// syncState carries one Sync across its pages.
type syncState struct {
	e    *Engine
	res  *SyncResult
	cid  string
	keys *storeKeys
	fn   func(*event.Event) error

	stored string // newest sequence id stored before this sync

	// The range of sequence ids walked so far (pages may come newest or
	// oldest first) and the predecessor its oldest event claims.
	lo, loPrev, hi string
	newest         string // newest sequence id received by this sync

	// gaps are the breaks in the previous_sequence_id chain found so far;
	// resolveGaps reports those no held delete explains. removals maps
	// the sequence ids named by this sync's verified deletes that remove
	// an event from this account's view to the deletes' authors.
	gaps []pendingGap
	// late are the sequence ids of events new to this account that lie
	// below the newest one stored before the sync (see checkLate).
	late     []string
	removals map[string]string
	// served maps the sequence ids of key changes served in meta (which
	// the walk takes only inside a page's window) to their predecessors.
	served map[string]string
	// pass carries the roster checks from screening to storing, and the
	// verified v6+ key changes seen by this sync (they bind a group create
	// to the group, see rosterRec.stepCreate).
	pass *rosterPass

	// queue holds the events stored by the batch in progress, for fn
	// once it has committed (see flush); undo journals what the batch's
	// transaction changed in this state (see restore).
	queue []*event.Event
	undo  []func()
	// keyServed are the versions of the verified key changes this sync
	// was served, for reopenAwaiting.
	keyServed map[string]bool
	// holdLate: late changes are recorded for re-judging, and the events
	// stored meanwhile are held in queue until the walk (see holdIfLate);
	// rightsTaken: the batch in progress stored a change that takes rights
	// away, which may have been recorded as late (see noticeLate).
	holdLate, rightsTaken bool
	// holdUnrostered: the group holds no roster, and the events stored
	// meanwhile are held in queue (see holdIfUnrostered); holdJoined: so
	// are they while the roster a join started is held, a create below
	// that join being ahead (see latejoin.go).
	holdUnrostered, holdJoined bool
	// pushed: the events come from a push (Deliver), not from the
	// server's answer to a sync (see store).
	pushed bool
	// unwraps memoises the keys unwrapped from key changes (the same key
	// change is served with every page); pre are the keys of the
	// verification ahead (see syncverify.go).
	unwraps *crypto.UnwrapMemo
	pre     *storeKeys
	// retired are key caches the sync replaced (see decryptAll), zeroed
	// with keys and pre when it ends (zeroKeys).
	retired []*storeKeys
	// lookedUp are the users whose keys this sync fetched (see
	// decryptAll): each is fetched once a sync, however many of its
	// events name key versions the server did not publish.
	lookedUp map[string]bool
}

// pageAscending reports whether the server listed data oldest first.
func pageAscending(data []*event.Event) bool {
	up, down := 0, 0
	for i := 1; i < len(data); i++ {
		a, b := data[i-1].SequenceID, data[i].SequenceID
		switch {
		case decimal.Less(a, b):
			up++
		case decimal.Less(b, a):
			down++
		}
	}
	return up > down
}

// seenBefore reports whether seq lies in the range already walked.
func (s *syncState) seenBefore(seq string) bool {
	return s.lo != "" && !decimal.Less(seq, s.lo) && !decimal.Less(s.hi, seq)
}

// inWindow reports whether a key change at seq belongs to the stretch of
// transcript this page covers: inside the page's range, or between the
// page and the range walked before.
func (s *syncState) inWindow(seq, pageMin, pageMax string, ascending bool) bool {
	if !decimal.ValidID(seq) || pageMin == "" || s.seenBefore(seq) {
		return false
	}
	if decimal.Less(pageMin, seq) && decimal.Less(seq, pageMax) {
		return true
	}
	if s.lo == "" {
		return false
	}
	if ascending {
		return decimal.Less(s.hi, seq) && decimal.Less(seq, pageMin)
	}
	return decimal.Less(pageMax, seq) && decimal.Less(seq, s.lo)
}

// report records a transcript anomaly of the conversation.
func (s *syncState) report(k event.AnomalyKind, seq, related string) {
	s.res.Anomalies = append(s.res.Anomalies, event.Anomaly{Kind: k, ConversationID: s.cid, SequenceID: seq, Related: related})
}

// link checks how the predecessor prev that the event at seq claims
// relates to before, the event actually before it: a break is kept for
// resolveGaps, a predecessor older than before is a fork. An event that
// names no predecessor although before precedes it is a break too: the
// field is unsigned, and taking its absence as "unknown" would let a
// server hide a withheld event by stripping one field.
func (s *syncState) link(seq, prev, before string) {
	switch {
	case prev == "" && before != "":
		s.report(event.AnomalyGap, seq, "")
	case prev == before:
	case !decimal.Less(prev, seq):
		s.report(event.AnomalySelfReference, seq, prev)
	case decimal.Less(before, prev):
		s.gaps = append(s.gaps, pendingGap{seq: seq, prev: prev, before: before})
	default:
		s.report(event.AnomalyFork, seq, prev)
	}
}

// checkLinks checks the previous_sequence_id links of a page (sorted
// oldest first) and its join with the range walked before, then extends
// that range.
func (s *syncState) checkLinks(walk []*event.Event) {
	report := s.report
	link := func(ev *event.Event, before string) { s.link(ev.SequenceID, ev.PreviousSequenceID, before) }
	var uniq []*event.Event
	for i, ev := range walk {
		if i > 0 && ev.SequenceID == walk[i-1].SequenceID {
			if sha256.Sum256(ev.Raw) == sha256.Sum256(walk[i-1].Raw) {
				report(event.AnomalyDuplicate, ev.SequenceID, ev.SequenceID)
			} else {
				report(event.AnomalyConflict, ev.SequenceID, ev.SequenceID)
			}
			continue
		}
		if len(uniq) > 0 {
			link(ev, uniq[len(uniq)-1].SequenceID)
		}
		uniq = append(uniq, ev)
	}
	if len(uniq) == 0 {
		return
	}
	first, last := uniq[0], uniq[len(uniq)-1]
	switch {
	case s.lo == "":
		s.lo, s.loPrev, s.hi = first.SequenceID, first.PreviousSequenceID, last.SequenceID
	case decimal.Less(last.SequenceID, s.lo): // an older page
		s.link(s.lo, s.loPrev, last.SequenceID)
		s.lo, s.loPrev = first.SequenceID, first.PreviousSequenceID
	case decimal.Less(s.hi, first.SequenceID): // a newer page
		link(first, s.hi)
		s.hi = last.SequenceID
	default:
		report(event.AnomalyReorder, first.SequenceID, s.hi)
		if decimal.Less(first.SequenceID, s.lo) {
			s.lo, s.loPrev = first.SequenceID, first.PreviousSequenceID
		}
		if decimal.Less(s.hi, last.SequenceID) {
			s.hi = last.SequenceID
		}
	}
}

// note records an event's failure in the result.
func (s *syncState) note(ev *event.Event) {
	if ev.Err == nil {
		return
	}
	s.res.Failed++
	var uk *inbound.UnknownKeyError
	if errors.As(ev.Err, &uk) {
		s.res.Anomalies = append(s.res.Anomalies, event.Anomaly{Kind: event.AnomalyMissingKey, ConversationID: s.cid, SequenceID: ev.SequenceID, Related: uk.Version})
	}
	var re *replayedError
	if errors.As(ev.Err, &re) {
		s.res.Anomalies = append(s.res.Anomalies, event.Anomaly{Kind: event.AnomalyDuplicate, ConversationID: s.cid, SequenceID: ev.SequenceID, Related: re.original})
	}
}

// store records events in tx and queues the new ones for fn. A sync's
// page is the server's answer for the conversation: it is recorded (see
// peekConversation); a push's is not (storeEventsTx records it once
// something of it is stored).
func (s *syncState) store(ctx context.Context, tx keystore.Tx, evs []*event.Event) error {
	s.pass.notKept = nil
	if !s.pushed {
		if _, err := s.e.conversationRecord(ctx, tx, s.cid); err != nil {
			return err
		}
	}
	fresh, conflicts, err := s.e.storeEventsTx(ctx, tx, s.cid, evs, s.pass)
	if err != nil {
		return err
	}
	s.reportNotKept()
	for i, ev := range evs {
		if fresh[i] {
			s.note(ev)
		}
	}
	for _, seq := range conflicts {
		// The server now serves different bytes under a stored sequence
		// id: the stored event is kept and the equivocation reported.
		s.res.Anomalies = append(s.res.Anomalies, event.Anomaly{Kind: event.AnomalyConflict, ConversationID: s.cid, SequenceID: seq, Related: seq})
	}
	for i, ev := range evs {
		if fresh[i] {
			s.queue = append(s.queue, ev)
			s.rightsTaken = s.rightsTaken || takesRights(ev, s.e.userID)
		}
	}
	return nil
}

// takesRights reports whether ev is a verified group change that takes
// rights from someone other than self (one noteLate may record).
func takesRights(ev *event.Event, self string) bool {
	return ev.GroupChange != nil && ev.Verified && ev.Err == nil && len(takenFrom(ev.GroupChange, self)) > 0
}

// storeEventsTx stores events of cid in tx, applying the side effects of
// verified ones (edit index, group roster, deletes) after gateEvent's
// checks. An event whose sequence id is already stored is not replaced:
// fresh reports which events were new, conflicts the sequence ids stored
// with different bytes. A failed event past the conversation's allowance
// (see chargeFailed) is fresh but not stored; pass.notKept records it.
// Events without a valid sequence id, and typing indicators, are not
// stored but count as fresh.
// A member removal or admin revocation stored below
// events stored already is recorded for re-judging what is above it (see
// noteLate); the caller runs rejudgeLate.
func (e *Engine) storeEventsTx(ctx context.Context, tx keystore.Tx, cid string, evs []*event.Event, pass *rosterPass) (fresh []bool, conflicts []string, err error) {
	unheld, err := conversationUnheld(ctx, tx, cid)
	if err != nil {
		return nil, nil, fmt.Errorf("session: storing events: %w", err)
	}
	fresh = make([]bool, len(evs))
	verified := false          // a verified event was stored
	renew := 0                 // verified events stored not yet renewing the failed-event allowances
	titles := map[int]string{} // index -> group change title as shown
	if err := startChangeIndex(ctx, tx, cid); err != nil {
		return nil, nil, fmt.Errorf("session: storing events: %w", err)
	}
	if ctx, err = startSettleCount(ctx, tx, cid); err != nil {
		return nil, nil, fmt.Errorf("session: storing events: %w", err)
	}
	for i, ev := range evs {
		if !decimal.ValidID(ev.SequenceID) || ev.Kind == event.KindTyping {
			// A typing indicator is ephemeral: pushed live, never part of
			// the history the server serves (a fresh device never reads
			// one), so it is handed over and not stored, whatever its
			// sequence id; it costs nothing of the failed allowance and
			// is never reported as not kept.
			fresh[i] = true
			continue
		}
		held, err := storedCopy(ctx, tx, cid, ev)
		if err != nil {
			return nil, nil, fmt.Errorf("session: storing events: %w", err)
		}
		switch held {
		case heldSame:
			continue
		case heldOther:
			conflicts = append(conflicts, ev.SequenceID)
			continue
		}
		fresh[i] = true
		title, err := e.storeEvent(ctx, tx, cid, ev, pass, unheld, &renew)
		if errors.Is(err, errFailedNotKept) {
			pass.notKept = append(pass.notKept, ev.SequenceID)
			continue
		}
		if errors.Is(err, errCreateNotKept) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("session: storing events: %w", err)
		}
		if unheld {
			// Something of it is stored: the conversation is recorded.
			if _, err := e.conversationRecord(ctx, tx, cid); err != nil {
				return nil, nil, fmt.Errorf("session: storing events: %w", err)
			}
			unheld = false
		}
		if title != nil {
			titles[i] = *title
		}
		if ev.Verified && ev.Err == nil {
			verified = true
		}
		if err := e.noteLate(ctx, tx, cid, ev); err != nil {
			return nil, nil, fmt.Errorf("session: storing events: %w", err)
		}
	}
	if err := e.renewFailed(ctx, tx, cid, &renew); err != nil {
		return nil, nil, fmt.Errorf("session: storing events: %w", err)
	}
	if pass.restoreSettings {
		pass.restoreSettings = false
		if err := e.restoreSettings(ctx, tx, cid); err != nil {
			return nil, nil, fmt.Errorf("session: storing events: %w", err)
		}
	}
	if verified {
		if err := clearListed(ctx, tx, cid); err != nil {
			return nil, nil, fmt.Errorf("session: storing events: %w", err)
		}
	}
	// The roster is applied; callers see the group changes as stored, with
	// the title opened (the wire form stays in Raw).
	for i, t := range titles {
		g := *evs[i].GroupChange
		g.Title = t
		evs[i].GroupChange = &g
	}
	return fresh, conflicts, nil
}

// held says what the store holds under an event's sequence id.
type held int

const (
	heldNone  held = iota // nothing, or a damaged record the server's copy replaces
	heldSame              // the same bytes
	heldOther             // other bytes: the server equivocates
)

// storedCopy compares ev with the event stored under its sequence id.
func storedCopy(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) (held, error) {
	if st, ok, err := storedAt(ctx, tx, cid, ev); err != nil {
		return heldNone, err
	} else if ok {
		switch {
		case !st.stored || st.damaged:
			return heldNone, nil
		case !bytes.Equal(st.raw, ev.Raw):
			return heldOther, nil
		}
		return heldSame, nil
	}
	prev, err := eventAt(ctx, tx, cid, ev.SequenceID)
	if err != nil {
		return heldNone, err
	}
	if prev == nil || prev.Type == keystore.DamagedType {
		return heldNone, nil
	}
	prev.Body.Zero()
	if !bytes.Equal(prev.Raw, ev.Raw) {
		return heldOther, nil
	}
	return heldSame, nil
}

// storeEvent gates a new event (gateEvent, gateAuthorship), stores it and
// applies its effects. title is the group change's title as shown, when
// it names one. renew counts the verified events stored whose renewal of
// the failed-event allowances is still owed (see chargeFailed).
func (e *Engine) storeEvent(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event, pass *rosterPass, unheld bool, renew *int) (title *string, err error) {
	if err := e.gateEvent(ctx, tx, cid, ev, pass); err != nil {
		return nil, err
	}
	if err := e.gateAuthorship(ctx, tx, cid, ev); err != nil {
		return nil, err
	}
	en := ev.Entry()
	if en.Group != nil && en.Group.Title != "" {
		en.Group.Title = e.entryTitle(ctx, tx, cid, en.Group.KeyVersion, en.Group.Title)
		title = &en.Group.Title
	}
	unboundStored := false
	if errors.Is(ev.Err, errCreateUnbound) {
		// A create read before its paired key change (a sync that ended
		// between the two, or a pair withheld): not stored, a later sync
		// reads it again, with its pair, as Receive leaves it.
		// Remembered: its pair stored later binds it (bindLateCreate).
		full, err := noteUnboundCreate(ctx, tx, cid, ev)
		if err != nil {
			return nil, err
		}
		if !full {
			ev.Warnings = append(ev.Warnings, fmt.Errorf("%w: group create not stored: its key change has not been seen yet; sync again", xchat.ErrRosterUnknown))
			return nil, errCreateNotKept
		}
		// Past the creates remembered: stored failed at its place (as
		// any failed event, within the allowance of kept failed
		// events), to be bound late from there (storedUnbound). Bound,
		// it is indexed as a group change then (storeBound); unbound, it
		// changes nothing.
		unboundStored = true
	}
	// Indexed even when not kept: a failed group change is never passed
	// over when a backfill is judged at its place (admittedBelow).
	if !unboundStored {
		if err := noteGroupChange(ctx, tx, cid, ev); err != nil {
			return nil, err
		}
	}
	if (ev.Err != nil || !ev.Verified) && unheld {
		return nil, errFailedNotKept // of a conversation not recorded: nothing of it is kept
	}
	if err := e.chargeFailed(ctx, tx, cid, ev, renew); err != nil {
		return nil, err
	}
	if !validMessageID(en.MessageID) {
		en.MessageID = "" // malformed (see screenEnvelope): kept out of the store's index
	}
	if err := noteInserted(ctx, tx, cid, ev.SequenceID); err != nil {
		return nil, err
	}
	if err := tx.PutEvents(ctx, cid, []keystore.StoredEvent{storeEntry(&en, ev.Raw, "")}); err != nil {
		return nil, err
	}
	if unboundStored {
		if err := noteUnboundStored(ctx, tx, cid, ev.SequenceID); err != nil {
			return nil, err
		}
	}
	if err := awaitKey(ctx, tx, cid, ev); err != nil {
		return nil, err
	}
	if err := e.settle(ctx, tx, cid, ev); err != nil {
		return nil, err
	}
	if !ev.Verified {
		return title, nil
	}
	if err := e.applyEffects(ctx, tx, cid, ev); err != nil {
		return nil, err
	}
	// A change backfilled below a later one: the group's details are what
	// the changes set last in transcript order, not what this one set.
	// They are read again once the storing step has stored its events
	// (storeEventsTx), not once for each such change.
	if g := ev.GroupChange; g != nil && setsDetails(g.Kind) && !pass.restoreSettings {
		below, err := settingsBackfilled(ctx, tx, cid, ev.SequenceID)
		if err != nil {
			return nil, err
		}
		pass.restoreSettings = below
	}
	return title, nil
}

// applyEffects applies what a verified, stored event changes beyond its
// own record: the edit index, the group roster, deletes.
func (e *Engine) applyEffects(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	if m := ev.Message; m != nil && m.Kind == event.ContentEdit && m.Edit != nil && decimal.Valid(m.Edit.TargetSequenceID) {
		return indexEdit(ctx, tx, cid, m.Edit.TargetSequenceID, ev)
	}
	if ev.GroupChange != nil {
		if err := e.applyGroupChange(ctx, tx, cid, ev); err != nil {
			return err
		}
	}
	if ev.Delete != nil {
		if err := e.applyDelete(ctx, tx, cid, ev); err != nil {
			return err
		}
		return e.notePendingDeletes(ctx, tx, cid, ev)
	}
	return nil
}

// indexEdit records edit as the newest edit of target, unless a later
// one (by sequence id) is indexed already. While target is not stored
// verified, edit is recorded pending (addPendingEdit), and so is the edit
// it replaces in the index.
func indexEdit(ctx context.Context, tx keystore.Tx, cid, target string, edit *event.Event) error {
	key := editIndexKey(cid, target)
	old, err := tx.Value(ctx, key)
	later := false  // a later edit is indexed
	displaced := "" // the edit indexed before edit, which replaces it
	switch {
	case err == nil:
		if pe, err := wire.DecodeMessageEvent(old); err == nil {
			if decimal.Less(edit.SequenceID, pe.GetSequenceID()) {
				later = true
			} else if pe.GetSequenceID() != edit.SequenceID {
				displaced = pe.GetSequenceID()
			}
		}
	case errors.Is(err, keystore.ErrNotFound):
		// No edit of target indexed yet.
	default:
		// As in settleEdit: an entry that cannot be read is not taken
		// for a missing one.
		return fmt.Errorf("session: reading the edit index: %w", err)
	}
	if !later {
		if err := tx.SetValue(ctx, key, edit.Raw); err != nil {
			return err
		}
	}
	// Stored before its target is stored verified, the edit, indexed or
	// not, is judged when the target is (settleEdit): counted as pending
	// until then.
	t, err := eventAt(ctx, tx, cid, target)
	if err != nil {
		return err
	}
	if t != nil {
		t.Body.Zero()
		if t.Verified {
			return nil
		}
	}
	if decimal.ValidID(displaced) {
		// The edit the index held is pending too: one indexed while
		// target stood verified (before it failed) is no pending edit
		// else, and settleEdit takes the author's newest standing edit
		// from the pending ones alone.
		if err := addPendingEdit(ctx, tx, cid, target, displaced); err != nil {
			return err
		}
	}
	return addPendingEdit(ctx, tx, cid, target, edit.SequenceID)
}

// entryTitle is the title a group change shows in the history: opened with
// the conversation's keys (see openTitle), as is when it cannot be a sealed
// box (a client that signs its titles in plaintext), and "" when it is
// sealed under a key this account does not hold: never the ciphertext.
func (e *Engine) entryTitle(ctx context.Context, tx keystore.Tx, cid, version, title string) string {
	if pt, ok := e.openTitle(ctx, tx, cid, version, title); ok {
		return pt
	}
	if looksSealed(title) {
		return ""
	}
	return title
}

// gateEvent runs the checks that need the store as it stands at ev's
// place in the transcript, rejecting ev (see reject) when it fails one:
// a replayed message id, an author who is not a group member, a group
// change that does not fit the roster or that its author may not make (the
// roster step, which also applies it), a delete-for-all of someone else's
// message.
func (e *Engine) gateEvent(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event, pass *rosterPass) error {
	if err := gateReplay(ctx, tx, cid, ev); err != nil {
		return err
	}
	if IsGroup(cid) && ev.SenderID != "" && ev.Kind.Signed() {
		if err := e.gateRoster(ctx, tx, cid, ev, pass); err != nil {
			return err
		}
	}
	if !ev.Verified {
		return nil
	}
	return gateDelete(ctx, tx, cid, ev)
}

// eventAt returns the stored event with sequence id seq, or nil.
func eventAt(ctx context.Context, tx keystore.Tx, cid, seq string) (*keystore.StoredEvent, error) {
	if !decimal.Valid(seq) {
		return nil, nil // never a stored sequence id
	}
	ev, err := keystore.EventAt(ctx, tx, cid, seq)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, nil
	}
	return ev, err
}

// applyDelete erases the content of messages removed by a verified
// delete: for everyone when the delete's author wrote them (a verified
// stored message: an unverified one's sender is the server's word; never a
// group change, key change or delete: see deletableType), or for
// this account when it deleted them for itself. The entry stays (Removed) so
// the transcript keeps its shape.
func (e *Engine) applyDelete(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	d := ev.Delete
	forAll := d.Action == event.DeleteForAll
	if !forAll && ev.SenderID != e.userID {
		return nil
	}
	for _, seq := range d.SequenceIDs {
		old, err := eventAt(ctx, tx, cid, seq)
		if err != nil {
			return err
		}
		if old == nil || (forAll && (old.SenderID != ev.SenderID || !old.Verified || !deletableType(old.Type))) {
			if old != nil {
				old.Body.Zero()
			}
			continue
		}
		en := entryFromStored(cid, old)
		old.Body.Zero()
		if en.Removed {
			continue
		}
		gone := event.Entry{ConversationID: cid, SequenceID: en.SequenceID, MessageID: en.MessageID, SenderID: en.SenderID,
			Type: en.Type, CreatedAt: en.CreatedAt, Verified: en.Verified, Error: en.Error, KeyVersion: en.KeyVersion, Removed: true}
		if err := tx.PutEvents(ctx, cid, []keystore.StoredEvent{storeEntry(&gone, nil, previousOf(old.Raw))}); err != nil {
			return err
		}
		if err := tx.SetValue(ctx, editIndexKey(cid, seq), nil); err != nil {
			return err
		}
	}
	return nil
}

// applyGroupChange records what a verified group change, accepted by the
// roster step (gateRoster), says of the group besides its roster: type,
// title, avatar and screen-capture flag.
func (e *Engine) applyGroupChange(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	c, err := e.conversationRecord(ctx, tx, cid)
	if err != nil {
		return err
	}
	m := loadMeta(c)
	g := ev.GroupChange
	switch g.Kind {
	case event.GroupCreated:
		c.Type = kindGroup
		if g.Title != "" && signsField(g, "Title") {
			m.TitleCipher = g.Title
			m.Title = e.decryptTitle(ctx, tx, cid, g.KeyVersion, g.Title)
		}
		if signsField(g, "AvatarURL") {
			m.AvatarURL = g.AvatarURL
		}
		// Not its TTL: a create does not sign it, and this account's
		// member adds sign the group's TTL as held (memberAdd). Only the
		// TTL this account chose when it created the group is held.
	case event.GroupMembersAdded:
		if g.Title != "" && g.Title != m.TitleCipher && signsField(g, "Title") {
			m.TitleCipher = g.Title
			if pt, ok := e.openTitle(ctx, tx, cid, "", g.Title); ok {
				m.Title = pt
			} else if !looksSealed(g.Title) {
				m.Title = g.Title // a client that signs its titles in plaintext
			}
		}
		if g.ScreenCaptureBlocking != nil && signsField(g, "ScreenCaptureBlocking") {
			b := *g.ScreenCaptureBlocking
			m.ScreenCaptureBlocking = &b
		}
	case event.GroupTitleChanged:
		m.TitleCipher = g.Title
		m.Title = e.decryptTitle(ctx, tx, cid, g.KeyVersion, g.Title)
	case event.GroupAvatarChanged:
		m.AvatarURL = g.AvatarURL
	default:
		return nil
	}
	c.Meta = m.encode()
	c.UpdatedAt = e.now()
	return tx.PutConversation(ctx, c)
}

// decryptTitle opens an encrypted group title with the key of version, or
// any key held for cid (newest first) when that fails. A title that does
// not open is returned as is (it may be plaintext from another client).
func (e *Engine) decryptTitle(ctx context.Context, tx keystore.Tx, cid, version, title string) string {
	if pt, ok := e.openTitle(ctx, tx, cid, version, title); ok {
		return pt
	}
	return title
}

// openTitle decrypts an encrypted title; the secretbox authenticates it as
// written by a holder of the conversation key.
func (e *Engine) openTitle(ctx context.Context, tx keystore.Tx, cid, version, title string) (string, bool) {
	ct, err := wire.DecodeB64(title)
	if err != nil || len(ct) < crypto.SecretboxOverhead {
		return "", false
	}
	// The signed version first, read alone: an honest title opens under
	// it, and every key need not be read and unsealed for it.
	if decimal.Valid(version) {
		if k, err := tx.ConversationKey(ctx, cid, version); err == nil {
			key := crypto.ConversationKey(k.Key)
			k.Key.Zero()
			pt, err := crypto.Open(&key, ct)
			key.Zero()
			if err == nil {
				return string(pt), true
			}
		}
	}
	keys, err := tx.ConversationKeys(ctx, cid)
	if err != nil {
		return "", false
	}
	defer func() {
		for i := range keys {
			keys[i].Key.Zero()
		}
	}()
	sort.SliceStable(keys, func(i, j int) bool { return decimal.Less(keys[j].Version, keys[i].Version) })
	for i := range keys {
		if keys[i].Version == version {
			continue // tried above
		}
		key := crypto.ConversationKey(keys[i].Key)
		pt, err := crypto.Open(&key, ct)
		key.Zero()
		if err == nil {
			return string(pt), true
		}
	}
	return "", false
}

// titleUnopened reports whether the group title is still unknown: absent, or
// held only as the ciphertext decryptTitle could not open (a member who joined
// after the key that sealed it was current never receives that key). A title
// that cannot be a sealed box (a client that signed its title in plaintext,
// as the SDK allows) counts as known.
func titleUnopened(m convMeta) bool {
	return m.Title == "" || (m.Title == m.TitleCipher && looksSealed(m.TitleCipher))
}

// looksSealed reports whether s could be a base64 secretbox (nonce ‖ tag ‖
// ciphertext), the form the SDK's encrypt(text, key) produces.
func looksSealed(s string) bool {
	b, err := wire.DecodeB64(s)
	return err == nil && len(b) >= crypto.SecretboxOverhead
}

// refreshGroupTitle fills in an unknown group title from the server's
// conversation record. Nobody signs that record's title: the secretbox is
// its only authentication, so it opens only under titleKey. Best effort.
func (e *Engine) refreshGroupTitle(ctx context.Context, cid string) {
	c, err := e.store.Conversation(ctx, cid)
	if err != nil || c.Type != kindGroup || !titleUnopened(loadMeta(c)) || e.server == nil {
		return
	}
	resp, err := e.server.GetConversation(ctx, api.ConversationPathID(cid))
	if err != nil || resp == nil || resp.Data == nil || resp.Data.GroupName == "" || len(resp.Data.GroupName) > maxGroupSettingBytes {
		return
	}
	pt, ok := e.openServerTitle(ctx, cid, loadMeta(c), resp.Data.GroupName)
	if !ok {
		return
	}
	_ = e.store.Update(ctx, func(tx keystore.Tx) error {
		c, err := tx.Conversation(ctx, cid)
		if err != nil {
			return err
		}
		m := loadMeta(c)
		if !titleUnopened(m) {
			return nil
		}
		m.Title, m.TitleCipher = pt, resp.Data.GroupName
		c.Meta = m.encode()
		return tx.PutConversation(ctx, c)
	})
}

// openServerTitle opens title, the unsigned group name of the server's
// record of cid (meta its stored record), under titleKey only.
func (e *Engine) openServerTitle(ctx context.Context, cid string, meta convMeta, title string) (string, bool) {
	ct, err := wire.DecodeB64(title)
	if err != nil || len(ct) < crypto.SecretboxOverhead {
		return "", false
	}
	key, err := e.titleKey(ctx, cid, meta)
	if err != nil {
		return "", false
	}
	defer key.Zero()
	pt, err := crypto.Open(key, ct)
	if err != nil {
		return "", false
	}
	return string(pt), true
}

// titleKey returns the one key that may authenticate an unsigned group
// title: the key new content of cid goes under (made by this account or a
// member the signed roster vouches for), unless the server says it was
// wrapped to someone off the roster. Any other key held may be held by
// someone who is no member now: an outsider it was exposed to, a removed
// member, or an unvouched maker; an older key's recipients are not even
// recorded.
func (e *Engine) titleKey(ctx context.Context, cid string, meta convMeta) (*crypto.ConversationKey, error) {
	r, err := loadRoster(ctx, e.store, cid)
	if err != nil {
		return nil, err
	}
	key, version, err := e.encryptionKeyWith(ctx, cid, &r)
	if err != nil {
		return nil, err
	}
	if exposedKey(cid, meta.KeyRecipients, r.effective()) {
		key.Zero()
		return nil, fmt.Errorf("session: key version %s of %s was wrapped to a non-member", version, cid)
	}
	return key, nil
}

// finish records the sync position, and the conversation (the server
// answered for it: see peekConversation) when it is not recorded yet.
func (s *syncState) finish(ctx context.Context) error {
	if s.newest == "" || (s.stored != "" && !decimal.Less(s.stored, s.newest)) {
		s.res.NewestSequenceID = s.stored
		return s.e.recordConversation(ctx, s.cid)
	}
	return s.e.store.Update(ctx, func(tx keystore.Tx) error {
		c, err := s.e.conversationRecord(ctx, tx, s.cid)
		if err != nil {
			return err
		}
		if c.Sync.LastSequenceID == "" || decimal.Less(c.Sync.LastSequenceID, s.newest) {
			c.Sync.LastSequenceID = s.newest
			c.Sync.ChainHead = s.newest
		}
		s.res.NewestSequenceID = c.Sync.LastSequenceID
		c.UpdatedAt = s.e.now()
		return tx.PutConversation(ctx, c)
	})
}

// SyncAll refreshes the conversation list and syncs every conversation,
// returning one result per conversation and the errors joined. A listing
// past WithMaxListedConversations (ErrListingNotKept) does not stop it:
// the conversations stored are synced, and that error is joined too.
func (e *Engine) SyncAll(ctx context.Context) ([]*SyncResult, error) {
	convs, err := e.RefreshConversations(ctx)
	var errs []error
	if errors.Is(err, ErrListingNotKept) {
		errs = append(errs, err) // the stored conversations are still synced
	} else if err != nil {
		return nil, err
	}
	var out []*SyncResult
	for _, c := range convs {
		r, err := e.Sync(ctx, c.ID, nil)
		if r != nil {
			out = append(out, r)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.ID, err))
		}
	}
	return out, errors.Join(errs...)
}
