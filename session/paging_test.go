package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/session/event"
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

// failingPages passes events requests on to Server, except, while armed,
// those for a page after a sync's first (a connection lost mid-sync).
type failingPages struct {
	Server
	armed atomic.Bool
}

func (s *failingPages) GetConversationEvents(ctx context.Context, id string, max int, tok string) (*api.GetChatConversationEventsResponse, error) {
	if tok != "" && s.armed.Load() {
		return nil, errors.New("connection reset")
	}
	return s.Server.GetConversationEvents(ctx, id, max, tok)
}

// TestSyncCutShort: a sync whose fetch ends before its last page leaves
// its pages above events not read. A group's stores none of them (they
// are judged by the roster the group changes below them decide) and the
// next sync stores them all, in order; a one-to-one conversation's and a
// fetch stopped by WithMaxSyncBytes store the pages fetched.
func TestSyncCutShort(t *testing.T) {
	for _, tc := range []struct {
		name         string
		group, bound bool
	}{
		{name: "group", group: true},
		{name: "one-to-one"},
		{name: "group at WithMaxSyncBytes", group: true, bound: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			n := newNet(t)
			alice, dave := n.user("alice"), n.user("dave")
			fp := &failingPages{}
			opts := []Option{WithPageSize(2)}
			if tc.bound {
				opts = append(opts, WithMaxSyncBytes(1)) // stops after the first page
			} else {
				fp.armed.Store(true)
			}
			bob := n.userWith("bob", func(s Server) Server { fp.Server = s; return fp }, opts...)
			cid := bob.id
			if tc.group {
				g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id}})
				if err != nil {
					t.Fatal(err)
				}
				if err := alice.e.AddMembers(ctx, g, dave.id); err != nil {
					t.Fatal(err)
				}
				cid = g
			}
			for i := range 5 {
				if _, err := alice.e.SendText(ctx, cid, fmt.Sprintf("m%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if !tc.group {
				cid = alice.id
			}
			_, err := bob.e.Sync(ctx, cid, nil)
			if err == nil {
				t.Fatal("a sync cut short returned no error")
			}
			hist, herr := bob.e.History(ctx, cid, "", 0)
			if herr != nil && !errors.Is(herr, xchat.ErrUnknownConversation) {
				t.Fatal(herr)
			}
			switch {
			case tc.group && !tc.bound && len(hist) > 0:
				t.Fatalf("the group's sync cut short (%v) stored %d events, the first %s %v", err, len(hist), hist[0].Type, hist[0].Error)
			case (!tc.group || tc.bound) && len(hist) == 0:
				t.Fatalf("the sync cut short (%v) stored nothing", err)
			}
			for _, en := range hist {
				if !en.Verified && en.Type == event.TypeMessage {
					t.Fatalf("message %s stored failed: %s", en.SequenceID, en.Error)
				}
			}
			if !tc.group || tc.bound {
				return
			}
			fp.armed.Store(false)
			if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
				t.Fatal(err)
			}
			hist = testutil.Must(bob.e.History(ctx, cid, "", 0))(t)
			for _, en := range hist {
				if !en.Verified {
					t.Fatalf("%s %s failed after the full sync: %s", en.Type, en.SequenceID, en.Error)
				}
			}
			if want := []string{"m0", "m1", "m2", "m3", "m4"}; !slices.Equal(texts(hist), want) {
				t.Fatalf("history %q, want %q", texts(hist), want)
			}
			c := testutil.Must(bob.e.Conversation(ctx, cid))(t)
			if !slices.Contains(c.Members, dave.id) || c.Roster != RosterConfirmed {
				t.Fatalf("roster %v (%v): dave's add not read", c.Members, c.Roster)
			}
		})
	}
}
