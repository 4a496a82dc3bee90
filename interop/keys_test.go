package interop

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/testutil"
)

// keyReport is app.fetchKeys' answer for one user.
type keyReport struct {
	PublicKeyVersion string `json:"publicKeyVersion"`
	BindingValid     bool   `json:"bindingValid"`
	PublicKey        string `json:"publicKey"`
	SigningPublicKey string `json:"signingPublicKey"`
}

// Our registration payload: the SDK verifies both binding signatures and
// computes the same fingerprint for our identity key; the payload has the
// SDK's own shape.
func keyRegistrationO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us := s.newOurs(t, "ours")
	them := s.newOfficial(t, "official")

	req, err := us.e.RegistrationRequest()
	if err != nil {
		t.Fatal(err)
	}
	pk := req.PublicKey
	var ok bool
	them.call(t, "verifyKeyBinding", map[string]any{
		"identityPublicKey": pk.PublicKey, "signingPublicKey": pk.SigningPublicKey, "identityPublicKeySignature": pk.IdentityPublicKeySignature,
	}, &ok)
	if !ok {
		t.Fatal("SDK verifyKeyBinding rejected our identity_public_key_signature")
	}
	sig, err := base64.StdEncoding.DecodeString(pk.SigningPublicKeySignature)
	if err != nil {
		t.Fatalf("signing_public_key_signature: %v", err)
	}
	spki := testutil.Must(base64.StdEncoding.DecodeString(pk.SigningPublicKey))(t)
	them.call(t, "verify", map[string]any{"publicKey": pk.PublicKey, "signature": sig, "data": spki}, &ok)
	if !ok {
		t.Fatal("SDK verify rejected our signing_public_key_signature (identity key over signing SPKI)")
	}

	// The published keys, fetched by the SDK app from the server.
	var rep map[string][]keyReport
	them.call(t, "app.fetchKeys", map[string]any{"userIds": []string{us.id}}, &rep)
	if len(rep[us.id]) == 0 {
		t.Fatal("SDK app found no published keys for our account")
	}
	for _, k := range rep[us.id] {
		if !k.BindingValid {
			t.Errorf("SDK: binding of our published key version %s does not verify", k.PublicKeyVersion)
		}
		if k.PublicKey != pk.PublicKey {
			t.Errorf("SDK fetched identity key %.20s…, we registered %.20s…", k.PublicKey, pk.PublicKey)
		}
	}
	if got := rep[us.id][len(rep[us.id])-1].PublicKeyVersion; got != us.e.PublicKeyVersion() {
		t.Errorf("published key version %s, engine recorded %s", got, us.e.PublicKeyVersion())
	}

	// Fingerprint: the SDK computes it over our identity key (imported
	// into a scratch SDK instance) and must agree with ours.
	fp, err := us.e.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	if fp != pk.PublicKeyFingerprint {
		t.Errorf("engine fingerprint %s, registration payload says %s", fp, pk.PublicKeyFingerprint)
	}
	backup, err := us.e.ExportBackup()
	if err != nil {
		t.Fatal(err)
	}
	scratch := &official{s: s, acct: "scratch-" + us.id}
	defer func() {
		_ = s.peer.Call(context.Background(), "dropAccount", map[string]any{"account": scratch.acct}, nil)
	}()
	scratch.call(t, "importKeys", map[string]any{"keys": backup}, nil)
	clear(backup)
	var sdkFP string
	scratch.call(t, "getPublicKeyFingerprint", nil, &sdkFP)
	if sdkFP != fp {
		t.Errorf("SDK fingerprint of our identity key %s, ours %s", sdkFP, fp)
	}
	var match bool
	scratch.call(t, "matchesRegisteredKey", map[string]any{"publicKey": pk.PublicKey}, &match)
	if !match {
		t.Error("SDK matchesRegisteredKey(our published SPKI) = false")
	}

	// Shape: the same JSON members, encodings and lengths as the SDK's own
	// registration body.
	ourBody := testutil.Must(json.Marshal(req))(t)
	compareShape(t, "registration body", ourBody, them.reg.RequestBody)
	_ = ctx
}

// The SDK's registration: our engine fetches it, checks the binding and
// pins the key with the SDK's fingerprint; Go's own crypto agrees.
func keyRegistrationF2O(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us := s.newOurs(t, "ours")
	them := s.newOfficial(t, "official")

	if _, err := us.e.RefreshPeers(ctx, them.id); err != nil {
		t.Fatalf("engine RefreshPeers(SDK user): %v", err)
	}
	p, err := us.e.Peer(ctx, them.id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Current == nil {
		t.Fatal("engine pinned no key for the SDK user")
	}
	if p.Current.Version != them.reg.Version {
		t.Errorf("pinned version %s, SDK registered %s", p.Current.Version, them.reg.Version)
	}
	if p.Current.Fingerprint != them.reg.Fingerprint {
		t.Errorf("engine fingerprint %s, SDK fingerprint %s", p.Current.Fingerprint, them.reg.Fingerprint)
	}

	// The registration body the SDK app posted, checked with our crypto.
	var body struct {
		PublicKey struct {
			PublicKey                  string `json:"public_key"`
			PublicKeyFingerprint       string `json:"public_key_fingerprint"`
			IdentityPublicKeySignature string `json:"identity_public_key_signature"`
			SigningPublicKey           string `json:"signing_public_key"`
			SigningPublicKeySignature  string `json:"signing_public_key_signature"`
		} `json:"public_key"`
	}
	if err := json.Unmarshal(them.reg.RequestBody, &body); err != nil {
		t.Fatal(err)
	}
	b := body.PublicKey
	idSPKI := testutil.Must(base64.StdEncoding.DecodeString(b.PublicKey))(t)
	sgSPKI := testutil.Must(base64.StdEncoding.DecodeString(b.SigningPublicKey))(t)
	id, err := crypto.ParsePublicKey(idSPKI)
	if err != nil {
		t.Fatalf("parse SDK identity key: %v", err)
	}
	sg, err := crypto.ParsePublicKey(sgSPKI)
	if err != nil {
		t.Fatalf("parse SDK signing key: %v", err)
	}
	isig := testutil.Must(base64.StdEncoding.DecodeString(b.IdentityPublicKeySignature))(t)
	ssig := testutil.Must(base64.StdEncoding.DecodeString(b.SigningPublicKeySignature))(t)
	if err := crypto.VerifyKeyBinding(idSPKI, sg, isig); err != nil {
		t.Errorf("our crypto rejects the SDK's identity_public_key_signature: %v", err)
	}
	if err := crypto.VerifySigningKeyBinding(sgSPKI, id, ssig); err != nil {
		t.Errorf("our crypto rejects the SDK's signing_public_key_signature: %v", err)
	}
	if got := crypto.FingerprintString(id); got != b.PublicKeyFingerprint {
		t.Errorf("our fingerprint of the SDK key %s, SDK says %s", got, b.PublicKeyFingerprint)
	}
	if !slices.Equal(p.Current.IdentityKey, idSPKI) || !slices.Equal(p.Current.SigningKey, sgSPKI) {
		t.Error("engine pinned keys differ from the SDK's registration")
	}
}

// compareShape checks that two JSON objects have the same members, and that
// string members have the same length and base64 flavour (the values
// themselves are random).
func compareShape(t *testing.T, what string, ours, theirs []byte) {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(ours, &a); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := json.Unmarshal(theirs, &b); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	shapeDiff(t, what, a, b)
}

func shapeDiff(t *testing.T, path string, a, b any) {
	t.Helper()
	switch x := b.(type) {
	case map[string]any:
		y, ok := a.(map[string]any)
		if !ok {
			t.Errorf("%s: ours is %T, SDK's is an object", path, a)
			return
		}
		for k := range x {
			if _, ok := y[k]; !ok {
				t.Errorf("%s.%s: SDK sends it, we do not", path, k)
			}
		}
		for k := range y {
			if _, ok := x[k]; !ok {
				t.Errorf("%s.%s: we send it, the SDK does not", path, k)
			}
		}
		for k := range x {
			if v, ok := y[k]; ok {
				shapeDiff(t, path+"."+k, v, x[k])
			}
		}
	case string:
		y, ok := a.(string)
		if !ok {
			t.Errorf("%s: ours is %T, SDK's is a string", path, a)
			return
		}
		if path == ".version" || path == "registration body.version" {
			return // a timestamp: lengths may differ in principle
		}
		if len(x) != len(y) {
			t.Errorf("%s: length %d, SDK's %d (%q vs %q)", path, len(y), len(x), y, x)
		}
	default:
		if (a == nil) != (b == nil) {
			t.Errorf("%s: ours %v, SDK's %v", path, a, b)
		}
		if ab, ok := a.(bool); ok {
			if bb, ok := b.(bool); ok && ab != bb {
				t.Errorf("%s: ours %v, SDK's %v", path, ab, bb)
			}
		}
	}
}
