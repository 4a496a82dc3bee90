package api_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
)

// registerKeys publishes a fresh key pair for the client's user.
func registerKeys(t *testing.T, c *api.Client, userID string) {
	t.Helper()
	kp, err := crypto.GenerateKeyPair(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := crypto.NewRegistration(kp)
	if err != nil {
		t.Fatal(err)
	}
	f := reg.Fields()
	if _, _, err := c.RegisterPublicKey(context.Background(), userID, &api.AddUserPublicKeyRequest{Version: "1", GenerateVersion: true,
		PublicKey: api.PublicKeyRegistration{PublicKey: f.PublicKey, SigningPublicKey: f.SigningPublicKey,
			IdentityPublicKeySignature: f.IdentityPublicKeySignature, SigningPublicKeySignature: f.SigningPublicKeySignature}}); err != nil {
		t.Fatal(err)
	}
}

// asKnown turns an attribution into the KnownKey list a caller keeps.
func asKnown(t *testing.T, keys map[string][]api.PublicKey) []api.KnownKey {
	t.Helper()
	var out []api.KnownKey
	for uid, ks := range keys {
		for _, k := range ks {
			pk, err1 := base64.StdEncoding.DecodeString(k.PublicKey)
			sk, err2 := base64.StdEncoding.DecodeString(k.SigningPublicKey)
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			out = append(out, api.KnownKey{UserID: uid, Version: k.PublicKeyVersion, PublicKey: pk, SigningPublicKey: sk})
		}
	}
	return out
}

// Item 8 of issue #13: with spec-shaped keys (no user_id) a refresh of
// users whose keys are known costs one call, first contact one call per
// user, and a rotation is attributed to the right user.
func TestPublicKeysByUserSpecShaped(t *testing.T) {
	e := startEmulator(t) // spec-strict: no user_id on keys
	users := map[string]*api.Client{}
	var ids []string
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		u, c := e.provision(name)
		registerKeys(t, c, u.ID)
		users[u.ID] = c
		ids = append(ids, u.ID)
	}
	me := users[ids[0]]
	ctx := context.Background()

	first, err := me.GetPublicKeysByUser(ctx, ids[1:], nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Calls != 3 || len(first.Keys) != 3 {
		t.Fatalf("first contact: %d calls, %d users", first.Calls, len(first.Keys))
	}
	known := asKnown(t, first.Keys)
	again, err := me.GetPublicKeysByUser(ctx, ids[1:], nil, known)
	if err != nil {
		t.Fatal(err)
	}
	if again.Calls != 1 {
		t.Fatalf("refresh of known users: %d calls, want 1", again.Calls)
	}
	for _, id := range ids[1:] {
		if !slices.EqualFunc(again.Keys[id], first.Keys[id], func(a, b api.PublicKey) bool { return a.PublicKey == b.PublicKey }) {
			t.Fatalf("user %s attributed %+v, had %+v", id, again.Keys[id], first.Keys[id])
		}
	}
	// carol rotates: the new key is not guessed, it is fetched.
	carol := ids[2]
	registerKeys(t, users[carol], carol)
	rot, err := me.GetPublicKeysByUser(ctx, ids[1:], nil, known)
	if err != nil {
		t.Fatal(err)
	}
	if len(rot.Keys[carol]) != 2 || len(rot.Keys[ids[1]]) != 1 || len(rot.Keys[ids[3]]) != 1 {
		t.Fatalf("after rotation: %d %d %d keys", len(rot.Keys[ids[1]]), len(rot.Keys[carol]), len(rot.Keys[ids[3]]))
	}
	t.Logf("key lookups: first contact %d calls, refresh %d, after a rotation %d", first.Calls, again.Calls, rot.Calls)
}

func TestPublicKeysByUserLabelled(t *testing.T) {
	e := startEmulator(t, emulator.WithPublicKeyUserIDs(true))
	u1, c1 := e.provision("alice")
	u2, c2 := e.provision("bob")
	u3, c3 := e.provision("carol")
	registerKeys(t, c1, u1.ID)
	registerKeys(t, c2, u2.ID)
	registerKeys(t, c3, u3.ID)
	ctx := context.Background()
	// The first batch teaches the client that this server labels keys.
	got, err := c1.GetPublicKeysByUser(ctx, []string{u2.ID, u3.ID}, nil, []api.KnownKey{{UserID: u2.ID, Version: "0"}})
	if err != nil || got.Calls != 1 || len(got.Keys[u2.ID]) != 1 || len(got.Keys[u3.ID]) != 1 {
		t.Fatalf("labelled batch: %+v, %v", got, err)
	}
	got, err = c1.GetPublicKeysByUser(ctx, []string{u2.ID, u3.ID}, nil, nil)
	if err != nil || got.Calls != 1 {
		t.Fatalf("labelled batch without known keys: %+v, %v", got, err)
	}
}

// A server cannot make the client attribute one user's keys to another.
func TestPublicKeysByUserRefusesMixedAnswers(t *testing.T) {
	kA := api.PublicKey{PublicKeyVersion: "1", PublicKey: "QUFB", SigningPublicKey: "U0lH"}
	kB := api.PublicKey{PublicKeyVersion: "1", PublicKey: "QkJC", SigningPublicKey: "U0lI"}
	knownA := api.KnownKey{UserID: aliceID, Version: "1", PublicKey: []byte("AAA"), SigningPublicKey: []byte("SIG")}
	knownB := api.KnownKey{UserID: bobID, Version: "1", PublicKey: []byte("BBB"), SigningPublicKey: []byte("SIH")}
	label := func(k api.PublicKey, uid string) api.PublicKey { k.UserID = uid; return k }
	for _, tc := range []struct {
		name    string
		batch   []api.PublicKey
		perUser map[string][]api.PublicKey
		known   []api.KnownKey
		wantErr bool
		want    map[string]string // user -> public_key
	}{
		{name: "order is not trusted", batch: []api.PublicKey{kB, kA}, known: []api.KnownKey{knownA, knownB},
			want: map[string]string{aliceID: kA.PublicKey, bobID: kB.PublicKey}},
		{name: "labelled: one key for two users", batch: []api.PublicKey{label(kA, aliceID), label(kA, bobID)}, known: []api.KnownKey{knownA}, wantErr: true},
		{name: "labelled: unrequested user", batch: []api.PublicKey{label(kA, aliceID), label(kB, "999")}, known: []api.KnownKey{knownA}, wantErr: true},
		{name: "unlabelled duplicate falls back to per-user", batch: []api.PublicKey{kA, kA}, known: []api.KnownKey{knownA},
			perUser: map[string][]api.PublicKey{aliceID: {kA}, bobID: {kB}}, want: map[string]string{aliceID: kA.PublicKey, bobID: kB.PublicKey}},
		{name: "per-user answers sharing a key", batch: []api.PublicKey{kA, kA}, known: []api.KnownKey{knownA},
			perUser: map[string][]api.PublicKey{aliceID: {kA}, bobID: {kA}}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/2/users/public_keys":
					writeJSON(w, 200, api.GetUsersPublicKeysResponse{Data: tc.batch})
				case "/2/users/" + aliceID + "/public_keys":
					writeJSON(w, 200, api.GetUsersPublicKeyResponse{Data: tc.perUser[aliceID]})
				case "/2/users/" + bobID + "/public_keys":
					writeJSON(w, 200, api.GetUsersPublicKeyResponse{Data: tc.perUser[bobID]})
				default:
					http.NotFound(w, r)
				}
			})
			got, err := c.GetPublicKeysByUser(context.Background(), []string{aliceID, bobID}, nil, tc.known)
			if tc.wantErr {
				if !errors.Is(err, api.ErrKeyAttribution) {
					t.Fatalf("got %+v, %v; want ErrKeyAttribution", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for uid, pk := range tc.want {
				if len(got.Keys[uid]) != 1 || got.Keys[uid][0].PublicKey != pk {
					t.Fatalf("user %s got %+v", uid, got.Keys[uid])
				}
			}
		})
	}
}
