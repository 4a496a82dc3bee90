package wire

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/xchat-go/xchat/thriftgen/event"
)

// TestEnvelopeFields checks that Event sets exactly the fields given and
// that the encoding round-trips.
func TestEnvelopeFields(t *testing.T) {
	h := Envelope{SequenceID: "1002", PreviousSequenceID: "1001", MessageID: "m", SenderID: "9",
		ConversationID: "9:10", ConversationToken: "tok", CreatedAtMsec: "1700000000000", IsTrusted: true}
	raw := bytes.Repeat([]byte{0xfb}, 64)
	b, err := h.Encode(&event.MessageEventDetail{MessageTypingEvent: &event.MessageTypingEvent{}}, Signature(raw, "17", 7))
	if err != nil {
		t.Fatal(err)
	}
	me, err := DecodeMessageEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	got := Envelope{SequenceID: me.GetSequenceID(), PreviousSequenceID: me.GetPreviousSequenceID(), MessageID: me.GetMessageID(),
		SenderID: me.GetSenderID(), ConversationID: me.GetConversationID(), ConversationToken: me.GetConversationToken(),
		CreatedAtMsec: me.GetCreatedAtMsec(), IsTrusted: me.GetIsTrusted()}
	if got != h {
		t.Fatalf("decoded header %+v, want %+v", got, h)
	}
	sig := me.GetMessageEventSignature()
	if want := base64.RawStdEncoding.EncodeToString(raw); sig.GetSignature() != want || sig.GetPublicKeyVersion() != "17" || sig.GetSignatureVersion() != "7" {
		t.Fatalf("signature %q/%q/%q, want %q/17/7", sig.GetSignature(), sig.GetPublicKeyVersion(), sig.GetSignatureVersion(), want)
	}
	if me.GetDetail().GetMessageTypingEvent() == nil {
		t.Fatal("detail lost")
	}

	empty := Envelope{}.Event(nil, nil)
	if empty.SequenceID != nil || empty.PreviousSequenceID != nil || empty.MessageID != nil || empty.SenderID != nil ||
		empty.ConversationID != nil || empty.ConversationToken != nil || empty.CreatedAtMsec != nil || empty.IsTrusted != nil ||
		empty.Detail != nil || empty.MessageEventSignature != nil {
		t.Fatalf("empty envelope sets fields: %+v", empty)
	}
	eb, err := EncodeMessageEvent(empty)
	if err != nil || !bytes.Equal(eb, []byte{0}) {
		t.Fatalf("empty envelope encodes to %x, %v; want the bare stop byte", eb, err)
	}
}
