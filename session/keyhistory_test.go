package session

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
)

// keyListServer lists extra key sets for one user next to the real ones.
type keyListServer struct {
	Server
	mu    sync.Mutex
	of    string
	extra []api.PublicKey
}

func (s *keyListServer) add(k ...api.PublicKey) {
	s.mu.Lock()
	s.extra = append(s.extra, k...)
	s.mu.Unlock()
}

func (s *keyListServer) GetPublicKeys(ctx context.Context, ids []string) (*api.GetUsersPublicKeysResponse, error) {
	resp, err := s.Server.GetPublicKeys(ctx, ids)
	if err != nil {
		return resp, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if id == s.of {
			for _, k := range s.extra {
				k.UserID = id
				resp.Data = append(resp.Data, k)
			}
		}
	}
	return resp, nil
}

// serverKeySet returns a fresh key set with a valid binding under version.
func serverKeySet(t *testing.T, version string) (api.PublicKey, *crypto.KeyPair) {
	t.Helper()
	kp, err := crypto.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := crypto.NewRegistration(kp)
	if err != nil {
		t.Fatal(err)
	}
	f := reg.Fields()
	return api.PublicKey{PublicKeyVersion: version, PublicKey: f.PublicKey,
		SigningPublicKey: f.SigningPublicKey, IdentityPublicKeySignature: f.IdentityPublicKeySignature}, kp
}

func TestPeerKeyHistoryMovesForward(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	ks := &keyListServer{}
	var mu sync.Mutex
	var handled []KeyChanged
	bob := n.userWith("bob", func(s Server) Server { ks.Server = s; return ks }, WithKeyChangeHandler(func(c KeyChanged) {
		mu.Lock()
		handled = append(handled, c)
		mu.Unlock()
	}))
	alice := n.user("alice")
	ks.of = alice.id
	pinned := alice.e.PublicKeyVersion()
	if _, err := bob.e.RefreshPeers(ctx, alice.id); err != nil {
		t.Fatal(err)
	}
	keys, err := bob.e.keysFor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !keys.currentSigner(bob.store, alice.id, pinned) {
		t.Fatal("pinned version is not the current signer")
	}

	// Backdated: refused, reported every time, handed to the handler once.
	old, _ := serverKeySet(t, "1000")
	ks.add(old)
	for round := range 2 {
		changes, err := bob.e.RefreshPeers(ctx, alice.id)
		if err != nil || len(changes) != 1 || changes[0].Kind != KeyBackdated || changes[0].New.Version != "1000" || changes[0].Pinned {
			t.Fatalf("round %d: %+v %v", round, changes, err)
		}
	}
	// Implausible: refused.
	far, _ := serverKeySet(t, strconv.FormatInt(time.Now().Add(maxVersionLead+time.Hour).UnixMilli(), 10))
	ks.add(far)
	changes, err := bob.e.RefreshPeers(ctx, alice.id)
	if err != nil || len(changes) != 2 || changes[1].Kind != KeyImplausible {
		t.Fatalf("implausible: %+v %v", changes, err)
	}
	p := testutil.Must(bob.e.Peer(ctx, alice.id))(t)
	if len(p.History) != 1 || p.Current.Version != pinned {
		t.Fatalf("refused versions stored: %+v", p.History)
	}
	mu.Lock()
	if len(handled) != 2 || handled[0].Kind != KeyBackdated || handled[1].Kind != KeyImplausible {
		t.Fatalf("handler saw %+v", handled)
	}
	mu.Unlock()
	if _, ok := (&storeKeys{e: bob.e, ctx: ctx, signing: map[keyID]*crypto.PublicKey{}, missing: map[string]bool{}}).SigningKey(alice.id, "1000"); ok {
		t.Fatal("backdated version verifies")
	}

	// A re-key with a version in between published at once: the skipped
	// one is stored (it may have signed something) and reported.
	p0 := testutil.Must(strconv.ParseUint(pinned, 10, 64))(t)
	mid, _ := serverKeySet(t, strconv.FormatUint(p0+1, 10))
	newest, _ := serverKeySet(t, strconv.FormatUint(p0+2, 10))
	ks.mu.Lock()
	ks.extra = []api.PublicKey{mid, newest}
	ks.mu.Unlock()
	changes, err = bob.e.RefreshPeers(ctx, alice.id)
	if err != nil || len(changes) != 2 || changes[0].Kind != KeySkipped || changes[0].New.Version != mid.PublicKeyVersion || changes[0].Pinned ||
		changes[1].Kind != KeyRotated || changes[1].New.Version != newest.PublicKeyVersion || !changes[1].Pinned {
		t.Fatalf("re-key with a skipped version: %+v %v", changes, err)
	}
	keys = testutil.Must(bob.e.keysFor(ctx))(t)
	if keys.currentSigner(bob.store, alice.id, pinned) || keys.currentSigner(bob.store, alice.id, mid.PublicKeyVersion) || !keys.currentSigner(bob.store, alice.id, newest.PublicKeyVersion) {
		t.Fatal("superseded versions still count as the current signer")
	}
	for _, v := range []string{pinned, mid.PublicKeyVersion, newest.PublicKeyVersion} {
		if _, ok := keys.SigningKey(alice.id, v); !ok {
			t.Fatalf("version %s no longer verifies what it signed", v)
		}
	}
	// The old pin listed again below the new one is known, not backdated.
	if changes, err := bob.e.RefreshPeers(ctx, alice.id); err != nil || len(changes) != 0 {
		t.Fatalf("after the re-key: %+v %v", changes, err)
	}
}

// A store written before versions recorded their origin: a version below
// the pin first seen after it (a backdated one an older engine accepted)
// does not verify; older versions seen with the pin do.
func TestLegacyBackdatedVersionRefused(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	pin := &keystore.PeerKey{Version: "5000", Pinned: true, FirstSeen: t0}
	for _, c := range []struct {
		k    keystore.PeerKey
		want bool
	}{
		{keystore.PeerKey{Version: "4000", FirstSeen: t0}, true},
		{keystore.PeerKey{Version: "4000", FirstSeen: t0.Add(-time.Hour)}, true},
		{keystore.PeerKey{Version: "4000", FirstSeen: t0.Add(time.Hour)}, false},
		{keystore.PeerKey{Version: "6000", FirstSeen: t0.Add(time.Hour)}, true},
		{keystore.PeerKey{Version: "4000", FirstSeen: t0.Add(time.Hour), Origin: originForward}, true},
		{keystore.PeerKey{Version: "4000", FirstSeen: t0.Add(time.Hour), Origin: "unknown"}, false},
	} {
		if got := verifiable(&c.k, pin); got != c.want {
			t.Errorf("%+v: verifiable %v, want %v", c.k, got, c.want)
		}
	}
}

func TestPlausibleVersion(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	lead := maxVersionLead.Milliseconds()
	for v, want := range map[string]bool{
		"1": true, "1800000000000": true,
		strconv.FormatInt(1_800_000_000_000+lead, 10):   true,
		strconv.FormatInt(1_800_000_000_000+lead+1, 10): false,
		"18446744073709551615":                          false, "99999999999999999999999": false, "": false, "x": false,
	} {
		if got := plausibleVersion(v, now); got != want {
			t.Errorf("plausibleVersion(%q) = %v, want %v", v, got, want)
		}
	}
}
