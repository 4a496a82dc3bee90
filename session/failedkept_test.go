package session

import (
	"errors"
	"fmt"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// TestFailedEventsAllowance: a sync of forged events keeps the
// conversation's allowance of failed events (by number, and by size) and
// passes the rest to fn without storing them, reported once a storing
// step (AnomalyFailedNotKept); the allowance does not renew in later
// syncs; verified events are never charged.
func TestFailedEventsAllowance(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opt   Option
		kept  int
		total int
	}{
		{"events", WithMaxFailedEvents(4, 1<<30), 4, 10},
		{"bytes", WithMaxFailedEvents(1000, 3000), 0, 10}, // measured below: the bytes fit a few events
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			n := newNet(t)
			alice := n.user("alice")
			var ts *tamperServer
			bob := n.userWith("bob", func(s Server) Server { ts = &tamperServer{Server: s}; return ts }, tc.opt)
			forge := func(r *api.GetChatConversationEventsResponse) {
				for i := range r.Data {
					r.Data[i].EncodedEvent = editEvent(t, r.Data[i].EncodedEvent, func(me *tevent.MessageEvent) {
						if c := me.GetDetail().GetMessageCreateEvent(); c != nil && me.GetSenderID() == alice.id {
							c.Contents[len(c.Contents)-1] ^= 1
						}
					})
				}
			}
			var cid string
			for i := range tc.total {
				s, err := alice.e.SendText(ctx, bob.id, fmt.Sprintf("m%d", i))
				if err != nil {
					t.Fatal(err)
				}
				cid = s.ConversationID
			}
			ts.set(forge)
			var handed, failed int
			res, err := bob.e.Sync(ctx, cid, func(ev *event.Event) error {
				if ev.Kind == event.KindMessage {
					handed++
					if errors.Is(ev.Err, inbound.ErrBadSignature) {
						failed++
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			kept, size := failedHeld(t, bob, cid)
			notKept := 0
			for _, a := range res.Anomalies {
				if a.Kind == event.AnomalyFailedNotKept {
					var k int
					if _, err := fmt.Sscan(a.Related, &k); err != nil {
						t.Fatal(err)
					}
					notKept += k
				}
			}
			t.Logf("%d forged messages: %d handed (%d failed), %d kept (%d bytes), %d reported not kept", tc.total, handed, failed, kept, size, notKept)
			if handed != tc.total || failed != tc.total || kept+notKept != tc.total {
				t.Fatalf("handed %d failed %d kept %d not kept %d of %d", handed, failed, kept, notKept, tc.total)
			}
			switch tc.name {
			case "events":
				if kept != tc.kept {
					t.Fatalf("kept %d failed events, allowance %d", kept, tc.kept)
				}
			case "bytes":
				if size > 3000 || kept == 0 || kept == tc.total {
					t.Fatalf("kept %d failed events of %d bytes, allowance 3000 bytes", kept, size)
				}
			}
			// The allowance does not renew; honest events are stored.
			for i := range 3 {
				if _, err := alice.e.SendText(ctx, bob.id, fmt.Sprintf("more %d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
				t.Fatal(err)
			}
			if again, _ := failedHeld(t, bob, cid); again != kept {
				t.Fatalf("a later sync of forged events kept %d failed events, had %d", again, kept)
			}
			ts.set(nil)
			honest, err := alice.e.SendText(ctx, bob.id, "honest")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
				t.Fatal(err)
			}
			h, err := bob.e.History(ctx, cid, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if last := h[len(h)-1]; last.MessageID != honest.MessageID || !last.Verified {
				t.Fatalf("honest message after the forgeries: %+v", last)
			}
		})
	}
}

// failedHeld counts the failed messages u stores for cid, and their size.
func failedHeld(t *testing.T, u *testUser, cid string) (n, size int) {
	t.Helper()
	evs, err := u.store.Events(ctxT(t), cid, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Error != "" {
			n++
			size += len(ev.Raw)
		}
	}
	return n, size
}
