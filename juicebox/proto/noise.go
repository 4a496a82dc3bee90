package proto

import (
	"fmt"
	"math"
	"time"

	"github.com/xchat-go/xchat/juicebox/noisenk"
)

// MaxAuthTokenSize bounds the auth token a ClientRequest may carry.
const MaxAuthTokenSize = 4096

// ClientRequestKind says whether a ClientRequest carries a secrets request.
type ClientRequestKind int

// The client request kinds.
const (
	// HandshakeOnly opens a session without a request (empty payload).
	HandshakeOnly ClientRequestKind = iota + 1
	// SecretsRequestKind carries an encrypted SecretsRequest.
	SecretsRequestKind
)

// ClientRequest is what a client posts to a realm behind Noise. Exactly one
// of Handshake and Transport is set.
type ClientRequest struct {
	Realm     RealmID
	AuthToken string
	SessionID uint32
	Kind      ClientRequestKind
	// Handshake opens a session (NoiseRequest::Handshake).
	Handshake *noisenk.HandshakeRequest
	// Transport is a ciphertext in an open session (NoiseRequest::Transport).
	Transport []byte
}

type handshakeReqWire struct {
	ClientEphemeralPublic []byte `cbor:"client_ephemeral_public"`
	PayloadCiphertext     []byte `cbor:"payload_ciphertext"`
}

type handshakeWire struct {
	Handshake handshakeReqWire `cbor:"handshake"`
}

type transportWire struct {
	Ciphertext []byte `cbor:"ciphertext"`
}

type clientRequestWire struct {
	Realm     []byte `cbor:"realm"`
	AuthToken string `cbor:"auth_token"`
	SessionID uint32 `cbor:"session_id"`
	Kind      string `cbor:"kind"`
	Encrypted any    `cbor:"encrypted"`
}

// Marshal encodes the request.
func (r *ClientRequest) Marshal() ([]byte, error) {
	w := clientRequestWire{Realm: r.Realm[:], AuthToken: r.AuthToken, SessionID: r.SessionID}
	switch r.Kind {
	case HandshakeOnly:
		w.Kind = "HandshakeOnly"
	case SecretsRequestKind:
		w.Kind = "SecretsRequest"
	default:
		return nil, fmt.Errorf("juicebox/proto: unknown client request kind %d", int(r.Kind))
	}
	switch {
	case r.Handshake != nil && r.Transport == nil:
		w.Encrypted = variant("Handshake", handshakeWire{handshakeReqWire{
			nonNil(r.Handshake.ClientEphemeralPublic), nonNil(r.Handshake.PayloadCiphertext)}})
	case r.Handshake == nil && r.Transport != nil:
		w.Encrypted = variant("Transport", transportWire{r.Transport})
	default:
		return nil, fmt.Errorf("juicebox/proto: client request needs exactly one of handshake and transport")
	}
	return marshal(w)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// DecodeClientRequest parses a request (what a hardware realm receives).
func DecodeClientRequest(b []byte) (*ClientRequest, error) {
	o, err := readObject("ClientRequest", b)
	if err != nil {
		return nil, err
	}
	r := &ClientRequest{}
	if err := o.fixed("realm", r.Realm[:]); err != nil {
		return nil, err
	}
	if r.AuthToken, err = o.text("auth_token", MaxAuthTokenSize); err != nil {
		return nil, err
	}
	sid, err := o.uint("session_id", math.MaxUint32)
	if err != nil {
		return nil, err
	}
	r.SessionID = uint32(sid)
	kraw, err := o.field("kind")
	if err != nil {
		return nil, err
	}
	kind, err := unitOnly("ClientRequest.kind", kraw, "HandshakeOnly", "SecretsRequest")
	if err != nil {
		return nil, err
	}
	r.Kind = HandshakeOnly
	if kind == "SecretsRequest" {
		r.Kind = SecretsRequestKind
	}
	eraw, err := o.field("encrypted")
	if err != nil {
		return nil, err
	}
	name, body, err := readVariant("ClientRequest.encrypted", eraw)
	if err != nil {
		return nil, err
	}
	if body == nil {
		return nil, decodeErr("ClientRequest.encrypted", "variant %q without data", clip(name))
	}
	eo, err := readObject("ClientRequest.encrypted."+name, body)
	if err != nil {
		return nil, err
	}
	switch name {
	case "Handshake":
		ho, err := eo.object("handshake")
		if err != nil {
			return nil, err
		}
		h := &noisenk.HandshakeRequest{}
		if h.ClientEphemeralPublic, err = ho.bytes("client_ephemeral_public", -1); err != nil {
			return nil, err
		}
		if h.PayloadCiphertext, err = ho.bytes("payload_ciphertext", -1); err != nil {
			return nil, err
		}
		r.Handshake = h
	case "Transport":
		if r.Transport, err = eo.bytes("ciphertext", -1); err != nil {
			return nil, err
		}
	default:
		return nil, decodeErr("ClientRequest.encrypted", "unknown variant %q", clip(name))
	}
	return r, nil
}

// ClientStatus is the outcome of a ClientRequest.
type ClientStatus int

// The client response statuses (ClientResponse variants).
const (
	ClientOK ClientStatus = iota + 1
	ClientUnavailable
	ClientInvalidAuth
	ClientMissingSession
	ClientSessionError
	ClientDecodingError
	ClientPayloadTooLarge
	ClientRateLimitExceeded
)

var clientStatusNames = map[ClientStatus]string{
	ClientOK: "Ok", ClientUnavailable: "Unavailable", ClientInvalidAuth: "InvalidAuth",
	ClientMissingSession: "MissingSession", ClientSessionError: "SessionError",
	ClientDecodingError: "DecodingError", ClientPayloadTooLarge: "PayloadTooLarge",
	ClientRateLimitExceeded: "RateLimitExceeded",
}

// String returns the variant name.
func (s ClientStatus) String() string {
	if n, ok := clientStatusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("ClientStatus(%d)", int(s))
}

// ClientResponse is a hardware realm's answer. For ClientOK exactly one of
// Handshake (with SessionLifetime) and Transport is set.
type ClientResponse struct {
	Status          ClientStatus
	Handshake       *noisenk.HandshakeResponse
	SessionLifetime time.Duration
	Transport       []byte
}

type handshakeRespWire struct {
	ServerEphemeralPublic []byte `cbor:"server_ephemeral_public"`
	PayloadCiphertext     []byte `cbor:"payload_ciphertext"`
}

type durationWire struct {
	Secs  uint64 `cbor:"secs"`
	Nanos uint32 `cbor:"nanos"`
}

type handshakeOKWire struct {
	Handshake       handshakeRespWire `cbor:"handshake"`
	SessionLifetime durationWire      `cbor:"session_lifetime"`
}

// Marshal encodes the response.
func (r *ClientResponse) Marshal() ([]byte, error) {
	name, ok := clientStatusNames[r.Status]
	if !ok {
		return nil, fmt.Errorf("juicebox/proto: unknown client status %d", int(r.Status))
	}
	if r.Status != ClientOK {
		return marshal(name)
	}
	switch {
	case r.Handshake != nil && r.Transport == nil:
		if r.SessionLifetime < 0 {
			return nil, fmt.Errorf("juicebox/proto: negative session lifetime")
		}
		d := durationWire{uint64(r.SessionLifetime / time.Second), uint32(r.SessionLifetime % time.Second)}
		return marshal(variant(name, variant("Handshake", handshakeOKWire{
			handshakeRespWire{nonNil(r.Handshake.ServerEphemeralPublic), nonNil(r.Handshake.PayloadCiphertext)}, d})))
	case r.Handshake == nil && r.Transport != nil:
		return marshal(variant(name, variant("Transport", transportWire{r.Transport})))
	}
	return nil, fmt.Errorf("juicebox/proto: Ok response needs exactly one of handshake and transport")
}

// maxLifetimeSecs keeps a session lifetime representable as a Duration.
const maxLifetimeSecs = math.MaxInt64 / int64(time.Second)

// DecodeClientResponse parses a hardware realm's response.
func DecodeClientResponse(b []byte) (*ClientResponse, error) {
	name, body, err := readVariant("ClientResponse", b)
	if err != nil {
		return nil, err
	}
	r := &ClientResponse{}
	for s, n := range clientStatusNames {
		if n == name {
			r.Status = s
		}
	}
	if r.Status == 0 {
		return nil, decodeErr("ClientResponse", "unknown variant %q", clip(name))
	}
	if r.Status != ClientOK {
		if body != nil {
			return nil, decodeErr("ClientResponse", "%s carries data", name)
		}
		return r, nil
	}
	if body == nil {
		return nil, decodeErr("ClientResponse", "Ok without data")
	}
	inner, ibody, err := readVariant("NoiseResponse", body)
	if err != nil {
		return nil, err
	}
	if ibody == nil {
		return nil, decodeErr("NoiseResponse", "variant %q without data", clip(inner))
	}
	o, err := readObject("NoiseResponse."+inner, ibody)
	if err != nil {
		return nil, err
	}
	switch inner {
	case "Handshake":
		return r, r.readHandshake(o)
	case "Transport":
		r.Transport, err = o.bytes("ciphertext", -1)
		return r, err
	}
	return nil, decodeErr("NoiseResponse", "unknown variant %q", clip(inner))
}

func (r *ClientResponse) readHandshake(o *object) error {
	ho, err := o.object("handshake")
	if err != nil {
		return err
	}
	h := &noisenk.HandshakeResponse{}
	if h.ServerEphemeralPublic, err = ho.bytes("server_ephemeral_public", -1); err != nil {
		return err
	}
	if h.PayloadCiphertext, err = ho.bytes("payload_ciphertext", -1); err != nil {
		return err
	}
	lo, err := o.object("session_lifetime")
	if err != nil {
		return err
	}
	secs, err := lo.uint("secs", uint64(maxLifetimeSecs)-1)
	if err != nil {
		return err
	}
	nanos, err := lo.uint("nanos", uint64(time.Second)-1)
	if err != nil {
		return err
	}
	r.Handshake = h
	r.SessionLifetime = time.Duration(secs)*time.Second + time.Duration(nanos)
	return nil
}
