package session

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
)

// hookServer runs before, once, ahead of the first key change it forwards.
type hookServer struct {
	Server
	once   sync.Once
	before func()
	posts  int
}

func (h *hookServer) AddConversationKeys(ctx context.Context, cid string, req *api.AddConversationKeysRequest) (*api.AddConversationKeysResponse, error) {
	h.once.Do(h.before)
	h.posts++
	return h.Server.AddConversationKeys(ctx, cid, req)
}

func (h *hookServer) AddGroupMembers(ctx context.Context, cid string, req *api.AddChatGroupMembersRequest) (*api.AddChatGroupMembersResponse, error) {
	h.once.Do(h.before)
	h.posts++
	return h.Server.AddGroupMembers(ctx, cid, req)
}

// rosterGroup creates a group of alice and bob, in which bob then adds
// dave without alice syncing.
func rosterGroup(t *testing.T, n *testNet, alice *testUser) (gid string, bob, dave *testUser) {
	t.Helper()
	ctx := ctxT(t)
	bob, dave = n.user("bob"), n.user("dave")
	gid, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id}, Admins: []string{alice.id, bob.id}, Title: "Roster"})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if _, err := bob.e.Sync(ctx, gid, nil); err != nil {
		t.Fatalf("bob sync: %v", err)
	}
	if err := bob.e.AddMembers(ctx, gid, dave.id); err != nil {
		t.Fatalf("bob adds dave: %v", err)
	}
	return gid, bob, dave
}

// checkDaveReads has dave sync gid and read text, sent under version.
func checkDaveReads(t *testing.T, dave *testUser, gid, version, text string) {
	t.Helper()
	ctx := ctxT(t)
	if _, err := dave.e.Sync(ctx, gid, nil); err != nil {
		t.Fatalf("dave sync: %v", err)
	}
	c, err := dave.e.Conversation(ctx, gid)
	if err != nil {
		t.Fatal(err)
	}
	if version != "" && c.KeyVersion != version {
		t.Fatalf("dave holds key version %s, want %s", c.KeyVersion, version)
	}
	h := testutil.Must(dave.e.History(ctx, gid, "", 0))(t)
	if !slices.Contains(texts(h), text) {
		t.Fatalf("dave cannot read %q: %q", text, texts(h))
	}
}

// A member who has not synced since someone else added a member rotates:
// the engine syncs the signed roster first and wraps the key to the new
// member too.
func TestRotateSyncsRosterFirst(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	gid, _, dave := rosterGroup(t, n, alice)
	v, err := alice.e.Rotate(ctx, gid)
	if err != nil {
		t.Fatalf("Rotate with a stale roster: %v", err)
	}
	c := testutil.Must(alice.e.Conversation(ctx, gid))(t)
	if !slices.Contains(c.Members, dave.id) {
		t.Fatalf("alice's roster after rotate: %v", c.Members)
	}
	if _, err := alice.e.SendText(ctx, gid, "after rotate"); err != nil {
		t.Fatal(err)
	}
	checkDaveReads(t, dave, gid, v, "after rotate")
}

// AddMembers with a stale roster syncs first, so the member added
// elsewhere keeps the key and the signed current roster is right.
func TestAddMembersSyncsRosterFirst(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	gid, _, dave := rosterGroup(t, n, alice)
	erin := n.user("erin")
	if err := alice.e.AddMembers(ctx, gid, erin.id); err != nil {
		t.Fatalf("AddMembers with a stale roster: %v", err)
	}
	c := testutil.Must(alice.e.Conversation(ctx, gid))(t)
	if !slices.Contains(c.Members, dave.id) || !slices.Contains(c.Members, erin.id) || len(c.Members) != 4 {
		t.Fatalf("alice's roster after add: %v", c.Members)
	}
	if _, err := alice.e.SendText(ctx, gid, "hello erin"); err != nil {
		t.Fatal(err)
	}
	checkDaveReads(t, dave, gid, c.KeyVersion, "hello erin")
	checkDaveReads(t, erin, gid, c.KeyVersion, "hello erin")
}

// The roster changes between the engine's sync and its post: the server's
// "no conversation key for participant" makes the engine sync and retry
// once.
func TestRotateRetriesAfterRosterRace(t *testing.T) {
	for _, op := range []string{"rotate", "add"} {
		t.Run(op, func(t *testing.T) {
			ctx := ctxT(t)
			n := newNet(t)
			var bob, dave, erin *testUser
			var gid string
			hook := &hookServer{}
			alice := n.userWith("alice", func(s Server) Server { hook.Server = s; return hook })
			bob, dave = n.user("bob"), n.user("dave")
			erin = n.user("erin")
			hook.before = func() {
				if _, err := bob.e.Sync(ctx, gid, nil); err != nil {
					t.Errorf("bob sync: %v", err)
				}
				if err := bob.e.AddMembers(ctx, gid, dave.id); err != nil {
					t.Errorf("bob adds dave: %v", err)
				}
			}
			var err error
			gid, err = alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id}, Admins: []string{alice.id, bob.id}})
			if err != nil {
				t.Fatal(err)
			}
			hook.once = sync.Once{} // CreateGroup posted no key change; arm again to be sure
			hook.posts = 0
			switch op {
			case "rotate":
				_, err = alice.e.Rotate(ctx, gid)
			case "add":
				err = alice.e.AddMembers(ctx, gid, erin.id)
			}
			if err != nil {
				t.Fatalf("%s across a roster change: %v", op, err)
			}
			if hook.posts != 2 {
				t.Fatalf("%d posts, want the rejected one and one retry", hook.posts)
			}
			c := testutil.Must(alice.e.Conversation(ctx, gid))(t)
			if _, err := alice.e.SendText(ctx, gid, "raced"); err != nil {
				t.Fatal(err)
			}
			checkDaveReads(t, dave, gid, c.KeyVersion, "raced")
		})
	}
}

// rejectOnceServer answers the first key change with the server's missing
// participant problem and counts event fetches (syncs).
type rejectOnceServer struct {
	Server
	posts, fetches int
}

func (r *rejectOnceServer) AddConversationKeys(ctx context.Context, cid string, req *api.AddConversationKeysRequest) (*api.AddConversationKeysResponse, error) {
	r.posts++
	if r.posts == 1 {
		return nil, &api.Error{Op: "addConversationKeys", StatusCode: 400,
			Problem: api.Problem{Detail: failMissingParticipant + " 42.", Parameter: "conversation_participant_keys"}}
	}
	return r.Server.AddConversationKeys(ctx, cid, req)
}

func (r *rejectOnceServer) GetConversationEvents(ctx context.Context, cid string, max int, token string) (*api.GetChatConversationEventsResponse, error) {
	r.fetches++
	return r.Server.GetConversationEvents(ctx, cid, max, token)
}

// A missing-participant rejection makes the engine sync again and retry
// exactly once; a second rejection is returned.
func TestRotateMissingParticipantRetry(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	rs := &rejectOnceServer{}
	alice := n.userWith("alice", func(s Server) Server { rs.Server = s; return rs })
	bob := n.user("bob")
	gid, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id}})
	if err != nil {
		t.Fatal(err)
	}
	rs.fetches = 0
	if _, err := alice.e.Rotate(ctx, gid); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if rs.posts != 2 || rs.fetches != 2 {
		t.Fatalf("posts %d, syncs %d; want 2 and 2 (sync, rejected post, sync, retry)", rs.posts, rs.fetches)
	}
	// A rejection on the retry too is not retried again.
	rs.posts, rs.fetches = 0, 0
	rs2 := &rejectOnceServer{Server: rs.Server}
	alice.e.server = &alwaysReject{rs2}
	if _, err := alice.e.Rotate(ctx, gid); !rejectedFor(err, failMissingParticipant, "") {
		t.Fatalf("Rotate rejected twice: %v", err)
	}
	if rs2.posts != 2 {
		t.Fatalf("%d posts after two rejections, want 2", rs2.posts)
	}
}

// alwaysReject rejects every key change with the missing-participant problem.
type alwaysReject struct{ *rejectOnceServer }

func (a *alwaysReject) AddConversationKeys(ctx context.Context, cid string, req *api.AddConversationKeysRequest) (*api.AddConversationKeysResponse, error) {
	a.posts++
	return nil, &api.Error{Op: "addConversationKeys", StatusCode: 400, Problem: api.Problem{Detail: failMissingParticipant + " 42."}}
}
