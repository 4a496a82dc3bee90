package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
)

func TestAccountLifecycle(t *testing.T) {
	ctx := context.Background()
	store := keystore.NewMemory()
	if _, err := Open(ctx, store, nil); !errors.Is(err, xchat.ErrNoAccount) {
		t.Fatalf("Open on empty store: %v", err)
	}
	if err := CreateAccount(ctx, store, "12a", nil); !errors.Is(err, xchat.ErrInvalidArgument) {
		t.Fatalf("bad user id: %v", err)
	}
	if err := CreateAccount(ctx, store, "42", nil); err != nil {
		t.Fatal(err)
	}
	if err := CreateAccount(ctx, store, "42", nil); !errors.Is(err, xchat.ErrAccountExists) {
		t.Fatalf("second CreateAccount: %v", err)
	}
	e, err := Open(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.UserID() != "42" || e.PublicKeyVersion() != "" {
		t.Fatalf("engine %s %q", e.UserID(), e.PublicKeyVersion())
	}
	if _, err := e.Register(ctx); !errors.Is(err, xchat.ErrOffline) {
		t.Fatalf("Register offline: %v", err)
	}
	if _, err := e.SendText(ctx, "43", "x"); !errors.Is(err, xchat.ErrNotRegistered) {
		t.Fatalf("send before register: %v", err)
	}
	backup, err := e.ExportBackup()
	if err != nil || len(backup) != 64 {
		t.Fatalf("backup %d, %v", len(backup), err)
	}
	// The backup restores the same identity elsewhere.
	other := keystore.NewMemory()
	if err := ImportBackup(ctx, other, "42", backup, "1700000000000"); err != nil {
		t.Fatal(err)
	}
	e2, err := Open(ctx, other, nil)
	if err != nil {
		t.Fatal(err)
	}
	f1 := testutil.Must(e.Fingerprint())(t)
	f2 := testutil.Must(e2.Fingerprint())(t)
	if f1 != f2 || e2.PublicKeyVersion() != "1700000000000" {
		t.Fatalf("restored %s/%s %q", f1, f2, e2.PublicKeyVersion())
	}
	if err := ImportBackup(ctx, keystore.NewMemory(), "42", backup[:63], ""); !errors.Is(err, crypto.ErrInvalidBackup) {
		t.Fatalf("short backup: %v", err)
	}
	if err := ImportBackup(ctx, keystore.NewMemory(), "42", backup, "v1"); !errors.Is(err, xchat.ErrInvalidArgument) {
		t.Fatalf("bad version: %v", err)
	}
	// The engine never prints key material.
	if s := fmt.Sprintf("%v %+v", e, e); bytes.Contains([]byte(s), backup[:8]) {
		t.Fatal("engine formatting leaks key bytes")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ExportBackup(); !errors.Is(err, xchat.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestRegisterRoundTrip(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	v := alice.e.PublicKeyVersion()
	if v == "" {
		t.Fatal("no registered version")
	}
	id, err := alice.store.Identity(ctx)
	if err != nil || id.PublicKeyVersion != v {
		t.Fatalf("stored identity %v, %v", id, err)
	}
	// What the server publishes binds to our keys.
	bob := n.user("bob")
	if _, err := bob.e.RefreshPeers(ctx, alice.id); err != nil {
		t.Fatal(err)
	}
	p := testutil.Must(bob.e.Peer(ctx, alice.id))(t)
	fp := testutil.Must(alice.e.Fingerprint())(t)
	if p.Current == nil || p.Current.Version != v || p.Current.Fingerprint != fp {
		t.Fatalf("bob's view of alice %+v (fingerprint %s)", p.Current, fp)
	}
}

func TestIDs(t *testing.T) {
	for _, tc := range []struct{ in, self, want string }{
		{"10:9", "1", "9:10"}, {"9-10", "1", "9:10"}, {"10", "9", "9:10"}, {"g123", "1", "g123"},
	} {
		got, err := CanonicalID(tc.in, tc.self)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalID(%q,%q) = %q, %v", tc.in, tc.self, got, err)
		}
	}
	// Ids with a leading zero are not canonical decimals: ordered by length
	// then bytes "01" would sort above "2" (see internal/decimal).
	for _, bad := range []string{"", "a:b", "1:1", "g", "gx", "1:2:3", "12345678901234567890", "01:2", "2-01", "01", "g01", "007"} {
		if _, err := CanonicalID(bad, "5"); !errors.Is(err, xchat.ErrInvalidArgument) {
			t.Errorf("CanonicalID(%q) err = %v, want xchat.ErrInvalidArgument", bad, err)
		}
	}
	if _, err := oneToOneID("01", "2"); !errors.Is(err, xchat.ErrInvalidArgument) {
		t.Errorf(`oneToOneID("01", "2") err = %v, want xchat.ErrInvalidArgument`, err)
	}
	if api.ConversationPathID("9:10") != "9-10" || api.ConversationPathID("g1") != "g1" {
		t.Error("api.ConversationPathID")
	}
}
