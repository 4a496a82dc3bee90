package session

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// withholdServer drops the events with the given sequence ids from every
// events page, as a server hiding messages would.
type withholdServer struct {
	Server
	hide map[string]bool
}

func (w *withholdServer) GetConversationEvents(ctx context.Context, cid string, max int, token string) (*api.GetChatConversationEventsResponse, error) {
	resp, err := w.Server.GetConversationEvents(ctx, cid, max, token)
	if err != nil || resp == nil {
		return resp, err
	}
	kept := resp.Data[:0]
	for _, d := range resp.Data {
		raw, err := wire.DecodeB64(d.EncodedEvent)
		if err == nil {
			if me, err := wire.DecodeMessageEvent(raw); err == nil && w.hide[me.GetSequenceID()] {
				continue
			}
		}
		kept = append(kept, d)
	}
	resp.Data = kept
	return resp, nil
}

func gapsOf(res *SyncResult) []string {
	var out []string
	for _, a := range res.Anomalies {
		if a.Kind == event.AnomalyGap || a.Kind == event.AnomalyFork {
			out = append(out, fmt.Sprintf("%s at %s (claims %s)", a.Kind, a.SequenceID, a.Related))
		}
	}
	return out
}

// Events the server stops serving because a signed delete removed them
// (for everyone, or for this account by itself) leave breaks in the chain
// that are not reported, on the sync that brings the delete and on every
// later one, whatever the page size.
func TestDeletedEventsAreNotGaps(t *testing.T) {
	for _, ps := range []int{1, 2, 3, 100} {
		for _, forAll := range []bool{true, false} {
			t.Run(fmt.Sprintf("page%d/forall=%v", ps, forAll), func(t *testing.T) {
				ctx := ctxT(t)
				n := newNet(t)
				alice, bob := n.user("alice", WithPageSize(ps)), n.user("bob", WithPageSize(ps))
				var seqs []string
				var cid string
				for i := range 6 {
					s, err := alice.e.SendText(ctx, bob.id, fmt.Sprintf("m%d", i))
					if err != nil {
						t.Fatal(err)
					}
					seqs, cid = append(seqs, s.SequenceID), s.ConversationID
				}
				if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
					t.Fatal(err)
				}
				// One message, then two adjacent ones including the newest.
				if err := alice.e.DeleteMessages(ctx, cid, []string{seqs[1]}, forAll); err != nil {
					t.Fatal(err)
				}
				if err := alice.e.DeleteMessages(ctx, cid, []string{seqs[4], seqs[5]}, forAll); err != nil {
					t.Fatal(err)
				}
				if _, err := alice.e.SendText(ctx, cid, "after"); err != nil {
					t.Fatal(err)
				}
				users := []*testUser{alice}
				if forAll {
					users = append(users, bob)
				}
				for _, u := range users {
					for round := range 3 {
						res, err := u.e.Sync(ctx, cid, nil)
						if err != nil {
							t.Fatal(err)
						}
						if g := gapsOf(res); len(g) > 0 {
							t.Fatalf("%s sync %d reports %v after deletes of %v", u.name, round, g, []string{seqs[1], seqs[4], seqs[5]})
						}
					}
				}
				// The deleter's own history drops the messages either way;
				// the peer's only for a delete for everyone.
				for _, u := range []*testUser{alice, bob} {
					h := testutil.Must(u.e.History(ctx, cid, "", 0))(t)
					got := texts(h)
					if gone := u == alice || forAll; slices.Contains(got, "m1") == gone || !slices.Contains(got, "m2") {
						t.Fatalf("%s's history after the deletes (for all %v): %q", u.name, forAll, got)
					}
				}
			})
		}
	}
}

// A withheld event no delete names is still reported, next to a removed
// one that is not, whether or not the receiver had stored it before.
func TestWithheldEventStillGap(t *testing.T) {
	for _, storedBefore := range []bool{false, true} {
		t.Run(fmt.Sprintf("stored=%v", storedBefore), func(t *testing.T) {
			ctx := ctxT(t)
			n := newNet(t)
			ws := &withholdServer{hide: map[string]bool{}}
			alice := n.user("alice")
			bob := n.userWith("bob", func(s Server) Server { ws.Server = s; return ws })
			var seqs []string
			var cid string
			for i := range 6 {
				s, err := alice.e.SendText(ctx, bob.id, fmt.Sprintf("m%d", i))
				if err != nil {
					t.Fatal(err)
				}
				seqs, cid = append(seqs, s.SequenceID), s.ConversationID
			}
			if storedBefore {
				if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := alice.e.DeleteMessages(ctx, cid, []string{seqs[1]}, true); err != nil {
				t.Fatal(err)
			}
			ws.hide[seqs[3]] = true // withheld, never deleted
			for round := range 2 {
				res, err := bob.e.Sync(ctx, cid, nil)
				if err != nil {
					t.Fatal(err)
				}
				want := []string{fmt.Sprintf("gap at %s (claims %s)", seqs[4], seqs[3])}
				if g := gapsOf(res); !slices.Equal(g, want) {
					t.Fatalf("sync %d: anomalies %v, want %v", round, g, want)
				}
			}
		})
	}
}

// Honest churn (sends, deletes for everyone and for self, reactions, edits,
// read markers, rotations by both members, pairs and groups, small pages)
// yields no gap or fork: every break the server leaves is explained.
func TestHonestChurnHasNoChainAnomalies(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261122, 7))
	trials := 16
	if testing.Short() {
		trials = 4
	}
	for trial := range trials {
		ctx := ctxT(t)
		n := newNet(t)
		ps := 1 + rng.IntN(5)
		alice, bob := n.user("alice", WithPageSize(ps)), n.user("bob", WithPageSize(ps))
		var cid string
		if trial%2 == 1 {
			g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id}, Admins: []string{alice.id, bob.id}})
			if err != nil {
				t.Fatal(err)
			}
			cid = g
			if _, err := alice.e.SendText(ctx, cid, "first"); err != nil {
				t.Fatal(err)
			}
		} else {
			s, err := alice.e.SendText(ctx, bob.id, "first")
			if err != nil {
				t.Fatal(err)
			}
			cid = s.ConversationID
		}
		own := map[*testUser][]string{}
		hidden := map[string]bool{}
		steps := ""
		for range 30 {
			u, other := alice, bob
			if rng.IntN(2) == 0 {
				u, other = bob, alice
			}
			var err error
			switch r := rng.IntN(12); {
			case r < 5:
				var s *Sent
				if s, err = u.e.SendText(ctx, cid, "m"); err == nil {
					own[u] = append(own[u], s.SequenceID)
					steps += fmt.Sprintf("[%s %s]", u.name, s.SequenceID)
				}
				steps += "s"
			case r < 7 && len(own[u]) > 0:
				i := rng.IntN(len(own[u]))
				err = u.e.DeleteMessages(ctx, cid, []string{own[u][i]}, r == 5)
				steps += fmt.Sprintf("[%s del %s all=%v]", u.name, own[u][i], r == 5)
				own[u] = slices.Delete(own[u], i, i+1)
				steps += "d"
			case r == 7 && len(own[other]) > 0:
				tg := own[other][rng.IntN(len(own[other]))]
				steps += fmt.Sprintf("[%s other %s]", u.name, tg)
				if hidden[u.name+tg] {
					break // deleted for itself: no longer served to u
				}
				switch rng.IntN(3) {
				case 0:
					_, err = u.e.Send(ctx, cid, Outgoing{React: tg, Emoji: "👍"})
				case 1:
					err = u.e.MarkRead(ctx, cid, tg)
				default:
					err = u.e.DeleteMessages(ctx, cid, []string{tg}, false)
					hidden[u.name+tg] = true
				}
				steps += "o"
			case r == 8 && len(own[u]) > 0:
				tg := own[u][rng.IntN(len(own[u]))]
				_, err = u.e.Send(ctx, cid, Outgoing{Edit: tg, Text: "edited"})
				steps += fmt.Sprintf("[%s edit %s]", u.name, tg)
				steps += "e"
			case r == 9:
				// Followed by a send: a key change whose version no
				// message uses is never served (the server lists key
				// changes only for the versions a page needs), which is
				// a break this account cannot tell from a withheld event.
				if _, err = u.e.Rotate(ctx, cid); err == nil {
					var s *Sent
					if s, err = u.e.SendText(ctx, cid, "rotated"); err == nil {
						own[u] = append(own[u], s.SequenceID)
						steps += fmt.Sprintf("[%s rot+%s]", u.name, s.SequenceID)
					}
				}
				steps += "r"
			default:
				var res *SyncResult
				res, err = u.e.Sync(ctx, cid, nil)
				steps += "y"
				if err == nil {
					if g := gapsOf(res); len(g) > 0 {
						t.Fatalf("trial %d (page %d, %s): %s's sync reports %v after %s", trial, ps, cid, u.name, g, steps)
					}
				}
			}
			if err != nil {
				t.Fatalf("trial %d after %s: %v", trial, steps, err)
			}
		}
	}
}
