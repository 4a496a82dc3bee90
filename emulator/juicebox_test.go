package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/emulator/realm"
	"github.com/xchat-go/xchat/juicebox"
)

// TestJuiceboxConfig: the public-key operations hand juicebox_config to
// the account itself only, and it reaches working realms.
func TestJuiceboxConfig(t *testing.T) {
	e := newEnv(t, emulator.WithJuiceboxOptions(realm.WithPinHashingMode(juicebox.FastInsecure), realm.WithMaxGuesses(5)))
	alice, bob := e.newUser("alice"), e.newUser("bob")

	var own api.GetUsersPublicKeyResponse
	e.must(e.do("GET", "/2/users/"+alice.id+"/public_keys", alice.token, nil), http.StatusOK).decode(t, &own)
	if len(own.Data) != 1 || own.Data[0].JuiceboxConfig == nil {
		t.Fatalf("own keys without juicebox_config: %+v", own.Data)
	}
	var theirs api.GetUsersPublicKeyResponse
	e.must(e.do("GET", "/2/users/"+alice.id+"/public_keys", bob.token, nil), http.StatusOK).decode(t, &theirs)
	if len(theirs.Data) != 1 || theirs.Data[0].JuiceboxConfig != nil {
		t.Fatalf("another user's keys carry juicebox_config: %s", theirs.Data[0].JuiceboxConfig)
	}
	var batch api.GetUsersPublicKeysResponse
	e.must(e.do("GET", "/2/users/public_keys?ids="+alice.id+","+bob.id, bob.token, nil), http.StatusOK).decode(t, &batch)
	// In the order of ids: alice's key (no config for bob), then bob's own.
	if len(batch.Data) != 2 || batch.Data[0].JuiceboxConfig != nil || batch.Data[1].JuiceboxConfig == nil {
		t.Fatalf("batch: %+v", batch.Data)
	}
	var narrow api.GetUsersPublicKeyResponse
	e.must(e.do("GET", "/2/users/"+alice.id+"/public_keys?public_key.fields=public_key", alice.token, nil), http.StatusOK).decode(t, &narrow)
	if narrow.Data[0].JuiceboxConfig != nil {
		t.Fatal("juicebox_config served without being asked for")
	}

	x, err := juicebox.ParseXConfig(own.Data[0].JuiceboxConfig)
	if err != nil {
		t.Fatal(err)
	}
	if x.MaxGuessCount != 5 || x.Configuration.RegisterThreshold != 3 || x.Configuration.RecoverThreshold != 2 {
		t.Fatalf("config %+v", x)
	}
	c, err := juicebox.NewClient(x.Configuration, x.Tokens, juicebox.WithInsecureTestSettings())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	secret := alice.kp.Backup()
	if err := c.Register(ctx, []byte("2580"), secret, juicebox.XUserInfo, x.MaxGuessCount); err != nil {
		t.Fatal(err)
	}
	var pe *juicebox.InvalidPinError
	if _, err := c.Recover(ctx, []byte("1111"), juicebox.XUserInfo); !errors.As(err, &pe) || pe.GuessesRemaining != 4 {
		t.Fatalf("wrong PIN: %v", err)
	}
	var recs struct {
		Data []emulator.JuiceboxRealmRecord `json:"data"`
	}
	e.must(e.do("GET", "/emulator/v1/juicebox/users/"+alice.id, "", nil), http.StatusOK).decode(t, &recs)
	hw := 0
	for _, r := range recs.Data {
		if r.State != "registered" || r.GuessCount != 1 || r.NumGuesses != 5 {
			t.Fatalf("realm record %+v", r)
		}
		if r.Hardware {
			hw++
		}
	}
	if len(recs.Data) != 3 || hw != 2 {
		t.Fatalf("records %+v", recs.Data)
	}
	// Faults switch from the emulator endpoint: with one realm down the
	// backup is still recovered.
	e.must(e.do("POST", "/emulator/v1/juicebox/realms/realm-east/faults", "", emulator.JuiceboxFaults{Down: true}), http.StatusNoContent)
	got, err := c.Recover(ctx, []byte("2580"), juicebox.XUserInfo)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("recover with realm-east down: %v", err)
	}
	if err := c.Register(ctx, []byte("2580"), secret, nil, 5); !errors.Is(err, juicebox.ErrTransient) {
		t.Fatalf("register with realm-east down: %v", err)
	}
	e.must(e.do("POST", "/emulator/v1/juicebox/realms/realm-x/faults", "", emulator.JuiceboxFaults{}), http.StatusNotFound)
	e.must(e.do("POST", "/emulator/v1/juicebox/realms/realm-b/faults", "", json.RawMessage(`{"delay_ms":-1}`)), http.StatusBadRequest)

	// The POST answer carries the config too.
	var reg api.AddUserPublicKeyResponse
	r, err := crypto.NewRegistration(alice.kp)
	if err != nil {
		t.Fatal(err)
	}
	f := r.Fields()
	body := api.AddUserPublicKeyRequest{Version: "1", GenerateVersion: true, PublicKey: api.PublicKeyRegistration{
		PublicKey: f.PublicKey, SigningPublicKey: f.SigningPublicKey, IdentityPublicKeySignature: f.IdentityPublicKeySignature}}
	e.must(e.do("POST", "/2/users/"+alice.id+"/public_keys", alice.token, body), http.StatusOK).decode(t, &reg)
	if reg.Data == nil || reg.Data.JuiceboxConfig == nil {
		t.Fatalf("POST answer without juicebox_config: %+v", reg.Data)
	}
}
