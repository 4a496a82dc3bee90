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

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// Opening a message stored before its key (a reaction or an edit is one
// too: sealed alike, they are told apart only once decrypted). The server
// may serve a genuine message and withhold the key change that distributes its key until a
// later sync: the message is stored failed, for want of its key version
// (inbound.UnknownKeyError), where a fresh device served the transcript in
// order decrypts it and keeps it verified. So such a message, and only
// one that failed for nothing else, is listed when stored, by conversation
// and key version (awaitKey, at most maxAwaitingKey a version, copies of
// one message giving way to other messages: awaitingKey.list); when a
// sync is served a verified key change of that version (in a page's
// metadata or as an event of its data: withDataKeyChanges), the messages
// listed under it are judged again once its pages are stored
// (Engine.reopenAwaiting), as a fresh device judges them at their place:
// decrypted and their signature checked by the receive pipeline (signing
// keys as pinned), the key's verified key change stored below the
// message (keyHeldAt), its author a participant (one-to-one) or a member
// at its place as the group changes stored below it say (admittedAt), no
// verified event holding its message id elsewhere (replayOf), and the
// checks of an event's authorship (gateAuthorship: edit targets, reply
// previews). Only then does the verified entry replace the failed one,
// with the effects a verified message has when stored (settle,
// applyEffects). Whatever fails stays failed, as stored; the list is
// dropped once judged. At most maxReopenPerSync messages are judged a
// sync; versions past it keep their list for a sync that serves their
// key change again. A push (Engine.Deliver) lists and opens as a sync
// does: its key change opens what awaited it. What opens is handed to
// the sync's or push's fn again, marked Event.Reopened
// (syncState.handReopened).

// maxAwaitingKey bounds the messages listed under one key version; past
// it a message stored before its key stays failed.
const maxAwaitingKey = 256

// maxReopenPerSync bounds the messages one sync judges again.
const maxReopenPerSync = 512

// awaitingKey lists the sequence ids of the messages of a conversation
// stored failed for want of one key version, ascending, and under MIDs
// (index for index) their message ids ("" when not well formed, or listed
// by an engine that did not record them).
type awaitingKey struct {
	Seqs []string `json:"seqs"`
	MIDs []string `json:"mids,omitempty"`
}

func awaitingKeyKey(cid, version string) string {
	h := sha256.Sum256([]byte(cid))
	return "session/awaiting-key/" + hex.EncodeToString(h[:]) + "/" + version
}

// loadAwaiting reads the list of cid's messages awaiting version.
// A list that does not decode is not this engine's: nothing is opened.
func loadAwaiting(ctx context.Context, v valueReader, cid, version string) (awaitingKey, error) {
	return loadRecord[awaitingKey](ctx, v, awaitingKeyKey(cid, version), "the messages awaiting a key")
}

// loadRecord reads the JSON record name into a T: the zero T when none is
// held or it does not decode (a record this engine cannot read decides
// nothing); what names the record in a read error.
func loadRecord[T any](ctx context.Context, v valueReader, name, what string) (T, error) {
	var r T
	b, err := v.Value(ctx, name)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return r, nil
	case err != nil:
		return r, fmt.Errorf("session: reading %s: %w", what, err)
	}
	if json.Unmarshal(b, &r) != nil {
		var zero T
		return zero, nil
	}
	return r, nil
}

// awaitedVersion returns the key version ev failed for, when that is all
// it failed for: a message stored failed by the pipeline for want of its
// key (inbound.UnknownKeyError as its only error) in cid.
func awaitedVersion(cid string, ev *event.Event) (string, bool) {
	uk, ok := ev.Err.(*inbound.UnknownKeyError)
	if !ok || ev.Kind != event.KindMessage || uk.ConversationID != cid || !decimal.Valid(uk.Version) || !decimal.ValidID(ev.SequenceID) {
		return "", false
	}
	return uk.Version, true
}

// AwaitsKey reports whether en, as History returns it, is a message
// stored failed for want of its key version alone (the server served it
// and withheld the key change that distributes its key): one that a
// verified key change of that version served later may open. Sync and
// Deliver then hand it to their fn again, verified, with Event.Reopened
// set, and History returns the verified entry at its sequence id. An
// application that keeps its own place in History (such as package bot)
// remembers the entries this holds for and reads them again.
func AwaitsKey(en *event.Entry) bool {
	if en == nil || en.Verified || en.Removed || en.Type != event.TypeMessage || !decimal.ValidID(en.SequenceID) {
		return false
	}
	prefix := (&inbound.UnknownKeyError{ConversationID: en.ConversationID}).Error()
	version, ok := strings.CutPrefix(en.Error, prefix)
	return ok && decimal.Valid(version) && en.Error == (&inbound.UnknownKeyError{ConversationID: en.ConversationID, Version: version}).Error()
}

// awaitKey lists ev, stored failed in cid, under the key version it failed
// for (awaitedVersion); nothing else is listed.
func awaitKey(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	version, ok := awaitedVersion(cid, ev)
	if !ok {
		return nil
	}
	a, err := loadAwaiting(ctx, tx, cid, version)
	if err != nil {
		return err
	}
	if !a.list(ev) {
		return nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("session: encoding the messages awaiting a key: %w", err)
	}
	return tx.SetValue(ctx, awaitingKeyKey(cid, version), b)
}

// list adds ev to a, reporting whether it did. Copies of one message (one
// message id under several sequence ids: the server re-sequenced it) are
// listed while there is room, for which of them opens depends on where
// the key's change stands; a full list takes a message id it does not
// hold in place of the lowest copy of one it holds twice or more, and
// nothing else. So copies of one genuine message cannot keep other
// messages from being listed, and the highest copy of each stays.
func (a *awaitingKey) list(ev *event.Event) bool {
	if len(a.MIDs) != len(a.Seqs) {
		a.MIDs = make([]string, len(a.Seqs)) // listed without their ids
	}
	i, held := slices.BinarySearchFunc(a.Seqs, ev.SequenceID, decimal.Compare)
	if held {
		return false
	}
	mid := ev.MessageID
	if !validMessageID(mid) {
		mid = ""
	}
	if len(a.Seqs) >= maxAwaitingKey {
		if mid == "" || slices.Contains(a.MIDs, mid) {
			return false
		}
		copies := map[string]int{}
		for _, m := range a.MIDs {
			if m != "" {
				copies[m]++
			}
		}
		j := slices.IndexFunc(a.MIDs, func(m string) bool { return copies[m] > 1 })
		if j < 0 {
			return false
		}
		a.Seqs, a.MIDs = slices.Delete(a.Seqs, j, j+1), slices.Delete(a.MIDs, j, j+1)
		i, _ = slices.BinarySearchFunc(a.Seqs, ev.SequenceID, decimal.Compare)
	}
	a.Seqs, a.MIDs = slices.Insert(a.Seqs, i, ev.SequenceID), slices.Insert(a.MIDs, i, mid)
	return true
}

// noteKeyServed records the versions of the verified key changes among
// kcs for reopenAwaiting.
func (s *syncState) noteKeyServed(kcs []*event.Event) {
	for _, ev := range kcs {
		kc := ev.KeyChange
		if kc == nil || kc.Key == nil || !ev.Verified || ev.Err != nil || kc.DecryptOnly == event.DecryptOnlyUnverified || !decimal.Valid(kc.Version) {
			continue
		}
		if s.keyServed == nil {
			s.keyServed = map[string]bool{}
		}
		s.keyServed[kc.Version] = true
	}
}

// reopenAwaiting judges again the messages awaiting the key versions this
// sync was served verified key changes of (see the top of this file),
// counting those it opened in the result, and hands them to fn again,
// verified and marked Reopened, oldest first (handOver: each of them,
// then fn's first error). They are stored already: one fn did not see
// now would never be handed to it.
func (s *syncState) reopenAwaiting(ctx context.Context) error {
	if len(s.keyServed) == 0 {
		return nil
	}
	versions := make([]string, 0, len(s.keyServed))
	for v := range s.keyServed {
		versions = append(versions, v)
	}
	slices.SortFunc(versions, decimal.Compare)
	budget := maxReopenPerSync
	var opened []*event.Event
	var err error
	for _, v := range versions {
		var n int
		var evs []*event.Event
		n, evs, err = s.e.reopenVersion(ctx, s.cid, v, budget)
		if err != nil {
			break
		}
		s.res.Reopened += len(evs)
		opened = append(opened, evs...)
		budget -= n
		if budget <= 0 {
			break
		}
	}
	return errors.Join(err, s.handReopened(opened))
}

// handReopened hands fn the messages reopenAwaiting opened (committed
// already), oldest first, marked Reopened.
func (s *syncState) handReopened(opened []*event.Event) error {
	slices.SortStableFunc(opened, func(a, b *event.Event) int { return decimal.Compare(a.SequenceID, b.SequenceID) })
	for _, ev := range opened {
		ev.Reopened = true
	}
	q := s.queue
	s.queue = opened
	err := s.handOver()
	s.queue = q
	return err
}

// awaited is a message listed as awaiting its key, as stored.
type awaited struct {
	seq string
	raw []byte
}

// reopenVersion judges again, at most budget of them, the messages of cid
// awaiting key version (its list is dropped once judged) and returns how
// many it judged and the verified events of those it opened (stored).
func (e *Engine) reopenVersion(ctx context.Context, cid, version string, budget int) (judged int, opened []*event.Event, err error) {
	var listed []awaited
	err = e.store.View(ctx, func(tx keystore.Tx) error {
		a, err := loadAwaiting(ctx, tx, cid, version)
		if err != nil || len(a.Seqs) == 0 || len(a.Seqs) > budget {
			return err
		}
		// Served is not stored: a page the store failed to commit (or
		// that was refused) brought the key change and left nothing, and
		// the list waits for a sync that stores it.
		if _, stored, err := keyChangeStored(ctx, tx, cid, version); err != nil || !stored {
			return err
		}
		want := (&inbound.UnknownKeyError{ConversationID: cid, Version: version}).Error()
		for _, seq := range a.Seqs {
			old, err := eventAt(ctx, tx, cid, seq)
			if err != nil {
				return err
			}
			if old == nil {
				continue
			}
			old.Body.Zero()
			if !old.Verified && old.Error == want && old.Type == event.TypeMessage {
				listed = append(listed, awaited{seq: seq, raw: old.Raw})
			}
		}
		if len(listed) == 0 {
			listed = []awaited{} // judged: the list goes
		}
		return nil
	})
	if err != nil || listed == nil {
		return 0, nil, err
	}
	evs, err := e.decryptAwaited(ctx, cid, listed)
	if err != nil {
		return 0, nil, err
	}
	defer dropEvents(evs)
	err = e.store.Update(ctx, func(tx keystore.Tx) error {
		opened = opened[:0] // a transaction run again starts afresh
		for i, ev := range evs {
			ok, err := e.reopenOne(ctx, tx, cid, version, listed[i], ev)
			if err != nil {
				return err
			}
			if ok {
				opened = append(opened, ev)
			}
		}
		return tx.SetValue(ctx, awaitingKeyKey(cid, version), nil)
	})
	if err != nil {
		return 0, nil, err
	}
	return len(listed), opened, nil
}

// decryptAwaited runs the listed messages through the receive pipeline
// with the store's keys as committed.
func (e *Engine) decryptAwaited(ctx context.Context, cid string, listed []awaited) ([]*event.Event, error) {
	keys, err := e.keysFor(ctx)
	if err != nil {
		return nil, err
	}
	defer keys.zero()
	raws := make([][]byte, len(listed))
	for i := range listed {
		raws[i] = listed[i].raw
	}
	opts := &inbound.Options{ConversationID: cid, Workers: e.cfg.workers}
	evs := make([]*event.Event, 0, len(raws))
	for ev, err := range inbound.DecryptBatch(ctx, keys, inbound.FromBytes(raws), opts) {
		if err != nil {
			dropEvents(evs)
			return nil, fmt.Errorf("session: decrypting messages awaiting a key: %w", err)
		}
		evs = append(evs, ev)
	}
	if len(evs) != len(listed) {
		dropEvents(evs)
		return nil, fmt.Errorf("session: decrypting messages awaiting a key: %d events for %d", len(evs), len(listed))
	}
	return evs, nil
}

// reopenOne replaces the failed entry of a listed message with the
// verified ev when ev stands at its place (reopenStands) and the store
// still holds the failed entry as listed; opened says it did.
func (e *Engine) reopenOne(ctx context.Context, tx keystore.Tx, cid, version string, l awaited, ev *event.Event) (opened bool, err error) {
	if !ev.Verified || ev.Err != nil || ev.Kind != event.KindMessage || ev.Message == nil ||
		ev.Message.KeyVersion != version || ev.SequenceID != l.seq || ev.ConversationID != cid {
		return false, nil
	}
	if held, err := failedAsListed(ctx, tx, cid, l); err != nil || !held {
		return false, err
	}
	if ok, err := e.reopenStands(ctx, tx, cid, ev); err != nil || !ok {
		return false, err
	}
	return true, e.putReopened(ctx, tx, cid, ev)
}

// failedAsListed reports whether the store still holds at l's place the
// failed entry listed as awaiting (its wire bytes those listed), which a
// reopening replaces.
func failedAsListed(ctx context.Context, tx keystore.Tx, cid string, l awaited) (bool, error) {
	old, err := eventAt(ctx, tx, cid, l.seq)
	if err != nil || old == nil {
		return false, err
	}
	old.Body.Zero()
	return !old.Verified && slices.Equal(old.Raw, l.raw), nil
}

// putReopened stores the verified ev over the failed entry at its place
// (a malformed message id kept out of the store's index), settles what
// waited on it and applies its effects, as reopenOne and reopenKeyChange
// do once ev stands.
func (e *Engine) putReopened(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	en := ev.Entry()
	if !validMessageID(en.MessageID) {
		en.MessageID = ""
	}
	if err := tx.PutEvents(ctx, cid, []keystore.StoredEvent{storeEntry(&en, ev.Raw, "")}); err != nil {
		return err
	}
	if err := e.settle(ctx, tx, cid, ev); err != nil {
		return err
	}
	return e.applyEffects(ctx, tx, cid, ev)
}

// reopenStands reports whether the decrypted, verified message ev stands
// at its place: its key distributed below it by a verified key change,
// its author a participant or member there, its message id no replay,
// and the authorship checks passed (each a rejection of ev otherwise).
func (e *Engine) reopenStands(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) (bool, error) {
	screenEnvelope(ev)
	if ev.Err != nil {
		return false, nil
	}
	if held, err := keyHeldAt(ctx, tx, cid, ev.Message.KeyVersion, ev.SequenceID); err != nil || !held {
		return false, err
	}
	if IsGroup(cid) {
		if at, err := admittedAt(ctx, tx, cid, ev); err != nil || !at {
			return false, err
		}
	} else if _, err := peerOf(cid, ev.SenderID); err != nil {
		return false, nil
	}
	if err := gateReplay(ctx, tx, cid, ev); err != nil || ev.Err != nil {
		return false, err
	}
	if err := e.gateAuthorship(ctx, tx, cid, ev); err != nil || ev.Err != nil || !ev.Verified {
		return false, err
	}
	return true, nil
}

// createNames reports whether u is the author of the group create stored
// verified under message id mid, or a member it signs; false when no such
// create is stored.
func createNames(ctx context.Context, tx keystore.Tx, cid, mid, u string) (bool, error) {
	old, err := tx.EventByMessageID(ctx, cid, mid)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	old.Body.Zero()
	g, verified, err := storedGroupChange(ctx, tx, cid, old.SequenceID)
	if err != nil || !verified || g == nil || g.GroupCreate == nil {
		return false, err
	}
	return g.sender == u || slices.Contains(g.GroupCreate.MemberIds, u), nil
}

// admittedAt reports whether ev's author was a member of group cid at
// ev's place, as the group changes stored below it say read down from it
// (admittedBelow), with a complete change index and the roster held, whose
// tombstones (an author removed while no member) keep an author out for
// good above the group's first stored change; false when it cannot tell.
// While no roster is held, or none was at its place (no group change
// stored below it, and the roster not started by the group's create),
// every author is admitted, as the roster step admits them: a tombstone
// records a removal read above that place, which a fresh device served
// the transcript in order reads after the event. Below every stored group
// change of a group whose roster its create started, the event lies
// below the create: only the create's author and the members it signs
// stand there (createNames, as rosterRec.outsiderBelowCreate).
func admittedAt(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) (bool, error) {
	r, err := loadRoster(ctx, tx, cid)
	if err != nil {
		return false, err
	}
	if r.Base == "" {
		// No roster held: the roster step admits every author (as it
		// did when the message was stored, and as it does for a fresh
		// device served the same events).
		return true, nil
	}
	idx, found, err := loadChangeIndex(ctx, tx, cid)
	if err != nil || !found || !idx.Complete {
		return false, err
	}
	below, _ := slices.BinarySearchFunc(idx.Seqs, ev.SequenceID, decimal.Compare)
	switch {
	case below == 0 && r.Base == baseCreate:
		// Below every group change stored, the group's create among
		// them: only its signed members and its creator stand there
		// (rosterRec.outsiderBelowCreate).
		return createNames(ctx, tx, cid, r.CreateMID, ev.SenderID)
	case below == 0:
		// No group change stored below it: at its place no roster was
		// held, and the roster step admits every author there.
		return true, nil
	case slices.Contains(r.Removed, ev.SenderID):
		return false, nil
	}
	return admittedBelow(ctx, tx, cid, idx.Seqs[:below], ev.SenderID)
}

// reopenKeyChange replaces the failed entry of a listed key change (stored
// failed only for its author's membership, whom a group read again from
// its create admits at its place: see reopenRostered) with the verified
// ev when it stands there: its author a member at its place as the group
// changes stored below it say (admittedAt), its key not made after a key
// distributed above its place (keyMadeBefore), its message id no replay
// (gateReplay), and the store still holding the failed entry as listed.
// Its key is adopted for decryption only (event.DecryptOnlyBackfilled), as
// a key change judged at its place is (backfillkey.go): its author's
// rights were read after it was stored, so nothing is sealed under its
// key; whatever distrusted the key stays so for sending.
func (e *Engine) reopenKeyChange(ctx context.Context, tx keystore.Tx, cid string, l awaited, ev *event.Event) (opened bool, err error) {
	screenEnvelope(ev)
	kc := ev.KeyChange
	if !ev.Verified || ev.Err != nil || kc == nil || kc.Key == nil || kc.DecryptOnly == event.DecryptOnlyUnverified ||
		!decimal.Valid(kc.Version) || ev.SequenceID != l.seq || ev.ConversationID != cid || !IsGroup(cid) {
		return false, nil
	}
	if held, err := failedAsListed(ctx, tx, cid, l); err != nil || !held {
		return false, err
	}
	if at, err := admittedAt(ctx, tx, cid, ev); err != nil || !at {
		return false, err
	}
	if before, err := keyMadeBefore(ctx, tx, cid, kc.Version, ev.SequenceID); err != nil || !before {
		return false, err
	}
	if err := gateReplay(ctx, tx, cid, ev); err != nil || ev.Err != nil {
		return false, err
	}
	k := *kc
	k.UsableForEncryption, k.DecryptOnly = false, event.DecryptOnlyBackfilled
	ev.KeyChange = &k
	switch _, err := e.adoptKeyTx(ctx, tx, cid, ev); {
	case errors.Is(err, keystore.ErrConflict):
		return false, nil // another key stored under its version: it stays failed
	case err != nil:
		return false, err
	}
	return true, e.putReopened(ctx, tx, cid, ev)
}

// keyAndRosterFailure returns the key version a message by sender stored
// failed in cid awaits, when msg, its error, says it failed for want of
// that key (inbound.UnknownKeyError, first) and otherwise only for its
// author's membership at its place (rosterOnlyFailure, each further line
// of the joined error): read with no key and by no member of the roster
// held then. A group read again from its create that admits the author
// at its place withdraws the second cause, and the message awaits its key
// as one failed for that alone does (see Engine.rereadFromCreate).
func keyAndRosterFailure(cid, msg, sender string) (string, bool) {
	lines := strings.Split(msg, "\n")
	if len(lines) < 2 {
		return "", false
	}
	prefix := (&inbound.UnknownKeyError{ConversationID: cid}).Error()
	version, ok := strings.CutPrefix(lines[0], prefix)
	if !ok || !decimal.Valid(version) || lines[0] != (&inbound.UnknownKeyError{ConversationID: cid, Version: version}).Error() {
		return "", false
	}
	for _, l := range lines[1:] {
		if !rosterOnlyFailure(l, sender) {
			return "", false
		}
	}
	return version, true
}

// awaitKeyAlone stores the failed message s of cid (en as read) as failed
// for want of key version alone and lists it under that version
// (awaitKey): its other cause, its author's membership, no longer holds.
func awaitKeyAlone(ctx context.Context, tx keystore.Tx, cid string, s *keystore.StoredEvent, en event.Entry, version string) error {
	uk := &inbound.UnknownKeyError{ConversationID: cid, Version: version}
	en.Error = uk.Error()
	if err := tx.PutEvents(ctx, cid, []keystore.StoredEvent{storeEntry(&en, s.Raw, "")}); err != nil {
		return err
	}
	return awaitKey(ctx, tx, cid, &event.Event{Kind: event.KindMessage, ConversationID: cid, SequenceID: s.SequenceID, MessageID: en.MessageID, SenderID: s.SenderID, Err: uk})
}
