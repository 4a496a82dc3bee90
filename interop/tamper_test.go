package interop

import (
	"testing"
)

// A tampering case: the harness rewrites one message event in transit (the
// same code, harness.mjs `tamper`, feeds both receivers) and the receiver
// must reject it with the expected reason class.
type tamperCase struct {
	kind string // harness tamper kind
	want string // reasonClass of the rejection, on both sides
	// rotate makes the target message travel under a second key version
	// (the "keyVersion" case points it back at the first, which both
	// sides hold).
	rotate bool
	// unknownVersion points the "keyVersion" case at a version nobody holds
	// (the harness adds one to the signed version).
	unknownVersion bool
}

var (
	tamperFlip       = tamperCase{kind: "flip", want: "signature"}
	tamperSwap       = tamperCase{kind: "swapSignature", want: "signature"}
	tamperKeyVersion = tamperCase{kind: "keyVersion", want: "signature", rotate: true}
	tamperUnknownKV  = tamperCase{kind: "keyVersion", want: "signature", unknownVersion: true}
	tamperSigV1      = tamperCase{kind: "sigVersion1", want: "signature-version"}
)

func tamperFlipO2F(t *testing.T, s *suite) { tamperO2F(t, s, tamperFlip) }
func tamperFlipF2O(t *testing.T, s *suite) { tamperF2O(t, s, tamperFlip) }
func tamperSwapO2F(t *testing.T, s *suite) { tamperO2F(t, s, tamperSwap) }
func tamperSwapF2O(t *testing.T, s *suite) { tamperF2O(t, s, tamperSwap) }
func tamperKeyVersionO2F(t *testing.T, s *suite) {
	tamperO2F(t, s, tamperKeyVersion)
	tamperO2F(t, s, tamperUnknownKV)
}

func tamperKeyVersionF2O(t *testing.T, s *suite) {
	tamperF2O(t, s, tamperKeyVersion)
	tamperF2O(t, s, tamperUnknownKV)
}
func tamperSigV1O2F(t *testing.T, s *suite) { tamperO2F(t, s, tamperSigV1) }
func tamperSigV1F2O(t *testing.T, s *suite) { tamperF2O(t, s, tamperSigV1) }

// tamperO2F: our engine sends, the hostile transport rewrites, the SDK app
// must reject.
func tamperO2F(t *testing.T, s *suite, tc tamperCase) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true)
	donor, err := us.e.SendText(ctx, conv, "an untouched message")
	if err != nil {
		t.Fatal(err)
	}
	if tc.rotate {
		if _, err := us.e.Rotate(ctx, conv); err != nil {
			t.Fatalf("engine Rotate: %v", err)
		}
	}
	target, err := us.e.SendText(ctx, conv, "the message the server tampers with")
	if err != nil {
		t.Fatal(err)
	}
	// The donor's genuine event, as the SDK app received it.
	r0 := them.sync(t, conv, nil)
	verifiedEvent(t, r0.message(t, donor.MessageID))
	verifiedEvent(t, r0.message(t, target.MessageID))
	var raw struct {
		Event string `json:"event"`
	}
	them.call(t, "app.rawEvent", map[string]any{"conversationId": conv, "sequenceId": donor.SequenceID}, &raw)

	// Synced again through the hostile transport, the target must fail.
	r := them.sync(t, conv, tc.spec(target.MessageID, raw.Event, donor.KeyVersion))
	reason := r.failure(target.MessageID)
	for _, ev := range r.Events {
		if ev.ID == target.MessageID {
			t.Fatalf("SDK accepted the tampered event (%s, verified=%v): %s", tc.kind, ev.Verified, ev.Raw)
		}
	}
	if got := reasonClass(reason); got != tc.want {
		t.Errorf("SDK rejected %s with %q (class %q), want class %q", tc.kind, reason, got, tc.want)
	}
	t.Logf("SDK: %s -> %s", tc.kind, reason)
	verifiedEvent(t, r.message(t, donor.MessageID))
}

// tamperF2O: the SDK app sends, the hostile transport rewrites, our engine
// must reject.
func tamperF2O(t *testing.T, s *suite, tc tamperCase) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, false)
	donor := them.send(t, conv, map[string]any{"text": "an untouched message"})
	if tc.rotate {
		them.call(t, "app.startConversation", map[string]any{"peerId": us.id}, nil)
	}
	target := them.send(t, conv, map[string]any{"text": "the message the server tampers with"})
	var raw struct {
		Event string `json:"event"`
	}
	them.call(t, "app.rawEvent", map[string]any{"conversationId": conv, "sequenceId": donor.SequenceID}, &raw)

	us.srv.setEvents(s.tamperWith(t, tc.spec(target.MessageID, raw.Event, donor.KeyVersion)))
	h := syncOurs(t, s, us, conv)
	us.srv.setEvents(nil)
	_ = ctx
	e := entry(t, h, target.MessageID)
	if e.Verified {
		t.Fatalf("engine accepted the tampered event (%s): %+v", tc.kind, e)
	}
	if got := reasonClass(e.Error); got != tc.want {
		t.Errorf("engine rejected %s with %q (class %q), want class %q", tc.kind, e.Error, got, tc.want)
	}
	t.Logf("engine: %s -> %s", tc.kind, e.Error)
	verifiedMessage(t, entry(t, h, donor.MessageID))
}

// spec is the harness tamper spec for the target message.
func (tc tamperCase) spec(messageID, donor, oldKeyVersion string) map[string]any {
	m := map[string]any{"kind": tc.kind, "messageId": messageID, "donor": donor}
	if !tc.unknownVersion {
		m["keyVersion"] = oldKeyVersion
	}
	return m
}
