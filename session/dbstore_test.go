package session

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
)

// TestDiskStoreRoundTrip runs a conversation, a group and a reopen against
// the bbolt-backed store (nested transactions would deadlock here).
func TestDiskStoreRoundTrip(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	id, token := n.provision("bob")
	path := filepath.Join(t.TempDir(), "bob.db")
	var key [32]byte
	key[0] = 7
	open := func() (*Engine, *boltstore.DB) {
		db, err := boltstore.Open(path, keystore.WithKey(key))
		if err != nil {
			t.Fatal(err)
		}
		e, err := Open(ctx, db, NewAPIServer(n.client(token)))
		if err != nil {
			t.Fatal(err)
		}
		return e, db
	}
	db, err := boltstore.Open(path, keystore.WithKey(key))
	if err != nil {
		t.Fatal(err)
	}
	if err := CreateAccount(ctx, db, id, nil); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	bob, db := open()
	if _, err := bob.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.e.SendText(ctx, id, "to disk"); err != nil {
		t.Fatal(err)
	}
	gid, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{id}, Title: "Disk"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.e.SendText(ctx, gid, "group on disk"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.SendText(ctx, alice.id, "reply from disk"); err != nil {
		t.Fatal(err)
	}
	_ = bob.Close()
	_ = db.Close()

	bob, db = open()
	defer db.Close()
	h, err := bob.History(ctx, alice.id, "", 0)
	if err != nil || !slices.Equal(texts(h), []string{"to disk", "reply from disk"}) {
		t.Fatalf("reopened history %q, %v", texts(h), err)
	}
	c, err := bob.Conversation(ctx, gid)
	if err != nil || c.Title != "Disk" {
		t.Fatalf("reopened group %+v, %v", c, err)
	}
	if _, err := bob.SendText(ctx, gid, "still works"); err != nil {
		t.Fatal(err)
	}
}
