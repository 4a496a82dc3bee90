package inbound

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/xchat-go/xchat/session/event"
)

// FuzzDecrypt feeds arbitrary bytes (seeded with the official vectors and
// our own events) through Decrypt and a one-event batch: nothing may panic,
// and nothing unverified may be presented as content.
func FuzzDecrypt(f *testing.F) {
	v := loadVectors(f)
	for _, s := range []string{v.EventKeyChange, v.EventMessage, v.EventFailure, v.EventReplyValid, v.EventReplyForged} {
		f.Add(mustB64(f, s))
	}
	f.Add([]byte(v.EventGarbage))
	b, err := os.ReadFile(filepath.Join("..", "..", "interop", "testdata", "sdk-samples.json"))
	if err != nil {
		f.Fatal(err)
	}
	var s sdkSamples
	if err := json.Unmarshal(b, &s); err != nil {
		f.Fatalf("sdk-samples.json: %v", err)
	}
	for _, m := range s.Messages {
		f.Add(mustB64(f, m.EncodedEvent))
	}
	for _, e := range append(s.GroupCreate.EncodedEvents, s.MessageDelete.EncodedEvent) {
		f.Add(mustB64(f, e))
	}
	f.Add([]byte{})
	keys := vectorKeys(f, v, "")
	ck := DecryptBase64(keys, v.EventKeyChange, nil).KeyChange.Key
	keys.AddConversationKey(v.EventConversationID, v.EventCKeyVersion, ck)

	f.Fuzz(func(t *testing.T, data []byte) {
		plain, reused := Decrypt(keys, data, nil), batchReused(t, keys, data)
		if plain.Verified != reused.Verified || (plain.Err == nil) != (reused.Err == nil) || plain.Text() != reused.Text() {
			t.Fatalf("starting from a VerifyOnly decoding: verified %v, %v; alone: verified %v, %v", reused.Verified, reused.Err, plain.Verified, plain.Err)
		}
		for _, ev := range []*event.Event{plain, batchOne(t, keys, data), reused} {
			if ev == nil {
				t.Fatal("nil event")
			}
			if ev.Verified && ev.Err != nil {
				t.Fatalf("verified with error %v", ev.Err)
			}
			if ev.Message != nil && (!ev.Verified || ev.Err != nil) {
				t.Fatal("unverified message content exposed")
			}
			if ev.Verified && !ev.Kind.Signed() {
				t.Fatalf("unsigned kind %v marked verified", ev.Kind)
			}
			if ev.Err == nil && ev.Kind.Signed() && !ev.Verified {
				t.Fatalf("signed kind %v neither verified nor failed", ev.Kind)
			}
		}
	})
}

func batchOne(t *testing.T, keys Keys, data []byte) *event.Event {
	var out *event.Event
	for ev, err := range DecryptBatch(context.Background(), keys, FromBytes([][]byte{data}), &Options{Workers: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		out = ev
	}
	return out
}

// batchReused is batchOne starting from what a VerifyOnly batch decoded
// of data (see Decoded).
func batchReused(t *testing.T, keys Keys, data []byte) *event.Event {
	d := NewDecoded(1)
	for _, err := range DecryptBatch(context.Background(), keys, FromBytes([][]byte{data}), &Options{Workers: 1, VerifyOnly: true, Decoded: d}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	var out *event.Event
	for ev, err := range DecryptBatch(context.Background(), keys, FromBytes([][]byte{data}), &Options{Workers: 1, Decoded: d}) {
		if err != nil {
			t.Fatal(err)
		}
		out = ev
	}
	return out
}
