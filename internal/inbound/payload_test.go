package inbound

import (
	"testing"

	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// TestSignedPayloadEnvelopeEdges pins how envelope ids are signed: an absent
// conversation id is omitted, GroupCreate never has one, and empty ids make
// an event unsignable (no honest sender produces them).
func TestSignedPayloadEnvelopeEdges(t *testing.T) {
	unread := &tevent.MessageEventDetail{MarkConversationUnreadEvent: &tevent.MarkConversationUnreadEvent{SeenUntilSequenceID: ptr("41")}}
	remove := &tevent.MessageEventDetail{ConversationMetadataChangeEvent: &tevent.ConversationMetadataChangeEvent{
		ConversationMetadataChange: &tevent.ConversationMetadataChange{MessageDurationRemove: &tevent.MessageDurationRemove{}}}}
	create := &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{
		GroupCreate: &tevent.GroupCreate{MemberIds: []string{"1", "2"}, ConversationKeyVersion: ptr("9")}}}}
	for _, tc := range []struct {
		name      string
		msg, conv *string
		d         *tevent.MessageEventDetail
		want      string
	}{
		{"absent conversation", ptr("m"), nil, unread, "MarkConversationUnreadEvent,m,s,41"},
		{"no extras", ptr("m"), ptr("g1"), remove, "ConversationMetadataChangeEvent.MessageDurationRemove,m,s,g1"},
		{"group create ignores conversation", ptr("m"), ptr("g1"), create, "GroupChangeEvent.GroupCreate,m,s,9,1,2,null,null,null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			me := &tevent.MessageEvent{MessageID: tc.msg, SenderID: ptr("s"), ConversationID: tc.conv}
			p, ok := signedPayload(me, tc.d, 7, nil)
			if !ok {
				t.Fatal("not signable")
			}
			b, err := p.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("payload %q, want %q", b, tc.want)
			}
		})
	}
	for name, me := range map[string]*tevent.MessageEvent{
		"absent message id":  {SenderID: ptr("s")},
		"empty message id":   {MessageID: ptr(""), SenderID: ptr("s"), ConversationID: ptr("g1")},
		"empty sender id":    {MessageID: ptr("m"), SenderID: ptr(""), ConversationID: ptr("g1")},
		"empty conversation": {MessageID: ptr("m"), SenderID: ptr("s"), ConversationID: ptr("")},
	} {
		if _, ok := signedPayload(me, unread, 7, nil); ok {
			t.Errorf("%s: signable", name)
		}
	}
}
