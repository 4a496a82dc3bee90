package session

import (
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/exchange"
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
