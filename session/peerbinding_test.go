package session

import (
	"context"
	"encoding/base64"
	"errors"
	"math/big"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/keystore"
)

// rewriteServer rewrites the key sets it lists for one user (a server
// serving other bytes under a version already pinned).
type rewriteServer struct {
	Server
	mu      sync.Mutex
	of      string
	rewrite func(api.PublicKey) api.PublicKey
}

func (s *rewriteServer) set(fn func(api.PublicKey) api.PublicKey) {
	s.mu.Lock()
	s.rewrite = fn
	s.mu.Unlock()
}

func (s *rewriteServer) GetPublicKeys(ctx context.Context, ids []string) (*api.GetUsersPublicKeysResponse, error) {
	resp, err := s.Server.GetPublicKeys(ctx, ids)
	if err != nil {
		return resp, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range resp.Data {
		if s.rewrite != nil && (k.UserID == s.of || (k.UserID == "" && len(ids) == 1 && ids[0] == s.of)) {
			resp.Data[i] = s.rewrite(k)
		}
	}
	return resp, nil
}

// p256N is the order of the P-256 group.
var p256N, _ = new(big.Int).SetString("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)

// rewriteB64 decodes a standard base64 field, applies fn and encodes it
// back the same way (padded or not).
func rewriteB64(t *testing.T, s string, fn func([]byte) []byte) string {
	t.Helper()
	enc := base64.RawStdEncoding
	if len(s)%4 == 0 && len(s) > 0 && s[len(s)-1] == '=' {
		enc = base64.StdEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeToString(fn(b))
}

// bindingRig is bob with alice's keys pinned, a store to open cold
// engines on (whose in-memory record of verified bindings is empty), and
// a server that can rewrite what it lists for alice.
type bindingRig struct {
	ctx   context.Context
	n     *testNet
	alice *testUser
	store keystore.Store
	srv   *rewriteServer
	warm  *Engine // the engine that pinned alice's keys
}

func newBindingRig(t *testing.T) *bindingRig {
	t.Helper()
	c := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	srv := &rewriteServer{of: alice.id}
	bob := n.userWith("bob", func(s Server) Server { srv.Server = s; return srv })
	if _, err := bob.e.RefreshPeers(c, alice.id); err != nil {
		t.Fatal(err)
	}
	return &bindingRig{ctx: c, n: n, alice: alice, store: bob.store, srv: srv, warm: bob.e}
}

// cold opens a new engine on bob's store.
func (r *bindingRig) cold(t *testing.T) *Engine {
	t.Helper()
	e, err := Open(r.ctx, r.store, r.srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// TestColdRefreshSkipsVerifiedBinding: an engine opened on a store that
// pinned a peer's keys does not verify again the binding signature of a
// key set listed again byte for byte (the sealed store records that those
// exact bytes verified); the pin is unchanged.
func TestColdRefreshSkipsVerifiedBinding(t *testing.T) {
	r := newBindingRig(t)
	e := r.cold(t)
	changes, err := e.RefreshPeers(r.ctx, r.alice.id)
	if err != nil || len(changes) != 0 {
		t.Fatalf("refresh of unchanged keys: %v, %v", changes, err)
	}
	if n := e.bindings.Len(); n != 0 {
		t.Fatalf("%d key binding signatures verified for keys listed unchanged", n)
	}
	p, err := e.Peer(r.ctx, r.alice.id)
	if err != nil || p.Current == nil || p.Current.Fingerprint != mustFingerprint(t, r.alice) {
		t.Fatalf("alice's pinned keys: %+v, %v", p, err)
	}
}

// TestAlteredBindingVerifiedInFull: a key set listed under a pinned
// version with any byte changed is verified in full, by a cold engine as
// by the engine that pinned it, with the same outcome: a corrupted
// signature and a binding made over another encoding of the identity key
// fail (xchat.ErrKeyBinding), the twin of a valid signature is verified and
// accepted, other keys under the pinned version are refused
// (xchat.ErrKeyChanged). The pinned keys never change.
func TestAlteredBindingVerifiedInFull(t *testing.T) {
	type outcome struct {
		want     error // nil: accepted
		verified int   // bindings a cold engine verifies (and records)
	}
	cases := []struct {
		name    string
		rewrite func(t *testing.T, k api.PublicKey) api.PublicKey
		outcome
	}{
		{"corrupted signature", func(t *testing.T, k api.PublicKey) api.PublicKey {
			k.IdentityPublicKeySignature = rewriteB64(t, k.IdentityPublicKeySignature, func(b []byte) []byte { b[40] ^= 1; return b })
			return k
		}, outcome{xchat.ErrKeyBinding, 0}},
		{"high-S twin of the signature", func(t *testing.T, k api.PublicKey) api.PublicKey {
			k.IdentityPublicKeySignature = rewriteB64(t, k.IdentityPublicKeySignature, func(b []byte) []byte {
				s := new(big.Int).Sub(p256N, new(big.Int).SetBytes(b[32:]))
				s.FillBytes(b[32:])
				return b
			})
			return k
		}, outcome{nil, 1}},
		{"identity key as SEC1, binding over SPKI", func(t *testing.T, k api.PublicKey) api.PublicKey {
			k.PublicKey = rewriteB64(t, k.PublicKey, func(b []byte) []byte { return b[len(b)-65:] })
			return k
		}, outcome{xchat.ErrKeyBinding, 0}},
		{"other keys, valid binding", func(t *testing.T, k api.PublicKey) api.PublicKey {
			other, _ := serverKeySet(t, k.PublicKeyVersion)
			other.UserID = k.UserID
			return other
		}, outcome{xchat.ErrKeyChanged, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, who := range []string{"warm", "cold"} {
				r := newBindingRig(t)
				r.srv.set(func(k api.PublicKey) api.PublicKey { return tc.rewrite(t, k) })
				e := r.warm
				if who == "cold" {
					e = r.cold(t)
				}
				_, err := e.RefreshPeers(r.ctx, r.alice.id)
				if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
					t.Fatalf("%s engine: refresh: %v, want %v", who, err, tc.want)
				}
				if who == "cold" && e.bindings.Len() != tc.verified {
					t.Fatalf("cold engine verified %d bindings, want %d", e.bindings.Len(), tc.verified)
				}
				p, err := e.Peer(r.ctx, r.alice.id)
				if err != nil || p.Current == nil || p.Current.Fingerprint != mustFingerprint(t, r.alice) || p.Pending != nil {
					t.Fatalf("%s engine: alice's pinned keys: %+v, %v", who, p, err)
				}
			}
		})
	}
}

// TestColdRotateSkipsVerifiedBindings: the rotation of a group by an
// engine opened afresh looks up every member's keys (so it notices key
// changes) but verifies no binding it verified before; a member who
// published new keys meanwhile is verified, and the key is wrapped to
// them.
func TestColdRotateSkipsVerifiedBindings(t *testing.T) {
	c := ctxT(t)
	n := newNet(t)
	bob, carol, dave := n.user("bob"), n.user("carol"), n.user("dave")
	gid, err := bob.e.CreateGroup(c, GroupOptions{Members: []string{carol.id, dave.id}})
	if err != nil {
		t.Fatal(err)
	}
	cold := func() *Engine {
		e, err := Open(c, bob.store, bob.server)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
	e := cold()
	if _, err := e.Rotate(c, gid); err != nil {
		t.Fatal(err)
	}
	if k := e.bindings.Len(); k != 0 {
		t.Fatalf("a rotation with every member's keys unchanged verified %d bindings", k)
	}
	// Dave registers new keys: the next cold rotation verifies those only
	// and wraps the key to them.
	dave2 := n.newDevice(dave)
	e = cold()
	if _, err := e.Rotate(c, gid); err != nil {
		t.Fatal(err)
	}
	if k := e.bindings.Len(); k != 1 {
		t.Fatalf("a rotation after one member's new keys verified %d bindings, want 1", k)
	}
	p, err := e.Peer(c, dave.id)
	if err != nil || p.Current == nil || p.Current.Version != dave2.e.PublicKeyVersion() {
		t.Fatalf("dave's pinned keys after the rotation: %+v, %v", p, err)
	}
	if _, err := e.SendText(c, gid, "after"); err != nil {
		t.Fatal(err)
	}
	res, err := dave2.e.Sync(c, gid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(res.Entries); !slices.Equal(got, []string{"after"}) {
		t.Fatalf("dave's new device read %q", got)
	}
}

// FuzzParsePublished: a listed key set is accepted or refused exactly as
// without the record of verified bindings unless it is byte for byte the
// one recorded, and the record never makes parsing panic.
func FuzzParsePublished(f *testing.F) {
	kp, err := crypto.GenerateKeyPair(mrand.NewChaCha8([32]byte{17}))
	if err != nil {
		f.Fatal(err)
	}
	reg, err := crypto.NewRegistration(kp)
	if err != nil {
		f.Fatal(err)
	}
	r := reg.Fields()
	const uid, version = "1002", "1795000000000"
	seed, err := parsePublished(uid, api.PublicKey{PublicKeyVersion: version, PublicKey: r.PublicKey,
		SigningPublicKey: r.SigningPublicKey, IdentityPublicKeySignature: r.IdentityPublicKeySignature}, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	known := verifiedBindings{uid: {version: seed.binding[:]}}
	f.Add(version, r.PublicKey, r.SigningPublicKey, r.IdentityPublicKeySignature)
	f.Add(version, r.PublicKey, r.SigningPublicKey, r.IdentityPublicKeySignature+"==")
	f.Add(version, r.SigningPublicKey, r.PublicKey, r.IdentityPublicKeySignature)
	f.Add("1795000000001", r.PublicKey, r.SigningPublicKey, r.IdentityPublicKeySignature)
	f.Add(version, r.PublicKey, r.SigningPublicKey, "")
	f.Fuzz(func(t *testing.T, v, id, sg, sig string) {
		k := api.PublicKey{PublicKeyVersion: v, PublicKey: id, SigningPublicKey: sg, IdentityPublicKeySignature: sig}
		plain, perr := parsePublished(uid, k, nil, nil)
		got, gerr := parsePublished(uid, k, nil, known)
		if gerr == nil && got.binding == seed.binding {
			if !got.sameKeys(seed) || got.Version != seed.Version || got.Fingerprint != seed.Fingerprint {
				t.Fatalf("recorded binding gave other keys: %+v", got)
			}
			return
		}
		if (perr == nil) != (gerr == nil) || (perr != nil && perr.Error() != gerr.Error()) {
			t.Fatalf("outcome changed by the record: %v, then %v", perr, gerr)
		}
		if perr == nil && (!plain.sameKeys(got) || plain.binding != got.binding || plain.Fingerprint != got.Fingerprint) {
			t.Fatalf("keys changed by the record: %+v, then %+v", plain, got)
		}
	})
}
