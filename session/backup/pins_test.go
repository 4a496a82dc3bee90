package backup_test

import (
	"errors"
	"testing"

	"github.com/xchat-go/xchat/internal/sessiontest"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/backup"
)

// TestBackupRealmPins: setup and restore go through when the emulator's
// juicebox_config matches the pins; a pin the configuration does not
// satisfy (as when the server replaced a hardware realm's key) refuses
// both before any realm is asked: nothing is registered, no guess is spent.
func TestBackupRealmPins(t *testing.T) {
	ctx := sessiontest.Ctx(t)
	n := newNet(t, 20)
	alice := n.User("alice")
	set := n.Emu.Juicebox()
	var pins, wrong []juicebox.RealmPin
	for _, r := range set.Realms() {
		pins = append(pins, juicebox.RealmPin{ID: r.ID(), PublicKey: r.PublicKey()})
		pk := r.PublicKey()
		if r.Name() == "realm-east" {
			pk = set.Realm("realm-west").PublicKey()
		}
		wrong = append(wrong, juicebox.RealmPin{ID: r.ID(), PublicKey: pk})
	}
	registered := func() int {
		k := 0
		for _, r := range set.Realms() {
			if r.Record(set.Tenant(), alice.ID).NumGuesses != 0 {
				k++
			}
		}
		return k
	}

	err := backup.Setup(ctx, alice.E, alice.Client, []byte("2580"), testBackup, backup.WithRealmPins(wrong...))
	if !errors.Is(err, juicebox.ErrRealmNotPinned) {
		t.Fatalf("setup against other pins: %v, want ErrRealmNotPinned", err)
	}
	if k := registered(); k != 0 {
		t.Fatalf("a refused setup registered on %d realms", k)
	}

	if err := backup.Setup(ctx, alice.E, alice.Client, []byte("2580"), testBackup, backup.WithRealmPins(pins...)); err != nil {
		t.Fatal(err)
	}
	if k := registered(); k != 3 {
		t.Fatalf("setup registered on %d realms, want 3", k)
	}
	_, err = backup.Restore(ctx, keystore.NewMemory(), n.Client(alice.Token), alice.ID, []byte("2580"), testBackup, backup.WithRealmPins(wrong...))
	if !errors.Is(err, juicebox.ErrRealmNotPinned) {
		t.Fatalf("restore against other pins: %v, want ErrRealmNotPinned", err)
	}
	for _, r := range set.Realms() {
		if rec := r.Record(set.Tenant(), alice.ID); rec.GuessCount != 0 {
			t.Fatalf("a refused restore reached %s: %+v", r.Name(), rec)
		}
	}
	r, err := backup.Restore(ctx, keystore.NewMemory(), n.Client(alice.Token), alice.ID, []byte("2580"), testBackup, backup.WithRealmPins(pins...))
	if err != nil {
		t.Fatal(err)
	}
	if r.UserID != alice.ID {
		t.Fatalf("restored %+v", r)
	}
}
