package realm

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/juicebox/noisenk"
	"github.com/xchat-go/xchat/juicebox/proto"
)

// Defaults of a Set, as X configures its realms.
const (
	// DefaultTenant is the tenant name in issued tokens.
	DefaultTenant = "xemulator"
	// DefaultMaxGuesses is the guess limit served in juicebox_config.
	DefaultMaxGuesses = 20
	// DefaultSessionLifetime is how long an idle Noise session lives.
	DefaultSessionLifetime = 5 * time.Minute
	// PathPrefix is where a Set's handler serves realm "name":
	// PathPrefix + name + "/req".
	PathPrefix = "/juicebox/"
)

// Names of the three realms, after X's (one software realm, two hardware
// realms behind Noise).
var defaultRealms = []struct {
	name     string
	hardware bool
}{
	{"realm-b", false},
	{"realm-east", true},
	{"realm-west", true},
}

// maxSessions bounds the Noise sessions a realm keeps.
const maxSessions = 4096

// Option configures a Set. An option given a value it cannot use makes
// NewSet fail; no value is silently replaced by a default.
type Option func(*setConfig) error

type setConfig struct {
	rand       io.Reader
	now        func() time.Time
	mode       juicebox.PinHashingMode
	maxGuesses uint16
	lifetime   time.Duration
	tenant     string
}

// WithRand sets the randomness source (keys, ids, proofs, Noise); nil is
// refused.
func WithRand(r io.Reader) Option {
	return func(c *setConfig) error {
		if r == nil {
			return errors.New("realm: WithRand: nil reader")
		}
		c.rand = r
		return nil
	}
}

// WithClock sets the clock for tokens and sessions; nil is refused.
func WithClock(now func() time.Time) Option {
	return func(c *setConfig) error {
		if now == nil {
			return errors.New("realm: WithClock: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithPinHashingMode sets the mode served in the configuration (tests use
// FastInsecure; the default is X's Standard2019).
func WithPinHashingMode(m juicebox.PinHashingMode) Option {
	return func(c *setConfig) error { c.mode = m; return nil }
}

// WithMaxGuesses sets max_guess_count in the served configuration; it must
// be at least 1.
func WithMaxGuesses(n uint16) Option {
	return func(c *setConfig) error {
		if n == 0 {
			return errors.New("realm: WithMaxGuesses: 0 guesses")
		}
		c.maxGuesses = n
		return nil
	}
}

// WithSessionLifetime sets the Noise session lifetime; d must be positive.
func WithSessionLifetime(d time.Duration) Option {
	return func(c *setConfig) error {
		if d <= 0 {
			return fmt.Errorf("realm: WithSessionLifetime: %v is not positive", d)
		}
		c.lifetime = d
		return nil
	}
}

// Set is three realms like X's: register threshold 3, recover threshold 2.
// Its Handler serves them under PathPrefix; Config renders a user's
// juicebox_config with freshly issued tokens.
type Set struct {
	cfg    setConfig
	realms []*Realm
	keys   map[proto.RealmID][]byte // per-realm HS256 tenant key

	mu         sync.Mutex // guards mode and maxGuesses
	mode       juicebox.PinHashingMode
	maxGuesses uint16
}

// NewSet creates the realms with fresh ids and keys.
func NewSet(opts ...Option) (*Set, error) {
	c := setConfig{rand: rand.Reader, now: time.Now, mode: juicebox.Standard2019,
		maxGuesses: DefaultMaxGuesses, lifetime: DefaultSessionLifetime, tenant: DefaultTenant}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("realm: nil option")
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	s := &Set{cfg: c, keys: map[proto.RealmID][]byte{}, mode: c.mode, maxGuesses: c.maxGuesses}
	for _, d := range defaultRealms {
		r, err := s.newRealm(d.name, d.hardware)
		if err != nil {
			return nil, err
		}
		s.realms = append(s.realms, r)
	}
	return s, nil
}

func (s *Set) newRealm(name string, hardware bool) (*Realm, error) {
	r := &Realm{name: name, rand: s.cfg.rand, now: s.cfg.now, lifetime: s.cfg.lifetime,
		records: map[string]*record{}, sessions: map[sessionKey]*noiseSession{}}
	if _, err := io.ReadFull(s.cfg.rand, r.id[:]); err != nil {
		return nil, fmt.Errorf("realm: %w", err)
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(s.cfg.rand, key); err != nil {
		return nil, fmt.Errorf("realm: %w", err)
	}
	s.keys[r.id] = key
	r.keys = map[string][]byte{s.cfg.tenant + ":1": key}
	if hardware {
		k, err := noisenk.GenerateStaticKey(s.cfg.rand)
		if err != nil {
			return nil, err
		}
		r.static = &k
	}
	return r, nil
}

// Realms returns the realms (software first).
func (s *Set) Realms() []*Realm { return append([]*Realm(nil), s.realms...) }

// Realm returns the realm named name, or nil.
func (s *Set) Realm(name string) *Realm {
	for _, r := range s.realms {
		if r.name == name {
			return r
		}
	}
	return nil
}

// Tenant returns the tenant name tokens are issued for.
func (s *Set) Tenant() string { return s.cfg.tenant }

// MaxGuesses returns the served guess limit.
func (s *Set) MaxGuesses() uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxGuesses
}

// SetServedSettings changes the PIN hashing mode and guess limit served in
// configurations from now on (registrations already made keep theirs).
func (s *Set) SetServedSettings(mode juicebox.PinHashingMode, maxGuesses uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = mode
	if maxGuesses > 0 {
		s.maxGuesses = maxGuesses
	}
}

// Handler serves every realm at PathPrefix + name + "/req".
func (s *Set) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rest, ok := strings.CutPrefix(req.URL.Path, PathPrefix)
		name, tail, _ := strings.Cut(rest, "/")
		r := s.Realm(name)
		if !ok || r == nil || tail != "req" {
			http.NotFound(w, req)
			return
		}
		r.ServeHTTP(w, req)
	})
}

// Token issues subject's token for one realm.
func (s *Set) Token(r *Realm, subject string) string {
	return issueToken(s.keys[r.id], s.cfg.tenant, 1, subject, r.id.String(), s.cfg.now())
}

// Configuration returns the SDK configuration with realm addresses under
// baseURL (scheme://host, no trailing slash).
func (s *Set) Configuration(baseURL string) (*juicebox.Configuration, error) {
	realms := make([]juicebox.Realm, len(s.realms))
	for i, r := range s.realms {
		u, err := parseBase(baseURL, r.name)
		if err != nil {
			return nil, err
		}
		realms[i] = juicebox.Realm{ID: r.id, Address: u, PublicKey: r.PublicKey()}
	}
	s.mu.Lock()
	mode := s.mode
	s.mu.Unlock()
	return juicebox.NewConfiguration(realms, 3, 2, mode)
}

type tokenEntry struct {
	Key   string `json:"key"`
	Value struct {
		Address string `json:"address"`
		Token   string `json:"token"`
	} `json:"value"`
}

// XConfig renders subject's juicebox_config as X's public-keys operations
// return it: key_store_token_map_json, token_map and max_guess_count.
func (s *Set) XConfig(baseURL, subject string) (json.RawMessage, error) {
	cfg, err := s.Configuration(baseURL)
	if err != nil {
		return nil, err
	}
	keyStore, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var tokens []tokenEntry
	for _, r := range s.realms {
		var e tokenEntry
		e.Key = r.id.String()
		u, _ := parseBase(baseURL, r.name)
		e.Value.Address = u.String()
		e.Value.Token = s.Token(r, subject)
		tokens = append(tokens, e)
	}
	return json.Marshal(map[string]any{
		"key_store_token_map_json": string(keyStore),
		"token_map":                tokens,
		"max_guess_count":          s.MaxGuesses(),
	})
}

// parseBase builds a realm's address from the server's base URL.
func parseBase(baseURL, name string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/") + PathPrefix + name + "/")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("realm: bad base URL %q", baseURL)
	}
	return u, nil
}
