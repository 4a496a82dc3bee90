package session

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/session/event"
)

// keyChangeCounter counts the key changes an engine posts (rotations,
// group creates and member adds each carry one).
type keyChangeCounter struct {
	Server
	n *atomic.Int64
}

func (c keyChangeCounter) AddConversationKeys(ctx context.Context, id string, req *api.AddConversationKeysRequest) (*api.AddConversationKeysResponse, error) {
	c.n.Add(1)
	return c.Server.AddConversationKeys(ctx, id, req)
}

func (c keyChangeCounter) CreateGroup(ctx context.Context, req *api.CreateChatConversationRequest) (*api.CreateChatConversationResponse, error) {
	c.n.Add(1)
	return c.Server.CreateGroup(ctx, req)
}

func (c keyChangeCounter) AddGroupMembers(ctx context.Context, id string, req *api.AddChatGroupMembersRequest) (*api.AddChatGroupMembersResponse, error) {
	c.n.Add(1)
	return c.Server.AddGroupMembers(ctx, id, req)
}

// TestHonestTrafficMakesNoExtraKeys: on honest traffic every key change
// lists members only, so nothing is reported as wrapped to a non-member
// and no send rotates a key: a group created, grown by a member add and
// rotated once, and a one-to-one conversation, with everyone syncing and
// sending in between, post exactly the four key changes those steps make.
func TestHonestTrafficMakesNoExtraKeys(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	var posted atomic.Int64
	count := func(s Server) Server { return keyChangeCounter{Server: s, n: &posted} }
	alice, bob, carol, dave := n.userWith("alice", count), n.userWith("bob", count), n.userWith("carol", count), n.userWith("dave", count)
	everyone := []*testUser{alice, bob, carol, dave}
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}})
	if err != nil {
		t.Fatal(err)
	}
	round := func(users []*testUser, cid, text string) {
		t.Helper()
		for _, u := range users {
			if res := mustSync(t, u, cid); slices.ContainsFunc(res.Anomalies, func(a event.Anomaly) bool { return a.Kind == event.AnomalyKeyWrappedToNonMember }) {
				t.Fatalf("%s: honest key change reported as exposed: %v", u.name, res.Anomalies)
			}
			if _, err := u.e.SendText(ctx, cid, text+" from "+u.name); err != nil {
				t.Fatalf("%s sends: %v", u.name, err)
			}
		}
	}
	round(everyone[:3], g, "hello")
	if err := alice.e.AddMembers(ctx, g, dave.id); err != nil {
		t.Fatal(err)
	}
	round(everyone, g, "after the add")
	if _, err := carol.e.Rotate(ctx, g); err != nil {
		t.Fatal(err)
	}
	round(everyone, g, "after the rotation")
	round(everyone, g, "again")
	if _, err := alice.e.SendText(ctx, bob.id, "one to one"); err != nil {
		t.Fatal(err)
	}
	dm, err := CanonicalID(bob.id, alice.id)
	if err != nil {
		t.Fatal(err)
	}
	round([]*testUser{bob, alice}, dm, "reply")
	if got := posted.Load(); got != 4 {
		t.Fatalf("honest traffic posted %d key changes, want 4 (create, add, rotation, first one-to-one key)", got)
	}
}

// TestOutsiders: a participant list is read against the members it is
// given, each outsider named once, whatever the list repeats.
func TestOutsiders(t *testing.T) {
	kc := &event.KeyChange{Participants: []event.ParticipantKey{{UserID: "1"}, {UserID: "9"}, {UserID: "2"}, {UserID: "9"}, {UserID: "8"}}}
	if got := outsiders(kc, []string{"1", "2", "3"}); !slices.Equal(got, []string{"9", "8"}) {
		t.Fatalf("outsiders %v", got)
	}
	if got := outsiders(kc, []string{"1", "2", "8", "9"}); len(got) != 0 {
		t.Fatalf("members reported as outsiders: %v", got)
	}
	ev := &event.Event{SequenceID: "5", KeyChange: kc, Verified: true}
	want := []event.Anomaly{{Kind: event.AnomalyKeyWrappedToNonMember, ConversationID: "g1", SequenceID: "5", Related: "9"},
		{Kind: event.AnomalyKeyWrappedToNonMember, ConversationID: "g1", SequenceID: "5", Related: "8"}}
	if got := exposureAnomalies("g1", ev, []string{"1", "2"}); !slices.Equal(got, want) {
		t.Fatalf("anomalies %v, want %v", got, want)
	}
	ev.Verified = false
	if got := exposureAnomalies("g1", ev, []string{"1", "2"}); len(got) != 0 {
		t.Fatalf("unverified key change reported: %v", got)
	}
}

// TestExposedKey: the recipients of a one-to-one key are judged against
// the conversation's two users (never a listing), a group's against the
// members given; a member without a key is not an exposure.
func TestExposedKey(t *testing.T) {
	for _, c := range []struct {
		cid        string
		recipients []string
		members    []string
		want       bool
	}{
		{"1:2", []string{"1", "2"}, nil, false},
		{"1:2", []string{"1", "2", "3"}, []string{"1", "2", "3"}, true},
		{"1:2", []string{"2"}, nil, false},
		{"g7", []string{"1", "2"}, []string{"1", "2", "3"}, false},
		{"g7", []string{"1", "2", "4"}, []string{"1", "2", "3"}, true},
		{"g7", []string{"1"}, nil, true},
	} {
		r := map[string]string{}
		for _, u := range c.recipients {
			r[u] = "1"
		}
		if got := exposedKey(c.cid, r, c.members); got != c.want {
			t.Errorf("exposedKey(%s, %v, %v) = %v, want %v", c.cid, c.recipients, c.members, got, c.want)
		}
	}
}
