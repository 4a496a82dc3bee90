package wire_test

import (
	"fmt"

	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// Encode a message event for the wire and decode it back, as a client does
// with encoded_event fields.
func Example() {
	seq, sender, conv, ckv := "42", "1111", "1111:2222", "1700000000000"
	ev := &event.MessageEvent{
		SequenceID:     &seq,
		SenderID:       &sender,
		ConversationID: &conv,
		Detail: &event.MessageEventDetail{MessageCreateEvent: &event.MessageCreateEvent{
			Contents:               []byte{0xde, 0xad},
			ConversationKeyVersion: &ckv,
		}},
	}
	raw, err := wire.EncodeMessageEvent(ev)
	if err != nil {
		fmt.Println(err)
		return
	}
	blob := wire.EncodeB64(raw) // padded standard base64, as sent to the API

	raw2, err := wire.DecodeB64(blob)
	if err != nil {
		fmt.Println(err)
		return
	}
	got, err := wire.DecodeMessageEvent(raw2)
	if err != nil {
		fmt.Println(err)
		return
	}
	mce := got.Detail.MessageCreateEvent
	fmt.Println(*got.SequenceID, *got.ConversationID, *mce.ConversationKeyVersion, mce.Contents)
	// Output: 42 1111:2222 1700000000000 [222 173]
}

// Decoding failures are typed: every one matches wire.ErrMalformed, and
// resource-limit violations also match wire.ErrLimit.
func ExampleDecodeMessageEvent_hostile() {
	// Field 1 (string) claiming 2 GiB of data in a 12-byte input.
	hostile := []byte{0x0b, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff, 'x', 'y', 'z', 0, 0}
	_, err := wire.DecodeMessageEvent(hostile)
	fmt.Println(err != nil)
	// Output: true
}
