// Package crosscheck checks the Go Juicebox client against the official one:
// npm juicebox-sdk 0.3.7, the Juicebox SDK's WebAssembly build, run by node
// (jb.mjs). Both talk to the emulator's three realms (one software, two
// behind Noise) with X's configuration; the keys recovered on either side
// are then used with X's official Chat XDK (interop/peer).
package crosscheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/emulator/realm"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/interop/peer"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/juicebox/proto"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/backup"
)

// results feed the summary line TestMain prints.
var results struct {
	mu             sync.Mutex
	jsToGo, goToJS bool
	noise          []int // hardware realms holding the registration, per recovery
	countersAgree  bool
	hardware       int
}

func TestMain(m *testing.M) {
	code := m.Run()
	results.mu.Lock()
	defer results.mu.Unlock()
	if results.hardware > 0 {
		fmt.Println(summary())
	}
	os.Exit(code)
}

// summary is the line scripts/test.sh reports.
func summary() string {
	state := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "FAILED"
	}
	noise := results.hardware
	for _, n := range results.noise {
		noise = min(noise, n)
	}
	if len(results.noise) < 2 {
		noise = 0
	}
	counters := "agree"
	if !results.countersAgree {
		counters = "DISAGREE"
	}
	return fmt.Sprintf("juicebox: js→go %s, go→js %s, noise realms %d/%d, wrong-pin counters %s",
		state(results.jsToGo), state(results.goToJS), noise, results.hardware, counters)
}

// world is an emulator (X's realms and settings), the official Juicebox
// client and the official Chat XDK.
type world struct {
	t   *testing.T
	emu *emulator.Server
	url string
	js  *jsClient
	xdk *peer.Peer
	n   int
}

func newWorld(t *testing.T, opts ...realm.Option) *world {
	t.Helper()
	js := startJS(t)
	emu := emulator.New(emulator.WithJuiceboxOptions(opts...))
	ts := httptest.NewServer(emu)
	t.Cleanup(func() {
		ts.Close()
		_ = emu.Close()
	})
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@xdevplatform", "chat-xdk", "package.json")); err != nil {
		t.Fatalf("the official Chat XDK is not installed (%v): run `npm ci` in interop/", err)
	}
	p, err := peer.Start(ctxT(t), peer.WithDir(dir))
	if err != nil {
		t.Fatalf("start the Chat XDK harness: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return &world{t: t, emu: emu, url: ts.URL, js: js, xdk: p}
}

// provision creates an X account and its API client.
func (w *world) provision() (string, *api.Client) {
	w.t.Helper()
	w.n++
	body := testutil.Must(json.Marshal(emulator.ProvisionRequest{Username: fmt.Sprintf("jb_%d", w.n)}))(w.t)
	resp, err := http.Post(w.url+"/emulator/v1/users", "application/json", bytes.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var pr emulator.ProvisionResponse
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
		w.t.Fatal(err)
	}
	c, err := api.New(api.WithBaseURL(w.url), api.WithBearerToken(pr.AccessToken))
	if err != nil {
		w.t.Fatal(err)
	}
	return pr.ID, c
}

// ownConfig fetches the account's juicebox_config as X serves it, parsed
// for Go and split for the official client.
func (w *world) ownConfig(ctx context.Context, c *api.Client, id string) (*juicebox.XConfig, *jsAccount) {
	w.t.Helper()
	keys, _, err := c.GetUserPublicKeys(ctx, id, []string{"public_key_version", "juicebox_config"})
	if err != nil || len(keys.Data) == 0 || keys.Data[0].JuiceboxConfig == nil {
		w.t.Fatalf("own keys: %v", err)
	}
	raw := keys.Data[0].JuiceboxConfig
	x, err := juicebox.ParseXConfig(raw)
	if err != nil {
		w.t.Fatal(err)
	}
	var wire struct {
		KeyStore string `json:"key_store_token_map_json"`
		TokenMap []struct {
			Key   string `json:"key"`
			Value struct {
				Token string `json:"token"`
			} `json:"value"`
		} `json:"token_map"`
	}
	if err := json.Unmarshal(raw, &wire); err != nil {
		w.t.Fatal(err)
	}
	ja := &jsAccount{js: w.js, config: wire.KeyStore, tokens: map[string]string{}}
	for _, e := range wire.TokenMap {
		ja.tokens[e.Key] = e.Value.Token
	}
	return x, ja
}

// records returns how many realms hold a registration for id, how many
// of those are hardware realms, and the versions they hold.
func (w *world) records(id string) (registered, hardware int, versions map[[16]byte]int) {
	set := w.emu.Juicebox()
	versions = map[[16]byte]int{}
	for _, r := range set.Realms() {
		rec := r.Record(set.Tenant(), id)
		if rec.State == realm.Registered {
			registered++
			versions[rec.Version]++
			if r.PublicKey() != nil {
				hardware++
			}
		}
	}
	return registered, hardware, versions
}

// guessCounts is every realm's guess count for id.
func (w *world) guessCounts(id string) []uint16 {
	set := w.emu.Juicebox()
	var out []uint16
	for _, r := range set.Realms() {
		out = append(out, r.Record(set.Tenant(), id).GuessCount)
	}
	return out
}

// softwareDown takes the software realm down, so only the two realms behind
// Noise can serve a recovery (threshold 2); it returns the undo.
func (w *world) softwareDown() func() {
	r := w.emu.Juicebox().Realm("realm-b")
	r.SetFaults(realm.Faults{Down: true})
	return func() { r.SetFaults(realm.Faults{}) }
}

// registerXDKAccount publishes the keys of an XDK account for a new user
// and returns the user, its client and the XDK's 64-byte key export.
func (w *world) registerXDKAccount(ctx context.Context, name string) (string, *api.Client, *peer.Account, *peer.Registration, []byte) {
	w.t.Helper()
	id, c := w.provision()
	xa := w.xdk.Account(name)
	reg, err := xa.GenerateKeypairs(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	k := reg.PublicKey
	if _, _, err := c.RegisterPublicKey(ctx, id, &api.AddUserPublicKeyRequest{Version: reg.Version, GenerateVersion: true,
		PublicKey: api.PublicKeyRegistration{PublicKey: k.PublicKey, SigningPublicKey: k.SigningPublicKey,
			IdentityPublicKeySignature: k.IdentityPublicKeySignature, SigningPublicKeySignature: k.SigningPublicKeySignature,
			PublicKeyFingerprint: k.PublicKeyFingerprint, RegistrationMethod: k.RegistrationMethod}}); err != nil {
		w.t.Fatal(err)
	}
	blob, err := xa.ExportKeys(ctx)
	if err != nil || len(blob) != juicebox.XSecretSize {
		w.t.Fatalf("XDK exportKeys: %d bytes, %v", len(blob), err)
	}
	return id, c, xa, reg, blob
}

// TestJuiceboxCrossCheck runs X's settings (Standard2019, 20 guesses, three
// realms, two behind Noise) between the two clients.
func TestJuiceboxCrossCheck(t *testing.T) {
	w := newWorld(t)
	results.mu.Lock()
	results.hardware = 2
	results.mu.Unlock()
	var b *goAccount
	t.Run("js→go", func(t *testing.T) { w.jsToGo(t) })
	t.Run("go→js", func(t *testing.T) { b = w.goToJS(t) })
	t.Run("wrong-pin counters", func(t *testing.T) {
		if b == nil {
			t.Fatal("go→js did not leave a backup to guess at")
		}
		w.counters(t, b)
	})
	t.Run("delete", func(t *testing.T) {
		if b == nil {
			t.Fatal("go→js did not leave a backup to delete")
		}
		w.deleteBothWays(t, b)
	})
}

// jsToGo: the official client registers an XDK account's keys; our engine
// restores them through the two Noise realms alone, and signs a message
// the XDK verifies with the account's registered signing key.
func (w *world) jsToGo(t *testing.T) {
	ctx := ctxT(t)
	id, c, xa, reg, blob := w.registerXDKAccount(ctx, "js-registers")
	x, ja := w.ownConfig(ctx, c, id)
	if err := ja.register("2580", blob, x.MaxGuessCount); err != nil {
		t.Fatalf("official client register: %v", err)
	}
	n, hw, versions := w.records(id)
	if n != 3 || len(versions) != 1 {
		t.Fatalf("official registration reached %d realms with %d versions", n, len(versions))
	}
	up := w.softwareDown()
	store := keystore.NewMemory()
	r, err := backup.Restore(ctx, store, c, id, []byte("2580"))
	up()
	if err != nil {
		t.Fatalf("Go restore of the official registration: %v", err)
	}
	fp, err := xa.Fingerprint(ctx)
	if err != nil || r.Fingerprint != fp {
		t.Fatalf("restored fingerprint %s, XDK's %s (%v)", r.Fingerprint, fp, err)
	}
	e, err := session.Open(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got, err := e.ExportBackup()
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatal("restored keys differ from the XDK's export")
	}
	kp, err := crypto.ParseBackup(got)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("MessageCreateEvent,restored by Go from the official Juicebox client")
	sig, err := crypto.Sign(kp.Signing, msg)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := xa.Verify(ctx, reg.PublicKey.SigningPublicKey, sig, msg)
	if err != nil || !ok {
		t.Fatalf("the XDK does not verify the restored key's signature: %v", err)
	}
	if ok := testutil.Must(xa.Verify(ctx, reg.PublicKey.SigningPublicKey, sig, append(msg, '!')))(t); ok {
		t.Fatal("the XDK verified a signature over another message")
	}
	results.mu.Lock()
	results.jsToGo = true
	results.noise = append(results.noise, hw)
	results.mu.Unlock()
	t.Logf("js→go: the official client registered on %d realms (%d behind Noise); Go restored through the Noise realms alone; fingerprint %s; the XDK verifies a signature by the restored key", n, hw, fp)
}

// goAccount is an account of our engine with a backup.
type goAccount struct {
	id  string
	c   *api.Client
	e   *session.Engine
	ja  *jsAccount
	pin string
	max uint16
}

// goToJS: our engine backs its keys up; the official client recovers them
// through the two Noise realms alone; the XDK, loaded with them, has our
// fingerprint and signs what our crypto verifies.
func (w *world) goToJS(t *testing.T) *goAccount {
	ctx := ctxT(t)
	id, c := w.provision()
	store := keystore.NewMemory()
	if err := session.CreateAccount(ctx, store, id, nil); err != nil {
		t.Fatal(err)
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(c))
	if err != nil {
		t.Fatal(err)
	}
	w.t.Cleanup(func() { _ = e.Close() }) // used by the later subtests
	if _, err := e.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if err := backup.Setup(ctx, e, c, []byte("1357")); err != nil {
		t.Fatalf("Go backup: %v", err)
	}
	x, ja := w.ownConfig(ctx, c, id)
	_, hw, _ := w.records(id)
	up := w.softwareDown()
	got, err := ja.recover("1357")
	up()
	if err != nil {
		t.Fatalf("official client recover of the Go registration: %v", err)
	}
	want := testutil.Must(e.ExportBackup())(t)
	if !bytes.Equal(got, want) {
		t.Fatal("the official client recovered other bytes than Go registered")
	}
	xb := w.xdk.Account("js-recovers")
	if err := xb.ImportKeys(ctx, got, e.PublicKeyVersion()); err != nil {
		t.Fatal(err)
	}
	fp := testutil.Must(e.Fingerprint())(t)
	if xfp, err := xb.Fingerprint(ctx); err != nil || xfp != fp {
		t.Fatalf("XDK fingerprint %s after import, ours %s (%v)", xfp, fp, err)
	}
	kp := testutil.Must(crypto.ParseBackup(want))(t)
	msg := []byte("MessageCreateEvent,recovered by the official Juicebox client")
	sig, err := xb.Sign(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := crypto.Verify(kp.Signing.PublicKey(), msg, sig); err != nil {
		t.Fatalf("our key does not verify the XDK's signature: %v", err)
	}
	results.mu.Lock()
	results.goToJS = true
	results.noise = append(results.noise, hw)
	results.mu.Unlock()
	t.Logf("go→js: Go registered; the official client recovered through the Noise realms alone; the XDK with those keys has fingerprint %s and signs what our key verifies", fp)
	return &goAccount{id: id, c: c, e: e, ja: ja, pin: "1357", max: x.MaxGuessCount}
}

// counters: wrong PINs from either client use up the same guesses on the
// same realm counters, and the right PIN resets them.
func (w *world) counters(t *testing.T, b *goAccount) {
	ctx := ctxT(t)
	agree := true
	expect := func(who string, remaining uint16, count uint16, err error) {
		t.Helper()
		reported := -1
		var pe *juicebox.InvalidPinError
		var je *jsError
		switch {
		case errors.As(err, &pe):
			reported = int(pe.GuessesRemaining)
		case errors.As(err, &je) && je.Reason == "InvalidPin" && je.GuessesRemaining != nil:
			reported = *je.GuessesRemaining
		}
		counts := w.guessCounts(b.id)
		ok := reported == int(remaining)
		for _, c := range counts {
			ok = ok && c == count
		}
		if !ok {
			agree = false
			t.Errorf("%s: reported %d guesses remaining (err %v), realm counters %v; want %d remaining, counters %d", who, reported, err, counts, remaining, count)
		}
	}
	goRestore := func(pin string) error {
		_, err := backup.Restore(ctx, keystore.NewMemory(), b.c, b.id, []byte(pin))
		return err
	}
	_, err := b.ja.recover("0000")
	expect("official client, wrong PIN", b.max-1, 1, err)
	expect("Go, wrong PIN", b.max-2, 2, goRestore("9999"))
	_, err = b.ja.recover("1111")
	expect("official client, wrong PIN", b.max-3, 3, err)
	if err := goRestore(b.pin); err != nil {
		t.Fatalf("Go with the right PIN: %v", err)
	}
	if c := w.guessCounts(b.id); !slices3(c, 0) {
		agree = false
		t.Errorf("counters after the right PIN: %v", c)
	}
	_, err = b.ja.recover("2222")
	expect("official client after a reset", b.max-1, 1, err)
	if _, err := b.ja.recover(b.pin); err != nil {
		t.Fatalf("official client with the right PIN: %v", err)
	}
	expect("Go after the official reset", b.max-1, 1, goRestore("3333"))
	results.mu.Lock()
	results.countersAgree = agree && !t.Failed()
	results.mu.Unlock()
}

func slices3(c []uint16, v uint16) bool {
	return len(c) == 3 && c[0] == v && c[1] == v && c[2] == v
}

// deleteBothWays: a delete by either client leaves nothing for the other.
func (w *world) deleteBothWays(t *testing.T, b *goAccount) {
	ctx := ctxT(t)
	if err := b.ja.delete(); err != nil {
		t.Fatalf("official delete: %v", err)
	}
	st, err := backup.Status(ctx, b.e, b.c)
	if err != nil || st.Registered {
		t.Fatalf("Go status after the official delete: %+v %v", st, err)
	}
	if err := backup.Setup(ctx, b.e, b.c, []byte(b.pin)); err != nil {
		t.Fatal(err)
	}
	if err := backup.Delete(ctx, b.e, b.c); err != nil {
		t.Fatal(err)
	}
	_, err = b.ja.recover(b.pin)
	var je *jsError
	if !errors.As(err, &je) || je.Reason != "NotRegistered" {
		t.Fatalf("official recover after the Go delete: %v", err)
	}
}

// TestFastInsecureStretch checks the test-only PIN stretch (Argon2's
// minimum parameters) both ways, against realms that advertise it.
func TestFastInsecureStretch(t *testing.T) {
	w := newWorld(t, realm.WithPinHashingMode(juicebox.FastInsecure))
	ctx := ctxT(t)
	id, c, xa, _, blob := w.registerXDKAccount(ctx, "fast")
	x, ja := w.ownConfig(ctx, c, id)
	if x.Configuration.PinHashingMode != juicebox.FastInsecure {
		t.Fatal("realms do not advertise FastInsecure")
	}
	if err := ja.register("2580", blob, x.MaxGuessCount); err != nil {
		t.Fatal(err)
	}
	jb := backup.WithJuiceboxOptions(juicebox.WithInsecureTestSettings())
	r, err := backup.Restore(ctx, keystore.NewMemory(), c, id, []byte("2580"), jb)
	if err != nil {
		t.Fatalf("Go restore: %v", err)
	}
	if fp := testutil.Must(xa.Fingerprint(ctx))(t); fp != r.Fingerprint {
		t.Fatal("fingerprint differs")
	}
	if _, err := backup.Restore(ctx, keystore.NewMemory(), c, id, []byte("2580")); !errors.Is(err, juicebox.ErrConfig) {
		t.Fatalf("Go accepted FastInsecure without opting in: %v", err)
	}
	// And back: Go registers under FastInsecure, the official client recovers.
	gc, err := juicebox.NewClient(x.Configuration, x.Tokens, juicebox.WithInsecureTestSettings())
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte{0x42}, juicebox.XSecretSize)
	if err := gc.Register(ctx, []byte("1357"), secret, juicebox.XUserInfo, 3); err != nil {
		t.Fatal(err)
	}
	got, err := ja.recover("1357")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("official recover: %v", err)
	}
	// The guess limit chosen by Go (3) is what the official client sees.
	_, err = ja.recover("0000")
	var je *jsError
	if !errors.As(err, &je) || je.GuessesRemaining == nil || *je.GuessesRemaining != 2 {
		t.Fatalf("official wrong PIN: %v", err)
	}
	t.Logf("juicebox: FastInsecure stretch agrees both ways (%s)", strings.ToLower(x.Configuration.PinHashingMode.String()))
}

// TestRealmAnswersJSUnderstands drives the official client into the realm
// answers an honest run does not produce: per-realm unlock-tag rejections,
// a locked backup, and the HTTP and Noise error variants.
func TestRealmAnswersJSUnderstands(t *testing.T) {
	w := newWorld(t, realm.WithPinHashingMode(juicebox.FastInsecure))
	ctx := ctxT(t)
	id, c := w.provision()
	store := keystore.NewMemory()
	if err := session.CreateAccount(ctx, store, id, nil); err != nil {
		t.Fatal(err)
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(c))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Register(ctx); err != nil {
		t.Fatal(err)
	}
	x, ja := w.ownConfig(ctx, c, id)
	gc, err := juicebox.NewClient(x.Configuration, x.Tokens, juicebox.WithInsecureTestSettings())
	if err != nil {
		t.Fatal(err)
	}
	secret := testutil.Must(e.ExportBackup())(t)
	set := w.emu.Juicebox()
	wantJS := func(what string, err error, reason string, remaining int) {
		t.Helper()
		var je *jsError
		if !errors.As(err, &je) || je.Reason != reason || (remaining >= 0 && (je.GuessesRemaining == nil || *je.GuessesRemaining != remaining)) {
			t.Fatalf("%s: official client says %v, want %s (%d remaining)", what, err, reason, remaining)
		}
	}

	// BadUnlockKeyTag{guesses_remaining}: two realms reject the unlock tag.
	if err := gc.Register(ctx, []byte("2580"), secret, juicebox.XUserInfo, 5); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"realm-east", "realm-west"} {
		set.Realm(name).TamperRecord(set.Tenant(), id, func(q *proto.Register2Request) { q.UnlockKeyTag[0] ^= 1 })
	}
	_, err = ja.recover("2580")
	wantJS("unlock tag rejected by two realms", err, "InvalidPin", 4)
	// Go deliberately differs: the OPRF step proved the PIN (the commitment
	// matched), so realms rejecting its tag violate the protocol; calling
	// it a wrong PIN would send the user guessing (juicebox.TestRealmDeniesProvenPIN).
	_, err = gc.Recover(ctx, []byte("2580"), juicebox.XUserInfo)
	var pe *juicebox.InvalidPinError
	if errors.As(err, &pe) || !errors.Is(err, juicebox.ErrAssertion) {
		t.Fatalf("Go, unlock tag rejected by two realms: %v, want ErrAssertion", err)
	}

	// NoGuesses: a backup locked by wrong PINs from both clients.
	if err := gc.Register(ctx, []byte("2580"), secret, juicebox.XUserInfo, 3); err != nil {
		t.Fatal(err)
	}
	_, err = ja.recover("0000")
	wantJS("first wrong PIN", err, "InvalidPin", 2)
	if _, err := gc.Recover(ctx, []byte("0001"), juicebox.XUserInfo); !errors.As(err, &pe) || pe.GuessesRemaining != 1 {
		t.Fatalf("Go, second wrong PIN: %v", err)
	}
	_, err = ja.recover("0002")
	wantJS("last wrong PIN", err, "InvalidPin", 0)
	_, err = ja.recover("2580")
	wantJS("right PIN on a locked backup", err, "InvalidPin", 0)
	if _, err := gc.Recover(ctx, []byte("2580"), juicebox.XUserInfo); !errors.Is(err, juicebox.ErrNoGuesses) {
		t.Fatalf("Go, right PIN on a locked backup: %v", err)
	}

	// HTTP 426/429 (software realm) and RateLimitExceeded (Noise realm),
	// and rejected tokens on both kinds.
	for _, name := range []string{"realm-b", "realm-east"} {
		r := set.Realm(name)
		r.SetFaults(realm.Faults{UpgradeRequired: true})
		wantJS(name+" upgrade required", ja.register("2580", secret, 3), "UpgradeRequired", -1)
		r.SetFaults(realm.Faults{RateLimited: true})
		wantJS(name+" rate limited", ja.register("2580", secret, 3), "RateLimitExceeded", -1)
		r.SetFaults(realm.Faults{})
		bad := &jsAccount{js: ja.js, config: ja.config, tokens: map[string]string{}}
		for k, v := range ja.tokens {
			bad.tokens[k] = v
		}
		bad.tokens[r.ID().String()] = bad.tokens[set.Realm("realm-west").ID().String()]
		wantJS(name+" with another realm's token", bad.register("2580", secret, 3), "InvalidAuth", -1)
	}
	t.Log("juicebox: the official client reads BadUnlockKeyTag, NoGuesses, 426, 429, RateLimitExceeded and InvalidAuth from the emulator's realms as Go does")
}
