package juicebox

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/xchat-go/xchat/juicebox/noisenk"
)

// ProtocolVersion is sent in the X-Juicebox-Version header: the Juicebox SDK
// release whose protocol this client speaks (npm juicebox-sdk 0.3.7).
const ProtocolVersion = "0.3.7"

// VersionHeader is the header realms read the client version from.
const VersionHeader = "X-Juicebox-Version"

// DefaultRequestTimeout bounds one realm request, retries included.
const DefaultRequestTimeout = 30 * time.Second

// AuthTokens supplies the bearer token for each realm (JWTs the tenant
// issues; X hands them out in juicebox_config's token_map).
type AuthTokens interface {
	AuthToken(ctx context.Context, realm RealmID) (string, error)
}

// StaticTokens is a fixed realm → token map.
type StaticTokens map[RealmID]string

// AuthToken implements AuthTokens.
func (t StaticTokens) AuthToken(_ context.Context, realm RealmID) (string, error) {
	tok, ok := t[realm]
	if !ok || tok == "" {
		return "", fmt.Errorf("no auth token for realm %s", realm)
	}
	return tok, nil
}

// Option configures a Client. An option given a value it cannot use makes
// NewClient fail with ErrConfig; no value is silently replaced by a default.
type Option func(*options) error

type options struct {
	http      *http.Client
	rand      io.Reader
	now       func() time.Time
	timeout   time.Duration
	previous  []*Configuration
	insecure  bool
	userAgent string
	pins      []RealmPin
}

// optionError is the error of an option given a value it cannot use.
func optionError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// WithHTTPClient sets the HTTP client (default: a client without its own
// timeout; WithRequestTimeout bounds each realm request); nil is refused.
// The client uses a copy that never follows redirects.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) error {
		if c == nil {
			return optionError("WithHTTPClient: nil client")
		}
		o.http = c
		return nil
	}
}

// WithRand sets the randomness source (default crypto/rand). Reads are
// serialised, so any io.Reader may be used; nil is refused.
func WithRand(r io.Reader) Option {
	return func(o *options) error {
		if r == nil {
			return optionError("WithRand: nil reader")
		}
		o.rand = r
		return nil
	}
}

// WithClock sets the clock used to expire Noise sessions (default
// time.Now); nil is refused.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return optionError("WithClock: nil clock")
		}
		o.now = now
		return nil
	}
}

// WithRequestTimeout bounds each realm request, retries included (default
// DefaultRequestTimeout); d must be positive. A realm that does not answer
// in time counts as a transient failure, so an operation can still reach
// its threshold on the others.
func WithRequestTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return optionError("WithRequestTimeout: %v is not positive", d)
		}
		o.timeout = d
		return nil
	}
}

// WithPreviousConfigurations lists configurations registered with earlier,
// newest first: Recover falls back to them when the current one holds no
// registration.
func WithPreviousConfigurations(cs ...*Configuration) Option {
	return func(o *options) error { o.previous = append(o.previous, cs...); return nil }
}

// WithInsecureTestSettings allows what only tests may use: the FastInsecure
// PIN hashing mode and plain-HTTP realms on non-loopback hosts. Without it
// a Client refuses both (a configuration comes from a server, and a server
// must not be able to weaken the PIN stretch or strip transport security).
func WithInsecureTestSettings() Option {
	return func(o *options) error { o.insecure = true; return nil }
}

// WithUserAgent sets the User-Agent header; an empty one is refused.
func WithUserAgent(ua string) Option {
	return func(o *options) error {
		if ua == "" {
			return optionError("WithUserAgent: empty user agent")
		}
		o.userAgent = ua
		return nil
	}
}

// Client registers, recovers and deletes one user's PIN-protected secret
// on a configuration's realms. It is safe for concurrent use. Requests to
// the realms of one operation run concurrently.
type Client struct {
	cfg    *Configuration
	tokens AuthTokens
	opts   options
	rand   io.Reader

	mu       sync.Mutex
	sessions map[RealmID]*sessionSlot
}

// sessionSlot holds one realm's Noise session; its lock is held for the
// whole of a request to that realm.
type sessionSlot struct {
	mu sync.Mutex
	s  *session
}

type session struct {
	id        uint32
	transport *noisenk.Transport
	lifetime  time.Duration
	lastUsed  time.Time
}

// NewClient returns a client for cfg (built by ParseConfiguration or
// NewConfiguration) using tokens to authenticate to each realm.
func NewClient(cfg *Configuration, tokens AuthTokens, opts ...Option) (*Client, error) {
	o := options{
		http:      &http.Client{},
		rand:      rand.Reader,
		now:       time.Now,
		timeout:   DefaultRequestTimeout,
		userAgent: "xchat-go-juicebox/" + ProtocolVersion,
	}
	for _, f := range opts {
		if f == nil {
			return nil, optionError("nil option")
		}
		if err := f(&o); err != nil {
			return nil, err
		}
	}
	if cfg == nil || tokens == nil {
		return nil, fmt.Errorf("%w: nil configuration or tokens", ErrConfig)
	}
	for _, c := range append([]*Configuration{cfg}, o.previous...) {
		if err := checkPolicy(c, o.insecure); err != nil {
			return nil, err
		}
		if err := checkPins(c, o.pins); err != nil {
			return nil, err
		}
	}
	o.http = noRedirects(o.http)
	r := o.rand
	if r != rand.Reader {
		r = &lockedReader{r: r}
	}
	return &Client{cfg: cfg, tokens: tokens, opts: o, rand: r, sessions: map[RealmID]*sessionSlot{}}, nil
}

// noRedirects returns a copy of hc that answers a redirect as it is,
// unfollowed (post refuses it). Realms never redirect; followed, a POST
// would carry its body (a software realm's shares, a hardware realm's auth
// token) to a host the configuration never named, perhaps over plain HTTP.
func noRedirects(hc *http.Client) *http.Client {
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// checkPolicy refuses what only tests may use.
func checkPolicy(c *Configuration, insecure bool) error {
	if c == nil || len(c.Realms) == 0 {
		return fmt.Errorf("%w: empty configuration", ErrConfig)
	}
	if insecure {
		return nil
	}
	if c.PinHashingMode != Standard2019 {
		return fmt.Errorf("%w: PIN hashing mode %v is for tests only", ErrConfig, c.PinHashingMode)
	}
	for _, r := range c.Realms {
		if r.Address.Scheme != "https" && !isLoopback(r.Address) {
			return fmt.Errorf("%w: realm %s is not reached over https", ErrConfig, r.ID)
		}
	}
	return nil
}

// Configuration returns the client's (current) configuration.
func (c *Client) Configuration() *Configuration { return c.cfg }

func (c *Client) slot(id RealmID) *sessionSlot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[id]
	if !ok {
		s = &sessionSlot{}
		c.sessions[id] = s
	}
	return s
}

// lockedReader serialises reads from a caller-supplied randomness source.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

// Read reads from the wrapped reader under the lock.
func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}
