package juicebox_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xchat-go/xchat/juicebox"
)

// pinnedWorld serves w's realms behind a server that counts the requests
// reaching any of them, and returns the operator's juicebox_config for
// user at that address.
func pinnedWorld(t *testing.T, user string) (*world, *juicebox.XConfig, *atomic.Int64) {
	t.Helper()
	w := newWorld(t)
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.set.Handler().ServeHTTP(rw, r)
	}))
	t.Cleanup(ts.Close)
	raw, err := w.set.XConfig(ts.URL, user)
	if err != nil {
		t.Fatal(err)
	}
	x, err := juicebox.ParseXConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	return w, x, &n
}

// realPins pins the world's realms as they are.
func realPins(w *world) []juicebox.RealmPin {
	var pins []juicebox.RealmPin
	for _, r := range w.set.Realms() {
		pins = append(pins, juicebox.RealmPin{ID: r.ID(), PublicKey: r.PublicKey()})
	}
	return pins
}

// TestRealmPinsMatch: a configuration that satisfies the pins registers
// and recovers.
func TestRealmPinsMatch(t *testing.T) {
	w, x, n := pinnedWorld(t, "41")
	c, err := juicebox.NewClient(x.Configuration, x.Tokens, juicebox.WithInsecureTestSettings(), juicebox.WithRealmPins(realPins(w)...))
	if err != nil {
		t.Fatal(err)
	}
	register(t, c, "2580", x.MaxGuessCount)
	got, err := c.Recover(ctx, []byte("2580"), juicebox.XUserInfo)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("recover with matching pins: %v", err)
	}
	if n.Load() == 0 {
		t.Fatal("no request reached the realms")
	}
}

// TestRealmPinsRefused: a configuration the server altered against the
// pins is refused by NewClient, naming the realm, and no request reaches
// any realm.
func TestRealmPinsRefused(t *testing.T) {
	w, x, n := pinnedWorld(t, "42")
	east, west, soft := w.set.Realm("realm-east"), w.set.Realm("realm-west"), softwareRealm(t, w)
	extra := juicebox.RealmID{0xee, 1}
	tokens := juicebox.StaticTokens{extra: "token-of-the-extra-realm"}
	for id, tok := range x.Tokens {
		tokens[id] = tok
	}
	edit := func(f func(r *juicebox.Realm)) []juicebox.Realm {
		rs := append([]juicebox.Realm(nil), x.Configuration.Realms...)
		for i := range rs {
			f(&rs[i])
		}
		return rs
	}
	// The first unpinned realm (in id order) when only realm-east is pinned.
	firstUnpinned := x.Configuration.Realms[0].ID
	if firstUnpinned == east.ID() {
		firstUnpinned = x.Configuration.Realms[1].ID
	}
	cases := []struct {
		name   string
		realms []juicebox.Realm
		reg    int
		rec    int
		pins   []juicebox.RealmPin
		realm  juicebox.RealmID
	}{
		{"stripped key", edit(func(r *juicebox.Realm) {
			if r.ID == east.ID() {
				r.PublicKey = nil
			}
		}), 3, 2, realPins(w), east.ID()},
		{"replaced key", edit(func(r *juicebox.Realm) {
			if r.ID == east.ID() {
				r.PublicKey = west.PublicKey()
			}
		}), 3, 2, realPins(w), east.ID()},
		{"key added to a software realm", edit(func(r *juicebox.Realm) {
			if r.ID == soft.ID() {
				r.PublicKey = east.PublicKey()
			}
		}), 3, 2, realPins(w), soft.ID()},
		{"extra unpinned realm", append(edit(func(*juicebox.Realm) {}),
			juicebox.Realm{ID: extra, Address: x.Configuration.Realms[0].Address}), 4, 3, realPins(w), extra},
		{"threshold reachable only with unpinned realms", edit(func(*juicebox.Realm) {}), 3, 2,
			[]juicebox.RealmPin{{ID: east.ID(), PublicKey: east.PublicKey()}}, firstUnpinned},
	}
	// The server names only the software realm (thresholds 1/1): whoever
	// serves its address would read the whole registration.
	cases = append(cases, struct {
		name   string
		realms []juicebox.Realm
		reg    int
		rec    int
		pins   []juicebox.RealmPin
		realm  juicebox.RealmID
	}{"threshold reachable with software realms only", []juicebox.Realm{{ID: soft.ID(), Address: x.Configuration.Realms[0].Address}}, 1, 1, realPins(w), soft.ID()})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := juicebox.NewConfiguration(tc.realms, tc.reg, tc.rec, juicebox.FastInsecure)
			if err != nil {
				t.Fatal(err)
			}
			c, err := juicebox.NewClient(cfg, tokens, juicebox.WithInsecureTestSettings(), juicebox.WithRealmPins(tc.pins...))
			wantPinRefusal(t, c, err, tc.realm, tokens)
		})
	}
	// A previous configuration is held to the pins as well.
	stripped, err := juicebox.NewConfiguration(cases[0].realms, 3, 2, juicebox.FastInsecure)
	if err != nil {
		t.Fatal(err)
	}
	c, err := juicebox.NewClient(x.Configuration, tokens, juicebox.WithInsecureTestSettings(),
		juicebox.WithPreviousConfigurations(stripped), juicebox.WithRealmPins(realPins(w)...))
	wantPinRefusal(t, c, err, east.ID(), tokens)
	if got := n.Load(); got != 0 {
		t.Fatalf("%d requests reached the realms", got)
	}
	for _, r := range w.set.Realms() {
		if rec := r.Record(w.set.Tenant(), "42"); rec.NumGuesses != 0 {
			t.Fatalf("%s holds a registration: %+v", r.Name(), rec)
		}
	}
}

func wantPinRefusal(t *testing.T, c *juicebox.Client, err error, id juicebox.RealmID, tokens juicebox.StaticTokens) {
	t.Helper()
	if c != nil || !errors.Is(err, juicebox.ErrRealmNotPinned) || !errors.Is(err, juicebox.ErrConfig) {
		t.Fatalf("NewClient: %v, want ErrRealmNotPinned and ErrConfig", err)
	}
	if !strings.Contains(err.Error(), id.String()) {
		t.Fatalf("error %q does not name realm %s", err, id)
	}
	for _, tok := range tokens {
		if strings.Contains(err.Error(), tok) {
			t.Fatalf("error %q carries a token", err)
		}
	}
}

// softwareRealm returns the world's realm without a Noise key.
func softwareRealm(t *testing.T, w *world) interface {
	ID() juicebox.RealmID
	PublicKey() []byte
} {
	t.Helper()
	for _, r := range w.set.Realms() {
		if r.PublicKey() == nil {
			return r
		}
	}
	t.Fatal("no software realm")
	return nil
}

// TestRealmPinsOption: pins that cannot be right are refused.
func TestRealmPinsOption(t *testing.T) {
	w, x, _ := pinnedWorld(t, "43")
	id := w.set.Realms()[0].ID()
	for name, pins := range map[string][]juicebox.RealmPin{
		"no pins":   nil,
		"short key": {{ID: id, PublicKey: make([]byte, 31)}},
		"id twice":  {{ID: id}, {ID: id}},
	} {
		if _, err := juicebox.NewClient(x.Configuration, x.Tokens, juicebox.WithInsecureTestSettings(), juicebox.WithRealmPins(pins...)); !errors.Is(err, juicebox.ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// TestRealmPinsSoftwareAddress: a software realm whose address is pinned
// is trusted to carry a share, so a configuration of software realms alone
// is accepted when their addresses are pinned, and refused, before any
// request, when the server names another address.
func TestRealmPinsSoftwareAddress(t *testing.T) {
	w, x, n := pinnedWorld(t, "44")
	soft := softwareRealm(t, w)
	addr := x.Configuration.Realms[0].Address.String()
	cfg, err := juicebox.NewConfiguration([]juicebox.Realm{{ID: soft.ID(), Address: x.Configuration.Realms[0].Address}}, 1, 1, juicebox.FastInsecure)
	if err != nil {
		t.Fatal(err)
	}
	pin := juicebox.RealmPin{ID: soft.ID(), Address: addr}
	c, err := juicebox.NewClient(cfg, x.Tokens, juicebox.WithInsecureTestSettings(), juicebox.WithRealmPins(pin))
	if err != nil {
		t.Fatal(err)
	}
	if c.Configuration() != cfg {
		t.Fatal("client holds another configuration")
	}
	before := n.Load()
	pin.Address = "https://realm.example/"
	c, err = juicebox.NewClient(cfg, x.Tokens, juicebox.WithInsecureTestSettings(), juicebox.WithRealmPins(pin))
	wantPinRefusal(t, c, err, soft.ID(), x.Tokens)
	if n.Load() != before {
		t.Fatal("a refused client reached a realm")
	}
}
