package attacks

import (
	"crypto/rand"
	"errors"
	"net/http"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks of the eighth outside review: conversation keys and the
// transcript checks across syncs.

var syncBoundaryAttacks = []attack{
	{"gap-at-sync-boundary", attackGapAtSyncBoundary},
	{"fork-at-sync-boundary", attackForkAtSyncBoundary},
	{"gap-before-pushed-event-hidden-at-sync", attackGapBeforePushedEvent},
	{"previous-sequence-id-stripped-over-gap", attackPrevStrippedOverGap},
	{"strict-send-under-unverified-peers-key", attackStrictSendUnderUnverifiedKey},
	{"late-insertion-below-stored-tip", attackLateInsertion},
}

// hideStored installs a rule serving, of a conversation's pages, only the
// events above seq: the history the victim stored by then is never served
// again, so the chain of the new events is never joined to it in a page.
func (w *world) hideStored(name, seq string) {
	w.proxy.Add(hostile.Events(name, func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		page.Data = slices.DeleteFunc(page.Data, func(e api.ChatMessageEvent) bool {
			me, err := hostile.DecodeEvent(e.EncodedEvent)
			return err == nil && !decimal.Less(seq, me.GetSequenceID())
		})
		return nil
	}))
}

// attackGapAtSyncBoundary: bob syncs alice's m1..m3; alice sends m4 and
// m5. The server withholds m4 and serves bob's next sync only what is new
// to him (m5, whose previous_sequence_id names m4): no page joins the new
// events to the stored history, so a check that only links events within
// the pages of one sync sees an unbroken chain.
func attackGapAtSyncBoundary(w *world) (string, error) {
	d := newDM(w)
	if r := d.bob.sync(d.cid); r.err != nil || len(r.res.Anomalies) > 0 {
		return "", errorf("setup: first sync: %v, anomalies %v", r.err, anomalies(r))
	}
	tip := d.sent[2].SequenceID
	later := d.alice.send(d.bob.id, "m4", "m5")
	w.hideStored("hide-stored", tip)
	w.withhold("withhold-m4", later[0].MessageID)
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	if _, seen := r.byMessage(later[1].MessageID); !seen {
		return "", errorf("setup: m5 not served")
	}
	a, ok := r.anomaly(event.AnomalyGap)
	if !ok || a.Related != later[0].SequenceID {
		return "", errorf("m4 withheld at the join with the stored history, not reported: anomalies %v", anomalies(r))
	}
	return "gap at the join reported: " + a.String(), nil
}

// attackForkAtSyncBoundary: bob syncs m1..m3; the server then serves him a
// new message whose (unsigned) previous_sequence_id names m2, as if m3
// were not in the chain (another client is shown a transcript without
// m3), and hides the stored history from the page.
func attackForkAtSyncBoundary(w *world) (string, error) {
	d := newDM(w)
	if r := d.bob.sync(d.cid); r.err != nil || len(r.res.Anomalies) > 0 {
		return "", errorf("setup: first sync: %v, anomalies %v", r.err, anomalies(r))
	}
	tip, forkAt := d.sent[2].SequenceID, d.sent[1].SequenceID
	next := d.alice.send(d.bob.id, "m4")[0]
	w.hideStored("hide-stored", tip)
	w.proxy.Add(hostile.Events("relink", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		return hostile.EditData(page, func(me *tevent.MessageEvent) error {
			if me.GetMessageID() == next.MessageID {
				me.PreviousSequenceID = strp(forkAt)
			}
			return nil
		})
	}))
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	if _, seen := r.byMessage(next.MessageID); !seen {
		return "", errorf("setup: m4 not served")
	}
	a, ok := r.anomaly(event.AnomalyFork, event.AnomalyReorder)
	if !ok {
		return "", errorf("m4 linked past the stored m3, not reported: anomalies %v", anomalies(r))
	}
	return "fork at the join reported: " + a.String(), nil
}

// attackGapBeforePushedEvent: bob has synced m1..m3; alice sends m4, m5,
// m6. The server withholds m4 everywhere, pushes m5 (which Deliver stores
// without moving the sync position, and without judging its link: pushes
// may come out of order), then answers bob's reconciling sync with m6
// alone, hiding everything bob holds. The break before m5 lies between
// the position of the last sync and the events the new sync walked.
func attackGapBeforePushedEvent(w *world) (string, error) {
	d := newDM(w)
	if r := d.bob.sync(d.cid); r.err != nil || len(r.res.Anomalies) > 0 {
		return "", errorf("setup: first sync: %v, anomalies %v", r.err, anomalies(r))
	}
	later := d.alice.send(d.bob.id, "m4", "m5", "m6")
	me, kc, err := d.honestEnvelope(later[1].MessageID)
	if err != nil {
		return "", err
	}
	push, err := pushOf(d.bob, "push-m5", me, kc, nil)
	if err != nil {
		return "", err
	}
	if del, _, err := d.bob.deliver(push); err != nil || len(del.Anomalies) > 0 {
		return "", errorf("setup: push of m5: %v, anomalies %v", err, del.Anomalies)
	}
	w.hideStored("hide-stored", later[1].SequenceID)
	w.withhold("withhold-m4", later[0].MessageID)
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	if _, seen := r.byMessage(later[2].MessageID); !seen {
		return "", errorf("setup: m6 not served")
	}
	a, ok := r.anomaly(event.AnomalyGap)
	if !ok || a.Related != later[0].SequenceID {
		return "", errorf("m4, withheld before the pushed m5, not reported: anomalies %v", anomalies(r))
	}
	return "gap before the pushed event reported: " + a.String(), nil
}

// attackPrevStrippedOverGap: the server withholds m2 and strips the
// (unsigned, optional) previous_sequence_id of m3, which would name it.
// An event that claims no predecessor while the transcript holds events
// before it is a break like any other; taken as "unknown", it would let
// a server hide any withheld event by deleting one field.
func attackPrevStrippedOverGap(w *world) (string, error) {
	d := newDM(w)
	w.withhold("withhold-m2", d.mid(1))
	w.tamper("strip-prev", d.mid(2), func(me *tevent.MessageEvent) { me.PreviousSequenceID = nil })
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	if err, seen := r.byMessage(d.mid(2)); !seen || err != nil {
		return "", errorf("setup: m3 not served intact: %v", err)
	}
	a, ok := r.anomaly(event.AnomalyGap)
	if !ok || a.SequenceID != d.sent[2].SequenceID {
		return "", errorf("m2 withheld behind a stripped previous_sequence_id, not reported: anomalies %v", anomalies(r))
	}
	return "break reported: " + a.String(), nil
}

// attackStrictSendUnderUnverifiedKey: bob uses TrustStrict and has not
// verified alice. Before his first contact the server lists mallory's key
// set as alice's (undetectable until safety numbers are compared), and
// serves a key change "by alice", signed with mallory's key and wrapped
// to bob and to mallory's identity key. Strict trust refuses to wrap a
// key to an unverified peer; encrypting under a key such a peer made
// and wrapped is the same disclosure: bob's reply must be refused, not
// sealed under mallory's key.
func attackStrictSendUnderUnverifiedKey(w *world) (string, error) {
	alice := w.newUser("alice", false)
	mallory := w.newUser("mallory", false)
	bob := w.newUser("bob", true, session.WithTrustPolicy(session.TrustStrict))
	first := alice.send(bob.id, "hello bob")[0]
	cid, path := first.ConversationID, api.ConversationPathID(first.ConversationID)
	w.substituteKeys("alice-is-mallory", alice.id, w.publishedKeys(mallory))
	key, err := crypto.NewConversationKey(rand.Reader)
	if err != nil {
		return "", err
	}
	asAlice := &hostile.Forger{UserID: alice.id, KeyVersion: mallory.e.PublicKeyVersion(), Signing: mallory.keys().Signing}
	malloryAsAlice := hostile.Recipient{UserID: alice.id, KeyVersion: mallory.e.PublicKeyVersion(), Identity: mallory.keys().Identity.PublicKey()}
	kc, err := asAlice.KeyChange(envAfter(w.newestSeq(alice, path), cid, 1, 81), futureVersion(), key, []hostile.Recipient{bob.recipient(), malloryAsAlice})
	if err != nil {
		return "", err
	}
	w.injectKeyChange("mallory-key-as-alice", path, kc, false)
	if r := bob.sync(cid); r.err != nil {
		return "", r.err
	}
	c, err := bob.e.Conversation(w.ctx, cid)
	if err != nil {
		return "", err
	}
	if c.KeyVersion != kc.GetDetail().GetConversationKeyChangeEvent().GetConversationKeyVersion() {
		return "", errorf("setup: the key change signed with the pinned (unverified) key was not adopted: version %q", c.KeyVersion)
	}
	ww := w.watchSends(key)
	_, serr := bob.e.SendText(w.ctx, alice.id, "the door code is 4711")
	if l := ww.leaks(); len(l) > 0 {
		return "", errorf("strict bob encrypted his reply under the key an unverified peer key made (%v; send: %v)", l, serr)
	}
	if !errors.Is(serr, xchat.ErrUnverifiedPeer) {
		return "", errorf("send: %v, want ErrUnverifiedPeer", serr)
	}
	return "reply refused: " + serr.Error(), nil
}

// attackLateInsertion: the server withholds m3 from bob's first sync and
// relinks m4 to m2 (previous sequence ids are unsigned), so bob stores an
// unbroken m1, m2, m4. In the next sync it serves m3 alone, under its
// original sequence id between m2 and m4: an event slipped into history
// bob has already stored and shown, whose stored successor never named it.
func attackLateInsertion(w *world) (string, error) {
	d := newDM(w, "m1", "m2", "m3", "m4")
	hidden, after := d.sent[2], d.sent[3]
	w.withhold("withhold-m3", hidden.MessageID)
	w.tamper("relink-m4", after.MessageID, func(me *tevent.MessageEvent) { me.PreviousSequenceID = strp(d.sent[1].SequenceID) })
	if r := d.bob.sync(d.cid); r.err != nil || len(r.res.Anomalies) > 0 {
		return "", errorf("setup: first sync: %v, anomalies %v", r.err, anomalies(r))
	}
	w.proxy.Reset()
	w.proxy.Add(hostile.Events("only-m3", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		page.Data = slices.DeleteFunc(page.Data, func(e api.ChatMessageEvent) bool { return hostile.MessageID(e.EncodedEvent) != hidden.MessageID })
		return nil
	}))
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	if _, seen := r.byMessage(hidden.MessageID); !seen {
		return "", errorf("setup: m3 not served")
	}
	a, ok := r.anomaly(event.AnomalyReorder, event.AnomalyFork)
	if !ok {
		return "", errorf("m3 inserted below the stored m4 (which names m2), not reported: anomalies %v", anomalies(r))
	}
	return "late insertion reported: " + a.String(), nil
}
