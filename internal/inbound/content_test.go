package inbound

import (
	"errors"
	"testing"
	"time"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
)

func TestContentVariants(t *testing.T) {
	f := newFixture(t)
	c := func(x product.MessageEntryContents) *product.MessageEntryHolder {
		return &product.MessageEntryHolder{Contents: &x}
	}
	cases := []struct {
		h     *product.MessageEntryHolder
		kind  event.ContentKind
		check func(m *event.Message) bool
	}{
		{c(product.MessageEntryContents{ReactionAdd: &product.MessageReactionAdd{MessageSequenceID: ptr("5"), Emoji: ptr("👍")}}), event.ContentReactionAdd,
			func(m *event.Message) bool { return m.Reaction.Emoji == "👍" && m.Reaction.TargetSequenceID == "5" }},
		{c(product.MessageEntryContents{ReactionRemove: &product.MessageReactionRemove{MessageSequenceID: ptr("5"), Emoji: ptr("👍"), MessageAttachmentID: ptr("a")}}), event.ContentReactionRemove,
			func(m *event.Message) bool { return m.Reaction.TargetAttachmentID == "a" }},
		{c(product.MessageEntryContents{MessageEdit: &product.MessageEdit{MessageSequenceID: ptr("5"), UpdatedText: ptr("new"), Entities: []*product.RichTextEntity{urlEntity(0, 3)}}}), event.ContentEdit,
			func(m *event.Message) bool { return m.Edit.Text == "new" && m.Edit.Entities[0].Type == event.EntityURL }},
		{c(product.MessageEntryContents{MarkConversationRead: &product.MarkConversationRead{SeenUntilSequenceID: ptr("9"), SeenAtMillis: ptr(int64(3))}}), event.ContentMarkRead,
			func(m *event.Message) bool {
				return m.ReadMarker.SeenUntilSequenceID == "9" && m.ReadMarker.SeenAtMillis == 3
			}},
		{c(product.MessageEntryContents{MarkConversationUnread: &product.MarkConversationUnread{SeenUntilSequenceID: ptr("8")}}), event.ContentMarkUnread,
			func(m *event.Message) bool { return m.ReadMarker.SeenUntilSequenceID == "8" }},
		{c(product.MessageEntryContents{PinConversation: &product.PinConversation{ConversationID: ptr("x")}}), event.ContentPin,
			func(m *event.Message) bool { return m.Pin.ConversationID == "x" }},
		{c(product.MessageEntryContents{UnpinConversation: &product.UnpinConversation{ConversationID: ptr("x")}}), event.ContentUnpin,
			func(m *event.Message) bool { return m.Pin.ConversationID == "x" }},
		{c(product.MessageEntryContents{ScreenCaptureDetected: &product.ScreenCaptureDetected{Type: ptr(product.ScreenCaptureType_RECORDING)}}), event.ContentScreenCapture,
			func(m *event.Message) bool { return m.ScreenCapture.Type == 2 }},
		{c(product.MessageEntryContents{AvCallEnded: &product.AVCallEnded{DurationSeconds: ptr(int64(61)), IsAudioOnly: ptr(true)}}), event.ContentCallEnded,
			func(m *event.Message) bool { return m.Call.DurationSeconds == 61 && m.Call.AudioOnly }},
		{c(product.MessageEntryContents{AvCallMissed: &product.AVCallMissed{SentAtMillis: ptr(int64(7))}}), event.ContentCallMissed,
			func(m *event.Message) bool { return m.Call.SentAtMillis == 7 }},
		{c(product.MessageEntryContents{AvCallStarted: &product.AVCallStarted{BroadcastID: ptr("b")}}), event.ContentCallStarted,
			func(m *event.Message) bool { return m.Call.BroadcastID == "b" }},
		{c(product.MessageEntryContents{DraftMessage: &product.DraftMessage{DraftText: ptr("d")}}), event.ContentDraft,
			func(m *event.Message) bool { return m.Draft.Text == "d" }},
		{c(product.MessageEntryContents{AcceptMessageRequest: &product.AcceptMessageRequest{}}), event.ContentAcceptMessageRequest,
			func(m *event.Message) bool { return true }},
		{c(product.MessageEntryContents{NicknameMessage: &product.NicknameMessage{UserID: ptr(int64(2222)), NicknameText: ptr("B")}}), event.ContentNickname,
			func(m *event.Message) bool { return m.Nickname.UserID == 2222 && m.Nickname.Text == "B" }},
		{c(product.MessageEntryContents{SetVerifiedStatus: &product.SetVerifiedStatus{UserID: ptr(int64(2222)), VerifiedStatus: ptr(true)}}), event.ContentSetVerifiedStatus,
			func(m *event.Message) bool { return m.VerifiedStatus.Verified }},
		{&product.MessageEntryHolder{}, event.ContentUnknown, func(m *event.Message) bool { return true }},
		{c(product.MessageEntryContents{Message: &product.MessageContents{
			MessageText: ptr("hi #go @bob"),
			Entities: []*product.RichTextEntity{
				{StartIndex: ptr(int32(3)), EndIndex: ptr(int32(6)), Content: &product.RichTextContent{Hashtag: &product.HashtagRichTextContent{}}},
				{StartIndex: ptr(int32(7)), EndIndex: ptr(int32(11)), Content: &product.RichTextContent{Mention: &product.MentionRichTextContent{}}}},
			Attachments: []*product.MessageAttachment{
				{Media: &product.MediaAttachment{MediaHashKey: ptr("h"), Dimensions: &product.MediaDimensions{Width: ptr(int64(640)), Height: ptr(int64(480))}, Type: ptr(product.MediaType_VIDEO), DurationMillis: ptr(int64(1500))}},
				{URL: &product.UrlAttachment{URL: ptr("https://x"), BannerImageMediaHashKey: &product.UrlAttachmentImage{MediaHashKey: ptr("b")}}},
				{Money: &product.MoneyAttachment{FallbackText: ptr("$1"), Payload: []byte{1}}},
				{UnifiedCard: &product.UnifiedCardAttachment{URL: ptr("u")}},
				{Jetfuel: &product.JetfuelAttachment{Height: ptr(int32(5))}},
			},
			ForwardedMessage: &product.ForwardedMessage{MessageText: ptr("fw")},
			SentFrom:         ptr(product.SentFromSurface_SHARE_SHEET),
			QuickReply:       &product.QuickReply{Request: &product.QuickReplyRequest{Options: &product.QuickReplyOptionsRequest{ID: ptr("q"), Options: []*product.QuickReplyOption{{ID: ptr("o1"), Label: ptr("Yes")}}}}},
			Ctas:             []*product.CallToAction{{Label: ptr("Go"), URL: ptr("https://go")}},
			AdditionalFields: map[string]string{"k": "v"},
		}}), event.ContentText, func(m *event.Message) bool {
			x := m.Text
			return x.Text == "hi #go @bob" && x.Entities[0].Type == event.EntityHashtag && x.Entities[1].Type == event.EntityMention &&
				x.Entities[1].Type.String() == "mention" && len(x.Attachments) == 5 &&
				x.Attachments[0].Media.Width == 640 && x.Attachments[0].Media.Type == event.MediaVideo &&
				x.Attachments[1].URL.Banner.MediaHashKey == "b" && x.Attachments[2].Money.FallbackText == "$1" &&
				x.Attachments[3].Kind == event.AttachmentUnifiedCard && x.Attachments[4].Jetfuel.Height == 5 &&
				x.Forwarded.Text == "fw" && x.SentFrom == 3 && x.QuickReply.Options[0].Label == "Yes" &&
				x.CallsToAction[0].URL == "https://go" && x.AdditionalFields["k"] == "v"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.kind.String(), func(t *testing.T) {
			me := messageEvent(t, f.alice, env{seq: "1", conv: f.conv}, "1000", f.key, tc.h)
			me.Detail.MessageCreateEvent.TTLMsec = ptr(int64(86400000))
			me.Detail.MessageCreateEvent.ShouldNotify = ptr(false)
			ev := Decrypt(f.bobKeys, encode(t, me), nil)
			if ev.Err != nil || !ev.Verified || ev.Message.Kind != tc.kind || !tc.check(ev.Message) {
				t.Fatalf("err %v kind %v msg %+v", ev.Err, ev.Message.Kind, ev.Message)
			}
			if ev.Message.TTL != 24*time.Hour || ev.Message.ShouldNotify {
				t.Fatalf("ttl %v notify %v", ev.Message.TTL, ev.Message.ShouldNotify)
			}
			if ev.CreatedAt.UnixMilli() != 1700000000000 || ev.Kind.String() != "message" {
				t.Fatalf("header %v %v", ev.CreatedAt, ev.Kind)
			}
		})
	}
	// Authentic ciphertext whose plaintext is not a MessageEntryHolder.
	box, err := crypto.Seal(nil, f.key, []byte{0xff, 0xff, 0xff})
	if err != nil {
		t.Fatal(err)
	}
	h := crypto.Header{MessageID: newMessageID(), SenderID: f.alice.id, ConversationID: f.conv}
	p := testutil.Must(crypto.MessageCreatePayload(7, h, "1000", box))(t)
	d := &tevent.MessageEventDetail{MessageCreateEvent: &tevent.MessageCreateEvent{Contents: box, ConversationKeyVersion: ptr("1000")}}
	ev := Decrypt(f.bobKeys, encode(t, signedEvent(t, f.alice, env{seq: "2", conv: f.conv}, d, p)), nil)
	if !errors.Is(ev.Err, ErrMalformed) || ev.Verified || ev.Message != nil {
		t.Fatalf("garbage plaintext: %v", ev.Err)
	}
}
