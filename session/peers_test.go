package session

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// newDevice gives u a fresh identity (new keys, new registration) in a new
// store, as a user reinstalling would.
func (n *testNet) newDevice(u *testUser, opts ...Option) *testUser {
	n.t.Helper()
	ctx := context.Background()
	store := keystore.NewMemory()
	if err := CreateAccount(ctx, store, u.id, nil); err != nil {
		n.t.Fatal(err)
	}
	srv := NewAPIServer(n.client(u.token))
	e, err := Open(ctx, store, srv, opts...)
	if err != nil {
		n.t.Fatal(err)
	}
	if _, err := e.Register(ctx); err != nil {
		n.t.Fatalf("re-register: %v", err)
	}
	n.t.Cleanup(func() { _ = e.Close() })
	return &testUser{id: u.id, name: u.name + "'", token: u.token, e: e, store: store, server: srv}
}

func TestTOFUKeyChange(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	var mu sync.Mutex
	var seen []KeyChanged
	alice := n.user("alice", WithKeyChangeHandler(func(c KeyChanged) {
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
	}))
	bob := n.user("bob")
	sent, err := alice.e.SendText(ctx, bob.id, "one")
	if err != nil {
		t.Fatal(err)
	}
	cid := sent.ConversationID
	p, err := alice.e.Peer(ctx, bob.id)
	if err != nil || p.Current == nil || p.Current.Verified || p.Changed {
		t.Fatalf("peer after first use: %+v, %v", p, err)
	}
	oldVersion := p.Current.Version

	bob2 := n.newDevice(bob)
	changes, err := alice.e.RefreshPeers(ctx, bob.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].UserID != bob.id || changes[0].Old.Version != oldVersion ||
		changes[0].New.Version != bob2.e.PublicKeyVersion() || !changes[0].Pinned {
		t.Fatalf("changes %+v", changes)
	}
	mu.Lock()
	if len(seen) != 1 {
		t.Fatalf("handler saw %d changes", len(seen))
	}
	mu.Unlock()
	// Refreshing again reports nothing new.
	if changes := testutil.Must(alice.e.RefreshPeers(ctx, bob.id))(t); len(changes) != 0 {
		t.Fatalf("repeated change report %+v", changes)
	}
	p = testutil.Must(alice.e.Peer(ctx, bob.id))(t)
	if !p.Changed || p.Current.Version != bob2.e.PublicKeyVersion() || len(p.History) != 2 {
		t.Fatalf("peer after change: %+v", p)
	}
	// The next send rotates the key to bob's new identity, so his new
	// device can read it.
	if _, err := alice.e.SendText(ctx, cid, "two"); err != nil {
		t.Fatal(err)
	}
	res, err := bob2.e.Sync(ctx, cid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(res.Entries); !slices.Equal(got, []string{"two"}) {
		t.Fatalf("bob's new device read %q", got)
	}
}

func TestStrictPolicy(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice", WithTrustPolicy(TrustStrict))
	bob := n.user("bob")
	if _, err := alice.e.SendText(ctx, bob.id, "hi"); !errors.Is(err, xchat.ErrUnverifiedPeer) {
		t.Fatalf("send to unverified peer: %v", err)
	}
	if err := alice.e.Verify(ctx, bob.id, safetyNumberOf(t, alice.e, bob.id)); err != nil {
		t.Fatal(err)
	}
	sent, err := alice.e.SendText(ctx, bob.id, "hi")
	if err != nil {
		t.Fatalf("send after verify: %v", err)
	}
	bob2 := n.newDevice(bob)
	changes, err := alice.e.RefreshPeers(ctx, bob.id)
	if err != nil || len(changes) != 1 || changes[0].Pinned {
		t.Fatalf("changes %+v, %v", changes, err)
	}
	p := testutil.Must(alice.e.Peer(ctx, bob.id))(t)
	if p.Pending == nil || p.Pending.Version != bob2.e.PublicKeyVersion() || !p.Current.Verified {
		t.Fatalf("peer %+v", p)
	}
	// What a send compares (pinnedVersion) is Peer's Current, never the
	// pending version.
	if v := testutil.Must(alice.e.pinnedVersion(ctx, bob.id))(t); v != p.Current.Version || v == p.Pending.Version {
		t.Fatalf("pinned version %s, Peer's current %s", v, p.Current.Version)
	}
	if v := testutil.Must(alice.e.pinnedVersion(ctx, "999"))(t); v != "" {
		t.Fatalf("pinned version of a user never fetched: %q", v)
	}
	if _, err := alice.e.Rotate(ctx, sent.ConversationID); !errors.Is(err, xchat.ErrKeyChanged) {
		t.Fatalf("rotate to changed key: %v", err)
	}
	sn1, err := alice.e.SafetyNumber(ctx, bob.id)
	if err != nil {
		t.Fatal(err)
	}
	sn2, err := bob2.e.SafetyNumber(ctx, alice.id)
	if err != nil {
		t.Fatal(err)
	}
	if sn1 != sn2 {
		t.Fatalf("safety numbers differ:\n%s\n%s", sn1, sn2)
	}
	if err := alice.e.Verify(ctx, bob.id, safetyNumberOf(t, alice.e, bob.id)); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.e.Rotate(ctx, sent.ConversationID); err != nil {
		t.Fatalf("rotate after verify: %v", err)
	}
}

func TestSafetyNumber(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob, carol := n.user("alice"), n.user("bob"), n.user("carol")
	ab, err := alice.e.SafetyNumber(ctx, bob.id)
	if err != nil {
		t.Fatal(err)
	}
	ba, err := bob.e.SafetyNumber(ctx, alice.id)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := alice.e.SafetyNumber(ctx, carol.id)
	if err != nil {
		t.Fatal(err)
	}
	if ab != ba {
		t.Fatalf("not symmetric: %s vs %s", ab, ba)
	}
	if ab == ac {
		t.Fatal("different peers, same number")
	}
	if !regexp.MustCompile(`^\d{5}( \d{5}){11}$`).MatchString(ab) {
		t.Fatalf("format %q", ab)
	}
	if len(strings.ReplaceAll(ab, " ", "")) != 60 {
		t.Fatal("not 60 digits")
	}
	// A changed key changes the number.
	bob2 := n.newDevice(bob)
	if _, err := alice.e.RefreshPeers(ctx, bob.id); err != nil {
		t.Fatal(err)
	}
	ab2 := testutil.Must(alice.e.SafetyNumber(ctx, bob.id))(t)
	b2a := testutil.Must(bob2.e.SafetyNumber(ctx, alice.id))(t)
	if ab2 == ab || ab2 != b2a {
		t.Fatalf("after key change: %s / %s (was %s)", ab2, b2a, ab)
	}
	if _, err := alice.e.SafetyNumber(ctx, alice.id); !errors.Is(err, xchat.ErrInvalidArgument) {
		t.Fatalf("self safety number: %v", err)
	}
}

// Verify marks the keys verified only for the number shown for
// them: a number shown before the peer's keys changed is refused with
// xchat.ErrKeyChanged and marks nothing; the new number verifies the new keys.
func TestVerify(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")
	shown := testutil.Must(alice.e.SafetyNumber(ctx, bob.id))(t)
	for _, bad := range []string{"", "12345", strings.Repeat("1", 59) + "x", alice.id} {
		if err := alice.e.Verify(ctx, bob.id, bad); !errors.Is(err, xchat.ErrInvalidArgument) {
			t.Fatalf("Verify(%q): %v, want xchat.ErrInvalidArgument", bad, err)
		}
	}
	n.newDevice(bob)
	if _, err := alice.e.RefreshPeers(ctx, bob.id); err != nil {
		t.Fatal(err)
	}
	if err := alice.e.Verify(ctx, bob.id, shown); !errors.Is(err, xchat.ErrKeyChanged) {
		t.Fatalf("stale number: %v, want xchat.ErrKeyChanged", err)
	}
	p := testutil.Must(alice.e.Peer(ctx, bob.id))(t)
	for _, k := range p.History {
		if k.Verified {
			t.Fatalf("version %s verified by a stale number", k.Version)
		}
	}
	fresh := testutil.Must(alice.e.SafetyNumber(ctx, bob.id))(t)
	if err := alice.e.Verify(ctx, bob.id, strings.ReplaceAll(fresh, " ", "")); err != nil {
		t.Fatalf("current number: %v", err)
	}
	p = testutil.Must(alice.e.Peer(ctx, bob.id))(t)
	if p.Current == nil || !p.Current.Verified || p.Current.Version != p.History[len(p.History)-1].Version {
		t.Fatalf("after verifying the current number: %+v", p.Current)
	}
}

// Under TrustStrict, events signed with a peer's new, unverified keys are
// not accepted until Verify.
func TestStrictReceiveFromChangedKey(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	bob := n.user("bob", WithTrustPolicy(TrustStrict))
	if err := bob.e.Verify(ctx, alice.id, safetyNumberOf(t, bob.e, alice.id)); err != nil {
		t.Fatal(err)
	}
	first, err := alice.e.SendText(ctx, bob.id, "from old keys")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.Sync(ctx, first.ConversationID, nil); err != nil {
		t.Fatal(err)
	}
	alice2 := n.newDevice(alice)
	second, err := alice2.e.SendText(ctx, bob.id, "from new keys")
	if err != nil {
		t.Fatal(err)
	}
	errs := map[string]error{}
	res, err := bob.e.Sync(ctx, first.ConversationID, func(ev *event.Event) error {
		errs[ev.MessageID] = ev.Err
		return nil
	})

	if err != nil {
		t.Fatal(err)
	}
	if len(res.KeyChanges) != 1 || res.KeyChanges[0].Pinned {
		t.Fatalf("key changes %+v", res.KeyChanges)
	}
	if !errors.Is(errs[second.MessageID], inbound.ErrUnknownSigningKey) {
		t.Fatalf("message under unverified keys: %v", errs)
	}
	if err := bob.e.Verify(ctx, alice.id, safetyNumberOf(t, bob.e, alice.id)); err != nil {
		t.Fatal(err)
	}
	// Once verified, a fresh device reads it (the stored copy keeps its
	// original verdict).
	if _, err := alice2.e.SendText(ctx, bob.id, "after verify"); err != nil {
		t.Fatal(err)
	}
	res, err = bob.e.Sync(ctx, first.ConversationID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(res.Entries); !slices.Equal(got, []string{"after verify"}) {
		t.Fatalf("after verify: %q", got)
	}
}

// The key change handler runs without engine locks: it may call back into
// the engine, even into the conversation whose sync reported the change.
func TestKeyChangeHandlerReentry(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	var bob *testUser
	var cid string
	called := make(chan error, 4)
	bob = n.user("bob", WithKeyChangeHandler(func(c KeyChanged) {
		_, err := bob.e.Sync(ctx, cid, nil)
		called <- err
	}))
	sent, err := alice.e.SendText(ctx, bob.id, "hi")
	if err != nil {
		t.Fatal(err)
	}
	cid = sent.ConversationID
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	alice2 := n.newDevice(alice)
	if _, err := alice2.e.SendText(ctx, bob.id, "new keys"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-called:
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatal("handler not called")
	}
}

// safetyNumberOf is the safety number e shows for userID now.
func safetyNumberOf(t *testing.T, e *Engine, userID string) string {
	t.Helper()
	sn, err := e.SafetyNumber(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

// TestStrictSendNeedsVerifiedMembers: under TrustStrict a message is
// sealed for a group only while every member's keys are verified, even
// under a key another member made (a key change signed with a pinned but
// unverified key may be the server's, wrapped to the server).
func TestStrictSendNeedsVerifiedMembers(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, carol := n.user("alice"), n.user("carol")
	bob := n.user("bob", WithTrustPolicy(TrustStrict))
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, bob, g)
	if err := bob.e.Verify(ctx, alice.id, safetyNumberOf(t, bob.e, alice.id)); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.SendText(ctx, g, "under alice's key"); !errors.Is(err, xchat.ErrUnverifiedPeer) || !strings.Contains(err.Error(), carol.id) {
		t.Fatalf("strict send with carol unverified: %v, want xchat.ErrUnverifiedPeer naming her", err)
	}
	if err := bob.e.Verify(ctx, carol.id, safetyNumberOf(t, bob.e, carol.id)); err != nil {
		t.Fatal(err)
	}
	sent, err := bob.e.SendText(ctx, g, "under alice's key")
	if err != nil {
		t.Fatalf("strict send once every member is verified: %v", err)
	}
	c := testutil.Must(alice.e.Conversation(ctx, g))(t)
	if sent.KeyVersion != c.KeyVersion {
		t.Fatalf("sent under %s, alice's key is %s: the send rotated needlessly", sent.KeyVersion, c.KeyVersion)
	}
}
