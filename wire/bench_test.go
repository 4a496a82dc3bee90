package wire

import (
	"testing"

	"github.com/xchat-go/xchat/thriftgen/event"
)

// benchEvent is a typical signed message event: ~300 bytes of ciphertext,
// like the SDK's event_message vector.
func benchEvent() *event.MessageEvent {
	s := func(v string) *string { return &v }
	notify := true
	return &event.MessageEvent{
		SequenceID:     s("1844674407370955161"),
		MessageID:      s("2c2a1d32-988b-4b0e-9e63-c3baab3003fd"),
		SenderID:       s("1111"),
		ConversationID: s("1111:2222"),
		CreatedAtMsec:  s("1700000000000"),
		Detail: &event.MessageEventDetail{MessageCreateEvent: &event.MessageCreateEvent{
			Contents:               make([]byte, 300),
			ConversationKeyVersion: s("1700000000001"),
			ShouldNotify:           &notify,
		}},
		MessageEventSignature: &event.MessageEventSignature{
			Signature:        s("xFI76p6W6KcOc7BF/CKJ88JNYbtoJ+ZKUjtQlM3sa4EuGIgQvxyKHmmRLjkKeEGLfCDmMDd6SvQLI7beX4HXYA"),
			PublicKeyVersion: s("1"),
			SignatureVersion: s("7"),
		},
		PreviousSequenceID: s("1844674407370955160"),
	}
}

func BenchmarkEncodeMessageEvent(b *testing.B) {
	ev := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeMessageEvent(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMessageEvent(b *testing.B) {
	enc, err := EncodeMessageEvent(benchEvent())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeMessageEvent(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateMessageEvent is the structural check Encode and Decode
// run on every message event (validate), alone.
func BenchmarkValidateMessageEvent(b *testing.B) {
	ev := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		if err := validate(ev, false); err != nil {
			b.Fatal(err)
		}
	}
}
