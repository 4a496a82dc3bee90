package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// X's OAuth 2.0 endpoints.
//
// X's documents name three authorization URLs: the OpenAPI document's
// securitySchemes say https://api.x.com/2/oauth2/authorize, seed 004's
// Postman guide says https://twitter.com/i/oauth2/authorize, and X's OAuth
// 2.0 guides (docs.x.com, "Authorization Code Flow with PKCE" and "How to
// connect to endpoints using OAuth 2.0") send the browser to
// https://x.com/i/oauth2/authorize. The authorization URL is the page a
// person signs in on, so the default is the one the OAuth guides use:
// twitter.com is the same page under the old name (it redirects), and the
// api.x.com form in the generated securitySchemes is the API host, not a
// sign-in page. Set OAuthConfig.AuthURL (xchat login --auth-url) to use
// another.
const (
	DefaultAuthURL  = "https://x.com/i/oauth2/authorize"
	DefaultTokenURL = "https://api.x.com/2/oauth2/token"
)

// Defaults of LoopbackLogin. X accepts only a callback URL registered with
// the app, matched exactly, so the loopback port is fixed by default:
// register DefaultRedirectURL as the app's callback (or set LoopbackAddr and
// CallbackPath to match the one registered).
const (
	DefaultLoopbackPort  = "8976"
	DefaultLoopbackAddr  = "127.0.0.1:" + DefaultLoopbackPort
	DefaultCallbackPath  = "/callback"
	DefaultRedirectURL   = "http://" + DefaultLoopbackAddr + DefaultCallbackPath
	loginShutdownTimeout = 5 * time.Second
	DefaultLoginTimeout  = 5 * time.Minute
	maxCallbackQueryLen  = 8 << 10
	stateRandomByteCount = 32
)

// ErrLogin is matched (errors.Is) by every LoopbackLogin failure that is not
// a context error.
var ErrLogin = errors.New("api: oauth login failed")

// OAuthConfig describes an X OAuth 2.0 client for the Authorization Code
// flow with PKCE. Zero fields take X's defaults; point AuthURL and TokenURL
// at the emulator for tests.
type OAuthConfig struct {
	ClientID     string
	ClientSecret string   // empty for public (PKCE-only) clients
	Scopes       []string // default AllScopes (includes offline.access)
	AuthURL      string   // default DefaultAuthURL
	TokenURL     string   // default DefaultTokenURL
	// RedirectURL is used by Config when set; LoopbackLogin always uses its
	// own listener's URL.
	RedirectURL string
	// LoopbackAddr is where LoopbackLogin listens (default
	// DefaultLoopbackAddr, a fixed port, because X matches the redirect URL
	// exactly). It must be a loopback address; port 0 picks a free port,
	// which only servers that accept any loopback port (the emulator)
	// allow.
	LoopbackAddr string
	CallbackPath string        // default DefaultCallbackPath
	Timeout      time.Duration // default DefaultLoginTimeout
	// HTTPClient is used to reach the token endpoint (default
	// http.DefaultClient).
	HTTPClient *http.Client
	// Now is the clock that stamps a new token's expiry (from the token
	// endpoint's expires_in) and decides when it has expired (default
	// time.Now).
	Now func() time.Time
}

// RefreshMargin is how long before its expiry an access token is
// refreshed, so that it does not expire in flight (the oauth2 package's
// own margin).
const RefreshMargin = 10 * time.Second

// NewOAuthConfig returns the OAuth configuration for the API at
// apiBaseURL: X's endpoints when it is empty or DefaultBaseURL, otherwise
// that server's /i/oauth2/authorize and /2/oauth2/token (the emulator's
// layout).
func NewOAuthConfig(apiBaseURL, clientID string) *OAuthConfig {
	cfg := &OAuthConfig{ClientID: clientID}
	base := strings.TrimSuffix(apiBaseURL, "/")
	if base != "" && base != DefaultBaseURL {
		cfg.AuthURL = base + "/i/oauth2/authorize"
		cfg.TokenURL = base + "/2/oauth2/token"
	}
	return cfg
}

// String redacts the client secret.
func (c OAuthConfig) String() string {
	secret := ""
	if c.ClientSecret != "" {
		secret = "REDACTED"
	}
	return fmt.Sprintf("api.OAuthConfig{ClientID:%q ClientSecret:%s AuthURL:%q TokenURL:%q}", c.ClientID, secret, c.authURL(), c.tokenURL())
}

// GoString redacts the client secret.
func (c OAuthConfig) GoString() string { return c.String() }

func (c OAuthConfig) authURL() string  { return firstNonEmpty(c.AuthURL, DefaultAuthURL) }
func (c OAuthConfig) tokenURL() string { return firstNonEmpty(c.TokenURL, DefaultTokenURL) }

// Config returns the golang.org/x/oauth2 configuration for redirectURL
// (c.RedirectURL when empty).
func (c *OAuthConfig) Config(redirectURL string) *oauth2.Config {
	scopes := c.Scopes
	if len(scopes) == 0 {
		scopes = AllScopes
	}
	style := oauth2.AuthStyleInHeader
	if c.ClientSecret == "" {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Scopes:       append([]string(nil), scopes...),
		RedirectURL:  firstNonEmpty(redirectURL, c.RedirectURL),
		Endpoint: oauth2.Endpoint{
			AuthURL:   c.authURL(),
			TokenURL:  c.tokenURL(),
			AuthStyle: style,
		},
	}
}

func (c *OAuthConfig) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// stampExpiry sets tok's expiry from its expires_in on c's clock (the oauth2
// package stamps it on the wall clock).
func (c *OAuthConfig) stampExpiry(tok *oauth2.Token) {
	if tok.ExpiresIn > 0 {
		tok.Expiry = c.now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
}

func (c *OAuthConfig) context(ctx context.Context) context.Context {
	if c.HTTPClient != nil {
		return context.WithValue(ctx, oauth2.HTTPClient, c.HTTPClient)
	}
	return ctx
}

// TokenSource returns a token source that refreshes tok with its refresh
// token (scope offline.access) and, when save is non-nil, hands every new
// token to save before using it (see NewPersistingTokenSource). ctx is kept
// for refreshes and should outlive the token source.
//
// The token is reused until RefreshMargin before its expiry on c's clock
// (c.Now), and refreshed then: not on every call, and not only once the
// server has refused it.
func (c *OAuthConfig) TokenSource(ctx context.Context, tok *oauth2.Token, save func(*oauth2.Token) error) oauth2.TokenSource {
	var ts oauth2.TokenSource = &refreshingTokenSource{ctx: c.context(ctx), cfg: c, conf: c.Config(""), tok: tok}
	if save == nil {
		return ts
	}
	p := NewPersistingTokenSource(ts, save).(*persistingTokenSource)
	p.last = tokenFingerprint(tok) // already stored by the caller
	return p
}

// refreshingTokenSource reuses a token until it expires on the
// configuration's clock, then refreshes it with its refresh token.
type refreshingTokenSource struct {
	ctx  context.Context
	cfg  *OAuthConfig
	conf *oauth2.Config

	mu  sync.Mutex
	tok *oauth2.Token
}

// Token implements oauth2.TokenSource.
func (r *refreshingTokenSource) Token() (*oauth2.Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tok != nil && r.tok.AccessToken != "" && (r.tok.Expiry.IsZero() || r.cfg.now().Add(RefreshMargin).Before(r.tok.Expiry)) {
		return r.tok, nil
	}
	if r.tok == nil || r.tok.RefreshToken == "" {
		return nil, errors.New("api: oauth: the access token expired and there is no refresh token")
	}
	// A token with no access token is refreshed at once by the oauth2
	// package, whatever its own clock says.
	nt, err := r.conf.TokenSource(r.ctx, &oauth2.Token{RefreshToken: r.tok.RefreshToken}).Token()
	if err != nil {
		return nil, err
	}
	r.cfg.stampExpiry(nt)
	r.tok = nt
	return nt, nil
}

// LoopbackLogin runs the Authorization Code flow with PKCE (S256) for a
// command-line program: it listens on a loopback port, calls openURL with
// the authorization URL (to open a browser or print it), waits for the
// redirect, checks state, and exchanges the code with the PKCE verifier.
// A request to the callback with another state is refused and ignored (any
// local web page can send one; it must not end the login); the login gives
// up after cfg.Timeout or when ctx ends, saying how many were refused.
func LoopbackLogin(ctx context.Context, cfg *OAuthConfig, openURL func(string)) (*oauth2.Token, error) {
	if cfg == nil || cfg.ClientID == "" {
		return nil, fmt.Errorf("%w: missing client id", ErrLogin)
	}
	if openURL == nil {
		return nil, fmt.Errorf("%w: nil openURL", ErrLogin)
	}
	addr := firstNonEmpty(cfg.LoopbackAddr, DefaultLoopbackAddr)
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	path := firstNonEmpty(cfg.CallbackPath, DefaultCallbackPath)
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("%w: callback path must start with /", ErrLogin)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultLoginTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: listening on %s: %w", ErrLogin, addr, err)
	}
	redirect := "http://" + ln.Addr().String() + path
	conf := cfg.Config(redirect)

	state, err := randomState()
	if err != nil {
		ln.Close()
		return nil, err
	}
	verifier := oauth2.GenerateVerifier()

	type outcome struct {
		code string
		err  error
	}
	results := make(chan outcome, 1)
	var mismatched atomic.Int64 // redirects refused for their state
	var once sync.Once
	finish := func(o outcome) { once.Do(func() { results <- o }) }

	mux := http.NewServeMux()
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || len(r.URL.RawQuery) > maxCallbackQueryLen {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		q := r.URL.Query()
		got := q.Get("state")
		if subtle.ConstantTimeCompare([]byte(got), []byte(state)) != 1 {
			// Not the redirect of this login: anything that can reach the
			// port (a web page in the user's browser) can send one, so it
			// is refused and ignored rather than allowed to end the login.
			mismatched.Add(1)
			http.Error(w, "state mismatch", http.StatusBadRequest)
			return
		}
		if e := q.Get("error"); e != "" {
			writePage(w, http.StatusForbidden, "Authorization was not granted. You can close this window.")
			finish(outcome{err: fmt.Errorf("%w: authorization server answered %q", ErrLogin, truncate(e, 64))})
			return
		}
		code := q.Get("code")
		if code == "" {
			http.Error(w, "missing code", http.StatusBadRequest)
			finish(outcome{err: fmt.Errorf("%w: redirect without code", ErrLogin)})
			return
		}
		writePage(w, http.StatusOK, "Login complete. You can close this window.")
		finish(outcome{code: code})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed after Shutdown.
	defer func() {
		// Shutdown, not Close: the browser must still receive the page the
		// callback handler is writing when the result arrives.
		sctx, cancel := context.WithTimeout(context.Background(), loginShutdownTimeout)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()

	openURL(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))

	var res outcome
	select {
	case <-ctx.Done():
		if n := mismatched.Load(); n > 0 {
			return nil, fmt.Errorf("%w: waiting for redirect: %w (%d redirects with another state refused)", ErrLogin, ctx.Err(), n)
		}
		return nil, fmt.Errorf("api: oauth login: waiting for redirect: %w", ctx.Err())
	case res = <-results:
	}
	if res.err != nil {
		return nil, res.err
	}
	tok, err := conf.Exchange(cfg.context(ctx), res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("%w: exchanging code: %w", ErrLogin, redactRetrieveError(err))
	}
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("%w: token response without access token", ErrLogin)
	}
	cfg.stampExpiry(tok)
	return tok, nil
}

// redactRetrieveError keeps the OAuth error code of a token endpoint
// failure but drops the raw response body.
func redactRetrieveError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if re.ErrorCode != "" {
			return fmt.Errorf("token endpoint: %d: %s", status, truncate(re.ErrorCode, 64))
		}
		return fmt.Errorf("token endpoint: status %d", status)
	}
	return err
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: bad loopback address %q: %w", ErrLogin, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q is not a loopback address", ErrLogin, addr)
	}
	return nil
}

func randomState() (string, error) {
	b := make([]byte, stateRandomByteCount)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("%w: generating state: %w", ErrLogin, err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func writePage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>xchat</title><p>%s</p>\n", html.EscapeString(msg))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// NewPersistingTokenSource wraps base so that every token it returns that
// differs from the last one saved (a refresh, possibly with a rotated
// refresh token) is passed to save before it is used. If save fails the
// error is returned and the save is retried on the next call, so a rotated
// refresh token is never silently lost. The keystore provides save.
func NewPersistingTokenSource(base oauth2.TokenSource, save func(*oauth2.Token) error) oauth2.TokenSource {
	return &persistingTokenSource{base: base, save: save}
}

type persistingTokenSource struct {
	mu   sync.Mutex
	base oauth2.TokenSource
	save func(*oauth2.Token) error
	last [sha256.Size]byte // fingerprint of the last saved token
}

// Token implements oauth2.TokenSource.
func (p *persistingTokenSource) Token() (*oauth2.Token, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tok, err := p.base.Token()
	if err != nil {
		return nil, redactRetrieveError(err)
	}
	fp := tokenFingerprint(tok)
	if subtle.ConstantTimeCompare(fp[:], p.last[:]) == 1 {
		return tok, nil
	}
	if err := p.save(tok); err != nil {
		return nil, fmt.Errorf("api: saving refreshed token: %w", err)
	}
	p.last = fp
	return tok, nil
}

func tokenFingerprint(t *oauth2.Token) [sha256.Size]byte {
	if t == nil {
		return [sha256.Size]byte{}
	}
	h := sha256.New()
	h.Write([]byte(t.AccessToken))
	h.Write([]byte{0})
	h.Write([]byte(t.RefreshToken))
	h.Write([]byte{0})
	h.Write([]byte(t.Expiry.UTC().Format(time.RFC3339Nano)))
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}
