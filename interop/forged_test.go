package interop

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// --- 08: a forged reply preview is flagged on both sides ---
//
// The forger is a participant: the reply is genuinely signed by its sender
// and only the quoted text lies about the embedded original. Our engine
// never forges, so the ours->official forger is built from our own
// primitives (wire, crypto) with our account's keys; the SDK forges with its
// replyToText override. In each direction both receivers (the peer and the
// forger's own device syncing back) must flag the preview invalid while the
// message itself verifies.

const forgedQuote = "a quote they never wrote"

func forgedPreviewO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true)
	orig := them.send(t, conv, map[string]any{"text": "what I really said"})
	syncOurs(t, s, us, conv)

	// Control: the engine's honest reply validates.
	honest, err := us.e.Send(ctx, conv, session.Outgoing{Text: "an honest reply", ReplyTo: orig.SequenceID})
	if err != nil {
		t.Fatal(err)
	}
	mid := forgeReply(t, s, us, conv, orig, forgedQuote)

	r := them.sync(t, conv, nil)
	if h := r.message(t, honest.MessageID); h.ReplyPreviewValidation != "valid" {
		t.Errorf("SDK: honest reply validation %q, want valid", h.ReplyPreviewValidation)
	}
	m := r.message(t, mid)
	verifiedEvent(t, m)
	if p := preview(t, m); p.MessageText != forgedQuote {
		t.Fatalf("SDK shows preview %q, the forger wrote %q", p.MessageText, forgedQuote)
	}
	if m.ReplyPreviewValidation != "invalid" {
		t.Errorf("SDK replyPreviewValidation %q for a forged preview, want invalid", m.ReplyPreviewValidation)
	}
	e := entry(t, syncOurs(t, s, us, conv), mid)
	verifiedMessage(t, e)
	if e.ReplyTo == nil || e.ReplyTo.Validation != "invalid" {
		t.Errorf("engine (forger's own device) reply %+v, want validation invalid", e.ReplyTo)
	}
}

func forgedPreviewF2O(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, false)
	orig, err := us.e.SendText(ctx, conv, "what I really said")
	if err != nil {
		t.Fatal(err)
	}
	them.sync(t, conv, nil)
	honest := them.send(t, conv, map[string]any{"text": "an honest reply", "replyTo": orig.SequenceID})
	forged := them.send(t, conv, map[string]any{"text": "a forged reply", "replyTo": orig.SequenceID, "replyToText": forgedQuote})

	h := syncOurs(t, s, us, conv)
	if e := entry(t, h, honest.MessageID); e.ReplyTo == nil || e.ReplyTo.Validation != "valid" {
		t.Errorf("engine: honest reply %+v, want validation valid", e.ReplyTo)
	}
	e := entry(t, h, forged.MessageID)
	verifiedMessage(t, e)
	if e.ReplyTo == nil || e.ReplyTo.Text != forgedQuote {
		t.Fatalf("engine reply %+v, the SDK forged %q", e.ReplyTo, forgedQuote)
	}
	if e.ReplyTo.Validation != "invalid" {
		t.Errorf("engine reply validation %q for a forged preview, want invalid", e.ReplyTo.Validation)
	}
	m := them.sync(t, conv, nil).message(t, forged.MessageID)
	if m.ReplyPreviewValidation != "invalid" {
		t.Errorf("SDK (forger's own device) replyPreviewValidation %q, want invalid", m.ReplyPreviewValidation)
	}
}

// forgeReply posts, as our account, a properly signed reply to orig whose
// preview quotes text instead of orig's text. It is assembled from our wire
// and crypto packages with the account's exported private keys.
func forgeReply(t *testing.T, s *suite, us *ours, conv string, orig *sent, text string) string {
	t.Helper()
	ctx := s.ctx(t)
	backup, err := us.e.ExportBackup()
	if err != nil {
		t.Fatal(err)
	}
	idKey, err := crypto.NewPrivateKey(backup[:32])
	if err != nil {
		t.Fatal(err)
	}
	sigKey, err := crypto.NewPrivateKey(backup[32:])
	clear(backup)
	if err != nil {
		t.Fatal(err)
	}
	defer idKey.Zero()
	defer sigKey.Zero()

	c, err := us.e.Conversation(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	key := conversationKey(t, s, us, conv, c.KeyVersion, idKey)

	rawOrig, err := wire.DecodeB64(orig.Event)
	if err != nil {
		t.Fatal(err)
	}
	origEv, err := wire.DecodeMessageEvent(rawOrig)
	if err != nil {
		t.Fatal(err)
	}
	if origEv.SenderID == nil {
		t.Fatal("original event has no sender")
	}
	sender, err := strconv.ParseInt(*origEv.SenderID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	body, quote := "replying to a forged quote", text
	holder := &product.MessageEntryHolder{Contents: &product.MessageEntryContents{Message: &product.MessageContents{
		MessageText: &body,
		ReplyingToPreview: &product.ReplyingToPreview{
			SenderID:                    &sender,
			MessageText:                 &quote,
			ReplyingToMessageSequenceID: &orig.SequenceID,
			ReplyingToMessageID:         &orig.MessageID,
			RawEventMessageCreate:       origEv,
		},
	}}}
	pt, err := wire.EncodeMessageEntryHolder(holder)
	if err != nil {
		t.Fatal(err)
	}
	box, err := crypto.Seal(nil, key, pt)
	if err != nil {
		t.Fatal(err)
	}
	mid := uuid4(t)
	notify := true
	mce, err := wire.EncodeMessageCreateEvent(&event.MessageCreateEvent{Contents: box, ConversationKeyVersion: &c.KeyVersion, ShouldNotify: &notify})
	if err != nil {
		t.Fatal(err)
	}
	p, err := crypto.MessageCreatePayload(7, crypto.Header{MessageID: mid, SenderID: us.id, ConversationID: conv}, c.KeyVersion, box)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := p.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := crypto.Sign(sigKey, msg)
	if err != nil {
		t.Fatal(err)
	}
	es, err := wire.EncodeMessageEventSignature(wire.Signature(sig, us.e.PublicKeyVersion(), crypto.SignatureVersion))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := us.client.SendMessage(ctx, api.ConversationPathID(conv), &api.SendChatMessageRequest{
		MessageID: mid, EncodedMessageCreateEvent: wire.EncodeB64(mce), EncodedMessageEventSignature: wire.EncodeB64(es),
	}); err != nil {
		t.Fatalf("post forged reply: %v", err)
	}
	return mid
}

// conversationKey unwraps our copy of conv's key at version from the key
// change the server lists.
func conversationKey(t *testing.T, s *suite, us *ours, conv, version string, idKey *crypto.PrivateKey) *crypto.ConversationKey {
	t.Helper()
	res, _, err := us.client.GetConversationEvents(s.ctx(t), api.ConversationPathID(conv), &api.ConversationEventsOptions{MaxResults: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, kc := range res.Meta.KeyChangeEvents() {
		raw, err := wire.DecodeB64(kc)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := wire.DecodeMessageEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		d := ev.Detail
		if d == nil || d.ConversationKeyChangeEvent == nil || d.ConversationKeyChangeEvent.ConversationKeyVersion == nil ||
			*d.ConversationKeyChangeEvent.ConversationKeyVersion != version {
			continue
		}
		for _, pk := range d.ConversationKeyChangeEvent.ConversationParticipantKeys {
			if pk.UserID == nil || *pk.UserID != us.id || pk.EncryptedConversationKey == nil {
				continue
			}
			wrapped, err := wire.DecodeB64(*pk.EncryptedConversationKey)
			if err != nil {
				t.Fatal(err)
			}
			k, err := crypto.UnwrapConversationKey(idKey, wrapped)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
	}
	t.Fatalf("no key change for version %s addressed to us", version)
	return nil
}

// uuid4 returns a random lower-case UUID v4, the XDK's message id form.
func uuid4(t *testing.T) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
