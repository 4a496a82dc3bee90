package attacks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
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
	{"non-author-edit-behind-authors-later-edit-before-target", attackNonAuthorEditBehindAuthors},
	{"authors-edit-below-non-author-edit-before-target", attackAuthorsEditBelowNonAuthors},
	{"non-author-edit-flood-before-target", attackNonAuthorEditFlood},
	{"non-author-delete-flood-before-target", attackNonAuthorDeleteFlood},
	{"reply-preview-claim-flood-before-its-quote", attackPreviewClaimFlood},
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
	late, fresh, err := servedInTwo(w, d.bob, d.cid, injection{"delete-first", []*tevent.MessageEvent{del}},
		injection{"marker-below-its-delete", []*tevent.MessageEvent{del, mark}})
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

// injection is a named set of events the proxy serves as the newest data
// of a conversation (world.injectData).
type injection struct {
	name string
	evs  []*tevent.MessageEvent
}

// servedInTwo syncs u's device in cid twice: first with the proxy's rules
// as the caller set them (a withheld target) and first injected, then,
// the proxy reset, with then injected. It returns u's history and what a
// fresh device of u's, its identity from a backup taken before the first
// sync, shows after one sync (freshHistory).
func servedInTwo(w *world, u *user, cid string, first, then injection) (late, fresh []event.Entry, err error) {
	backup, err := u.e.ExportBackup()
	if err != nil {
		return nil, nil, err
	}
	path := api.ConversationPathID(cid)
	w.injectData(first.name, path, encodeAll(w, first.evs...)...)
	if r := u.sync(cid); r.err != nil {
		return nil, nil, r.err
	}
	w.proxy.Reset()
	w.injectData(then.name, path, encodeAll(w, then.evs...)...)
	if r := u.sync(cid); r.err != nil {
		return nil, nil, r.err
	}
	if late, err = u.e.History(w.ctx, cid, "", 0); err != nil {
		return nil, nil, err
	}
	fresh, err = freshHistory(w, u, cid, backup)
	return late, fresh, err
}

// freshHistory is what a fresh device of u's (its identity imported from
// backup, taken before u synced what is compared) shows of cid after one
// sync.
func freshHistory(w *world, u *user, cid string, backup []byte) ([]event.Entry, error) {
	ctx, cancel := context.WithTimeout(w.ctx, time.Minute)
	defer cancel()
	store := keystore.NewMemory()
	if err := session.ImportBackup(ctx, store, u.id, backup, u.e.PublicKeyVersion()); err != nil {
		return nil, err
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(u.client))
	if err != nil {
		return nil, err
	}
	defer e.Close()
	if _, err := e.Sync(ctx, cid, nil); err != nil {
		return nil, err
	}
	return e.History(ctx, cid, "", 0)
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
	w.withhold("reaction-withheld", react.MessageID)
	late, fresh, err := servedInTwo(w, d.bob, d.cid, injection{"edit-first", []*tevent.MessageEvent{edit}},
		injection{"edit-above-its-reaction", []*tevent.MessageEvent{edit}})
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
	return previewClaimsBeforeQuote(w, 1)
}

// attackPreviewClaimFlood: reply-preview-claim-served-before-its-quote
// with 20 such replies, more than the engine records for one quoted
// message (maxPending): every one must be judged when it arrives.
func attackPreviewClaimFlood(w *world) (string, error) {
	return previewClaimsBeforeQuote(w, 20)
}

// previewClaimsBeforeQuote plays the scene of
// reply-preview-claim-served-before-its-quote with n replies.
func previewClaimsBeforeQuote(w *world, n int) (string, error) {
	d := newDM(w, "hello")
	m1, err := d.alice.e.SendText(w.ctx, d.cid, "I owe you 5")
	if err != nil {
		return "", err
	}
	m2, err := d.alice.e.SendText(w.ctx, d.cid, "the deal is off")
	if err != nil {
		return "", err
	}
	var replies []*session.Sent
	for i := range n {
		reply, err := d.alice.e.Send(w.ctx, d.cid, session.Outgoing{Text: fmt.Sprintf("noted (%d)", i), ReplyTo: m1.SequenceID})
		if err != nil {
			return "", err
		}
		replies = append(replies, reply)
	}
	claim := func() func() error {
		var fails []func() error
		for i, reply := range replies {
			fails = append(fails, d.forgeReplyPreview(fmt.Sprintf("claim-%d", i), reply, func(p *product.ReplyingToPreview) {
				p.ReplyingToMessageSequenceID = strp(m2.SequenceID)
				p.RawEventMessageCreate.SequenceID = strp(m2.SequenceID)
			}))
		}
		return func() error {
			var errs []error
			for _, f := range fails {
				errs = append(errs, f())
			}
			return errors.Join(errs...)
		}
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
	fresh, err := freshHistory(w, d.bob, d.cid, backup)
	if err != nil {
		return "", err
	}
	for _, reply := range replies {
		l, f := previewOf(late, reply.MessageID), previewOf(fresh, reply.MessageID)
		switch {
		case l == nil || f == nil:
			return "", errorf("setup: the reply or its preview not stored (bob %v, fresh %v)", l, f)
		case f.Validation == "valid":
			return "", errorf("setup: a fresh device took the preview claiming %s as valid", m2.SequenceID)
		case l.Validation != f.Validation:
			return "", errorf("bob, served %d replies before the message they quote, shows the preview of %s %s (claiming %s); a fresh device shows it %s",
				n, reply.SequenceID, l.Validation, l.SequenceID, f.Validation)
		}
	}
	return fmt.Sprintf("bob and a fresh device show the false claims' %d previews invalid", n), nil
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

// attackNonAuthorEditBehindAuthors: non-author-edit-before-its-target-arrives
// with alice's own edit of her message above carol's. The server serves
// bob both edits first, withholding alice's message: both verify (the
// target not stored) and alice's, the later, is indexed as the message's
// latest text. Then the message. A fresh device served all three fails
// carol's edit (ErrNotAuthorized). settle judged only the edit the index
// holds, alice's, so carol's edit of alice's message stayed verified in
// bob's history: an event a fresh device fails kept as verified.
func attackNonAuthorEditBehindAuthors(w *world) (string, error) {
	return editsBeforeTarget(w, []bool{false, true})
}

// attackAuthorsEditBelowNonAuthors: the same with carol's edit above
// alice's: carol's, indexed last, is rejected when the message arrives,
// and the index was cleared, where a fresh device indexes alice's edit
// (carol's never was): bob's reply to alice's message quoted her original
// words, a fresh device's quotes her edit.
func attackAuthorsEditBelowNonAuthors(w *world) (string, error) {
	return editsBeforeTarget(w, []bool{true, false})
}

// attackNonAuthorEditFlood: 20 edits of alice's message by carol, then
// one by alice, all served before the message (more than the engine
// records for one target: maxPending): every one of carol's fails when
// the message arrives, as on a fresh device.
func attackNonAuthorEditFlood(w *world) (string, error) {
	byAlice := make([]bool, 21)
	byAlice[20] = true
	return editsBeforeTarget(w, byAlice)
}

// editsBeforeTarget plays the edits-before-their-target scene: alice's
// message, then edits of it in order, by alice where byAlice says so, by
// carol otherwise. Bob is served the edits first, the message withheld,
// then everything. Every one of carol's edits must fail on bob's device,
// alice's last edit stand, and his reply to the message quote it, as a
// fresh device's does.
func editsBeforeTarget(w *world, byAlice []bool) (string, error) {
	gr := newGroup(w)
	said := gr.alice.send(gr.g, "the meeting is at 9")[0]
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	key := gr.alice.convKey(gr.g, c.KeyVersion)
	var edits []*tevent.MessageEvent
	var carols []string
	honest := ""
	for i, a := range byAlice {
		by, text := gr.carol, fmt.Sprintf("carol: the meeting is off (%d)", i)
		if a {
			by, text = gr.alice, fmt.Sprintf("the meeting is at 10 (%d)", i)
			honest = text
		}
		ed, err := editEvent(by.forger(), envAfter(said.SequenceID, gr.g, uint64(i+1), 3720+i), c.KeyVersion, key, said.SequenceID, text)
		if err != nil {
			return "", err
		}
		edits = append(edits, ed)
		if !a {
			carols = append(carols, ed.GetSequenceID())
		}
	}
	w.withhold("message-withheld", said.MessageID)
	late, fresh, err := servedInTwo(w, gr.bob, gr.g, injection{"edits-first", edits}, injection{"edits-above-their-target", edits})
	if err != nil {
		return "", err
	}
	for _, seq := range carols {
		l, f := shownAt(late, said.SequenceID, seq), shownAt(fresh, said.SequenceID, seq)
		switch {
		case !f.found || !l.found:
			return "", errorf("setup: the message or carol's edit %s not stored (fresh %+v, bob %+v)", seq, f, l)
		case f.delVerified:
			return "", errorf("setup: a fresh device took carol's edit of alice's message as verified")
		case l.delVerified:
			return "", errorf("bob, served %d edits before alice's message, keeps carol's edit %s of it verified; a fresh device fails it (%s)", len(edits), seq, f.delErr)
		}
	}
	quoted, err := quoteInPost(w, gr.bob, gr.g, said.SequenceID)
	switch {
	case err != nil:
		return "", errorf("bob's reply to alice's message: %v", err)
	case quoted != honest:
		return "", errorf("bob's reply quotes %q, where a fresh device quotes alice's edit %q", quoted, honest)
	}
	return fmt.Sprintf("%d of carol's edits fail as on a fresh device; bob's reply quotes alice's edit", len(carols)), nil
}

// attackNonAuthorDeleteFlood: non-author-delete-before-its-target-arrives
// with 20 of carol's deletes for everyone of alice's message, all served
// before the message (more than the engine records for one target:
// maxPending). A fresh device served everything fails each
// (ErrNotAuthorized); unless every one is judged when the message
// arrives, those past the bound stay verified on bob's device.
func attackNonAuthorDeleteFlood(w *world) (string, error) {
	gr := newGroup(w)
	said := gr.alice.send(gr.g, "the meeting is at 9")[0]
	var dels []*tevent.MessageEvent
	for i := range 20 {
		del, err := deleteEvent(gr.carol.forger(), envAfter(said.SequenceID, gr.g, uint64(i+1), 3750+i), said.SequenceID)
		if err != nil {
			return "", err
		}
		dels = append(dels, del)
	}
	w.withhold("message-withheld", said.MessageID)
	late, fresh, err := servedInTwo(w, gr.bob, gr.g, injection{"deletes-first", dels}, injection{"deletes-above-their-target", dels})
	if err != nil {
		return "", err
	}
	for _, del := range dels {
		l, f := shownAt(late, said.SequenceID, del.GetSequenceID()), shownAt(fresh, said.SequenceID, del.GetSequenceID())
		switch {
		case !f.found || !l.found:
			return "", errorf("setup: the message or carol's delete %s not stored (fresh %+v, bob %+v)", del.GetSequenceID(), f, l)
		case f.delVerified || f.removed:
			return "", errorf("setup: a fresh device took carol's delete of alice's message as verified")
		case l.removed:
			return "", errorf("carol's deletes erased alice's message on bob's device")
		case l.delVerified:
			return "", errorf("bob, served %d deletes before alice's message, keeps carol's delete %s of it verified; a fresh device fails it (%s)", len(dels), del.GetSequenceID(), f.delErr)
		}
	}
	return fmt.Sprintf("all %d of carol's deletes fail as on a fresh device", len(dels)), nil
}
