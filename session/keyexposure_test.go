package session

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
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

// TestKeyChangeBeforeItsMemberAdd: a member add and the key change made
// with it may be served in either order. Served key change first, the new
// member is not in the roster yet where the key change sits; the add that
// follows, signed by the same admin and signing the key's version, settles
// it: nothing is reported and the next send makes no new key.
func TestKeyChangeBeforeItsMemberAdd(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	var posted atomic.Int64
	alice, carol := n.user("alice"), n.user("carol")
	var ts *tamperServer
	bob := n.userWith("bob", func(s Server) Server { ts = &tamperServer{Server: keyChangeCounter{Server: s, n: &posted}}; return ts })
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id}})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, bob, g)
	if err := alice.e.AddMembers(ctx, g, carol.id); err != nil {
		t.Fatal(err)
	}
	swapped := false
	ts.set(func(r *api.GetChatConversationEventsResponse) {
		swapped = swapped || swapAddAndKeyChange(t, r)
	})
	res := mustSync(t, bob, g)
	if !swapped {
		t.Fatal("the page held no member add followed by its key change to serve the other way round")
	}
	for _, a := range res.Anomalies {
		if a.Kind == event.AnomalyKeyWrappedToNonMember {
			t.Fatalf("key change served before its member add reported: %v", res.Anomalies)
		}
	}
	before := posted.Load()
	if _, err := bob.e.SendText(ctx, g, "after the add"); err != nil {
		t.Fatal(err)
	}
	if got := posted.Load() - before; got != 0 {
		t.Fatalf("bob's send posted %d key changes after an honest add served out of order", got)
	}
}

// swapAddAndKeyChange serves a group member add and the key change made
// right after it (in the page's data or in its meta's key-change events)
// the other way round: sequence ids and predecessor links are unsigned.
// It reports whether it found such a pair.
func swapAddAndKeyChange(t *testing.T, r *api.GetChatConversationEventsResponse) bool {
	t.Helper()
	var slots []*string // every encoded event of the page
	for i := range r.Data {
		slots = append(slots, &r.Data[i].EncodedEvent)
	}
	if r.Meta != nil {
		for i := range r.Meta.ConversationKeyEvents {
			slots = append(slots, &r.Meta.ConversationKeyEvents[i])
		}
		for i := range r.Meta.MissingConversationKeyChangeEvents {
			slots = append(slots, &r.Meta.MissingConversationKeyChangeEvents[i])
		}
	}
	decoded := make([]*tevent.MessageEvent, len(slots))
	for i, sl := range slots {
		raw, err := wire.DecodeB64(*sl)
		if err != nil {
			t.Fatal(err)
		}
		if decoded[i], err = wire.DecodeMessageEvent(raw); err != nil {
			t.Fatal(err)
		}
	}
	isAdd := func(me *tevent.MessageEvent) bool {
		gce := me.GetDetail().GetGroupChangeEvent()
		return gce != nil && gce.GetGroupChange().GetGroupMemberAdd() != nil
	}
	isKC := func(me *tevent.MessageEvent) bool { return me.GetDetail().GetConversationKeyChangeEvent() != nil }
	for i := range decoded {
		for j := range decoded {
			add, kc := decoded[i], decoded[j]
			if !isAdd(add) || !isKC(kc) || kc.GetPreviousSequenceID() != add.GetSequenceID() {
				continue
			}
			addSeq, kcSeq, prev := add.GetSequenceID(), kc.GetSequenceID(), add.GetPreviousSequenceID()
			kc.SequenceID, kc.PreviousSequenceID = &addSeq, &prev
			add.SequenceID, add.PreviousSequenceID = &kcSeq, &addSeq
			for k, me := range []*tevent.MessageEvent{add, kc} {
				out, err := wire.EncodeMessageEvent(me)
				if err != nil {
					t.Fatal(err)
				}
				*slots[[]int{i, j}[k]] = wire.EncodeB64(out)
			}
			return true
		}
	}
	for _, me := range decoded {
		t.Logf("served: seq %s prev %s add %v key change %v", me.GetSequenceID(), me.GetPreviousSequenceID(), isAdd(me), isKC(me))
	}
	return false
}

// TestExposuresSettledOnlyByTheirAdd: a finding is settled only by an
// accepted, verified member add by the key change's sender that signs the
// key's version and adds the user named.
func TestExposuresSettledOnlyByTheirAdd(t *testing.T) {
	kc := &event.Event{SequenceID: "10", SenderID: "1", Verified: true,
		KeyChange: &event.KeyChange{Version: "500", Participants: []event.ParticipantKey{{UserID: "1"}, {UserID: "2"}, {UserID: "9"}}}}
	add := func(sender, version string, verified bool, ids ...string) *event.Event {
		return &event.Event{SequenceID: "11", SenderID: sender, Verified: verified,
			GroupChange: &event.GroupChange{Kind: event.GroupMembersAdded, KeyVersion: version, MemberIDs: ids}}
	}
	for name, c := range map[string]struct {
		add     *event.Event
		settled bool
	}{
		"its add":        {add("1", "500", true, "9"), true},
		"another sender": {add("2", "500", true, "9"), false},
		"another key":    {add("1", "501", true, "9"), false},
		"another member": {add("1", "500", true, "8"), false},
		"unverified add": {add("1", "500", false, "9"), false},
		"no key version": {add("1", "", true, "9"), false},
	} {
		x := exposures{cid: "g1"}
		x.judge(kc, []string{"1", "2"})
		x.judge(c.add, []string{"1", "2", "9"})
		if got := len(x.found()) == 0; got != c.settled {
			t.Errorf("%s: settled %v, want %v (%v)", name, got, c.settled, x.found())
		}
	}
}
