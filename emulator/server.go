package emulator

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/exchange"
	bolt "go.etcd.io/bbolt"
)

// Server is the emulated X API. It implements http.Handler and is safe for
// concurrent use. Build it with New and release it with Close.
type Server struct {
	cfg     *config
	mux     *http.ServeMux
	handler http.Handler // serve, wrapped by the exchange recorder if any
	limiter *rateLimiter
	ids     *snowflake
	nextID  func() uint64

	mu    sync.Mutex // guards everything below
	st    *state
	db    *bolt.DB
	blobs map[string][]byte // media bytes when there is no data file
	// dmMedia is legacy DM media uploaded through PathEmulatorMedia
	// (memory only).
	dmMedia map[string]*dmMediaRec

	initErr error
	ops     map[string]bool // operation ids the routes serve

	rt *realtime // Activity API: subscriptions, streams, webhooks (realtime.go)
}

// New builds a Server. It never fails: if an option is invalid or the data
// file cannot be opened the error is kept, Err reports it and every request
// is answered with a 503 problem. Use Open to get the error directly.
func New(opts ...Option) *Server {
	cfg := defaultConfig()
	optErr := applyOptions(cfg, opts)
	if cfg.rand == nil {
		cfg.rand = rand.Reader
	}
	if len(cfg.provisionScopes) == 0 {
		cfg.provisionScopes = append([]string(nil), api.AllScopes...)
	}
	s := &Server{
		cfg:     cfg,
		mux:     http.NewServeMux(),
		limiter: newRateLimiter(cfg),
		ids:     &snowflake{clock: cfg.clock},
		st:      newState(),
		blobs:   map[string][]byte{},
		dmMedia: map[string]*dmMediaRec{},
		ops:     map[string]bool{},
	}
	s.nextID = s.ids.next
	s.rt = newRealtime(cfg)
	if cfg.ids != nil {
		s.nextID = cfg.ids
	}
	s.initErr = optErr
	if s.initErr == nil && cfg.dataFile != "" {
		s.initErr = s.openData(cfg.dataFile)
	}
	if err := s.initJuicebox(); err != nil && s.initErr == nil {
		s.initErr = err
	}
	s.routes()
	if s.initErr == nil {
		s.initErr = s.checkRateLimitedOps()
	}
	rec := cfg.recorder
	if rec == nil && !cfg.beyondSpec() {
		// The contract test validates spec-strict servers only: a server
		// with a convenience the specification lacks is not recorded.
		rec = exchange.FromEnv()
	}
	s.handler = rec.Wrap(http.HandlerFunc(s.serve))
	return s
}

// applyOptions applies opts to cfg and returns the first error.
func applyOptions(cfg *config, opts []Option) error {
	for _, o := range opts {
		if o == nil {
			return optionError("nil option")
		}
		if err := o(cfg); err != nil {
			return err
		}
	}
	return nil
}

// openData opens the data file and loads the state it holds.
func (s *Server) openData(path string) error {
	db, err := openDB(path)
	if err != nil {
		return err
	}
	s.db = db
	if err := s.load(); err != nil {
		_ = db.Close()
		s.db = nil
		return err
	}
	return nil
}

// checkRateLimitedOps refuses a per-operation rate limit naming an
// operation the server does not serve.
func (s *Server) checkRateLimitedOps() error {
	for _, id := range slices.Sorted(maps.Keys(s.cfg.opRates)) {
		if !s.ops[id] {
			return optionError("WithOperationRateLimit: unknown operation %q", id)
		}
	}
	return nil
}

// Open is New for callers that want the option or data-file error up front.
func Open(opts ...Option) (*Server, error) {
	s := New(opts...)
	if s.initErr != nil {
		return nil, s.initErr
	}
	return s, nil
}

// Err reports why the server could not start (nil when it is healthy).
func (s *Server) Err() error { return s.initErr }

// Close releases the data file. The Server must not be used afterwards.
func (s *Server) Close() error {
	s.rt.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	s.initErr = errors.New("emulator: server closed")
	return err
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := s.cfg.clock()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if v := recover(); v != nil {
			if !rec.wrote {
				writeProblem(rec, errInternal())
			}
			s.cfg.logger.Error("emulator: handler panic", "pattern", r.Pattern, "method", r.Method)
		}
		s.cfg.logger.Info("request", "method", r.Method, "pattern", r.Pattern,
			"status", rec.status, "duration", s.cfg.clock().Sub(start))
	}()
	if s.initErr != nil {
		writeProblem(rec, errUnavailable("The emulator is not available."))
		return
	}
	s.mux.ServeHTTP(rec, r)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status = code
		r.wrote = true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap exposes the connection to http.ResponseController (the activity
// stream flushes every line).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// call is one authenticated API request.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	op   api.Operation
	user *userRec
	tok  *tokenRec
	body []byte
	// reply, when a handler sets it, is written after the server's lock is
	// released: a large body goes out as fast as the client reads it
	// without stalling every other request meanwhile. It must not touch
	// the server's state.
	reply []byte
}

type handler func(s *Server, c *call) *apiError

// bodyLimit returns the body limit of an operation.
func (s *Server) bodyLimit(op api.Operation) int64 {
	if op.ID == api.OpChatMediaUploadAppend.ID {
		// base64 in JSON inflates by 4/3; leave room for the other fields.
		return s.cfg.maxSegment/3*4 + 64<<10
	}
	return s.cfg.maxBody
}

// handle registers an authenticated X API operation. Every answer carries
// the x-rate-limit-* headers, a refused credential's included (counted
// against the caller's address).
func (s *Server) handle(op api.Operation, h handler) {
	s.ops[op.ID] = true
	s.mux.HandleFunc(op.Route(), func(w http.ResponseWriter, r *http.Request) {
		c := &call{w: w, r: r, op: op}
		s.mu.Lock()
		user, tok, perr := s.authenticate(r)
		s.mu.Unlock()
		if perr != nil {
			s.limiter.allow(w, "anon|"+clientHost(r), op.ID, s.cfg.clock())
			w.Header().Set("WWW-Authenticate", `Bearer realm="emulator"`)
			writeProblem(w, perr)
			return
		}
		c.user, c.tok = user, tok
		if !s.limiter.allow(w, user.ID, op.ID, s.cfg.clock()) {
			writeProblem(w, errRateLimited())
			return
		}
		if missing := missingScopes(tok, op.Scopes); len(missing) > 0 {
			writeProblem(w, errMissingScopes(op.ID, missing))
			return
		}
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			body, err := readBody(w, r, s.bodyLimit(op))
			if err != nil {
				writeProblem(w, err)
				return
			}
			if perr := checkContentType(r, op, body); perr != nil {
				writeProblem(w, perr)
				return
			}
			c.body = body
		}
		s.serveLocked(c, user.ID, h)
		if c.reply != nil {
			_, _ = w.Write(c.reply)
		}
	})
}

// serveLocked runs h for c under the server's lock.
func (s *Server) serveLocked(c *call, userID string, h handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.initErr != nil {
		writeProblem(c.w, errUnavailable("The emulator is not available."))
		return
	}
	// Re-read the user: it cannot disappear, but keep the pointer fresh.
	c.user = s.st.users[userID]
	if perr := h(s, c); perr != nil {
		c.reply = nil
		writeProblem(c.w, perr)
	}
}

// clientHost is the caller's address without the port.
func clientHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// checkContentType requires a JSON media type on request bodies, as the
// specification declares every body application/json. Media appends may
// also be multipart/form-data (the XDK examples send them so).
func checkContentType(r *http.Request, op api.Operation, body []byte) *apiError {
	if len(body) == 0 {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" || (mt == "multipart/form-data" && op.ID == api.OpChatMediaUploadAppend.ID) {
		return nil
	}
	e := newProblem(http.StatusUnsupportedMediaType, api.ProblemInvalidRequest, "Unsupported Media Type",
		"The request body must be application/json.")
	e.problem.Parameter = "Content-Type"
	return e
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	if r.ContentLength > limit {
		return nil, errTooLarge(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge(limit)
		}
		return nil, errInvalid("body", "The request body could not be read.")
	}
	return body, nil
}

func missingScopes(t *tokenRec, need []string) []string {
	var out []string
	for _, sc := range need {
		if !t.hasScope(sc) {
			out = append(out, sc)
		}
	}
	return out
}

// authenticate resolves the bearer token of r. Callers hold s.mu.
func (s *Server) authenticate(r *http.Request) (*userRec, *tokenRec, *apiError) {
	unauthorized := errUnauthorized()
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, nil, unauthorized
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || len(tok) > 512 {
		return nil, nil, unauthorized
	}
	t := s.st.tokens[hashSecret(tok)]
	if t == nil || t.Kind != "access" {
		return nil, nil, unauthorized
	}
	if !t.ExpiresAt.IsZero() && !s.cfg.clock().Before(t.ExpiresAt) {
		return nil, nil, unauthorized
	}
	u := s.st.users[t.UserID]
	if u == nil {
		return nil, nil, unauthorized
	}
	return u, t, nil
}

// hashSecret is the storage key of a token or code: hex SHA-256. Lookups by
// digest keep the secrets themselves out of memory maps and the data file.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// newSecret mints a random bearer secret (32 bytes, base64url).
func (s *Server) newSecret() (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.cfg.rand, b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// newID mints a snowflake id string.
func (s *Server) newID() string { return fmtID(s.nextID()) }

// nowMsec is the current time in milliseconds.
func (s *Server) nowMsec() int64 { return s.cfg.clock().UnixMilli() }

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("POST /emulator/v1/users", s.handleProvision)
	m.HandleFunc("GET /emulator/v1/users", s.handleListUsers)
	m.HandleFunc("POST "+PathEmulatorMedia, s.handleDMMediaUpload)
	m.HandleFunc("GET /i/oauth2/authorize", s.handleAuthorize)
	m.HandleFunc("GET /2/oauth2/authorize", s.handleAuthorize)
	m.HandleFunc("POST /2/oauth2/token", s.handleToken)
	m.HandleFunc("POST /2/oauth2/revoke", s.handleRevoke)
	s.handle(opUsersMe, (*Server).usersMe)

	s.handle(api.OpGetChatConversations, (*Server).getChatConversations)
	s.handle(api.OpCreateChatConversation, (*Server).createChatConversation)
	s.handle(api.OpInitializeChatGroup, (*Server).initializeChatGroup)
	s.handle(api.OpGetChatConversation, (*Server).getChatConversation)
	s.handle(api.OpGetChatConversationEvents, (*Server).getChatConversationEvents)
	s.handle(api.OpAddConversationKeys, (*Server).addConversationKeys)
	s.handle(api.OpAddChatGroupMembers, (*Server).addChatGroupMembers)
	s.handle(api.OpSendChatMessage, (*Server).sendChatMessage)
	s.handle(api.OpDeleteChatMessages, (*Server).deleteChatMessages)
	s.handle(api.OpMarkChatConversationRead, (*Server).markChatConversationRead)
	s.handle(api.OpSendChatTypingIndicator, (*Server).sendChatTypingIndicator)

	s.handle(api.OpChatMediaUploadInitialize, (*Server).chatMediaUploadInitialize)
	s.handle(api.OpChatMediaUploadAppend, (*Server).chatMediaUploadAppend)
	s.handle(api.OpChatMediaUploadFinalize, (*Server).chatMediaUploadFinalize)
	s.handle(api.OpChatMediaDownload, (*Server).chatMediaDownload)

	s.handle(api.OpGetUsersPublicKeys, (*Server).getUsersPublicKeys)
	s.handle(api.OpGetUsersPublicKey, (*Server).getUsersPublicKey)
	s.handle(api.OpAddUserPublicKey, (*Server).addUserPublicKey)

	s.handle(api.OpCreateDirectMessagesConversation, (*Server).createDMConversation)
	s.handle(api.OpDmConversationsMediaDownload, (*Server).dmMediaDownload)
	s.handle(api.OpGetDirectMessagesEventsByParticipantID, (*Server).getDMEventsByParticipant)
	s.handle(api.OpCreateDirectMessagesByParticipantID, (*Server).createDMByParticipant)
	s.handle(api.OpCreateDirectMessagesByConversationID, (*Server).createDMByConversation)
	s.handle(api.OpGetDirectMessagesEventsByConversationID, (*Server).getDMEventsByConversation)
	s.handle(api.OpGetDirectMessagesEvents, (*Server).getDMEvents)
	s.handle(api.OpDeleteDirectMessagesEvents, (*Server).deleteDMEvent)
	s.handle(api.OpGetDirectMessagesEventsByID, (*Server).getDMEvent)
	s.handle(api.OpBlockUsersDms, (*Server).blockUserDMs)
	s.handle(api.OpUnblockUsersDms, (*Server).unblockUserDMs)

	s.realtimeRoutes()

	s.routesJuicebox()
	m.HandleFunc("/", s.handleUnknown)
}

// opUsersMe is GET /2/users/me: not in the chat specification, but X's
// OAuth clients (and the XDK examples) use it to learn their user id.
var opUsersMe = api.Operation{ID: "findMyUser", Method: "GET", Pattern: "/2/users/me",
	Scopes: []string{"tweet.read", "users.read"}, Idempotent: true}

func (s *Server) usersMe(c *call) *apiError {
	writeJSON(c.w, http.StatusOK, map[string]any{"data": apiUser(c.user)})
	return nil
}

func apiUser(u *userRec) api.User {
	return userJSON(u, []string{"created_at"})
}

// userJSON renders an account with X's default user fields (id, name,
// username) plus the requested user.fields the emulator knows; fields it
// has no data for (metrics, verification, ...) are left out, as X leaves
// out what a user does not have.
func userJSON(u *userRec, fields []string) api.User {
	out := api.User{ID: u.ID, Username: u.Username, Name: u.Username}
	f := false
	for _, name := range fields {
		switch name {
		case "created_at":
			out.CreatedAt = u.CreatedAt.UTC().Format(time.RFC3339)
		case "protected":
			out.Protected = &f
		case "verified":
			out.Verified = &f
		case "description":
			out.Description = ""
		}
	}
	return out
}

func (s *Server) handleUnknown(w http.ResponseWriter, r *http.Request) {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" && p != "/" {
			w.Header().Set("Allow", m)
			writeProblem(w, newProblem(http.StatusMethodNotAllowed, api.ProblemInvalidRequest,
				"Method Not Allowed", "The method "+strconv.Quote(r.Method)+" is not allowed on this resource."))
			return
		}
	}
	writeProblem(w, newProblem(http.StatusNotFound, api.ProblemResourceNotFound, "Not Found Error",
		"No such endpoint."))
}
