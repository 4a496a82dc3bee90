package wire

import (
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/thriftgen/trees"
)

// DecodeMessageEvent decodes a binary-protocol event.MessageEvent (the
// server-side envelope, e.g. a base64-decoded encoded_event).
func DecodeMessageEvent(b []byte) (*event.MessageEvent, error) {
	v := event.NewMessageEvent()
	if err := Unmarshal(b, v); err != nil {
		return nil, err
	}
	return v, nil
}

// EncodeMessageEvent encodes an event.MessageEvent.
func EncodeMessageEvent(v *event.MessageEvent) ([]byte, error) { return Marshal(v) }

// DecodeMessageEventDetail decodes a binary-protocol event.MessageEventDetail
// union (e.g. encoded_message_event_detail).
func DecodeMessageEventDetail(b []byte) (*event.MessageEventDetail, error) {
	v := event.NewMessageEventDetail()
	if err := Unmarshal(b, v); err != nil {
		return nil, err
	}
	return v, nil
}

// EncodeMessageEventDetail encodes an event.MessageEventDetail union.
func EncodeMessageEventDetail(v *event.MessageEventDetail) ([]byte, error) { return Marshal(v) }

// DecodeMessageCreateEvent decodes a binary-protocol event.MessageCreateEvent
// (e.g. encoded_message_create_event).
func DecodeMessageCreateEvent(b []byte) (*event.MessageCreateEvent, error) {
	v := event.NewMessageCreateEvent()
	if err := Unmarshal(b, v); err != nil {
		return nil, err
	}
	return v, nil
}

// EncodeMessageCreateEvent encodes an event.MessageCreateEvent.
func EncodeMessageCreateEvent(v *event.MessageCreateEvent) ([]byte, error) { return Marshal(v) }

// DecodeMessageEventSignature decodes a binary-protocol
// event.MessageEventSignature (e.g. encoded_message_event_signature).
func DecodeMessageEventSignature(b []byte) (*event.MessageEventSignature, error) {
	v := event.NewMessageEventSignature()
	if err := Unmarshal(b, v); err != nil {
		return nil, err
	}
	return v, nil
}

// EncodeMessageEventSignature encodes an event.MessageEventSignature.
func EncodeMessageEventSignature(v *event.MessageEventSignature) ([]byte, error) {
	return Marshal(v)
}

// DecodeMessageEntryHolder decodes a binary-protocol product.MessageEntryHolder,
// the plaintext of an encrypted message.
func DecodeMessageEntryHolder(b []byte) (*product.MessageEntryHolder, error) {
	v := product.NewMessageEntryHolder()
	if err := Unmarshal(b, v); err != nil {
		return nil, err
	}
	return v, nil
}

// EncodeMessageEntryHolder encodes a product.MessageEntryHolder.
func EncodeMessageEntryHolder(v *product.MessageEntryHolder) ([]byte, error) { return Marshal(v) }

// DecodeGroupOpData decodes a binary-protocol trees.GroupOpData (ratchet-tree
// material, e.g. a base64-decoded base64_encoded_key_rotation).
func DecodeGroupOpData(b []byte) (*trees.GroupOpData, error) {
	v := trees.NewGroupOpData()
	if err := Unmarshal(b, v); err != nil {
		return nil, err
	}
	return v, nil
}

// EncodeGroupOpData encodes a trees.GroupOpData.
func EncodeGroupOpData(v *trees.GroupOpData) ([]byte, error) { return Marshal(v) }
