package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// Authorship of edits, deletes and quotes. Only a message's author may edit
// it or delete it for everyone (the XDK's MessageDeleteParams: "Delete for
// every participant (true, own messages only)"; no admin may). Edits and
// deletes name their target by sequence id, which nobody signs, so the
// check needs the target as this account stored it: when the target is
// stored, a non-author's edit or delete is rejected before it takes effect
// (xchat.ErrNotAuthorized); when it is not (yet), the action is recorded as
// pending and settled when the target arrives (settle): an author's delete
// then removes it, anyone else's action is rejected after the fact. Reply
// previews are bound the same way: the quoted message by its signed
// message id, an embedded edit by the sequence id its author signed.

// Names of the pending-action records (values).
func pendingDeleteKey(cid, seq string) string  { return "session/pending-delete/" + cid + "/" + seq }
func pendingPreviewKey(cid, mid string) string { return "session/pending-preview/" + cid + "/" + mid }
func notAuthorized(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{xchat.ErrNotAuthorized}, a...)...)
}

// maxPending bounds the pending actions recorded per target.
const maxPending = 16

// pendingAction is an edit, delete or reply that named a target this
// account had not stored.
type pendingAction struct {
	Seq     string `json:"seq"`               // the action's sequence id
	By      string `json:"by,omitempty"`      // a delete's author
	Claimed string `json:"claimed,omitempty"` // a preview's claimed sequence id
	Edit    string `json:"edit,omitempty"`    // a preview's embedded edit target
	More    int    `json:"more,omitempty"`    // an overflow mark's further records
}

// gateAuthorship runs, before a verified event is stored, the checks of
// authorship that need the target as stored: an edit of another author's
// message, a delete naming events not before it, and the binding of a reply
// preview's quoted message and embedded edit.
func (e *Engine) gateAuthorship(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	if !ev.Verified {
		return nil
	}
	if d := ev.Delete; d != nil {
		for _, seq := range d.SequenceIDs {
			if !decimal.ValidID(seq) || !decimal.Less(seq, ev.SequenceID) {
				reject(ev, fmt.Errorf("%w: delete %s names sequence id %q, not an earlier event", xchat.ErrMalformed, ev.SequenceID, seq))
				return nil
			}
		}
	}
	if m := ev.Message; m != nil && m.Kind == event.ContentEdit && m.Edit != nil {
		target, err := eventAt(ctx, tx, cid, m.Edit.TargetSequenceID)
		if err != nil {
			return err
		}
		if target != nil {
			target.Body.Zero()
			// An unverified target's sender is the server's word: it
			// decides nothing (the edit is settled if a verified event
			// ever takes its place; see settle).
			if target.Verified && (target.SenderID != ev.SenderID || target.Type != event.TypeMessage) {
				reject(ev, notAuthorized("%s edits %s %s of %s", ev.SenderID, target.Type, target.SequenceID, target.SenderID))
			}
		}
		return nil
	}
	return e.bindPreview(ctx, tx, cid, ev)
}

// bindPreview checks a valid reply preview against the quoted message as
// stored: the preview's claimed sequence id and the embedded edit's target
// must be the sequence id under which this account stored the message the
// signed source event names. Without the quoted message stored, a preview
// embedding an edit is not validated; either is recorded to be settled
// when the quoted message arrives.
func (e *Engine) bindPreview(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	m := ev.Message
	if m == nil || m.Text == nil || m.Text.ReplyPreview == nil || m.Text.ReplyPreview.Validation.Status != event.PreviewValid {
		return nil
	}
	p := m.Text.ReplyPreview
	v := &p.Validation
	orig, err := tx.EventByMessageID(ctx, cid, v.SourceMessageID)
	if err == nil && !orig.Verified {
		// Only a verified event holds its message id: an unverified one's
		// ids are the server's word. Wait for a verified one, as for a
		// quote not stored yet.
		orig.Body.Zero()
		err = keystore.ErrNotFound
	}
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		pend := pendingAction{Seq: ev.SequenceID, Claimed: p.SequenceID, Edit: v.EditTargetSequenceID}
		if v.EditTargetSequenceID == "" {
			if p.SequenceID == "" {
				return nil // nothing to check against the quoted message
			}
			// The claimed sequence id is checked when the quoted message
			// arrives (settle), as it is on a device that stored it
			// first; until then the preview stands on its signed source.
			return addPendingBounded(ctx, tx, cid, pendingPreviewKey(cid, v.SourceMessageID), pend)
		}
		v.Status, v.Reason = event.PreviewNotValidated, inbound.ErrPreviewEditUnconfirmed
		return addPendingBounded(ctx, tx, cid, pendingPreviewKey(cid, v.SourceMessageID), pend)
	case err != nil:
		return err
	}
	orig.Body.Zero()
	*v = previewVerdict(*v, p.SequenceID, orig.SequenceID)
	return nil
}

// previewVerdict checks a preview's claimed sequence id and embedded edit
// target against the quoted message's stored sequence id.
func previewVerdict(v event.PreviewValidation, claimed, stored string) event.PreviewValidation {
	switch {
	case claimed != "" && claimed != stored:
		v.Status, v.Reason = event.PreviewInvalid, inbound.ErrPreviewSequence
	case v.EditTargetSequenceID != "" && v.EditTargetSequenceID != stored:
		v.Status, v.Reason = event.PreviewInvalid, inbound.ErrPreviewEdit
	default:
		v.Status, v.Reason = event.PreviewValid, nil
	}
	return v
}

// notePendingDeletes records the targets of a verified delete for everyone
// that this account has not stored (or stored unverified), to be settled
// when a verified event arrives there.
func (e *Engine) notePendingDeletes(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	if d := ev.Delete; d == nil || d.Action != event.DeleteForAll || !ev.Verified {
		return nil
	}
	for _, seq := range ev.Delete.SequenceIDs {
		old, err := eventAt(ctx, tx, cid, seq)
		if err != nil {
			return err
		}
		if old != nil {
			old.Body.Zero()
			if old.Verified {
				continue
			}
		}
		if err := addPendingBounded(ctx, tx, cid, pendingDeleteKey(cid, seq), pendingAction{Seq: ev.SequenceID, By: ev.SenderID}); err != nil {
			return err
		}
	}
	return nil
}

// settle applies, once ev is stored, the actions that named it before it
// was: an edit indexed for it by someone other than its author is
// rejected; a delete for everyone by its author removes it, by anyone else
// is rejected; a reply preview that quoted it is bound.
func (e *Engine) settle(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	if !decimal.ValidID(ev.SequenceID) || !ev.Verified {
		return nil // an unverified event's sender decides nothing
	}
	if n, err := settleCount(ctx, tx, cid); err != nil || n == 0 {
		return err // nothing pending in cid: nothing to settle
	}
	if err := e.settleEdit(ctx, tx, cid, ev); err != nil {
		return err
	}
	dels, err := takePending(ctx, tx, cid, pendingDeleteKey(cid, ev.SequenceID))
	if err != nil {
		return err
	}
	if i := slices.Index(dels, pendingAction{Seq: pendingOverflow}); i >= 0 {
		// More deletes named ev than were recorded: all of them, from
		// the history (those recorded among them too: judged again,
		// they change nothing).
		if dels, err = overflowedDeletes(ctx, tx, cid, ev.SequenceID); err != nil {
			return err
		}
	}
	for _, d := range dels {
		stands, err := deleteStands(ctx, tx, cid, d)
		if err != nil {
			return err
		}
		if !stands {
			continue // failed since it was recorded: it erases nothing
		}
		if d.By == ev.SenderID && ev.Kind == event.KindMessage {
			del := &event.Event{SenderID: d.By, Delete: &event.Delete{SequenceIDs: []string{ev.SequenceID}, Action: event.DeleteForAll}}
			if err := e.applyDelete(ctx, tx, cid, del); err != nil {
				return err
			}
			continue
		}
		cause := notAuthorized("%s deleted %s for everyone before this account saw it; its author is %s", d.By, ev.SequenceID, ev.SenderID)
		if d.By == ev.SenderID {
			// As gateDelete words it for a target stored first.
			cause = notAuthorized("%s deletes for everyone %s %s; only messages may be deleted", d.By, ev.Kind, ev.SequenceID)
		}
		if err := flipEntry(ctx, tx, cid, d.Seq, cause); err != nil {
			return err
		}
	}
	if !validMessageID(ev.MessageID) {
		return nil
	}
	quotes, err := takePending(ctx, tx, cid, pendingPreviewKey(cid, ev.MessageID))
	if err != nil {
		return err
	}
	if i := slices.Index(quotes, pendingAction{Seq: pendingOverflow}); i >= 0 {
		quotes = slices.Delete(quotes, i, i+1)
		more, err := overflowedPreviews(ctx, tx, cid, ev.MessageID, quotes)
		if err != nil {
			return err
		}
		quotes = append(quotes, more...)
	}
	for _, q := range quotes {
		v := previewVerdict(event.PreviewValidation{Status: event.PreviewValid, EditTargetSequenceID: q.Edit}, q.Claimed, ev.SequenceID)
		if err := setReplyValidation(ctx, tx, cid, q.Seq, v.Status.String()); err != nil {
			return err
		}
	}
	return nil
}

// deleteStands reports whether the delete pending action d names is
// stored verified still, by d's author: re-judging (rejudgeLate) may have
// failed it since it was recorded (its author removed below it), and a
// delete that failed erases nothing, as on a device that stored its
// target first.
func deleteStands(ctx context.Context, tx keystore.Tx, cid string, d pendingAction) (bool, error) {
	del, err := eventAt(ctx, tx, cid, d.Seq)
	if err != nil || del == nil {
		return false, err
	}
	del.Body.Zero()
	return del.Verified && del.SenderID == d.By && del.Type == event.TypeDelete, nil
}

// settleEdit judges, once ev is stored, the edits of it stored before it
// was (see indexEdit): each is rejected (xchat.ErrNotAuthorized) unless ev
// is a text message (see editable) of the edit's author, as gateAuthorship
// rejects one stored after its target. The edit index of ev then names the
// newest edit that stands: when it named a rejected edit, the newest edit
// by ev's author below it (none: the index is cleared), as on a device
// that stored ev first and never indexed the rejected one.
func (e *Engine) settleEdit(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	pend, err := takePending(ctx, tx, cid, pendingEditKey(cid, ev.SequenceID))
	if err != nil {
		return err
	}
	author := "" // whose edits of ev stand: nobody's unless ev is text
	if editable(ev) {
		author = ev.SenderID
	}
	complete := true // pend holds every edit of ev stored (see addPendingBounded)
	for _, p := range pend {
		if p.Seq == pendingOverflow {
			complete = false
			if err := rejectEditsOf(ctx, tx, cid, ev, author); err != nil {
				return err
			}
			continue
		}
		if err := rejectEdit(ctx, tx, cid, p.Seq, ev, author); err != nil {
			return err
		}
	}
	key := editIndexKey(cid, ev.SequenceID)
	raw, err := tx.Value(ctx, key)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	edit, derr := wire.DecodeMessageEvent(raw)
	if derr == nil && author != "" && edit.GetSenderID() == author {
		return nil
	}
	var newest []byte
	if derr == nil {
		if err := rejectEdit(ctx, tx, cid, edit.GetSequenceID(), ev, author); err != nil {
			return err
		}
		if author != "" {
			if newest, err = newestAuthorsEdit(ctx, tx, cid, ev.SequenceID, edit.GetSequenceID(), pend, complete, author); err != nil {
				return err
			}
		}
	}
	return tx.SetValue(ctx, key, newest)
}

// newestAuthorsEdit returns the wire bytes of the newest standing edit of
// target by author below seq (the edit the index named, rejected), nil for
// none. An edit's place is the server's word (an edit may be stored below
// its target), so it is looked for among the pending edits pend: every
// edit of target stored while target was not stored verified, and the
// edits the index held before them (see indexEdit), which include the
// newest of the author's stored while target stood verified. No history
// is read, unless an older overflow mark left pend incomplete: then the
// history below seq, from its start.
func newestAuthorsEdit(ctx context.Context, tx keystore.Tx, cid, target, seq string, pend []pendingAction, complete bool, author string) ([]byte, error) {
	if !complete {
		return newestStandingEdit(ctx, tx, cid, "", target, seq, author)
	}
	return newestPendingEdit(ctx, tx, cid, target, pend, author)
}

// newestPendingEdit returns the wire bytes of the newest (by sequence id)
// of the pending edits pend of target that is stored verified, by author
// (nil for none).
func newestPendingEdit(ctx context.Context, tx keystore.Tx, cid, target string, pend []pendingAction, author string) ([]byte, error) {
	var newest []byte
	top := ""
	for _, p := range pend {
		if top != "" && !decimal.Less(top, p.Seq) {
			continue
		}
		st, err := eventAt(ctx, tx, cid, p.Seq)
		if err != nil {
			return nil, err
		}
		if st == nil {
			continue
		}
		if st.Verified && st.Type == event.TypeEdit && st.SenderID == author && entryFromStored(cid, st).TargetSequenceID == target {
			newest, top = bytes.Clone(st.Raw), st.SequenceID
		}
		st.Body.Zero()
	}
	return newest, nil
}

// pendingOverflow is the pending action recorded, once, when maxPending
// actions naming one target are. Its More is the count of further records
// (pendingMoreKey) holding the actions past the bound, maxPending each,
// which takePending returns with the others: settling a target costs the
// actions that name it, not a walk of the history per target (a member's
// deletes, each naming many targets, overflowed every one of them). A mark
// without More (written before the further records existed) has settle
// read the history for every action naming the target (rejectEditsOf,
// overflowedDeletes, overflowedPreviews).
const pendingOverflow = "overflow"

// pendingMoreKey names the i-th further record (from 1) of the pending
// actions stored under name. The number comes first: no name can make
// another's further record (a quoted message id is the signer's word).
func pendingMoreKey(name string, i int) string {
	return "session/pending-more/" + strconv.Itoa(i) + "/" + name
}

// addPendingBounded appends a to the pending actions of cid stored under
// name (see addPending); past maxPending of them, to the last of the
// further records the overflow mark counts (see pendingOverflow), so that
// an action beyond the bound is still judged when its target arrives.
func addPendingBounded(ctx context.Context, tx keystore.Tx, cid, name string, a pendingAction) error {
	list, err := readPending(ctx, tx, name)
	if err != nil {
		return err
	}
	if len(list) < maxPending || slices.Contains(list, a) {
		return addPending(ctx, tx, cid, name, a)
	}
	i := slices.IndexFunc(list, func(x pendingAction) bool { return x.Seq == pendingOverflow })
	if i < 0 {
		list = append(list, pendingAction{Seq: pendingOverflow})
		i = len(list) - 1
	} else if list[i].More == 0 {
		return nil // an older mark: settle reads the history
	}
	var more []pendingAction
	if n := list[i].More; n > 0 {
		if more, err = readPending(ctx, tx, pendingMoreKey(name, n)); err != nil {
			return err
		}
		if slices.Contains(more, a) {
			return nil
		}
	}
	if list[i].More == 0 || len(more) >= maxPending {
		list[i].More++
		more = nil
		b, err := json.Marshal(list)
		if err != nil {
			return err
		}
		if err := tx.SetValue(ctx, name, b); err != nil { // counted when it was written first
			return err
		}
	}
	b, err := json.Marshal(append(more, a))
	if err != nil {
		return err
	}
	return tx.SetValue(ctx, pendingMoreKey(name, list[i].More), b)
}

// addPendingEdit records the edit at seq of the event at target, stored
// while no verified event was stored there, for settleEdit.
func addPendingEdit(ctx context.Context, tx keystore.Tx, cid, target, seq string) error {
	return addPendingBounded(ctx, tx, cid, pendingEditKey(cid, target), pendingAction{Seq: seq})
}

// rejectEdit fails the stored verified edit at seq, an edit of target ev,
// unless author (of ev, "" for none whose edit stands) made it.
func rejectEdit(ctx context.Context, tx keystore.Tx, cid, seq string, ev *event.Event, author string) error {
	ed, err := eventAt(ctx, tx, cid, seq)
	if err != nil || ed == nil {
		return err
	}
	ed.Body.Zero()
	if !ed.Verified || ed.Type != event.TypeEdit || (author != "" && ed.SenderID == author) {
		return nil
	}
	return flipEntry(ctx, tx, cid, seq, notAuthorized("%s edited %s %s of %s", ed.SenderID, ev.Entry().Type, ev.SequenceID, ev.SenderID))
}

// rejectEditsOf runs rejectEdit for every stored edit of ev: the pending
// edits of ev overflowed (a flood of edits stored before it). The whole
// history is read: an edit's own sequence id is the server's word, so it
// may lie below its target.
func rejectEditsOf(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event, author string) error {
	var edits []string
	err := scanHistory(ctx, tx, cid, func(st *keystore.StoredEvent) {
		if st.Verified && st.Type == event.TypeEdit && st.SenderID != author && entryFromStored(cid, st).TargetSequenceID == ev.SequenceID {
			edits = append(edits, st.SequenceID)
		}
	})
	if err != nil {
		return err
	}
	for _, seq := range edits {
		if err := rejectEdit(ctx, tx, cid, seq, ev, author); err != nil {
			return err
		}
	}
	return nil
}

// overflowedDeletes returns, as pending actions, the stored verified
// deletes for everyone naming seq: the pending deletes of seq overflowed.
func overflowedDeletes(ctx context.Context, tx keystore.Tx, cid, seq string) ([]pendingAction, error) {
	var out []pendingAction
	err := scanHistory(ctx, tx, cid, func(st *keystore.StoredEvent) {
		if !st.Verified || st.Type != event.TypeDelete {
			return
		}
		if en := entryFromStored(cid, st); en.DeleteForAll && slices.Contains(en.Deleted, seq) {
			out = append(out, pendingAction{Seq: st.SequenceID, By: st.SenderID})
		}
	})
	return out, err
}

// overflowedPreviews returns, as pending actions, the stored verified
// replies quoting message mid whose preview stands valid and that known
// does not hold: the pending previews of mid overflowed. A preview that
// embeds an edit was recorded not validated, and stays so (its edit's
// target is not kept in the entry).
func overflowedPreviews(ctx context.Context, tx keystore.Tx, cid, mid string, known []pendingAction) ([]pendingAction, error) {
	var out []pendingAction
	err := scanHistory(ctx, tx, cid, func(st *keystore.StoredEvent) {
		if !st.Verified || slices.ContainsFunc(known, func(a pendingAction) bool { return a.Seq == st.SequenceID }) {
			return
		}
		if r := entryFromStored(cid, st).ReplyTo; r != nil && r.MessageID == mid && r.Validation == event.PreviewValid.String() && r.SequenceID != "" {
			out = append(out, pendingAction{Seq: st.SequenceID, Claimed: r.SequenceID})
		}
	})
	return out, err
}

// scanHistory calls fn for every event stored in cid, oldest first, its
// body zeroed after.
func scanHistory(ctx context.Context, tx keystore.Tx, cid string, fn func(*keystore.StoredEvent)) error {
	for after := ""; ; {
		evs, err := tx.Events(ctx, cid, after, rejudgePage)
		if err != nil {
			return fmt.Errorf("session: reading history: %w", err)
		}
		for i := range evs {
			fn(&evs[i])
			evs[i].Body.Zero()
		}
		if len(evs) < rejudgePage {
			return nil
		}
		after = evs[len(evs)-1].SequenceID
	}
}

// editable reports whether ev is stored as a message (event.TypeMessage,
// as Event.Entry types it), the only event an edit may name: the rule
// gateAuthorship applies to a target stored before its edit, which settle
// must apply to one stored after (a reaction, an edit or a read marker is
// no text to edit).
func editable(ev *event.Event) bool {
	return ev.Kind == event.KindMessage && (ev.Message == nil || ev.Message.Kind == event.ContentText)
}

// addPending appends a to the pending actions of cid stored under name,
// counting a new record in cid's settle count.
func addPending(ctx context.Context, tx keystore.Tx, cid, name string, a pendingAction) error {
	list, err := readPending(ctx, tx, name)
	if err != nil {
		return err
	}
	for _, x := range list {
		if x == a {
			return nil
		}
	}
	if len(list) >= maxPending {
		return nil
	}
	b, err := json.Marshal(append(list, a))
	if err != nil {
		return err
	}
	if err := tx.SetValue(ctx, name, b); err != nil {
		return err
	}
	if len(list) > 0 {
		return nil // counted when it was written first
	}
	// An unreadable record replaced is counted again: the count stays
	// above the records, which is safe.
	return bumpSettleCount(ctx, tx, cid, 1)
}

// takePending returns and removes the pending actions of cid stored under
// name, taking the record off cid's settle count.
func takePending(ctx context.Context, tx keystore.Tx, cid, name string) ([]pendingAction, error) {
	list, err := readPending(ctx, tx, name)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	if err := tx.SetValue(ctx, name, nil); err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(list, func(x pendingAction) bool { return x.Seq == pendingOverflow && x.More > 0 }); i >= 0 {
		// The actions past the bound, in the further records the mark
		// counts (see pendingOverflow), in the mark's place.
		n := list[i].More
		list = slices.Delete(list, i, i+1)
		for j := 1; j <= n; j++ {
			more, err := readPending(ctx, tx, pendingMoreKey(name, j))
			if err != nil {
				return nil, err
			}
			if err := tx.SetValue(ctx, pendingMoreKey(name, j), nil); err != nil {
				return nil, err
			}
			list = append(list, more...)
		}
	}
	return list, bumpSettleCount(ctx, tx, cid, -1)
}

func readPending(ctx context.Context, tx keystore.Tx, name string) ([]pendingAction, error) {
	b, err := tx.Value(ctx, name)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	var list []pendingAction
	if json.Unmarshal(b, &list) != nil {
		return nil, nil // unreadable: as if nothing were pending
	}
	return list, nil
}

// flipEntry marks the stored entry at seq failed with cause: it is no
// longer verified and its text is dropped, so an action rejected after the
// fact shows and does nothing.
func flipEntry(ctx context.Context, tx keystore.Tx, cid, seq string, cause error) error {
	old, err := eventAt(ctx, tx, cid, seq)
	if err != nil || old == nil {
		return err
	}
	en := entryFromStored(cid, old)
	old.Body.Zero()
	return putFlipped(ctx, tx, cid, en, old.Raw, cause)
}

// putFlipped stores en (read from the store, its wire bytes raw) marked
// failed with cause, as flipEntry does.
func putFlipped(ctx context.Context, tx keystore.Tx, cid string, en event.Entry, raw []byte, cause error) error {
	if !en.Verified {
		return nil
	}
	en.Verified = false
	if en.Error == "" {
		en.Error = cause.Error()
	} else {
		en.Error += "; " + cause.Error()
	}
	en.Text, en.Entities = "", nil
	return tx.PutEvents(ctx, cid, []keystore.StoredEvent{storeEntry(&en, raw, "")})
}

// setReplyValidation updates the stored validation of the reply at seq.
func setReplyValidation(ctx context.Context, tx keystore.Tx, cid, seq, validation string) error {
	old, err := eventAt(ctx, tx, cid, seq)
	if err != nil || old == nil {
		return err
	}
	en := entryFromStored(cid, old)
	old.Body.Zero()
	if en.ReplyTo == nil {
		return nil
	}
	en.ReplyTo.Validation = validation
	return tx.PutEvents(ctx, cid, []keystore.StoredEvent{storeEntry(&en, old.Raw, "")})
}

// verifiedEdit returns the edit indexed as the latest of the message at
// seq of cid when the event stored at its sequence id is that edit and
// stands verified (nil otherwise): re-judging (rejudgeLate) fails an edit
// a removed member made without touching the index.
func (e *Engine) verifiedEdit(ctx context.Context, cid, seq string) *tevent.MessageEvent {
	raw, err := e.store.Value(ctx, editIndexKey(cid, seq))
	if err != nil {
		return nil
	}
	edit, err := wire.DecodeMessageEvent(raw)
	if err != nil {
		return nil
	}
	st, err := eventAt(ctx, e.store, cid, edit.GetSequenceID())
	if err != nil || st == nil {
		return nil
	}
	st.Body.Zero()
	if !st.Verified || !bytes.Equal(st.Raw, raw) {
		return nil
	}
	return edit
}
