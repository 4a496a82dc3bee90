package attacks

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// exposureAttacks are rule 5 of group state (research/group-state.md): a
// key change's participant list is not signed, so a server can claim a
// member's key was also wrapped to an outsider. That claim never makes the
// outsider a member (see key-change-participants-grant-membership); here
// it must be reported, and the victim must not encrypt anything new under
// a key the server says the outsider holds.
var exposureAttacks = []attack{
	{"key-change-wrapped-to-outsider", attackWrappedToOutsiderGroup},
	{"key-change-wrapped-to-outsider-1to1", attackWrappedToOutsiderDM},
	{"pushed-key-change-wrapped-to-outsider", attackPushedWrappedToOutsider},
}

// outsiderParticipant returns a participant entry naming outsider with a
// key wrapped to her identity key: junk, since the server cannot wrap the
// real key, but indistinguishable from a real wrap for anyone else.
func outsiderParticipant(outsider *user) (*tevent.ConversationParticipantKey, error) {
	junk, err := crypto.NewConversationKey(nil)
	if err != nil {
		return nil, err
	}
	defer junk.Zero()
	wrapped, err := crypto.WrapConversationKey(nil, outsider.keys().Identity.PublicKey(), junk)
	if err != nil {
		return nil, err
	}
	uid, kv, enc := outsider.id, outsider.e.PublicKeyVersion(), wire.EncodeB64(wrapped)
	return &tevent.ConversationParticipantKey{UserID: &uid, PublicKeyVersion: &kv, EncryptedConversationKey: &enc}, nil
}

// appendParticipant returns an edit appending p to the participants of the
// key change with message id mid (other envelopes are left alone).
func appendParticipant(mid string, p *tevent.ConversationParticipantKey) func(me *tevent.MessageEvent) error {
	return func(me *tevent.MessageEvent) error {
		if me.GetMessageID() != mid {
			return nil
		}
		if d := me.GetDetail(); d != nil && d.ConversationKeyChangeEvent != nil {
			kc := d.ConversationKeyChangeEvent
			kc.ConversationParticipantKeys = append(kc.ConversationParticipantKeys, p)
		}
		return nil
	}
}

// servePadded makes the victim's server list outsider among the
// participants of the key change with message id mid, wherever it serves
// it (page data and key change metadata).
func (w *world) servePadded(name, mid string, outsider *user) error {
	p, err := outsiderParticipant(outsider)
	if err != nil {
		return err
	}
	edit := appendParticipant(mid, p)
	w.proxy.Add(hostile.Events(name, func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		if err := hostile.EditData(page, edit); err != nil {
			return err
		}
		if page.Meta == nil {
			return nil
		}
		for _, list := range [][]string{page.Meta.ConversationKeyEvents, page.Meta.MissingConversationKeyChangeEvents} {
			for i, b := range list {
				nb, err := hostile.EditEvent(b, edit)
				if err != nil {
					return err
				}
				list[i] = nb
			}
		}
		return nil
	}))
	return nil
}

// keyChangeOf returns the key change envelope of version as the honest
// server holds it for cid.
func (w *world) keyChangeOf(u *user, cid, version string) (*tevent.MessageEvent, error) {
	for _, me := range w.serverKeyChanges(u, api.ConversationPathID(cid)) {
		if keyChangeVersion(me) == version {
			return me, nil
		}
	}
	return nil, errorf("no key change of version %s on the server for %s", version, cid)
}

// participantIDs returns the (sorted) user ids a key change envelope lists.
func participantIDs(me *tevent.MessageEvent) []string {
	var out []string
	if d := me.GetDetail(); d != nil && d.ConversationKeyChangeEvent != nil {
		for _, p := range d.ConversationKeyChangeEvent.ConversationParticipantKeys {
			out = append(out, p.GetUserID())
		}
	}
	slices.Sort(out)
	return out
}

// exposureReported checks that anomalies hold exactly one
// AnomalyKeyWrappedToNonMember, for the key change at seq naming outsider.
func exposureReported(anomalies []event.Anomaly, cid, seq, outsider string) (event.Anomaly, error) {
	var found []event.Anomaly
	for _, a := range anomalies {
		if a.Kind == event.AnomalyKeyWrappedToNonMember {
			found = append(found, a)
		}
	}
	want := event.Anomaly{Kind: event.AnomalyKeyWrappedToNonMember, ConversationID: cid, SequenceID: seq, Related: outsider}
	if len(found) != 1 || found[0] != want {
		return event.Anomaly{}, errorf("key wrapped to outsider %s not reported as %v: anomalies %v", outsider, want, anomalies)
	}
	return found[0], nil
}

// sendsUnderFreshKey makes victim send to cid and checks the message went
// out under a new key of the victim's making, whose key change (as the
// honest server received it) lists exactly members, and that the key the
// outsider was said to hold (exposed) was not used.
func sendsUnderFreshKey(w *world, victim *user, cid, exposed string, members []string) (string, error) {
	s, err := victim.e.SendText(w.ctx, cid, "after the exposure")
	if err != nil {
		return "", errorf("victim's send after the exposure: %w", err)
	}
	if s.KeyVersion == exposed {
		return "", errorf("victim's next message was encrypted under version %s, which the server says an outsider holds", exposed)
	}
	kc, err := w.keyChangeOf(victim, cid, s.KeyVersion)
	if err != nil {
		return "", err
	}
	want := slices.Sorted(slices.Values(members))
	if got := participantIDs(kc); kc.GetSenderID() != victim.id || !slices.Equal(got, want) {
		return "", errorf("victim's message went out under version %s by %s wrapped to %v, want a key of the victim's wrapped to %v", s.KeyVersion, kc.GetSenderID(), got, want)
	}
	return s.KeyVersion, nil
}

// notMember checks that outsider is not among u's members of cid.
func notMember(w *world, u *user, cid string, outsider *user) error {
	c, err := u.e.Conversation(w.ctx, cid)
	if err != nil {
		return err
	}
	if slices.Contains(c.Members, outsider.id) {
		return errorf("outsider %s became a member of %s: %v", outsider.id, cid, c.Members)
	}
	return nil
}

// attackWrappedToOutsiderGroup: alice rotates the group key; the server
// appends outsider mallory (with a wrapped key) to the rotation's
// participants as served to bob.
func attackWrappedToOutsiderGroup(w *world) (string, error) {
	x, err := rotationWrappedToOutsider(w)
	if err != nil {
		return "", err
	}
	gr := x.gr
	return exposureRefused(w, gr.bob, gr.g, x.rotation.GetSequenceID(), x.version, x.mallory, []string{gr.alice.id, gr.bob.id, gr.carol.id})
}

// outsiderRotation is the scene rotationWrappedToOutsider sets.
type outsiderRotation struct {
	gr       *group
	mallory  *user                // the outsider
	version  string               // the rotated key's version
	rotation *tevent.MessageEvent // alice's key change, as the server stores it
}

// rotationWrappedToOutsider: alice rotates the group key and sends under
// it; the server appends outsider mallory (with a wrapped key) to the
// rotation's participants as served from then on.
func rotationWrappedToOutsider(w *world) (*outsiderRotation, error) {
	gr := newGroup(w)
	mallory := w.newUser("mallory", false)
	v2, err := gr.alice.e.Rotate(w.ctx, gr.g)
	if err != nil {
		return nil, err
	}
	gr.alice.send(gr.g, "under the rotated key")
	rotation, err := w.keyChangeOf(gr.alice, gr.g, v2)
	if err != nil {
		return nil, err
	}
	if err := w.servePadded("wrap-to-outsider", rotation.GetMessageID(), mallory); err != nil {
		return nil, err
	}
	return &outsiderRotation{gr: gr, mallory: mallory, version: v2, rotation: rotation}, nil
}

// exposureRefused has victim sync cid, whose key change at kcSeq (key
// version exposed) the server lists as wrapped to outsider too, and checks
// the defence: the finding is reported, the outsider is no member, the
// victim's next message goes under a fresh key for members only, and no
// key is wrapped to the outsider.
func exposureRefused(w *world, victim *user, cid, kcSeq, exposed string, outsider *user, members []string) (string, error) {
	ww := w.watchWraps(outsider)
	r := victim.sync(cid)
	if r.err != nil {
		return "", r.err
	}
	a, err := exposureReported(r.res.Anomalies, cid, kcSeq, outsider.id)
	if err != nil {
		return "", err
	}
	if err := notMember(w, victim, cid, outsider); err != nil {
		return "", err
	}
	fresh, err := sendsUnderFreshKey(w, victim, cid, exposed, members)
	if err != nil {
		return "", err
	}
	if l := ww.leaks(); len(l) > 0 {
		return "", errorf("the victim wrapped key version(s) %v to the outsider", l)
	}
	return "reported " + a.String() + "; next message under the victim's new key " + fresh, nil
}

// attackWrappedToOutsiderDM: the server lists outsider mallory as a third
// participant of alice's key change for alice:bob.
func attackWrappedToOutsiderDM(w *world) (string, error) {
	d := newDM(w)
	mallory := w.newUser("mallory", false)
	kc, err := w.keyChangeOf(d.alice, d.cid, d.sent[0].KeyVersion)
	if err != nil {
		return "", err
	}
	if err := w.servePadded("wrap-to-third", kc.GetMessageID(), mallory); err != nil {
		return "", err
	}
	verdict, err := exposureRefused(w, d.bob, d.cid, kc.GetSequenceID(), d.sent[0].KeyVersion, mallory, []string{d.alice.id, d.bob.id})
	if err != nil {
		return "", err
	}
	// Served again, the same key change is not reported twice.
	if r := d.bob.sync(d.cid); r.err != nil || r.res == nil || slices.ContainsFunc(r.res.Anomalies, func(a event.Anomaly) bool {
		return a.Kind == event.AnomalyKeyWrappedToNonMember
	}) {
		return "", errorf("second sync: err %v, anomalies %v", r.err, anomalies(r))
	}
	return verdict, nil
}

// attackPushedWrappedToOutsider: a pushed message carries alice's key
// change with outsider mallory appended to its participants.
func attackPushedWrappedToOutsider(w *world) (string, error) {
	d := newDM(w)
	mallory := w.newUser("mallory", false)
	me, kcB64, err := d.honestEnvelope(d.mid(0))
	if err != nil {
		return "", err
	}
	kc, err := hostile.DecodeEvent(kcB64)
	if err != nil {
		return "", err
	}
	p, err := outsiderParticipant(mallory)
	if err != nil {
		return "", err
	}
	if kcB64, err = hostile.EditEvent(kcB64, appendParticipant(kc.GetMessageID(), p)); err != nil {
		return "", err
	}
	push, err := pushOf(d.bob, "push-exposed", me, kcB64, nil)
	if err != nil {
		return "", err
	}
	del, _, err := d.bob.deliver(push)
	if err != nil {
		return "", errorf("Deliver failed instead of reporting: %w", err)
	}
	a, err := exposureReported(del.Anomalies, d.cid, kc.GetSequenceID(), mallory.id)
	if err != nil {
		return "", errorf("delivery (%s): %w", del.Status, err)
	}
	if err := notMember(w, d.bob, d.cid, mallory); err != nil {
		return "", err
	}
	fresh, err := sendsUnderFreshKey(w, d.bob, d.cid, d.sent[0].KeyVersion, []string{d.alice.id, d.bob.id})
	if err != nil {
		return "", err
	}
	return "delivery reported " + a.String() + "; next message under bob's new key " + fresh, nil
}

// TestRemovalWithoutRotationRekeys: an admin removes carol and (as a
// client that does not rotate on removal would) makes no new key, so the
// group's newest key is still one carol was given. Nothing is reported
// (the key change was honest when made), but bob's next message is not
// encrypted under the key carol holds: bob first posts a new key wrapped
// to the members left. (The emulator has no removal endpoint, so it never
// learns of the removal and refuses that key for leaving carol out: the
// test reads the key change bob posted, and the send fails.)
func TestRemovalWithoutRotationRekeys(t *testing.T) {
	w := newWorld(t)
	gr := newGroup(w)
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		t.Fatal(err)
	}
	held := c.KeyVersion
	rm, err := gr.alice.removal(hostile.Envelope{SequenceID: hostile.NextSequenceID(w.newestSeq(gr.alice, gr.g), 1),
		PreviousSequenceID: gr.hello.SequenceID, MessageID: forgedMID(41), ConversationID: gr.g}, gr.carol.id)
	if err != nil {
		t.Fatal(err)
	}
	w.injectData("remove-carol", gr.g, encodeAll(w, rm)...)
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if err, _ := r.byMessage(rm.GetMessageID()); err != nil {
		t.Fatalf("alice's removal of carol failed: %v", err)
	}
	if a, ok := r.anomaly(event.AnomalyKeyWrappedToNonMember); ok {
		t.Fatalf("a key change made before the removal reported: %v", a)
	}
	if err := notMember(w, gr.bob, gr.g, gr.carol); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var posted [][]string
	w.proxy.Add(hostile.Capture("bob-keys", http.MethodPost, `/2/chat/conversations/[^/]+/keys`, func(_ *http.Request, b []byte) {
		var req api.AddConversationKeysRequest
		if json.Unmarshal(b, &req) != nil {
			return
		}
		var ids []string
		for _, k := range req.ConversationParticipantKeys {
			ids = append(ids, k.UserID)
		}
		slices.Sort(ids)
		mu.Lock()
		posted = append(posted, ids)
		mu.Unlock()
	}))
	sends := w.watchSends(gr.bob.convKey(gr.g, held))
	_, serr := gr.bob.e.SendText(w.ctx, gr.g, "after carol left")
	if l := sends.leaks(); len(l) > 0 {
		t.Fatalf("bob encrypted under version %s, which removed carol holds: %v (send: %v)", held, l, serr)
	}
	mu.Lock()
	defer mu.Unlock()
	want := slices.Sorted(slices.Values([]string{gr.alice.id, gr.bob.id}))
	if len(posted) != 1 || !slices.Equal(posted[0], want) {
		t.Fatalf("key changes posted before the send: %v, want one wrapped to %v (send: %v)", posted, want, serr)
	}
}

// TestOwnKeyChangeWrappedToOutsiderReported: the server lists outsider
// mallory among the participants of bob's own rotation when it serves it
// back to him. bob knows whom he wrapped his key to (the server cannot
// have wrapped it to anyone else without holding it), so his key stays in
// use, but the claim is reported.
func TestOwnKeyChangeWrappedToOutsiderReported(t *testing.T) {
	w := newWorld(t)
	gr := newGroup(w)
	mallory := w.newUser("mallory", false)
	v, err := gr.bob.e.Rotate(w.ctx, gr.g)
	if err != nil {
		t.Fatal(err)
	}
	gr.bob.send(gr.g, "under bob's key")
	own, err := w.keyChangeOf(gr.bob, gr.g, v)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.servePadded("pad-own", own.GetMessageID(), mallory); err != nil {
		t.Fatal(err)
	}
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if _, err := exposureReported(r.res.Anomalies, gr.g, own.GetSequenceID(), mallory.id); err != nil {
		t.Fatal(err)
	}
	if err := notMember(w, gr.bob, gr.g, mallory); err != nil {
		t.Fatal(err)
	}
	if s := gr.bob.send(gr.g, "still under bob's key")[0]; s.KeyVersion != v {
		t.Fatalf("bob's send moved from his own key %s to %s", v, s.KeyVersion)
	}
}
