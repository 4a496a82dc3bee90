package inbound

import (
	"errors"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
)

func urlEntity(start, end int32) *product.RichTextEntity {
	return &product.RichTextEntity{StartIndex: ptr(start), EndIndex: ptr(end),
		Content: &product.RichTextContent{URL: &product.UrlRichTextContent{}}}
}

func postAttachment(id string) *product.MessageAttachment {
	return &product.MessageAttachment{Post: &product.PostAttachment{RestID: ptr(id)}}
}

func TestReplyPreviewValidation(t *testing.T) {
	f := newFixture(t)
	origText := "héllo https://x.com wörld"
	origHolder := &product.MessageEntryHolder{Contents: &product.MessageEntryContents{Message: &product.MessageContents{
		MessageText: ptr(origText), Entities: []*product.RichTextEntity{urlEntity(6, 19)},
		Attachments: []*product.MessageAttachment{postAttachment("42")}}}}
	orig := messageEvent(t, f.alice, env{seq: "100", conv: f.conv}, "1000", f.key, origHolder)

	editHolder := &product.MessageEntryHolder{Contents: &product.MessageEntryContents{MessageEdit: &product.MessageEdit{
		MessageSequenceID: ptr("100"), UpdatedText: ptr("edited text"), Entities: []*product.RichTextEntity{urlEntity(0, 6)}}}}
	edit := messageEvent(t, f.alice, env{seq: "101", conv: f.conv}, "1000", f.key, editHolder)

	// A key change delivering an older key only through the preview.
	oldKey := newCKey(t)
	oldOrig := messageEvent(t, f.alice, env{seq: "50", conv: f.conv}, "500", oldKey, textHolder("from the old key"))
	oldKCE := keyChangeEvent(t, f.alice, env{seq: "49", conv: f.conv}, "500", oldKey, f.alice, f.bob)

	basePreview := func() *product.ReplyingToPreview {
		return &product.ReplyingToPreview{
			SenderID: ptr(int64(1111)), MessageText: ptr(origText),
			Entities: []*product.RichTextEntity{urlEntity(6, 19)}, Attachments: []*product.MessageAttachment{postAttachment("42")},
			ReplyingToMessageSequenceID: ptr("100"), ReplyingToMessageID: orig.MessageID, RawEventMessageCreate: orig,
		}
	}
	cases := []struct {
		name   string
		mut    func(p *product.ReplyingToPreview)
		want   event.PreviewStatus
		reason error
	}{
		{"genuine", func(p *product.ReplyingToPreview) {}, event.PreviewValid, nil},
		{"truncated on a rune boundary", func(p *product.ReplyingToPreview) { p.MessageText = ptr("hé") }, event.PreviewValid, nil},
		{"forged text", func(p *product.ReplyingToPreview) { p.MessageText = ptr("I owe you $100") }, event.PreviewInvalid, ErrPreviewText},
		{"claims another sender", func(p *product.ReplyingToPreview) { p.SenderID = ptr(int64(3333)) }, event.PreviewInvalid, ErrPreviewSender},
		// Sequence ids are signed by nobody: the pipeline lets them pass,
		// and the caller binds them through its store (session does).
		{"claims another sequence id", func(p *product.ReplyingToPreview) { p.ReplyingToMessageSequenceID = ptr("99") }, event.PreviewValid, nil},
		{"embedded original relabelled", func(p *product.ReplyingToPreview) { p.RawEventMessageCreate.SequenceID = ptr("99") }, event.PreviewValid, nil},
		{"claims another message id", func(p *product.ReplyingToPreview) { p.ReplyingToMessageID = ptr("nope") }, event.PreviewInvalid, ErrPreviewMessageID},
		{"extra entity", func(p *product.ReplyingToPreview) { p.Entities = append(p.Entities, urlEntity(0, 1)) }, event.PreviewInvalid, ErrPreviewEntities},
		{"extra attachment", func(p *product.ReplyingToPreview) { p.Attachments = append(p.Attachments, postAttachment("43")) }, event.PreviewInvalid, ErrPreviewAttachments},
		{"source from another conversation", func(p *product.ReplyingToPreview) {
			p.RawEventMessageCreate = messageEvent(t, f.alice, env{seq: "100", conv: "1111:3333"}, "1000", f.key, origHolder)
		}, event.PreviewInvalid, ErrPreviewSource},
		{"source with forged signature", func(p *product.ReplyingToPreview) {
			forged := messageEvent(t, f.mallory, env{seq: "100", conv: f.conv}, "1000", f.key, origHolder)
			forged.SenderID = ptr(f.alice.id)
			p.RawEventMessageCreate = forged
			p.ReplyingToMessageID = forged.MessageID
		}, event.PreviewInvalid, ErrPreviewSignature},
		{"source not a message", func(p *product.ReplyingToPreview) { p.RawEventMessageCreate = oldKCE }, event.PreviewInvalid, ErrPreviewSource},
		{"source under an unknown key", func(p *product.ReplyingToPreview) {
			p.RawEventMessageCreate = oldOrig
			p.MessageText, p.Entities, p.Attachments, p.ReplyingToMessageSequenceID, p.ReplyingToMessageID = nil, nil, nil, nil, nil
		}, event.PreviewInvalid, ErrPreviewDecrypt},
		{"source key delivered by an embedded key change", func(p *product.ReplyingToPreview) {
			p.RawEventMessageCreate = oldOrig
			p.RawEventCkces = []*tevent.MessageEvent{oldKCE}
			p.MessageText, p.Entities, p.Attachments, p.ReplyingToMessageSequenceID, p.ReplyingToMessageID = ptr("from the old"), nil, nil, ptr("50"), oldOrig.MessageID
		}, event.PreviewValid, nil},
		{"edited original quoted", func(p *product.ReplyingToPreview) {
			p.RawEventEditMessage = edit
			p.MessageText, p.Entities = ptr("edited"), []*product.RichTextEntity{urlEntity(0, 6)}
		}, event.PreviewValid, nil},
		{"pre-edit text with edit embedded", func(p *product.ReplyingToPreview) { p.RawEventEditMessage = edit }, event.PreviewInvalid, ErrPreviewText},
		{"edit by someone else", func(p *product.ReplyingToPreview) {
			p.RawEventEditMessage = messageEvent(t, f.mallory, env{seq: "101", conv: f.conv}, "1000", f.key, editHolder)
			p.MessageText, p.Entities = ptr("edited"), nil
		}, event.PreviewInvalid, ErrPreviewEdit},
		{"edit naming no target", func(p *product.ReplyingToPreview) {
			other := &product.MessageEntryHolder{Contents: &product.MessageEntryContents{MessageEdit: &product.MessageEdit{
				UpdatedText: ptr("edited text")}}}
			p.RawEventEditMessage = messageEvent(t, f.alice, env{seq: "101", conv: f.conv}, "1000", f.key, other)
			p.MessageText, p.Entities = ptr("edited"), nil
		}, event.PreviewInvalid, ErrPreviewEdit},
		{"edit that is a plain message", func(p *product.ReplyingToPreview) {
			p.RawEventEditMessage = messageEvent(t, f.alice, env{seq: "101", conv: f.conv}, "1000", f.key, textHolder("edited text"))
			p.MessageText, p.Entities = ptr("edited"), nil
		}, event.PreviewInvalid, ErrPreviewEdit},
		{"no embedded source", func(p *product.ReplyingToPreview) { p.RawEventMessageCreate = nil }, event.PreviewNotValidated, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := basePreview()
			c.mut(p)
			reply := &product.MessageEntryHolder{Contents: &product.MessageEntryContents{Message: &product.MessageContents{
				MessageText: ptr("my reply"), ReplyingToPreview: p}}}
			// The replier is bob himself (another of his devices).
			me := messageEvent(t, f.bob, env{seq: "200", conv: f.conv}, "1000", f.key, reply)
			ev := Decrypt(f.bobKeys, encode(t, me), nil)
			if ev.Err != nil || !ev.Verified || ev.Text() != "my reply" {
				t.Fatalf("reply itself: %v", ev.Err)
			}
			rp := ev.Message.Text.ReplyPreview
			if rp.Validation.Status != c.want || !errors.Is(rp.Validation.Reason, c.reason) || (c.reason == nil && rp.Validation.Reason != nil) {
				t.Fatalf("validation = %v (%v), want %v (%v)", rp.Validation.Status, rp.Validation.Reason, c.want, c.reason)
			}
			if c.want == event.PreviewValid && rp.Validation.SourceMessageID != p.RawEventMessageCreate.GetMessageID() {
				t.Fatalf("source message id %q", rp.Validation.SourceMessageID)
			}
		})
	}
	// The edit's signed target is handed to the caller, which binds it.
	for target, edit := range map[string]*tevent.MessageEvent{"100": edit, "77": messageEvent(t, f.alice, env{seq: "101", conv: f.conv}, "1000", f.key,
		&product.MessageEntryHolder{Contents: &product.MessageEntryContents{MessageEdit: &product.MessageEdit{
			MessageSequenceID: ptr("77"), UpdatedText: ptr("edited text")}}})} {
		t.Run("edit target "+target, func(t *testing.T) {
			p := basePreview()
			p.RawEventEditMessage = edit
			p.MessageText, p.Entities = ptr("edited"), nil
			reply := &product.MessageEntryHolder{Contents: &product.MessageEntryContents{Message: &product.MessageContents{
				MessageText: ptr("my reply"), ReplyingToPreview: p}}}
			ev := Decrypt(f.bobKeys, encode(t, messageEvent(t, f.bob, env{seq: "200", conv: f.conv}, "1000", f.key, reply)), nil)
			v := ev.Message.Text.ReplyPreview.Validation
			if v.Status != event.PreviewValid || v.EditTargetSequenceID != target || v.SourceMessageID != orig.GetMessageID() {
				t.Fatalf("validation %+v", v)
			}
		})
	}
}

// Strings on the wire must be valid UTF-8 (wire enforces it), so a cut
// inside a rune cannot arrive; the check is still kept, as in the XDK.
func TestPrefixOnRuneBoundary(t *testing.T) {
	q := "héllo"
	for claimed, want := range map[string]bool{"": true, "h": true, "hé": true, q: true, q[:2]: false, "hex": false, q + "!": false} {
		if got := prefixOnRuneBoundary(q, claimed); got != want {
			t.Errorf("%q: %v", claimed, got)
		}
	}
}

func TestPreviewMapping(t *testing.T) {
	f := newFixture(t)
	p := &product.ReplyingToPreview{SenderID: ptr(int64(1111)), MessageText: ptr("q"), SenderDisplayName: ptr("Alice"),
		ReplyingToMessageSequenceID: ptr("5"), ReplyingToMessageID: ptr("m"), ReplyingToAttachmentID: ptr("a")}
	reply := &product.MessageEntryHolder{Contents: &product.MessageEntryContents{Message: &product.MessageContents{MessageText: ptr("r"), ReplyingToPreview: p}}}
	ev := Decrypt(f.bobKeys, encode(t, messageEvent(t, f.alice, env{seq: "1", conv: f.conv}, "1000", f.key, reply)), nil)
	rp := ev.Message.Text.ReplyPreview
	if rp.SenderID != "1111" || rp.Text != "q" || !rp.HasText || rp.SenderDisplayName != "Alice" || rp.SequenceID != "5" ||
		rp.MessageID != "m" || rp.AttachmentID != "a" || rp.HasSourceEvent || rp.Validation.Status != event.PreviewNotValidated {
		t.Fatalf("%+v", rp)
	}
	_ = crypto.SignatureSize
}
