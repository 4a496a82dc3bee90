package juicebox

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/xchat-go/xchat/juicebox/noisenk"
	"github.com/xchat-go/xchat/juicebox/proto"
)

// maxResponseBody bounds what is read from a realm.
const maxResponseBody = 64 << 10

// hardwareAttempts bounds the session retries for a hardware realm (a
// realm that lost the session answers MissingSession).
const hardwareAttempts = 5

// request sends one secrets request to a realm and returns its response,
// whose kind is checked against the request. Failures are *RealmError.
func (c *Client) request(ctx context.Context, realm *Realm, req *proto.SecretsRequest) (*proto.SecretsResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.timeout)
	defer cancel()
	var resp *proto.SecretsResponse
	var err error
	if realm.PublicKey != nil {
		resp, err = c.hardwareRequest(ctx, realm, req)
	} else {
		resp, err = c.softwareRequest(ctx, realm, req)
	}
	if err != nil {
		return nil, err
	}
	if resp.Kind != req.Kind {
		return nil, realmErr(realm.ID, ErrAssertion, "%v answered with %v", req.Kind, resp.Kind)
	}
	return resp, nil
}

// token fetches the realm's auth token.
func (c *Client) token(ctx context.Context, id RealmID) (string, error) {
	tok, err := c.tokens.AuthToken(ctx, id)
	if err != nil || tok == "" {
		return "", realmErr(id, ErrInvalidAuth, "no auth token")
	}
	return tok, nil
}

// post sends body to {address}/req and returns the status and body.
func (c *Client) post(ctx context.Context, realm *Realm, body []byte, bearer string) (int, []byte, error) {
	u := realm.Address.ResolveReference(&url.URL{Path: "req"})
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, realmErr(realm.ID, ErrAssertion, "building request: %v", err)
	}
	hr.Header.Set(VersionHeader, ProtocolVersion)
	hr.Header.Set("User-Agent", c.opts.userAgent)
	if bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := c.opts.http.Do(hr)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return 0, nil, realmErr(realm.ID, context.Canceled, "request canceled")
		}
		return 0, nil, realmErr(realm.ID, ErrTransient, "%s", netDetail(err))
	}
	defer res.Body.Close()
	if res.StatusCode/100 == 3 {
		return 0, nil, realmErr(realm.ID, ErrAssertion, "HTTP %d: redirect not followed", res.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBody+1))
	if err != nil {
		return 0, nil, realmErr(realm.ID, ErrTransient, "reading response: %s", netDetail(err))
	}
	if len(data) > maxResponseBody {
		return 0, nil, realmErr(realm.ID, ErrAssertion, "response larger than %d bytes", maxResponseBody)
	}
	return res.StatusCode, data, nil
}

// netDetail describes a transport error without the URL (which is not
// secret, but makes messages long).
func netDetail(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return err.Error()
}

// statusError maps an HTTP status the body did not explain.
func statusError(id RealmID, status int) error {
	switch status {
	case http.StatusUnauthorized:
		return realmErr(id, ErrInvalidAuth, "HTTP 401")
	case http.StatusUpgradeRequired:
		return realmErr(id, ErrUpgradeRequired, "HTTP 426")
	case http.StatusTooManyRequests:
		return realmErr(id, ErrRateLimited, "HTTP 429")
	}
	return realmErr(id, ErrTransient, "HTTP %d", status)
}

// spendsGuess reports a request that costs a guess on the realm once it
// reaches it (Recover2), whatever becomes of the answer. Such a request is
// never sent twice: the network can let it through and drop or replace
// the answer (an HTTP 503, a MissingSession status: neither is
// authenticated), and each retry would cost another guess, until a
// restore with the right PIN used up the guess limit.
func spendsGuess(req *proto.SecretsRequest) bool { return req.Kind == proto.Recover2 }

// softwareRequest posts the CBOR request with the token in the
// Authorization header. A transient failure is retried once, as the SDK
// does, except for a request that spends a guess (spendsGuess).
func (c *Client) softwareRequest(ctx context.Context, realm *Realm, req *proto.SecretsRequest) (*proto.SecretsResponse, error) {
	tok, err := c.token(ctx, realm.ID)
	if err != nil {
		return nil, err
	}
	body, err := req.Marshal()
	if err != nil {
		return nil, realmErr(realm.ID, ErrAssertion, "encoding request: %v", err)
	}
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		status, data, err := c.post(ctx, realm, body, tok)
		if err != nil {
			lastErr = err
			if errors.Is(err, ErrTransient) && ctx.Err() == nil && !spendsGuess(req) {
				continue
			}
			return nil, err
		}
		resp, derr := proto.DecodeSecretsResponse(data)
		if status/100 == 2 {
			if derr != nil {
				return nil, realmErr(realm.ID, ErrAssertion, "undecodable response: %v", derr)
			}
			return resp, nil
		}
		if derr == nil {
			return resp, nil
		}
		lastErr = statusError(realm.ID, status)
		if !errors.Is(lastErr, ErrTransient) || spendsGuess(req) {
			return nil, lastErr
		}
	}
	return nil, lastErr
}

// errMissingSession asks hardwareRequest for a new session.
var errMissingSession = errors.New("missing session")

// hardwareRequest sends the request through a Noise NK session, opening
// one when needed. Requests that need forward secrecy (Register2, Recover2,
// Recover3) are never sent in a handshake: a handshake-only exchange comes
// first. A request that spends a guess (spendsGuess) always goes in a
// session of its own, and is retried only when the handshake opening it
// failed: once sent, a failure of any kind ends the attempt.
func (c *Client) hardwareRequest(ctx context.Context, realm *Realm, req *proto.SecretsRequest) (*proto.SecretsResponse, error) {
	plain, err := req.Marshal()
	if err != nil {
		return nil, realmErr(realm.ID, ErrAssertion, "encoding request: %v", err)
	}
	slot := c.slot(realm.ID)
	slot.mu.Lock()
	defer slot.mu.Unlock()
	var lastErr error
	for attempt := 0; attempt < hardwareAttempts; attempt++ {
		s := slot.s
		slot.s = nil
		if s != nil && (c.opts.now().Sub(s.lastUsed) >= s.lifetime || spendsGuess(req)) {
			s = nil
		}
		s, payload, sent, err := c.exchange(ctx, realm, s, plain, req.NeedsForwardSecrecy())
		if err == nil {
			slot.s = s
			resp, derr := proto.DecodePaddedSecretsResponse(payload)
			if derr != nil {
				return nil, realmErr(realm.ID, ErrAssertion, "undecodable response: %v", derr)
			}
			return resp, nil
		}
		lastErr = err
		if sent && spendsGuess(req) {
			if errors.Is(err, errMissingSession) {
				err = realmErr(realm.ID, ErrAssertion, "realm lost a session it just opened")
			}
			return nil, err
		}
		if errors.Is(err, errMissingSession) || (errors.Is(err, ErrTransient) && ctx.Err() == nil) {
			continue
		}
		return nil, err
	}
	if errors.Is(lastErr, errMissingSession) {
		return nil, realmErr(realm.ID, ErrTransient, "realm keeps losing the session")
	}
	return nil, lastErr
}

// exchange performs one request on session s (nil: open a new one) and
// returns the session to keep and the response payload. sent reports
// that the request itself was posted (a failure before, such as a failed
// handshake-only exchange, leaves it false).
func (c *Client) exchange(ctx context.Context, realm *Realm, s *session, plain []byte, needsFS bool) (_ *session, _ []byte, sent bool, _ error) {
	if s != nil {
		payload, err := c.transportRequest(ctx, realm, s, plain)
		return s, payload, true, err
	}
	if !needsFS {
		s, payload, err := c.handshakeRequest(ctx, realm, plain)
		return s, payload, true, err
	}
	s, empty, err := c.handshakeRequest(ctx, realm, nil)
	if err != nil {
		return nil, nil, false, err
	}
	if len(empty) != 0 {
		return nil, nil, false, realmErr(realm.ID, ErrAssertion, "handshake-only exchange returned a payload")
	}
	payload, err := c.transportRequest(ctx, realm, s, plain)
	if errors.Is(err, errMissingSession) {
		return nil, nil, true, realmErr(realm.ID, ErrAssertion, "realm lost a session it just opened")
	}
	return s, payload, true, err
}

// sendNoise posts a ClientRequest and decodes the ClientResponse.
func (c *Client) sendNoise(ctx context.Context, realm *Realm, cr *proto.ClientRequest) (*proto.ClientResponse, error) {
	body, err := cr.Marshal()
	if err != nil {
		return nil, realmErr(realm.ID, ErrAssertion, "encoding request: %v", err)
	}
	status, data, err := c.post(ctx, realm, body, "")
	if err != nil {
		return nil, err
	}
	resp, derr := proto.DecodeClientResponse(data)
	if status/100 != 2 && derr != nil {
		return nil, statusError(realm.ID, status)
	}
	if derr != nil {
		return nil, realmErr(realm.ID, ErrAssertion, "undecodable response: %v", derr)
	}
	switch resp.Status {
	case proto.ClientOK:
		return resp, nil
	case proto.ClientUnavailable:
		return nil, realmErr(realm.ID, ErrTransient, "realm unavailable")
	case proto.ClientInvalidAuth:
		return nil, realmErr(realm.ID, ErrInvalidAuth, "token rejected")
	case proto.ClientRateLimitExceeded:
		return nil, realmErr(realm.ID, ErrRateLimited, "rate limited")
	case proto.ClientMissingSession:
		if cr.Transport != nil {
			return nil, errMissingSession
		}
	}
	return nil, realmErr(realm.ID, ErrAssertion, "realm answered %v", resp.Status)
}

// handshakeRequest opens a session carrying plain (empty for
// handshake-only) and returns it with the decrypted response payload.
func (c *Client) handshakeRequest(ctx context.Context, realm *Realm, plain []byte) (*session, []byte, error) {
	hs, hreq, err := noisenk.StartClient(realm.PublicKey, plain, c.rand)
	if err != nil {
		return nil, nil, realmErr(realm.ID, ErrAssertion, "starting handshake: %v", err)
	}
	var sid [4]byte
	if _, err := io.ReadFull(c.rand, sid[:]); err != nil {
		return nil, nil, realmErr(realm.ID, ErrAssertion, "reading randomness: %v", err)
	}
	tok, err := c.token(ctx, realm.ID)
	if err != nil {
		return nil, nil, err
	}
	kind := proto.HandshakeOnly
	if len(plain) > 0 {
		kind = proto.SecretsRequestKind
	}
	cr := &proto.ClientRequest{Realm: realm.ID, AuthToken: tok, SessionID: binary.BigEndian.Uint32(sid[:]), Kind: kind, Handshake: hreq}
	resp, err := c.sendNoise(ctx, realm, cr)
	if err != nil {
		return nil, nil, err
	}
	if resp.Handshake == nil {
		return nil, nil, realmErr(realm.ID, ErrAssertion, "handshake answered with a transport message")
	}
	transport, payload, err := hs.Finish(resp.Handshake)
	if err != nil {
		return nil, nil, realmErr(realm.ID, ErrAssertion, "%v", err)
	}
	return &session{id: cr.SessionID, transport: transport, lifetime: resp.SessionLifetime, lastUsed: c.opts.now()}, payload, nil
}

// transportRequest sends plain in an open session.
func (c *Client) transportRequest(ctx context.Context, realm *Realm, s *session, plain []byte) ([]byte, error) {
	tok, err := c.token(ctx, realm.ID)
	if err != nil {
		return nil, err
	}
	ct, err := s.transport.Encrypt(plain)
	if err != nil {
		return nil, realmErr(realm.ID, ErrAssertion, "%v", err)
	}
	resp, err := c.sendNoise(ctx, realm, &proto.ClientRequest{Realm: realm.ID, AuthToken: tok, SessionID: s.id, Kind: proto.SecretsRequestKind, Transport: ct})
	if err != nil {
		return nil, err
	}
	if resp.Transport == nil {
		return nil, realmErr(realm.ID, ErrAssertion, "transport request answered with a handshake")
	}
	payload, err := s.transport.Decrypt(resp.Transport)
	if err != nil {
		return nil, realmErr(realm.ID, ErrAssertion, "%v", err)
	}
	s.lastUsed = c.opts.now()
	return payload, nil
}
