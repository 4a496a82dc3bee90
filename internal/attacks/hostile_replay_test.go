package attacks

import (
	"errors"
	"net/http"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks of the sixth outside review: replays the store has not
// seen yet, and a message-id index that trusts unverified events.

var replayAttacks = []attack{
	{"member-add-replayed-within-page-readmits", attackAddReplayedWithinPage},
	{"unverified-copy-blocks-genuine-message-id", attackUnverifiedBlocksGenuine},
	{"unverified-copy-acks-queued-send", attackUnverifiedAcksSend},
	{"key-change-replayed-within-page-dm", attackKeyChangeReplayedWithinPageDM},
}

// attackAddReplayedWithinPage: one page holds alice's add of mallory, her
// removal of mallory, the add's signed bytes again under a newer sequence
// id (the server re-sequences it: the message id is signed, the sequence
// id is not), and then a key change signed by mallory at a newer version,
// wrapped to the three members only (so that nothing looks exposed). None
// of it is stored before the page is screened: a replay check that asks
// only the store lets the copy re-admit mallory while the page is
// screened, and her key would become the group's encryption key.
func attackAddReplayedWithinPage(w *world) (string, error) {
	gr := newGroup(w)
	mallory := w.newUser("mallory", false)
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	add, err := gr.alice.memberAdd(gr.env(gr.top(1), gr.hello.SequenceID, 601), c.KeyVersion, []string{mallory.id}, c.Members, c.Admins)
	if err != nil {
		return "", err
	}
	rm, err := gr.alice.removal(gr.env(gr.top(2), gr.top(1), 602), mallory.id)
	if err != nil {
		return "", err
	}
	replay := *add
	replay.SequenceID, replay.PreviousSequenceID = strp(gr.top(3)), strp(gr.top(2))
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	version := futureVersion()
	kc, err := mallory.forger().KeyChange(gr.env(gr.top(4), gr.top(3), 603), version, key,
		[]hostile.Recipient{gr.alice.recipient(), gr.bob.recipient(), gr.carol.recipient()})
	if err != nil {
		return "", err
	}
	w.injectData("replay-within-page", gr.g, encodeAll(w, &replay, rm, add)...)
	w.injectKeyChange("readmitted-key", gr.g, kc, false)
	sends := w.watchSends(key)
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		return "", r.err
	}
	_, serr := gr.bob.e.SendText(w.ctx, gr.g, "bob after mallory's removal")
	if l := sends.leaks(); len(l) > 0 {
		return "", errorf("bob encrypted to the key of a removed member re-admitted by a replay (%v; send: %v)", l, serr)
	}
	if err := keyNotHeld(gr.bob, gr.g, version); err != nil {
		return "", errorf("mallory's key change, accepted while a replayed add re-admitted her: %w", err)
	}
	after, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	if slices.Contains(after.Members, mallory.id) {
		return "", errorf("mallory still a member after her removal: %v", after.Members)
	}
	replayErr, err := seqErr(r, replay.GetSequenceID(), xchat.ErrReplayed)
	if err != nil {
		return "", err
	}
	kcErr, err := eventErr(r, kc.GetMessageID(), xchat.ErrNotMember)
	if err != nil {
		return "", err
	}
	return "replay refused while screening (" + replayErr.Error() + "); her key change refused: " + kcErr.Error(), nil
}

// keyNotHeld returns an error when u holds a conversation key of cid at
// version: usable, it would encrypt to its maker; decrypt-only, it would
// still make an honest key change of that version fail ErrKeyConflict.
func keyNotHeld(u *user, cid, version string) error {
	k, err := u.store.ConversationKey(u.w.ctx, cid, version)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	k.Key.Zero()
	return errorf("key version %s by %s stored (verified %v)", version, k.CreatedBy, k.Verified)
}

// seqErr returns the error the sync reported for the event at sequence id
// seq, or an error saying why that is not a rejection of the expected
// kind.
func seqErr(r *syncResult, seq string, target error) (error, error) {
	for _, ev := range r.events {
		if ev.SequenceID != seq {
			continue
		}
		if !errors.Is(ev.Err, target) {
			return nil, errorf("event at %s: error %v, want %v", seq, ev.Err, target)
		}
		return ev.Err, nil
	}
	return nil, errorf("event at %s not reported", seq)
}

// impostor returns a forger that signs as u with another user's signing
// key: what it signs claims u's sender id and never verifies.
func impostor(u, key *user) *hostile.Forger {
	return &hostile.Forger{UserID: u.id, KeyVersion: u.e.PublicKeyVersion(), Signing: key.keys().Signing}
}

// attackUnverifiedBlocksGenuine: the server moves alice's first message
// to the top of the conversation (sequence ids are not signed) and serves
// just below it an event under the same message id and sender that does
// not verify (signed with another key). Stored first (as failed), the
// unverified copy must not make alice's genuine message a "replay" of it:
// only a verified event holds a message id.
func attackUnverifiedBlocksGenuine(w *world) (string, error) {
	d := newDM(w, "the genuine m1", "m2")
	mallory := w.newUser("mallory", false)
	if r := d.alice.sync(d.cid); r.err != nil {
		return "", r.err
	}
	c, err := d.alice.e.Conversation(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	var genuine *tevent.MessageEvent
	for _, me := range w.serverEvents(d.alice, d.path) {
		if me.GetMessageID() == d.mid(0) {
			genuine = me
		}
	}
	if genuine == nil {
		return "", errorf("setup: alice's first message not served")
	}
	top := w.newestSeq(d.alice, d.path)
	fseq, gseq := hostile.NextSequenceID(top, 1), hostile.NextSequenceID(top, 2)
	env := hostile.Envelope{SequenceID: fseq, PreviousSequenceID: top, MessageID: d.mid(0), ConversationID: d.cid}
	forged, err := impostor(d.alice, mallory).Message(env, c.KeyVersion, d.alice.convKey(d.cid, c.KeyVersion), text("the forged m1"))
	if err != nil {
		return "", err
	}
	genuine.SequenceID, genuine.PreviousSequenceID = strp(gseq), strp(fseq)
	moved := encodeAll(w, genuine, forged)
	w.proxy.Add(hostile.Events("move-under-unverified", func(r *http.Request, page *api.GetChatConversationEventsResponse) error {
		if hostile.ConversationOf(r.URL.Path) != d.path {
			return nil
		}
		page.Data = slices.DeleteFunc(page.Data, func(e api.ChatMessageEvent) bool { return hostile.MessageID(e.EncodedEvent) == d.mid(0) })
		for _, b := range moved {
			page.Data = append(page.Data, api.ChatMessageEvent{EncodedEvent: b})
		}
		slices.SortFunc(page.Data, func(a, b api.ChatMessageEvent) int { return decimal.Compare(seqOf(b), seqOf(a)) })
		return nil
	}))
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	if err := d.bob.forgedShown(d.cid, nil, []string{"the forged m1"}); err != nil {
		return "", err
	}
	if !slices.Contains(d.bob.verifiedTexts(d.cid), "the genuine m1") {
		gerr, _ := seqErrAny(r, gseq)
		return "", errorf("alice's genuine message lost to an unverified copy of its message id: %v", gerr)
	}
	ferr, seen := seqErrAny(r, fseq)
	if !seen || ferr == nil {
		return "", errorf("the unverified copy was not reported as failed (seen %v)", seen)
	}
	return "genuine message verified; the unverified copy failed alone: " + ferr.Error(), nil
}

// seqOf is the sequence id of a served event ("" when it does not decode).
func seqOf(e api.ChatMessageEvent) string {
	me, err := hostile.DecodeEvent(e.EncodedEvent)
	if err != nil {
		return ""
	}
	return me.GetSequenceID()
}

// attackUnverifiedAcksSend: the server answers bob's post 503 without
// storing it, then serves an event under that post's message id and bob's
// sender id that does not verify. Finding "his" message stored must not
// make bob's engine take the send for delivered and drop it: only a
// verified copy is his message.
func attackUnverifiedAcksSend(w *world) (string, error) {
	d := newDM(w, "hello bob")
	mallory := w.newUser("mallory", false)
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", r.err
	}
	w.proxy.Add(hostile.Rule{Name: "swallow-post", Method: http.MethodPost, Path: hostile.PathMessages, Token: d.bob.token, Times: 1,
		Request: func(r *http.Request) { r.URL.Path = "/2/swallowed" }, // never reaches alice
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			resp.Status, resp.Body = http.StatusServiceUnavailable, []byte(`{"title":"Service Unavailable"}`)
			return nil
		}})
	said := "bob's words that must not be lost"
	if _, err := d.bob.e.Send(w.ctx, d.cid, session.Outgoing{Text: said}); !errors.Is(err, xchat.ErrQueued) {
		return "", errorf("setup: bob's swallowed post: %v, want ErrQueued", err)
	}
	items, err := d.bob.store.Outbox(w.ctx)
	if err != nil || len(items) != 1 {
		return "", errorf("setup: bob's outbox holds %d items (%v), want 1", len(items), err)
	}
	mid := items[0].MessageID
	items[0].Body.Zero()
	c, err := d.bob.e.Conversation(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	top := w.newestSeq(d.alice, d.path)
	env := hostile.Envelope{SequenceID: hostile.NextSequenceID(top, 1), PreviousSequenceID: top, MessageID: mid, ConversationID: d.cid}
	forged, err := impostor(d.bob, mallory).Message(env, c.KeyVersion, d.bob.convKey(d.cid, c.KeyVersion), text("not what bob said"))
	if err != nil {
		return "", err
	}
	w.injectData("unverified-own", d.path, encodeAll(w, forged)...)
	_, flushErr := d.bob.e.FlushOutbox(w.ctx)
	if r := d.alice.sync(d.cid); r.err != nil {
		return "", r.err
	}
	if slices.Contains(d.alice.verifiedTexts(d.cid), said) {
		return "bob's send delivered after all (flush: " + errText(flushErr) + ")", nil
	}
	left, err := d.bob.store.Outbox(w.ctx)
	if err != nil {
		return "", err
	}
	for _, it := range left {
		it.Body.Zero()
		if it.MessageID == mid {
			return "bob's send kept queued: " + errText(flushErr), nil
		}
	}
	return "", errorf("bob's send dropped from the outbox, never delivered (flush: %v)", flushErr)
}

// errText is err's message, or "no error".
func errText(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// seqErrAny returns the error the sync reported for the event at seq, and
// whether it was reported at all.
func seqErrAny(r *syncResult, seq string) (error, bool) {
	for _, ev := range r.events {
		if ev.SequenceID == seq {
			return ev.Err, true
		}
	}
	return nil, false
}

// attackKeyChangeReplayedWithinPageDM: on bob's first sync of a one-to-one
// conversation, the server serves alice's key change twice in one page:
// first (before the original) a copy of its signed bytes under a newer
// sequence id. The copy carries the same key, so adopting it changes
// nothing; it must fail as a replay, alone: the original and the messages
// under its key verify, and the sync goes on.
func attackKeyChangeReplayedWithinPageDM(w *world) (string, error) {
	d := newDM(w, "under the first key")
	kcs := w.serverKeyChanges(d.alice, d.path)
	if len(kcs) != 1 {
		return "", errorf("setup: %d key changes served, want 1", len(kcs))
	}
	replay := *kcs[0]
	top := w.newestSeq(d.alice, d.path)
	replay.SequenceID, replay.PreviousSequenceID = strp(hostile.NextSequenceID(top, 1)), strp(top)
	b64 := encodeAll(w, &replay)[0]
	w.proxy.Add(hostile.Events("key-change-twice", func(r *http.Request, page *api.GetChatConversationEventsResponse) error {
		if hostile.ConversationOf(r.URL.Path) != d.path || page.Meta == nil {
			return nil
		}
		page.Meta.ConversationKeyEvents = append([]string{b64}, page.Meta.ConversationKeyEvents...)
		return nil
	}))
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", errorf("a key change served twice in one page failed the sync: %w", r.err)
	}
	if !slices.Contains(d.bob.verifiedTexts(d.cid), "under the first key") {
		return "", errorf("alice's message under the original key change not verified")
	}
	if err, _ := seqErrAny(r, kcs[0].GetSequenceID()); err != nil {
		return "", errorf("the original key change failed: %w", err)
	}
	rerr, err := seqErr(r, replay.GetSequenceID(), xchat.ErrReplayed)
	if err != nil {
		return "", err
	}
	return "copy refused alone: " + rerr.Error(), nil
}
