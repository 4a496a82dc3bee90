package attacks

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// The transcript-mutation harness for one-to-one conversations, part 1:
// an honest history between alice and bob, played by their real engines
// over the emulator (messages, replies with quoted previews, edits,
// reactions, deletes for oneself and for all, rotations by both sides),
// in which alice re-registers once (a new key pair under a new public key
// version, as after a PIN reset) and the conversation goes on under her
// new keys. Beside it, forgeries: mallory (an outsider with valid keys of
// her own) signs key changes and messages claiming to be alice's, or her
// own with a third participant; the server (no keys) signs with a key
// nobody registered. Part 2 (mutation_keys_test.go) serves bob's fresh
// device mutations of the transcript and of alice's key listing; part 3
// (mutation_dm_check_test.go) checks the invariants.

// dmHistory is an honest one-to-one history and its forgeries.
type dmHistory struct {
	w              *world
	alice, bob     *user // alice: her engine before the re-key
	alice2         *user // alice after the re-key (new keys, new version)
	mallory        *user
	cid, path      string
	items          []*mutItem
	forgeries      []*mutItem
	texts          map[string][]string                // message id → texts it may show
	senders        map[string]string                  // honest message id → sender
	keys           map[string]*crypto.ConversationKey // honest key versions
	hostileKeys    []*crypto.ConversationKey          // keys made by mallory or the server
	asAliceKeys    []*crypto.ConversationKey          // those mallory signed as alice
	asAlice        map[string]bool                    // message ids mallory signed as alice
	forging        int                                // which forger forgeDM is at
	superseded     *crypto.ConversationKey            // the key alice's superseded signing key distributes
	bySuperseded   map[string]bool                    // message ids signed with it
	aliceOld       api.PublicKey                      // alice's key set before the re-key
	aliceNew       api.PublicKey                      // after it
	malloryKeys    api.PublicKey                      // mallory's own key set
	bobBackup      []byte
	bobVersion     string
	oldNumber      string // the safety number of bob and alice's old keys
	newNumber      string // of bob and alice's new keys
	malloryNumbers []string
	n              int
}

// newDMHistory plays the honest script chosen by rng and forges.
func newDMHistory(w *world, rng *rand.Rand) *dmHistory {
	h := &dmHistory{w: w, asAlice: map[string]bool{}, bySuperseded: map[string]bool{}, texts: map[string][]string{}, senders: map[string]string{}, keys: map[string]*crypto.ConversationKey{}}
	h.alice, h.bob, h.mallory = w.newUser("alice", false), w.newUser("bob", false), w.newUser("mallory", false)
	h.aliceOld, h.malloryKeys = w.publishedKeys(h.alice), w.publishedKeys(h.mallory)
	first := h.alice.send(h.bob.id, "hello bob")[0]
	h.cid, h.path = first.ConversationID, api.ConversationPathID(first.ConversationID)
	h.texts[first.MessageID] = []string{"hello bob"}
	h.playDM(rng, []*session.Sent{first}, map[string]string{first.SequenceID: h.alice.id})
	h.readDM()
	h.forgeDM()
	h.sealDM()
	return h
}

// dmSynced syncs u's view of the conversation, failing on an error.
func (h *dmHistory) dmSynced(u *user) *user {
	if r := u.sync(h.cid); r.err != nil {
		h.w.t.Fatalf("honest sync of %s: %v", u.id, r.err)
	}
	return u
}

// playDM runs the engines' script; alice re-keys at a random step.
func (h *dmHistory) playDM(rng *rand.Rand, sent []*session.Sent, by map[string]string) {
	steps := 7 + rng.IntN(5)
	rekeyAt := 2 + rng.IntN(steps-3)
	alice, since := h.alice, 0
	for i := range steps {
		if i == rekeyAt {
			since = len(sent) // alice's new engine holds nothing from before
			h.alice2 = h.w.rekey(h.alice)
			alice = h.alice2
			h.aliceNew = h.w.publishedKeys(alice)
			if _, err := h.dmSynced(alice).e.Rotate(h.w.ctx, h.cid); err != nil {
				h.w.t.Fatalf("Rotate after the re-key: %v", err)
			}
			s := h.dmSay(alice, fmt.Sprintf("alice's first message under her new keys (%d)", i), "")
			sent, by[s.SequenceID] = append(sent, s), alice.id
			continue
		}
		u := []*user{alice, h.bob}[rng.IntN(2)]
		h.dmSynced(u)
		var own []*session.Sent
		seen := sent
		if u == h.alice2 {
			seen = sent[since:]
		}
		for _, s := range seen {
			if by[s.SequenceID] == u.id {
				own = append(own, s)
			}
		}
		if s := h.dmStep(rng, u, i, seen, own); s != nil {
			sent, by[s.SequenceID] = append(sent, s), u.id
		}
	}
	h.dmSynced(h.bob)
	h.dmSynced(alice)
}

// dmStep is one action of u's; it returns a message to remember, if any.
func (h *dmHistory) dmStep(rng *rand.Rand, u *user, i int, sent, own []*session.Sent) *session.Sent {
	t, ctx := h.w.t, h.w.ctx
	switch op := rng.IntN(9); {
	case op == 0 && len(own) > 0:
		target := own[rng.IntN(len(own))]
		txt := fmt.Sprintf("edit %d by %s", i, u.id)
		s, err := u.e.Send(ctx, h.cid, session.Outgoing{Edit: target.SequenceID, Text: txt})
		if err != nil {
			t.Fatalf("Edit: %v", err)
		}
		h.texts[target.MessageID] = append(h.texts[target.MessageID], txt)
		h.texts[s.MessageID] = append(h.texts[s.MessageID], txt)
	case op == 1:
		if _, err := u.e.Send(ctx, h.cid, session.Outgoing{React: sent[rng.IntN(len(sent))].SequenceID, Emoji: "👍"}); err != nil {
			t.Fatalf("React: %v", err)
		}
	case op == 2 && len(own) > 0:
		if err := u.e.DeleteMessages(ctx, h.cid, []string{own[rng.IntN(len(own))].SequenceID}, rng.IntN(2) == 0); err != nil {
			t.Fatalf("DeleteMessages: %v", err)
		}
	case op == 3:
		if _, err := u.e.Rotate(ctx, h.cid); err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		return h.dmSay(u, fmt.Sprintf("message %d by %s after a rotation", i, u.id), "")
	case op == 4:
		return h.dmSay(u, fmt.Sprintf("reply %d by %s", i, u.id), sent[rng.IntN(len(sent))].SequenceID)
	case op == 5:
		caption := fmt.Sprintf("photo %d by %s", i, u.id)
		body := []byte(caption + " (the picture)")
		s, err := u.e.Send(ctx, h.cid, session.Outgoing{Text: caption, Media: &session.Media{Data: bytes.NewReader(body), Size: int64(len(body)), Filename: "p.jpg"}})
		if err != nil {
			t.Fatalf("send media: %v", err)
		}
		h.texts[s.MessageID] = append(h.texts[s.MessageID], caption)
		return s
	default:
		return h.dmSay(u, fmt.Sprintf("message %d by %s", i, u.id), "")
	}
	return nil
}

// dmSay sends txt from u (a reply to replyTo, when set).
func (h *dmHistory) dmSay(u *user, txt, replyTo string) *session.Sent {
	s, err := u.e.Send(h.w.ctx, h.cid, session.Outgoing{Text: txt, ReplyTo: replyTo})
	if err != nil {
		h.w.t.Fatalf("Send %q: %v", txt, err)
	}
	h.texts[s.MessageID] = append(h.texts[s.MessageID], txt)
	return s
}

// readDM reads the honest transcript and keys as bob holds them.
func (h *dmHistory) readDM() {
	w := h.w
	for _, it := range readTranscript(w, h.bob.token, h.path) {
		h.items = append(h.items, it)
		h.senders[it.me.GetMessageID()] = it.me.GetSenderID()
	}
	sortItems(h.items)
	for _, u := range []*user{h.bob, h.alice, h.alice2} {
		ks, err := u.store.ConversationKeys(w.ctx, h.cid)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, k := range ks {
			ck := crypto.ConversationKey(k.Key)
			if old := h.keys[k.Version]; old != nil && !old.Equal(&ck) {
				w.t.Fatalf("honest engines hold two keys under version %s", k.Version)
			}
			h.keys[k.Version] = &ck
		}
	}
}

// dmTop is the newest honest sequence id.
func (h *dmHistory) dmTop() string { return h.items[len(h.items)-1].seq() }

// dmEnv is the envelope of the next forged event, delta above the top.
func (h *dmHistory) dmEnv(rng *rand.Rand) hostile.Envelope {
	h.n++
	top := h.dmTop()
	if rng != nil && rng.IntN(2) == 0 { // somewhere inside the history
		top = h.items[rng.IntN(len(h.items))].seq()
	}
	return hostile.Envelope{SequenceID: hostile.NextSequenceID(top, uint64(500+h.n)), PreviousSequenceID: top,
		MessageID: fmt.Sprintf("0b7c1a52-5555-4c4c-8888-%012d", h.n), ConversationID: h.cid}
}

// forgeDM makes the forgeries: mallory's as herself and as alice, and the
// server's (signed with a key nobody registered).
func (h *dmHistory) forgeDM() {
	t := h.w.t
	rng := rand.New(rand.NewPCG(uint64(len(h.items)), 7))
	newest := h.newestDMVersion()
	m := h.mallory.forger()
	asAlice := &hostile.Forger{UserID: h.alice.id, KeyVersion: h.alice2.e.PublicKeyVersion(), Signing: m.Signing}
	oldAlice := &hostile.Forger{UserID: h.alice.id, KeyVersion: h.alice.e.PublicKeyVersion(), Signing: m.Signing}
	nobody, err := crypto.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	server := &hostile.Forger{UserID: h.alice.id, KeyVersion: h.alice2.e.PublicKeyVersion(), Signing: nobody.Signing}
	three := []hostile.Recipient{h.alice2.recipient(), h.bob.recipient(), h.mallory.recipient()}
	two := []hostile.Recipient{h.alice2.recipient(), h.bob.recipient()}
	for i, f := range []*hostile.Forger{m, asAlice, oldAlice, server} {
		key, err := crypto.NewConversationKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		h.hostileKeys = append(h.hostileKeys, key)
		h.forging = i
		if i == 1 || i == 2 {
			h.asAliceKeys = append(h.asAliceKeys, key)
		}
		v := bumpVersion(t, newest, int64(1+i))
		to := three
		if i == 3 {
			to = two
		}
		h.addForgery(f.KeyChange(h.dmEnv(rng), v, key, to))
		h.addForgery(f.Message(h.dmEnv(rng), v, key, text(fmt.Sprintf("forged %d under %s", i, v))))
		// The same version as an honest key: a collision on the newest.
		h.addForgery(f.KeyChange(h.dmEnv(rng), newest, key, to))
	}
	h.addThirdParticipant(rng)
	h.forgeSuperseded(rng, newest)
}

// forgeSuperseded signs a key change and a message with alice's real
// signing key from before the re-key (as a server holding that key would):
// a superseded signing key may verify history, never make the key bob
// encrypts to once he knows its successor.
func (h *dmHistory) forgeSuperseded(rng *rand.Rand, newest string) {
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		h.w.t.Fatal(err)
	}
	h.superseded, h.forging = key, -1
	old := h.alice.forger()
	v := bumpVersion(h.w.t, newest, 7)
	h.addForgery(old.KeyChange(h.dmEnv(rng), v, key, []hostile.Recipient{h.alice2.recipient(), h.bob.recipient()}))
	h.addForgery(old.Message(h.dmEnv(rng), v, key, text("signed with alice's superseded key")))
	for _, it := range h.forgeries[len(h.forgeries)-2:] {
		h.bySuperseded[it.me.GetMessageID()] = true
	}
}

// addThirdParticipant re-serves an honest key change of alice's with a
// third participant (mallory) added to its participant list by the server.
func (h *dmHistory) addThirdParticipant(rng *rand.Rand) {
	for i := len(h.items) - 1; i >= 0; i-- {
		it := h.items[i]
		kc := it.me.GetDetail().GetConversationKeyChangeEvent()
		if kc == nil || it.me.GetSenderID() != h.alice.id {
			continue
		}
		key, err := crypto.NewConversationKey(nil)
		if err != nil {
			h.w.t.Fatal(err)
		}
		wrapped, err := crypto.WrapConversationKey(nil, h.mallory.keys().Identity.PublicKey(), key)
		if err != nil {
			h.w.t.Fatal(err)
		}
		c := cloneItem(it)
		ck := *kc
		uid, kv, enc := h.mallory.id, h.mallory.e.PublicKeyVersion(), wire.EncodeB64(wrapped)
		ck.ConversationParticipantKeys = append(append([]*tevent.ConversationParticipantKey(nil), kc.ConversationParticipantKeys...),
			&tevent.ConversationParticipantKey{UserID: &uid, EncryptedConversationKey: &enc, PublicKeyVersion: &kv})
		d := *c.me.GetDetail()
		d.ConversationKeyChangeEvent = &ck
		c.me.Detail = &d
		e := h.dmEnv(rng)
		c.me.SequenceID, c.me.PreviousSequenceID = strp(e.SequenceID), strp(e.PreviousSequenceID)
		c.forged = true
		h.forgeries = append(h.forgeries, c)
		return
	}
}

// addForgery records a forged event.
func (h *dmHistory) addForgery(me *tevent.MessageEvent, err error) {
	if err != nil {
		h.w.t.Fatal(err)
	}
	h.asAlice[me.GetMessageID()] = h.forging == 1 || h.forging == 2
	h.forgeries = append(h.forgeries, &mutItem{me: me, forged: true, kc: me.GetDetail().ConversationKeyChangeEvent != nil})
}

// newestDMVersion is the newest honest conversation key version.
func (h *dmHistory) newestDMVersion() string {
	newest := ""
	for v := range h.keys {
		if newest == "" || decimal.Less(newest, v) {
			newest = v
		}
	}
	return newest
}

// sealDM keeps bob's keys for his fresh devices and the safety numbers a
// careful bob could compare.
func (h *dmHistory) sealDM() {
	b, err := h.bob.e.ExportBackup()
	if err != nil {
		h.w.t.Fatal(err)
	}
	h.bobBackup, h.bobVersion = b, h.bob.e.PublicKeyVersion()
	bobKP := h.bob.keys()
	h.oldNumber = testSafetyNumber(h.w.t, h.bob.id, bobKP, h.alice.id, h.aliceOld)
	h.newNumber = testSafetyNumber(h.w.t, h.bob.id, bobKP, h.alice.id, h.aliceNew)
	if n, err := h.alice2.e.SafetyNumber(h.w.ctx, h.bob.id); err != nil || n != h.newNumber {
		h.w.t.Fatalf("alice's safety number %q (%v), the harness computes %q", n, err, h.newNumber)
	}
	h.malloryNumbers = []string{testSafetyNumber(h.w.t, h.bob.id, bobKP, h.alice.id, h.malloryKeys)}
}

// dmHarness is one honest one-to-one history and the hostile server bob's
// fresh devices sync through.
type dmHarness struct {
	h       *dmHistory
	srv     *mutServer
	keys    *keyServer
	url     string
	bobKP   *crypto.KeyPair
	holders []keyHolder // the private identity keys of bob, alice (both) and mallory
}

// newDMHarness builds a world, plays the history chosen by seed and
// starts the hostile server.
func newDMHarness(tb testing.TB, seed uint64) *dmHarness {
	w := newWorld(tb, emulator.WithRateLimit(0, 0))
	h := newDMHistory(w, rand.New(rand.NewPCG(seed, 0x646d6869)))
	ks := &keyServer{alice: h.alice.id}
	w.proxy.Add(ks.rule())
	srv := &mutServer{next: w.proxy, path: h.path}
	hs := httptest.NewServer(srv)
	tb.Cleanup(hs.Close)
	holders := []keyHolder{{"bob", h.bob.keys().Identity}, {"alice (old keys)", h.alice.keys().Identity},
		{"alice (new keys)", h.alice2.keys().Identity}, {"mallory", h.mallory.keys().Identity}}
	return &dmHarness{h: h, srv: srv, keys: ks, url: hs.URL, bobKP: h.bob.keys(), holders: holders}
}
