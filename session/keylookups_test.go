package session

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/exchange"
	"github.com/xchat-go/xchat/session/event"
)

// batchOnly hides apiServer's PublicKeysByUser, so the engine takes the
// path it had before issue #13: GetPublicKeys, which falls back to one call
// per user whenever a batch answer lacks user_id.
type batchOnly struct{ Server }

// keyLookupFlow runs one fixed multi-user flow against a spec-strict
// emulator (no user_id on keys) and counts the public-key lookups it makes.
func keyLookupFlow(t *testing.T, wrap func(Server) Server) int {
	t.Helper()
	var mu sync.Mutex
	lookups := 0
	rec := exchange.NewMemory(func(x exchange.Exchange) {
		if x.Method == "GET" && (x.Path == api.PathUsersPublicKeys() || len(x.Path) > 9 && x.Path[:9] == "/2/users/" && x.Path[len(x.Path)-12:] == "/public_keys") {
			mu.Lock()
			lookups++
			mu.Unlock()
		}
	})
	emu := emulator.New(emulator.WithRecorder(rec))
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); _ = emu.Close() })
	n := &testNet{t: t, emu: emu, srv: srv}
	ctx := ctxT(t)
	alice, bob := n.userWith("alice", wrap), n.userWith("bob", wrap)
	carol, dave := n.userWith("carol", wrap), n.userWith("dave", wrap)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	lookups = 0 // count the flow, not the registrations
	mu.Unlock()
	_, err := alice.e.SendText(ctx, bob.id, "hi bob")
	must(err)
	_, err = bob.e.Sync(ctx, alice.id, nil)
	must(err)
	_, err = bob.e.SendText(ctx, alice.id, "hi alice")
	must(err)
	_, err = alice.e.Sync(ctx, bob.id, nil)
	must(err)
	gid, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}})
	must(err)
	for _, u := range []*testUser{bob, carol} {
		_, err = u.e.Sync(ctx, gid, nil)
		must(err)
	}
	_, err = carol.e.SendText(ctx, gid, "hello group")
	must(err)
	must(alice.e.AddMembers(ctx, gid, dave.id))
	_, err = alice.e.Rotate(ctx, gid)
	must(err)
	for _, u := range []*testUser{alice, bob, carol, dave} {
		_, err = u.e.Sync(ctx, gid, nil)
		must(err)
	}
	_, err = dave.e.SendText(ctx, gid, "thanks")
	must(err)
	for _, u := range []*testUser{alice, bob, carol} {
		_, err = u.e.Sync(ctx, gid, nil)
		must(err)
	}
	_, err = bob.e.SendText(ctx, alice.id, "bye")
	must(err)
	_, err = alice.e.Sync(ctx, bob.id, nil)
	must(err)
	mu.Lock()
	defer mu.Unlock()
	return lookups
}

// Item 8 of issue #13: against spec-shaped keys (no user_id) the engine's
// key lookups no longer fall back to one call per user on every refresh.
func TestKeyLookupsPerFlow(t *testing.T) {
	before := keyLookupFlow(t, func(s Server) Server { return batchOnly{s} })
	after := keyLookupFlow(t, nil)
	fmt.Printf("keylookups: %d calls per flow before, %d after (spec-shaped keys, 4 users)\n", before, after)
	if after >= before {
		t.Fatalf("key lookups per flow: %d after, %d before", after, before)
	}
}

// TestKeyCacheZeroes: the conversation keys an operation's key cache
// copied (from the store, or adopted during it) are zeroed when it ends,
// and the cache forgets them.
func TestKeyCacheZeroes(t *testing.T) {
	ctx := ctxT(t)
	n := newNaiveNet(t)
	alice, bob := n.user("alice"), n.user("bob")
	s, err := alice.e.SendText(ctx, bob.id, "hello")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := alice.e.keysFor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held, ok := keys.ConversationKey(s.ConversationID, s.KeyVersion)
	if !ok || *held == (crypto.ConversationKey{}) {
		t.Fatalf("no key %s held for %s", s.KeyVersion, s.ConversationID)
	}
	adopted := crypto.ConversationKey{1, 2, 3}
	keys.addConversationKey(s.ConversationID, "1", &adopted, false)
	copied, ok := keys.ConversationKey(s.ConversationID, "1")
	if !ok || *copied != adopted {
		t.Fatal("the adopted key is not cached")
	}
	keys.zero()
	if *held != (crypto.ConversationKey{}) || *copied != (crypto.ConversationKey{}) {
		t.Fatal("a cached conversation key survived zero")
	}
	if len(keys.conv) != 0 {
		t.Fatalf("%d keys still cached", len(keys.conv))
	}
}

// countingKeys counts GetPublicKeys calls (and hides PublicKeysByUser, so
// every lookup goes through it).
type countingKeys struct {
	Server
	mu    sync.Mutex
	calls int
}

func (s *countingKeys) GetPublicKeys(ctx context.Context, ids []string) (*api.GetUsersPublicKeysResponse, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	return s.Server.GetPublicKeys(ctx, ids)
}

// TestKeyLookupsPerSync: a sync fetches a user's keys once, however many
// pages name key versions it does not hold — here alice's messages under
// her old keys and, after she re-registered on a new device, under her new
// ones, served in pages of 10: the refresh at the sync's start fetches
// both, and every message verifies (an honest rotation is not lost).
func TestKeyLookupsPerSync(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	var ck *countingKeys
	bob := n.userWith("bob", func(s Server) Server { ck = &countingKeys{Server: s}; return ck }, WithPageSize(10))
	var cid string
	for i := range 15 {
		s, err := alice.e.SendText(ctx, bob.id, fmt.Sprintf("old %d", i))
		if err != nil {
			t.Fatal(err)
		}
		cid = s.ConversationID
	}
	alice2 := n.newDevice(alice)
	for i := range 15 {
		if _, err := alice2.e.SendText(ctx, bob.id, fmt.Sprintf("new %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	ck.mu.Lock()
	ck.calls = 0
	ck.mu.Unlock()
	verified := 0
	_, err := bob.e.Sync(ctx, cid, func(ev *event.Event) error {
		if ev.Kind == event.KindMessage && ev.Verified && ev.Err == nil {
			verified++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ck.mu.Lock()
	calls := ck.calls
	ck.mu.Unlock()
	t.Logf("30 messages under two key versions of alice's, in pages of 10: %d verified, %d key lookups", verified, calls)
	if verified != 30 || calls != 1 {
		t.Fatalf("%d of 30 messages verified, %d key lookups (want 30, 1)", verified, calls)
	}
}
