package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// Screening of received events before their effects are applied: envelope
// ids the store cannot hold faithfully, authors who cannot speak in the
// conversation, and group changes their author may not make.

// maxMessageIDLen bounds message ids (client-minted UUIDs in practice).
const maxMessageIDLen = 256

// validMessageID reports whether id can be stored and indexed: 1–256 bytes
// without NUL.
func validMessageID(id string) bool {
	return id != "" && len(id) <= maxMessageIDLen && !strings.ContainsRune(id, 0)
}

// reject marks ev as failed with err: it is no longer verified, its
// content is dropped and a key it carried is wiped, so nothing of it is
// shown as authentic or applied.
func reject(ev *event.Event, err error) {
	ev.Err = errors.Join(ev.Err, err)
	ev.Verified = false
	ev.Message = nil
	if kc := ev.KeyChange; kc != nil {
		if kc.Key != nil {
			kc.Key.Zero()
		}
		kc.Key, kc.UsableForEncryption = nil, false
	}
}

// screenEnvelope rejects an event whose sequence ids or message id are not
// well formed, and a key change without a sequence id (xchat.ErrMalformed). Such
// ids would otherwise fail the store, or be skipped silently.
func screenEnvelope(ev *event.Event) {
	var bad []string
	if ev.SequenceID != "" && !decimal.ValidID(ev.SequenceID) {
		bad = append(bad, fmt.Sprintf("sequence id (%d bytes) is not a canonical decimal of 1-%d digits", len(ev.SequenceID), decimal.MaxIDDigits))
	}
	if ev.PreviousSequenceID != "" && !decimal.ValidID(ev.PreviousSequenceID) {
		bad = append(bad, fmt.Sprintf("previous sequence id (%d bytes) is not a canonical decimal of 1-%d digits", len(ev.PreviousSequenceID), decimal.MaxIDDigits))
		ev.PreviousSequenceID = ""
	}
	if ev.MessageID != "" && !validMessageID(ev.MessageID) {
		bad = append(bad, fmt.Sprintf("message id (%d bytes) is not 1-%d bytes without NUL", len(ev.MessageID), maxMessageIDLen))
	}
	if ev.KeyChange != nil && ev.SequenceID == "" {
		// Without a place in the transcript it is judged against no
		// roster and never stored: its key must not be adopted.
		bad = append(bad, "key change without a sequence id")
	}
	if len(bad) > 0 {
		reject(ev, fmt.Errorf("%w: %s", xchat.ErrMalformed, strings.Join(bad, "; ")))
	}
}

// screenSenders rejects events whose author cannot speak in cid (after
// rejecting malformed envelopes). In a one-to-one conversation only its two
// users may: a valid signature by a third party over this conversation id
// is still a forgery of the conversation. In a group, the events are read
// against the roster held from signed group changes (see screenGroup); it
// returns the roster anomalies found and records in pass what the storing
// transaction needs to advance the roster the same way. Verified key
// changes wrapped to anyone outside the conversation are reported
// (AnomalyKeyWrappedToNonMember, see keyexposure.go).
func (e *Engine) screenSenders(ctx context.Context, r keystore.Tx, cid string, evs []*event.Event, pass *rosterPass) ([]event.Anomaly, error) {
	for _, ev := range evs {
		screenEnvelope(ev)
	}
	if IsGroup(cid) {
		return e.screenGroup(ctx, r, cid, evs, pass)
	}
	for _, ev := range evs {
		if ev.SenderID == "" || !ev.Kind.Signed() {
			continue
		}
		if _, err := peerOf(cid, ev.SenderID); err != nil {
			reject(ev, fmt.Errorf("%w: sender %s is not a participant of %s", xchat.ErrNotMember, ev.SenderID, cid))
		}
	}
	if err := screenKeyReplays(ctx, r, cid, evs); err != nil {
		return nil, err
	}
	return screenPairExposure(ctx, r, cid, evs)
}

// screenKeyReplays rejects (xchat.ErrReplayed) the key changes among evs that
// replay one stored before or one earlier among evs (oldest first, as they
// will be stored), so that their keys are not adopted ahead of the
// storing transaction that refuses them (gateReplay; see keysAgree). A
// group's events are screened for replays with its roster (screenGroup).
func screenKeyReplays(ctx context.Context, r keystore.Tx, cid string, evs []*event.Event) error {
	var kcs []*event.Event
	for _, ev := range evs {
		if ev.KeyChange != nil && ev.Err == nil && decimal.ValidID(ev.SequenceID) {
			kcs = append(kcs, ev)
		}
	}
	sort.SliceStable(kcs, func(i, j int) bool { return decimal.Less(kcs[i].SequenceID, kcs[j].SequenceID) })
	ids := passIDs{}
	for _, ev := range kcs {
		if verdict, stored, err := storedVerdict(ctx, r, cid, ev); err != nil {
			return err
		} else if errors.Is(verdict, errStoredOther) {
			reject(ev, verdict)
		} else if !stored {
			verdict, err := ids.replayOf(ctx, r, cid, ev)
			if err != nil {
				return err
			}
			if verdict != nil {
				reject(ev, verdict)
			}
		}
		ids.accept(ev)
	}
	return nil
}

// rosterPass carries the roster checks of one sync (or receive) from the
// screening of its events to the storing transaction.
type rosterPass struct {
	// pairs are the verified v6+ key changes seen besides the store's.
	pairs pairSet
	// stepped are the sequence ids of events that went through the roster
	// step while screening (a rejection there is replayed in the storing
	// transaction, with its effects).
	stepped map[string]bool
	// journal, when set, records how to take back each change to the
	// pass (see syncState.restore).
	journal *[]func()
	// notKept are the sequence ids of the failed events the storing step
	// in progress did not keep (see chargeFailed).
	notKept []string
	// creates are the verified group creates the staged pages of a sync
	// serve, found before any page is stored while the group holds no
	// roster (syncState.findCreate): a screening judges the events below
	// the lowest it may accept by it, on whichever page it comes
	// (createAhead).
	creates []*event.Event
	// beforeCreate are the events stored before the group's create that
	// the create failed when it was stored (rejudgeBeforeCreate), by
	// sequence id, with the cause: events held from fn are handed over as
	// the store keeps them (syncState.handOver).
	beforeCreate map[string]error
	// createFound reports them (AnomalyRosterDivergence, Related the
	// create), for the sync's result once their batch has committed.
	createFound []event.Anomaly
	// restoreSettings is set when the storing step in progress stored a
	// group change that sets the group's details below a later one
	// (settingsBackfilled): storeEventsTx reads them again once, at its end.
	restoreSettings bool
}

func newRosterPass() *rosterPass { return &rosterPass{pairs: pairSet{}, stepped: map[string]bool{}} }

// markStepped records that the event at seq went through the roster step.
func (p *rosterPass) markStepped(seq string) {
	if p.journal != nil {
		*p.journal = append(*p.journal, undoSet(p.stepped, seq))
	}
	p.stepped[seq] = true
}

// failedByCreate records the events the group's create at seq failed in
// group cid (see beforeCreate, createFound), journalled.
func (p *rosterPass) failedByCreate(cid, seq string, failed map[string]error) {
	if len(failed) == 0 {
		return
	}
	if p.beforeCreate == nil {
		p.beforeCreate = map[string]error{}
	}
	if p.journal != nil {
		n := len(p.createFound)
		*p.journal = append(*p.journal, func() { p.createFound = p.createFound[:n] })
	}
	for _, at := range slices.SortedFunc(maps.Keys(failed), decimal.Compare) {
		if p.journal != nil {
			*p.journal = append(*p.journal, undoSet(p.beforeCreate, at))
		}
		p.beforeCreate[at] = failed[at]
		p.createFound = append(p.createFound, event.Anomaly{Kind: event.AnomalyRosterDivergence, ConversationID: cid, SequenceID: at, Related: seq})
	}
}

// pairSet holds the (sender, key version) of verified v6+ key changes of
// one conversation: the pairs that bind a group create to its group.
type pairSet map[string]bool

func pairKey(sender, version string) string { return sender + "\x00" + version }

// add records the verified v6+ key changes among evs.
func (p pairSet) add(evs []*event.Event) {
	for _, ev := range evs {
		if kc := ev.KeyChange; kc != nil && ev.Verified && kc.UsableForEncryption {
			p[pairKey(ev.SenderID, kc.Version)] = true
		}
	}
}

// rosterEnv returns the roster step environment reading the store through
// v (a keystore.Store, or the storing transaction).
func (e *Engine) rosterEnv(ctx context.Context, v interface {
	valueReader
	ConversationKey(ctx context.Context, cid, version string) (*keystore.ConversationKey, error)
}, cid string, pairs pairSet) rosterEnv {
	return rosterEnv{
		ctx: ctx, self: e.userID, cid: cid,
		paired: func(sender, version string) bool {
			if pairs[pairKey(sender, version)] {
				return true
			}
			if !decimal.Valid(version) {
				return false
			}
			k, err := v.ConversationKey(ctx, cid, version)
			if err != nil {
				return false
			}
			k.Key.Zero()
			return k.Verified && k.CreatedBy == sender
		},
		createdIn: func(mid string) string {
			b, err := v.Value(ctx, createIndexKey(mid))
			if err != nil {
				return ""
			}
			return string(b)
		},
	}
}

// screenGroup reads the group's signed events, oldest first, against the
// roster held, advancing a copy of it as the storing transaction will
// (gateRoster): signed events by non-members fail with xchat.ErrNotMember, group
// changes their author may not make with xchat.ErrNotAuthorized, xchat.ErrRosterUnknown
// or xchat.ErrRosterDivergence. Such an event takes no effect; in particular a
// rejected key change's key is not adopted. An accepted key change listing
// participants off the roster is reported (AnomalyKeyWrappedToNonMember).
// An event already stored keeps its stored verdict (it is never applied
// twice). While no roster is held (RosterUnknown) only group changes are
// checked, and no key change is judged.
func (e *Engine) screenGroup(ctx context.Context, tx keystore.Tx, cid string, evs []*event.Event, pass *rosterPass) ([]event.Anomaly, error) {
	r, err := loadRoster(ctx, tx, cid)
	if err != nil {
		return nil, err
	}
	order := make([]*event.Event, 0, len(evs))
	for _, ev := range evs {
		if ev.SenderID != "" && ev.Kind.Signed() && decimal.ValidID(ev.SequenceID) {
			order = append(order, ev)
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return decimal.Less(order[i].SequenceID, order[j].SequenceID) })
	env := e.rosterEnv(ctx, tx, cid, pass.pairs)
	env.createAt = createAhead(env, append(slices.Clone(pass.creates), order...))
	// keysAt are the key changes this screening accepted, by the version
	// they distribute: a backfilled message under one of them is judged at
	// its place before the key change is stored (memberAtPlace).
	keysAt := map[string]string{}
	env.screened = func(version, seq string) bool {
		at, ok := keysAt[version]
		return ok && decimal.Less(at, seq)
	}
	pageKeys := pageKeyVersions(evs)
	var out []event.Anomaly
	exp := exposures{cid: cid}
	verdicts := map[string]error{}
	ids := passIDs{}
	var judged []*event.Event // the messages this screening accepted
	for _, ev := range order {
		verdict, seen := verdicts[ev.SequenceID]
		if !seen {
			verdict, seen, err = storedVerdict(ctx, tx, cid, ev)
			if err != nil {
				return nil, err
			}
		}
		if !seen {
			// A replay of a stored event, or of one accepted earlier in
			// this screening (its message id under a new sequence id),
			// is refused when stored (gateReplay): it must not advance
			// the roster, not even here.
			if verdict, err = ids.replayOf(ctx, tx, cid, ev); err != nil {
				return nil, err
			}
			seen = verdict != nil
		}
		if !seen {
			if ev.Verified {
				pass.markStepped(ev.SequenceID)
			}
			before := r.beforeGrant(ev)
			res := r.screen(env, ev)
			// The storing gate judges it again, with the page stored
			// below it.
			if err := judgeAtPlace(ctx, tx, env, &r, before, ev, &res); err != nil {
				return nil, err
			}
			if res.anomaly != nil {
				out = append(out, *res.anomaly)
			}
			verdict = res.err
			if verdict == nil && ev.Verified && ev.Kind == event.KindMessage {
				judged = append(judged, ev)
			}
			if kc := ev.KeyChange; verdict == nil && ev.Verified && kc != nil && keysAt[kc.Version] == "" {
				keysAt[kc.Version] = ev.SequenceID
			}
			if verdict == nil && r.Base != "" {
				// Rule 5: judged against the roster as it stands here,
				// and settled by a member add paired with the key change.
				// A backfilled key change stands at its place: judged
				// against whom the group changes below it admit there.
				members := r.effective()
				if kc := ev.KeyChange; kc != nil && kc.DecryptOnly == event.DecryptOnlyBackfilled {
					if members, err = participantsAtPlace(ctx, tx, cid, &r, ev, members); err != nil {
						return nil, err
					}
				}
				exp.judge(ev, members)
			}
		}
		verdicts[ev.SequenceID] = verdict
		if verdict != nil {
			reject(ev, verdict)
		}
		ids.accept(ev)
	}
	for _, ev := range judged {
		verdict, err := keyRefused(ctx, tx, cid, ev, pageKeys, keysAt)
		if err != nil {
			return nil, err
		}
		if verdict != nil {
			reject(ev, verdict)
		}
	}
	return append(out, exp.found()...), nil
}

// errKeyRefused is the verdict of a message whose key only key changes of
// its page distribute, none of them accepted.
var errKeyRefused = fmt.Errorf("%w: its key is distributed only by key changes refused", xchat.ErrUnknownKeyVersion)

// pageKeyVersions returns the key versions whose keys the key changes of
// a page's events evs bring (signed ones: an unverified legacy key change
// decrypts history without being judged).
func pageKeyVersions(evs []*event.Event) map[string]bool {
	var vs map[string]bool
	for _, ev := range evs {
		if kc := ev.KeyChange; kc != nil && kc.Key != nil && kc.DecryptOnly != event.DecryptOnlyUnverified && decimal.Valid(kc.Version) {
			if vs == nil {
				vs = map[string]bool{}
			}
			vs[kc.Version] = true
		}
	}
	return vs
}

// keyRefused judges, once the screening has judged the whole page, a
// message it accepted (ev, verified) decrypted under a key version the
// store did not hold before its page, only key changes of the page
// bringing it (pageKeys): the pipeline decrypts a page's events in the
// order served, key changes before what they open, ahead of any roster
// check. When the screening accepted none of them (keysAt: a removed
// member's key change made after her removal, her message under it
// placed below the removal, where she was a member), the message stands
// on a key the group never gave, and fails, as it fails on a device
// served the key change after it (refused there, its key never held).
// The verdict is errKeyRefused, or nil.
func keyRefused(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event, pageKeys map[string]bool, keysAt map[string]string) (error, error) {
	if ev.Message == nil || !ev.Verified {
		return nil, nil
	}
	v := ev.Message.KeyVersion
	if !pageKeys[v] || keysAt[v] != "" {
		return nil, nil
	}
	held, err := tx.ConversationKey(ctx, cid, v)
	switch {
	case err == nil:
		held.Key.Zero()
		return nil, nil
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, err
	}
	return fmt.Errorf("%w (version %s)", errKeyRefused, v), nil
}

// screen is step for an event that may not have verified: an unverified
// event changes nothing and is only checked for its author's membership.
func (r *rosterRec) screen(env rosterEnv, ev *event.Event) stepResult {
	if ev.Verified {
		return r.step(env, ev)
	}
	if r.Base != "" && !r.member(ev.SenderID) && !(ev.GroupChange != nil && ev.GroupChange.Kind == event.GroupJoinRequested) {
		return stepResult{err: fmt.Errorf("%w: sender %s is not a member of %s", xchat.ErrNotMember, ev.SenderID, env.cid)}
	}
	return stepResult{}
}

// errStoredFailed is the verdict of a re-served event stored as failed.
var errStoredFailed = errors.New("session: event stored as failed before")

// errStoredOther is the verdict of an event served under a sequence id
// stored with other bytes.
var errStoredOther = fmt.Errorf("%w: sequence id already stored with other bytes", xchat.ErrServerResponse)

// storedVerdict returns the verdict of the stored event at ev's sequence
// id: nil when it verified, why it failed otherwise; stored is false when
// none is stored. A stored verdict stands only for the same bytes: other
// bytes under a stored sequence id are never stored (storedCopy: the
// server equivocates), so they are refused (xchat.ErrServerResponse) rather
// than judged by the stored event's verdict. Otherwise a key change served
// under the sequence id of a stored message would skip the roster checks
// and its key be adopted, while its key change never reaches the history.
func storedVerdict(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) (verdict error, stored bool, err error) {
	if st, ok, err := storedAt(ctx, tx, cid, ev); err != nil {
		return nil, false, err
	} else if ok {
		switch {
		case !st.stored:
			return nil, false, nil
		case !st.damaged && !bytes.Equal(st.raw, ev.Raw):
			return fmt.Errorf("%w (%s)", errStoredOther, ev.SequenceID), true, nil
		case st.verified || st.removed:
			return nil, true, nil
		}
		return fmt.Errorf("%w: %s", errStoredFailed, st.errText), true, nil
	}
	old, err := eventAt(ctx, tx, cid, ev.SequenceID)
	if err != nil || old == nil {
		return nil, false, err
	}
	en := entryFromStored(cid, old)
	same := bytes.Equal(old.Raw, ev.Raw)
	old.Body.Zero()
	switch {
	case old.Type != keystore.DamagedType && !same:
		return fmt.Errorf("%w (%s)", errStoredOther, ev.SequenceID), true, nil
	case en.Verified || en.Removed:
		return nil, true, nil
	}
	return fmt.Errorf("%w: %s", errStoredFailed, en.Error), true, nil
}

// gateRoster re-runs the roster step inside the storing transaction, at
// ev's place in the transcript (events are stored oldest first), rejects
// ev when it fails and stores the roster it leaves. An event the step
// rejected while screening is stepped again for its effects (a divergent
// member add excludes, an own add is read back) but never applied.
func (e *Engine) gateRoster(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event, pass *rosterPass) error {
	r, err := loadRoster(ctx, tx, cid)
	if err != nil {
		return err
	}
	env := e.rosterEnv(ctx, tx, cid, pass.pairs)
	var res stepResult
	unheld := r.Base == ""
	switch {
	case ev.Verified:
		var before *rosterHolders
		if grants(ev.GroupChange) {
			before = r.holders()
		}
		held := r.beforeGrant(ev)
		res = r.step(env, ev)
		asStored := res.err
		if err := judgeAtPlace(ctx, tx, env, &r, held, ev, &res); err != nil {
			return err
		}
		if res.err != nil {
			reject(ev, res.err)
		} else if err := noteGrantAtPlace(ctx, tx, cid, ev, asStored); err != nil {
			return err
		} else if err := noteHeld(ctx, tx, cid, ev, before); err != nil {
			return err
		} else if err := noteApplied(ctx, tx, cid, ev); err != nil {
			return err
		} else if err := noteVouched(ctx, tx, cid, e.userID, ev, before); err != nil {
			return err
		} else if unheld && ev.GroupChange != nil && ev.GroupChange.Kind == event.GroupCreated && r.Base == baseCreate {
			failed, err := e.rejudgeBeforeCreate(ctx, tx, cid, ev, &r)
			if err != nil {
				return err
			}
			pass.failedByCreate(cid, ev.SequenceID, failed)
		}
	case pass.stepped[ev.SequenceID]:
		if res = r.step(env, ev); res.err == nil {
			return nil
		}
	default:
		if res = r.screen(env, ev); res.err != nil {
			reject(ev, res.err)
		}
	}
	if !res.changed {
		return nil
	}
	if err := r.save(ctx, tx, cid); err != nil {
		return err
	}
	if res.err == nil && ev.GroupChange != nil && ev.GroupChange.Kind == event.GroupCreated && validMessageID(ev.MessageID) {
		if err := tx.SetValue(ctx, createIndexKey(ev.MessageID), []byte(cid)); err != nil {
			return err
		}
	}
	c, err := e.conversationRecord(ctx, tx, cid)
	if err != nil {
		return err
	}
	c.Members = r.effective()
	return tx.PutConversation(ctx, c)
}

// gateDelete rejects (xchat.ErrNotAuthorized) a verified delete-for-all naming a
// stored message of another author, or a stored event that is not a
// message at all: only a message's author may delete it for everyone, and
// nobody deletes the record of a group change, key change or delete (an
// admin erasing her own member add would hide whom she let in). Only a
// verified stored event has a known author and kind: what an unverified
// event claims is the server's word, so such a target neither rejects nor
// vouches for the delete (see applyDelete).
func gateDelete(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	d := ev.Delete
	if d == nil || d.Action != event.DeleteForAll {
		return nil
	}
	for _, seq := range d.SequenceIDs {
		old, err := eventAt(ctx, tx, cid, seq)
		if err != nil || old == nil {
			if err != nil {
				return err
			}
			continue
		}
		old.Body.Zero()
		if old.Verified && old.SenderID != ev.SenderID {
			reject(ev, fmt.Errorf("%w: %s deletes for everyone message %s of %s", xchat.ErrNotAuthorized, ev.SenderID, seq, old.SenderID))
			return nil
		}
		if old.Verified && !deletableType(old.Type) {
			reject(ev, fmt.Errorf("%w: %s deletes for everyone %s %s; only messages may be deleted", xchat.ErrNotAuthorized, ev.SenderID, old.Type, seq))
			return nil
		}
	}
	return nil
}

// deletableType reports whether a stored event of type t may be removed by
// a delete for everyone: a message (text, reaction, edit and the other
// message contents), never the record of a signed change to the
// conversation nor a read marker. It must agree with settle, which
// removes only a message (event.KindMessage) when the delete came first:
// a device served the delete before its target must end as one served
// the target first.
func deletableType(t string) bool {
	switch t {
	case event.TypeGroupChange, event.TypeKeyChange, event.TypeDelete,
		event.KindConversationDelete.String(), event.KindMetadataChange.String(),
		event.KindMarkRead.String(), event.KindMarkUnread.String():
		return false
	}
	return true
}

// gateReplay rejects (xchat.ErrReplayed) a signed event whose message id is
// already stored under another sequence id. The message id is bound into
// the signature, so a verified event under a new sequence id is an old
// event the server re-sequenced.
func gateReplay(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	verdict, err := replayOf(ctx, tx, cid, ev)
	if verdict == nil && err == nil {
		verdict, err = unboundCreateReplay(ctx, tx, cid, ev, nil)
	}
	if verdict != nil {
		reject(ev, verdict)
	}
	return err
}

// replayOf returns a *replayedError when ev's message id is held by a
// verified stored event under another sequence id. An unverified stored
// event holds nothing: its message id is the server's word (a forgery
// under a genuine id must not make the genuine event a "replay"), and the
// index prefers a verified event over unverified ones (see
// keystore.HistoryStore.EventByMessageID).
func replayOf(ctx context.Context, h interface {
	EventByMessageID(ctx context.Context, cid, mid string) (*keystore.StoredEvent, error)
}, cid string, ev *event.Event) (verdict, err error) {
	if !ev.Kind.Signed() || !validMessageID(ev.MessageID) {
		return nil, nil
	}
	old, err := h.EventByMessageID(ctx, cid, ev.MessageID)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	old.Body.Zero()
	if old.Verified && old.SequenceID != ev.SequenceID {
		return &replayedError{original: old.SequenceID}, nil
	}
	return nil, nil
}

// passIDs holds the message ids of the events one screening accepted as
// verified, each with its sequence id: the store will hold them when it
// stores the page (oldest first, as the screening reads it), so a second
// event under one of them at another sequence id is a replay here
// already, as gateReplay will find it when storing.
type passIDs map[string]string

// replayOf is the package replayOf, with the events accepted earlier in
// the pass counted as stored.
func (p passIDs) replayOf(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) (error, error) {
	if seq, ok := p[ev.MessageID]; ok && ev.Kind.Signed() && validMessageID(ev.MessageID) && seq != ev.SequenceID {
		return &replayedError{original: seq}, nil
	}
	if verdict, err := replayOf(ctx, tx, cid, ev); verdict != nil || err != nil {
		return verdict, err
	}
	return unboundCreateReplay(ctx, tx, cid, ev, p)
}

// holds reports whether an event the screening accepted as verified lies
// at seq (the store will hold it there, verified).
func (p passIDs) holds(seq string) bool {
	for _, at := range p {
		if at == seq {
			return true
		}
	}
	return false
}

// accept records ev's message id when ev leaves the screening verified.
func (p passIDs) accept(ev *event.Event) {
	if ev.Verified && ev.Err == nil && ev.Kind.Signed() && validMessageID(ev.MessageID) {
		if _, ok := p[ev.MessageID]; !ok {
			p[ev.MessageID] = ev.SequenceID
		}
	}
}

// replayedError is the Event.Err of a replay: it matches xchat.ErrReplayed and
// names the sequence id the message id is stored under.
type replayedError struct{ original string }

func (e *replayedError) Error() string {
	return fmt.Sprintf("%v: message id already stored as sequence id %s", xchat.ErrReplayed, e.original)
}

func (e *replayedError) Unwrap() error { return xchat.ErrReplayed }
