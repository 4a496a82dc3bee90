package session

import (
	"errors"
	"strings"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/session/event"
)

// Group changes in the history carry the opened title, or none when this
// account cannot open it: never the ciphertext the wire carries.
func TestGroupChangeHistoryTitle(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob, carol := n.user("alice"), n.user("bob"), n.user("carol")
	gid, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id}, Title: "Team"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.Sync(ctx, gid, nil); err != nil { // bob holds the first key
		t.Fatal(err)
	}
	if err := alice.e.AddMembers(ctx, gid, carol.id); err != nil {
		t.Fatal(err)
	}
	groupTitles := func(u *testUser, entries []event.Entry) map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, en := range entries {
			if en.Group == nil {
				continue
			}
			if en.Group.Title != "" && en.Group.Title != "Team" {
				t.Errorf("%s: %s entry shows title %q", u.name, en.Group.Kind, en.Group.Title)
			}
			out[en.Group.Kind.String()] = en.Group.Title
		}
		return out
	}
	for _, u := range []*testUser{alice, bob, carol} {
		res, err := u.e.Sync(ctx, gid, nil)
		if err != nil {
			t.Fatalf("%s sync: %v", u.name, err)
		}
		fromSync := groupTitles(u, res.Entries)
		h, err := u.e.History(ctx, gid, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		fromHistory := groupTitles(u, h)
		if len(fromHistory) == 0 {
			t.Fatalf("%s: no group change in the history", u.name)
		}
		for k, v := range fromSync {
			if fromHistory[k] != v {
				t.Errorf("%s: %s title %q in the sync result, %q in the history", u.name, k, v, fromHistory[k])
			}
		}
		if u == carol {
			// Carol never held the key the roster snapshot's title is
			// sealed under: the entry omits it.
			if v, ok := fromHistory["members_added"]; !ok || v != "" {
				t.Errorf("carol: members_added title %q (present %v), want it omitted", v, ok)
			}
		} else {
			// Alice and Bob hold the key the create sealed the title under.
			for k, v := range fromHistory {
				if v != "Team" {
					t.Errorf("%s: %s entry title %q, want %q", u.name, k, v, "Team")
				}
			}
		}
		c := testutil.Must(u.e.Conversation(ctx, gid))(t)
		if c.Title != "Team" {
			t.Errorf("%s: conversation title %q", u.name, c.Title)
		}
	}
}

// TestGroupSettingsBound: the longest title whose sealed form fits
// maxGroupSettingBytes is signed and shown to members; one byte more is
// refused before anything is sent (ErrInvalidArgument), as is a longer
// avatar URL.
func TestGroupSettingsBound(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")
	longest := maxGroupSettingBytes/4*3 - crypto.SecretboxOverhead
	title := strings.Repeat("t", longest)
	gid, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id}, Title: title})
	if err != nil {
		t.Fatalf("a title of %d bytes: %v", longest, err)
	}
	if _, err := bob.e.Sync(ctx, gid, nil); err != nil {
		t.Fatal(err)
	}
	c, err := bob.e.Conversation(ctx, gid)
	if err != nil || c.Title != title {
		t.Fatalf("bob's record of the group: title of %d bytes, %v", len(c.Title), err)
	}
	for _, opts := range []GroupOptions{
		{Members: []string{bob.id}, Title: title + "t"},
		{Members: []string{bob.id}, AvatarURL: "https://example.com/" + strings.Repeat("a", maxGroupSettingBytes)},
	} {
		if _, err := alice.e.CreateGroup(ctx, opts); !errors.Is(err, xchat.ErrInvalidArgument) {
			t.Fatalf("a group create past %d bytes: %v", maxGroupSettingBytes, err)
		}
	}
	t.Logf("a title of %d bytes (%d sealed) is kept; one more byte is refused", longest, maxGroupSettingBytes)
}
