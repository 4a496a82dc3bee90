package hostile

import (
	"encoding/binary"
	"fmt"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// DecodeEvent decodes a base64 Thrift MessageEvent envelope as the REST API
// carries it (encoded_event, encoded_message_event, conversation_key_events).
func DecodeEvent(b64 string) (*event.MessageEvent, error) {
	raw, err := wire.DecodeB64(b64)
	if err != nil {
		return nil, fmt.Errorf("hostile: envelope base64: %w", err)
	}
	me, err := wire.DecodeMessageEvent(raw)
	if err != nil {
		return nil, fmt.Errorf("hostile: envelope: %w", err)
	}
	return me, nil
}

// EncodeEvent encodes me as padded base64 Thrift, as the server does.
func EncodeEvent(me *event.MessageEvent) (string, error) {
	raw, err := wire.EncodeMessageEvent(me)
	if err != nil {
		return "", fmt.Errorf("hostile: encoding envelope: %w", err)
	}
	return wire.EncodeB64(raw), nil
}

// EditEvent decodes b64, lets f change the envelope and re-encodes it.
func EditEvent(b64 string, f func(me *event.MessageEvent) error) (string, error) {
	me, err := DecodeEvent(b64)
	if err != nil {
		return "", err
	}
	if err := f(me); err != nil {
		return "", err
	}
	return EncodeEvent(me)
}

// EditData applies f to the envelope of every event of a page (data only,
// not the key change metadata) and keeps the JSON mirror fields
// (sequence_id, previous_sequence_id, sender_id) in step with the edited
// envelope, as a careful malicious server would.
func EditData(page *api.GetChatConversationEventsResponse, f func(me *event.MessageEvent) error) error {
	for i := range page.Data {
		d := &page.Data[i]
		me, err := DecodeEvent(d.EncodedEvent)
		if err != nil {
			return err
		}
		if err := f(me); err != nil {
			return err
		}
		if d.EncodedEvent, err = EncodeEvent(me); err != nil {
			return err
		}
		d.SequenceID, d.ID = me.GetSequenceID(), me.GetSequenceID()
		d.PreviousSequenceID, d.PreviousID = me.GetPreviousSequenceID(), me.GetPreviousSequenceID()
		d.SenderID = me.GetSenderID()
	}
	return nil
}

// MessageID returns the message id of a base64 envelope ("" when it does not
// decode).
func MessageID(b64 string) string {
	me, err := DecodeEvent(b64)
	if err != nil {
		return ""
	}
	return me.GetMessageID()
}

// Thrift binary protocol type ids used by the hand-built envelopes below.
const (
	tStop   = 0
	tString = 11
	tStruct = 12
	tList   = 15
)

func fieldHeader(b []byte, typ byte, id int16) []byte {
	b = append(b, typ)
	return binary.BigEndian.AppendUint16(b, uint16(id))
}

func appendString(b []byte, id int16, s string) []byte {
	b = fieldHeader(b, tString, id)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// NestedEnvelope returns a MessageEvent whose detail (field 7) opens depth
// nested structs (each the first field of the one before) without closing
// them: the shape of a stack-exhaustion attack on a recursive decoder.
func NestedEnvelope(seq, prev string, depth int) []byte {
	var b []byte
	b = appendString(b, 1, seq)
	b = appendString(b, 2, "nested")
	b = fieldHeader(b, tStruct, 7)
	for range depth {
		b = fieldHeader(b, tStruct, 1)
	}
	for range depth + 1 {
		b = append(b, tStop)
	}
	b = appendString(b, 10, prev)
	return append(b, tStop)
}

// HugeLengthEnvelope returns a MessageEvent whose message_id declares a
// length of n bytes but carries only a few: a decoder that allocates what
// the header declares allocates n bytes.
func HugeLengthEnvelope(seq string, n uint32) []byte {
	var b []byte
	b = appendString(b, 1, seq)
	b = fieldHeader(b, tString, 2)
	b = binary.BigEndian.AppendUint32(b, n)
	b = append(b, "short"...)
	return append(b, tStop)
}

// HugeListEnvelope returns a MessageEvent whose key-change participant list
// declares n elements.
func HugeListEnvelope(seq string, n uint32) []byte {
	var b []byte
	b = appendString(b, 1, seq)
	b = fieldHeader(b, tStruct, 7) // detail
	b = fieldHeader(b, tStruct, 3) // ConversationKeyChangeEvent
	b = appendString(b, 1, "1")
	b = fieldHeader(b, tList, 2)
	b = append(b, tStruct)
	b = binary.BigEndian.AppendUint32(b, n)
	return append(b, tStop, tStop, tStop, tStop)
}
