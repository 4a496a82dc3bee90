package emulator

import (
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
)

// ProvisionRequest is the body of POST /emulator/v1/users (the api
// package's shared type).
type ProvisionRequest = api.ProvisionUserRequest

// ProvisionResponse is the answer of POST /emulator/v1/users: the account,
// a bearer token carrying every scope (no expiry) and the credentials of
// the emulator's developer app (see AppCredentials).
type ProvisionResponse = api.ProvisionUserResponse

// ProvisionedUser is one element of GET /emulator/v1/users (no tokens).
type ProvisionedUser struct {
	ID       string `json:"id"`
	Username string `json:"username"`
}

var reUsername = regexp.MustCompile(`^[A-Za-z0-9_]{1,15}$`)

// handleProvision creates an account: 201 with a fresh numeric id and
// token. Provisioning an existing username (case-insensitive, as X
// handles are) answers 200 with that account and a new token, so demos can
// be re-run against a persistent data file.
func (s *Server) handleProvision(w http.ResponseWriter, r *http.Request) {
	body, perr := readBody(w, r, s.cfg.maxBody)
	if perr != nil {
		writeProblem(w, perr)
		return
	}
	var req ProvisionRequest
	if perr := decodeJSON(body, &req, true); perr != nil {
		writeProblem(w, perr)
		return
	}
	if !reUsername.MatchString(req.Username) {
		writeProblem(w, errInvalid("username", "The username must be 1 to 15 letters, digits or underscores."))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	status := http.StatusOK
	u := s.st.users[s.st.usernames[strings.ToLower(req.Username)]]
	var b batch
	if u == nil {
		status = http.StatusCreated
		u = &userRec{ID: s.newID(), Username: req.Username, CreatedAt: s.cfg.clock().UTC()}
		b.user(u)
	}
	secret, err := s.newSecret()
	if err != nil {
		writeProblem(w, errInternal())
		return
	}
	t := &tokenRec{Hash: hashSecret(secret), Kind: "access", UserID: u.ID, Scopes: slices.Clone(s.cfg.provisionScopes)}
	b.token(t)
	if err := s.commit(&b); err != nil {
		writeProblem(w, errInternal())
		return
	}
	s.st.users[u.ID] = u
	s.st.usernames[strings.ToLower(u.Username)] = u.ID
	s.st.tokens[t.Hash] = t
	writeJSON(w, status, ProvisionResponse{ID: u.ID, Username: u.Username, AccessToken: secret,
		AppBearerToken: s.rt.app.bearer, ConsumerSecret: s.rt.app.consumerSecret, ClientSecret: s.rt.app.clientSecret})
}

// handleListUsers lists provisioned accounts (ids and usernames only).
func (s *Server) handleListUsers(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make([]ProvisionedUser, 0, len(s.st.users))
	for _, u := range s.st.users {
		out = append(out, ProvisionedUser{ID: u.ID, Username: u.Username})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b ProvisionedUser) int { return decimal.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}
