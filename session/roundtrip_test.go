package session

import (
	"errors"
	"slices"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/testutil"
)

func TestOneToOneRoundTrip(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")

	sent, err := alice.e.SendText(ctx, bob.id, "hello bob")
	if err != nil {
		t.Fatalf("SendText: %v", err)
	}
	cid := testutil.Must(oneToOneID(alice.id, bob.id))(t)
	if sent.ConversationID != cid || sent.SequenceID == "" || sent.Entry == nil || sent.Entry.Text != "hello bob" {
		t.Fatalf("Sent = %+v", sent)
	}

	res, err := bob.e.Sync(ctx, alice.id, nil)
	if err != nil {
		t.Fatalf("bob Sync: %v", err)
	}
	if got := texts(res.Entries); !slices.Equal(got, []string{"hello bob"}) {
		t.Fatalf("bob got %q; entries %+v", got, res.Entries)
	}
	if _, err := bob.e.SendText(ctx, cid, "hi alice"); err != nil {
		t.Fatalf("bob SendText: %v", err)
	}
	res, err = alice.e.Sync(ctx, api.ConversationPathID(cid), nil)
	if err != nil {
		t.Fatalf("alice Sync: %v", err)
	}
	hist, err := alice.e.History(ctx, cid, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(hist); !slices.Equal(got, []string{"hello bob", "hi alice"}) {
		t.Fatalf("alice history %q (sync %+v)", got, res)
	}
	// Both sides hold the same key version.
	ca, err := alice.e.Conversation(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := bob.e.Conversation(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	if ca.KeyVersion == "" || ca.KeyVersion != cb.KeyVersion {
		t.Fatalf("key versions differ: %q vs %q", ca.KeyVersion, cb.KeyVersion)
	}
	// Syncing again yields nothing new.
	res, err = bob.e.Sync(ctx, cid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 0 {
		t.Fatalf("second sync returned %d entries", len(res.Entries))
	}
}

func TestGroupRoundTrip(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob, carol := n.user("alice"), n.user("bob"), n.user("carol")

	gid, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id}, Title: "Team"})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if !IsGroup(gid) {
		t.Fatalf("group id %q", gid)
	}
	if _, err := alice.e.SendText(ctx, gid, "welcome bob"); err != nil {
		t.Fatalf("send: %v", err)
	}
	res, err := bob.e.Sync(ctx, gid, nil)
	if err != nil {
		t.Fatalf("bob sync: %v", err)
	}
	if got := texts(res.Entries); !slices.Equal(got, []string{"welcome bob"}) {
		t.Fatalf("bob got %q: %+v", got, res.Entries)
	}
	cb, err := bob.e.Conversation(ctx, gid)
	if err != nil {
		t.Fatal(err)
	}
	if cb.Kind != kindGroup || !slices.Equal(cb.Members, normaliseIDs([]string{alice.id, bob.id})) || cb.Title != "Team" {
		t.Fatalf("bob's view of the group: %+v", cb)
	}
	before := cb.KeyVersion

	if err := alice.e.AddMembers(ctx, gid, carol.id); err != nil {
		t.Fatalf("AddMembers: %v", err)
	}
	if _, err := alice.e.SendText(ctx, gid, "welcome carol"); err != nil {
		t.Fatalf("send: %v", err)
	}
	res, err = carol.e.Sync(ctx, gid, nil)
	if err != nil {
		t.Fatalf("carol sync: %v", err)
	}
	if got := texts(res.Entries); !slices.Contains(got, "welcome carol") {
		t.Fatalf("carol got %q: %+v", got, res.Entries)
	}
	if slices.Contains(texts(res.Entries), "welcome bob") {
		t.Fatalf("carol read a message from before she joined")
	}
	if _, err := bob.e.Sync(ctx, gid, nil); err != nil {
		t.Fatalf("bob sync: %v", err)
	}
	cb = testutil.Must(bob.e.Conversation(ctx, gid))(t)
	if !decimal.Less(before, cb.KeyVersion) || len(cb.Members) != 3 {
		t.Fatalf("after add: %+v (before %s)", cb, before)
	}
	// Carol answers under the rotated key; everyone reads it.
	if _, err := carol.e.SendText(ctx, gid, "thanks"); err != nil {
		t.Fatalf("carol send: %v", err)
	}
	for _, u := range []*testUser{alice, bob} {
		if _, err := u.e.Sync(ctx, gid, nil); err != nil {
			t.Fatal(err)
		}
		h := testutil.Must(u.e.History(ctx, gid, "", 0))(t)
		if got := texts(h); !slices.Contains(got, "thanks") {
			t.Fatalf("%s history %q", u.name, got)
		}
	}
	// Rotation on demand by a member other than the creator.
	v, err := bob.e.Rotate(ctx, gid)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if _, err := bob.e.SendText(ctx, gid, "rotated"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*testUser{alice, carol} {
		if _, err := u.e.Sync(ctx, gid, nil); err != nil {
			t.Fatal(err)
		}
		c := testutil.Must(u.e.Conversation(ctx, gid))(t)
		if c.KeyVersion != v {
			t.Fatalf("%s key version %s, want %s", u.name, c.KeyVersion, v)
		}
		h := testutil.Must(u.e.History(ctx, gid, "", 0))(t)
		if got := texts(h); got[len(got)-1] != "rotated" {
			t.Fatalf("%s history %q", u.name, got)
		}
	}
}

func TestConversationListAndSyncAll(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob, carol := n.user("alice"), n.user("bob"), n.user("carol")
	gid, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}, Title: "Trio"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.e.SendText(ctx, gid, "hi all"); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.e.SendText(ctx, bob.id, "psst"); err != nil {
		t.Fatal(err)
	}
	list, err := bob.e.RefreshConversations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("bob's conversations %+v", list)
	}
	results, err := bob.e.SyncAll(ctx)
	if err != nil || len(results) != 2 {
		t.Fatalf("SyncAll %+v, %v", results, err)
	}
	var all []string
	for _, r := range results {
		all = append(all, texts(r.Entries)...)
	}
	slices.Sort(all)
	if !slices.Equal(all, []string{"hi all", "psst"}) {
		t.Fatalf("texts %q", all)
	}
	c, err := bob.e.Conversation(ctx, gid)
	if err != nil || c.Title != "Trio" || len(c.Admins) != 1 || c.Admins[0] != alice.id {
		t.Fatalf("group %+v, %v", c, err)
	}
	// Offline engines still read what is stored.
	off, err := Open(ctx, bob.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := off.History(ctx, gid, "", 0); err != nil || len(texts(h)) != 1 {
		t.Fatalf("offline history %+v, %v", h, err)
	}
	if _, err := off.Sync(ctx, gid, nil); !errors.Is(err, xchat.ErrOffline) {
		t.Fatalf("offline sync: %v", err)
	}
}

// A member who has not synced since someone else rotated the key sends
// anyway: the stale send is rejected, the engine catches up and resends.
func TestSendAfterUnseenRotation(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")
	first, err := alice.e.SendText(ctx, bob.id, "one")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.Sync(ctx, alice.id, nil); err != nil {
		t.Fatal(err)
	}
	v, err := alice.e.Rotate(ctx, first.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	sent, err := bob.e.SendText(ctx, alice.id, "two")
	if err != nil {
		t.Fatalf("send after unseen rotation: %v", err)
	}
	if sent.KeyVersion != v {
		t.Fatalf("sent under %s, want %s", sent.KeyVersion, v)
	}
	if _, err := alice.e.Sync(ctx, bob.id, nil); err != nil {
		t.Fatal(err)
	}
	h := testutil.Must(alice.e.History(ctx, bob.id, "", 0))(t)
	if got := texts(h); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("alice history %q", got)
	}
}
