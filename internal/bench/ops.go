package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/crypto/secretstream"
	"github.com/xchat-go/xchat/session/inbound"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// sendText prepares one outgoing text message exactly as the engine's send
// path does before the network call (session.Engine.sealMessage): encode the
// MessageEntryHolder, secretbox it, encode the MessageCreateEvent, mint a
// message id, sign the v7 payload and encode the MessageEventSignature, both
// blobs as padded base64 for the REST body.
func (w *world) sendText(text string) (out prepared, err error) {
	plain, err := wire.EncodeMessageEntryHolder(textHolder(text))
	if err != nil {
		return prepared{}, err
	}
	contents, err := crypto.Seal(nil, w.ckey, plain)
	clear(plain)
	if err != nil {
		return prepared{}, err
	}
	v, notify := ckeyVersion, true
	enc, err := wire.EncodeMessageCreateEvent(&event.MessageCreateEvent{
		Contents: contents, ConversationKeyVersion: &v, ShouldNotify: &notify,
	})
	if err != nil {
		return prepared{}, err
	}
	mid, err := newMessageID(rand.Reader)
	if err != nil {
		return prepared{}, err
	}
	payload, err := crypto.MessageCreatePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: mid, SenderID: aliceID, ConversationID: convID}, ckeyVersion, contents)
	if err != nil {
		return prepared{}, err
	}
	sig, err := payload.Sign(w.alice.Signing)
	if err != nil {
		return prepared{}, err
	}
	encSig, err := wire.EncodeMessageEventSignature(wire.Signature(sig, aliceVersion, crypto.SignatureVersion))
	if err != nil {
		return prepared{}, err
	}
	return prepared{MessageID: mid, Detail: wire.EncodeB64(enc), Signature: wire.EncodeB64(encSig)}, nil
}

// prepared is what a send or key change hands to the REST layer.
type prepared struct {
	MessageID string
	// Detail is the padded base64 MessageCreateEvent (send) or
	// MessageEventDetail (key change).
	Detail string
	// Signature is the padded base64 MessageEventSignature (send) or the
	// unpadded base64 raw signature (key change).
	Signature string
}

// recipient is one member a key change wraps the conversation key to.
type recipient struct {
	userID, version string
	identity        *crypto.PublicKey
}

// recipients returns n members: alice and bob, then n-2 fresh identities.
func (w *world) recipients(n int) ([]recipient, error) {
	out := []recipient{
		{aliceID, aliceVersion, w.alice.Identity.PublicKey()},
		{bobID, bobVersion, w.bob.Identity.PublicKey()},
	}
	for i := 2; i < n; i++ {
		kp, err := crypto.GenerateKeyPair(nil)
		if err != nil {
			return nil, err
		}
		out = append(out, recipient{strconv.Itoa(3000 + i), "1795000000003", kp.Identity.PublicKey()})
	}
	return out[:n], nil
}

// prepareKeyChange prepares a v7 key change for recipients as the engine
// does (session.Engine.prepareKey and keyChangeAction): a fresh key, one
// ECIES wrap per recipient, the signed payload over the plaintext key and
// the encoded MessageEventDetail.
func (w *world) prepareKeyChange(cid string, rs []recipient) (out prepared, err error) {
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return prepared{}, err
	}
	defer key.Zero()
	version := ckeyVersion
	parts := make([]*event.ConversationParticipantKey, 0, len(rs))
	for i := range rs {
		r := &rs[i]
		wrapped, err := crypto.WrapConversationKey(nil, r.identity, key)
		if err != nil {
			return prepared{}, err
		}
		enc := wire.EncodeB64(wrapped)
		parts = append(parts, &event.ConversationParticipantKey{UserID: &r.userID, EncryptedConversationKey: &enc, PublicKeyVersion: &r.version})
	}
	mid, err := newMessageID(rand.Reader)
	if err != nil {
		return prepared{}, err
	}
	payload, err := crypto.KeyChangePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: mid, SenderID: aliceID, ConversationID: cid},
		crypto.KeyChange{ConversationKeyVersion: version, Key: key})
	if err != nil {
		return prepared{}, err
	}
	sig, err := payload.Sign(w.alice.Signing)
	if err != nil {
		return prepared{}, err
	}
	f := false
	detail, err := wire.EncodeMessageEventDetail(&event.MessageEventDetail{ConversationKeyChangeEvent: &event.ConversationKeyChangeEvent{
		ConversationKeyVersion: &version, ConversationParticipantKeys: parts, ForKeyRotation: &f,
	}})
	if err != nil {
		return prepared{}, err
	}
	return prepared{MessageID: mid, Detail: wire.EncodeB64(detail), Signature: crypto.EncodeSignature(sig)}, nil
}

// errUnverified reports a benchmark event that did not verify.
var errUnverified = errors.New("bench: event did not verify")

// decryptAll runs events through inbound.DecryptBatch with workers workers
// and checks that every event verified; it returns the number of events.
func decryptAll(keys inbound.Keys, events func(yield func([]byte, error) bool), workers int) (int, error) {
	n := 0
	for ev, err := range inbound.DecryptBatch(context.Background(), keys, events, &inbound.Options{Workers: workers}) {
		if err != nil {
			return n, err
		}
		if ev.Err != nil || !ev.Verified {
			return n, fmt.Errorf("%w: event %d: %v", errUnverified, n, ev.Err)
		}
		n++
	}
	return n, nil
}

// streamEncrypt and streamDecrypt are the whole-buffer secretstream calls.
func streamEncrypt(key, plain []byte) ([]byte, error) { return secretstream.Encrypt(nil, key, plain) }
func streamDecrypt(key, ct []byte) ([]byte, error)    { return secretstream.Decrypt(key, ct) }
