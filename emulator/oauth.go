package emulator

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/xchat-go/xchat/internal/decimal"
)

// OAuth 2.0 Authorization Code grant with PKCE (RFC 6749, RFC 7636), as X
// runs it: GET /i/oauth2/authorize (also served at /2/oauth2/authorize, the
// URL in the specification's securitySchemes) and POST /2/oauth2/token.
// Authorization codes are single use and live ten minutes; access tokens
// live WithAccessTokenTTL; refresh tokens are issued only when
// offline.access was granted and rotate on every use.

const authCodeTTL = 10 * time.Minute

// knownScopes are the OAuth 2.0 scopes of the specification's
// securitySchemes; the emulator grants any of them.
var knownScopes = []string{
	"block.read", "block.write", "bookmark.read", "bookmark.write", "broadcast.read",
	"broadcast.write", "dm.read", "dm.write", "follows.read", "follows.write", "like.read",
	"like.write", "list.read", "list.write", "media.write", "mute.read", "mute.write",
	"offline.access", "space.read", "timeline.read", "tweet.moderate.write", "tweet.read",
	"tweet.write", "users.read",
}

var reVerifier = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// handleAuthorize is the authorization endpoint. It approves without a
// consent page for the user named by emulator_user=<id> or configured with
// WithOAuthAutoApprove; otherwise it shows a page listing the accounts.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID := q.Get("client_id")
	redirectURI := q.Get("redirect_uri")
	s.mu.Lock()
	defer s.mu.Unlock()
	if clientID == "" {
		writeProblem(w, errInvalid("client_id", "client_id is required."))
		return
	}
	if perr := s.checkRedirect(clientID, redirectURI); perr != nil {
		writeProblem(w, perr)
		return
	}
	fail := func(code, desc string) {
		u, _ := url.Parse(redirectURI)
		v := u.Query()
		v.Set("error", code)
		v.Set("error_description", desc)
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "response_type must be code")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if method == "" {
		method = "plain"
	}
	if challenge == "" {
		fail("invalid_request", "code_challenge is required (PKCE)")
		return
	}
	if method != "S256" && method != "plain" {
		fail("invalid_request", "code_challenge_method must be S256 or plain")
		return
	}
	if method == "S256" && len(challenge) != 43 {
		fail("invalid_request", "code_challenge must be a base64url SHA-256 digest")
		return
	}
	if method == "plain" && !reVerifier.MatchString(challenge) {
		fail("invalid_request", "code_challenge is not a valid verifier")
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	if len(scopes) == 0 {
		fail("invalid_scope", "scope is required")
		return
	}
	for _, sc := range scopes {
		if !slices.Contains(knownScopes, sc) {
			fail("invalid_scope", "unknown scope")
			return
		}
	}
	userID := q.Get("emulator_user")
	if userID == "" {
		userID = s.cfg.oauthAutoUser
	}
	if userID == "" {
		s.consentPage(w, r)
		return
	}
	if s.st.users[userID] == nil {
		fail("access_denied", "unknown emulator user")
		return
	}
	code, err := s.newSecret()
	if err != nil {
		writeProblem(w, errInternal())
		return
	}
	s.pruneCodes()
	s.st.codes[hashSecret(code)] = &authCode{
		UserID: userID, ClientID: clientID, RedirectURI: redirectURI,
		Scopes: slices.Compact(slices.Sorted(slices.Values(scopes))), Challenge: challenge, Method: method,
		ExpiresAt: s.cfg.clock().Add(authCodeTTL),
	}
	u, _ := url.Parse(redirectURI)
	v := u.Query()
	v.Set("code", code)
	if st := q.Get("state"); st != "" {
		v.Set("state", st)
	}
	u.RawQuery = v.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (s *Server) pruneCodes() {
	now := s.cfg.clock()
	for k, c := range s.st.codes {
		if !now.Before(c.ExpiresAt) {
			delete(s.st.codes, k)
		}
	}
}

// checkRedirect validates redirect_uri before anything is redirected to it.
func (s *Server) checkRedirect(clientID, redirectURI string) *apiError {
	if redirectURI == "" {
		return errInvalid("redirect_uri", "redirect_uri is required.")
	}
	u, err := url.Parse(redirectURI)
	if err != nil || !u.IsAbs() || u.Fragment != "" || u.Host == "" {
		return errInvalid("redirect_uri", "redirect_uri must be an absolute URL without a fragment.")
	}
	if len(s.cfg.oauthClients) > 0 {
		cl, ok := s.cfg.oauthClients[clientID]
		if !ok {
			return errInvalid("client_id", "Unknown client_id.")
		}
		if !slices.Contains(cl.redirectURIs, redirectURI) {
			return errInvalid("redirect_uri", "redirect_uri is not registered for this client.")
		}
		return nil
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errInvalid("redirect_uri", "redirect_uri must use http or https.")
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); !(host == "localhost" || ip != nil && ip.IsLoopback()) {
		return errInvalid("redirect_uri", "Without registered clients only loopback redirect URIs are accepted.")
	}
	return nil
}

var consentTmpl = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>xchat emulator: authorize</title></head>
<body><h1>Authorize as…</h1>
{{if .Users}}<ul>{{range .Users}}<li><a href="{{.Link}}">{{.Name}} ({{.ID}})</a></li>{{end}}</ul>
{{else}}<p>No accounts yet: provision one with POST /emulator/v1/users.</p>{{end}}
</body></html>`))

func (s *Server) consentPage(w http.ResponseWriter, r *http.Request) {
	type entry struct{ ID, Name, Link string }
	var users []entry
	for _, u := range s.st.users {
		q := r.URL.Query()
		q.Set("emulator_user", u.ID)
		users = append(users, entry{u.ID, u.Username, r.URL.Path + "?" + q.Encode()})
	}
	slices.SortFunc(users, func(a, b entry) int { return decimal.Compare(a.ID, b.ID) })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = consentTmpl.Execute(w, map[string]any{"Users": users})
}

// tokenResponse is the RFC 6749 §5.1 token response.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	AccessToken  string `json:"access_token"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="emulator"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// clientCredentials extracts the client from HTTP Basic or the form
// (RFC 6749 §2.3.1) and authenticates registered confidential clients.
func (s *Server) clientCredentials(r *http.Request) (string, bool) {
	id, secret, basic := r.BasicAuth()
	if basic {
		if u, err := url.QueryUnescape(id); err == nil {
			id = u
		}
		if u, err := url.QueryUnescape(secret); err == nil {
			secret = u
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id == "" {
		return "", false
	}
	if cl, ok := s.cfg.oauthClients[id]; ok && cl.secret != "" {
		if subtle.ConstantTimeCompare([]byte(cl.secret), []byte(secret)) != 1 {
			return id, false
		}
	} else if len(s.cfg.oauthClients) > 0 && !ok {
		return id, false
	}
	return id, true
}

// handleToken is the token endpoint: authorization_code (with PKCE) and
// refresh_token grants.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clientID, ok := s.clientCredentials(r)
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	f := r.PostForm
	var b batch
	var scopes []string
	var userID string
	var revokeRefresh string
	switch f.Get("grant_type") {
	case "authorization_code":
		code := f.Get("code")
		key := hashSecret(code)
		ac := s.st.codes[key]
		if code == "" || ac == nil {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or used authorization code")
			return
		}
		delete(s.st.codes, key) // single use, whatever happens next
		if !s.cfg.clock().Before(ac.ExpiresAt) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "authorization code expired")
			return
		}
		if ac.ClientID != clientID {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "authorization code was issued to another client")
			return
		}
		if f.Get("redirect_uri") != ac.RedirectURI {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
			return
		}
		if !verifyPKCE(ac.Method, ac.Challenge, f.Get("code_verifier")) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match code_challenge")
			return
		}
		scopes, userID = ac.Scopes, ac.UserID
	case "refresh_token":
		rt := f.Get("refresh_token")
		t := s.st.tokens[hashSecret(rt)]
		if rt == "" || t == nil || t.Kind != "refresh" {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown refresh token")
			return
		}
		if t.ClientID != clientID {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token was issued to another client")
			return
		}
		scopes, userID, revokeRefresh = t.Scopes, t.UserID, t.Hash
		b.del(bucketTokens, t.Hash)
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code and refresh_token are supported")
		return
	}
	if s.st.users[userID] == nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the user no longer exists")
		return
	}
	access, err1 := s.newSecret()
	refresh, err2 := s.newSecret()
	if err1 != nil || err2 != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "could not mint a token")
		return
	}
	now := s.cfg.clock()
	at := &tokenRec{Hash: hashSecret(access), Kind: "access", UserID: userID, ClientID: clientID,
		Scopes: slices.Clone(scopes), ExpiresAt: now.Add(s.cfg.accessTTL)}
	b.token(at)
	resp := tokenResponse{TokenType: "bearer", ExpiresIn: int64(s.cfg.accessTTL / time.Second),
		AccessToken: access, Scope: strings.Join(scopes, " ")}
	var rtRec *tokenRec
	if slices.Contains(scopes, "offline.access") {
		rtRec = &tokenRec{Hash: hashSecret(refresh), Kind: "refresh", UserID: userID, ClientID: clientID, Scopes: slices.Clone(scopes)}
		b.token(rtRec)
		resp.RefreshToken = refresh
	}
	if err := s.commit(&b); err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "could not store the token")
		return
	}
	if revokeRefresh != "" {
		delete(s.st.tokens, revokeRefresh)
	}
	s.st.tokens[at.Hash] = at
	if rtRec != nil {
		s.st.tokens[rtRec.Hash] = rtRec
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// verifyPKCE checks a code_verifier against the stored challenge
// (RFC 7636 §4.6) in constant time.
func verifyPKCE(method, challenge, verifier string) bool {
	if !reVerifier.MatchString(verifier) {
		return false
	}
	want := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// handleRevoke is POST /2/oauth2/revoke (RFC 7009): it revokes an access or
// refresh token of the authenticated client and always answers 200.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clientID, ok := s.clientCredentials(r)
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	key := hashSecret(r.PostForm.Get("token"))
	if t := s.st.tokens[key]; t != nil && (t.ClientID == clientID || t.ClientID == "") {
		var b batch
		b.del(bucketTokens, key)
		if err := s.commit(&b); err != nil {
			oauthError(w, http.StatusInternalServerError, "server_error", "could not revoke")
			return
		}
		delete(s.st.tokens, key)
	}
	writeJSON(w, http.StatusOK, map[string]bool{"revoked": true})
}
