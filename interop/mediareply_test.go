package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/xchat-go/xchat/interop/peer"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// Rows 27-30: a message carrying media together with a reply preview,
// rich-text entities on its caption, and should_notify false — what
// session.Outgoing lets an app combine since media became a field of it.

// mediaOpts is what a row adds to its media message.
type mediaOpts struct {
	caption  bool   // Text = entityText
	entities bool   // the caption's entities (needs caption)
	silent   bool   // should_notify false
	ttl      bool   // ttl_msec 90000
	replyTo  string // sequence id of the message replied to
}

// ourMediaSend sends data as our engine's media message with o.
func ourMediaSend(t *testing.T, s *suite, us *ours, conv string, data []byte, o mediaOpts) *session.Sent {
	t.Helper()
	m := session.Outgoing{
		Media:   &session.Media{Data: bytes.NewReader(data), Size: int64(len(data)), Filename: "photo.jpg", Type: event.MediaImage, Width: 640, Height: 480},
		Silent:  o.silent,
		ReplyTo: o.replyTo,
	}
	if o.ttl {
		m.TTL = 90 * time.Second
	}
	if o.caption {
		m.Text = entityText
	}
	if o.entities {
		m.Entities = ourEntities
	}
	snt, err := us.e.Send(s.ctx(t), conv, m)
	if err != nil {
		t.Fatalf("engine media send %+v: %v", o, err)
	}
	return snt
}

// sdkMediaSend uploads data through the SDK app and sends it as the only
// attachment of a message with o.
func sdkMediaSend(t *testing.T, them *official, conv string, data []byte, o mediaOpts) (*sent, *upload) {
	t.Helper()
	args := map[string]any{}
	if o.caption {
		args["text"] = entityText
	}
	if o.entities {
		args["entities"] = sdkEntities
	}
	if o.silent {
		args["shouldNotify"] = false
	}
	if o.ttl {
		args["ttlMsec"] = 90000
	}
	if o.replyTo != "" {
		args["replyTo"] = o.replyTo
	}
	return sdkSendMediaWith(t, them, conv, data, args)
}

// checkSDKMedia asserts the SDK's view of our media message: verified,
// caption, entities, notify flag, attachment metadata and the downloaded
// bytes.
func checkSDKMedia(t *testing.T, them *official, conv string, m *peer.Event, data []byte, o mediaOpts) {
	t.Helper()
	verifiedEvent(t, m)
	want := ""
	if o.caption {
		want = entityText
	}
	if m.Content.Text != want {
		t.Errorf("SDK read caption %q, want %q", m.Content.Text, want)
	}
	if o.entities {
		checkSDKEntities(t, "caption", m.Content.Entities)
	} else if len(m.Content.Entities) != 0 && string(m.Content.Entities) != "[]" && string(m.Content.Entities) != "null" {
		t.Errorf("SDK read caption entities %s, want none", m.Content.Entities)
	}
	if m.ShouldNotify == nil || *m.ShouldNotify == o.silent {
		t.Errorf("SDK shouldNotify %s, want %v", show(m.ShouldNotify), !o.silent)
	}
	if o.ttl != (m.TTLMsec != nil) || o.ttl && *m.TTLMsec != 90000 {
		t.Errorf("SDK ttlMsec %s, want 90000: %v", show(m.TTLMsec), o.ttl)
	}
	a := mediaOf(t, m)
	if a.Media.Filename != "photo.jpg" || a.Media.Type != "image" || a.Media.Dimensions == nil || a.Media.Dimensions.Width != 640 || a.Media.Dimensions.Height != 480 {
		t.Errorf("SDK read attachment %s", m.Content.Attachments)
	}
	got, err := sdkDownload(t, them, conv, a.Media.MediaHashKey, m.KeyVersion, 0)
	if err != nil {
		t.Fatalf("SDK download: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("SDK decrypted %d bytes, want the %d sent", len(got), len(data))
	}
}

// checkSDKEntities asserts that the SDK read entitySpans at their offsets.
func checkSDKEntities(t *testing.T, what string, raw json.RawMessage) {
	t.Helper()
	var ents []sdkEntity
	if err := json.Unmarshal(raw, &ents); err != nil {
		t.Fatalf("SDK %s entities %s: %v", what, raw, err)
	}
	if len(ents) != len(sdkEntities) {
		t.Fatalf("SDK read %d %s entities, want %d: %s", len(ents), what, len(sdkEntities), raw)
	}
	for i, w := range sdkEntities {
		g := ents[i]
		if _, ok := g.Content[w.Type]; !ok || g.StartIndex != w.Start || g.EndIndex != w.End {
			t.Errorf("%s entity %d: SDK read %+v, want %+v", what, i, g, w)
		}
	}
}

// checkOurMedia asserts our engine's view of the SDK's media message.
func checkOurMedia(t *testing.T, s *suite, us *ours, conv string, e *event.Entry, up *upload, data []byte, o mediaOpts) {
	t.Helper()
	verifiedMessage(t, e)
	want, wantEnts := "", []event.Entity(nil)
	if o.caption {
		want = entityText
	}
	if o.entities {
		wantEnts = ourEntities
	}
	if e.Text != want {
		t.Errorf("engine read caption %q, want %q", e.Text, want)
	}
	wantTTL := time.Duration(0)
	if o.ttl {
		wantTTL = 90 * time.Second
	}
	if e.TTL != wantTTL {
		t.Errorf("engine TTL %v, want %v", e.TTL, wantTTL)
	}
	if !slices.Equal(e.Entities, wantEnts) {
		t.Errorf("engine caption entities %+v, want %+v", e.Entities, wantEnts)
	}
	if len(e.Attachments) != 1 || e.Attachments[0].Media == nil {
		t.Fatalf("engine read attachments %+v", e.Attachments)
	}
	att := e.Attachments[0].Media
	if att.MediaHashKey != up.MediaHashKey || att.Filename != "blob-4096.bin" {
		t.Errorf("engine read attachment %+v", att)
	}
	got, err := us.e.DownloadMedia(s.ctx(t), conv, att, e.KeyVersion, 0)
	if err != nil {
		t.Fatalf("engine DownloadMedia: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("engine decrypted %d bytes, want the %d sent", len(got), len(data))
	}
}

// sdkShouldNotify returns should_notify of the SDK's message as the server
// stored it (the engine does not surface this unsigned flag).
func sdkShouldNotify(t *testing.T, snt *sent) *bool {
	t.Helper()
	raw, err := wire.DecodeB64(snt.Event)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := wire.DecodeMessageEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Detail == nil || ev.Detail.MessageCreateEvent == nil {
		t.Fatalf("SDK event %s is not a message", snt.MessageID)
	}
	return ev.Detail.MessageCreateEvent.ShouldNotify
}

// --- 27: media replying to a message ---

func mediaReplyO2F(t *testing.T, s *suite) {
	mediaComboO2F(t, s, mediaOpts{}, replyText)
}

func mediaReplyF2O(t *testing.T, s *suite) {
	mediaComboF2O(t, s, mediaOpts{}, replyText)
}

// --- 28: media with a caption carrying entities ---

func mediaEntitiesO2F(t *testing.T, s *suite) {
	mediaComboO2F(t, s, mediaOpts{caption: true, entities: true}, replyNone)
}

func mediaEntitiesF2O(t *testing.T, s *suite) {
	mediaComboF2O(t, s, mediaOpts{caption: true, entities: true}, replyNone)
}

// --- 29: silent media ---

func mediaSilentO2F(t *testing.T, s *suite) {
	mediaComboO2F(t, s, mediaOpts{silent: true}, replyNone)
}

func mediaSilentF2O(t *testing.T, s *suite) {
	mediaComboF2O(t, s, mediaOpts{silent: true}, replyNone)
}

// --- 30: every option at once: a silent, disappearing media reply with a
// rich caption, to a media message (its preview quotes the original's
// attachment) ---

func mediaAllO2F(t *testing.T, s *suite) {
	mediaComboO2F(t, s, mediaOpts{caption: true, entities: true, silent: true, ttl: true}, replyMedia)
}

func mediaAllF2O(t *testing.T, s *suite) {
	mediaComboF2O(t, s, mediaOpts{caption: true, entities: true, silent: true, ttl: true}, replyMedia)
}

// show prints an optional SDK field.
func show[T any](p *T) string {
	if p == nil {
		return "absent"
	}
	return fmt.Sprint(*p)
}

// origText is the text (or caption) of the message the media rows reply
// to; origSpan its one entity.
const origText = "what does it look like? #golang"

var origSpan = struct{ start, end int }{24, 31}

// What a media row replies to.
type replyKind int

const (
	replyNone  replyKind = iota // not a reply
	replyText                   // a text message with an entity
	replyMedia                  // a media message with a captioned entity
)

// mediaComboO2F: our engine sends media with o (replying, per reply, to a
// message of the SDK app); the SDK app reads it.
func mediaComboO2F(t *testing.T, s *suite, o mediaOpts, reply replyKind) {
	us, them, conv := pair(t, s, true)
	var orig *sent
	var origUp *upload
	switch reply {
	case replyText:
		orig = them.send(t, conv, map[string]any{"text": origText, "entities": []peer.Entity{{Start: origSpan.start, End: origSpan.end, Type: "hashtag"}}})
	case replyMedia:
		orig, origUp = sdkSendMediaWith(t, them, conv, payload(1500, 30), map[string]any{
			"text": origText, "entities": []peer.Entity{{Start: origSpan.start, End: origSpan.end, Type: "hashtag"}},
		})
	}
	if orig != nil {
		syncOurs(t, s, us, conv)
		o.replyTo = orig.SequenceID
	}
	data := payload(4096, 27)
	snt := ourMediaSend(t, s, us, conv, data, o)
	m := them.sync(t, conv, nil).message(t, snt.MessageID)
	checkSDKMedia(t, them, conv, m, data, o)
	if orig == nil {
		if len(m.Content.ReplyingToPreview) != 0 && string(m.Content.ReplyingToPreview) != "null" {
			t.Errorf("SDK read a reply preview on a plain media message: %s", m.Content.ReplyingToPreview)
		}
		return
	}
	checkSDKPreview(t, m, them.id, orig, origUp)
}

// checkSDKPreview asserts the SDK's view of the reply preview of m, quoting
// orig (with the attachment up, when set).
func checkSDKPreview(t *testing.T, m *peer.Event, sender string, orig *sent, up *upload) {
	t.Helper()
	p := preview(t, m)
	if p.MessageText != origText || p.ReplyingToMessageSequenceID != orig.SequenceID || p.ReplyingToMessageID != orig.MessageID || p.SenderID.String() != sender {
		t.Errorf("SDK read preview %s", m.Content.ReplyingToPreview)
	}
	var pe []sdkEntity
	if err := json.Unmarshal(p.Entities, &pe); err != nil || len(pe) != 1 || pe[0].StartIndex != origSpan.start || pe[0].EndIndex != origSpan.end || pe[0].Content["hashtag"] == nil {
		t.Errorf("SDK preview entities %s (%v), want the original's hashtag [%d,%d)", p.Entities, err, origSpan.start, origSpan.end)
	}
	var pa []sdkAttachment
	if err := json.Unmarshal(p.Attachments, &pa); err != nil && len(p.Attachments) != 0 {
		t.Errorf("SDK preview attachments %s: %v", p.Attachments, err)
	}
	switch {
	case up == nil && len(pa) != 0:
		t.Errorf("SDK preview attachments %s, want none", p.Attachments)
	case up != nil && (len(pa) != 1 || pa[0].Media == nil || pa[0].Media.MediaHashKey != up.MediaHashKey || pa[0].Media.Filename != "blob-1500.bin"):
		t.Errorf("SDK preview attachments %s, want the original's %s", p.Attachments, up.MediaHashKey)
	}
	if m.ReplyPreviewValidation != "valid" {
		t.Errorf("SDK replyPreviewValidation %q, want valid", m.ReplyPreviewValidation)
	}
}

// mediaComboF2O: the SDK app sends media with o (replying, per reply, to a
// message of our engine); our engine reads it.
func mediaComboF2O(t *testing.T, s *suite, o mediaOpts, reply replyKind) {
	us, them, conv := pair(t, s, false)
	var orig *session.Sent
	if reply != replyNone {
		m := session.Outgoing{Text: origText, Entities: []event.Entity{{Start: int32(origSpan.start), End: int32(origSpan.end), Type: event.EntityHashtag}}}
		if reply == replyMedia {
			d := payload(1500, 30)
			m.Media = &session.Media{Data: bytes.NewReader(d), Size: int64(len(d)), Filename: "blob-1500.bin", Type: event.MediaFile}
		}
		var err error
		if orig, err = us.e.Send(s.ctx(t), conv, m); err != nil {
			t.Fatal(err)
		}
		them.sync(t, conv, nil)
		o.replyTo = orig.SequenceID
	}
	data := payload(4096, 6)
	snt, up := sdkMediaSend(t, them, conv, data, o)
	if n := sdkShouldNotify(t, snt); o.silent != (n != nil && !*n) {
		t.Errorf("SDK wrote should_notify %s (want false: %v)", show(n), o.silent)
	}
	e := entry(t, syncOurs(t, s, us, conv), snt.MessageID)
	checkOurMedia(t, s, us, conv, e, up, data, o)
	if orig == nil {
		if e.ReplyTo != nil {
			t.Errorf("engine read a reply on a plain media message: %+v", e.ReplyTo)
		}
		return
	}
	if e.ReplyTo == nil {
		t.Fatalf("engine entry has no reply: %+v", e)
	}
	r := e.ReplyTo
	if r.Text != origText || r.SequenceID != orig.SequenceID || r.MessageID != orig.MessageID || r.SenderID != us.id {
		t.Errorf("engine read reply %+v", r)
	}
	if r.Validation != "valid" {
		t.Errorf("engine reply validation %q, want valid", r.Validation)
	}
}
