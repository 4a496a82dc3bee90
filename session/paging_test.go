package session

import (
	"fmt"
	"slices"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
)

// TestSyncPaging syncs across many small pages, incrementally, with the
// server's data order as served and reversed (oldest first within pages).
func TestSyncPaging(t *testing.T) {
	for _, reverse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reverse=%v", reverse), func(t *testing.T) {
			ctx := ctxT(t)
			n := newNet(t)
			alice := n.user("alice")
			var ts *tamperServer
			bob := n.userWith("bob", func(s Server) Server { ts = &tamperServer{Server: s}; return ts }, WithPageSize(3))
			if reverse {
				ts.set(func(r *api.GetChatConversationEventsResponse) { slices.Reverse(r.Data) })
			}
			var want []string
			send := func(k int) {
				for range k {
					m := fmt.Sprintf("m%02d", len(want))
					if _, err := alice.e.SendText(ctx, bob.id, m); err != nil {
						t.Fatal(err)
					}
					want = append(want, m)
				}
			}
			send(10)
			res, err := bob.e.Sync(ctx, alice.id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(res.Entries); !slices.Equal(got, want) {
				t.Fatalf("first sync %q", got)
			}
			if len(res.Anomalies) != 0 {
				t.Fatalf("anomalies %v", res.Anomalies)
			}
			send(7)
			res, err = bob.e.Sync(ctx, alice.id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(res.Entries); !slices.Equal(got, want[10:]) || len(res.Anomalies) != 0 {
				t.Fatalf("incremental sync %q, anomalies %v", got, res.Anomalies)
			}
			h := testutil.Must(bob.e.History(ctx, alice.id, "", 0))(t)
			if got := texts(h); !slices.Equal(got, want) {
				t.Fatalf("history %q", got)
			}
		})
	}
}
