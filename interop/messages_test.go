package interop

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xchat-go/xchat/interop/peer"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// --- 02: the 1:1 key change (/keys) and the first messages ---

func keyChangeO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us := s.newOurs(t, "ours")
	them := s.newOfficial(t, "official")
	conv := oneToOne(t, us.id, them.id)

	first, err := us.e.SendText(ctx, them.id, "first message from xchat-go")
	if err != nil {
		t.Fatalf("engine SendText: %v", err)
	}
	if first.ConversationID != conv {
		t.Errorf("engine conversation id %s, SDK derives %s", first.ConversationID, conv)
	}
	r := them.sync(t, conv, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("SDK rejected events: %+v", r.Errors)
	}
	var kc *peer.Event
	for i := range r.Events {
		if r.Events[i].Type == "keyChange" {
			kc = &r.Events[i]
		}
	}
	if kc == nil {
		t.Fatal("SDK saw no key change")
	}
	verifiedEvent(t, kc)
	if kc.KeyVersion != first.KeyVersion || kc.SenderID != us.id || kc.ConversationID != conv {
		t.Errorf("key change: version %s sender %s conv %s; want %s %s %s", kc.KeyVersion, kc.SenderID, kc.ConversationID, first.KeyVersion, us.id, conv)
	}
	var users []string
	for _, p := range kc.ParticipantKeys {
		users = append(users, p.UserID)
	}
	slices.Sort(users)
	want := []string{us.id, them.id}
	slices.SortFunc(want, func(a, b string) int { return strings.Compare(a, b) })
	if !slices.Equal(users, want) {
		t.Errorf("participant keys for %v, want %v", users, want)
	}
	m := r.message(t, first.MessageID)
	verifiedEvent(t, m)
	if m.Content == nil || m.Content.Text != "first message from xchat-go" || m.KeyVersion != first.KeyVersion {
		t.Fatalf("SDK decrypted %s", m.Raw)
	}
	var keys struct {
		Latest string `json:"latest"`
	}
	them.call(t, "app.keys", map[string]any{"conversationId": conv}, &keys)
	if keys.Latest != first.KeyVersion {
		t.Errorf("SDK app adopted key %s, want %s", keys.Latest, first.KeyVersion)
	}
	// The SDK answers under our key and we read it.
	back := them.send(t, conv, map[string]any{"text": "answer under your key"})
	if back.KeyVersion != first.KeyVersion {
		t.Errorf("SDK answered under key %s, want %s", back.KeyVersion, first.KeyVersion)
	}
	e := entry(t, syncOurs(t, s, us, conv), back.MessageID)
	verifiedMessage(t, e)
	if e.Text != "answer under your key" {
		t.Errorf("engine read %q", e.Text)
	}
}

func keyChangeF2O(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us := s.newOurs(t, "ours")
	them := s.newOfficial(t, "official")
	conv := oneToOne(t, us.id, them.id)

	var kc struct {
		ConversationID string `json:"conversationId"`
		KeyVersion     string `json:"keyVersion"`
		SequenceID     string `json:"sequenceId"`
	}
	them.call(t, "app.startConversation", map[string]any{"peerId": us.id}, &kc)
	if kc.ConversationID != conv {
		t.Errorf("SDK conversation id %s, engine derives %s", kc.ConversationID, conv)
	}
	first := them.send(t, conv, map[string]any{"text": "first message from the SDK"})
	h := syncOurs(t, s, us, conv)
	var kce *event.Entry
	for i := range h {
		if h[i].Type == event.TypeKeyChange {
			kce = &h[i]
		}
	}
	if kce == nil {
		t.Fatal("engine stored no key change")
	}
	verifiedMessage(t, kce)
	if kce.KeyVersion != kc.KeyVersion || kce.SenderID != them.id {
		t.Errorf("key change entry version %s sender %s; want %s %s", kce.KeyVersion, kce.SenderID, kc.KeyVersion, them.id)
	}
	e := entry(t, h, first.MessageID)
	verifiedMessage(t, e)
	if e.Text != "first message from the SDK" || e.KeyVersion != kc.KeyVersion || e.SenderID != them.id {
		t.Errorf("engine read %+v", e)
	}
	c, err := us.e.Conversation(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyVersion != kc.KeyVersion {
		t.Errorf("engine conversation key %s, SDK's %s", c.KeyVersion, kc.KeyVersion)
	}
	// We answer under the SDK's key (no rotation) and the SDK reads it.
	back, err := us.e.SendText(ctx, conv, "answer under your key")
	if err != nil {
		t.Fatal(err)
	}
	if back.KeyVersion != kc.KeyVersion {
		t.Errorf("engine answered under key %s, want the SDK's %s", back.KeyVersion, kc.KeyVersion)
	}
	m := them.sync(t, conv, nil).message(t, back.MessageID)
	verifiedEvent(t, m)
	if m.Content == nil || m.Content.Text != "answer under your key" {
		t.Errorf("SDK read %s", m.Raw)
	}
}

// --- 03: text with entities ---

const entityText = "see https://x.com #golang @jack $TSLA mail a@b.co call +1 555 0100 at 1 Main St"

// entitySpans are entityText's rich-text spans: one of each entity type, by
// the SDK's tuple name and our type.
var entitySpans = []struct {
	sub, sdk string
	ours     event.EntityType
}{
	{"https://x.com", "url", event.EntityURL},
	{"#golang", "hashtag", event.EntityHashtag},
	{"@jack", "mention", event.EntityMention},
	{"$TSLA", "cashtag", event.EntityCashtag},
	{"a@b.co", "email", event.EntityEmail},
	{"+1 555 0100", "phoneNumber", event.EntityPhoneNumber},
	{"1 Main St", "address", event.EntityAddress},
}

// sdkEntities and ourEntities are entitySpans as each side takes them.
var sdkEntities, ourEntities = func() ([]peer.Entity, []event.Entity) {
	var a []peer.Entity
	var b []event.Entity
	for _, e := range entitySpans {
		i := strings.Index(entityText, e.sub)
		a = append(a, peer.Entity{Start: i, End: i + len(e.sub), Type: e.sdk})
		b = append(b, event.Entity{Start: int32(i), End: int32(i + len(e.sub)), Type: e.ours})
	}
	return a, b
}()

type sdkEntity struct {
	StartIndex int                        `json:"startIndex"`
	EndIndex   int                        `json:"endIndex"`
	Content    map[string]json.RawMessage `json:"content"`
}

func entitiesO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true)
	snt, err := us.e.Send(ctx, conv, session.Outgoing{Text: entityText, Entities: ourEntities})
	if err != nil {
		t.Fatal(err)
	}
	m := them.sync(t, conv, nil).message(t, snt.MessageID)
	verifiedEvent(t, m)
	if m.Content == nil || m.Content.Text != entityText {
		t.Fatalf("SDK read %s", m.Raw)
	}
	var ents []sdkEntity
	if err := json.Unmarshal(m.Content.Entities, &ents); err != nil {
		t.Fatalf("SDK entities %s: %v", m.Content.Entities, err)
	}
	if len(ents) != len(sdkEntities) {
		t.Fatalf("SDK read %d entities, want %d: %s", len(ents), len(sdkEntities), m.Content.Entities)
	}
	for i, w := range sdkEntities {
		g := ents[i]
		if _, ok := g.Content[w.Type]; !ok || g.StartIndex != w.Start || g.EndIndex != w.End {
			t.Errorf("entity %d: SDK read %+v, want %+v", i, g, w)
		}
	}
}

func entitiesF2O(t *testing.T, s *suite) {
	us, them, conv := pair(t, s, false)
	snt := them.send(t, conv, map[string]any{"text": entityText, "entities": sdkEntities})
	e := entry(t, syncOurs(t, s, us, conv), snt.MessageID)
	verifiedMessage(t, e)
	if e.Text != entityText {
		t.Fatalf("engine read %q", e.Text)
	}
	if !slices.Equal(e.Entities, ourEntities) {
		t.Errorf("engine entities %+v, want %+v", e.Entities, ourEntities)
	}
}

// --- 04: unicode and 10,000-character messages ---

// unicodeTexts are the payloads of row 04: scripts, combining marks,
// emoji sequences, RTL, and a 10,000-character message mixing 1- to 4-byte
// UTF-8 sequences.
func unicodeTexts() []string {
	long := []rune(strings.Repeat("aé€😀", 2500))
	return []string{
		"Grüße, 世界! Привет, мир. مرحبا بالعالم. שלום. नमस्ते 🙏🏽",
		"e\u0301 Z\u0351\u0362a\u0340l\u0361g\u0362o 👩‍👩‍👧‍👦 🏳️‍🌈 \u200d\u200b\ufeff",
		"\U0001F600\U0001F4A9 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \t\n\r line breaks",
		string(long),
	}
}

func unicodeO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true)
	var mids []string
	for _, txt := range unicodeTexts() {
		snt, err := us.e.SendText(ctx, conv, txt)
		if err != nil {
			t.Fatalf("engine SendText(%d runes): %v", utf8.RuneCountInString(txt), err)
		}
		mids = append(mids, snt.MessageID)
	}
	r := them.sync(t, conv, nil)
	for i, txt := range unicodeTexts() {
		m := r.message(t, mids[i])
		verifiedEvent(t, m)
		if m.Content == nil || m.Content.Text != txt {
			t.Errorf("text %d (%d runes): SDK read a different text", i, utf8.RuneCountInString(txt))
		}
	}
}

func unicodeF2O(t *testing.T, s *suite) {
	us, them, conv := pair(t, s, false)
	var mids []string
	for _, txt := range unicodeTexts() {
		mids = append(mids, them.send(t, conv, map[string]any{"text": txt}).MessageID)
	}
	h := syncOurs(t, s, us, conv)
	for i, txt := range unicodeTexts() {
		e := entry(t, h, mids[i])
		verifiedMessage(t, e)
		if e.Text != txt {
			t.Errorf("text %d (%d runes): engine read a different text", i, utf8.RuneCountInString(txt))
		}
	}
}

// --- 06: replies ---

type sdkPreview struct {
	SenderID                    json.Number     `json:"senderId"`
	Entities                    json.RawMessage `json:"entities"`
	Attachments                 json.RawMessage `json:"attachments"`
	MessageText                 string          `json:"messageText"`
	ReplyingToMessageSequenceID string          `json:"replyingToMessageSequenceId"`
	ReplyingToMessageID         string          `json:"replyingToMessageId"`
}

func preview(t *testing.T, m *peer.Event) sdkPreview {
	t.Helper()
	if m.Content == nil || len(m.Content.ReplyingToPreview) == 0 {
		t.Fatalf("SDK event has no reply preview: %s", m.Raw)
	}
	var p sdkPreview
	if err := json.Unmarshal(m.Content.ReplyingToPreview, &p); err != nil {
		t.Fatalf("preview %s: %v", m.Content.ReplyingToPreview, err)
	}
	return p
}

func replyO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true)
	// The original carries entities: the preview must reproduce them.
	orig := them.send(t, conv, map[string]any{"text": entityText, "entities": sdkEntities})
	syncOurs(t, s, us, conv)
	snt, err := us.e.Send(ctx, conv, session.Outgoing{Text: "our reply", ReplyTo: orig.SequenceID})
	if err != nil {
		t.Fatalf("engine Reply: %v", err)
	}
	m := them.sync(t, conv, nil).message(t, snt.MessageID)
	verifiedEvent(t, m)
	p := preview(t, m)
	if m.Content.Text != "our reply" || p.MessageText != entityText || p.ReplyingToMessageSequenceID != orig.SequenceID ||
		p.ReplyingToMessageID != orig.MessageID || p.SenderID.String() != them.id {
		t.Errorf("SDK read reply %s", m.Raw)
	}
	var pe []sdkEntity
	if err := json.Unmarshal(p.Entities, &pe); err != nil || len(pe) != len(entitySpans) {
		t.Errorf("SDK preview entities %s, want %d", p.Entities, len(entitySpans))
	}
	if m.ReplyPreviewValidation != "valid" {
		t.Errorf("SDK replyPreviewValidation %q, want valid", m.ReplyPreviewValidation)
	}
}

func replyF2O(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, false)
	orig, err := us.e.Send(ctx, conv, session.Outgoing{Text: entityText, Entities: ourEntities})
	if err != nil {
		t.Fatal(err)
	}
	them.sync(t, conv, nil)
	snt := them.send(t, conv, map[string]any{"text": "the SDK's reply", "replyTo": orig.SequenceID})
	e := entry(t, syncOurs(t, s, us, conv), snt.MessageID)
	verifiedMessage(t, e)
	if e.ReplyTo == nil {
		t.Fatalf("engine entry has no reply: %+v", e)
	}
	r := e.ReplyTo
	if e.Text != "the SDK's reply" || r.Text != entityText || r.SequenceID != orig.SequenceID || r.MessageID != orig.MessageID || r.SenderID != us.id {
		t.Errorf("engine read reply %+v / %+v", e, r)
	}
	if r.Validation != "valid" {
		t.Errorf("engine reply validation %q, want valid", r.Validation)
	}
}

// --- 07: a reply to a message under an older key version ---

func replyOldKeyO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true)
	orig := them.send(t, conv, map[string]any{"text": "said under the first key"})
	syncOurs(t, s, us, conv)
	v2, err := us.e.Rotate(ctx, conv)
	if err != nil {
		t.Fatalf("engine Rotate: %v", err)
	}
	if v2 == orig.KeyVersion {
		t.Fatal("rotation kept the key version")
	}
	snt, err := us.e.Send(ctx, conv, session.Outgoing{Text: "reply under the second key", ReplyTo: orig.SequenceID})
	if err != nil {
		t.Fatalf("engine Reply: %v", err)
	}
	if snt.KeyVersion != v2 {
		t.Errorf("reply sealed under %s, want %s", snt.KeyVersion, v2)
	}
	m := them.sync(t, conv, nil).message(t, snt.MessageID)
	verifiedEvent(t, m)
	p := preview(t, m)
	if m.KeyVersion != v2 || p.MessageText != "said under the first key" || p.ReplyingToMessageSequenceID != orig.SequenceID {
		t.Errorf("SDK read %s", m.Raw)
	}
	if m.ReplyPreviewValidation != "valid" {
		t.Errorf("SDK replyPreviewValidation %q, want valid", m.ReplyPreviewValidation)
	}
}

func replyOldKeyF2O(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, false)
	orig, err := us.e.SendText(ctx, conv, "said under the first key")
	if err != nil {
		t.Fatal(err)
	}
	them.sync(t, conv, nil)
	var kc struct {
		KeyVersion string `json:"keyVersion"`
	}
	them.call(t, "app.startConversation", map[string]any{"peerId": us.id}, &kc)
	if kc.KeyVersion == orig.KeyVersion {
		t.Fatal("SDK re-key kept the version")
	}
	snt := them.send(t, conv, map[string]any{"text": "reply under the second key", "replyTo": orig.SequenceID})
	if snt.KeyVersion != kc.KeyVersion {
		t.Errorf("SDK reply sealed under %s, want %s", snt.KeyVersion, kc.KeyVersion)
	}
	e := entry(t, syncOurs(t, s, us, conv), snt.MessageID)
	verifiedMessage(t, e)
	if e.KeyVersion != kc.KeyVersion || e.ReplyTo == nil || e.ReplyTo.Text != "said under the first key" || e.ReplyTo.SequenceID != orig.SequenceID {
		t.Errorf("engine read %+v (reply %+v)", e, e.ReplyTo)
	}
	if e.ReplyTo != nil && e.ReplyTo.Validation != "valid" {
		t.Errorf("engine reply validation %q, want valid", e.ReplyTo.Validation)
	}
}

// --- 09: reactions ---

func reactionsO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true)
	orig := them.send(t, conv, map[string]any{"text": "react to me"})
	syncOurs(t, s, us, conv)
	add, err := us.e.Send(ctx, conv, session.Outgoing{React: orig.SequenceID, Emoji: "👍🏽"})
	if err != nil {
		t.Fatalf("engine React: %v", err)
	}
	rm, err := us.e.Send(ctx, conv, session.Outgoing{Unreact: orig.SequenceID, Emoji: "👍🏽"})
	if err != nil {
		t.Fatalf("engine Unreact: %v", err)
	}
	r := them.sync(t, conv, nil)
	a, d := r.message(t, add.MessageID), r.message(t, rm.MessageID)
	verifiedEvent(t, a)
	verifiedEvent(t, d)
	if a.Content == nil || a.Content.ContentType != "reaction" || a.Content.Emoji != "👍🏽" || a.Content.TargetMessageID != orig.SequenceID {
		t.Errorf("SDK read reaction %s", a.Raw)
	}
	if d.Content == nil || d.Content.ContentType != "reactionRemoved" || d.Content.Emoji != "👍🏽" || d.Content.TargetMessageID != orig.SequenceID {
		t.Errorf("SDK read reaction removal %s", d.Raw)
	}
}

func reactionsF2O(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, false)
	orig, err := us.e.SendText(ctx, conv, "react to me")
	if err != nil {
		t.Fatal(err)
	}
	them.sync(t, conv, nil)
	var add, rm sent
	them.call(t, "app.react", map[string]any{"conversationId": conv, "target": orig.SequenceID, "emoji": "❤️"}, &add)
	them.call(t, "app.react", map[string]any{"conversationId": conv, "target": orig.SequenceID, "emoji": "❤️", "remove": true}, &rm)
	h := syncOurs(t, s, us, conv)
	a, d := entry(t, h, add.MessageID), entry(t, h, rm.MessageID)
	verifiedMessage(t, a)
	verifiedMessage(t, d)
	if a.Type != event.TypeReactionAdd || a.Emoji != "❤️" || a.TargetSequenceID != orig.SequenceID {
		t.Errorf("engine read reaction %+v", a)
	}
	if d.Type != event.TypeReactionRemove || d.Emoji != "❤️" || d.TargetSequenceID != orig.SequenceID {
		t.Errorf("engine read reaction removal %+v", d)
	}
}

// --- 10: edits ---

func editO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true)
	orig, err := us.e.SendText(ctx, conv, "tpyo")
	if err != nil {
		t.Fatal(err)
	}
	ed, err := us.e.Send(ctx, conv, session.Outgoing{Edit: orig.SequenceID, Text: "typo fixed"})
	if err != nil {
		t.Fatalf("engine Edit: %v", err)
	}
	m := them.sync(t, conv, nil).message(t, ed.MessageID)
	verifiedEvent(t, m)
	if m.Content == nil || m.Content.ContentType != "edit" || m.Content.NewText != "typo fixed" || m.Content.TargetMessageID != orig.SequenceID {
		t.Errorf("SDK read edit %s", m.Raw)
	}
}

func editF2O(t *testing.T, s *suite) {
	us, them, conv := pair(t, s, false)
	orig := them.send(t, conv, map[string]any{"text": "tpyo"})
	var ed sent
	them.call(t, "app.edit", map[string]any{"conversationId": conv, "target": orig.SequenceID, "text": "typo fixed"}, &ed)
	e := entry(t, syncOurs(t, s, us, conv), ed.MessageID)
	verifiedMessage(t, e)
	if e.Type != event.TypeEdit || e.Text != "typo fixed" || e.TargetSequenceID != orig.SequenceID {
		t.Errorf("engine read edit %+v", e)
	}
}

// --- 11: delete, with its action signature ---

func deleteO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true)
	victim, err := us.e.SendText(ctx, conv, "delete me")
	if err != nil {
		t.Fatal(err)
	}
	them.sync(t, conv, nil)
	if err := us.e.DeleteMessages(ctx, conv, []string{victim.SequenceID}, true); err != nil {
		t.Fatalf("engine DeleteMessages: %v", err)
	}
	r := them.sync(t, conv, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("SDK rejected events: %+v", r.Errors)
	}
	var del *peer.Event
	for i := range r.Events {
		if r.Events[i].Type == "messageDeleted" {
			del = &r.Events[i]
		}
	}
	if del == nil {
		t.Fatalf("SDK saw no messageDeleted event among %d", len(r.Events))
	}
	verifiedEvent(t, del)
	if !slices.Contains(del.MessageIDs, victim.SequenceID) || del.SenderID != us.id {
		t.Errorf("SDK read delete %s", del.Raw)
	}
}

func deleteF2O(t *testing.T, s *suite) {
	us, them, conv := pair(t, s, false)
	victim := them.send(t, conv, map[string]any{"text": "delete me"})
	syncOurs(t, s, us, conv)
	var del struct {
		MessageID string `json:"messageId"`
	}
	them.call(t, "app.delete", map[string]any{"conversationId": conv, "sequenceIds": []string{victim.SequenceID}, "deleteForAll": true}, &del)
	e := entry(t, syncOurs(t, s, us, conv), del.MessageID)
	verifiedMessage(t, e)
	if e.Type != event.TypeDelete || !slices.Contains(e.Deleted, victim.SequenceID) || !e.DeleteForAll || e.SenderID != them.id {
		t.Errorf("engine read delete %+v", e)
	}
}
