package inbound

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// tuser is a test participant with real keys.
type tuser struct {
	id  string
	ver string
	kp  *crypto.KeyPair
}

func newUser(t testing.TB, id, ver string) *tuser {
	t.Helper()
	kp, err := crypto.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &tuser{id: id, ver: ver, kp: kp}
}

// keysFor returns the Keys of `me`, pinning the signing keys of `peers`.
func keysFor(me *tuser, peers ...*tuser) *StaticKeys {
	k := &StaticKeys{IdentityKey: me.kp.Identity, UserID: me.id, KeyVersion: me.ver}
	k.AddSigningKey(me.id, me.ver, me.kp.Signing.PublicKey())
	for _, p := range peers {
		k.AddSigningKey(p.id, p.ver, p.kp.Signing.PublicKey())
	}
	return k
}

func ptr[T any](v T) *T { return &v }

var msgCounter atomic.Int64

func newMessageID() string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", msgCounter.Add(1)) }

func newCKey(t testing.TB) *crypto.ConversationKey {
	t.Helper()
	k, err := crypto.NewConversationKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func textHolder(text string) *product.MessageEntryHolder {
	return &product.MessageEntryHolder{Contents: &product.MessageEntryContents{
		Message: &product.MessageContents{MessageText: ptr(text)}}}
}

// env describes an envelope under construction.
type env struct {
	seq, prev, conv string
	msgID           string
	sigVersion      string // "" = "7"
	keyVersion      string // signer's key version override
	noSig           bool
}

func sealHolder(t testing.TB, key *crypto.ConversationKey, h *product.MessageEntryHolder) []byte {
	t.Helper()
	plain, err := wire.EncodeMessageEntryHolder(h)
	if err != nil {
		t.Fatal(err)
	}
	box, err := crypto.Seal(nil, key, plain)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// signedEvent wraps detail in an envelope signed by `by` over payload.
func signedEvent(t testing.TB, by *tuser, e env, d *tevent.MessageEventDetail, payload crypto.Payload) *tevent.MessageEvent {
	t.Helper()
	h := wire.Envelope{SequenceID: e.seq, PreviousSequenceID: e.prev, MessageID: payload.MessageID,
		SenderID: by.id, ConversationID: e.conv, CreatedAtMsec: "1700000000000"}
	if e.noSig {
		return h.Event(d, nil)
	}
	sig, err := payload.Sign(by.kp.Signing)
	if err != nil {
		t.Fatal(err)
	}
	kv := by.ver
	if e.keyVersion != "" {
		kv = e.keyVersion
	}
	ms := wire.Signature(sig, kv, crypto.SignatureVersion)
	if e.sigVersion != "" {
		ms.SignatureVersion = ptr(e.sigVersion) // possibly malformed, on purpose
	}
	return h.Event(d, ms)
}

func encode(t testing.TB, me *tevent.MessageEvent) []byte {
	t.Helper()
	b, err := wire.EncodeMessageEvent(me)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sigVer(e env) int {
	if e.sigVersion == "" {
		return 7
	}
	v, err := strconv.Atoi(e.sigVersion)
	if err != nil || v < 2 || v > 7 {
		return 7 // sign with v7 layout; the event claims the odd version
	}
	return v
}

// messageEvent builds a signed MessageCreateEvent.
func messageEvent(t testing.TB, by *tuser, e env, ckv string, key *crypto.ConversationKey, h *product.MessageEntryHolder) *tevent.MessageEvent {
	t.Helper()
	if e.msgID == "" {
		e.msgID = newMessageID()
	}
	box := sealHolder(t, key, h)
	p, err := crypto.MessageCreatePayload(sigVer(e), crypto.Header{MessageID: e.msgID, SenderID: by.id, ConversationID: e.conv}, ckv, box)
	if err != nil {
		t.Fatal(err)
	}
	d := &tevent.MessageEventDetail{MessageCreateEvent: &tevent.MessageCreateEvent{
		Contents: box, ConversationKeyVersion: ptr(ckv), ShouldNotify: ptr(true)}}
	return signedEvent(t, by, e, d, p)
}

// keyChangeEvent builds a signed ConversationKeyChangeEvent wrapping key
// for every participant.
func keyChangeEvent(t testing.TB, by *tuser, e env, ckv string, key *crypto.ConversationKey, to ...*tuser) *tevent.MessageEvent {
	t.Helper()
	if e.msgID == "" {
		e.msgID = newMessageID()
	}
	kce := &tevent.ConversationKeyChangeEvent{ConversationKeyVersion: ptr(ckv), ForKeyRotation: ptr(false)}
	var parts []crypto.ParticipantKey
	for _, u := range to {
		w, err := crypto.WrapConversationKey(nil, u.kp.Identity.PublicKey(), key)
		if err != nil {
			t.Fatal(err)
		}
		enc := base64.StdEncoding.EncodeToString(w)
		kce.ConversationParticipantKeys = append(kce.ConversationParticipantKeys, &tevent.ConversationParticipantKey{
			UserID: ptr(u.id), EncryptedConversationKey: ptr(enc), PublicKeyVersion: ptr(u.ver)})
		parts = append(parts, crypto.ParticipantKey{UserID: u.id, EncryptedConversationKey: enc, PublicKeyVersion: u.ver})
	}
	p, err := crypto.KeyChangePayload(sigVer(e), crypto.Header{MessageID: e.msgID, SenderID: by.id, ConversationID: e.conv},
		crypto.KeyChange{ConversationKeyVersion: ckv, Key: key, Participants: parts})
	if err != nil {
		t.Fatal(err)
	}
	return signedEvent(t, by, e, &tevent.MessageEventDetail{ConversationKeyChangeEvent: kce}, p)
}
