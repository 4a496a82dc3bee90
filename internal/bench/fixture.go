package bench

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/session/inbound"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// User ids and key versions of the two benchmark accounts.
const (
	aliceID      = "1001"
	bobID        = "1002"
	aliceVersion = "1795000000001"
	bobVersion   = "1795000000002"
	convID       = aliceID + ":" + bobID
	ckeyVersion  = "1795000000100"
)

// world holds the keys of a sender (alice) and a receiver (bob) who share a
// one-to-one conversation under one conversation key.
type world struct {
	alice, bob *crypto.KeyPair
	ckey       *crypto.ConversationKey
}

func newWorld() (*world, error) {
	a, err := crypto.GenerateKeyPair(nil)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	b, err := crypto.GenerateKeyPair(nil)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	k, err := crypto.NewConversationKey(nil)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return &world{alice: a, bob: b, ckey: k}, nil
}

// receiverKeys returns bob's view: his identity, the conversation key and
// alice's pinned signing key. With withCKey false the conversation key must
// come from the key change event at the head of the history.
func (w *world) receiverKeys(withCKey bool) *inbound.StaticKeys {
	k := &inbound.StaticKeys{IdentityKey: w.bob.Identity, UserID: bobID, KeyVersion: bobVersion}
	if withCKey {
		k.AddConversationKey(convID, ckeyVersion, w.ckey)
	}
	k.AddSigningKey(aliceID, aliceVersion, w.alice.Signing.PublicKey())
	return k
}

// messageID returns a deterministic UUID-shaped message id.
func messageID(i int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
}

// newMessageID returns a random UUID v4, as a sender mints one per message.
func newMessageID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("bench: reading randomness: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexdig = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexdig[c>>4], hexdig[c&0x0f])
	}
	return string(out), nil
}

// textHolder is the plaintext MessageEntryHolder of a text message.
func textHolder(text string) *product.MessageEntryHolder {
	return &product.MessageEntryHolder{Contents: &product.MessageEntryContents{
		Message: &product.MessageContents{MessageText: &text},
	}}
}

// keyChangeEvent builds the server envelope of alice's v7 key change giving
// the conversation key to alice and bob.
func (w *world) keyChangeEvent(seq int64) ([]byte, error) {
	mid := messageID(0)
	parts := make([]*event.ConversationParticipantKey, 0, 2)
	for _, p := range []struct {
		id, ver string
		kp      *crypto.KeyPair
	}{{aliceID, aliceVersion, w.alice}, {bobID, bobVersion, w.bob}} {
		wrapped, err := crypto.WrapConversationKey(nil, p.kp.Identity.PublicKey(), w.ckey)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		uid, ver, enc := p.id, p.ver, wire.EncodeB64(wrapped)
		parts = append(parts, &event.ConversationParticipantKey{UserID: &uid, EncryptedConversationKey: &enc, PublicKeyVersion: &ver})
	}
	payload, err := crypto.KeyChangePayload(crypto.SignatureVersion, crypto.Header{MessageID: mid, SenderID: aliceID, ConversationID: convID},
		crypto.KeyChange{ConversationKeyVersion: ckeyVersion, Key: w.ckey})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	sig, err := payload.Sign(w.alice.Signing)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	f, v := false, ckeyVersion
	detail := &event.MessageEventDetail{ConversationKeyChangeEvent: &event.ConversationKeyChangeEvent{
		ConversationKeyVersion: &v, ConversationParticipantKeys: parts, ForKeyRotation: &f,
	}}
	return envelope(seq, mid, detail, sig)
}

// messageEvent builds the server envelope of alice's i-th text message.
func (w *world) messageEvent(seq int64, i int, text string) ([]byte, error) {
	plain, err := wire.EncodeMessageEntryHolder(textHolder(text))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	contents, err := crypto.Seal(nil, w.ckey, plain)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	mid := messageID(i)
	payload, err := crypto.MessageCreatePayload(crypto.SignatureVersion, crypto.Header{MessageID: mid, SenderID: aliceID, ConversationID: convID},
		ckeyVersion, contents)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	sig, err := payload.Sign(w.alice.Signing)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	v, notify := ckeyVersion, true
	detail := &event.MessageEventDetail{MessageCreateEvent: &event.MessageCreateEvent{
		Contents: contents, ConversationKeyVersion: &v, ShouldNotify: &notify,
	}}
	return envelope(seq, mid, detail, sig)
}

func envelope(seq int64, mid string, detail *event.MessageEventDetail, sig []byte) ([]byte, error) {
	h := wire.Envelope{SequenceID: strconv.FormatInt(seq, 10), PreviousSequenceID: strconv.FormatInt(seq-1, 10),
		MessageID: mid, SenderID: aliceID, ConversationID: convID, CreatedAtMsec: strconv.FormatInt(1795000000000+seq, 10)}
	b, err := h.Encode(detail, wire.Signature(sig, aliceVersion, crypto.SignatureVersion))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return b, nil
}

// historyText is the text of the i-th history message (about 100 bytes, a
// typical chat line).
func historyText(i int) string {
	return fmt.Sprintf("history message %06d: the quick brown fox jumps over the lazy dog, then naps in the sun.", i)
}

// history returns a key change followed by n messages, as raw envelopes.
func (w *world) history(n int) ([][]byte, error) {
	out := make([][]byte, 0, n+1)
	kc, err := w.keyChangeEvent(1000)
	if err != nil {
		return nil, err
	}
	out = append(out, kc)
	for i := range n {
		ev, err := w.messageEvent(int64(1001+i), i+1, historyText(i))
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// sdkSigningKey is alice's SigningKeyEntry for the SDK's decryptEvents.
func (w *world) sdkSigningKey() (map[string]string, error) {
	idSPKI := w.alice.Identity.PublicKey().SPKI()
	binding, err := crypto.Sign(w.alice.Signing, idSPKI)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	std := base64.StdEncoding.EncodeToString
	return map[string]string{
		"userId":                     aliceID,
		"publicKeyVersion":           aliceVersion,
		"publicKey":                  std(w.alice.Signing.PublicKey().SPKI()),
		"identityPublicKey":          std(idSPKI),
		"identityPublicKeySignature": std(binding),
	}, nil
}

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
