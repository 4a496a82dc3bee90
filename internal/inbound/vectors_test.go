package inbound

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/testref"
	"github.com/xchat-go/xchat/session/event"
)

// sdkVectors is the official fixture crates/core/tests/fixtures/sdk_vectors.json.
type sdkVectors struct {
	IdentityPrivate        string `json:"identity_private_b64"`
	SigningPublic          string `json:"signing_public_b64"`
	ConversationKey        string `json:"conversation_key_b64"`
	EventFailure           string `json:"event_failure_b64"`
	EventKeyChange         string `json:"event_key_change_b64"`
	EventMessage           string `json:"event_message_b64"`
	EventReplyValid        string `json:"event_reply_valid_b64"`
	EventReplyForged       string `json:"event_reply_forged_b64"`
	EventReplyText         string `json:"event_reply_text"`
	EventReplyForgedText   string `json:"event_reply_forged_preview_text"`
	EventGarbage           string `json:"event_garbage_b64"`
	EventSenderID          string `json:"event_sender_id"`
	EventConversationID    string `json:"event_conversation_id"`
	EventCKeyVersion       string `json:"event_conversation_key_version"`
	EventSigningKeyVersion string `json:"event_signing_key_version"`
	EventRecipientVersion  string `json:"event_recipient_key_version"`
	EventMessageText       string `json:"event_message_text"`
}

func loadVectors(t testing.TB) *sdkVectors {
	t.Helper()
	var v sdkVectors
	testref.JSON(t, testref.SDKVectors, &v)
	return &v
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vectorKeys mirrors the SDK test: identity key imported with the recipient
// key version, and one signing key entry for the sender.
func vectorKeys(t testing.TB, v *sdkVectors, userID string) *StaticKeys {
	t.Helper()
	id, err := crypto.NewPrivateKey(mustB64(t, v.IdentityPrivate))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := crypto.ParsePublicKey(mustB64(t, v.SigningPublic))
	if err != nil {
		t.Fatal(err)
	}
	k := &StaticKeys{IdentityKey: id, UserID: userID, KeyVersion: v.EventRecipientVersion}
	k.AddSigningKey(v.EventSenderID, v.EventSigningKeyVersion, pub)
	return k
}

func collect(t testing.TB, keys Keys, events []string, opts *Options) []*event.Event {
	t.Helper()
	var out []*event.Event
	for ev, err := range DecryptBatch(context.Background(), keys, FromBase64(events), opts) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// TestVectorsBatch mirrors vectors_decrypt_events_batch_and_single_event_contracts.
func TestVectorsBatch(t *testing.T) {
	v := loadVectors(t)
	for _, uid := range []string{"", v.EventSenderID} { // own user id unknown / known
		keys := vectorKeys(t, v, uid)
		evs := collect(t, keys, []string{v.EventKeyChange, v.EventMessage, v.EventGarbage}, nil)
		if len(evs) != 3 {
			t.Fatalf("got %d events", len(evs))
		}
		kc := evs[0]
		if kc.Err != nil || !kc.Verified || kc.Kind != event.KindKeyChange {
			t.Fatalf("key change: kind %v verified %v err %v", kc.Kind, kc.Verified, kc.Err)
		}
		if kc.KeyChange.Version != v.EventCKeyVersion || kc.KeyChange.Key == nil {
			t.Fatalf("key change version %q key %v (%v)", kc.KeyChange.Version, kc.KeyChange.Key, kc.KeyChange.KeyErr)
		}
		if got := base64.StdEncoding.EncodeToString(kc.KeyChange.Key[:]); got != v.ConversationKey {
			t.Fatalf("extracted key mismatch")
		}
		if !kc.KeyChange.UsableForEncryption {
			t.Error("verified v7 key change not usable for encryption")
		}
		msg := evs[1]
		if msg.Err != nil || !msg.Verified || msg.Message == nil || msg.Message.Kind != event.ContentText {
			t.Fatalf("message: verified %v err %v", msg.Verified, msg.Err)
		}
		if msg.Text() != v.EventMessageText || msg.SenderID != v.EventSenderID || msg.ConversationID != v.EventConversationID {
			t.Fatalf("message text %q sender %q conv %q", msg.Text(), msg.SenderID, msg.ConversationID)
		}
		if msg.Message.KeyVersion != v.EventCKeyVersion {
			t.Errorf("key version %q", msg.Message.KeyVersion)
		}
		if !errors.Is(evs[2].Err, ErrMalformed) {
			t.Fatalf("garbage: %v", evs[2].Err)
		}
	}
}

func TestVectorsSingleEvent(t *testing.T) {
	v := loadVectors(t)
	keys := vectorKeys(t, v, "")
	ck, err := crypto.NewConversationKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(ck[:], mustB64(t, v.ConversationKey))
	// Without the conversation key: verified signature, unknown key version.
	ev := DecryptBase64(keys, v.EventMessage, nil)
	var uk *UnknownKeyError
	if !errors.As(ev.Err, &uk) || uk.Version != v.EventCKeyVersion || ev.Verified || ev.Message != nil {
		t.Fatalf("without key: %v", ev.Err)
	}
	keys.AddConversationKey(v.EventConversationID, v.EventCKeyVersion, ck)
	ev = DecryptBase64(keys, v.EventMessage, &Options{ConversationID: v.EventConversationID})
	if ev.Err != nil || !ev.Verified || ev.Text() != v.EventMessageText {
		t.Fatalf("with key: %v %q", ev.Err, ev.Text())
	}
	if ev.Signature == nil || ev.Signature.PublicKeyVersion != v.EventSigningKeyVersion {
		t.Fatalf("signature info %+v", ev.Signature)
	}
	// The single-event path on garbage reports a clear error.
	if ev := DecryptBase64(keys, v.EventGarbage, nil); !errors.Is(ev.Err, ErrMalformed) || ev.Verified {
		t.Fatalf("garbage: %v", ev.Err)
	}
	// Unpinned sender: the message is not decrypted at all.
	none := &StaticKeys{}
	none.AddConversationKey(v.EventConversationID, v.EventCKeyVersion, ck)
	if ev := DecryptBase64(none, v.EventMessage, nil); !errors.Is(ev.Err, ErrUnknownSigningKey) || ev.Message != nil {
		t.Fatalf("unpinned: %v", ev.Err)
	}
	// A different pinned key for the same version: bad signature.
	other := newUser(t, v.EventSenderID, v.EventSigningKeyVersion)
	wrong := &StaticKeys{}
	wrong.AddSigningKey(v.EventSenderID, v.EventSigningKeyVersion, other.kp.Signing.PublicKey())
	wrong.AddConversationKey(v.EventConversationID, v.EventCKeyVersion, ck)
	if ev := DecryptBase64(wrong, v.EventMessage, nil); !errors.Is(ev.Err, ErrBadSignature) || ev.Message != nil {
		t.Fatalf("wrong pinned key: %v", ev.Err)
	}
}

// TestVectorsFailure mirrors vectors_failure_event_decodes_type_and_rate_limit_tier.
func TestVectorsFailure(t *testing.T) {
	v := loadVectors(t)
	ev := DecryptBase64(&StaticKeys{}, v.EventFailure, nil)
	if ev.Err != nil || ev.Kind != event.KindFailure || ev.Failure == nil {
		t.Fatalf("failure: %v kind %v", ev.Err, ev.Kind)
	}
	if ev.Failure.Type != event.FailureRateLimitUpsell || ev.Failure.Type.String() != "RATE_LIMIT_UPSELL" {
		t.Errorf("type %v", ev.Failure.Type)
	}
	if ev.Failure.Tier != event.TierPremium {
		t.Errorf("tier %v", ev.Failure.Tier)
	}
	if ev.SenderID != v.EventSenderID || ev.Verified {
		t.Errorf("sender %q verified %v", ev.SenderID, ev.Verified)
	}
}

// TestVectorsReplyPreview mirrors
// vectors_reply_preview_validation_accepts_genuine_and_rejects_forged.
func TestVectorsReplyPreview(t *testing.T) {
	v := loadVectors(t)
	keys := vectorKeys(t, v, "")
	evs := collect(t, keys, []string{v.EventKeyChange, v.EventReplyValid, v.EventReplyForged}, nil)
	for i, ev := range evs {
		if ev.Err != nil {
			t.Fatalf("event %d: %v", i, ev.Err)
		}
	}
	valid, forged := evs[1], evs[2]
	for _, ev := range []*event.Event{valid, forged} {
		if ev.Text() != v.EventReplyText || ev.Message.Text.ReplyPreview == nil || !ev.Message.Text.ReplyPreview.HasSourceEvent {
			t.Fatalf("reply text %q preview %+v", ev.Text(), ev.Message.Text.ReplyPreview)
		}
	}
	if got := valid.Message.Text.ReplyPreview.Validation; got.Status != event.PreviewValid || got.Reason != nil {
		t.Fatalf("valid reply: %+v", got)
	}
	fp := forged.Message.Text.ReplyPreview
	if fp.Validation.Status != event.PreviewInvalid || !errors.Is(fp.Validation.Reason, ErrPreviewText) {
		t.Fatalf("forged reply: %+v", fp.Validation)
	}
	if fp.Text != v.EventReplyForgedText {
		t.Fatalf("forged preview text %q", fp.Text)
	}
	// With the conversation key but no pinned signing key, the reply itself
	// is rejected before decryption, so its preview is never shown.
	k2 := vectorKeys(t, v, "")
	evs = collect(t, k2, []string{v.EventKeyChange, v.EventReplyValid}, nil)
	ck := evs[0].KeyChange.Key
	nopin := &StaticKeys{}
	nopin.AddConversationKey(v.EventConversationID, v.EventCKeyVersion, ck)
	if ev := DecryptBase64(nopin, v.EventReplyValid, nil); ev.Message != nil || !errors.Is(ev.Err, ErrUnknownSigningKey) {
		t.Fatalf("unpinned reply: %v", ev.Err)
	}
}
