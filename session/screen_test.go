package session

import (
	"errors"
	"strings"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/session/event"
)

func TestScreenEnvelope(t *testing.T) {
	for _, tc := range []struct {
		name          string
		seq, prev, id string
		bad           bool
	}{
		{"ordinary", "2124353525809938433", "2124353525809938432", "0b7c1a52-1111-4c4c-8888-000000000010", false},
		{"19 digits max", "9999999999999999999", "", "m", false},
		{"20 digits", "10000000000000000000", "", "m", true},
		{"leading zero", "0123", "", "m", true},
		{"huge previous", "5", strings.Repeat("9", 5000), "m", true},
		{"signed prev", "5", "-4", "m", true},
		{"id 256 bytes", "5", "4", strings.Repeat("x", 256), false},
		{"id 257 bytes", "5", "4", strings.Repeat("x", 257), true},
		{"id with NUL", "5", "4", "ab\x00cd", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := &event.Event{SequenceID: tc.seq, PreviousSequenceID: tc.prev, MessageID: tc.id, Verified: true, Message: &event.Message{}}
			screenEnvelope(ev)
			if got := errors.Is(ev.Err, xchat.ErrMalformed); got != tc.bad {
				t.Fatalf("malformed %v, want %v (%v)", got, tc.bad, ev.Err)
			}
			if tc.bad && (ev.Verified || ev.Message != nil) {
				t.Fatalf("rejected event still verified %v / content %v", ev.Verified, ev.Message)
			}
		})
	}
}

func TestRosterAuthorise(t *testing.T) {
	held := rosterRec{Base: baseCreate, Members: []string{"1", "2", "3"}, Admins: []string{"1"}, Seq: "10", Creator: "1", CreateMID: "c"}
	env := rosterEnv{self: "2", cid: "g1", paired: func(string, string) bool { return true }, createdIn: func(string) string { return "" }}
	for _, tc := range []struct {
		name   string
		sender string
		g      event.GroupChange
		want   error
	}{
		{"admin adds", "1", event.GroupChange{Kind: event.GroupMembersAdded, MemberIDs: []string{"4"}, CurrentMemberIDs: []string{"1", "2", "3"}, CurrentAdminIDs: []string{"1"}}, nil},
		{"member adds", "2", event.GroupChange{Kind: event.GroupMembersAdded, MemberIDs: []string{"4"}, CurrentMemberIDs: []string{"1", "2", "3"}, CurrentAdminIDs: []string{"1"}}, xchat.ErrNotAuthorized},
		{"outsider adds self", "9", event.GroupChange{Kind: event.GroupMembersAdded, MemberIDs: []string{"9"}}, xchat.ErrNotMember},
		{"outsider retitles", "9", event.GroupChange{Kind: event.GroupTitleChanged}, xchat.ErrNotMember},
		{"member leaves", "3", event.GroupChange{Kind: event.GroupMembersRemoved, MemberIDs: []string{"3"}}, nil},
		{"member removes other", "3", event.GroupChange{Kind: event.GroupMembersRemoved, MemberIDs: []string{"2"}}, xchat.ErrNotAuthorized},
		{"admin removes other", "1", event.GroupChange{Kind: event.GroupMembersRemoved, MemberIDs: []string{"2"}}, nil},
		{"member makes self admin", "2", event.GroupChange{Kind: event.GroupAdminsAdded, AdminIDs: []string{"2"}}, xchat.ErrNotAuthorized},
		{"second create", "1", event.GroupChange{Kind: event.GroupCreated, MemberIDs: []string{"1", "9"}}, xchat.ErrRosterDivergence},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := held.clone()
			ev := &event.Event{SequenceID: "11", MessageID: "m", SenderID: tc.sender, Verified: true, Kind: event.KindGroupChange, GroupChange: &tc.g}
			err := r.step(env, ev).err
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("step: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestGroupNewMemberAcrossPages syncs, newest page first two events a
// page, a group where a member added on an older page speaks on newer
// pages: the key the adding member wrapped to the newcomer vouches for
// them before the roster change itself is read.
func TestGroupNewMemberAcrossPages(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, carol, dave := n.user("alice"), n.user("carol"), n.user("dave")
	bob := n.user("bob", WithPageSize(2))
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.e.SendText(ctx, g, "hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.Sync(ctx, g, nil); err != nil {
		t.Fatal(err)
	}
	if err := alice.e.AddMembers(ctx, g, dave.id); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"d1", "d2", "d3", "d4", "d5"} {
		if _, err := dave.e.SendText(ctx, g, s); err != nil {
			t.Fatal(err)
		}
	}
	res, err := bob.e.Sync(ctx, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, en := range res.Entries {
		if en.Error != "" {
			t.Errorf("entry %s (%s) failed: %s", en.SequenceID, en.Type, en.Error)
		}
		if en.Verified && en.Type == event.TypeMessage {
			got[en.Text] = true
		}
	}
	if len(got) != 5 {
		t.Fatalf("verified texts %v", got)
	}
	c := testutil.Must(bob.e.Conversation(ctx, g))(t)
	if len(c.Members) != 4 {
		t.Fatalf("roster %v", c.Members)
	}
}
