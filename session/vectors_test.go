package session

import (
	"context"
	"errors"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/testref"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// sdkVectors loads the official Chat XDK vectors (vendored; see
// internal/testref).
func sdkVectors(t testing.TB) map[string]string {
	t.Helper()
	var m map[string]string
	testref.JSON(t, testref.SDKVectors, &m)
	return m
}

// vectorEngine opens the vectors' account (user event_sender_id, keys from
// private_keys_concat_b64) offline.
func vectorEngine(t testing.TB, v map[string]string) *Engine {
	t.Helper()
	ctx := context.Background()
	backup, err := wire.DecodeB64(v["private_keys_concat_b64"])
	if err != nil {
		t.Fatal(err)
	}
	store := keystore.NewMemory()
	if err := ImportBackup(ctx, store, v["event_sender_id"], backup, v["event_signing_key_version"]); err != nil {
		t.Fatal(err)
	}
	e, err := Open(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func TestOfficialVectorsThroughSession(t *testing.T) {
	v := sdkVectors(t)
	ctx := ctxT(t)

	e := vectorEngine(t, v)
	if got := testutil.Must(e.ExportBackup())(t); wire.EncodeB64(got) != v["private_keys_concat_b64"] {
		t.Fatal("backup does not round-trip")
	}
	kc, err := e.receive(ctx, v["event_key_change_b64"])
	if err != nil || kc.Err != nil || !kc.Verified || kc.KeyChange == nil || kc.KeyChange.Version != v["event_conversation_key_version"] {
		t.Fatalf("key change: %+v, %v", kc, err)
	}
	c, err := e.Conversation(ctx, v["event_conversation_id"])
	if err != nil || c.KeyVersion != v["event_conversation_key_version"] {
		t.Fatalf("conversation %+v, %v", c, err)
	}
	// The extracted key is the vectors' conversation key.
	k, err := e.store.ConversationKey(ctx, v["event_conversation_id"], v["event_conversation_key_version"])
	if err != nil || wire.EncodeB64(k.Key[:]) != v["conversation_key_b64"] {
		t.Fatalf("adopted key differs (%v)", err)
	}
	msg, err := e.receive(ctx, v["event_message_b64"])
	if err != nil || msg.Err != nil || !msg.Verified || msg.Text() != v["event_message_text"] {
		t.Fatalf("message: %+v, %v", msg, err)
	}
	// The vectors reuse sequence id 1 for every event: the stored key change
	// keeps its slot and the clash is reported.
	if len(msg.Warnings) != 1 || !errors.Is(msg.Warnings[0], xchat.ErrServerResponse) {
		t.Fatalf("warnings %v", msg.Warnings)
	}
	h, err := e.History(ctx, v["event_conversation_id"], "", 0)
	if err != nil || len(h) != 1 || h[0].Type != event.TypeKeyChange || !h[0].Verified {
		t.Fatalf("history %+v, %v", h, err)
	}

	// Replies (all vectors share sequence id 1: use a fresh store each).
	for _, tc := range []struct {
		key, text, preview string
		valid              bool
	}{
		{"event_reply_valid_b64", v["event_reply_text"], v["event_message_text"], true},
		{"event_reply_forged_b64", v["event_reply_text"], v["event_reply_forged_preview_text"], false},
	} {
		e := vectorEngine(t, v)
		if _, err := e.receive(ctx, v["event_key_change_b64"]); err != nil {
			t.Fatal(err)
		}
		ev, err := e.receive(ctx, v[tc.key])
		if err != nil || ev.Err != nil || !ev.Verified {
			t.Fatalf("%s: %+v, %v", tc.key, ev, err)
		}
		en := ev.Entry()
		if en.ReplyTo == nil || (en.ReplyTo.Validation == "valid") != tc.valid || en.ReplyTo.Text != tc.preview {
			t.Fatalf("%s: reply %+v", tc.key, en.ReplyTo)
		}
	}

	// The failure event is unsigned server metadata; garbage is rejected.
	f, err := e.receive(ctx, v["event_failure_b64"])
	if err != nil || f.Kind != event.KindFailure || f.Verified {
		t.Fatalf("failure: %+v, %v", f, err)
	}
	if _, err := e.receive(ctx, v["event_garbage_b64"]); !errors.Is(err, xchat.ErrInvalidArgument) {
		t.Fatalf("garbage: %v", err)
	}
}
