package backup_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/sessiontest"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/backup"
)

// TestBackupRestore: set up a backup, restore it on a fresh store with the
// PIN, and read the conversation history the old device had.
func TestBackupRestore(t *testing.T) {
	ctx := sessiontest.Ctx(t)
	n := newNet(t, 20)
	alice, bob := n.User("alice"), n.User("bob")
	if _, err := alice.E.SendText(ctx, bob.ID, "before the backup"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.E.SendText(ctx, alice.ID, "hi alice"); err != nil {
		t.Fatal(err)
	}
	if err := backup.Setup(ctx, alice.E, alice.Client, []byte("1234"), testBackup); !errors.Is(err, juicebox.ErrWeakPIN) {
		t.Fatalf("sequential PIN: %v", err)
	}
	if err := backup.Setup(ctx, alice.E, alice.Client, []byte("2580"), testBackup); err != nil {
		t.Fatal(err)
	}
	st, err := backup.Status(ctx, alice.E, alice.Client, testBackup)
	if err != nil || !st.Registered || st.Locked || st.SetUpAt.IsZero() || st.MaxGuessCount != 20 || len(st.Realms) != 3 {
		t.Fatalf("status %+v %v", st, err)
	}

	// A wrong PIN costs one guess and stores nothing.
	store, _, err := restore(ctx, n, alice, "1111")
	var pe *juicebox.InvalidPinError
	if !errors.As(err, &pe) || pe.GuessesRemaining != 19 {
		t.Fatalf("wrong PIN: %v", err)
	}
	if _, err := store.Identity(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("a failed restore stored an identity: %v", err)
	}

	store, r, err := restore(ctx, n, alice, "2580")
	if err != nil {
		t.Fatal(err)
	}
	fp := testutil.Must(alice.E.Fingerprint())(t)
	if r.Fingerprint != fp || r.PublicKeyVersion != alice.E.PublicKeyVersion() || r.UserID != alice.ID {
		t.Fatalf("restored %+v, want fingerprint %s version %s", r, fp, alice.E.PublicKeyVersion())
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(n.Client(alice.Token)))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Sync(ctx, bob.ID, nil); err != nil {
		t.Fatal(err)
	}
	h, err := e.History(ctx, bob.ID, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(h); !slices.Equal(got, []string{"before the backup", "hi alice"}) {
		t.Fatalf("restored device reads %q", got)
	}
	// The restored device sends under the same keys.
	if _, err := e.SendText(ctx, bob.ID, "from the new device"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.E.Sync(ctx, alice.ID, nil); err != nil {
		t.Fatal(err)
	}
	bh := testutil.Must(bob.E.History(ctx, alice.ID, "", 0))(t)
	if got := texts(bh); got[len(got)-1] != "from the new device" {
		t.Fatalf("bob reads %q", got)
	}
	// A store that already holds an account is refused.
	if _, err := backup.Restore(ctx, store, n.Client(alice.Token), alice.ID, []byte("2580"), testBackup); !errors.Is(err, xchat.ErrAccountExists) {
		t.Fatalf("restore into an existing account: %v", err)
	}
}

func TestBackupChangePINAndDelete(t *testing.T) {
	ctx := sessiontest.Ctx(t)
	n := newNet(t, 20)
	alice := n.User("alice")
	if err := backup.Setup(ctx, alice.E, alice.Client, []byte("2580"), testBackup); err != nil {
		t.Fatal(err)
	}
	var pe *juicebox.InvalidPinError
	if err := backup.ChangePIN(ctx, alice.E, alice.Client, []byte("0000"), []byte("1357"), testBackup); !errors.As(err, &pe) || pe.GuessesRemaining != 19 {
		t.Fatalf("change with a wrong old PIN: %v", err)
	}
	if err := backup.ChangePIN(ctx, alice.E, alice.Client, []byte("2580"), []byte("4444"), testBackup); !errors.Is(err, juicebox.ErrWeakPIN) {
		t.Fatalf("weak new PIN: %v", err)
	}
	if err := backup.ChangePIN(ctx, alice.E, alice.Client, []byte("2580"), []byte("1357"), testBackup); err != nil {
		t.Fatal(err)
	}
	if _, _, err := restore(ctx, n, alice, "2580"); !errors.As(err, &pe) {
		t.Fatalf("old PIN after change: %v", err)
	}
	if _, _, err := restore(ctx, n, alice, "1357"); err != nil {
		t.Fatalf("new PIN: %v", err)
	}
	if err := backup.Delete(ctx, alice.E, alice.Client, testBackup); err != nil {
		t.Fatal(err)
	}
	if _, _, err := restore(ctx, n, alice, "1357"); !errors.Is(err, juicebox.ErrNotRegistered) {
		t.Fatalf("restore after delete: %v", err)
	}
	st, err := backup.Status(ctx, alice.E, alice.Client, testBackup)
	if err != nil || st.Registered || !st.SetUpAt.IsZero() {
		t.Fatalf("status after delete: %+v %v", st, err)
	}
}

// TestBackupLockout: the guess limit locks the backup; the right PIN no
// longer helps.
func TestBackupLockout(t *testing.T) {
	ctx := sessiontest.Ctx(t)
	n := newNet(t, 20)
	alice := n.User("alice")
	if err := backup.Setup(ctx, alice.E, alice.Client, []byte("2580"), testBackup); err != nil {
		t.Fatal(err)
	}
	for i := 19; i >= 0; i-- {
		_, _, err := restore(ctx, n, alice, "9999")
		var pe *juicebox.InvalidPinError
		if !errors.As(err, &pe) || int(pe.GuessesRemaining) != i {
			t.Fatalf("wrong PIN %d: %v", 20-i, err)
		}
	}
	if _, _, err := restore(ctx, n, alice, "2580"); !errors.Is(err, juicebox.ErrNoGuesses) {
		t.Fatalf("right PIN after 20 wrong: %v", err)
	}
	st, err := backup.Status(ctx, alice.E, alice.Client, testBackup)
	if err != nil || !st.Locked || st.Registered {
		t.Fatalf("status %+v %v", st, err)
	}
}

// TestBackupKeyMismatch: a backup of keys the account no longer uses is
// refused before anything is stored, and an old device cannot back up
// superseded keys.
func TestBackupKeyMismatch(t *testing.T) {
	ctx := sessiontest.Ctx(t)
	n := newNet(t, 20)
	alice := n.User("alice")
	if err := backup.Setup(ctx, alice.E, alice.Client, []byte("2580"), testBackup); err != nil {
		t.Fatal(err)
	}
	// Alice reinstalls without restoring: new keys are registered.
	store := keystore.NewMemory()
	if err := session.CreateAccount(ctx, store, alice.ID, nil); err != nil {
		t.Fatal(err)
	}
	e2, err := session.Open(ctx, store, session.NewAPIServer(n.Client(alice.Token)))
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	v2, err := e2.Register(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fresh, _, err := restore(ctx, n, alice, "2580")
	if !errors.Is(err, backup.ErrKeyMismatch) {
		t.Fatalf("restore of superseded keys: %v", err)
	}
	if _, err := fresh.Identity(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatal("mismatching keys were stored")
	}
	if err := backup.Setup(ctx, alice.E, alice.Client, []byte("2580"), testBackup); !errors.Is(err, backup.ErrKeysSuperseded) {
		t.Fatalf("backup from the old device: %v", err)
	}
	v, fp, err := backup.RegisteredKeys(ctx, n.Client(alice.Token), alice.ID)
	want := testutil.Must(e2.Fingerprint())(t)
	if err != nil || v != v2 || fp != want {
		t.Fatalf("RegisteredKeys: %s %s %v", v, fp, err)
	}
	bob, _ := n.Provision("bob")
	if _, _, err := backup.RegisteredKeys(ctx, n.Client(alice.Token), bob); !errors.Is(err, backup.ErrNoRegisteredKeys) {
		t.Fatalf("RegisteredKeys of a user without keys: %v", err)
	}
}

// TestBackupNeedsRegistration: no backup of unpublished keys, and no
// backup workflow without a server.
func TestBackupNeedsRegistration(t *testing.T) {
	ctx := sessiontest.Ctx(t)
	n := newNet(t, 20)
	id, token := n.Provision("carol")
	store := keystore.NewMemory()
	if err := session.CreateAccount(ctx, store, id, nil); err != nil {
		t.Fatal(err)
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(n.Client(token)))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := backup.Setup(ctx, e, n.Client(token), []byte("2580"), testBackup); !errors.Is(err, xchat.ErrNotRegistered) {
		t.Fatalf("unregistered: %v", err)
	}
	if _, _, err := restore(ctx, n, &sessiontest.User{ID: id, Token: token}, "2580"); !errors.Is(err, backup.ErrNoRegisteredKeys) {
		t.Fatalf("restore of an account without keys: %v", err)
	}
	off, err := session.Open(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if _, err := off.Register(ctx); !errors.Is(err, xchat.ErrOffline) {
		t.Fatalf("offline: %v", err)
	}
	if err := backup.Delete(ctx, off, n.Client(token)); !errors.Is(err, xchat.ErrNotRegistered) && !errors.Is(err, xchat.ErrOffline) {
		t.Fatalf("offline delete: %v", err)
	}
	// Without opting in, the client refuses the emulator's test-only
	// PIN stretch: a server cannot weaken it.
	if _, _, err := backup.RegisteredKeys(ctx, n.Client(token), id); !errors.Is(err, backup.ErrNoRegisteredKeys) {
		t.Fatal(err)
	}
	u := n.User("dave")
	if err := backup.Setup(ctx, u.E, u.Client, []byte("2580")); !errors.Is(err, juicebox.ErrConfig) {
		t.Fatalf("FastInsecure accepted by default: %v", err)
	}
}
