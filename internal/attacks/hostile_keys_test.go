package attacks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
)

// keyAttacks are the hostile-server attacks on peer key history, unverified
// keys, memory bounds, edits, deletes and previews (issue #11): the issue's
// own, then ours.
var keyAttacks = slices.Concat(issueKeyAttacks, ownKeyAttacks)

// issueKeyAttacks are items 1, 8, 9, 10, 11, 12 and 13 of issue #11.
var issueKeyAttacks = []attack{
	{"backdated-peer-key-version", attackBackdatedPeerKey},
	{"forged-key-below-enforcement-sequence", attackForgedKeyLowSequence},
	{"forged-unverified-key-at-max-version", attackUnverifiedMaxVersion},
	{"superseded-signing-key-makes-encryption-key", attackSupersededSigner},
	{"participant-amplification-page", attackParticipantAmplification},
	{"withheld-message-hidden-by-non-author-delete", attackNonAuthorDeleteHidesGap},
	{"reply-preview-edit-of-another-message", attackPreviewEditOfOtherMessage},
	{"edit-of-another-members-message", attackEditOfOtherMember},
}

// forgedMID returns a distinct forged message id.
func forgedMID(n int) string { return fmt.Sprintf("0b7c1a52-2222-4c4c-8888-%012d", n) }

// env returns the envelope of a forged event placed after seq.
func envAfter(seq, cid string, delta uint64, n int) hostile.Envelope {
	prev := seq
	if delta > 1 {
		prev = hostile.NextSequenceID(seq, delta-1)
	}
	return hostile.Envelope{SequenceID: hostile.NextSequenceID(seq, delta), PreviousSequenceID: prev,
		MessageID: forgedMID(n), ConversationID: cid}
}

// textHolder is the plaintext of a text message.
func textHolder(text string) *product.MessageEntryHolder {
	return &product.MessageEntryHolder{Contents: &product.MessageEntryContents{Message: &product.MessageContents{MessageText: &text}}}
}

// publishAlso makes the proxy list extra key sets for user of, next to the
// ones the server holds (batch and single lookups).
func (w *world) publishAlso(name, of string, extra ...api.PublicKey) {
	w.proxy.Add(hostile.PublicKeys(name, func(r *http.Request, keys []api.PublicKey) ([]api.PublicKey, error) {
		single := r.URL.Path == "/2/users/"+of+"/public_keys"
		if !single && !slices.ContainsFunc(keys, func(k api.PublicKey) bool { return k.UserID == of }) {
			return keys, nil
		}
		for _, k := range extra {
			k.UserID = of
			keys = append(keys, k)
		}
		return keys, nil
	}))
}

// eventOf returns the event with message id mid of a sync, or nil.
func (s *syncResult) eventOf(mid string) *event.Event {
	for _, ev := range s.events {
		if ev.MessageID == mid {
			return ev
		}
	}
	return nil
}

// keyReports returns the KeyChanged reports of kind for user in a sync
// result.
func keyReports(r *syncResult, kind session.KeyChangeKind, user string) []session.KeyChanged {
	if r.res == nil {
		return nil
	}
	var out []session.KeyChanged
	for _, k := range r.res.KeyChanges {
		if k.Kind == kind && k.UserID == user {
			out = append(out, k)
		}
	}
	return out
}

// attackBackdatedPeerKey (issue #11, item 1): after bob pinned alice, the
// server lists an extra, older version of alice's keys (its own key pair,
// with a valid self-binding) and signs a key change and a message as alice
// with it.
func attackBackdatedPeerKey(w *world) (string, error) {
	d, c, err := syncedDMView(w)
	if err != nil {
		return "", err
	}
	mallory := w.newUser("mallory", false)
	old := w.publishedKeys(mallory)
	old.PublicKeyVersion = "1000"
	w.publishAlso("backdate", d.alice.id, old)
	f := &hostile.Forger{UserID: d.alice.id, KeyVersion: "1000", Signing: mallory.keys().Signing}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	forged, last := futureVersion(), d.sent[2].SequenceID
	toServer := hostile.Recipient{UserID: d.alice.id, KeyVersion: "1000", Identity: mallory.keys().Identity.PublicKey()}
	kc, err := f.KeyChange(envAfter(last, d.cid, 1, 1), forged, key, []hostile.Recipient{d.bob.recipient(), toServer})
	if err != nil {
		return "", err
	}
	text := "alice: my bank details changed, pay the new account"
	msg, err := f.Message(envAfter(last, d.cid, 2, 2), forged, key, textHolder(text))
	if err != nil {
		return "", err
	}
	w.injectKeyChange("backdated-kc", d.path, kc, false)
	mb, err := hostile.EncodeEvent(msg)
	if err != nil {
		return "", err
	}
	w.injectData("backdated-msg", d.path, mb)
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	if err := d.bob.forgedShown(d.cid, []string{kc.GetMessageID(), msg.GetMessageID()}, []string{text}); err != nil {
		return "", errorf("message signed with a backdated key shown as alice's: %w", err)
	}
	if err := keyVersionHeld(d.bob, d.cid, c.KeyVersion, forged); err != nil {
		return "", err
	}
	reports := keyReports(r, session.KeyBackdated, d.alice.id)
	if len(reports) == 0 || reports[0].New == nil || reports[0].New.Version != "1000" {
		return "", errorf("backdated version not reported in the sync result: %+v", r.res.KeyChanges)
	}
	if !slices.ContainsFunc(d.bob.keyChanges(), func(k session.KeyChanged) bool { return k.Kind == session.KeyBackdated }) {
		return "", errorf("backdated version not reported to the key change handler")
	}
	p, err := d.bob.e.Peer(w.ctx, d.alice.id)
	if err != nil {
		return "", err
	}
	for _, k := range p.History {
		if k.Version == "1000" {
			return "", errorf("backdated version stored in alice's key history")
		}
	}
	ev := r.eventOf(msg.GetMessageID())
	if ev == nil || !errors.Is(ev.Err, inbound.ErrUnknownSigningKey) {
		return "", errorf("forged message: %+v", ev)
	}
	return fmt.Sprintf("version 1000 refused (%s, fingerprint %.8s…); forged message: %v", reports[0].Kind, reports[0].New.Fingerprint, ev.Err), nil
}

// fixedClockDM is a DM whose sender, alice, keys versions from a fixed
// clock, so her next rotation's version (the version held + 1) is known to
// the server in advance.
func fixedClockDM(w *world) (*dm, string) {
	at := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	alice := w.newUser("alice", false, session.WithClock(func() time.Time { return at }))
	bob := w.newUser("bob", true)
	sent := alice.send(bob.id, "m1", "m2", "m3")
	cid := sent[0].ConversationID
	return &dm{w: w, alice: alice, bob: bob, cid: cid, path: api.ConversationPathID(cid), sent: sent}, strconv.FormatInt(at.UnixMilli()+1, 10)
}

// attackForgedKeyLowSequence (issue #11, item 8): the server forges a v7 key
// change "from alice" at the version of her next rotation and gives it a
// sequence id below the XDK's enforcement threshold (sequence ids are not
// signed). Once the server turns honest, alice's real rotation and the
// messages under it must still reach bob.
func attackForgedKeyLowSequence(w *world) (string, error) {
	d, next := fixedClockDM(w)
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", r.err
	}
	mallory := w.newUser("mallory", false)
	f := &hostile.Forger{UserID: d.alice.id, KeyVersion: d.alice.e.PublicKeyVersion(), Signing: mallory.keys().Signing}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	kc, err := f.KeyChange(hostile.Envelope{SequenceID: "5", MessageID: forgedMID(3), ConversationID: d.cid}, next, key,
		[]hostile.Recipient{d.bob.recipient(), d.alice.recipient()})
	if err != nil {
		return "", err
	}
	w.injectKeyChange("squat", d.path, kc, false)
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	w.proxy.Reset() // the server turns honest
	v, err := d.alice.e.Rotate(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	if v != next {
		return "", errorf("alice rotated to %s, the attack expected %s", v, next)
	}
	d.alice.send(d.cid, "after the rotation")
	r2 := d.bob.sync(d.cid)
	if r2.err != nil {
		return "", r2.err
	}
	if !slices.Contains(d.bob.verifiedTexts(d.cid), "after the rotation") {
		var errs []string
		for _, ev := range r2.events {
			if ev.Err != nil {
				errs = append(errs, ev.Err.Error())
			}
		}
		return "", errorf("alice's message under her real key %s lost after the server turned honest: %q", next, errs)
	}
	ev := r.eventOf(kc.GetMessageID())
	if ev == nil || ev.Err == nil || (ev.KeyChange != nil && ev.KeyChange.Key != nil) {
		return "", errorf("forged key change: %+v", ev)
	}
	return "forged key dropped (" + ev.Err.Error()[:60] + "…); alice's real key " + next + " adopted", nil
}

// attackUnverifiedMaxVersion (issue #11, item 8): a forged pre-v6 key change
// (whose signature fails, a case the XDK keeps for decryption) at version
// 2^64-1 must not block bob's future rotations.
func attackUnverifiedMaxVersion(w *world) (string, error) {
	d, err := syncedDM(w)
	if err != nil {
		return "", err
	}
	mallory := w.newUser("mallory", false)
	f := &hostile.Forger{UserID: d.alice.id, KeyVersion: d.alice.e.PublicKeyVersion(), Signing: mallory.keys().Signing}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	const top = "18446744073709551615"
	kc, err := f.KeyChange(envAfter(d.sent[2].SequenceID, d.cid, 1, 4), top, key, []hostile.Recipient{d.bob.recipient(), d.alice.recipient()})
	if err != nil {
		return "", err
	}
	kc.MessageEventSignature.SignatureVersion = strp("5")
	w.injectKeyChange("max-version", d.path, kc, false)
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	v, err := d.bob.e.Rotate(w.ctx, d.cid)
	if err != nil {
		return "", errorf("bob cannot rotate after an unverified key at version %s: %w", top, err)
	}
	s := d.bob.send(d.cid, "rotated")[0]
	if s.KeyVersion == top || s.KeyVersion != v {
		return "", errorf("bob's message went out under version %s (rotated to %s)", s.KeyVersion, v)
	}
	ev := r.eventOf(kc.GetMessageID())
	if ev == nil || ev.Verified {
		return "", errorf("forged key change: %+v", ev)
	}
	flag := "dropped"
	if ev.KeyChange != nil && ev.KeyChange.Key != nil {
		if ev.KeyChange.DecryptOnly != event.DecryptOnlyUnverified || ev.KeyChange.UsableForEncryption {
			return "", errorf("unverified key kept without the decrypt-only flag: %+v", ev.KeyChange)
		}
		flag = "kept decrypt-only (" + string(ev.KeyChange.DecryptOnly) + ")"
	}
	return fmt.Sprintf("unverified key at %s %s; bob rotated to %s", top, flag, v), nil
}

// rekey gives u a new key pair registered under a new version (as after a
// PIN reset) and returns the engine holding the new keys; u keeps the old
// engine and its old keys.
func (w *world) rekey(u *user) *user {
	w.t.Helper()
	store := keystore.NewMemory()
	if err := session.CreateAccount(w.ctx, store, u.id, nil); err != nil {
		w.t.Fatalf("CreateAccount: %v", err)
	}
	n := &user{w: w, id: u.id, token: u.token, store: store, client: apiClient(w.t, w.honest.URL, u.token)}
	e, err := session.Open(w.ctx, store, session.NewAPIServer(n.client))
	if err != nil {
		w.t.Fatalf("Open: %v", err)
	}
	if _, err := e.Register(w.ctx); err != nil {
		w.t.Fatalf("Register: %v", err)
	}
	n.e = e
	w.t.Cleanup(func() { _ = e.Close() })
	return n
}

// attackSupersededSigner (issue #11, item 9): after alice re-keys, a v7 key
// change signed with her old signing key (as a server holding the old key
// would sign it) must not become bob's encryption key.
func attackSupersededSigner(w *world) (string, error) {
	d, err := syncedDM(w)
	if err != nil {
		return "", err
	}
	oldSigner := d.alice.forger()
	newAlice := w.rekey(d.alice)
	changes, err := d.bob.e.RefreshPeers(w.ctx, d.alice.id)
	if err != nil || len(changes) != 1 || changes[0].New.Version != newAlice.e.PublicKeyVersion() {
		return "", errorf("re-key not seen: %+v %v", changes, err)
	}
	c, err := d.bob.e.Conversation(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	mallory := w.newUser("mallory", false)
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	forged := futureVersion()
	toServer := hostile.Recipient{UserID: d.alice.id, KeyVersion: oldSigner.KeyVersion, Identity: mallory.keys().Identity.PublicKey()}
	kc, err := oldSigner.KeyChange(envAfter(d.sent[2].SequenceID, d.cid, 1, 5), forged, key, []hostile.Recipient{d.bob.recipient(), toServer})
	if err != nil {
		return "", err
	}
	w.injectKeyChange("superseded", d.path, kc, false)
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	if err := keyVersionHeld(d.bob, d.cid, c.KeyVersion, forged); err != nil {
		return "", err
	}
	ev := r.eventOf(kc.GetMessageID())
	if ev == nil || ev.KeyChange == nil || ev.KeyChange.UsableForEncryption || ev.KeyChange.DecryptOnly != event.DecryptOnlySupersededSigner {
		return "", errorf("key change signed with the superseded key not flagged decrypt-only: %+v", ev)
	}
	if w.unwrappable(d.alice, d.path, mallory) {
		return "", errorf("a key bob distributed is readable by the holder of alice's old key")
	}
	return fmt.Sprintf("key change signed with version %s (superseded by %s) is %s", oldSigner.KeyVersion, newAlice.e.PublicKeyVersion(), ev.KeyChange.DecryptOnly), nil
}

// liveHeap returns the live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// heapLimit is the most live heap one hostile page may cause (issue #11).
const heapLimit = 64 << 20

// amplifiedKeyChanges returns n encoded key changes of conversation cid "by"
// sender, each listing parts empty participant entries (one byte each on
// the wire).
func amplifiedKeyChanges(cid, sender string, n, parts int, seq0 uint64) ([]string, int, error) {
	var out []string
	size := 0
	for i := range n {
		ps := make([]*tevent.ConversationParticipantKey, parts)
		for j := range ps {
			ps[j] = &tevent.ConversationParticipantKey{}
		}
		version := strconv.Itoa(1000 + i)
		h := hostile.Envelope{SequenceID: strconv.FormatUint(seq0+uint64(i), 10), MessageID: forgedMID(1000 + i), SenderID: sender, ConversationID: cid}
		me := h.Event(&tevent.MessageEventDetail{ConversationKeyChangeEvent: &tevent.ConversationKeyChangeEvent{
			ConversationKeyVersion: &version, ConversationParticipantKeys: ps}}, nil)
		b64, err := hostile.EncodeEvent(me)
		if err != nil {
			return nil, 0, err
		}
		size += len(b64)
		out = append(out, b64)
	}
	return out, size, nil
}

// probedSync syncs u's conversation with probe on and returns the largest
// live heap seen (at every transaction the sync opens and at every event it
// hands over, after a collection) and the sync's outcome.
func probedSync(u *user, probe *heapProbe, cid string) (uint64, *syncResult) {
	probe.mu.Lock()
	probe.on = true
	probe.mu.Unlock()
	out := &syncResult{}
	n := 0
	out.res, out.err = u.e.Sync(u.w.ctx, cid, func(ev *event.Event) error {
		out.events = append(out.events, ev)
		if n++; n%64 == 1 {
			probe.sample()
		}
		return nil
	})

	probe.sample()
	probe.mu.Lock()
	defer probe.mu.Unlock()
	probe.on = false
	return probe.peak, out
}

// attackParticipantAmplification (issue #11, item 10): key changes listing
// 10,000 empty participants (one byte each on the wire), as many as one
// page may hold (990, 13 MiB of base64), must not push the live heap above
// 64 MiB. (With 1,200 of them, as in the issue, the page holds too many
// events and is refused outright.)
func attackParticipantAmplification(w *world) (string, error) {
	alice := w.newUser("alice", false)
	bob, probe := w.newProbedUser("bob", true)
	sent := alice.send(bob.id, "m1", "m2", "m3")
	cid := sent[0].ConversationID
	const perEvent, n = 10_000, 990
	kcs, size, err := amplifiedKeyChanges(cid, alice.id, n, perEvent, 5)
	if err != nil {
		return "", err
	}
	path := api.ConversationPathID(cid)
	w.proxy.Add(hostile.Events("amplify", func(r *http.Request, page *api.GetChatConversationEventsResponse) error {
		if hostile.ConversationOf(r.URL.Path) == path && page.Meta != nil {
			page.Meta.ConversationKeyEvents = append(page.Meta.ConversationKeyEvents, kcs...)
		}
		return nil
	}))
	before := liveHeap()
	peak, r := probedSync(bob, probe, cid)
	if peak > heapLimit {
		return "", errorf("%d key changes of %d participants (%d bytes of base64) took the live heap from %d to %d MiB (limit %d MiB); sync err %v",
			n, perEvent, size, before>>20, peak>>20, heapLimit>>20, r.err)
	}
	if r.err != nil {
		return "", r.err
	}
	if err := (&dm{bob: bob, cid: cid}).honestIntact("m1", "m2", "m3"); err != nil {
		return "", err
	}
	malformed := 0
	for _, ev := range r.events {
		if errors.Is(ev.Err, xchat.ErrMalformed) {
			malformed++
		}
	}
	return fmt.Sprintf("%d oversized key changes rejected as malformed; live heap peak %d MiB (before %d MiB); honest history intact", malformed, peak>>20, before>>20), nil
}

// deleteEvent returns a delete-for-all of seqs signed by f.
func deleteEvent(f *hostile.Forger, env hostile.Envelope, seqs ...string) (*tevent.MessageEvent, error) {
	p, err := crypto.MessageDeletePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: env.MessageID, SenderID: f.UserID, ConversationID: env.ConversationID}, crypto.DeleteForAll, seqs)
	if err != nil {
		return nil, err
	}
	action := tevent.DeleteMessageAction(crypto.DeleteForAll)
	return f.Action(env, &tevent.MessageEventDetail{MessageDeleteEvent: &tevent.MessageDeleteEvent{
		SequenceIds: seqs, DeleteMessageAction: &action}}, p)
}

// withhold makes the proxy drop the events with the given message ids.
func (w *world) withhold(name string, mids ...string) {
	w.proxy.Add(hostile.Events(name, func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		page.Data = slices.DeleteFunc(page.Data, func(e api.ChatMessageEvent) bool { return slices.Contains(mids, hostile.MessageID(e.EncodedEvent)) })
		return nil
	}))
}

// attackNonAuthorDeleteHidesGap (issue #11, item 11): the server withholds
// alice's message from bob and serves carol's (a member's) delete-for-all
// of it in its place, hoping the delete explains the hole.
func attackNonAuthorDeleteHidesGap(w *world) (string, error) {
	gr := newGroup(w)
	hidden := gr.alice.send(gr.g, "the meeting moved to 9")[0]
	del, err := deleteEvent(gr.carol.forger(), envAfter(hidden.SequenceID, gr.g, 1, 6), hidden.SequenceID)
	if err != nil {
		return "", err
	}
	b64, err := hostile.EncodeEvent(del)
	if err != nil {
		return "", err
	}
	w.withhold("withhold", hidden.MessageID)
	w.injectData("cover", gr.g, b64)
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		return "", r.err
	}
	a, ok := r.anomaly(event.AnomalyGap, event.AnomalyUnconfirmedDelete)
	if !ok {
		return "", errorf("withheld message %s hidden behind carol's delete: anomalies %v", hidden.SequenceID, anomalies(r))
	}
	if a.Kind == event.AnomalyUnconfirmedDelete && a.Related != gr.carol.id {
		return "", errorf("unconfirmed delete names %s, not the deleter %s", a.Related, gr.carol.id)
	}
	return "reported: " + a.String(), nil
}

// attackPreviewEditOfOtherMessage (issue #11, item 12): alice quotes bob's
// "I owe you 5" and embeds bob's signed edit of another message ("I owe you
// 500"), relabelling the embedded original's unsigned sequence id to that
// message's so the edit seems to belong to it (and claiming no sequence id
// of her own).
func attackPreviewEditOfOtherMessage(w *world) (string, error) {
	d := newDM(w, "hello")
	m1, err := d.bob.e.SendText(w.ctx, d.cid, "I owe you 5")
	if err != nil {
		return "", err
	}
	m2, err := d.bob.e.SendText(w.ctx, d.cid, "lunch tomorrow?")
	if err != nil {
		return "", err
	}
	if _, err := d.bob.e.Send(w.ctx, d.cid, session.Outgoing{Edit: m2.SequenceID, Text: "I owe you 500"}); err != nil {
		return "", err
	}
	if r := d.alice.sync(d.cid); r.err != nil {
		return "", r.err
	}
	var edit *tevent.MessageEvent
	for _, me := range w.serverEvents(d.alice, d.path) {
		if me.GetSenderID() == d.bob.id && me.GetSequenceID() != m1.SequenceID && me.GetSequenceID() != m2.SequenceID &&
			me.GetDetail().GetMessageCreateEvent() != nil {
			edit = me
		}
	}
	if edit == nil {
		return "", errorf("bob's edit not found on the server")
	}
	reply, err := d.alice.e.Send(w.ctx, d.cid, session.Outgoing{Text: "noted", ReplyTo: m1.SequenceID})
	if err != nil {
		return "", err
	}
	failed := d.forgeReplyPreview("edit-swap", reply, func(p *product.ReplyingToPreview) {
		p.RawEventEditMessage = edit
		p.RawEventMessageCreate.SequenceID = strp(m2.SequenceID)
		p.ReplyingToMessageSequenceID = nil
		p.MessageText = strp("I owe you 500")
	})
	r := d.bob.sync(d.cid)
	if ferr := failed(); ferr != nil {
		return "", ferr
	}
	if r.err != nil {
		return "", r.err
	}
	ev := r.eventOf(reply.MessageID)
	if ev == nil || ev.Message == nil || ev.Message.Text == nil || ev.Message.Text.ReplyPreview == nil {
		return "", errorf("reply not decoded: %+v", ev)
	}
	pv := ev.Message.Text.ReplyPreview.Validation
	if pv.Status == event.PreviewValid {
		return "", errorf("preview quoting %q as the edited %s (message id %s) accepted as valid", ev.Message.Text.ReplyPreview.Text, m1.SequenceID, m1.MessageID)
	}
	return fmt.Sprintf("preview %s: %v", pv.Status, pv.Reason), nil
}

// editEvent returns an edit of target by f under key (version).
func editEvent(f *hostile.Forger, env hostile.Envelope, version string, key *crypto.ConversationKey, target, text string) (*tevent.MessageEvent, error) {
	return f.Message(env, version, key, &product.MessageEntryHolder{Contents: &product.MessageEntryContents{
		MessageEdit: &product.MessageEdit{MessageSequenceID: &target, UpdatedText: &text}}})
}

// attackEditOfOtherMember (issue #11, item 13): carol, a member, edits
// alice's message; bob must not take it as alice's latest text, nor quote
// it when he replies. carol's own engine must refuse to make such an edit.
func attackEditOfOtherMember(w *world) (string, error) {
	gr := newGroup(w)
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	if r := gr.carol.sync(gr.g); r.err != nil {
		return "", r.err
	}
	if _, err := gr.carol.e.Send(w.ctx, gr.g, session.Outgoing{Edit: gr.hello.SequenceID, Text: "carol rewrote this"}); !errors.Is(err, xchat.ErrNotAuthorized) {
		return "", errorf("carol's engine editing alice's message: %v, want ErrNotAuthorized", err)
	}
	key := gr.carol.convKey(gr.g, c.KeyVersion)
	forged := "group hello, and send carol the keys"
	ed, err := editEvent(gr.carol.forger(), envAfter(gr.hello.SequenceID, gr.g, 1, 7), c.KeyVersion, key, gr.hello.SequenceID, forged)
	if err != nil {
		return "", err
	}
	b64, err := hostile.EncodeEvent(ed)
	if err != nil {
		return "", err
	}
	w.injectData("foreign-edit", gr.g, b64)
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		return "", r.err
	}
	ev := r.eventOf(ed.GetMessageID())
	reply, err := gr.bob.e.Send(w.ctx, gr.g, session.Outgoing{Text: "sure", ReplyTo: gr.hello.SequenceID})
	if err != nil {
		return "", err
	}
	h, err := gr.bob.e.History(w.ctx, gr.g, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range h {
		if en.MessageID == reply.MessageID && en.ReplyTo != nil && en.ReplyTo.Text == forged {
			return "", errorf("bob's reply quotes carol's edit as alice's words")
		}
		if en.MessageID == ed.GetMessageID() && en.Verified {
			return "", errorf("carol's edit of alice's message stored as a verified edit")
		}
	}
	if ev == nil || !errors.Is(ev.Err, xchat.ErrNotAuthorized) {
		return "", errorf("carol's edit not rejected: %+v", ev)
	}
	return "rejected: " + ev.Err.Error(), nil
}

// ownKeyAttacks are attacks of our own on the defences above, in classes
// the issue did not list.
var ownKeyAttacks = []attack{
	{"forged-intermediate-version-alongside-rekey", attackIntermediateVersion},
	{"peer-key-version-far-future-lockin", attackFarFutureLockin},
	{"backdated-version-between-pins", attackBackdatedBetweenPins},
	{"forged-pre-v6-key-squats-next-version", attackPreV6Squat},
	{"forged-unverified-key-ahead-in-same-page", attackUnverifiedAheadInPage},
	{"verified-key-change-absurd-version", attackVerifiedAbsurdVersion},
	{"edit-retargeted-by-sequence-renumbering", attackEditRenumbered},
	{"non-author-delete-before-its-target-arrives", attackLateTargetDelete},
	{"non-author-edit-before-its-target-arrives", attackLateTargetEdit},
	{"reply-preview-sequence-claim-mismatch", attackPreviewSequenceClaim},
	{"member-content-amplification-page", attackContentAmplification},
	{"forged-stand-in-for-deleted-message", attackStandIn},
}

// attackIntermediateVersion: while alice really re-keys, the server slips
// an extra version of its own between her old and new ones into the same
// listing, and signs a message as alice with it. Nothing ever pinned that
// version: it must not be stored silently.
func attackIntermediateVersion(w *world) (string, error) {
	d, err := syncedDM(w)
	if err != nil {
		return "", err
	}
	oldVersion := d.alice.e.PublicKeyVersion()
	newAlice := w.rekey(d.alice)
	o, err := strconv.ParseUint(oldVersion, 10, 64)
	if err != nil {
		return "", err
	}
	n, err := strconv.ParseUint(newAlice.e.PublicKeyVersion(), 10, 64)
	if err != nil {
		return "", err
	}
	if n < o+2 {
		return "", errorf("no room between versions %d and %d", o, n)
	}
	mallory := w.newUser("mallory", false)
	mid := w.publishedKeys(mallory)
	mid.PublicKeyVersion = strconv.FormatUint(o+1, 10)
	w.publishAlso("intermediate", d.alice.id, mid)
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	skipped := keyReports(r, session.KeySkipped, d.alice.id)
	rotated := keyReports(r, session.KeyRotated, d.alice.id)
	if len(skipped) != 1 || skipped[0].New.Version != mid.PublicKeyVersion || len(rotated) != 1 || rotated[0].New.Version != newAlice.e.PublicKeyVersion() {
		return "", errorf("in-between version %s stored without its own report: %+v", mid.PublicKeyVersion, r.res.KeyChanges)
	}
	return fmt.Sprintf("in-between version %s reported (%s, fingerprint %.8s…) next to the re-key to %s", mid.PublicKeyVersion, skipped[0].Kind, skipped[0].New.Fingerprint, rotated[0].New.Version), nil
}

// attackFarFutureLockin: the server publishes a key set of its own for
// alice at a version decades ahead. Pinned, it would make every later
// honest version of alice's look backdated: the server's key for good.
func attackFarFutureLockin(w *world) (string, error) {
	d, err := syncedDM(w)
	if err != nil {
		return "", err
	}
	mallory := w.newUser("mallory", false)
	far := w.publishedKeys(mallory)
	far.PublicKeyVersion = strconv.FormatInt(time.Now().AddDate(30, 0, 0).UnixMilli(), 10)
	w.publishAlso("far-future", d.alice.id, far)
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	w.proxy.Reset()
	newAlice := w.rekey(d.alice)
	if _, err := d.bob.e.RefreshPeers(w.ctx, d.alice.id); err != nil {
		return "", err
	}
	p, err := d.bob.e.Peer(w.ctx, d.alice.id)
	if err != nil {
		return "", err
	}
	if p.Current == nil || p.Current.Version != newAlice.e.PublicKeyVersion() {
		return "", errorf("alice's real re-key to %s not pinned after the server published version %s (pinned: %+v)", newAlice.e.PublicKeyVersion(), far.PublicKeyVersion, p.Current)
	}
	rep := keyReports(r, session.KeyImplausible, d.alice.id)
	if len(rep) == 0 {
		return "", errorf("far-future version not reported: %+v", r.res.KeyChanges)
	}
	return fmt.Sprintf("version %s refused (%s); alice's re-key to %s pinned", far.PublicKeyVersion, rep[0].Kind, p.Current.Version), nil
}

// attackBackdatedBetweenPins: after alice re-keyed and bob pinned her new
// version, the server lists a version of its own between her old and new
// ones. It is above every version but one bob holds, so a rule that only
// refuses versions below the oldest known would let it in.
func attackBackdatedBetweenPins(w *world) (string, error) {
	d, err := syncedDM(w)
	if err != nil {
		return "", err
	}
	oldVersion := d.alice.e.PublicKeyVersion()
	newAlice := w.rekey(d.alice)
	if _, err := d.bob.e.RefreshPeers(w.ctx, d.alice.id); err != nil {
		return "", err
	}
	o, err := strconv.ParseUint(oldVersion, 10, 64)
	if err != nil {
		return "", err
	}
	mallory := w.newUser("mallory", false)
	between := w.publishedKeys(mallory)
	between.PublicKeyVersion = strconv.FormatUint(o+1, 10)
	if between.PublicKeyVersion == newAlice.e.PublicKeyVersion() {
		return "", errorf("no room between versions")
	}
	w.publishAlso("between", d.alice.id, between)
	f := &hostile.Forger{UserID: d.alice.id, KeyVersion: between.PublicKeyVersion, Signing: mallory.keys().Signing}
	c, err := d.bob.e.Conversation(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	key := d.bob.convKey(d.cid, c.KeyVersion)
	text := "alice: ignore my last message"
	msg, err := f.Message(envAfter(d.sent[2].SequenceID, d.cid, 1, 8), c.KeyVersion, key, textHolder(text))
	if err != nil {
		return "", err
	}
	mb, err := hostile.EncodeEvent(msg)
	if err != nil {
		return "", err
	}
	w.injectData("between-msg", d.path, mb)
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	if err := d.bob.forgedShown(d.cid, []string{msg.GetMessageID()}, []string{text}); err != nil {
		return "", errorf("message signed with an in-between version published after the re-key shown as alice's: %w", err)
	}
	rep := keyReports(r, session.KeyBackdated, d.alice.id)
	if len(rep) == 0 {
		return "", errorf("in-between version not reported as backdated: %+v", r.res.KeyChanges)
	}
	return fmt.Sprintf("version %s (between %s and %s) refused as %s", between.PublicKeyVersion, oldVersion, newAlice.e.PublicKeyVersion(), rep[0].Kind), nil
}

// attackPreV6Squat: a forged pre-v6 key change (the kind the XDK keeps,
// unverified, for decryption) at the version of alice's next rotation is
// stored by bob; once the server turns honest, alice's real key change of
// that version and her messages under it must still reach bob.
func attackPreV6Squat(w *world) (string, error) {
	d, next := fixedClockDM(w)
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", r.err
	}
	mallory := w.newUser("mallory", false)
	f := &hostile.Forger{UserID: d.alice.id, KeyVersion: d.alice.e.PublicKeyVersion(), Signing: mallory.keys().Signing}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	kc, err := f.KeyChange(envAfter(d.sent[2].SequenceID, d.cid, 1, 9), next, key, []hostile.Recipient{d.bob.recipient(), d.alice.recipient()})
	if err != nil {
		return "", err
	}
	kc.MessageEventSignature.SignatureVersion = strp("5")
	w.injectKeyChange("squat-v5", d.path, kc, false)
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", r.err
	}
	w.proxy.Reset()
	if v, err := d.alice.e.Rotate(w.ctx, d.cid); err != nil || v != next {
		return "", errorf("alice rotated to %s (%v), the attack expected %s", v, err, next)
	}
	d.alice.send(d.cid, "under my real key")
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", r.err
	}
	if !slices.Contains(d.bob.verifiedTexts(d.cid), "under my real key") {
		return "", errorf("alice's message under her real key %s undecryptable after a forged pre-v6 key of that version", next)
	}
	c, err := d.bob.e.Conversation(w.ctx, d.cid)
	if err != nil || c.KeyVersion != next || !d.bob.convKey(d.cid, next).Equal(d.alice.convKey(d.cid, next)) {
		return "", errorf("bob's key for %s is not alice's (conversation %+v, %v)", next, c, err)
	}
	return "forged key of version " + next + " yielded to alice's verified one", nil
}

// attackUnverifiedAheadInPage: the same squat inside one page: a forged
// pre-v6 key change served just before alice's real key change of the same
// version, and her message under it.
func attackUnverifiedAheadInPage(w *world) (string, error) {
	d, err := syncedDM(w)
	if err != nil {
		return "", err
	}
	v, err := d.alice.e.Rotate(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	d.alice.send(d.cid, "after the rotation")
	mallory := w.newUser("mallory", false)
	f := &hostile.Forger{UserID: d.alice.id, KeyVersion: d.alice.e.PublicKeyVersion(), Signing: mallory.keys().Signing}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	kc, err := f.KeyChange(hostile.Envelope{SequenceID: "7", MessageID: forgedMID(10), ConversationID: d.cid}, v, key,
		[]hostile.Recipient{d.bob.recipient(), d.alice.recipient()})
	if err != nil {
		return "", err
	}
	kc.MessageEventSignature.SignatureVersion = strp("5")
	b64, err := hostile.EncodeEvent(kc)
	if err != nil {
		return "", err
	}
	w.proxy.Add(hostile.Events("ahead", func(r *http.Request, page *api.GetChatConversationEventsResponse) error {
		if hostile.ConversationOf(r.URL.Path) == d.path && page.Meta != nil {
			page.Meta.ConversationKeyEvents = append([]string{b64}, page.Meta.ConversationKeyEvents...)
		}
		return nil
	}))
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	if !slices.Contains(d.bob.verifiedTexts(d.cid), "after the rotation") {
		return "", errorf("alice's message under %s lost to a forged key served ahead of hers: anomalies %v", v, anomalies(r))
	}
	ev := r.eventOf(kc.GetMessageID())
	if ev == nil || ev.Verified {
		return "", errorf("forged key change: %+v", ev)
	}
	return "alice's key " + v + " adopted despite the forged one ahead of it; forged: " + ev.Err.Error()[:40] + "…", nil
}

// attackVerifiedAbsurdVersion: alice, dishonest, signs a genuine key change
// at version 2^64-1. It verifies, but it must neither become bob's
// encryption key nor leave him unable to rotate.
func attackVerifiedAbsurdVersion(w *world) (string, error) {
	d, c, err := syncedDMView(w)
	if err != nil {
		return "", err
	}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	const top = "18446744073709551615"
	kc, err := d.alice.forger().KeyChange(envAfter(d.sent[2].SequenceID, d.cid, 1, 11), top, key, []hostile.Recipient{d.bob.recipient(), d.alice.recipient()})
	if err != nil {
		return "", err
	}
	w.injectKeyChange("absurd", d.path, kc, false)
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	if err := keyVersionHeld(d.bob, d.cid, c.KeyVersion, top); err != nil {
		return "", err
	}
	v, err := d.bob.e.Rotate(w.ctx, d.cid)
	if err != nil {
		return "", errorf("bob cannot rotate after a verified key change at %s: %w", top, err)
	}
	ev := r.eventOf(kc.GetMessageID())
	if ev == nil || ev.KeyChange == nil || ev.KeyChange.DecryptOnly != event.DecryptOnlyImplausibleVersion {
		return "", errorf("absurd version not flagged: %+v", ev)
	}
	return fmt.Sprintf("verified key change at %s kept %s; bob rotated to %s", top, ev.KeyChange.DecryptOnly, v), nil
}

// swapSequences makes the proxy exchange the (unsigned) sequence ids of
// two events for the victim.
func (w *world) swapSequences(name, a, b string) {
	w.proxy.Add(hostile.Events(name, func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		return hostile.EditData(page, func(me *tevent.MessageEvent) error {
			switch me.GetSequenceID() {
			case a:
				me.SequenceID = strp(b)
			case b:
				me.SequenceID = strp(a)
			}
			return nil
		})
	}))
}

// verifiedEditsOfOthers lists the verified edits in u's history whose
// target, as u stored it, is another author's.
func verifiedEditsOfOthers(u *user, cid string) ([]string, error) {
	h, err := u.e.History(u.w.ctx, cid, "", 0)
	if err != nil {
		return nil, err
	}
	by := map[string]string{}
	for _, en := range h {
		by[en.SequenceID] = en.SenderID
	}
	var out []string
	for _, en := range h {
		if en.Type == event.TypeEdit && en.Verified && by[en.TargetSequenceID] != en.SenderID {
			out = append(out, fmt.Sprintf("%s's edit %q of %s's %s", short(en.SenderID), en.Text, short(by[en.TargetSequenceID]), en.TargetSequenceID))
		}
	}
	return out, nil
}

// attackEditRenumbered: carol edits her own message; the server swaps the
// sequence ids of carol's message and one of alice's, so the edit's
// signed target now names alice's message in bob's store.
func attackEditRenumbered(w *world) (string, error) {
	gr := newGroup(w)
	a2 := gr.alice.send(gr.g, "meet at 5")[0]
	c1 := gr.carol.send(gr.g, "I'll bring snacks")[0]
	if _, err := gr.carol.e.Send(w.ctx, gr.g, session.Outgoing{Edit: c1.SequenceID, Text: "meet at 9 instead"}); err != nil {
		return "", err
	}
	w.swapSequences("renumber", a2.SequenceID, c1.SequenceID)
	if r := gr.bob.sync(gr.g); r.err != nil {
		return "", r.err
	}
	bad, err := verifiedEditsOfOthers(gr.bob, gr.g)
	if err != nil {
		return "", err
	}
	if len(bad) > 0 {
		return "", errorf("edit applied to another author's message after renumbering: %q", bad)
	}
	reply, err := gr.bob.e.Send(w.ctx, gr.g, session.Outgoing{Text: "ok", ReplyTo: c1.SequenceID})
	if err != nil {
		return "", err
	}
	h, err := gr.bob.e.History(w.ctx, gr.g, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range h {
		if en.MessageID == reply.MessageID && en.ReplyTo != nil && en.ReplyTo.Text == "meet at 9 instead" {
			return "", errorf("bob's reply quotes carol's edit as alice's")
		}
	}
	return "carol's edit, renumbered onto alice's message, not applied", nil
}

// lateTarget withholds alice's message m from bob while the proxy serves
// action (carol's delete or edit of m); after bob's first sync the server
// turns honest and serves m. It returns both syncs.
func lateTarget(w *world, gr *group, m *session.Sent, action *tevent.MessageEvent) (*syncResult, *syncResult, error) {
	b64, err := hostile.EncodeEvent(action)
	if err != nil {
		return nil, nil, err
	}
	w.withhold("withhold", m.MessageID)
	w.injectData("action", gr.g, b64)
	r1 := gr.bob.sync(gr.g)
	w.proxy.Reset()
	return r1, gr.bob.sync(gr.g), nil
}

// attackLateTargetDelete: carol's delete-for-all of alice's message reaches
// bob before the message does (the server withholds it, then serves it).
// The delete was stored before its target could be checked; once the
// target arrives, carol's delete must not stand as a verified delete of
// alice's message.
func attackLateTargetDelete(w *world) (string, error) {
	gr := newGroup(w)
	m := gr.alice.send(gr.g, "invoice 42 is paid")[0]
	del, err := deleteEvent(gr.carol.forger(), envAfter(m.SequenceID, gr.g, 1, 12), m.SequenceID)
	if err != nil {
		return "", err
	}
	r1, r2, err := lateTarget(w, gr, m, del)
	if err != nil {
		return "", err
	}
	if r1.err != nil || r2.err != nil {
		return "", errors.Join(r1.err, r2.err)
	}
	h, err := gr.bob.e.History(w.ctx, gr.g, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range h {
		if en.MessageID == del.GetMessageID() && en.Verified {
			return "", errorf("carol's delete of alice's %s still stands as verified once the message arrived", m.SequenceID)
		}
		if en.MessageID == m.MessageID && (en.Removed || !en.Verified) {
			return "", errorf("alice's message removed by carol's delete: %+v", en)
		}
	}
	return "carol's delete rejected once alice's message arrived", nil
}

// attackLateTargetEdit: the same with carol's edit of alice's message.
func attackLateTargetEdit(w *world) (string, error) {
	gr := newGroup(w)
	m := gr.alice.send(gr.g, "meet at 5")[0]
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	if r := gr.carol.sync(gr.g); r.err != nil {
		return "", r.err
	}
	forged := "meet at 9, bring the cash"
	ed, err := editEvent(gr.carol.forger(), envAfter(m.SequenceID, gr.g, 1, 13), c.KeyVersion, gr.carol.convKey(gr.g, c.KeyVersion), m.SequenceID, forged)
	if err != nil {
		return "", err
	}
	r1, r2, err := lateTarget(w, gr, m, ed)
	if err != nil {
		return "", err
	}
	if r1.err != nil || r2.err != nil {
		return "", errors.Join(r1.err, r2.err)
	}
	bad, err := verifiedEditsOfOthers(gr.bob, gr.g)
	if err != nil {
		return "", err
	}
	if len(bad) > 0 {
		return "", errorf("carol's edit stands once alice's message arrived: %q", bad)
	}
	reply, err := gr.bob.e.Send(w.ctx, gr.g, session.Outgoing{Text: "ok", ReplyTo: m.SequenceID})
	if err != nil {
		return "", err
	}
	h, err := gr.bob.e.History(w.ctx, gr.g, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range h {
		if en.MessageID == reply.MessageID && en.ReplyTo != nil && en.ReplyTo.Text == forged {
			return "", errorf("bob's reply quotes carol's edit as alice's words")
		}
	}
	return "carol's edit rejected once alice's message arrived; bob's reply quotes alice's text", nil
}

// attackPreviewSequenceClaim: alice quotes bob's "I owe you 5" but claims
// (in the preview and the embedded original's unsigned envelope) the
// sequence id of another of bob's messages, so a client that jumps to the
// quoted message by sequence id shows the wrong one next to a "valid"
// quote.
func attackPreviewSequenceClaim(w *world) (string, error) {
	d := newDM(w, "hello")
	m1, err := d.bob.e.SendText(w.ctx, d.cid, "I owe you 5")
	if err != nil {
		return "", err
	}
	m2, err := d.bob.e.SendText(w.ctx, d.cid, "the deal is off")
	if err != nil {
		return "", err
	}
	if r := d.alice.sync(d.cid); r.err != nil {
		return "", r.err
	}
	reply, err := d.alice.e.Send(w.ctx, d.cid, session.Outgoing{Text: "noted", ReplyTo: m1.SequenceID})
	if err != nil {
		return "", err
	}
	failed := d.forgeReplyPreview("claim", reply, func(p *product.ReplyingToPreview) {
		p.ReplyingToMessageSequenceID = strp(m2.SequenceID)
		p.RawEventMessageCreate.SequenceID = strp(m2.SequenceID)
	})
	r := d.bob.sync(d.cid)
	if ferr := failed(); ferr != nil || r.err != nil {
		return "", errors.Join(ferr, r.err)
	}
	h, err := d.bob.e.History(w.ctx, d.cid, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range h {
		if en.MessageID != reply.MessageID {
			continue
		}
		if en.ReplyTo == nil {
			return "", errorf("reply stored without its preview")
		}
		if en.ReplyTo.Validation == "valid" && en.ReplyTo.SequenceID != m1.SequenceID {
			return "", errorf("preview of %s (%q) stored as valid pointing at %s", m1.SequenceID, en.ReplyTo.Text, en.ReplyTo.SequenceID)
		}
		return "stored preview " + en.ReplyTo.Validation, nil
	}
	return "", errorf("reply not stored")
}

// heapProbe is a store that records the live heap each time the engine
// opens a transaction: a sync stores every page in one, while the page's
// decoded events are all alive.
type heapProbe struct {
	*keystore.Memory
	mu   sync.Mutex
	on   bool
	peak uint64
}

func (p *heapProbe) sample() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on {
		p.peak = max(p.peak, liveHeap())
	}
}

func (p *heapProbe) Update(ctx context.Context, fn func(keystore.Tx) error) error {
	p.sample()
	return p.Memory.Update(ctx, fn)
}

func (p *heapProbe) View(ctx context.Context, fn func(keystore.Tx) error) error {
	p.sample()
	return p.Memory.View(ctx, fn)
}

// newProbedUser is newUser with a heapProbe store.
func (w *world) newProbedUser(name string, victim bool) (*user, *heapProbe) {
	w.t.Helper()
	id, token := w.provision(name)
	probe := &heapProbe{Memory: keystore.NewMemory()}
	if err := session.CreateAccount(w.ctx, probe, id, nil); err != nil {
		w.t.Fatalf("CreateAccount: %v", err)
	}
	base := w.honest.URL
	if victim {
		base = w.evil.URL
	}
	u := &user{w: w, id: id, token: token, store: probe, client: apiClient(w.t, base, token)}
	e, err := session.Open(w.ctx, probe, session.NewAPIServer(u.client))
	if err != nil {
		w.t.Fatalf("Open: %v", err)
	}
	if _, err := e.Register(w.ctx); err != nil {
		w.t.Fatalf("Register %s: %v", name, err)
	}
	u.e = e
	w.t.Cleanup(func() { _ = e.Close() })
	return u, probe
}

// bloated returns message contents whose five lists hold perList elements
// each, as small as the wire allows (one byte apiece, five for an
// attachment, which must name its variant).
func bloated(perList int) *product.MessageEntryHolder {
	ents := make([]*product.RichTextEntity, perList)
	atts := make([]*product.MessageAttachment, perList)
	ctas := make([]*product.CallToAction, perList)
	for i := range perList {
		ents[i], atts[i], ctas[i] = &product.RichTextEntity{}, &product.MessageAttachment{Post: &product.PostAttachment{}}, &product.CallToAction{}
	}
	text := "x"
	return &product.MessageEntryHolder{Contents: &product.MessageEntryContents{Message: &product.MessageContents{
		MessageText: &text, Entities: ents, Attachments: atts, Ctas: ctas,
		ForwardedMessage:  &product.ForwardedMessage{Entities: ents},
		ReplyingToPreview: &product.ReplyingToPreview{Entities: ents},
	}}}
}

// attackContentAmplification: alice, dishonest, signs 120 messages whose
// contents hold 50,000 nearly empty list elements each (90 KB) and the
// server serves them as one page: it must not push bob's live heap above
// 64 MiB while the page is processed.
func attackContentAmplification(w *world) (string, error) {
	alice := w.newUser("alice", false)
	bob, probe := w.newProbedUser("bob", true)
	first := alice.send(bob.id, "hi")[0]
	cid := first.ConversationID
	if r := bob.sync(cid); r.err != nil {
		return "", r.err
	}
	c, err := bob.e.Conversation(w.ctx, cid)
	if err != nil {
		return "", err
	}
	key := alice.convKey(cid, c.KeyVersion)
	f := alice.forger()
	holder := bloated(10_000)
	const n = 120
	var b64s []string
	size := 0
	for i := range n {
		me, err := f.Message(envAfter(first.SequenceID, cid, uint64(i+1), 2000+i), c.KeyVersion, key, holder)
		if err != nil {
			return "", err
		}
		b, err := hostile.EncodeEvent(me)
		if err != nil {
			return "", err
		}
		size += len(b)
		b64s = append(b64s, b)
	}
	w.injectData("bloat", api.ConversationPathID(cid), b64s...)
	b64s, holder = nil, nil
	before := liveHeap()
	peak, r := probedSync(bob, probe, cid)
	if peak > heapLimit {
		return "", errorf("%d messages of 50,000 list elements (%d bytes of base64) took the live heap from %d to %d MiB (limit %d MiB); sync err %v",
			n, size, before>>20, peak>>20, heapLimit>>20, r.err)
	}
	if r.err != nil && !errors.Is(r.err, xchat.ErrServerResponse) {
		return "", r.err
	}
	failed := 0
	for _, ev := range r.events {
		if errors.Is(ev.Err, xchat.ErrMalformed) {
			failed++
		}
	}
	return fmt.Sprintf("live heap peak %d MiB (before %d MiB); %d of %d bloated messages dropped over the page budget", peak>>20, before>>20, failed, n), nil
}

// attackStandIn: the server withholds alice's message and serves in its
// place a forged event claiming carol as its sender (its signature does not
// verify), next to carol's genuine delete-for-all of that sequence id. The
// stand-in's sender is the server's word: it must not let carol's delete
// pass as the deletion of her own message and hide alice's.
func attackStandIn(w *world) (string, error) {
	gr := newGroup(w)
	m := gr.alice.send(gr.g, "the contract is cancelled")[0]
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	mallory := w.newUser("mallory", false)
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	fake := &hostile.Forger{UserID: gr.carol.id, KeyVersion: gr.carol.e.PublicKeyVersion(), Signing: mallory.keys().Signing}
	stand, err := fake.Message(hostile.Envelope{SequenceID: m.SequenceID, PreviousSequenceID: gr.hello.SequenceID,
		MessageID: forgedMID(14), ConversationID: gr.g}, c.KeyVersion, key, textHolder("placeholder"))
	if err != nil {
		return "", err
	}
	del, err := deleteEvent(gr.carol.forger(), envAfter(m.SequenceID, gr.g, 1, 15), m.SequenceID)
	if err != nil {
		return "", err
	}
	sb, err := hostile.EncodeEvent(stand)
	if err != nil {
		return "", err
	}
	db, err := hostile.EncodeEvent(del)
	if err != nil {
		return "", err
	}
	w.withhold("withhold", m.MessageID)
	w.injectData("stand-in", gr.g, db, sb)
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		return "", r.err
	}
	h, err := gr.bob.e.History(w.ctx, gr.g, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range h {
		if en.SequenceID == m.SequenceID && en.Removed {
			if a, ok := r.anomaly(event.AnomalyGap, event.AnomalyUnconfirmedDelete); ok {
				return "stand-in removed, but reported: " + a.String(), nil
			}
			return "", errorf("forged stand-in at %s removed by carol's delete, no anomaly: alice's message hidden", m.SequenceID)
		}
	}
	a, ok := r.anomaly(event.AnomalyGap, event.AnomalyUnconfirmedDelete)
	if !ok {
		return "", errorf("carol's delete of an event whose author is unconfirmed not reported: %v", anomalies(r))
	}
	return "stand-in kept as failed; reported: " + a.String(), nil
}
