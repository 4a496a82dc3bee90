package wire

import (
	"strconv"

	"github.com/xchat-go/xchat/thriftgen/event"
)

// Envelope is the header of a MessageEvent: what the sender signs (message,
// sender and conversation ids) and what the server assigns (sequence ids,
// creation time, conversation token, trust flag). Event leaves out every
// empty field, so the encoded bytes carry exactly the fields that are set.
type Envelope struct {
	SequenceID         string
	PreviousSequenceID string
	MessageID          string
	SenderID           string
	ConversationID     string
	ConversationToken  string
	CreatedAtMsec      string
	IsTrusted          bool
}

// Event returns the MessageEvent with this header, detail and signature;
// either may be nil (a failure event is unsigned).
func (h Envelope) Event(detail *event.MessageEventDetail, sig *event.MessageEventSignature) *event.MessageEvent {
	me := &event.MessageEvent{
		SequenceID:            optional(h.SequenceID),
		PreviousSequenceID:    optional(h.PreviousSequenceID),
		MessageID:             optional(h.MessageID),
		SenderID:              optional(h.SenderID),
		ConversationID:        optional(h.ConversationID),
		ConversationToken:     optional(h.ConversationToken),
		CreatedAtMsec:         optional(h.CreatedAtMsec),
		Detail:                detail,
		MessageEventSignature: sig,
	}
	if h.IsTrusted {
		t := true
		me.IsTrusted = &t
	}
	return me
}

// Encode returns the Thrift encoding of Event(detail, sig).
func (h Envelope) Encode(detail *event.MessageEventDetail, sig *event.MessageEventSignature) ([]byte, error) {
	return EncodeMessageEvent(h.Event(detail, sig))
}

// Signature returns the MessageEventSignature of sig, a raw r‖s signature
// made with the signing key registered under publicKeyVersion, at
// signature_version signatureVersion. The signature is written as the XDK
// writes it: standard base64 without padding.
func Signature(sig []byte, publicKeyVersion string, signatureVersion int) *event.MessageEventSignature {
	s, v, sv := EncodeB64NoPad(sig), publicKeyVersion, strconv.Itoa(signatureVersion)
	return &event.MessageEventSignature{Signature: &s, PublicKeyVersion: &v, SignatureVersion: &sv}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
