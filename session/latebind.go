package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// A create bound late. A group create read before its paired key change
// (errCreateUnbound) is not stored (storeEvent), and while no roster is
// held every group change that could change the group fails
// (xchat.ErrRosterUnknown), as does a member add that cannot start the
// roster. The server may serve the pair only later, and never the create
// again: no roster would ever be established on this device, and the
// honest group changes read meanwhile would fail for good, where a fresh
// device served the same events in order binds the create and keeps them.
//
// So the verified creates read unbound are remembered (noteUnboundCreate:
// their wire bytes, the first maxUnboundCreates read; those read past
// them are stored failed at their place, within the allowance of kept
// failed events, so that creates the server serves first cannot crowd
// the group's out: storedUnbound), and once a sync has stored a batch
// while the group holds no roster, Engine.bindLateCreate looks for one
// its pair now binds (a verified v6+ key change by its author at its key
// version stored in the group, or served verified in the sync, as the
// roster step binds a create), whether or not a group change failed
// meanwhile: bound at the
// end of the batch, the create holds the roster before the next batch is
// read, as a fresh device holds it there. It then reads the group again
// from no roster, as a fresh device does, in transcript order: the create
// at its place (stored there, in place of an event stored failed there
// since), each group change stored failed as read before a roster (xchat.ErrRosterUnknown or
// xchat.ErrRosterDivergence, for nothing else) stepped again as verified
// by the receive pipeline, and opened when the roster step accepts it
// then; every content event and key change stored verified is judged by
// the roster at its place (below the create: only the create's members
// and creator; above it: the members of the roster there), and fails when
// its author is no member there, as rejudgeBeforeCreate fails it. What a
// fresh device fails stays failed; no group change stored verified is
// failed (the re-reading is given up, changing nothing, should the roster
// step refuse one), but for a replay of a change it opened below it. So
// it does from the create stored when the sync's batch that stored it
// started the roster and group changes stored before failed so. The group
// changes read are those the change index lists (bounded:
// maxIndexedChanges). A message stored failed only for its author's
// membership there (rosterOnlyFailure) whose author the roster read again
// admits at its place is judged again once that commits (reopenRostered),
// as a message awaiting its key is; so is a key change stored failed so
// (Engine.reopenKeyChange: its key for decryption only), and the messages
// awaiting its key with it. What opens is handed to the sync's fn
// again, marked Event.Reopened.

// errGiveUp ends the transaction of a reading again given up, so that
// nothing it wrote before it gave up is committed.
var errGiveUp = errors.New("session: reading the group again from its create given up")

// maxUnboundCreates bounds the creates remembered for a group (those
// read past them are stored failed: see noteUnboundCreate).
const maxUnboundCreates = 4

// unboundCreate is a verified group create read before its pair, as served.
type unboundCreate struct {
	Seq string `json:"seq"`
	// Sender and Version are its author and key version, as verified
	// when it was read: its pair is looked for before it is read again.
	Sender  string `json:"sender"`
	Version string `json:"version"`
	Raw     []byte `json:"raw"`
}

func unboundCreatesKey(cid string) string {
	h := sha256.Sum256([]byte(cid))
	return "session/unbound-creates/" + hex.EncodeToString(h[:])
}

// loadUnboundCreates reads the creates remembered for cid (none when the
// record does not decode: nothing is bound late).
func loadUnboundCreates(ctx context.Context, v valueReader, cid string) ([]unboundCreate, error) {
	return loadRecord[[]unboundCreate](ctx, v, unboundCreatesKey(cid), "the creates read unbound")
}

// noteUnboundCreate remembers ev, a verified create of cid that failed
// only for want of its pair (errCreateUnbound), while fewer than
// maxUnboundCreates are remembered. full reports a create it could not
// remember for want of room (the caller stores it failed at its place:
// the server cannot crowd the group's create out of the list with
// creates it serves first, see storedUnbound).
func noteUnboundCreate(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) (full bool, err error) {
	g := ev.GroupChange
	if !IsGroup(cid) || !errors.Is(ev.Err, errCreateUnbound) || !decimal.ValidID(ev.SequenceID) || len(ev.Raw) == 0 ||
		g == nil || g.Kind != event.GroupCreated || !decimal.Valid(g.KeyVersion) || ev.SenderID == "" {
		return false, nil
	}
	l, err := loadUnboundCreates(ctx, tx, cid)
	if err != nil {
		return false, err
	}
	i, held := slices.BinarySearchFunc(l, ev.SequenceID, func(u unboundCreate, seq string) int { return decimal.Compare(u.Seq, seq) })
	switch {
	case held:
		return false, nil
	case len(l) >= maxUnboundCreates:
		return true, nil
	}
	l = slices.Insert(l, i, unboundCreate{Seq: ev.SequenceID, Sender: ev.SenderID, Version: g.KeyVersion, Raw: slices.Clone(ev.Raw)})
	b, err := json.Marshal(l)
	if err != nil {
		return false, fmt.Errorf("session: encoding the creates read unbound: %w", err)
	}
	return false, tx.SetValue(ctx, unboundCreatesKey(cid), b)
}

func unboundStoredKey(cid string) string {
	h := sha256.Sum256([]byte(cid))
	return "session/unbound-stored/" + hex.EncodeToString(h[:])
}

// noteUnboundStored records that a create read unbound of cid was stored
// failed at seq, the list being full (storedUnbound reads them; at most
// maxIndexedChanges, the lowest sequence ids kept: past them, one stays
// failed).
func noteUnboundStored(ctx context.Context, tx keystore.Tx, cid, seq string) error {
	seqs, err := loadUnboundStored(ctx, tx, cid)
	if err != nil {
		return err
	}
	i, held := slices.BinarySearchFunc(seqs, seq, decimal.Compare)
	if held || i >= maxIndexedChanges {
		return nil
	}
	seqs = slices.Insert(seqs, i, seq)
	if len(seqs) > maxIndexedChanges {
		seqs = seqs[:maxIndexedChanges]
	}
	b, err := json.Marshal(seqs)
	if err != nil {
		return fmt.Errorf("session: encoding the creates stored unbound: %w", err)
	}
	return tx.SetValue(ctx, unboundStoredKey(cid), b)
}

// loadUnboundStored reads the sequence ids noteUnboundStored recorded
// (none when the record does not decode).
func loadUnboundStored(ctx context.Context, v valueReader, cid string) ([]string, error) {
	return loadRecord[[]string](ctx, v, unboundStoredKey(cid), "the creates stored unbound")
}

// storedUnbound lists the creates read unbound that cid's store holds
// failed at their place (past the list: noteUnboundCreate), as
// noteUnboundStored recorded them. They are kept out of the change index:
// unbound, a create changes nothing at its place.
func storedUnbound(ctx context.Context, tx keystore.Tx, cid string) ([]unboundCreate, error) {
	seqs, err := loadUnboundStored(ctx, tx, cid)
	if err != nil {
		return nil, err
	}
	var out []unboundCreate
	for _, seq := range seqs {
		s, err := eventAt(ctx, tx, cid, seq)
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue
		}
		s.Body.Zero()
		if u, ok := unboundStoredAt(s); ok {
			out = append(out, u)
		}
	}
	return out, nil
}

// unboundStoredAt returns the create read unbound that s, a stored event,
// holds failed (see storedUnbound); ok is false when s is none.
func unboundStoredAt(s *keystore.StoredEvent) (u unboundCreate, ok bool) {
	if s.Verified || s.Type != event.TypeGroupChange || !strings.Contains(s.Error, errCreateUnbound.Error()) {
		return u, false
	}
	me, err := wire.DecodeMessageEvent(s.Raw)
	if err != nil || me.GetSequenceID() != s.SequenceID || me.GetSenderID() != s.SenderID {
		return u, false
	}
	gc := me.GetDetail().GetGroupChangeEvent().GetGroupChange().GetGroupCreate()
	if gc == nil || !decimal.Valid(gc.GetConversationKeyVersion()) || s.SenderID == "" {
		return u, false
	}
	return unboundCreate{Seq: s.SequenceID, Sender: s.SenderID, Version: gc.GetConversationKeyVersion(), Raw: slices.Clone(s.Raw)}, true
}

// unboundCreateReplay returns a *replayedError when ev is a verified
// group create of cid whose message id a create read unbound holds at a
// lower sequence id (remembered by noteUnboundCreate): the server serves
// the create again, with its pair, above the place it was read first. A
// fresh device served the events in order binds the create there and
// fails this copy as a replay; so must this device, or the copy would
// start the roster above the group changes read meanwhile, and they
// would fail for good. Refused, the copy starts nothing, and the create
// read first is bound late at its place once its pair is stored
// (Engine.bindLateCreate). The copy is a replay only of a create that can
// still bind there: one whose place holds an event stored verified (or
// accepted verified by the screening in progress, screened) never binds
// (rereadFromCreate), and a fresh device served what this one stores
// reads the copy as the group's create.
func unboundCreateReplay(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event, screened passIDs) (error, error) {
	g := ev.GroupChange
	if g == nil || g.Kind != event.GroupCreated || !ev.Verified || !IsGroup(cid) || !validMessageID(ev.MessageID) || !decimal.ValidID(ev.SequenceID) {
		return nil, nil
	}
	l, err := loadUnboundCreates(ctx, tx, cid)
	if err != nil {
		return nil, err
	}
	for _, u := range l {
		if !decimal.Less(u.Seq, ev.SequenceID) || u.Sender != ev.SenderID {
			continue
		}
		me, err := wire.DecodeMessageEvent(u.Raw)
		if err != nil || me.GetMessageID() != ev.MessageID {
			continue
		}
		held, err := placeHeld(ctx, tx, cid, u.Seq)
		if err != nil || held || screened.holds(u.Seq) {
			// It can no longer bind at its place: the copy is the
			// first of it a fresh device reads (see placeHeld).
			return nil, err
		}
		return &replayedError{original: u.Seq}, nil
	}
	// One stored failed at its place (past the list: storedUnbound) can
	// still bind there: its place holds itself.
	s, err := tx.EventByMessageID(ctx, cid, ev.MessageID)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	s.Body.Zero()
	if u, ok := unboundStoredAt(s); ok && u.Sender == ev.SenderID && decimal.Less(u.Seq, ev.SequenceID) {
		return &replayedError{original: u.Seq}, nil
	}
	return nil, nil
}

// placeHeld reports whether the place seq of a create read unbound holds
// an event stored verified: the create can no longer bind there
// (rereadFromCreate gives way to no verified event).
func placeHeld(ctx context.Context, tx keystore.Tx, cid, seq string) (bool, error) {
	old, err := eventAt(ctx, tx, cid, seq)
	if err != nil || old == nil {
		return false, err
	}
	old.Body.Zero()
	return old.Verified, nil
}

// rereadRosterCause reports whether a stored group change failed only as
// read before any roster (or as not fitting none): a fresh device may
// read it against a roster and keep it.
func rereadRosterCause(msg string) bool {
	if strings.Contains(msg, "; ") {
		return false
	}
	return strings.HasPrefix(msg, xchat.ErrRosterUnknown.Error()+":") || strings.HasPrefix(msg, xchat.ErrRosterDivergence.Error()+":")
}

// lateBound is what bindLateCreate did: the events it opened (the create
// among them), and the events it failed with the cause.
type lateBound struct {
	create string
	opened []*event.Event
	failed map[string]error
	// rostered are the content events and key changes stored failed
	// only for their author's membership whom the roster read again admits at their
	// place (reopenRostered judges them).
	rostered []awaited
	// awaiting are the key versions of the messages stored failed for
	// want of their key and their author's membership whom the roster
	// read again admits at their place: they now await their key alone
	// (keyAndRosterFailure), judged once that commits should it be held.
	awaiting []string
}

// bindLateCreate reads group cid again from no roster (see the top of
// this file) when a create binds late: with no roster held, the lowest
// create read unbound whose pair is now stored or among pairs (the
// sync's: see rosterPass.pairs) and whose place holds no event stored
// verified (see rereadFromCreate for its place); or, when started is set
// (the batch just stored started the roster, none being held before), the
// create that started it, should group changes stored before it have
// failed as read before any roster; or, started set and the roster held
// one a join started, the lowest create below that join whose pair is
// stored (joinedCreate, latejoin.go). It returns nil when it read nothing
// again: no create's pair is held yet, every paired one's place holds an
// event stored verified, or (started) no group change failed so. Nothing
// is read beyond the roster and the list until a pair is held; then the
// group changes the change index lists (a group without a complete index
// is not read again). A reading given up is remembered by its inputs, and
// not tried again on the same ones (rereaddropped.go).
func (e *Engine) bindLateCreate(ctx context.Context, cid string, started bool, pairs pairSet) (*lateBound, error) {
	if !IsGroup(cid) {
		return nil, nil
	}
	var chosen *unboundCreate
	var changes []awaited
	var inputs []byte
	stored := false
	err := e.store.View(ctx, func(tx keystore.Tx) error {
		chosen, changes, inputs, stored = nil, nil, nil, false
		r, err := loadRoster(ctx, tx, cid)
		if err != nil {
			return err
		}
		switch {
		case r.Base == "":
			if chosen, err = pairedUnbound(ctx, tx, e.rosterEnv(ctx, tx, cid, pairs), cid); err != nil || chosen == nil {
				return err
			}
		case started && r.Base == baseJoin:
			// A create below the add that started the roster
			// (latejoin.go).
			if chosen, err = joinedCreate(ctx, tx, e.rosterEnv(ctx, tx, cid, pairSet{}), cid, r.Since); err != nil || chosen == nil {
				return err
			}
		case started && r.Base == baseCreate && validMessageID(r.CreateMID):
			old, err := tx.EventByMessageID(ctx, cid, r.CreateMID)
			switch {
			case errors.Is(err, keystore.ErrNotFound):
				return nil
			case err != nil:
				return err
			}
			old.Body.Zero()
			if !old.Verified || old.Type != event.TypeGroupChange || old.SenderID != r.Creator {
				return nil
			}
			chosen, stored = &unboundCreate{Seq: old.SequenceID, Sender: old.SenderID, Raw: old.Raw}, true
		default:
			return nil
		}
		var failed bool
		changes, failed, err = storedGroupChanges(ctx, tx, cid)
		if err != nil || changes == nil || (!failed && stored) {
			changes = nil // (stored) the roster held stands as read
			return err
		}
		// Given up on the same inputs already: not read again
		// (rereaddropped.go).
		if inputs, err = rereadInputs(ctx, tx, cid, r, chosen, changes); err != nil {
			return err
		}
		if dropped, err := rereadDropped(ctx, tx, cid, inputs); err != nil || dropped {
			changes = nil
			return err
		}
		return nil
	})
	if err != nil || chosen == nil || changes == nil {
		return nil, err
	}
	listed := append([]awaited{{seq: chosen.Seq, raw: chosen.Raw}}, changes...)
	evs, err := e.decryptAwaited(ctx, cid, listed)
	if err != nil {
		return nil, err
	}
	defer dropEvents(evs)
	if evs[0].SequenceID != chosen.Seq || evs[0].SenderID != chosen.Sender {
		return nil, e.noteRereadDropped(ctx, cid, inputs)
	}
	var out *lateBound
	err = e.store.Update(ctx, func(tx keystore.Tx) error {
		// A transaction run again starts afresh: the steps change the
		// events they read (a rejection, a member add's lists as read).
		fresh := make([]*event.Event, len(evs))
		for i, ev := range evs {
			c := *ev
			if ev.GroupChange != nil {
				g := *ev.GroupChange
				c.GroupChange = &g
			}
			fresh[i] = &c
		}
		lb, err := e.rereadFromCreate(ctx, tx, cid, fresh[0], stored, pairs, changes, fresh[1:])
		out = lb
		if err == nil && lb != nil {
			err = tx.SetValue(ctx, rereadDroppedKey(cid), nil)
		}
		return err
	})
	switch {
	case errors.Is(err, errGiveUp):
		return nil, e.noteRereadDropped(ctx, cid, inputs)
	case err != nil:
		return nil, err
	case out == nil:
		// The create could not be bound: nothing changed.
		return nil, e.noteRereadDropped(ctx, cid, inputs)
	}
	opened, err := e.reopenRostered(ctx, cid, out.rostered)
	if err != nil {
		return nil, err
	}
	out.opened = append(out.opened, opened...)
	slices.SortFunc(out.awaiting, decimal.Compare)
	for _, v := range slices.Compact(out.awaiting) {
		_, evs, err := e.reopenVersion(ctx, cid, v, maxReopenPerSync)
		if err != nil {
			return nil, err
		}
		out.opened = append(out.opened, evs...)
	}
	return out, nil
}

// reopenRostered judges again, once the reading again from the create
// has committed, the content events it listed as stored failed only for
// their author's membership (rosterOnlyFailure) whose author the roster
// read again admits at their place: each is decrypted and its signature
// checked again by the receive pipeline, and opened only when it stands
// at its place as a message awaiting its key opens (reopenStands: its
// key held there, admittedAt by the group changes now stored below it,
// gateReplay, gateAuthorship), the store still holding the failed entry
// as listed. A key change listed is opened by reopenKeyChange, and the
// messages awaiting its key are judged once that commits (reopenVersion).
// It returns the verified events it opened (stored).
func (e *Engine) reopenRostered(ctx context.Context, cid string, listed []awaited) ([]*event.Event, error) {
	if len(listed) == 0 {
		return nil, nil
	}
	evs, err := e.decryptAwaited(ctx, cid, listed)
	if err != nil {
		return nil, err
	}
	defer dropEvents(evs)
	var opened []*event.Event
	var versions []string // of the key changes opened
	err = e.store.Update(ctx, func(tx keystore.Tx) error {
		opened = opened[:0] // a transaction run again starts afresh
		versions = versions[:0]
		for i, ev := range evs {
			c := *ev
			var ok bool
			var err error
			switch {
			case ev.Message != nil:
				ok, err = e.reopenOne(ctx, tx, cid, ev.Message.KeyVersion, listed[i], &c)
			case ev.KeyChange != nil:
				// Listed in transcript order: a message above it
				// under its key is judged with it stored verified.
				if ok, err = e.reopenKeyChange(ctx, tx, cid, listed[i], &c); ok {
					versions = append(versions, c.KeyChange.Version)
				}
			default:
				continue
			}
			if err != nil {
				return err
			}
			if ok {
				opened = append(opened, &c)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The messages stored failed for want of a key it opened.
	for _, v := range versions {
		_, evs, err := e.reopenVersion(ctx, cid, v, maxReopenPerSync)
		if err != nil {
			return nil, err
		}
		opened = append(opened, evs...)
	}
	return opened, nil
}

// sealedContent reports whether a stored event of type typ is a message,
// reaction or edit (a MessageCreateEvent: judged again as reopenOne judges
// one).
func sealedContent(typ string) bool {
	switch typ {
	case event.TypeMessage, event.TypeReactionAdd, event.TypeReactionRemove, event.TypeEdit:
		return true
	}
	return false
}

// rosterOnlyFailure reports whether msg, the error of a content event by
// sender stored failed, says only that its author was no member at its
// place (the roster step, the create's rule: rejudgeBeforeCreate,
// rosterRec.excludes), and nothing else.
func rosterOnlyFailure(msg, sender string) bool {
	if sender == "" || strings.Contains(msg, "; ") || strings.Contains(msg, "\n") {
		return false
	}
	rest, ok := strings.CutPrefix(msg, xchat.ErrNotMember.Error()+": ")
	if !ok {
		return false
	}
	rest = strings.TrimPrefix(rest, "sender ")
	return strings.HasPrefix(rest, sender+" is not a member of ")
}

// pairedUnbound returns the lowest create read unbound in cid whose pair
// env holds now and whose place holds no event stored verified (one that
// does can no longer bind: a higher one may), nil when there is none.
func pairedUnbound(ctx context.Context, tx keystore.Tx, env rosterEnv, cid string) (*unboundCreate, error) {
	creates, err := loadUnboundCreates(ctx, tx, cid)
	if err != nil {
		return nil, err
	}
	stored, err := storedUnbound(ctx, tx, cid)
	if err != nil {
		return nil, err
	}
	creates = append(creates, stored...)
	slices.SortStableFunc(creates, func(a, b unboundCreate) int { return decimal.Compare(a.Seq, b.Seq) })
	for i := range creates {
		if !env.paired(creates[i].Sender, creates[i].Version) {
			continue
		}
		held, err := placeHeld(ctx, tx, cid, creates[i].Seq)
		switch {
		case err != nil:
			return nil, err
		case held:
			continue // it can no longer bind; a higher one may
		}
		return &creates[i], nil
	}
	return nil, nil
}

// storedGroupChanges lists cid's stored group changes (verified, or failed
// as read before a roster: rereadRosterCause), ascending, with their wire
// bytes, as its change index lists them; failed reports whether one
// failed so. It returns nil when the index is not complete.
func storedGroupChanges(ctx context.Context, tx keystore.Tx, cid string) (out []awaited, failed bool, err error) {
	idx, found, err := loadChangeIndex(ctx, tx, cid)
	if err != nil || !found || !idx.Complete {
		return nil, false, err
	}
	out = []awaited{}
	for _, seq := range idx.Seqs {
		s, err := eventAt(ctx, tx, cid, seq)
		if err != nil {
			return nil, false, err
		}
		if s == nil {
			continue
		}
		if s.Type == event.TypeGroupChange {
			en := entryFromStored(cid, s)
			switch {
			case en.Verified:
				out = append(out, awaited{seq: s.SequenceID, raw: slices.Clone(s.Raw)})
			case rereadRosterCause(en.Error):
				out = append(out, awaited{seq: s.SequenceID, raw: slices.Clone(s.Raw)})
				failed = true
			}
		}
		s.Body.Zero()
	}
	return out, failed, nil
}

// rereadFromCreate reads group cid again from no roster with the create c
// (verified by the pipeline) at its place: a create read unbound (or
// stored failed below a join: joinedCreate), when its pair (stored, or
// among pairs) binds it now and no roster is held, or one a join above it
// started; or, stored set, the create
// stored there that started the roster held. An event stored failed under
// the sequence id of a create read unbound gives way to it: the create
// was read there first (the server served other bytes there after it),
// as a fresh device served the events in order holds it; one stored
// verified keeps the create unbound. changes are the stored group changes listed by
// storedGroupChanges and evs them as verified by the pipeline, index for
// index. It returns nil, changing nothing, when c cannot be bound, and
// errGiveUp (its transaction must not commit) when the create or a group
// change stored verified does not stand on the roster read again.
func (e *Engine) rereadFromCreate(ctx context.Context, tx keystore.Tx, cid string, c *event.Event, stored bool, pairs pairSet, changes []awaited, evs []*event.Event) (*lateBound, error) {
	if !decimal.ValidID(c.SequenceID) {
		return nil, nil
	}
	screenEnvelope(c)
	g := c.GroupChange
	if !c.Verified || c.Err != nil || g == nil || g.Kind != event.GroupCreated || c.ConversationID != cid {
		return nil, nil
	}
	old, err := eventAt(ctx, tx, cid, c.SequenceID)
	if err != nil {
		return nil, err
	}
	if old != nil {
		old.Body.Zero()
	}
	held, err := loadRoster(ctx, tx, cid)
	if err != nil {
		return nil, err
	}
	switch {
	case !stored && (old != nil && old.Verified || held.Base != "" && !(held.Base == baseJoin && decimal.Less(c.SequenceID, held.Since))):
		return nil, nil
	case stored && (old == nil || !old.Verified || !slices.Equal(old.Raw, c.Raw) || held.Base != baseCreate || held.CreateMID != c.MessageID || held.Creator != c.SenderID):
		return nil, nil
	}
	env := e.rosterEnv(ctx, tx, cid, pairs)
	if !env.paired(c.SenderID, g.KeyVersion) {
		return nil, nil
	}
	env.createAt = c
	byseq := make(map[string]*event.Event, len(evs))
	for i, ev := range evs {
		if ev.SequenceID == changes[i].seq {
			byseq[ev.SequenceID] = ev
		}
	}
	var r rosterRec
	lb := &lateBound{create: c.SequenceID, failed: map[string]error{}}
	var open []*event.Event
	// opened holds the message ids of the group changes opened so far in
	// the walk, each with its sequence id: stored verified once the walk
	// is done, they make a later copy a replay (rereadChange).
	opened := map[string]string{}
	var distrusted []distrustedKey
	stepCreate := func() bool {
		if res := r.step(env, c); res.err != nil {
			return false
		}
		if !stored {
			open = append(open, c)
		}
		if validMessageID(c.MessageID) {
			opened[c.MessageID] = c.SequenceID
		}
		return true
	}
	// The edit indexes the walk gives back (unstandFailed) are given
	// back at its end, in one read of the history (reindexBatch); what
	// follows the walk uses outer, which carries no batch of the walk's.
	outer := ctx
	ctx, batch := withReindexBatch(ctx, tx, cid)
	created := false
	for after := ""; ; {
		page, err := tx.Events(ctx, cid, after, rejudgePage)
		if err != nil {
			return nil, fmt.Errorf("session: reading history: %w", err)
		}
		for i := range page {
			s := &page[i]
			if !created && !decimal.Less(s.SequenceID, c.SequenceID) {
				if created = stepCreate(); !created {
					zeroStored(page[i:])
					return nil, errGiveUp
				}
			}
			if s.SequenceID == c.SequenceID {
				s.Body.Zero() // the create, stepped above
				continue
			}
			en := entryFromStored(cid, s)
			if s.Type == event.TypeGroupChange {
				s.Body.Zero()
				ev := byseq[s.SequenceID]
				if ev == nil {
					continue // failed for another cause: stays as stored
				}
				if seq, ok := opened[ev.MessageID]; ok && en.Verified && validMessageID(ev.MessageID) && seq != s.SequenceID {
					// Stored verified as no replay (the change below
					// held its message id only failed), it is one of the
					// change this walk opened there, as on a fresh
					// device: failed, not stepped. Stored in this sync
					// (the change below was read before any roster),
					// it is still held from fn (bindLate).
					cause := &replayedError{original: seq}
					if err := putFlipped(ctx, tx, cid, en, s.Raw, cause); err != nil {
						zeroStored(page[i+1:])
						return nil, err
					}
					lb.failed[s.SequenceID] = cause
					continue
				}
				ok, err := e.rereadChange(ctx, tx, cid, env, &r, en, ev, opened)
				if err == nil && !ok {
					err = errGiveUp
				}
				if err != nil {
					zeroStored(page[i+1:])
					return nil, err
				}
				if !en.Verified && ev.Err == nil && ev.Verified {
					open = append(open, ev)
					if validMessageID(ev.MessageID) {
						opened[ev.MessageID] = ev.SequenceID
					}
				}
				continue
			}
			if !en.Verified {
				// Failed only for its author's membership, whom the
				// roster read here admits: judged again once this
				// commits (reopenRostered).
				admitted := *s
				admitted.Verified = true
				if (sealedContent(s.Type) || s.Type == event.TypeKeyChange) && rosterOnlyFailure(en.Error, s.SenderID) && r.excludes(env, &admitted) == nil {
					lb.rostered = append(lb.rostered, awaited{seq: s.SequenceID, raw: slices.Clone(s.Raw)})
				} else if v, ok := keyAndRosterFailure(cid, en.Error, s.SenderID); ok && s.Type == event.TypeMessage && r.excludes(env, &admitted) == nil {
					// Failed for want of its key too: it awaits it.
					if err := awaitKeyAlone(ctx, tx, cid, s, en, v); err != nil {
						s.Body.Zero()
						zeroStored(page[i+1:])
						return nil, err
					}
					lb.awaiting = append(lb.awaiting, v)
				}
				s.Body.Zero()
				continue
			}
			cause := r.excludes(env, s)
			if cause == nil {
				s.Body.Zero()
				continue
			}
			err := putFlipped(ctx, tx, cid, en, s.Raw, cause)
			var d *distrustedKey
			if err == nil {
				d, err = unstandFailed(ctx, tx, cid, s, en)
			}
			s.Body.Zero()
			if err != nil {
				zeroStored(page[i+1:])
				return nil, err
			}
			if d != nil {
				distrusted = append(distrusted, *d)
			}
			lb.failed[s.SequenceID] = cause
		}
		if len(page) < rejudgePage {
			break
		}
		after = page[len(page)-1].SequenceID
	}
	if !created && !stepCreate() {
		return nil, errGiveUp
	}
	if err := batch.flush(ctx); err != nil {
		return nil, err
	}
	ctx = outer
	if err := e.storeBound(ctx, tx, cid, open); err != nil {
		return nil, err
	}
	r.Pending = held.Pending
	if err := r.save(ctx, tx, cid); err != nil {
		return nil, err
	}
	if validMessageID(c.MessageID) {
		if err := tx.SetValue(ctx, createIndexKey(c.MessageID), []byte(cid)); err != nil {
			return nil, err
		}
	}
	conv, err := e.conversationRecord(ctx, tx, cid)
	if err != nil {
		return nil, err
	}
	conv.Members = r.effective()
	if err := tx.PutConversation(ctx, conv); err != nil {
		return nil, err
	}
	if err := e.restoreSettings(ctx, tx, cid); err != nil {
		return nil, err
	}
	if err := e.rerecordRecipients(ctx, tx, cid, distrusted); err != nil {
		return nil, err
	}
	if err := tx.SetValue(ctx, unboundCreatesKey(cid), nil); err != nil {
		return nil, err
	}
	if err := tx.SetValue(ctx, unboundStoredKey(cid), nil); err != nil {
		return nil, err
	}
	lb.opened = open
	return lb, nil
}

// rereadChange steps the stored group change en (ev as verified by the
// pipeline) on r: ev is left failed (rejected) when the step refuses it,
// as a fresh device refuses it. ok is false when a group change stored
// verified does not stand (the re-reading is given up). opened holds the
// message ids of the group changes the walk opened below ev.
//
// A failed change is a replay when its message id is held below it by an
// event stored verified or by one the walk opened, as a fresh device
// reading in transcript order holds them: never by an event stored failed
// (the store's index answers the highest sequence id among those, so a
// copy the server served above the change would make the change the
// replay and open the copy at the place it chose), nor by one stored
// verified above it (the walk fails that one as its replay when it
// reaches it).
func (e *Engine) rereadChange(ctx context.Context, tx keystore.Tx, cid string, env rosterEnv, r *rosterRec, en event.Entry, ev *event.Event, opened map[string]string) (ok bool, err error) {
	screenEnvelope(ev)
	if !ev.Verified || ev.Err != nil || ev.GroupChange == nil || ev.ConversationID != cid {
		if en.Verified {
			return false, nil
		}
		reject(ev, errStoredFailed)
		return true, nil
	}
	if !en.Verified && validMessageID(ev.MessageID) {
		// A replay of an event stored verified, or opened below it by
		// this walk, under a new sequence id stays failed (gateReplay's
		// rule: see above).
		if seq, ok := opened[ev.MessageID]; ok && seq != ev.SequenceID {
			reject(ev, &replayedError{original: seq})
			return true, nil
		}
		other, err := tx.EventByMessageID(ctx, cid, ev.MessageID)
		switch {
		case errors.Is(err, keystore.ErrNotFound):
		case err != nil:
			return false, err
		default:
			other.Body.Zero()
			if other.Verified && decimal.Less(other.SequenceID, ev.SequenceID) {
				reject(ev, &replayedError{original: other.SequenceID})
				return true, nil
			}
		}
	}
	res := r.step(env, ev)
	if res.err != nil {
		reject(ev, res.err)
		return !en.Verified, nil
	}
	return true, nil
}

// excludes returns why the stored content event or key change s fails at
// its place on roster r (read from no roster up to it), nil when it
// stands: below the create, by neither its creator nor a member it
// signs; above it, by no member of r.
func (r *rosterRec) excludes(env rosterEnv, s *keystore.StoredEvent) error {
	if !s.Verified || s.SenderID == "" {
		return nil
	}
	ev := &event.Event{SenderID: s.SenderID, SequenceID: s.SequenceID}
	switch {
	case r.Base == "" && r.outsiderBelowCreate(env, ev):
		return fmt.Errorf("%w: %s is not a member of %s: the event lies below the group's create (at %s), which does not name its author", xchat.ErrNotMember, s.SenderID, env.cid, env.createAt.SequenceID)
	case r.Base != "" && !r.member(s.SenderID):
		return fmt.Errorf("%w: %s is not a member of %s at its place: the group's create (at %s), bound after this event was read, and the group changes below it do not make its author one", xchat.ErrNotMember, s.SenderID, env.cid, env.createAt.SequenceID)
	}
	return nil
}

// storeBound stores the create and the group changes rereadFromCreate
// opened, verified, with the effects a verified group change has when
// stored.
func (e *Engine) storeBound(ctx context.Context, tx keystore.Tx, cid string, open []*event.Event) error {
	titles := make([]string, len(open))
	for i, ev := range open {
		en := ev.Entry()
		if g := en.Group; g != nil && g.Title != "" {
			g.Title = e.entryTitle(ctx, tx, cid, g.KeyVersion, g.Title)
			titles[i] = g.Title
		}
		if !validMessageID(en.MessageID) {
			en.MessageID = ""
		}
		if err := noteGroupChange(ctx, tx, cid, ev); err != nil {
			return err
		}
		if g := ev.GroupChange; g != nil && g.Kind == event.GroupCreated {
			if err := noteInserted(ctx, tx, cid, ev.SequenceID); err != nil {
				return err
			}
		}
		if err := tx.PutEvents(ctx, cid, []keystore.StoredEvent{storeEntry(&en, ev.Raw, "")}); err != nil {
			return err
		}
		if err := e.settle(ctx, tx, cid, ev); err != nil {
			return err
		}
		if err := e.applyEffects(ctx, tx, cid, ev); err != nil {
			return err
		}
	}
	// Handed over as stored: the title opened (the wire form stays in
	// Raw), as storeEventsTx hands a group change over.
	for i, ev := range open {
		if titles[i] != "" {
			g := *ev.GroupChange
			g.Title = titles[i]
			ev.GroupChange = &g
		}
	}
	return nil
}
