package interop

import (
	"crypto/elliptic"
	"encoding/json"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/wire"
)

// --- 20: disappearing (ttl) and silent (should_notify false) messages ---

func ttlSilentO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true)
	snt, err := us.e.Send(ctx, conv, session.Outgoing{Text: "this disappears quietly", TTL: 90 * time.Second, Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	m := them.sync(t, conv, nil).message(t, snt.MessageID)
	verifiedEvent(t, m)
	if m.TTLMsec == nil || *m.TTLMsec != 90000 {
		t.Errorf("SDK ttlMsec %v, want 90000", m.TTLMsec)
	}
	if m.ShouldNotify == nil || *m.ShouldNotify {
		t.Errorf("SDK shouldNotify %v, want false", m.ShouldNotify)
	}
}

func ttlSilentF2O(t *testing.T, s *suite) {
	us, them, conv := pair(t, s, false)
	snt := them.send(t, conv, map[string]any{"text": "this disappears quietly", "ttlMsec": 90000, "shouldNotify": false})
	e := entry(t, syncOurs(t, s, us, conv), snt.MessageID)
	verifiedMessage(t, e)
	if e.TTL != 90*time.Second {
		t.Errorf("engine TTL %v, want 90s", e.TTL)
	}
}

// --- 21: group title (encrypted metadata) ---

const groupTitle = "Ops team ✨"

func groupTitleO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us := s.newOurs(t, "ours")
	o1 := s.newOfficial(t, "official")
	gid, err := us.e.CreateGroup(ctx, session.GroupOptions{Members: []string{o1.id}, Title: groupTitle})
	if err != nil {
		t.Fatalf("engine CreateGroup: %v", err)
	}
	r := o1.sync(t, gid, nil)
	_, gcs := groupEvents(t, r)
	if len(gcs) != 1 {
		t.Fatalf("SDK saw %d group changes", len(gcs))
	}
	verifiedEvent(t, gcs[0])
	var gc struct {
		Title string `json:"title"`
	}
	if err := json.Unmarshal(gcs[0].Change, &gc); err != nil || gc.Title == "" {
		t.Fatalf("SDK group change has no title: %s", gcs[0].Change)
	}
	var pt struct {
		Plaintext string `json:"plaintext"`
	}
	o1.call(t, "app.decryptMetadata", map[string]any{"conversationId": gid, "ciphertext": gc.Title}, &pt)
	if pt.Plaintext != groupTitle {
		t.Errorf("SDK decrypts the signed title to %q, want %q", pt.Plaintext, groupTitle)
	}
	var conv struct {
		Title string `json:"title"`
	}
	o1.call(t, "app.conversation", map[string]any{"conversationId": gid}, &conv)
	if conv.Title != groupTitle {
		t.Errorf("SDK app decrypts group_name to %q, want %q", conv.Title, groupTitle)
	}
}

func groupTitleF2O(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	them := s.newOfficial(t, "official")
	u1 := s.newOurs(t, "ours")
	var g struct {
		ConversationID string `json:"conversationId"`
	}
	them.call(t, "app.createGroup", map[string]any{"memberIds": []string{u1.id}, "title": groupTitle}, &g)
	if _, err := u1.e.RefreshConversations(ctx); err != nil {
		t.Fatal(err)
	}
	syncOurs(t, s, u1, g.ConversationID)
	c, err := u1.e.Conversation(ctx, g.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Title != groupTitle {
		t.Errorf("engine group title %q, want %q (REST group_name encrypted by the SDK app)", c.Title, groupTitle)
	}
}

// --- 23: a peer re-registers new keys mid-conversation ---

// Ours: the user reinstalls (fresh keystore, new identity and signing keys,
// new public key version) and writes again; the SDK app must pick up the
// new keys and verify, and still verify what came before.
func reregisterO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true)
	before, err := us.e.SendText(ctx, conv, "signed with my first keys")
	if err != nil {
		t.Fatal(err)
	}
	them.sync(t, conv, nil)

	again := s.reinstall(t, us)
	if again.e.PublicKeyVersion() == us.e.PublicKeyVersion() {
		t.Fatal("re-registration kept the key version")
	}
	after, err := again.e.SendText(ctx, them.id, "signed with my new keys")
	if err != nil {
		t.Fatalf("engine (reinstalled) SendText: %v", err)
	}
	if after.KeyVersion == before.KeyVersion {
		t.Error("the reinstalled engine reused a conversation key it cannot have unwrapped")
	}
	r := them.sync(t, conv, nil)
	for _, w := range []*session.Sent{before, after} {
		m := r.message(t, w.MessageID)
		verifiedEvent(t, m)
	}
	// And the SDK answers under the new key, which the new device reads.
	back := them.send(t, conv, map[string]any{"text": "got your new keys"})
	if back.KeyVersion != after.KeyVersion {
		t.Errorf("SDK answered under %s, want %s", back.KeyVersion, after.KeyVersion)
	}
	verifiedMessage(t, entry(t, syncOurs(t, s, again, conv), back.MessageID))
}

// Official: the SDK user generates and registers new keys, re-keys the
// conversation and writes; our engine detects the key change, verifies old
// and new messages, and answers under the new conversation key.
func reregisterF2O(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true)
	before := them.send(t, conv, map[string]any{"text": "signed with my first keys"})
	var reg registerResult
	them.call(t, "app.register", nil, &reg)
	if reg.Version == them.reg.Version {
		t.Fatal("SDK re-registration kept the key version")
	}
	them.call(t, "app.fetchKeys", map[string]any{"userIds": []string{them.id}}, nil)
	var kc struct {
		KeyVersion string `json:"keyVersion"`
	}
	them.call(t, "app.startConversation", map[string]any{"peerId": us.id}, &kc)
	after := them.send(t, conv, map[string]any{"text": "signed with my new keys"})
	res, err := us.e.Sync(ctx, conv, nil)
	if err != nil {
		t.Fatal(err)
	}
	var changed bool
	for _, k := range res.KeyChanges {
		if k.UserID == them.id && k.New != nil && k.New.Version == reg.Version {
			changed = true
		}
	}
	if !changed {
		t.Errorf("engine reported no key change for the SDK user (got %+v)", res.KeyChanges)
	}
	h, err := us.e.History(ctx, conv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*sent{before, after} {
		verifiedMessage(t, entry(t, h, w.MessageID))
	}
	back, err := us.e.SendText(ctx, conv, "got your new keys")
	if err != nil {
		t.Fatal(err)
	}
	m := them.sync(t, conv, nil).message(t, back.MessageID)
	verifiedEvent(t, m)
	if m.Content == nil || m.Content.Text != "got your new keys" {
		t.Errorf("SDK read %s", m.Raw)
	}
}

// reinstall opens a fresh keystore with new keys for us's user id and
// registers them (a reinstalled device without a backup).
func (s *suite) reinstall(t *testing.T, us *ours) *ours {
	t.Helper()
	ctx := s.ctx(t)
	store := keystore.NewMemory()
	if err := session.CreateAccount(ctx, store, us.id, nil); err != nil {
		t.Fatal(err)
	}
	srv := &hostileServer{Server: session.NewAPIServer(us.client)}
	e, err := session.Open(ctx, store, srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	if _, err := e.Register(ctx); err != nil {
		t.Fatalf("Register (reinstalled): %v", err)
	}
	return &ours{id: us.id, e: e, client: us.client, srv: srv}
}

// --- 24: a long history read page by page, across key rotations ---

const historyLen = 120 // > 100 (max_results): at least two pages

func longHistoryO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true)
	var mids []string
	for i := range historyLen {
		if i == historyLen/2 {
			if _, err := us.e.Rotate(ctx, conv); err != nil {
				t.Fatal(err)
			}
		}
		snt, err := us.e.SendText(ctx, conv, fmt.Sprintf("message %d", i))
		if err != nil {
			t.Fatal(err)
		}
		mids = append(mids, snt.MessageID)
	}
	r := them.sync(t, conv, nil)
	if len(r.Errors) > 0 {
		t.Errorf("SDK: %d errors, first %+v", len(r.Errors), r.Errors[0])
	}
	for i, mid := range mids {
		m := r.message(t, mid)
		if !m.Verified || m.Content == nil || m.Content.Text != fmt.Sprintf("message %d", i) {
			t.Fatalf("SDK read message %d as %s", i, m.Raw)
		}
	}
}

func longHistoryF2O(t *testing.T, s *suite) {
	us, them, conv := pair(t, s, false)
	var mids []string
	for i := range historyLen {
		if i == historyLen/2 {
			them.call(t, "app.startConversation", map[string]any{"peerId": us.id}, nil)
		}
		mids = append(mids, them.send(t, conv, map[string]any{"text": fmt.Sprintf("message %d", i)}).MessageID)
	}
	h := syncOurs(t, s, us, conv)
	for i, mid := range mids {
		e := entry(t, h, mid)
		if !e.Verified || e.Text != fmt.Sprintf("message %d", i) {
			t.Fatalf("engine read message %d as %+v", i, e)
		}
	}
}

// --- 26: high-S ECDSA signatures ---
//
// Both implementations sign deterministically (RFC 6979) without low-S
// normalisation, so about half of all signatures have s > n/2. Each side
// must accept the other's high-S signatures (SDK-FACTS.md §5, §11).

// highS reports whether the event's message signature has s > n/2.
func highS(t *testing.T, eventB64 string) bool {
	t.Helper()
	raw, err := wire.DecodeB64(eventB64)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := wire.DecodeMessageEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	if ev.MessageEventSignature == nil || ev.MessageEventSignature.Signature == nil {
		t.Fatal("event without signature")
	}
	sig, err := crypto.DecodeSignature(*ev.MessageEventSignature.Signature)
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature: %v", err)
	}
	half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
	return new(big.Int).SetBytes(sig[32:]).Cmp(half) > 0
}

const highSTries = 40 // P(no high-S in 40 signatures) = 2^-40

func highSO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true)
	var mid string
	for i := 0; i < highSTries && mid == ""; i++ {
		snt, err := us.e.SendText(ctx, conv, fmt.Sprintf("signature %d", i))
		if err != nil {
			t.Fatal(err)
		}
		raw := rawEvents(t, s, us, conv)[snt.MessageID]
		if raw != "" && highS(t, raw) {
			mid = snt.MessageID
		}
	}
	if mid == "" {
		t.Fatalf("no high-S signature in %d messages: is the engine normalising s (the SDK does not)?", highSTries)
	}
	verifiedEvent(t, them.sync(t, conv, nil).message(t, mid))
}

func highSF2O(t *testing.T, s *suite) {
	us, them, conv := pair(t, s, false)
	var mid string
	for i := 0; i < highSTries && mid == ""; i++ {
		snt := them.send(t, conv, map[string]any{"text": fmt.Sprintf("signature %d", i)})
		if highS(t, snt.Event) {
			mid = snt.MessageID
		}
	}
	if mid == "" {
		t.Fatalf("no high-S signature from the SDK in %d messages", highSTries)
	}
	verifiedMessage(t, entry(t, syncOurs(t, s, us, conv), mid))
}
