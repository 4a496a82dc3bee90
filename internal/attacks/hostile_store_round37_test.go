package attacks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
)

// Red team round 37: the store-side speed-ups (the settle count, look-ups
// by sequence id, a send's key checks in one transaction, the batch's
// memory of key changes) and crash safety (TestSyncCrash).

var storeRound37Attacks = []attack{
	{"delete-of-own-read-marker-served-before-it", attackDeleteOwnReadMarkerFirst},
	{"edit-of-own-reaction-served-before-it", attackEditOwnReactionFirst},
	{"reply-preview-claim-served-before-its-quote", attackPreviewClaimBeforeQuote},
}

// markReadEvent is u's signed MarkConversationReadEvent at env, seen until
// seq.
func markReadEvent(f *hostile.Forger, env hostile.Envelope, seq string) (*tevent.MessageEvent, error) {
	p, err := crypto.MarkReadPayload(crypto.SignatureVersion,
		crypto.Header{MessageID: env.MessageID, SenderID: f.UserID, ConversationID: env.ConversationID}, seq, nil)
	if err != nil {
		return nil, err
	}
	return f.Action(env, &tevent.MessageEventDetail{MarkConversationReadEvent: &tevent.MarkConversationReadEvent{SeenUntilSequenceID: &seq}}, p)
}

// attackDeleteOwnReadMarkerFirst: alice's signed read marker, then her
// delete for everyone naming it (her engine lets her delete any event of
// hers that is not a change to the conversation). A device that stores the
// marker first judges the delete against it when the delete comes; the
// server serves bob the delete first (its target withheld: the delete is
// pending) and the marker in a later sync, where settle judges it. A fresh
// device served both at once judges it as the first. Unless the two rules
// agree on which events a delete for everyone may remove, bob's history
// and a fresh device's differ on whether alice's delete verified and the
// marker stands.
func attackDeleteOwnReadMarkerFirst(w *world) (string, error) {
	d := newDM(w)
	last := d.sent[len(d.sent)-1].SequenceID
	mark, err := markReadEvent(d.alice.forger(), envAfter(last, d.cid, 1, 3701), last)
	if err != nil {
		return "", err
	}
	del, err := deleteEvent(d.alice.forger(), envAfter(last, d.cid, 2, 3702), mark.GetSequenceID())
	if err != nil {
		return "", err
	}
	backup, err := d.bob.e.ExportBackup()
	if err != nil {
		return "", err
	}
	w.injectData("delete-first", d.path, encodeAll(w, del)...)
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", r.err
	}
	w.proxy.Reset()
	w.injectData("marker-below-its-delete", d.path, encodeAll(w, del, mark)...)
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", r.err
	}
	late, err := d.bob.e.History(w.ctx, d.cid, "", 0)
	if err != nil {
		return "", err
	}
	fresh, err := freshHistory(w, d, backup)
	if err != nil {
		return "", err
	}
	l, f := shownAt(late, mark.GetSequenceID(), del.GetSequenceID()), shownAt(fresh, mark.GetSequenceID(), del.GetSequenceID())
	switch {
	case !f.found || !l.found:
		return "", errorf("setup: the marker or the delete not stored (fresh %+v, bob %+v)", f, l)
	case l != f:
		return "", errorf("bob, served the delete before the marker, shows the marker removed %v and the delete verified %v (%s); a fresh device shows %v and %v (%s)",
			l.removed, l.delVerified, l.delErr, f.removed, f.delVerified, f.delErr)
	case f.removed || f.delVerified || !strings.Contains(f.delErr, xchat.ErrNotAuthorized.Error()):
		return "", errorf("a delete for everyone removed alice's read marker (removed %v, delete verified %v): only messages may be deleted", f.removed, f.delVerified)
	}
	return fmt.Sprintf("bob and a fresh device agree: the delete of a read marker fails (%s), the marker stands", l.delErr), nil
}

// markerShown is what a history shows of a target (a read marker, a
// reaction) and of the action naming it (a delete, an edit: del*).
type markerShown struct {
	found       bool
	removed     bool
	delVerified bool
	delErr      string
}

// shownAt reads from h the entry at seq (removed or not) and the action
// at delSeq.
func shownAt(h []event.Entry, seq, delSeq string) markerShown {
	var s markerShown
	n := 0
	for _, en := range h {
		switch en.SequenceID {
		case seq:
			s.removed = en.Removed
			n++
		case delSeq:
			s.delVerified, s.delErr = en.Verified, en.Error
			n++
		}
	}
	s.found = n == 2
	return s
}

// freshHistory is what a fresh device of bob's (his identity imported
// from backup) shows of the dm after one sync.
func freshHistory(w *world, d *dm, backup []byte) ([]event.Entry, error) {
	ctx, cancel := context.WithTimeout(w.ctx, time.Minute)
	defer cancel()
	store := keystore.NewMemory()
	if err := session.ImportBackup(ctx, store, d.bob.id, backup, d.bob.e.PublicKeyVersion()); err != nil {
		return nil, err
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(d.bob.client))
	if err != nil {
		return nil, err
	}
	defer e.Close()
	if _, err := e.Sync(ctx, d.cid, nil); err != nil {
		return nil, err
	}
	return e.History(ctx, d.cid, "", 0)
}

// attackEditOwnReactionFirst: alice reacts to a message and then signs an
// edit naming her reaction (only a text message is edited: a device that
// stores the reaction first rejects the edit, gateAuthorship). The server
// serves bob the edit first, withholding the reaction (the edit verifies,
// its target not stored, and is pending), then the reaction, where settle
// judges the edit. A fresh device served both at once rejects it. Unless
// settle holds the edit to the same rule, bob's history keeps alice's edit
// of her reaction verified where a fresh device shows it failed.
func attackEditOwnReactionFirst(w *world) (string, error) {
	d := newDM(w)
	react, err := d.alice.e.Send(w.ctx, d.cid, session.Outgoing{React: d.sent[0].SequenceID, Emoji: "👍"})
	if err != nil {
		return "", err
	}
	c, err := d.alice.e.Conversation(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	edit, err := editEvent(d.alice.forger(), envAfter(react.SequenceID, d.cid, 1, 3711), c.KeyVersion, d.alice.convKey(d.cid, c.KeyVersion), react.SequenceID, "a reaction is no text")
	if err != nil {
		return "", err
	}
	backup, err := d.bob.e.ExportBackup()
	if err != nil {
		return "", err
	}
	w.withhold("reaction-withheld", react.MessageID)
	w.injectData("edit-first", d.path, encodeAll(w, edit)...)
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", r.err
	}
	w.proxy.Reset()
	w.injectData("edit-above-its-reaction", d.path, encodeAll(w, edit)...)
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", r.err
	}
	late, err := d.bob.e.History(w.ctx, d.cid, "", 0)
	if err != nil {
		return "", err
	}
	fresh, err := freshHistory(w, d, backup)
	if err != nil {
		return "", err
	}
	l, f := shownAt(late, react.SequenceID, edit.GetSequenceID()), shownAt(fresh, react.SequenceID, edit.GetSequenceID())
	switch {
	case !f.found || !l.found:
		return "", errorf("setup: the reaction or the edit not stored (fresh %+v, bob %+v)", f, l)
	case f.delVerified:
		return "", errorf("setup: a fresh device took alice's edit of her reaction as verified")
	case l.delVerified:
		return "", errorf("bob, served alice's edit before her reaction, keeps the edit of a reaction verified; a fresh device fails it (%s)", f.delErr)
	}
	return fmt.Sprintf("bob and a fresh device fail the edit of a reaction (%s)", l.delErr), nil
}

// attackPreviewClaimBeforeQuote: reply-preview-sequence-claim-mismatch
// with the quoted message served after the reply. alice quotes her own
// "I owe you 5" and her preview claims the sequence id of her "the deal is
// off". A device that stores the quoted message first finds the claim
// false (ErrPreviewSequence). The server serves bob the reply first,
// withholding the quoted message, then the quoted message. Unless the
// claim is checked when the quoted message arrives (settle), bob keeps
// the preview valid, pointing at the other message, where a fresh device
// shows it invalid.
func attackPreviewClaimBeforeQuote(w *world) (string, error) {
	d := newDM(w, "hello")
	m1, err := d.alice.e.SendText(w.ctx, d.cid, "I owe you 5")
	if err != nil {
		return "", err
	}
	m2, err := d.alice.e.SendText(w.ctx, d.cid, "the deal is off")
	if err != nil {
		return "", err
	}
	reply, err := d.alice.e.Send(w.ctx, d.cid, session.Outgoing{Text: "noted", ReplyTo: m1.SequenceID})
	if err != nil {
		return "", err
	}
	claim := func() func() error {
		return d.forgeReplyPreview("claim", reply, func(p *product.ReplyingToPreview) {
			p.ReplyingToMessageSequenceID = strp(m2.SequenceID)
			p.RawEventMessageCreate.SequenceID = strp(m2.SequenceID)
		})
	}
	backup, err := d.bob.e.ExportBackup()
	if err != nil {
		return "", err
	}
	failed := claim()
	w.withhold("quote-withheld", m1.MessageID)
	if r := d.bob.sync(d.cid); r.err != nil || failed() != nil {
		return "", errors.Join(r.err, failed())
	}
	w.proxy.Reset()
	failed = claim()
	if r := d.bob.sync(d.cid); r.err != nil || failed() != nil {
		return "", errors.Join(r.err, failed())
	}
	late, err := d.bob.e.History(w.ctx, d.cid, "", 0)
	if err != nil {
		return "", err
	}
	fresh, err := freshHistory(w, d, backup)
	if err != nil {
		return "", err
	}
	l, f := previewOf(late, reply.MessageID), previewOf(fresh, reply.MessageID)
	switch {
	case l == nil || f == nil:
		return "", errorf("setup: the reply or its preview not stored (bob %v, fresh %v)", l, f)
	case f.Validation == "valid":
		return "", errorf("setup: a fresh device took the preview claiming %s as valid", m2.SequenceID)
	case l.Validation != f.Validation:
		return "", errorf("bob, served the reply before the message it quotes, shows its preview %s (claiming %s); a fresh device shows it %s",
			l.Validation, l.SequenceID, f.Validation)
	}
	return "bob and a fresh device show the false claim's preview " + l.Validation, nil
}

// previewOf returns the reply preview of the entry with message id mid in
// h (nil for none).
func previewOf(h []event.Entry, mid string) *event.Reply {
	for _, en := range h {
		if en.MessageID == mid {
			return en.ReplyTo
		}
	}
	return nil
}
