package realm

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xchat-go/xchat/juicebox/noisenk"
	"github.com/xchat-go/xchat/juicebox/proto"
)

// MinClientVersion is the oldest X-Juicebox-Version the realms accept.
const MinClientVersion = "0.3.0"

// ServeHTTP serves POST …/req.
func (r *Realm) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, proto.BodySizeLimit))
	// Read the body first: only then does the server notice a client that
	// gives up (and cancel the request's context).
	f := r.Faults()
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case f.Down:
		http.Error(w, "realm unavailable", http.StatusServiceUnavailable)
		return
	case f.UpgradeRequired || !versionAtLeast(req.Header.Get("X-Juicebox-Version"), MinClientVersion):
		http.Error(w, "upgrade required", http.StatusUpgradeRequired)
		return
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			r.tooLarge(w)
			return
		}
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if r.static == nil {
		r.serveSoftware(w, req, body, f)
		return
	}
	r.serveHardware(w, body, f)
}

func (r *Realm) tooLarge(w http.ResponseWriter) {
	if r.static != nil {
		writeCBOR(w, http.StatusOK, &proto.ClientResponse{Status: proto.ClientPayloadTooLarge})
		return
	}
	http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
}

type marshaler interface{ Marshal() ([]byte, error) }

func writeCBOR(w http.ResponseWriter, status int, m marshaler) {
	b, err := m.Marshal()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/cbor")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// serveSoftware handles a plain SecretsRequest.
func (r *Realm) serveSoftware(w http.ResponseWriter, req *http.Request, body []byte, f Faults) {
	scheme, tok, _ := strings.Cut(req.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	tenant, sub, err := validateToken(strings.TrimSpace(tok), r.keys, r.id.String(), r.now())
	if err != nil {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if f.RateLimited {
		http.Error(w, "rate limit exceeded", http.StatusTooManyRequests)
		return
	}
	sreq, err := proto.DecodeSecretsRequest(body)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	resp, err := r.process(userKey(tenant, sub), sreq)
	r.mu.Unlock()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeCBOR(w, http.StatusOK, resp)
}

// serveHardware handles a ClientRequest (Noise handshake or transport).
func (r *Realm) serveHardware(w http.ResponseWriter, body []byte, f Faults) {
	answer := func(s proto.ClientStatus) { writeCBOR(w, http.StatusOK, &proto.ClientResponse{Status: s}) }
	cr, err := proto.DecodeClientRequest(body)
	if err != nil {
		answer(proto.ClientDecodingError)
		return
	}
	if cr.Realm != r.id {
		answer(proto.ClientUnavailable)
		return
	}
	tenant, sub, err := validateToken(cr.AuthToken, r.keys, r.id.String(), r.now())
	if err != nil {
		answer(proto.ClientInvalidAuth)
		return
	}
	if f.RateLimited {
		answer(proto.ClientRateLimitExceeded)
		return
	}
	user := userKey(tenant, sub)
	r.mu.Lock()
	defer r.mu.Unlock()
	var resp *proto.ClientResponse
	if cr.Handshake != nil {
		resp = r.handshake(user, cr)
	} else {
		resp = r.transport(user, cr)
	}
	writeCBOR(w, http.StatusOK, resp)
}

// handshake opens a session; a handshake may carry a request that does
// not need forward secrecy. Callers hold r.mu.
func (r *Realm) handshake(user string, cr *proto.ClientRequest) *proto.ClientResponse {
	hs, payload, err := noisenk.Respond(*r.static, cr.Handshake, r.rand)
	if err != nil {
		return &proto.ClientResponse{Status: proto.ClientSessionError}
	}
	var reply []byte
	switch cr.Kind {
	case proto.HandshakeOnly:
		if len(payload) != 0 {
			return &proto.ClientResponse{Status: proto.ClientDecodingError}
		}
	case proto.SecretsRequestKind:
		sreq, err := proto.DecodeSecretsRequest(payload)
		// Register2 and Recover2/3 only travel in an established session:
		// a handshake payload has no forward secrecy.
		if err != nil || sreq.NeedsForwardSecrecy() {
			return &proto.ClientResponse{Status: proto.ClientDecodingError}
		}
		if reply, err = r.answer(user, sreq); err != nil {
			return &proto.ClientResponse{Status: proto.ClientUnavailable}
		}
	}
	transport, hresp, err := hs.Finish(reply)
	if err != nil {
		return &proto.ClientResponse{Status: proto.ClientSessionError}
	}
	r.pruneSessions()
	r.sessions[sessionKey{user, cr.SessionID}] = &noiseSession{transport: transport, lastUsed: r.now()}
	return &proto.ClientResponse{Status: proto.ClientOK, Handshake: hresp, SessionLifetime: r.lifetime}
}

// transport runs a request in an open session. Callers hold r.mu.
func (r *Realm) transport(user string, cr *proto.ClientRequest) *proto.ClientResponse {
	key := sessionKey{user, cr.SessionID}
	s := r.sessions[key]
	if s == nil || r.now().Sub(s.lastUsed) >= r.lifetime {
		delete(r.sessions, key)
		return &proto.ClientResponse{Status: proto.ClientMissingSession}
	}
	plain, err := s.transport.Decrypt(cr.Transport)
	if err != nil {
		delete(r.sessions, key)
		return &proto.ClientResponse{Status: proto.ClientSessionError}
	}
	sreq, err := proto.DecodeSecretsRequest(plain)
	if err != nil {
		delete(r.sessions, key)
		return &proto.ClientResponse{Status: proto.ClientDecodingError}
	}
	reply, err := r.answer(user, sreq)
	if err != nil {
		delete(r.sessions, key)
		return &proto.ClientResponse{Status: proto.ClientUnavailable}
	}
	ct, err := s.transport.Encrypt(reply)
	if err != nil {
		delete(r.sessions, key)
		return &proto.ClientResponse{Status: proto.ClientSessionError}
	}
	s.lastUsed = r.now()
	return &proto.ClientResponse{Status: proto.ClientOK, Transport: ct}
}

// pruneSessions drops expired sessions once there are many, and the
// oldest if they are all live. Callers hold r.mu.
func (r *Realm) pruneSessions() {
	if len(r.sessions) < maxSessions {
		return
	}
	var oldest sessionKey
	var oldestAt time.Time
	for k, s := range r.sessions {
		if r.now().Sub(s.lastUsed) >= r.lifetime {
			delete(r.sessions, k)
			continue
		}
		if oldestAt.IsZero() || s.lastUsed.Before(oldestAt) {
			oldest, oldestAt = k, s.lastUsed
		}
	}
	if len(r.sessions) >= maxSessions {
		delete(r.sessions, oldest)
	}
}

// answer processes a request and pads the response. Callers hold r.mu.
func (r *Realm) answer(user string, sreq *proto.SecretsRequest) ([]byte, error) {
	resp, err := r.process(user, sreq)
	if err != nil {
		return nil, err
	}
	return resp.MarshalPadded()
}

// versionAtLeast compares dotted decimal versions ("0.3.7" ≥ "0.3.0").
func versionAtLeast(v, min string) bool {
	a, b := strings.Split(v, "."), strings.Split(min, ".")
	if len(a) != 3 {
		return false
	}
	for i := range 3 {
		x, err1 := strconv.Atoi(a[i])
		y, err2 := strconv.Atoi(b[i])
		if err1 != nil || err2 != nil || x < 0 {
			return false
		}
		if x != y {
			return x > y
		}
	}
	return true
}
