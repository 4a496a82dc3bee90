package hostile

import (
	"fmt"
	"strconv"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// Forger signs events as one account: a dishonest participant colluding
// with the server, or an outsider with a registered key of its own. It
// produces genuinely signed envelopes, so what the engine must catch is the
// context (wrong conversation, non-member, stale version, ...), not the
// signature.
type Forger struct {
	UserID     string
	KeyVersion string // the signer's registered public key version
	Signing    *crypto.PrivateKey
}

// Recipient is one wrapped copy of a forged key change.
type Recipient struct {
	UserID     string
	KeyVersion string
	Identity   *crypto.PublicKey
}

// Envelope is the header of a forged event (the sender is the forger's
// user id, whatever SenderID says).
type Envelope = wire.Envelope

func (f *Forger) envelope(env Envelope, detail *event.MessageEventDetail, sig []byte) *event.MessageEvent {
	env.SenderID = f.UserID
	return env.Event(detail, f.signature(sig))
}

// signature is the forger's MessageEventSignature of sig.
func (f *Forger) signature(sig []byte) *event.MessageEventSignature {
	return wire.Signature(sig, f.KeyVersion, crypto.SignatureVersion)
}

// KeyChange returns a signed (v7) ConversationKeyChangeEvent distributing
// key under version to the recipients.
func (f *Forger) KeyChange(env Envelope, version string, key *crypto.ConversationKey, to []Recipient) (*event.MessageEvent, error) {
	parts := make([]*event.ConversationParticipantKey, 0, len(to))
	for _, r := range to {
		wrapped, err := crypto.WrapConversationKey(nil, r.Identity, key)
		if err != nil {
			return nil, fmt.Errorf("hostile: wrapping key: %w", err)
		}
		uid, kv, enc := r.UserID, r.KeyVersion, wire.EncodeB64(wrapped)
		parts = append(parts, &event.ConversationParticipantKey{UserID: &uid, EncryptedConversationKey: &enc, PublicKeyVersion: &kv})
	}
	p, err := crypto.KeyChangePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: env.MessageID, SenderID: f.UserID, ConversationID: env.ConversationID},
		crypto.KeyChange{ConversationKeyVersion: version, Key: key})
	if err != nil {
		return nil, fmt.Errorf("hostile: key change payload: %w", err)
	}
	sig, err := p.Sign(f.Signing)
	if err != nil {
		return nil, fmt.Errorf("hostile: signing: %w", err)
	}
	no := false
	detail := &event.MessageEventDetail{ConversationKeyChangeEvent: &event.ConversationKeyChangeEvent{
		ConversationKeyVersion: &version, ConversationParticipantKeys: parts, ForKeyRotation: &no,
	}}
	return f.envelope(env, detail, sig), nil
}

// Message returns a signed MessageCreateEvent whose contents are holder
// sealed under key (version).
func (f *Forger) Message(env Envelope, version string, key *crypto.ConversationKey, holder *product.MessageEntryHolder) (*event.MessageEvent, error) {
	plain, err := wire.EncodeMessageEntryHolder(holder)
	if err != nil {
		return nil, fmt.Errorf("hostile: encoding contents: %w", err)
	}
	box, err := crypto.Seal(nil, key, plain)
	if err != nil {
		return nil, fmt.Errorf("hostile: sealing: %w", err)
	}
	mce := &event.MessageCreateEvent{Contents: box, ConversationKeyVersion: &version}
	me := f.envelope(env, &event.MessageEventDetail{MessageCreateEvent: mce}, nil)
	if err := f.Resign(me); err != nil {
		return nil, err
	}
	return me, nil
}

// Resign signs me's MessageCreateEvent again as the forger (sender id and
// key version become the forger's).
func (f *Forger) Resign(me *event.MessageEvent) error {
	mce := me.GetDetail().GetMessageCreateEvent()
	if mce == nil {
		return fmt.Errorf("hostile: not a message create event")
	}
	p, err := crypto.MessageCreatePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: me.GetMessageID(), SenderID: f.UserID, ConversationID: me.GetConversationID()},
		mce.GetConversationKeyVersion(), mce.Contents)
	if err != nil {
		return fmt.Errorf("hostile: message payload: %w", err)
	}
	sig, err := p.Sign(f.Signing)
	if err != nil {
		return fmt.Errorf("hostile: signing: %w", err)
	}
	ns := f.signature(sig)
	me.SenderID = &f.UserID
	if me.MessageEventSignature == nil {
		me.MessageEventSignature = &event.MessageEventSignature{}
	}
	me.MessageEventSignature.Signature, me.MessageEventSignature.PublicKeyVersion, me.MessageEventSignature.SignatureVersion = ns.Signature, ns.PublicKeyVersion, ns.SignatureVersion
	return nil
}

// OpenContents decrypts a message event's contents with key.
func OpenContents(me *event.MessageEvent, key *crypto.ConversationKey) (*product.MessageEntryHolder, error) {
	mce := me.GetDetail().GetMessageCreateEvent()
	if mce == nil {
		return nil, fmt.Errorf("hostile: not a message create event")
	}
	plain, err := crypto.Open(key, mce.Contents)
	if err != nil {
		return nil, fmt.Errorf("hostile: opening contents: %w", err)
	}
	return wire.DecodeMessageEntryHolder(plain)
}

// SealContents replaces a message event's contents with holder sealed under
// key (the signature no longer matches until Resign).
func SealContents(me *event.MessageEvent, key *crypto.ConversationKey, holder *product.MessageEntryHolder) error {
	plain, err := wire.EncodeMessageEntryHolder(holder)
	if err != nil {
		return fmt.Errorf("hostile: encoding contents: %w", err)
	}
	box, err := crypto.Seal(nil, key, plain)
	if err != nil {
		return fmt.Errorf("hostile: sealing: %w", err)
	}
	me.Detail.MessageCreateEvent.Contents = box
	return nil
}

// NextSequenceID returns a sequence id above seq (decimal), for events a
// server injects as the newest.
func NextSequenceID(seq string, delta uint64) string {
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return seq + "1"
	}
	return strconv.FormatUint(n+delta, 10)
}

// Action returns a signed event carrying detail, signed over payload (built
// with the crypto payload builders for the event's kind).
func (f *Forger) Action(env Envelope, detail *event.MessageEventDetail, p crypto.Payload) (*event.MessageEvent, error) {
	sig, err := p.Sign(f.Signing)
	if err != nil {
		return nil, fmt.Errorf("hostile: signing: %w", err)
	}
	return f.envelope(env, detail, sig), nil
}
