package session

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/emulator/realm"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/keystore"
)

// newBackupNet is an emulator whose realms advertise the fast (test-only)
// PIN stretch, with maxGuesses guesses.
func newBackupNet(t testing.TB, maxGuesses uint16) *testNet {
	t.Helper()
	emu := emulator.New(emulator.WithJuiceboxOptions(
		realm.WithPinHashingMode(juicebox.FastInsecure), realm.WithMaxGuesses(maxGuesses)))
	srv := httptest.NewServer(emu)
	t.Cleanup(func() {
		srv.Close()
		_ = emu.Close()
	})
	return &testNet{t: t, emu: emu, srv: srv}
}

// testBackup lets the Juicebox client accept the emulator's test settings.
var testBackup = WithJuiceboxOptions(juicebox.WithInsecureTestSettings())

// restore recovers u's account into a fresh store (a new device).
func (n *testNet) restore(ctx context.Context, u *testUser, pin string) (keystore.Store, *Restored, error) {
	store := keystore.NewMemory()
	r, err := RestoreAccount(ctx, store, NewAPIServer(n.client(u.token)), u.id, []byte(pin), testBackup)
	return store, r, err
}

// TestBackupRestore: set up a backup, restore it on a fresh store with the
// PIN, and read the conversation history the old device had.
func TestBackupRestore(t *testing.T) {
	ctx := ctxT(t)
	n := newBackupNet(t, 20)
	alice, bob := n.user("alice"), n.user("bob")
	if _, err := alice.e.SendText(ctx, bob.id, "before the backup"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.SendText(ctx, alice.id, "hi alice"); err != nil {
		t.Fatal(err)
	}
	if err := alice.e.SetupBackup(ctx, []byte("1234"), testBackup); !errors.Is(err, ErrWeakPIN) {
		t.Fatalf("sequential PIN: %v", err)
	}
	if err := alice.e.SetupBackup(ctx, []byte("2580"), testBackup); err != nil {
		t.Fatal(err)
	}
	st, err := alice.e.BackupStatus(ctx, testBackup)
	if err != nil || !st.Registered || st.Locked || st.SetUpAt.IsZero() || st.MaxGuessCount != 20 || len(st.Realms) != 3 {
		t.Fatalf("status %+v %v", st, err)
	}

	// A wrong PIN costs one guess and stores nothing.
	store, _, err := n.restore(ctx, alice, "1111")
	var pe *InvalidPINError
	if !errors.As(err, &pe) || pe.GuessesRemaining != 19 {
		t.Fatalf("wrong PIN: %v", err)
	}
	if _, err := store.Identity(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("a failed restore stored an identity: %v", err)
	}

	store, r, err := n.restore(ctx, alice, "2580")
	if err != nil {
		t.Fatal(err)
	}
	fp := testutil.Must(alice.e.Fingerprint())(t)
	if r.Fingerprint != fp || r.PublicKeyVersion != alice.e.PublicKeyVersion() || r.UserID != alice.id {
		t.Fatalf("restored %+v, want fingerprint %s version %s", r, fp, alice.e.PublicKeyVersion())
	}
	e, err := Open(ctx, store, NewAPIServer(n.client(alice.token)))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Sync(ctx, bob.id); err != nil {
		t.Fatal(err)
	}
	h, err := e.History(ctx, bob.id, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(h); !slices.Equal(got, []string{"before the backup", "hi alice"}) {
		t.Fatalf("restored device reads %q", got)
	}
	// The restored device sends under the same keys.
	if _, err := e.SendText(ctx, bob.id, "from the new device"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.Sync(ctx, alice.id); err != nil {
		t.Fatal(err)
	}
	bh := testutil.Must(bob.e.History(ctx, alice.id, "", 0))(t)
	if got := texts(bh); got[len(got)-1] != "from the new device" {
		t.Fatalf("bob reads %q", got)
	}
	// A store that already holds an account is refused.
	if _, err := RestoreAccount(ctx, store, NewAPIServer(n.client(alice.token)), alice.id, []byte("2580"), testBackup); !errors.Is(err, ErrAccountExists) {
		t.Fatalf("restore into an existing account: %v", err)
	}
}

func TestBackupChangePINAndDelete(t *testing.T) {
	ctx := ctxT(t)
	n := newBackupNet(t, 20)
	alice := n.user("alice")
	if err := alice.e.SetupBackup(ctx, []byte("2580"), testBackup); err != nil {
		t.Fatal(err)
	}
	var pe *InvalidPINError
	if err := alice.e.ChangeBackupPIN(ctx, []byte("0000"), []byte("1357"), testBackup); !errors.As(err, &pe) || pe.GuessesRemaining != 19 {
		t.Fatalf("change with a wrong old PIN: %v", err)
	}
	if err := alice.e.ChangeBackupPIN(ctx, []byte("2580"), []byte("4444"), testBackup); !errors.Is(err, ErrWeakPIN) {
		t.Fatalf("weak new PIN: %v", err)
	}
	if err := alice.e.ChangeBackupPIN(ctx, []byte("2580"), []byte("1357"), testBackup); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.restore(ctx, alice, "2580"); !errors.As(err, &pe) {
		t.Fatalf("old PIN after change: %v", err)
	}
	if _, _, err := n.restore(ctx, alice, "1357"); err != nil {
		t.Fatalf("new PIN: %v", err)
	}
	if err := alice.e.DeleteBackup(ctx, testBackup); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.restore(ctx, alice, "1357"); !errors.Is(err, ErrBackupNotFound) {
		t.Fatalf("restore after delete: %v", err)
	}
	st, err := alice.e.BackupStatus(ctx, testBackup)
	if err != nil || st.Registered || !st.SetUpAt.IsZero() {
		t.Fatalf("status after delete: %+v %v", st, err)
	}
}

// TestBackupLockout: the guess limit locks the backup; the right PIN no
// longer helps.
func TestBackupLockout(t *testing.T) {
	ctx := ctxT(t)
	n := newBackupNet(t, 20)
	alice := n.user("alice")
	if err := alice.e.SetupBackup(ctx, []byte("2580"), testBackup); err != nil {
		t.Fatal(err)
	}
	for i := 19; i >= 0; i-- {
		_, _, err := n.restore(ctx, alice, "9999")
		var pe *InvalidPINError
		if !errors.As(err, &pe) || int(pe.GuessesRemaining) != i {
			t.Fatalf("wrong PIN %d: %v", 20-i, err)
		}
	}
	if _, _, err := n.restore(ctx, alice, "2580"); !errors.Is(err, ErrBackupLocked) {
		t.Fatalf("right PIN after 20 wrong: %v", err)
	}
	st, err := alice.e.BackupStatus(ctx, testBackup)
	if err != nil || !st.Locked || st.Registered {
		t.Fatalf("status %+v %v", st, err)
	}
}

// TestBackupKeyMismatch: a backup of keys the account no longer uses is
// refused before anything is stored, and an old device cannot back up
// superseded keys.
func TestBackupKeyMismatch(t *testing.T) {
	ctx := ctxT(t)
	n := newBackupNet(t, 20)
	alice := n.user("alice")
	if err := alice.e.SetupBackup(ctx, []byte("2580"), testBackup); err != nil {
		t.Fatal(err)
	}
	// Alice reinstalls without restoring: new keys are registered.
	store := keystore.NewMemory()
	if err := CreateAccount(ctx, store, alice.id, nil); err != nil {
		t.Fatal(err)
	}
	e2, err := Open(ctx, store, NewAPIServer(n.client(alice.token)))
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	v2, err := e2.Register(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fresh, _, err := n.restore(ctx, alice, "2580")
	if !errors.Is(err, ErrBackupKeyMismatch) {
		t.Fatalf("restore of superseded keys: %v", err)
	}
	if _, err := fresh.Identity(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatal("mismatching keys were stored")
	}
	if err := alice.e.SetupBackup(ctx, []byte("2580"), testBackup); !errors.Is(err, ErrKeysSuperseded) {
		t.Fatalf("backup from the old device: %v", err)
	}
	v, fp, err := RegisteredKeys(ctx, NewAPIServer(n.client(alice.token)), alice.id)
	want := testutil.Must(e2.Fingerprint())(t)
	if err != nil || v != v2 || fp != want {
		t.Fatalf("RegisteredKeys: %s %s %v", v, fp, err)
	}
	bob, _ := n.provision("bob")
	if _, _, err := RegisteredKeys(ctx, NewAPIServer(n.client(alice.token)), bob); !errors.Is(err, ErrNoRegisteredKeys) {
		t.Fatalf("RegisteredKeys of a user without keys: %v", err)
	}
}

// TestBackupNeedsRegistration: no backup of unpublished keys, and no
// backup workflow without a server.
func TestBackupNeedsRegistration(t *testing.T) {
	ctx := ctxT(t)
	n := newBackupNet(t, 20)
	id, token := n.provision("carol")
	store := keystore.NewMemory()
	if err := CreateAccount(ctx, store, id, nil); err != nil {
		t.Fatal(err)
	}
	e, err := Open(ctx, store, NewAPIServer(n.client(token)))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.SetupBackup(ctx, []byte("2580"), testBackup); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("unregistered: %v", err)
	}
	if _, _, err := n.restore(ctx, &testUser{id: id, token: token}, "2580"); !errors.Is(err, ErrNoRegisteredKeys) {
		t.Fatalf("restore of an account without keys: %v", err)
	}
	off, err := Open(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if _, err := off.Register(ctx); !errors.Is(err, ErrOffline) {
		t.Fatalf("offline: %v", err)
	}
	if err := off.DeleteBackup(ctx); !errors.Is(err, ErrNotRegistered) && !errors.Is(err, ErrOffline) {
		t.Fatalf("offline delete: %v", err)
	}
	// Without opting in, the client refuses the emulator's test-only
	// PIN stretch: a server cannot weaken it.
	if _, _, err := RegisteredKeys(ctx, NewAPIServer(n.client(token)), id); !errors.Is(err, ErrNoRegisteredKeys) {
		t.Fatal(err)
	}
	u := n.user("dave")
	if err := u.e.SetupBackup(ctx, []byte("2580")); !errors.Is(err, juicebox.ErrConfig) {
		t.Fatalf("FastInsecure accepted by default: %v", err)
	}
}
