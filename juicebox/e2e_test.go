package juicebox_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/emulator/realm"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/juicebox/proto"
)

// world is three emulated realms (one software, two behind Noise) served
// over loopback HTTP.
type world struct {
	t   *testing.T
	set *realm.Set
	url string
	mu  sync.Mutex
	now time.Time
}

func newWorld(t *testing.T, opts ...realm.Option) *world {
	t.Helper()
	w := &world{t: t, now: time.Unix(1_700_000_000, 0)}
	opts = append([]realm.Option{realm.WithPinHashingMode(juicebox.FastInsecure), realm.WithClock(w.clock)}, opts...)
	set, err := realm.NewSet(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(set.Handler())
	t.Cleanup(ts.Close)
	w.set, w.url = set, ts.URL
	return w
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

// client builds a client for user from the juicebox_config the realms'
// operator would serve.
func (w *world) client(user string, opts ...juicebox.Option) (*juicebox.Client, *juicebox.XConfig) {
	w.t.Helper()
	raw, err := w.set.XConfig(w.url, user)
	if err != nil {
		w.t.Fatal(err)
	}
	x, err := juicebox.ParseXConfig(raw)
	if err != nil {
		w.t.Fatal(err)
	}
	opts = append([]juicebox.Option{juicebox.WithInsecureTestSettings(), juicebox.WithClock(w.clock)}, opts...)
	c, err := juicebox.NewClient(x.Configuration, x.Tokens, opts...)
	if err != nil {
		w.t.Fatal(err)
	}
	return c, x
}

// counts returns every realm's guess count for user.
func (w *world) counts(user string) []uint16 {
	var out []uint16
	for _, r := range w.set.Realms() {
		out = append(out, w.set.Realm(r.Name()).Record(w.set.Tenant(), user).GuessCount)
	}
	return out
}

var ctx = context.Background()

var secret = bytes.Repeat([]byte{0xa5}, juicebox.XSecretSize)

func register(t *testing.T, c *juicebox.Client, pin string, guesses uint16) {
	t.Helper()
	if err := c.Register(ctx, []byte(pin), secret, juicebox.XUserInfo, guesses); err != nil {
		t.Fatalf("register: %v", err)
	}
}

func wantPinError(t *testing.T, err error, remaining uint16) {
	t.Helper()
	var pe *juicebox.InvalidPinError
	if !errors.As(err, &pe) || pe.GuessesRemaining != remaining {
		t.Fatalf("got %v, want InvalidPinError{%d}", err, remaining)
	}
}

func TestRegisterRecoverDelete(t *testing.T) {
	w := newWorld(t)
	c, x := w.client("1001")
	if x.MaxGuessCount != realm.DefaultMaxGuesses {
		t.Fatalf("served max_guess_count %d", x.MaxGuessCount)
	}
	if _, err := c.Recover(ctx, []byte("2580"), nil); !errors.Is(err, juicebox.ErrNotRegistered) {
		t.Fatalf("recover before register: %v", err)
	}
	register(t, c, "2580", x.MaxGuessCount)
	got, err := c.Recover(ctx, []byte("2580"), juicebox.XUserInfo)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("recover: %x %v", got, err)
	}
	// Each realm holds the registration; a second client (fresh Noise
	// sessions) recovers too.
	c2, _ := w.client("1001")
	if got, err := c2.Recover(ctx, []byte("2580"), nil); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("second client: %v", err)
	}
	// Another user sees nothing.
	other, _ := w.client("1002")
	if _, err := other.Recover(ctx, []byte("2580"), nil); !errors.Is(err, juicebox.ErrNotRegistered) {
		t.Fatalf("other user: %v", err)
	}
	// A different info (salt) is a wrong PIN.
	_, err = c.Recover(ctx, []byte("2580"), []byte("someone else"))
	wantPinError(t, err, x.MaxGuessCount-1)
	if err := c.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Recover(ctx, []byte("2580"), nil); !errors.Is(err, juicebox.ErrNotRegistered) {
		t.Fatalf("recover after delete: %v", err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Registered || s.Err != nil {
			t.Fatalf("status after delete: %+v", s)
		}
	}
}

// TestGuessCounting: every wrong PIN costs one guess on every realm, a
// right PIN resets the counts, and the limit locks the secret for good.
func TestGuessCounting(t *testing.T) {
	w := newWorld(t)
	c, _ := w.client("7")
	register(t, c, "2580", 3)
	_, err := c.Recover(ctx, []byte("0000"), nil)
	wantPinError(t, err, 2)
	if got := w.counts("7"); !equalCounts(got, 1) {
		t.Fatalf("counts after one wrong PIN: %v", got)
	}
	if _, err := c.Recover(ctx, []byte("2580"), nil); err != nil {
		t.Fatal(err)
	}
	if got := w.counts("7"); !equalCounts(got, 0) {
		t.Fatalf("counts after the right PIN: %v", got)
	}
	for want := uint16(2); ; want-- {
		_, err := c.Recover(ctx, []byte("1111"), nil)
		wantPinError(t, err, want)
		if want == 0 {
			if !errors.Is(err, juicebox.ErrNoGuesses) {
				t.Fatalf("last guess: %v does not match ErrNoGuesses", err)
			}
			break
		}
	}
	// Locked: even the right PIN fails, and the realms destroyed the data.
	_, err = c.Recover(ctx, []byte("2580"), nil)
	if !errors.Is(err, juicebox.ErrNoGuesses) {
		t.Fatalf("right PIN after lockout: %v", err)
	}
	for _, r := range w.set.Realms() {
		if st := r.Record(w.set.Tenant(), "7").State; st != realm.NoGuesses {
			t.Fatalf("realm %s: state %v", r.Name(), st)
		}
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.Locked {
			t.Fatalf("status: %+v", s)
		}
	}
	// A new registration replaces the locked one.
	register(t, c, "1357", 3)
	if _, err := c.Recover(ctx, []byte("1357"), nil); err != nil {
		t.Fatal(err)
	}
}

func equalCounts(got []uint16, want uint16) bool {
	for _, g := range got {
		if g != want {
			return false
		}
	}
	return len(got) == 3
}

// TestFaults: recovery needs two realms, registration all three.
func TestFaults(t *testing.T) {
	w := newWorld(t)
	c, _ := w.client("42", juicebox.WithRequestTimeout(300*time.Millisecond))
	register(t, c, "2580", 20)
	east, west, soft := w.set.Realm("realm-east"), w.set.Realm("realm-west"), w.set.Realm("realm-b")

	for name, f := range map[string]realm.Faults{
		"down":          {Down: true},
		"slow":          {Delay: time.Hour},
		"stale version": {StaleVersion: true},
	} {
		for _, r := range []*realm.Realm{soft, east} {
			r.SetFaults(f)
			if got, err := c.Recover(ctx, []byte("2580"), nil); err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("%s %s: recover %v", name, r.Name(), err)
			}
			r.SetFaults(realm.Faults{})
		}
	}
	// A registration needs every realm.
	west.SetFaults(realm.Faults{Down: true})
	if err := c.Register(ctx, []byte("1357"), secret, nil, 20); !errors.Is(err, juicebox.ErrTransient) {
		t.Fatalf("register with a realm down: %v", err)
	}
	east.SetFaults(realm.Faults{Down: true})
	if _, err := c.Recover(ctx, []byte("2580"), nil); !errors.Is(err, juicebox.ErrTransient) {
		t.Fatalf("recover with two realms down: %v", err)
	}
	east.SetFaults(realm.Faults{})
	west.SetFaults(realm.Faults{StaleVersion: true})
	soft.SetFaults(realm.Faults{StaleVersion: true})
	if _, err := c.Recover(ctx, []byte("2580"), nil); !errors.Is(err, juicebox.ErrNotRegistered) {
		t.Fatalf("two stale realms: %v", err)
	}
	west.SetFaults(realm.Faults{})
	for _, c := range []struct {
		f    realm.Faults
		want error
	}{
		{realm.Faults{UpgradeRequired: true}, juicebox.ErrUpgradeRequired},
		{realm.Faults{RateLimited: true}, juicebox.ErrRateLimited},
	} {
		soft.SetFaults(c.f)
		if err := c2(w).Register(ctx, []byte("1357"), secret, nil, 20); !errors.Is(err, c.want) {
			t.Fatalf("software realm %+v: %v", c.f, err)
		}
		soft.SetFaults(realm.Faults{})
		east.SetFaults(c.f)
		if err := c2(w).Register(ctx, []byte("1357"), secret, nil, 20); !errors.Is(err, c.want) {
			t.Fatalf("hardware realm %+v: %v", c.f, err)
		}
		east.SetFaults(realm.Faults{})
	}
}

func c2(w *world) *juicebox.Client {
	c, _ := w.client("43")
	return c
}

func TestInvalidAuth(t *testing.T) {
	w := newWorld(t)
	c, x := w.client("5")
	register(t, c, "2580", 20)
	for _, r := range x.Configuration.Realms {
		bad := juicebox.StaticTokens{}
		for id, tok := range x.Tokens {
			bad[id] = tok
		}
		// Another realm's token (wrong audience).
		for id := range x.Tokens {
			if id != r.ID {
				bad[r.ID] = x.Tokens[id]
				break
			}
		}
		bc, err := juicebox.NewClient(x.Configuration, bad, juicebox.WithInsecureTestSettings())
		if err != nil {
			t.Fatal(err)
		}
		if err := bc.Register(ctx, []byte("1357"), secret, nil, 20); !errors.Is(err, juicebox.ErrInvalidAuth) {
			t.Fatalf("realm %s with another realm's token: %v", r.ID, err)
		}
	}
	// Expired tokens are refused.
	w.advance(realm.TokenLifetime + time.Minute)
	if _, err := c.Recover(ctx, []byte("2580"), nil); !errors.Is(err, juicebox.ErrInvalidAuth) {
		t.Fatalf("expired tokens: %v", err)
	}
}

// TestMisbehavingRealms: a realm whose answers are wrong is outvoted by
// the honest majority; two such realms make recovery fail loudly, never
// return a wrong secret.
func TestMisbehavingRealms(t *testing.T) {
	w := newWorld(t)
	c, _ := w.client("9")
	tamperings := map[string]func(q *proto.Register2Request){
		"OPRF key share":    func(q *proto.Register2Request) { q.OprfPrivateKey[0] ^= 1 },
		"signed key":        func(q *proto.Register2Request) { q.OprfSignedPublicKey.Signature[5] ^= 1 },
		"unlock commitment": func(q *proto.Register2Request) { q.UnlockKeyCommitment[0] ^= 1 },
		"secret share":      func(q *proto.Register2Request) { q.EncryptionKeyScalarShare[0] ^= 1 },
		"ciphertext":        func(q *proto.Register2Request) { q.EncryptedSecret[7] ^= 1 },
		"secret commitment": func(q *proto.Register2Request) { q.EncryptedSecretCommitment[0] ^= 1 },
	}
	tenant := w.set.Tenant()
	for name, f := range tamperings {
		register(t, c, "2580", 20)
		if !w.set.Realm("realm-west").TamperRecord(tenant, "9", f) {
			t.Fatal("no record to tamper")
		}
		if got, err := c.Recover(ctx, []byte("2580"), nil); err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("one realm with a tampered %s: %v", name, err)
		}
		w.set.Realm("realm-east").TamperRecord(tenant, "9", f)
		got, err := c.Recover(ctx, []byte("2580"), nil)
		if err == nil {
			t.Fatalf("two realms with a tampered %s: recovered %x", name, got)
		}
		var pe *juicebox.InvalidPinError
		if !errors.Is(err, juicebox.ErrAssertion) && !errors.As(err, &pe) {
			t.Fatalf("two realms with a tampered %s: %v", name, err)
		}
	}
}

// TestNoiseSessions: sessions are reused, expire with the clock, and a
// realm that forgot them (restart) gets a fresh handshake.
func TestNoiseSessions(t *testing.T) {
	w := newWorld(t)
	c, _ := w.client("11")
	register(t, c, "2580", 20)
	for _, step := range []func(){
		func() {},
		func() { w.advance(realm.DefaultSessionLifetime + time.Second) },
		func() {
			w.set.Realm("realm-east").DropSessions()
			w.set.Realm("realm-west").DropSessions()
		},
	} {
		step()
		if got, err := c.Recover(ctx, []byte("2580"), nil); err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("recover: %v", err)
		}
	}
}

// TestConcurrentUsers runs several users' operations at once.
func TestConcurrentUsers(t *testing.T) {
	w := newWorld(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := w.client(string(rune('1' + i)))
			pin := []byte{'2', '5', '8', byte('0' + i)}
			if err := c.Register(ctx, pin, secret, nil, 20); err != nil {
				errs <- err
				return
			}
			got, err := c.Recover(ctx, pin, nil)
			if err == nil && !bytes.Equal(got, secret) {
				err = errors.New("wrong secret")
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestStandard2019 runs one full cycle with X's real PIN stretch.
func TestStandard2019(t *testing.T) {
	w := newWorld(t, realm.WithPinHashingMode(juicebox.Standard2019))
	c, x := w.client("12")
	if x.Configuration.PinHashingMode != juicebox.Standard2019 {
		t.Fatal("served mode is not Standard2019")
	}
	register(t, c, "2580", x.MaxGuessCount)
	if got, err := c.Recover(ctx, []byte("2580"), nil); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("recover: %v", err)
	}
	// A client refuses a FastInsecure configuration unless told otherwise.
	fw := newWorld(t)
	raw := testutil.Must(fw.set.XConfig(fw.url, "12"))(t)
	fx, err := juicebox.ParseXConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := juicebox.NewClient(fx.Configuration, fx.Tokens); !errors.Is(err, juicebox.ErrConfig) {
		t.Fatalf("FastInsecure accepted without opt-in: %v", err)
	}
}

// TestRealmDeniesProvenPIN: once the realms' OPRF answers have proved the
// PIN (the unlock key commitment matched), a realm that rejects the unlock
// key tag or claims the secret locked is lying (or lost the registration).
// With another realm down, recovery fails, but as a protocol violation:
// never as a wrong PIN, which would send the user guessing other PINs and
// spending a guess on every realm each time.
func TestRealmDeniesProvenPIN(t *testing.T) {
	w := newWorld(t)
	c, _ := w.client("77")
	west, soft := w.set.Realm("realm-west"), w.set.Realm("realm-b")
	for name, f := range map[string]func(q *proto.Register2Request){
		"bad unlock key tag": func(q *proto.Register2Request) { q.UnlockKeyTag[0] ^= 1 },
		// One guess, and the tag rejected: the realm locks and says so.
		"locked": func(q *proto.Register2Request) { q.UnlockKeyTag[0] ^= 1; q.Policy.NumGuesses = 1 },
	} {
		register(t, c, "2580", 20)
		if !west.TamperRecord(w.set.Tenant(), "77", f) {
			t.Fatal("no record to tamper")
		}
		soft.SetFaults(realm.Faults{Down: true})
		_, err := c.Recover(ctx, []byte("2580"), nil)
		soft.SetFaults(realm.Faults{})
		var pe *juicebox.InvalidPinError
		if errors.As(err, &pe) || errors.Is(err, juicebox.ErrNoGuesses) || !errors.Is(err, juicebox.ErrAssertion) {
			t.Fatalf("%s: recover with the right PIN: %v, want ErrAssertion", name, err)
		}
		// The honest majority still recovers once the down realm is back.
		if got, err := c.Recover(ctx, []byte("2580"), nil); err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("%s: recover with the honest realms: %v", name, err)
		}
	}
}

// TestRealmRedirectNotFollowed: a realm address that answers with a
// redirect is not followed. Followed, a POST carries the request on to a
// host the configuration never named, perhaps over plain HTTP (bypassing
// the https-only policy): a software realm's shares in the clear, or a
// hardware realm's auth token, which sits in the body.
func TestRealmRedirectNotFollowed(t *testing.T) {
	w := newWorld(t)
	var mu sync.Mutex
	reached := 0
	target := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached++
		mu.Unlock()
		w.set.Handler().ServeHTTP(rw, r)
	}))
	t.Cleanup(target.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	raw, err := w.set.XConfig(redirector.URL, "31")
	if err != nil {
		t.Fatal(err)
	}
	x, err := juicebox.ParseXConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	c, err := juicebox.NewClient(x.Configuration, x.Tokens, juicebox.WithInsecureTestSettings())
	if err != nil {
		t.Fatal(err)
	}
	err = c.Register(ctx, []byte("2580"), secret, nil, 20)
	if !errors.Is(err, juicebox.ErrAssertion) {
		t.Fatalf("register behind redirecting realms: %v, want ErrAssertion", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if reached != 0 {
		t.Fatalf("the redirect target received %d requests", reached)
	}
}

// TestHardwareRealmWithAnotherKey: a hardware realm is reached only
// through a Noise handshake with the key the configuration names; a realm
// holding another key (here the other hardware realm's) gets nothing it
// can read, and the client fails rather than falling back.
func TestHardwareRealmWithAnotherKey(t *testing.T) {
	w := newWorld(t)
	_, x := w.client("32")
	east, west := w.set.Realm("realm-east"), w.set.Realm("realm-west")
	realms := append([]juicebox.Realm(nil), x.Configuration.Realms...)
	for i := range realms {
		if realms[i].ID == east.ID() {
			realms[i].PublicKey = west.PublicKey()
		}
	}
	cfg, err := juicebox.NewConfiguration(realms, 3, 2, juicebox.FastInsecure)
	if err != nil {
		t.Fatal(err)
	}
	c, err := juicebox.NewClient(cfg, x.Tokens, juicebox.WithInsecureTestSettings())
	if err != nil {
		t.Fatal(err)
	}
	err = c.Register(ctx, []byte("2580"), secret, nil, 20)
	if err == nil || errors.Is(err, juicebox.ErrTransient) {
		t.Fatalf("register with realm-east's key swapped: %v", err)
	}
	if rec := east.Record(w.set.Tenant(), "32"); rec.NumGuesses != 0 {
		t.Fatalf("realm-east holds a registration: %+v", rec)
	}
}

// TestGuessesRemainingOutvoted: after a wrong PIN, the guesses remaining
// are what the realms' majority allows. A realm of the agreeing group that
// claims to have none left (here one registered with a limit of 1) cannot
// make the backup read as locked while enough realms still allow guesses:
// the right PIN still recovers it.
func TestGuessesRemainingOutvoted(t *testing.T) {
	w := newWorld(t)
	c, _ := w.client("78")
	register(t, c, "2580", 20)
	if !w.set.Realm("realm-west").TamperRecord(w.set.Tenant(), "78", func(q *proto.Register2Request) { q.Policy.NumGuesses = 1 }) {
		t.Fatal("no record to tamper")
	}
	_, err := c.Recover(ctx, []byte("1111"), nil)
	wantPinError(t, err, 19)
	if got, err := c.Recover(ctx, []byte("2580"), nil); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("recover after the lone realm locked: %v", err)
	}
}

// TestLockedMinorityWithOutage: one realm says the secret is locked while
// another is down. Recovery cannot proceed, but the secret is not locked
// (the two others hold it with guesses to spare): the error is the outage,
// never ErrNoGuesses, which tells the user the keys are gone for good.
func TestLockedMinorityWithOutage(t *testing.T) {
	w := newWorld(t)
	c, _ := w.client("79")
	register(t, c, "2580", 20)
	west, soft := w.set.Realm("realm-west"), w.set.Realm("realm-b")
	if !west.TamperRecord(w.set.Tenant(), "79", func(q *proto.Register2Request) { q.Policy.NumGuesses = 1 }) {
		t.Fatal("no record to tamper")
	}
	_, err := c.Recover(ctx, []byte("1111"), nil)
	wantPinError(t, err, 19) // realm-west used its only guess: it is locked now
	soft.SetFaults(realm.Faults{Down: true})
	_, err = c.Recover(ctx, []byte("2580"), nil)
	soft.SetFaults(realm.Faults{})
	if errors.Is(err, juicebox.ErrNoGuesses) || !errors.Is(err, juicebox.ErrTransient) {
		t.Fatalf("one realm locked, one down: %v, want ErrTransient", err)
	}
	if got, err := c.Recover(ctx, []byte("2580"), nil); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("recover with the realm back: %v", err)
	}
}

// TestRegisterNeedsEveryRealmWhateverTheThreshold: with register_threshold
// 2 of 3 (the server's choice), one realm down and the software realm
// keeping the previous registration while it answers "OK", a registration
// under a new PIN taken on two realms' word would leave the old one on two
// realms: the old PIN would still recover. Register requires every realm,
// fails, and nothing was replaced: the old PIN recovers, as before.
func TestRegisterNeedsEveryRealmWhateverTheThreshold(t *testing.T) {
	w := newWorld(t)
	raw, err := w.set.XConfig(w.url, "81")
	if err != nil {
		t.Fatal(err)
	}
	x, err := juicebox.ParseXConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := juicebox.NewConfiguration(x.Configuration.Realms, 2, 2, x.Configuration.PinHashingMode)
	if err != nil {
		t.Fatal(err)
	}
	c, err := juicebox.NewClient(cfg, x.Tokens, juicebox.WithInsecureTestSettings(), juicebox.WithClock(w.clock))
	if err != nil {
		t.Fatal(err)
	}
	register(t, c, "2580", 20)
	w.set.Realm("realm-east").SetFaults(realm.Faults{Down: true})
	w.set.Realm("realm-b").SetFaults(realm.Faults{StaleVersion: true})
	if err := c.Register(ctx, []byte("7391"), secret, juicebox.XUserInfo, 20); !errors.Is(err, juicebox.ErrTransient) {
		t.Fatalf("register with a realm down and a 2-of-3 threshold: %v", err)
	}
	w.set.Realm("realm-east").SetFaults(realm.Faults{})
	w.set.Realm("realm-b").SetFaults(realm.Faults{})
	if got, err := c.Recover(ctx, []byte("2580"), juicebox.XUserInfo); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("the old registration was touched: %v", err)
	}
	if _, err := c.Recover(ctx, []byte("7391"), juicebox.XUserInfo); err == nil {
		t.Fatal("the refused registration recovers")
	}
}

// TestUnregisteredMinorityWithOutage: with realm-east down, one realm
// saying "not registered", or naming another registration than the
// others, is no verdict: the backup is intact on the realms that agree,
// and realm-east could complete the threshold. Reported as not
// registered, the user would give the keys up and start afresh. A
// secret never registered is still reported so with a realm down.
func TestUnregisteredMinorityWithOutage(t *testing.T) {
	w := newWorld(t)
	c, _ := w.client("83")
	east, soft := w.set.Realm("realm-east"), w.set.Realm("realm-b")
	east.SetFaults(realm.Faults{Down: true})
	if _, err := c.Recover(ctx, []byte("2580"), nil); !errors.Is(err, juicebox.ErrNotRegistered) {
		t.Fatalf("never registered, one realm down: %v", err)
	}
	east.SetFaults(realm.Faults{})
	register(t, c, "2580", 20)
	east.SetFaults(realm.Faults{Down: true})
	soft.SetFaults(realm.Faults{StaleVersion: true}) // no registration before this one: NotRegistered
	if _, err := c.Recover(ctx, []byte("2580"), nil); errors.Is(err, juicebox.ErrNotRegistered) || !errors.Is(err, juicebox.ErrTransient) {
		t.Fatalf("one realm not registered, one down: %v, want ErrTransient", err)
	}
	east.SetFaults(realm.Faults{})
	soft.SetFaults(realm.Faults{})
	register(t, c, "2580", 20)
	east.SetFaults(realm.Faults{Down: true})
	soft.SetFaults(realm.Faults{StaleVersion: true}) // the previous registration's version
	if _, err := c.Recover(ctx, []byte("2580"), nil); errors.Is(err, juicebox.ErrNotRegistered) || !errors.Is(err, juicebox.ErrTransient) {
		t.Fatalf("one realm on another version, one down: %v, want ErrTransient", err)
	}
	east.SetFaults(realm.Faults{})
	soft.SetFaults(realm.Faults{})
	if got, err := c.Recover(ctx, []byte("2580"), nil); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("recover with the realms back: %v", err)
	}
}
