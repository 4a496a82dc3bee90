package session

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/inbound"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// signatureVersion is the signature_version stamped on everything the engine
// signs (crates/core/src/signatures.rs SIGNATURE_VERSION).
var signatureVersion = strconv.Itoa(crypto.SignatureVersion)

// signer signs payloads with the account's signing key under its registered
// public key version.
type signer struct {
	key     *crypto.PrivateKey
	self    string
	version string
}

func (e *Engine) signer() (*signer, error) {
	kp, v, err := e.registered()
	if err != nil {
		return nil, err
	}
	return &signer{key: kp.Signing, self: e.userID, version: v}, nil
}

// action packages a signed action for the REST action_signatures array.
// The payload's byte string is echoed as signature_payload only when echo is
// set; a payload that embeds a secret must never be echoed.
func (s *signer) action(messageID string, detail *tevent.MessageEventDetail, p crypto.Payload, echo bool) (api.ActionSignature, error) {
	raw, err := p.Sign(s.key)
	if errors.Is(err, crypto.ErrInvalidPayload) {
		return api.ActionSignature{}, fmt.Errorf("%w: %w", xchat.ErrInvalidArgument, err)
	}
	if err != nil {
		return api.ActionSignature{}, fmt.Errorf("session: signing: %w", err)
	}
	enc, err := wire.EncodeMessageEventDetail(detail)
	if err != nil {
		return api.ActionSignature{}, fmt.Errorf("session: encoding event detail: %w", err)
	}
	a := api.ActionSignature{
		EncodedMessageEventDetail: wire.EncodeB64(enc),
		MessageEventSignature: api.MessageEventSignature{
			Signature:        wire.EncodeB64NoPad(raw),
			PublicKeyVersion: s.version,
			SignatureVersion: signatureVersion,
		},
		MessageID: messageID,
	}
	if echo {
		b, err := p.Bytes()
		if err != nil {
			return api.ActionSignature{}, fmt.Errorf("%w: %w", xchat.ErrInvalidArgument, err)
		}
		a.SignaturePayload = string(b)
	}
	return a, nil
}

// keyChangeAction signs a v7 ConversationKeyChangeEvent. The payload embeds
// the plaintext conversation key, so it is never echoed (signature_payload
// stays empty) and is signed without joining its components.
func (s *signer) keyChangeAction(messageID, convID, version string, key *crypto.ConversationKey, parts []*tevent.ConversationParticipantKey) (api.ActionSignature, error) {
	p, err := crypto.KeyChangePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: messageID, SenderID: s.self, ConversationID: convID},
		crypto.KeyChange{ConversationKeyVersion: version, Key: key})
	if err != nil {
		return api.ActionSignature{}, fmt.Errorf("%w: %w", xchat.ErrInvalidArgument, err)
	}
	f := false
	detail := &tevent.MessageEventDetail{ConversationKeyChangeEvent: &tevent.ConversationKeyChangeEvent{
		ConversationKeyVersion:      &version,
		ConversationParticipantKeys: parts,
		ForKeyRotation:              &f,
	}}
	return s.action(messageID, detail, p, false)
}

// messageSignature signs a MessageCreateEvent and returns the padded base64
// encoded MessageEventSignature, with what the server's echo of exactly
// this message must carry to need no verification (see inbound.Own).
func (s *signer) messageSignature(messageID, convID, keyVersion string, contents []byte) (string, *inbound.Own, error) {
	buf := payloadBuffers.Get().(*[]byte)
	defer putPayloadBuffer(buf)
	payload, err := crypto.AppendMessageCreatePayload((*buf)[:0], crypto.SignatureVersion,
		crypto.Header{MessageID: messageID, SenderID: s.self, ConversationID: convID}, keyVersion, contents)
	*buf = payload
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", xchat.ErrInvalidArgument, err)
	}
	sig, err := crypto.Sign(s.key, payload)
	if err != nil {
		return "", nil, fmt.Errorf("session: signing: %w", err)
	}
	enc, err := wire.MarshalB64(wire.Signature(sig, s.version, crypto.SignatureVersion))
	if err != nil {
		return "", nil, fmt.Errorf("session: encoding signature: %w", err)
	}
	own := &inbound.Own{MessageID: messageID, SenderID: s.self, ConversationID: convID, KeyVersion: keyVersion,
		Contents: contents, SignatureVersion: crypto.SignatureVersion, PublicKeyVersion: s.version,
		Signature: sig, Key: s.key.PublicKey()}
	return enc, own, nil
}

// payloadBuffers hold the signed payloads of messages while they are
// signed: a payload (the header and the base64 of the contents, not
// secret) is hashed and then not needed, so each send does not allocate
// one of about 1.4 times its contents.
var payloadBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledPayload bounds the buffers payloadBuffers keeps: a large
// message's does not stay behind.
const maxPooledPayload = 64 << 10

func putPayloadBuffer(b *[]byte) {
	if cap(*b) <= maxPooledPayload {
		*b = (*b)[:0]
		payloadBuffers.Put(b)
	}
}

// newMessageID returns a random (version 4) UUID string.
func newMessageID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("session: reading randomness: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexdig = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexdig[c>>4], hexdig[c&15])
	}
	return string(out), nil
}
