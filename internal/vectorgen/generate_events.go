package vectorgen

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/testvectors"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// user is one account of the event scenario.
type user struct {
	id, keyVersion string
	kp             *crypto.KeyPair
}

// eventGen builds signed server envelopes for the event cases.
type eventGen struct {
	g                  *generator
	alice, bob, carol  *user
	seq                int
	conv, group        string
	ckv, gckv          string
	ck, gck            *crypto.ConversationKey
	signers            []map[string]string
	bobSees            map[string]string // conversation keys bob holds, version -> hex
	bobIdentityPrivHex string
}

func ptr[T any](v T) *T { return &v }

func (e *eventGen) newUser(id, version string) *user {
	kp, err := crypto.GenerateKeyPair(e.g.rng)
	if err != nil {
		e.g.fail(err)
		return nil
	}
	return &user{id: id, keyVersion: version, kp: kp}
}

// envelope wraps detail in a MessageEvent from sender, signed over p at
// the given version.
func (e *eventGen) envelope(sender *user, msgID, conv string, detail *event.MessageEventDetail, p crypto.Payload, version int) *event.MessageEvent {
	e.seq++
	h := wire.Envelope{
		SequenceID:     strconv.Itoa(1000 + e.seq),
		MessageID:      msgID,
		SenderID:       sender.id,
		ConversationID: conv,
		CreatedAtMsec:  strconv.Itoa(1795000000000 + e.seq),
	}
	sig, err := p.Sign(sender.kp.Signing)
	if err != nil {
		e.g.fail(err)
		return h.Event(detail, nil)
	}
	return h.Event(detail, wire.Signature(sig, sender.keyVersion, version))
}

func (e *eventGen) header(msgID, sender, conv string) crypto.Header {
	return crypto.Header{MessageID: msgID, SenderID: sender, ConversationID: conv}
}

// keyChange builds a key change wrapping ck to every user.
func (e *eventGen) keyChange(sender *user, conv, ckv string, ck *crypto.ConversationKey, version int, to ...*user) *event.MessageEvent {
	msgID := e.g.uuid()
	kc := &event.ConversationKeyChangeEvent{ConversationKeyVersion: ptr(ckv), ForKeyRotation: ptr(false)}
	var parts []crypto.ParticipantKey
	for _, u := range to {
		w, err := crypto.WrapConversationKey(e.g.rng, u.kp.Identity.PublicKey(), ck)
		if err != nil {
			e.g.fail(err)
		}
		kc.ConversationParticipantKeys = append(kc.ConversationParticipantKeys, &event.ConversationParticipantKey{
			UserID: ptr(u.id), EncryptedConversationKey: ptr(b64(w)), PublicKeyVersion: ptr(u.keyVersion),
		})
		parts = append(parts, crypto.ParticipantKey{UserID: u.id, EncryptedConversationKey: b64(w), PublicKeyVersion: u.keyVersion})
	}
	p, err := crypto.KeyChangePayload(version, e.header(msgID, sender.id, conv), crypto.KeyChange{ConversationKeyVersion: ckv, Key: ck, Participants: parts})
	if err != nil {
		e.g.fail(err)
	}
	return e.envelope(sender, msgID, conv, &event.MessageEventDetail{ConversationKeyChangeEvent: kc}, p, version)
}

// message builds a text message (or any entry) encrypted under ck.
func (e *eventGen) message(sender *user, conv, ckv string, ck *crypto.ConversationKey, entry *product.MessageEntryHolder, version int) *event.MessageEvent {
	pt, err := wire.EncodeMessageEntryHolder(entry)
	if err != nil {
		e.g.fail(err)
	}
	box, err := crypto.Seal(e.g.rng, ck, pt)
	if err != nil {
		e.g.fail(err)
	}
	return e.signedMessage(sender, conv, ckv, box, version)
}

// signedMessage signs arbitrary contents as a MessageCreateEvent.
func (e *eventGen) signedMessage(sender *user, conv, ckv string, contents []byte, version int) *event.MessageEvent {
	msgID := e.g.uuid()
	p, err := crypto.MessageCreatePayload(version, e.header(msgID, sender.id, conv), ckv, contents)
	if err != nil {
		e.g.fail(err)
	}
	mc := &event.MessageCreateEvent{Contents: contents, ConversationKeyVersion: ptr(ckv), ShouldNotify: ptr(true)}
	return e.envelope(sender, msgID, conv, &event.MessageEventDetail{MessageCreateEvent: mc}, p, version)
}

func textEntry(s string) *product.MessageEntryHolder {
	return &product.MessageEntryHolder{Contents: &product.MessageEntryContents{Message: &product.MessageContents{MessageText: ptr(s)}}}
}

// clone deep-copies an event through the wire encoding.
func (e *eventGen) clone(ev *event.MessageEvent) *event.MessageEvent {
	b, err := wire.EncodeMessageEvent(ev)
	if err != nil {
		e.g.fail(err)
		return event.NewMessageEvent()
	}
	out, err := wire.DecodeMessageEvent(b)
	if err != nil {
		e.g.fail(err)
		return event.NewMessageEvent()
	}
	return out
}

// add records an event case for bob as the recipient.
func (e *eventGen) add(name string, ev *event.MessageEvent, expect, note string, outputs map[string]any) {
	raw, err := wire.EncodeMessageEvent(ev)
	if err != nil {
		e.g.fail(fmt.Errorf("testvectors: %s: %w", name, err))
		return
	}
	e.addRaw(name, b64(raw), expect, note, outputs)
}

func (e *eventGen) addRaw(name, envelope, expect, note string, outputs map[string]any) {
	keys := make(map[string]any, len(e.bobSees))
	for v, k := range e.bobSees {
		keys[v] = k
	}
	signers := make([]any, len(e.signers))
	for i, s := range e.signers {
		signers[i] = s
	}
	c := testvectors.Case{Name: name, Kind: testvectors.KindEvent, Op: "open", Expect: expect, Note: note,
		Inputs: map[string]any{
			"envelope_b64":                   envelope,
			"recipient_user_id":              e.bob.id,
			"recipient_key_version":          e.bob.keyVersion,
			"recipient_identity_private_hex": e.bobIdentityPrivHex,
			"signers":                        signers,
			"conversation_keys":              keys,
		}}
	if expect == testvectors.ExpectSuccess {
		c.Outputs = outputs
	}
	e.g.add(c)
}

// common returns the outputs every successful event shares.
func common(kind string, ev *event.MessageEvent, version int, payload []byte) map[string]any {
	return map[string]any{
		"event_kind": kind, "message_id": *ev.MessageID, "sender_id": *ev.SenderID,
		"conversation_id": *ev.ConversationID, "signature_version": strconv.Itoa(version),
		"signed_payload_utf8": string(payload),
	}
}

func (g *generator) events() {
	e := &eventGen{g: g, conv: "111:222", group: "g1795000000000000001", ckv: "1795000001000", gckv: "1795000002000"}
	e.alice = e.newUser("111", "1795000000101")
	e.bob = e.newUser("222", "1795000000202")
	e.carol = e.newUser("333", "1795000000303")
	if g.err != nil {
		return
	}
	var err error
	if e.ck, err = crypto.NewConversationKey(g.rng); err != nil {
		g.fail(err)
		return
	}
	if e.gck, err = crypto.NewConversationKey(g.rng); err != nil {
		g.fail(err)
		return
	}
	e.bobIdentityPrivHex = hx(e.bob.kp.Identity.Bytes())
	for _, u := range []*user{e.alice, e.bob, e.carol} {
		e.signers = append(e.signers, map[string]string{
			"user_id": u.id, "key_version": u.keyVersion, "signing_public_spki_b64": b64(u.kp.Signing.PublicKey().SPKI()),
		})
	}
	e.bobSees = map[string]string{e.ckv: hx(e.ck[:]), e.gckv: hx(e.gck[:])}
	a := e.alice

	payloadOf := func(kind string, ev *event.MessageEvent, version int, extra ...string) []byte {
		var p crypto.Payload
		var err error
		h := e.header(*ev.MessageID, *ev.SenderID, *ev.ConversationID)
		d := ev.Detail
		switch kind {
		case "message":
			p, err = crypto.MessageCreatePayload(version, h, *d.MessageCreateEvent.ConversationKeyVersion, d.MessageCreateEvent.Contents)
		case "keyChange":
			k := crypto.ConversationKey(mustHex(extra[0]))
			p, err = crypto.KeyChangePayload(version, h, crypto.KeyChange{ConversationKeyVersion: *d.ConversationKeyChangeEvent.ConversationKeyVersion, Key: &k})
		}
		if err != nil {
			g.fail(err)
			return nil
		}
		b, err := p.Bytes()
		if err != nil {
			g.fail(err)
		}
		return b
	}

	// --- Successful events. ---
	kc := e.keyChange(a, e.conv, e.ckv, e.ck, 7, a, e.bob)
	out := common("keyChange", kc, 7, payloadOf("keyChange", kc, 7, hx(e.ck[:])))
	out["conversation_key_version"] = e.ckv
	out["conversation_key_hex"] = hx(e.ck[:])
	e.add("event/key-change-v7", kc, testvectors.ExpectSuccess, "1:1 key change wrapping the key to both participants; the recipient unwraps its copy, then verifies the v7 signature over the plaintext key", out)

	kc6 := e.keyChange(a, e.conv, e.ckv, e.ck, 6, e.bob, a)
	out = common("keyChange", kc6, 6, payloadOf("keyChange", kc6, 6, hx(e.ck[:])))
	out["conversation_key_version"] = e.ckv
	out["conversation_key_hex"] = hx(e.ck[:])
	e.add("event/key-change-v6", kc6, testvectors.ExpectSuccess, "", out)

	kc5 := e.keyChange(a, e.conv, e.ckv, e.ck, 5, e.bob, a)
	kc5p := make([]string, 0)
	for _, pk := range kc5.Detail.ConversationKeyChangeEvent.ConversationParticipantKeys {
		kc5p = append(kc5p, *pk.UserID, *pk.EncryptedConversationKey, *pk.PublicKeyVersion)
	}
	out = common("keyChange", kc5, 5, []byte(join(append([]string{crypto.KindConversationKey, *kc5.MessageID, a.id, e.conv, e.ckv}, kc5p...))))
	out["conversation_key_version"] = e.ckv
	out["conversation_key_hex"] = hx(e.ck[:])
	e.add("event/key-change-v5-legacy", kc5, testvectors.ExpectSuccess, "pre-v6 layout: the participant list is signed (accepted: still >= 2)", out)

	msg := e.message(a, e.conv, e.ckv, e.ck, textEntry("hello bob"), 7)
	out = common("message", msg, 7, payloadOf("message", msg, 7))
	out["text_utf8"] = "hello bob"
	out["conversation_key_version"] = e.ckv
	e.add("event/message-v7", msg, testvectors.ExpectSuccess, "", out)

	msg2 := e.message(a, e.conv, e.ckv, e.ck, textEntry("old signer"), 2)
	out = common("message", msg2, 2, payloadOf("message", msg2, 2))
	out["text_utf8"] = "old signer"
	out["conversation_key_version"] = e.ckv
	e.add("event/message-v2", msg2, testvectors.ExpectSuccess, "the message payload is the same at every version from 2 to 7", out)

	// Group: key change to all three, group create, member add.
	gkc := e.keyChange(a, e.group, e.gckv, e.gck, 7, a, e.bob, e.carol)
	out = common("keyChange", gkc, 7, payloadOf("keyChange", gkc, 7, hx(e.gck[:])))
	out["conversation_key_version"] = e.gckv
	out["conversation_key_hex"] = hx(e.gck[:])
	e.add("event/group-key-change-v7", gkc, testvectors.ExpectSuccess, "first action signature of a group create", out)

	gcID := g.uuid()
	gcDetail := &event.GroupCreate{MemberIds: []string{"111", "222", "333"}, AdminIds: []string{"111"}, Title: ptr("Team"), ConversationKeyVersion: ptr(e.gckv)}
	gcP, err := crypto.GroupCreatePayload(7, e.header(gcID, a.id, e.group), crypto.GroupCreate{ConversationKeyVersion: e.gckv, MemberIDs: gcDetail.MemberIds, Title: gcDetail.Title})
	if err != nil {
		g.fail(err)
		return
	}
	gc := e.envelope(a, gcID, e.group, &event.MessageEventDetail{GroupChangeEvent: &event.GroupChangeEvent{
		GroupChange: &event.GroupChange{GroupCreate: gcDetail}, ForKeyRotation: ptr(false)}}, gcP, 7)
	gcB, _ := gcP.Bytes()
	out = common("groupCreate", gc, 7, gcB)
	out["member_ids"] = gcDetail.MemberIds
	out["title_utf8"] = "Team"
	e.add("event/group-create-v7", gc, testvectors.ExpectSuccess, "second action signature of a group create; the payload carries no conversation id", out)

	maID := g.uuid()
	maDetail := &event.GroupMemberAddChange{
		MemberIds: []string{"444"}, CurrentMemberIds: []string{"111", "222", "333"}, CurrentAdminIds: []string{"111"},
		CurrentTitle: ptr("Team"), ConversationKeyVersion: ptr(e.gckv), CurrentPendingMemberIds: []string{},
	}
	maP, err := crypto.GroupMemberAddPayload(7, e.header(maID, a.id, e.group), crypto.GroupMemberAdd{
		NewMemberIDs: maDetail.MemberIds, CurrentMemberIDs: maDetail.CurrentMemberIds, CurrentAdminIDs: maDetail.CurrentAdminIds,
		CurrentTitle: maDetail.CurrentTitle, ConversationKeyVersion: e.gckv,
	})
	if err != nil {
		g.fail(err)
		return
	}
	ma := e.envelope(a, maID, e.group, &event.MessageEventDetail{GroupChangeEvent: &event.GroupChangeEvent{
		GroupChange: &event.GroupChange{GroupMemberAdd: maDetail}, ForKeyRotation: ptr(false)}}, maP, 7)
	maB, _ := maP.Bytes()
	out = common("groupMemberAdd", ma, 7, maB)
	out["member_ids"] = maDetail.MemberIds
	e.add("event/group-member-add-v7", ma, testvectors.ExpectSuccess, "", out)

	delID := g.uuid()
	delP, err := crypto.MessageDeletePayload(7, e.header(delID, a.id, e.conv), crypto.DeleteForAll, []string{"1004", "1005"})
	if err != nil {
		g.fail(err)
		return
	}
	del := e.envelope(a, delID, e.conv, &event.MessageEventDetail{MessageDeleteEvent: &event.MessageDeleteEvent{
		SequenceIds: []string{"1004", "1005"}, DeleteMessageAction: ptr(event.DeleteMessageAction(crypto.DeleteForAll))}}, delP, 7)
	delB, _ := delP.Bytes()
	out = common("messageDelete", del, 7, delB)
	out["sequence_ids"] = []string{"1004", "1005"}
	out["delete_action"] = "2"
	e.add("event/message-delete-v7", del, testvectors.ExpectSuccess, "", out)

	// Unsigned fields: accepted, documented.
	gcAdmin := e.clone(gc)
	gcAdmin.Detail.GroupChangeEvent.GroupChange.GroupCreate.AdminIds = []string{"111", "222"}
	out = common("groupCreate", gcAdmin, 7, gcB)
	out["member_ids"] = gcDetail.MemberIds
	out["title_utf8"] = "Team"
	e.add("event/group-create-admins-tampered", gcAdmin, testvectors.ExpectSuccess,
		"KNOWN GAP shared with the XDK (SDK-FACTS Version 4): admin_ids are not signed, so a server-added admin still verifies; do not treat admin lists as authenticated", out)
	msgTTL := e.clone(msg)
	msgTTL.Detail.MessageCreateEvent.TTLMsec = ptr(int64(1000))
	msgTTL.Detail.MessageCreateEvent.ShouldNotify = ptr(false)
	msgTTL.SequenceID = ptr("9999")
	out = common("message", msgTTL, 7, payloadOf("message", msg, 7))
	out["text_utf8"] = "hello bob"
	out["conversation_key_version"] = e.ckv
	e.add("event/message-unsigned-fields-tampered", msgTTL, testvectors.ExpectSuccess,
		"KNOWN GAP shared with the XDK: ttl_msec, should_notify and the sequence id are not signed", out)

	// High-S: same message with s replaced by n-s.
	hs := e.clone(msg)
	sig, _ := crypto.DecodeSignature(*hs.MessageEventSignature.Signature)
	s := new(big.Int).SetBytes(sig[32:])
	copy(sig[32:], be32(new(big.Int).Sub(p256N, s)))
	hs.MessageEventSignature.Signature = ptr(crypto.EncodeSignature(sig))
	out = common("message", hs, 7, payloadOf("message", msg, 7))
	out["text_utf8"] = "hello bob"
	out["conversation_key_version"] = e.ckv
	e.add("event/message-malleated-s", hs, testvectors.ExpectSuccess, "s -> n-s still verifies, as in the XDK, which itself emits high-S signatures", out)

	padded := e.clone(msg)
	padded.MessageEventSignature.Signature = ptr(b64(mustB64Gen(g, *msg.MessageEventSignature.Signature)))
	out = common("message", padded, 7, payloadOf("message", msg, 7))
	out["text_utf8"] = "hello bob"
	out["conversation_key_version"] = e.ckv
	e.add("event/message-signature-padded", padded, testvectors.ExpectSuccess, "the signature string may carry base64 padding", out)

	// --- Tampered events. ---
	t := func(name string, base *event.MessageEvent, expect, note string, mutate func(ev *event.MessageEvent)) {
		ev := e.clone(base)
		mutate(ev)
		e.add(name, ev, expect, note, nil)
	}
	t("event/message-contents-bit-flip", msg, testvectors.ExpectInvalidSignature, "the contents are signed; verification precedes decryption", func(ev *event.MessageEvent) {
		ev.Detail.MessageCreateEvent.Contents = flip(ev.Detail.MessageCreateEvent.Contents, 30)
	})
	t("event/message-signature-bit-flip", msg, testvectors.ExpectInvalidSignature, "", func(ev *event.MessageEvent) {
		sig, _ := crypto.DecodeSignature(*ev.MessageEventSignature.Signature)
		ev.MessageEventSignature.Signature = ptr(crypto.EncodeSignature(flip(sig, 10)))
	})
	t("event/message-swapped-signature", msg, testvectors.ExpectInvalidSignature, "the delete event's valid signature on the message", func(ev *event.MessageEvent) {
		ev.MessageEventSignature = e.clone(del).MessageEventSignature
	})
	t("event/message-wrong-key-version", msg, testvectors.ExpectUnknownSigningKey, "no signing key registered for that sender at that version", func(ev *event.MessageEvent) {
		ev.MessageEventSignature.PublicKeyVersion = ptr("1795000000100")
	})
	t("event/message-key-version-leading-zero", msg, testvectors.ExpectUnknownSigningKey, "key versions are matched exactly, as in the XDK", func(ev *event.MessageEvent) {
		ev.MessageEventSignature.PublicKeyVersion = ptr("0" + a.keyVersion)
	})
	t("event/message-signature-version-1", msg, testvectors.ExpectUnsupportedVersion, "", func(ev *event.MessageEvent) {
		ev.MessageEventSignature.SignatureVersion = ptr("1")
	})
	t("event/message-signature-version-07", msg, testvectors.ExpectUnsupportedVersion, "STRICTER than the XDK, which accepts \"07\" as 7", func(ev *event.MessageEvent) {
		ev.MessageEventSignature.SignatureVersion = ptr("07")
	})
	t("event/message-signature-version-8", msg, testvectors.ExpectUnsupportedVersion, "STRICTER than the XDK, which accepts versions above 7", func(ev *event.MessageEvent) {
		ev.MessageEventSignature.SignatureVersion = ptr("8")
	})
	t("event/message-signature-version-absent", msg, testvectors.ExpectUnsupportedVersion, "STRICTER than the XDK, which treats a missing version as current", func(ev *event.MessageEvent) {
		ev.MessageEventSignature.SignatureVersion = nil
	})
	t("event/message-moved-conversation", msg, testvectors.ExpectInvalidSignature, "replayed into another conversation", func(ev *event.MessageEvent) {
		ev.ConversationID = ptr("111:333")
	})
	t("event/message-reversed-conversation-id", msg, testvectors.ExpectInvalidSignature, "222:111 is not the canonical id that was signed", func(ev *event.MessageEvent) {
		ev.ConversationID = ptr("222:111")
	})
	t("event/message-reattributed-sender", msg, testvectors.ExpectInvalidSignature, "sender changed to carol, whose key is known: her key does not verify alice's signature", func(ev *event.MessageEvent) {
		ev.SenderID = ptr(e.carol.id)
		ev.MessageEventSignature.PublicKeyVersion = ptr(e.carol.keyVersion)
	})
	t("event/message-changed-message-id", msg, testvectors.ExpectInvalidSignature, "", func(ev *event.MessageEvent) {
		ev.MessageID = ptr(g.uuid())
	})
	t("event/message-changed-key-version", msg, testvectors.ExpectInvalidSignature, "conversation_key_version is signed", func(ev *event.MessageEvent) {
		ev.Detail.MessageCreateEvent.ConversationKeyVersion = ptr("1795000001001")
	})
	t("event/message-embedded-attacker-key", msg, testvectors.ExpectInvalidSignature,
		"signed by an attacker who embeds his key in signing_public_key: the embedded key is ignored for trust", func(ev *event.MessageEvent) {
			mallory := g.key()
			p, _ := crypto.MessageCreatePayload(7, e.header(*ev.MessageID, *ev.SenderID, *ev.ConversationID), e.ckv, ev.Detail.MessageCreateEvent.Contents)
			s, _ := p.Sign(mallory)
			ev.MessageEventSignature.Signature = ptr(crypto.EncodeSignature(s))
			ev.MessageEventSignature.SigningPublicKey = ptr(b64(mallory.PublicKey().SPKI()))
		})
	t("event/message-signature-zero", msg, testvectors.ExpectInvalidSignature, "", func(ev *event.MessageEvent) {
		ev.MessageEventSignature.Signature = ptr(crypto.EncodeSignature(make([]byte, 64)))
	})
	t("event/message-signature-url-safe", msg, testvectors.ExpectInvalidSignature, "URL-safe base64 is rejected, as in the XDK", func(ev *event.MessageEvent) {
		sig, _ := crypto.DecodeSignature(*ev.MessageEventSignature.Signature)
		ev.MessageEventSignature.Signature = ptr(b64urlNoPad(sig))
	})
	t("event/message-no-signature", msg, testvectors.ExpectMissingSignature, "", func(ev *event.MessageEvent) {
		ev.MessageEventSignature = nil
	})
	t("event/key-change-wrapped-key-tag-flip", kc, testvectors.ExpectDecryptionFailed, "bob's encrypted key corrupted: ECIES authentication fails before the signature can be checked", func(ev *event.MessageEvent) {
		for _, pk := range ev.Detail.ConversationKeyChangeEvent.ConversationParticipantKeys {
			if *pk.UserID == e.bob.id {
				w, _ := crypto.DecodeBase64(*pk.EncryptedConversationKey)
				pk.EncryptedConversationKey = ptr(b64(flip(w, -1)))
			}
		}
	})
	t("event/key-change-changed-version", kc, testvectors.ExpectInvalidSignature, "the conversation key version is signed", func(ev *event.MessageEvent) {
		ev.Detail.ConversationKeyChangeEvent.ConversationKeyVersion = ptr("1795000009999")
	})
	t("event/key-change-moved-conversation", kc, testvectors.ExpectInvalidSignature, "", func(ev *event.MessageEvent) {
		ev.ConversationID = ptr("111:333")
	})
	t("event/key-change-signature-version-1", kc, testvectors.ExpectUnsupportedVersion, "", func(ev *event.MessageEvent) {
		ev.MessageEventSignature.SignatureVersion = ptr("1")
	})
	t("event/key-change-downgraded-to-v5", kc, testvectors.ExpectInvalidSignature, "a v7 signature relabelled as v5 fails: the v5 payload is different", func(ev *event.MessageEvent) {
		ev.MessageEventSignature.SignatureVersion = ptr("5")
	})
	// The signed plaintext key must match what was wrapped: a sender wraps
	// one key but signs another.
	swap := e.clone(kc)
	other, _ := crypto.NewConversationKey(g.rng)
	sp, _ := crypto.KeyChangePayload(7, e.header(*swap.MessageID, a.id, e.conv), crypto.KeyChange{ConversationKeyVersion: e.ckv, Key: other})
	ssig, _ := sp.Sign(a.kp.Signing)
	swap.MessageEventSignature.Signature = ptr(crypto.EncodeSignature(ssig))
	e.add("event/key-change-signs-other-key", swap, testvectors.ExpectInvalidSignature, "the signature covers a different plaintext key than the one wrapped to the recipient", nil)
	t("event/group-create-title-tampered", gc, testvectors.ExpectInvalidSignature, "the title is signed", func(ev *event.MessageEvent) {
		ev.Detail.GroupChangeEvent.GroupChange.GroupCreate.Title = ptr("Hacked")
	})
	t("event/group-create-member-added", gc, testvectors.ExpectInvalidSignature, "member ids are signed", func(ev *event.MessageEvent) {
		gcx := ev.Detail.GroupChangeEvent.GroupChange.GroupCreate
		gcx.MemberIds = append(gcx.MemberIds, "666")
	})
	t("event/group-member-add-changed", ma, testvectors.ExpectInvalidSignature, "", func(ev *event.MessageEvent) {
		ev.Detail.GroupChangeEvent.GroupChange.GroupMemberAdd.MemberIds = []string{"666"}
	})
	t("event/message-delete-action-changed", del, testvectors.ExpectInvalidSignature, "delete-for-all turned into delete-for-self", func(ev *event.MessageEvent) {
		ev.Detail.MessageDeleteEvent.DeleteMessageAction = ptr(event.DeleteMessageAction(crypto.DeleteForSelf))
	})
	t("event/message-delete-sequence-added", del, testvectors.ExpectInvalidSignature, "", func(ev *event.MessageEvent) {
		ev.Detail.MessageDeleteEvent.SequenceIds = append(ev.Detail.MessageDeleteEvent.SequenceIds, "1006")
	})

	// Validly signed garbage: the signature is fine but the box does not open.
	junk := e.signedMessage(a, e.conv, e.ckv, g.rng.Bytes(60), 7)
	e.add("event/message-signed-garbage-contents", junk, testvectors.ExpectDecryptionFailed, "the sender signed contents that are not a valid secretbox under the conversation key", nil)

	// Malformed envelopes.
	raw, _ := wire.EncodeMessageEvent(msg)
	e.addRaw("event/malformed-truncated", b64(raw[:len(raw)/2]), testvectors.ExpectMalformedEvent, "", nil)
	e.addRaw("event/malformed-not-base64", "!!!not-an-event!!!", testvectors.ExpectMalformedEvent, "the official vectors' garbage event", nil)
	e.addRaw("event/malformed-url-safe-base64", b64urlNoPad(raw), testvectors.ExpectMalformedEvent, "the XDK rejects the URL-safe alphabet too", nil)
	e.addRaw("event/malformed-empty", "", testvectors.ExpectMalformedEvent, "", nil)
	twoRaw := encodeTwoVariantEvent(g, msg, del)
	e.addRaw("event/malformed-union-two-variants", b64(twoRaw), testvectors.ExpectMalformedEvent, "a detail union carrying both a message and a delete", nil)
}

// encodeTwoVariantEvent hand-assembles an envelope whose detail union holds
// two variants, which the encoder refuses to produce.
func encodeTwoVariantEvent(g *generator, msg, del *event.MessageEvent) []byte {
	mc, err := wire.Marshal(msg.Detail.MessageCreateEvent)
	if err != nil {
		g.fail(err)
		return nil
	}
	md, err := wire.Marshal(del.Detail.MessageDeleteEvent)
	if err != nil {
		g.fail(err)
		return nil
	}
	var b []byte
	str := func(id byte, s string) {
		b = append(b, 11, 0, id)
		b = append(b, byte(len(s)>>24), byte(len(s)>>16), byte(len(s)>>8), byte(len(s)))
		b = append(b, s...)
	}
	str(1, "1999")
	str(2, *msg.MessageID)
	str(3, *msg.SenderID)
	str(4, *msg.ConversationID)
	b = append(b, 12, 0, 7) // detail
	b = append(b, 12, 0, 1)
	b = append(b, mc...) // includes its stop byte
	b = append(b, 12, 0, 7)
	b = append(b, md...)
	b = append(b, 0) // end of union
	sig, err := wire.Marshal(msg.MessageEventSignature)
	if err != nil {
		g.fail(err)
		return nil
	}
	b = append(b, 12, 0, 9)
	b = append(b, sig...)
	return append(b, 0)
}

func join(parts []string) string {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p)
	}
	return b.String()
}

// mustHex decodes hex the generator itself produced.
func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

func b64urlNoPad(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustB64Gen(g *generator, s string) []byte {
	b, err := crypto.DecodeBase64(s)
	if err != nil {
		g.fail(err)
	}
	return b
}
