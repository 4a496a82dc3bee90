package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"golang.org/x/crypto/nacl/secretbox"

	"github.com/xchat-go/xchat/internal/testref"
	"github.com/xchat-go/xchat/thriftgen/event"
)

// vectors returns the official SDK fixture (tests/fixtures/sdk_vectors.json
// of xdevplatform/chat-xdk, vendored; see internal/testref).
func vectors(tb testing.TB) map[string]string {
	tb.Helper()
	var m map[string]string
	testref.JSON(tb, testref.SDKVectors, &m)
	return m
}

func vectorBytes(tb testing.TB, v map[string]string, key string) []byte {
	tb.Helper()
	s, ok := v[key]
	if !ok {
		tb.Fatalf("vector %q missing", key)
	}
	b, err := DecodeB64(s)
	if err != nil {
		tb.Fatalf("vector %q: %v", key, err)
	}
	return b
}

// openContents decrypts MessageCreateEvent.contents (nonce ‖ tag ‖ ciphertext,
// XSalsa20-Poly1305) with the fixture's conversation key.
func openContents(tb testing.TB, v map[string]string, contents []byte) []byte {
	tb.Helper()
	kb := vectorBytes(tb, v, "conversation_key_b64")
	if len(kb) != 32 || len(contents) < 24+secretbox.Overhead {
		tb.Fatalf("bad key (%d bytes) or contents (%d bytes)", len(kb), len(contents))
	}
	var key [32]byte
	var nonce [24]byte
	copy(key[:], kb)
	copy(nonce[:], contents[:24])
	pt, ok := secretbox.Open(nil, contents[24:], &nonce, &key)
	if !ok {
		tb.Fatal("contents do not open with the fixture conversation key")
	}
	return pt
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestVectorEventsDecode(t *testing.T) {
	v := vectors(t)
	common := func(t *testing.T, ev *event.MessageEvent) {
		t.Helper()
		if got := str(ev.SequenceID); got != "1" {
			t.Errorf("sequence_id = %q, want 1", got)
		}
		if got, want := str(ev.SenderID), v["event_sender_id"]; got != want || want != "1111" {
			t.Errorf("sender_id = %q, want %q (1111)", got, want)
		}
		if got, want := str(ev.ConversationID), v["event_conversation_id"]; got != want || want != "1111:2222" {
			t.Errorf("conversation_id = %q, want %q", got, want)
		}
		if got := str(ev.CreatedAtMsec); got != "1700000000000" {
			t.Errorf("created_at_msec = %q", got)
		}
		if ev.Detail == nil {
			t.Fatal("detail missing")
		}
	}
	signed := func(t *testing.T, ev *event.MessageEvent) {
		t.Helper()
		sig := ev.MessageEventSignature
		if sig == nil {
			t.Fatal("signature missing")
		}
		if got := str(sig.SignatureVersion); got != "7" {
			t.Errorf("signature_version = %q, want 7", got)
		}
		if got := str(sig.PublicKeyVersion); got != v["event_signing_key_version"] {
			t.Errorf("public_key_version = %q, want %q", got, v["event_signing_key_version"])
		}
		raw, err := DecodeB64(str(sig.Signature))
		if err != nil || len(raw) != 64 {
			t.Errorf("signature is not 64 bytes of unpadded base64: %d bytes, %v", len(raw), err)
		}
	}
	mce := func(t *testing.T, ev *event.MessageEvent) *event.MessageCreateEvent {
		t.Helper()
		m := ev.Detail.MessageCreateEvent
		if m == nil {
			t.Fatal("detail is not a MessageCreateEvent")
		}
		if got := str(m.ConversationKeyVersion); got != v["event_conversation_key_version"] || got != "1001" {
			t.Errorf("conversation_key_version = %q, want 1001", got)
		}
		if m.ShouldNotify == nil || !*m.ShouldNotify {
			t.Error("should_notify not true")
		}
		return m
	}

	t.Run("message", func(t *testing.T) {
		ev, err := DecodeMessageEvent(vectorBytes(t, v, "event_message_b64"))
		if err != nil {
			t.Fatal(err)
		}
		common(t, ev)
		signed(t, ev)
		if got := str(ev.MessageID); got != "2c2a1d32-988b-4b0e-9e63-c3baab3003fd" {
			t.Errorf("message_id = %q", got)
		}
		m := mce(t, ev)
		h, err := DecodeMessageEntryHolder(openContents(t, v, m.Contents))
		if err != nil {
			t.Fatal(err)
		}
		if h.Contents == nil || h.Contents.Message == nil {
			t.Fatal("plaintext is not a message entry")
		}
		if got := str(h.Contents.Message.MessageText); got != v["event_message_text"] {
			t.Errorf("message_text = %q, want %q", got, v["event_message_text"])
		}
	})

	t.Run("key_change", func(t *testing.T) {
		ev, err := DecodeMessageEvent(vectorBytes(t, v, "event_key_change_b64"))
		if err != nil {
			t.Fatal(err)
		}
		common(t, ev)
		signed(t, ev)
		if got := str(ev.MessageID); got != "kc-msg-1" {
			t.Errorf("message_id = %q", got)
		}
		kc := ev.Detail.ConversationKeyChangeEvent
		if kc == nil {
			t.Fatal("detail is not a ConversationKeyChangeEvent")
		}
		if got := str(kc.ConversationKeyVersion); got != "1001" {
			t.Errorf("conversation_key_version = %q", got)
		}
		if len(kc.ConversationParticipantKeys) != 1 {
			t.Fatalf("%d participant keys, want 1", len(kc.ConversationParticipantKeys))
		}
		pk := kc.ConversationParticipantKeys[0]
		if str(pk.UserID) != "1111" || str(pk.PublicKeyVersion) != v["event_recipient_key_version"] {
			t.Errorf("participant = %q v%q", str(pk.UserID), str(pk.PublicKeyVersion))
		}
		wrapped, err := DecodeB64(str(pk.EncryptedConversationKey))
		// ECIES: ephemeral point (65) + 32-byte key + tag (16).
		if err != nil || len(wrapped) != 65+32+16 || wrapped[0] != 0x04 {
			t.Errorf("wrapped key: %d bytes, %v", len(wrapped), err)
		}
		if kc.RatchetTreeChange != nil || kc.ForKeyRotation != nil {
			t.Error("unexpected ratchet tree / key rotation fields")
		}
	})

	t.Run("failure", func(t *testing.T) {
		ev, err := DecodeMessageEvent(vectorBytes(t, v, "event_failure_b64"))
		if err != nil {
			t.Fatal(err)
		}
		common(t, ev)
		if str(ev.MessageID) != "failure-msg-1" {
			t.Errorf("message_id = %q", str(ev.MessageID))
		}
		if ev.MessageEventSignature != nil {
			t.Error("failure event unexpectedly signed")
		}
		f := ev.Detail.MessageFailureEvent
		if f == nil || f.FailureType == nil {
			t.Fatal("detail is not a MessageFailureEvent with a failure_type")
		}
		if *f.FailureType != event.FailureType_RATE_LIMIT_UPSELL || int64(*f.FailureType) != 12 {
			t.Errorf("failure_type = %v, want RATE_LIMIT_UPSELL (12)", *f.FailureType)
		}
		if f.RateLimitTier == nil || *f.RateLimitTier != event.RateLimitTier_PREMIUM {
			t.Errorf("rate_limit_tier = %v, want PREMIUM", f.RateLimitTier)
		}
	})

	original, err := DecodeMessageEvent(vectorBytes(t, v, "event_message_b64"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, preview string }{
		{"event_reply_valid_b64", v["event_message_text"]},
		{"event_reply_forged_b64", v["event_reply_forged_preview_text"]},
	} {
		t.Run(tc.key, func(t *testing.T) {
			ev, err := DecodeMessageEvent(vectorBytes(t, v, tc.key))
			if err != nil {
				t.Fatal(err)
			}
			common(t, ev)
			signed(t, ev)
			m := mce(t, ev)
			h, err := DecodeMessageEntryHolder(openContents(t, v, m.Contents))
			if err != nil {
				t.Fatal(err)
			}
			msg := h.Contents.Message
			if msg == nil || str(msg.MessageText) != v["event_reply_text"] {
				t.Fatalf("reply text wrong: %+v", msg)
			}
			p := msg.ReplyingToPreview
			if p == nil {
				t.Fatal("replying_to_preview missing")
			}
			if str(p.MessageText) != tc.preview {
				t.Errorf("preview text = %q, want %q", str(p.MessageText), tc.preview)
			}
			if p.SenderID == nil || *p.SenderID != 1111 {
				t.Errorf("preview sender_id = %v", p.SenderID)
			}
			if str(p.ReplyingToMessageID) != str(original.MessageID) || str(p.ReplyingToMessageSequenceID) != "1" {
				t.Errorf("preview points at %q/%q", str(p.ReplyingToMessageID), str(p.ReplyingToMessageSequenceID))
			}
			// The embedded raw event is the original message event, verbatim.
			if !reflect.DeepEqual(p.RawEventMessageCreate, original) {
				t.Error("raw_event_message_create differs from event_message")
			}
		})
	}
}

func TestVectorRoundTripByteExact(t *testing.T) {
	v := vectors(t)
	for _, key := range []string{"event_message_b64", "event_key_change_b64", "event_failure_b64", "event_reply_valid_b64", "event_reply_forged_b64"} {
		t.Run(key, func(t *testing.T) {
			in := vectorBytes(t, v, key)
			if err := UnmarshalExact(in, event.NewMessageEvent()); err != nil {
				t.Fatalf("vector has trailing bytes or is invalid: %v", err)
			}
			ev, err := DecodeMessageEvent(in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := EncodeMessageEvent(ev)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, in) {
				t.Fatalf("re-encoding differs:\n got %x\nwant %x", out, in)
			}
			if got := EncodeB64(out); got != v[key] {
				t.Errorf("padded base64 differs from the vector")
			}
			if ev.Detail.MessageCreateEvent == nil {
				return
			}
			pt := openContents(t, v, ev.Detail.MessageCreateEvent.Contents)
			h, err := DecodeMessageEntryHolder(pt)
			if err != nil {
				t.Fatal(err)
			}
			out, err = EncodeMessageEntryHolder(h)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, pt) {
				t.Fatalf("plaintext re-encoding differs:\n got %x\nwant %x", out, pt)
			}
		})
	}
}

func TestVectorGarbage(t *testing.T) {
	v := vectors(t)
	s := v["event_garbage_b64"]
	if s == "" {
		t.Fatal("event_garbage_b64 missing")
	}
	_, err := DecodeB64(s)
	if !errors.Is(err, ErrBase64) {
		t.Fatalf("DecodeB64(garbage) error = %v, want ErrBase64", err)
	}
	// The raw bytes are not a MessageEvent either.
	if _, err := DecodeMessageEvent([]byte(s)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("DecodeMessageEvent(garbage bytes) error = %v, want ErrMalformed", err)
	}
}

func TestVectorTypedHelpers(t *testing.T) {
	v := vectors(t)
	ev, err := DecodeMessageEvent(vectorBytes(t, v, "event_message_b64"))
	if err != nil {
		t.Fatal(err)
	}
	detail, err := EncodeMessageEventDetail(ev.Detail)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := DecodeMessageEventDetail(detail)
	if err != nil || !reflect.DeepEqual(d2, ev.Detail) {
		t.Fatalf("detail round trip: %v", err)
	}
	mceBytes, err := EncodeMessageCreateEvent(ev.Detail.MessageCreateEvent)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := DecodeMessageCreateEvent(mceBytes)
	if err != nil || !reflect.DeepEqual(m2, ev.Detail.MessageCreateEvent) {
		t.Fatalf("create event round trip: %v", err)
	}
	sigBytes, err := EncodeMessageEventSignature(ev.MessageEventSignature)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := DecodeMessageEventSignature(sigBytes)
	if err != nil || !reflect.DeepEqual(s2, ev.MessageEventSignature) {
		t.Fatalf("signature round trip: %v", err)
	}
	// A MessageCreateEvent body is not a MessageEvent: field 100 is unknown
	// there, so it decodes to an empty envelope rather than failing.
	other, err := DecodeMessageEvent(mceBytes)
	if err != nil || other.Detail != nil || other.SequenceID != nil {
		t.Fatalf("cross-type decode = %+v, %v", other, err)
	}
}
