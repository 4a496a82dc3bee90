package session

import (
	"context"
	"testing"

	"github.com/xchat-go/xchat/api"
)

// FuzzReceive feeds arbitrary events to receive (offline): it must never
// panic, and anything it reports as verified must carry no error.
func FuzzReceive(f *testing.F) {
	v := sdkVectors(f)
	for _, k := range []string{"event_key_change_b64", "event_message_b64", "event_reply_valid_b64",
		"event_reply_forged_b64", "event_failure_b64", "event_garbage_b64"} {
		f.Add(v[k])
	}
	ctx := context.Background()
	e := vectorEngine(f, v)
	if _, err := e.receive(ctx, v["event_key_change_b64"]); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ev, err := e.receive(ctx, s)
		if err != nil {
			return
		}
		if ev.Verified && ev.Err != nil {
			t.Fatalf("verified event with error %v", ev.Err)
		}
	})
}

// FuzzCanonicalID checks the id normaliser never panics and is idempotent.
func FuzzCanonicalID(f *testing.F) {
	for _, s := range []string{"1:2", "2-1", "10", "g123", "", ":", "-", "1:1", "g", "01:2", "99999999999999999999:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := CanonicalID(s, "5")
		if err != nil {
			return
		}
		c2, err := CanonicalID(c, "5")
		if err != nil || c2 != c {
			t.Fatalf("CanonicalID(%q) = %q, again %q (%v)", s, c, c2, err)
		}
		if !IsGroup(c) && api.ConversationPathID(c) == c {
			t.Fatalf("path form of %q unchanged", c)
		}
	})
}
