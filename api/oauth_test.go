package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
)

// authServer is an OAuth 2.0 authorization server for tests that enforces
// PKCE S256, exact redirect URIs, single-use codes and rotating refresh
// tokens.
type authServer struct {
	t        *testing.T
	clientID string
	mu       sync.Mutex
	codes    map[string]pending
	refresh  string // the only valid refresh token
	issued   int
	srv      *httptest.Server
}

type pending struct{ challenge, redirect string }

func newAuthServer(t *testing.T) *authServer {
	a := &authServer{t: t, clientID: "client-123", codes: map[string]pending{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", a.authorize)
	mux.HandleFunc("POST /token", a.token)
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authServer) config() *api.OAuthConfig {
	return &api.OAuthConfig{
		ClientID: a.clientID,
		AuthURL:  a.srv.URL + "/authorize",
		TokenURL: a.srv.URL + "/token",
		Timeout:  10 * time.Second,
		// Tests run in parallel: a free port, not the fixed default.
		LoopbackAddr: "127.0.0.1:0",
	}
}

func (a *authServer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") != a.clientID || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorize request: "+r.URL.RawQuery, 400)
		return
	}
	if !strings.Contains(q.Get("scope"), "offline.access") || !strings.Contains(q.Get("scope"), "dm.write") {
		http.Error(w, "missing scopes", 400)
		return
	}
	redirect := q.Get("redirect_uri")
	if !strings.HasPrefix(redirect, "http://127.0.0.1:") {
		http.Error(w, "redirect not loopback", 400)
		return
	}
	a.mu.Lock()
	a.issued++
	code := fmt.Sprintf("code-%d", a.issued)
	a.codes[code] = pending{q.Get("code_challenge"), redirect}
	a.mu.Unlock()
	http.Redirect(w, r, redirect+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
}

func (a *authServer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", 400)
		return
	}
	fail := func(code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": "secret-ish detail"})
	}
	if r.PostForm.Get("client_id") != a.clientID {
		fail("invalid_client")
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		p, ok := a.codes[r.PostForm.Get("code")]
		delete(a.codes, r.PostForm.Get("code"))
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || p.redirect != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != p.challenge {
			fail("invalid_grant")
			return
		}
	case "refresh_token":
		if a.refresh == "" || r.PostForm.Get("refresh_token") != a.refresh {
			fail("invalid_grant")
			return
		}
	default:
		fail("unsupported_grant_type")
		return
	}
	a.issued++
	a.refresh = fmt.Sprintf("rt-%d", a.issued)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": fmt.Sprintf("at-%d", a.issued), "refresh_token": a.refresh,
		"token_type": "bearer", "expires_in": 7200, "scope": strings.Join(api.AllScopes, " "),
	})
}

// fakeBrowser follows the authorization URL like a user agent would, in
// the background, and keeps what it met for the test goroutine: a test
// must not report from another goroutine, nor end before it has finished.
type fakeBrowser struct{ done chan error }

func newBrowser() *fakeBrowser { return &fakeBrowser{done: make(chan error, 1)} }

// open fetches u, following redirects, and reads the page to the end.
func (b *fakeBrowser) open(u string) {
	go func() {
		resp, err := http.Get(u)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		b.done <- err
	}()
}

// wait waits for the page opened by open and fails the test if it could
// not be fetched. Call it only after open was called.
func (b *fakeBrowser) wait(t *testing.T) {
	t.Helper()
	if err := <-b.done; err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// login runs LoopbackLogin with a fake browser and waits for the browser.
func login(t *testing.T, cfg *api.OAuthConfig) *oauth2.Token {
	t.Helper()
	br := newBrowser()
	tok, err := api.LoopbackLogin(context.Background(), cfg, br.open)
	if err != nil {
		t.Fatal(err)
	}
	br.wait(t)
	return tok
}

func TestLoopbackLoginPKCE(t *testing.T) {
	a := newAuthServer(t)
	var opened string
	br := newBrowser()
	tok, err := api.LoopbackLogin(context.Background(), a.config(), func(u string) { opened = u; br.open(u) })
	if err != nil {
		t.Fatal(err)
	}
	br.wait(t)
	if !strings.HasPrefix(tok.AccessToken, "at-") || !strings.HasPrefix(tok.RefreshToken, "rt-") || tok.Expiry.IsZero() {
		t.Fatalf("token = %+v", tok)
	}
	u, err := url.Parse(opened)
	if err != nil {
		t.Fatal(err)
	}
	if u.Query().Get("code_challenge_method") != "S256" || len(u.Query().Get("state")) < 32 {
		t.Errorf("authorization url = %s", opened)
	}
}

func TestAuthServerRejectsWrongVerifier(t *testing.T) {
	// Proves the server above really checks the S256 challenge, so that
	// TestLoopbackLoginPKCE passing means the client sent the right verifier.
	a := newAuthServer(t)
	conf := a.config().Config("http://127.0.0.1:1/cb")
	v := oauth2.GenerateVerifier()
	resp, err := http.Get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)) + "&dummy=1")
	if err == nil {
		resp.Body.Close()
	}
	a.mu.Lock()
	var code string
	for c := range a.codes {
		code = c
	}
	a.mu.Unlock()
	if code == "" {
		t.Fatal("no code issued")
	}
	if _, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatal("wrong verifier accepted")
	}
}

// A redirect with another state (any local web page can send one) is
// refused and does not end the login: the genuine redirect that follows
// completes it, and the forged code is never exchanged.
func TestLoopbackLoginStateMismatch(t *testing.T) {
	a := newAuthServer(t)
	br := newBrowser()
	forged := make(chan int, 1)
	tok, err := api.LoopbackLogin(context.Background(), a.config(), func(u string) {
		au, err := url.Parse(u)
		if err != nil {
			t.Error(err)
			return
		}
		resp, err := http.Get(au.Query().Get("redirect_uri") + "?code=forged-code&state=forged")
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		forged <- resp.StatusCode
		br.open(u)
	})
	if err != nil {
		t.Fatal(err)
	}
	br.wait(t)
	if status := <-forged; status != http.StatusBadRequest {
		t.Fatalf("forged redirect answered %d, want 400", status)
	}
	if !strings.HasPrefix(tok.AccessToken, "at-") {
		t.Fatalf("token = %+v", tok)
	}
}

// A login that only ever sees redirects with another state times out and
// says so.
func TestLoopbackLoginStateMismatchOnly(t *testing.T) {
	a := newAuthServer(t)
	cfg := a.config()
	cfg.Timeout = 200 * time.Millisecond
	_, err := api.LoopbackLogin(context.Background(), cfg, func(u string) {
		au, err := url.Parse(u)
		if err != nil {
			t.Error(err)
			return
		}
		resp, err := http.Get(au.Query().Get("redirect_uri") + "?code=code-1&state=forged")
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
	})
	if !errors.Is(err, api.ErrLogin) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 redirects with another state refused") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoopbackLoginDenied(t *testing.T) {
	a := newAuthServer(t)
	_, err := api.LoopbackLogin(context.Background(), a.config(), func(u string) {
		au, err := url.Parse(u)
		if err != nil {
			t.Error(err)
			return
		}
		go func() {
			resp, err := http.Get(au.Query().Get("redirect_uri") + "?error=access_denied&state=" + url.QueryEscape(au.Query().Get("state")))
			if err == nil {
				resp.Body.Close()
			}
		}()
	})
	if !errors.Is(err, api.ErrLogin) || !strings.Contains(err.Error(), "access_denied") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoopbackLoginTimeout(t *testing.T) {
	a := newAuthServer(t)
	cfg := a.config()
	cfg.Timeout = 50 * time.Millisecond
	_, err := api.LoopbackLogin(context.Background(), cfg, func(string) {})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestLoopbackLoginRejectsNonLoopback(t *testing.T) {
	cfg := &api.OAuthConfig{ClientID: "c", LoopbackAddr: "0.0.0.0:0"}
	if _, err := api.LoopbackLogin(context.Background(), cfg, func(string) { t.Error("opened") }); !errors.Is(err, api.ErrLogin) {
		t.Fatalf("err = %v", err)
	}
}

func TestRefreshPersistsRotatedToken(t *testing.T) {
	a := newAuthServer(t)
	cfg := a.config()
	tok := login(t, cfg)
	tok.Expiry = time.Now().Add(-time.Minute) // force a refresh

	var saved []*oauth2.Token
	var mu sync.Mutex
	ts := cfg.TokenSource(context.Background(), tok, func(t *oauth2.Token) error {
		mu.Lock()
		defer mu.Unlock()
		saved = append(saved, t)
		return nil
	})
	var auths []string
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		auths = append(auths, r.Header.Get("Authorization"))
		writeJSON(w, 200, map[string]any{"data": map[string]any{"success": true}})
	}, api.WithTokenSource(ts))
	for i := 0; i < 2; i++ {
		if _, _, err := c.SendTyping(context.Background(), groupID); err != nil {
			t.Fatal(err)
		}
	}
	if len(saved) != 1 || saved[0].RefreshToken == tok.RefreshToken || saved[0].AccessToken == tok.AccessToken {
		t.Fatalf("saved = %v", saved)
	}
	want := "Bearer " + saved[0].AccessToken
	if len(auths) != 2 || auths[0] != want || auths[1] != want {
		t.Fatalf("authorization headers = %v, want %q", auths, want)
	}
	// The old refresh token was rotated out by the server.
	_, err := cfg.Config("").TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err == nil {
		t.Fatal("old refresh token still valid; rotation not exercised")
	}
}

type seqTS struct{ toks []*oauth2.Token }

func (s *seqTS) Token() (*oauth2.Token, error) {
	t := s.toks[0]
	if len(s.toks) > 1 {
		s.toks = s.toks[1:]
	}
	return t, nil
}

func TestPersistingTokenSourceRetriesFailedSave(t *testing.T) {
	t1 := &oauth2.Token{AccessToken: "a1", RefreshToken: "r1"}
	base := &seqTS{toks: []*oauth2.Token{t1, t1, t1}}
	fails := 1
	var saves int
	ts := api.NewPersistingTokenSource(base, func(*oauth2.Token) error {
		saves++
		if fails > 0 {
			fails--
			return errors.New("disk full")
		}
		return nil
	})
	if _, err := ts.Token(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v", err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
	if saves != 2 {
		t.Fatalf("saves = %d, want 2 (one failure, one success, then unchanged)", saves)
	}
}

func TestOAuthConfigRedactsSecret(t *testing.T) {
	cfg := &api.OAuthConfig{ClientID: "cid", ClientSecret: "s3cr3t-value", LoopbackAddr: "127.0.0.1:0"}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg), fmt.Sprintf("%v %+v %#v", *cfg, *cfg, *cfg)} {
		if strings.Contains(s, "s3cr3t") {
			t.Fatalf("secret leaked: %s", s)
		}
	}
	c := cfg.Config("")
	if c.Endpoint.AuthURL != api.DefaultAuthURL || c.Endpoint.TokenURL != api.DefaultTokenURL || c.Endpoint.AuthStyle != oauth2.AuthStyleInHeader {
		t.Fatalf("defaults = %+v", c.Endpoint)
	}
}

func TestNewOAuthConfigEndpoints(t *testing.T) {
	if c := api.NewOAuthConfig("", "id"); c.Config("").Endpoint.AuthURL != api.DefaultAuthURL {
		t.Errorf("default auth url %q", c.Config("").Endpoint.AuthURL)
	}
	if c := api.NewOAuthConfig(api.DefaultBaseURL+"/", "id"); c.Config("").Endpoint.TokenURL != api.DefaultTokenURL {
		t.Errorf("default token url %q", c.Config("").Endpoint.TokenURL)
	}
	c := api.NewOAuthConfig("http://127.0.0.1:9/", "id").Config("")
	if c.Endpoint.AuthURL != "http://127.0.0.1:9/i/oauth2/authorize" || c.Endpoint.TokenURL != "http://127.0.0.1:9/2/oauth2/token" {
		t.Errorf("emulator endpoints %+v", c.Endpoint)
	}
}

// Item 6 of issue #13: X matches the callback URL exactly, so the default
// redirect is a fixed, documented loopback URL.
func TestLoopbackLoginDefaultRedirectIsFixed(t *testing.T) {
	a := newAuthServer(t)
	cfg := a.config()
	cfg.LoopbackAddr = "" // the default
	var redirect string
	var parseErr error
	br := newBrowser()
	if _, err := api.LoopbackLogin(context.Background(), cfg, func(u string) {
		var p *url.URL
		if p, parseErr = url.Parse(u); parseErr == nil {
			redirect = p.Query().Get("redirect_uri")
		}
		br.open(u)
	}); err != nil {
		t.Fatal(err)
	}
	br.wait(t)
	if parseErr != nil {
		t.Fatal(parseErr)
	}
	if redirect != api.DefaultRedirectURL || api.DefaultRedirectURL != "http://127.0.0.1:8976/callback" {
		t.Fatalf("redirect_uri %q, default %q", redirect, api.DefaultRedirectURL)
	}
}

// The browser receives the "Login complete" page: the loopback server shuts
// down gracefully instead of closing the connection under the handler.
func TestLoopbackLoginPageReachesBrowser(t *testing.T) {
	a := newAuthServer(t)
	for range 20 {
		pages := make(chan string, 1)
		_, err := api.LoopbackLogin(context.Background(), a.config(), func(u string) {
			go func() {
				resp, err := http.Get(u)
				if err != nil {
					pages <- "error: " + err.Error()
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					pages <- "error: " + err.Error()
					return
				}
				pages <- string(b)
			}()
		})
		if err != nil {
			t.Fatal(err)
		}
		if page := <-pages; !strings.Contains(page, "Login complete") {
			t.Fatalf("browser got %q", page)
		}
	}
}

// TestTokenSourceRefreshesOnExpiry tells refresh-on-expiry from
// refresh-always and refresh-never: on the configuration's clock the
// token is reused until RefreshMargin before the expiry the token endpoint
// gave (expires_in 7200), and refreshed from then on.
func TestTokenSourceRefreshesOnExpiry(t *testing.T) {
	a := newAuthServer(t)
	clk := testutil.NewClock()
	cfg := a.config()
	cfg.Now = clk.Now
	tok := login(t, cfg)
	if want := clk.Now().Add(7200 * time.Second); !tok.Expiry.Equal(want) {
		t.Fatalf("login token expires %v, want %v (expires_in on the configured clock)", tok.Expiry, want)
	}
	ts := cfg.TokenSource(context.Background(), tok, nil)
	get := func() *oauth2.Token {
		t.Helper()
		got, err := ts.Token()
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := get(); got.AccessToken != tok.AccessToken {
		t.Fatal("a fresh token was refreshed")
	}
	if err := clk.Sleep(context.Background(), 7200*time.Second-api.RefreshMargin-time.Second); err != nil {
		t.Fatal(err)
	}
	if got := get(); got.AccessToken != tok.AccessToken {
		t.Fatal("refreshed before the refresh margin")
	}
	if err := clk.Sleep(context.Background(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	second := get()
	if second.AccessToken == tok.AccessToken || second.RefreshToken == tok.RefreshToken {
		t.Fatal("not refreshed within the refresh margin of expiry")
	}
	if want := clk.Now().Add(7200 * time.Second); !second.Expiry.Equal(want) {
		t.Fatalf("refreshed token expires %v, want %v", second.Expiry, want)
	}
	if got := get(); got.AccessToken != second.AccessToken {
		t.Fatal("the refreshed token was refreshed again at once")
	}
}
