package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// Judging a backfilled event at its place. The server may withhold an
// honest event and serve it later at its place, below a change this
// account stored since (a backfill). The roster step judges every event
// against the roster held when it is stored; for a message, edit,
// reaction or delete whose author the roster no longer holds, that would
// fail what a fresh device served the transcript in order keeps, and let
// the server make a genuine message look forged. So such a content event
// is judged again against the group changes stored below its place, read
// down from it (memberAtPlace): it stands when the stored chain left its
// place open (the event above it names it, or one above it, as its
// predecessor), the nearest change below it
// that could decide its author's membership is a verified create or member
// add naming her, every change between leaving her alone (one stored
// failed that could decide it decides against), and, for a
// message, its key's verified key change is stored below it too.
//
// Group changes are judged at their place too (backfillchange.go): a
// removal or revocation whose author is no admin now stands when she was
// one at its place (adminAtPlace) and is then a late change, walked as
// one; a member or admin add stands when the group read again from its
// stored changes, with the add at its place, gives the roster held without
// it (grantAtPlace), and the roster with it becomes the roster held.
//
// Key changes are judged at their place too (backfillkey.go): one whose
// author is no member now stands when she was one at its place and its
// key was not made after a key distributed above it; its key decrypts,
// never encrypts.
//
// What remains judged as stored: a title, avatar or other change that failed as
// stored for its author's place (only removals, revocations and grants
// are read at theirs), a backfilled change whose author's rights are
// decided more than maxPlaceReads changes below, a grant in a group of
// more than maxPlaceReads stored group changes, or with any of them
// stored failed, and the honest events of a member a backfilled grant
// lets in that were stored, failed, above it before it came (they stay
// failed: the walk never clears a failure).

// maxIndexedChanges bounds the sequence ids a conversation's change index
// lists; past it the index is marked incomplete and no backfilled event
// is judged at its place any more (it is judged as stored: the safe side).
const maxIndexedChanges = 4096

// maxPlaceReads bounds the stored group changes read to judge one
// backfilled event; an author whose membership is decided further down
// is judged as stored.
const maxPlaceReads = 64

// changeIndex lists the sequence ids of every group change stored in a
// conversation, whatever its verdict, ascending. Complete is set only when
// the index was started before anything was stored in the conversation
// (a store written before the index existed never judges at the place).
type changeIndex struct {
	Complete bool     `json:"complete"`
	Seqs     []string `json:"seqs,omitempty"`
	// Inserted lists, ascending, the sequence ids of events stored into a
	// place the stored chain had closed (noteInserted): their
	// predecessors, which the server chose after the fact, open no place
	// below them (chainLeftGap).
	Inserted []string `json:"inserted,omitempty"`
}

func changeIndexKey(cid string) string {
	h := sha256.Sum256([]byte(cid))
	return "session/group-changes/" + hex.EncodeToString(h[:])
}

// loadChangeIndex reads cid's change index; found is false when none is
// stored.
func loadChangeIndex(ctx context.Context, v valueReader, cid string) (idx changeIndex, found bool, err error) {
	b, err := v.Value(ctx, changeIndexKey(cid))
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return idx, false, nil
	case err != nil:
		return idx, false, fmt.Errorf("session: reading the group change index: %w", err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		// An index this engine wrote that does not decode: judge as
		// stored from now on (exclude).
		return changeIndex{}, true, nil
	}
	return idx, true, nil
}

func (idx *changeIndex) save(ctx context.Context, tx keystore.Tx, cid string) error {
	b, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("session: encoding the group change index: %w", err)
	}
	return tx.SetValue(ctx, changeIndexKey(cid), b)
}

// startChangeIndex starts group cid's change index before a batch is
// stored, complete when nothing is stored in cid yet.
func startChangeIndex(ctx context.Context, tx keystore.Tx, cid string) error {
	if !IsGroup(cid) {
		return nil
	}
	if _, found, err := loadChangeIndex(ctx, tx, cid); err != nil || found {
		return err
	}
	evs, err := tx.Events(ctx, cid, "", 1)
	if err != nil {
		return err
	}
	for i := range evs {
		evs[i].Body.Zero()
	}
	idx := changeIndex{Complete: len(evs) == 0}
	return idx.save(ctx, tx, cid)
}

// noteGroupChange adds a stored group change to cid's change index.
func noteGroupChange(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	if !IsGroup(cid) || ev.Kind != event.KindGroupChange || !decimal.ValidID(ev.SequenceID) {
		return nil
	}
	idx, found, err := loadChangeIndex(ctx, tx, cid)
	if err != nil || !found || !idx.Complete {
		return err // no index (a caller that did not start one): stays absent, never complete
	}
	i, held := slices.BinarySearchFunc(idx.Seqs, ev.SequenceID, decimal.Compare)
	if held {
		return nil
	}
	if len(idx.Seqs) >= maxIndexedChanges {
		idx = changeIndex{}
	} else {
		idx.Seqs = slices.Insert(idx.Seqs, i, ev.SequenceID)
	}
	return idx.save(ctx, tx, cid)
}

// backfillable reports whether ev, which failed the roster step with
// err, is a content event that may be judged at its place instead.
func backfillable(ev *event.Event, err error) bool {
	if !ev.Verified || !errors.Is(err, xchat.ErrNotMember) || ev.GroupChange != nil || ev.KeyChange != nil {
		return false
	}
	switch ev.Kind {
	case event.KindMessage:
		return ev.Message != nil
	case event.KindDelete:
		return true
	}
	return false
}

// judgeAtPlace clears res's verdict when ev is a backfillable content
// event (backfillable) whose author was a member at its place
// (memberAtPlace), and judges a backfillable removal or revocation
// (backfillableChange) whose author was an admin at its place
// (adminAtPlace) as standing there: what it takes away is taken from the
// roster held (takeAtPlace), and res says so. A backfillable key change
// (backfillableKey) whose author was a member at its place
// (keyChangeAtPlace) stands, its key for decryption only
// (event.DecryptOnlyBackfilled). A backfillable grant
// (backfillableGrant) is judged from before, the roster held before the
// step that failed it (nil when ev grants nothing): when it stands at its
// place (grantAtPlace), r becomes the roster with it. r is the roster the
// failed step left (a removal, revocation or content event failed leaves
// it as it was).
func judgeAtPlace(ctx context.Context, tx keystore.Tx, env rosterEnv, r, before *rosterRec, ev *event.Event, res *stepResult) error {
	switch {
	case backfillable(ev, res.err):
		at, err := memberAtPlace(ctx, tx, env, r, ev)
		if at {
			res.err = nil
		}
		return err
	case backfillableKey(ev, res.err):
		at, err := keyChangeAtPlace(ctx, tx, env.cid, r, ev)
		if at {
			res.err = nil
			ev.KeyChange.UsableForEncryption = false
			ev.KeyChange.DecryptOnly = event.DecryptOnlyBackfilled
		}
		return err
	case backfillableChange(ev, res.err):
		at, err := adminAtPlace(ctx, tx, env.cid, r, ev)
		if at {
			*res = r.takeAtPlace(env, ev)
		}
		return err
	case backfillableGrant(ev, res.err) && before != nil:
		// Judged from the roster before the step: a member add that does
		// not fit excluded what it left out (excludeDoubted).
		held := before.clone()
		held.dropPending(ev)
		at, err := grantAtPlace(ctx, tx, env, &held, ev)
		if at {
			*r, *res = held, stepResult{changed: true}
		}
		return err
	}
	return nil
}

// placeOf returns the sequence ids of the group changes stored below ev's
// place, ascending, when ev may be judged there: the roster is held, ev's
// author is not among its tombstones, the stored chain left its place open
// (chainLeftGap) and the change index is complete. ok is false otherwise.
func placeOf(ctx context.Context, tx keystore.Tx, cid string, r *rosterRec, ev *event.Event) (seqs []string, ok bool, err error) {
	if r.Base == "" || slices.Contains(r.Removed, ev.SenderID) || !decimal.ValidID(ev.SequenceID) {
		return nil, false, nil
	}
	idx, found, err := loadChangeIndex(ctx, tx, cid)
	if err != nil || !found || !idx.Complete {
		return nil, false, err
	}
	if gap, err := chainLeftGap(ctx, tx, cid, &idx, ev.SequenceID); err != nil || !gap {
		return nil, false, err
	}
	below, _ := slices.BinarySearchFunc(idx.Seqs, ev.SequenceID, decimal.Compare)
	return idx.Seqs[:below], true, nil
}

// memberAtPlace reports whether ev's author was a member of the group at
// ev's place, as the group changes stored below it say read in order (r
// is the roster held: its tombstones exclude for good), and, for a
// message, whether its key was distributed by a verified key change
// stored below it. While screening, a key change the screening accepted
// below it counts too (env.screened): the storing gate stores that key
// change first and judges the message again against the store.
func memberAtPlace(ctx context.Context, tx keystore.Tx, env rosterEnv, r *rosterRec, ev *event.Event) (bool, error) {
	cid := env.cid
	seqs, ok, err := placeOf(ctx, tx, cid, r, ev)
	if err != nil || !ok {
		return false, err
	}
	admitted, err := admittedBelow(ctx, tx, cid, seqs, ev.SenderID)
	if err != nil || !admitted {
		return false, err
	}
	if ev.Kind != event.KindMessage {
		return true, nil
	}
	held, err := keyHeldAt(ctx, tx, cid, ev.Message.KeyVersion, ev.SequenceID)
	if err != nil || held || env.screened == nil {
		return held, err
	}
	return env.screened(ev.Message.KeyVersion, ev.SequenceID), nil
}

// chainLeftGap reports whether the stored event just above seq named, as
// its predecessor, seq or a sequence id above it: the server's chain left
// a place for an event it had not served. An event served into a place
// the stored chain closed (its successor names an older predecessor) is
// one the server made up after the fact, or moved; it is judged as stored
// (fresh devices aside: to them the server can serve a chain closed
// around it, the protocol limit of session/doc.go). So is one below an
// event that was itself stored into a closed place (idx.Inserted, see
// noteInserted): the server cannot reopen a closed place by storing there
// first an event of its making naming the place as its predecessor. No
// event above seq: nothing was stored past its place, so it is no
// backfill.
func chainLeftGap(ctx context.Context, tx keystore.Tx, cid string, idx *changeIndex, seq string) (bool, error) {
	next, prev, err := storedAbove(ctx, tx, cid, seq)
	if err != nil || next == "" {
		return false, err
	}
	return idx.opens(seq, next, prev), nil
}

// storedAbove returns the sequence id of the stored event just above seq
// in cid and the predecessor its wire bytes name ("" for either when there
// is none, or it names none well formed).
func storedAbove(ctx context.Context, tx keystore.Tx, cid, seq string) (next, prev string, err error) {
	evs, err := tx.Events(ctx, cid, seq, 1)
	if err != nil || len(evs) == 0 {
		return "", "", err
	}
	evs[0].Body.Zero()
	return evs[0].SequenceID, previousOf(evs[0].Raw), nil
}

// opens reports whether the stored event at next, naming prev as its
// predecessor, leaves the place seq below it open: it names seq or above,
// and was not itself stored into a closed place.
func (idx *changeIndex) opens(seq, next, prev string) bool {
	if !decimal.ValidID(prev) || decimal.Less(prev, seq) {
		return false
	}
	_, inserted := slices.BinarySearchFunc(idx.Inserted, next, decimal.Compare)
	return !inserted
}

// noteInserted records, in group cid's change index, the event about to
// be stored at seq when the stored chain closed its place (chainLeftGap
// false with an event stored above it): an event the server made up or
// moved after the fact. Its predecessor must then open no place below it,
// or the server could serve such an event first, naming as predecessor a
// place the chain closed, and a backdated event there next. A conversation
// without a complete index judges no backfill at its place: nothing to
// record. Past maxIndexedChanges records the index is marked incomplete
// (the safe side).
func noteInserted(ctx context.Context, tx keystore.Tx, cid, seq string) error {
	if !IsGroup(cid) || !decimal.ValidID(seq) {
		return nil
	}
	next, prev, err := storedAbove(ctx, tx, cid, seq)
	if err != nil || next == "" {
		return err // appended at the top (the usual case): no index read
	}
	idx, found, err := loadChangeIndex(ctx, tx, cid)
	if err != nil || !found || !idx.Complete || idx.opens(seq, next, prev) {
		return err
	}
	i, held := slices.BinarySearchFunc(idx.Inserted, seq, decimal.Compare)
	switch {
	case held:
		return nil
	case len(idx.Inserted) >= maxIndexedChanges:
		idx = changeIndex{}
	default:
		idx.Inserted = slices.Insert(idx.Inserted, i, seq)
	}
	return idx.save(ctx, tx, cid)
}

// admittedBelow reads the group changes at seqs (ascending, all below the
// event judged) from the top down until one decides u's membership: a
// verified create (the lowest change) or member add naming u admits her;
// a verified removal naming u, a verified add leaving her out, or a
// change that did not verify and could decide her membership had it
// verified (a create, a member add, or a removal naming u: a fresh device
// may judge it otherwise) decides against. Admin changes and other settings leave membership alone,
// verified or not.
func admittedBelow(ctx context.Context, tx keystore.Tx, cid string, seqs []string, u string) (bool, error) {
	in, err := admittedAtPlace(ctx, tx, cid, seqs, []string{u})
	return in[u], err
}

// admittedAtPlace is admittedBelow for each of users at once, reading the
// group changes at seqs once: it returns those admitted (an absent or
// false entry is not).
func admittedAtPlace(ctx context.Context, tx keystore.Tx, cid string, seqs []string, users []string) (map[string]bool, error) {
	out := make(map[string]bool, len(users))
	open := make(map[string]bool, len(users))
	for _, u := range users {
		open[u] = true
	}
	for i, n := len(seqs)-1, 0; i >= 0 && n < maxPlaceReads && len(open) > 0; i, n = i-1, n+1 {
		g, verified, err := storedGroupChange(ctx, tx, cid, seqs[i])
		if err != nil {
			return nil, err
		}
		if g == nil {
			break
		}
		var named map[string]bool
		switch {
		case g.GroupCreate != nil:
			named = setOf(g.GroupCreate.MemberIds)
		case g.GroupMemberAdd != nil:
			a := g.GroupMemberAdd
			named = setOf(slices.Concat(a.MemberIds, a.CurrentMemberIds, a.CurrentAdminIds))
		case g.GroupMemberRemove != nil:
			named = setOf(g.GroupMemberRemove.MemberIds)
		default:
			continue // leaves membership alone, verified or not
		}
		for u := range open {
			switch {
			case g.GroupCreate != nil && verified:
				out[u] = i == 0 && (named[u] || g.sender == u)
			case g.GroupMemberAdd != nil && verified:
				out[u] = named[u]
			case !named[u] && g.GroupMemberRemove != nil:
				continue // a removal not naming u, verified or not
			}
			// Decided: by a verified create or add, a removal naming u,
			// or a create or add that did not verify.
			delete(open, u)
		}
	}
	return out, nil
}

// setOf returns the set of ids.
func setOf(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// storedChange is a stored group change as its wire bytes carry it.
type storedChange struct {
	*tevent.GroupChange
	sender string
}

// storedGroupChange returns the group change stored at seq and whether it
// is stored verified (nil: none there, or its bytes are no group change).
func storedGroupChange(ctx context.Context, tx keystore.Tx, cid, seq string) (*storedChange, bool, error) {
	old, err := eventAt(ctx, tx, cid, seq)
	if err != nil || old == nil {
		return nil, false, err
	}
	old.Body.Zero()
	me, err := wire.DecodeMessageEvent(old.Raw)
	if err != nil {
		return nil, false, nil
	}
	g := me.GetDetail().GetGroupChangeEvent().GetGroupChange()
	if g == nil {
		return nil, false, nil
	}
	return &storedChange{GroupChange: g, sender: old.SenderID}, old.Verified, nil
}

// keyHeldAt reports whether key version of cid was distributed by a key
// change stored verified below seq: an honest sender seals only under a
// key distributed before, so a key whose distribution lies above the
// event (one its author made after a removal, say) does not stand.
func keyHeldAt(ctx context.Context, tx keystore.Tx, cid, version, seq string) (bool, error) {
	at, ok, err := keyChangeStored(ctx, tx, cid, version)
	if err != nil || !ok {
		return false, err
	}
	return decimal.Less(at, seq), nil
}

// keyChangeStored returns the sequence id of the key change of cid's key
// version stored verified (ok false: none is).
func keyChangeStored(ctx context.Context, tx keystore.Tx, cid, version string) (at string, ok bool, err error) {
	if !decimal.Valid(version) {
		return "", false, nil
	}
	me, err := placedKeyChange(ctx, tx, cid, version)
	if err != nil || me == nil {
		return "", false, err
	}
	at = me.GetSequenceID()
	if !decimal.ValidID(at) {
		return "", false, nil
	}
	old, err := eventAt(ctx, tx, cid, at)
	if err != nil || old == nil {
		return "", false, err
	}
	old.Body.Zero()
	return at, old.Verified && old.Type == event.TypeKeyChange, nil
}
