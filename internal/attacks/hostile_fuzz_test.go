package attacks

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// FuzzHostileEnvelope serves arbitrary bytes as the newest event of a real
// conversation (next to the key change in the page metadata) to a fresh
// device of the recipient, and requires that the engine neither panics nor
// fails the sync, that every honest message still verifies with its
// original text, and that nothing else is ever shown as a verified message.
func FuzzHostileEnvelope(f *testing.F) {
	w := newWorld(f, emulator.WithRateLimit(0, 0))
	d := newDM(w, "m1", "m2", "m3")
	honest := map[string]string{}
	for i, s := range d.sent {
		honest[s.MessageID] = []string{"m1", "m2", "m3"}[i]
	}
	for _, me := range w.serverEvents(d.alice, d.path) {
		raw, err := wire.EncodeMessageEvent(me)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, me := range w.serverKeyChanges(d.alice, d.path) {
		raw := testutil.Must(wire.EncodeMessageEvent(me))(f)
		f.Add(raw)
	}
	f.Add(hostile.NestedEnvelope("9123456789012345678", "1", 200))
	f.Add(hostile.HugeLengthEnvelope("9123456789012345678", 1<<30))
	f.Add(hostile.HugeListEnvelope("9123456789012345678", 1<<20))
	f.Add([]byte{})

	var mu sync.Mutex
	var current []byte
	w.proxy.Add(hostile.Events("fuzz", func(r *http.Request, page *api.GetChatConversationEventsResponse) error {
		mu.Lock()
		b := current
		mu.Unlock()
		page.Data = append([]api.ChatMessageEvent{{EncodedEvent: wire.EncodeB64(b)}}, page.Data...)
		return nil
	}))
	backup, err := d.bob.e.ExportBackup()
	if err != nil {
		f.Fatal(err)
	}
	version := d.bob.e.PublicKeyVersion()

	f.Fuzz(func(t *testing.T, raw []byte) {
		mu.Lock()
		current = raw
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		store := keystore.NewMemory()
		if err := session.ImportBackup(ctx, store, d.bob.id, backup, version); err != nil {
			t.Fatal(err)
		}
		e, err := session.Open(ctx, store, session.NewAPIServer(d.bob.client))
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if _, err := e.Sync(ctx, d.cid, nil); err != nil {
			t.Fatalf("one hostile event failed the whole sync: %v", err)
		}
		h, err := e.History(ctx, d.cid, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, en := range h {
			if !en.Verified || en.Type != event.TypeMessage {
				continue
			}
			want, ok := honest[en.MessageID]
			if !ok || en.Text != want {
				t.Fatalf("verified message %q (%q) was never sent", en.MessageID, en.Text)
			}
			seen[en.MessageID] = true
		}
		if len(seen) != len(honest) {
			t.Fatalf("honest messages lost: %d of %d verified", len(seen), len(honest))
		}
	})
}
