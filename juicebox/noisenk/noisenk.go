// Package noisenk is the Noise_NK_25519_ChaChaPoly_BLAKE2s channel Juicebox
// clients open to hardware realms, in Juicebox's message shape: the
// handshake's ephemeral key and encrypted payload travel as two fields
// instead of one concatenated message.
//
//	NK:  <- s
//	     ...
//	     -> e, es      (request payload: no forward secrecy)
//	     <- e, ee      (response payload)
//
// The Noise state machine is github.com/flynn/noise, a maintained pure-Go
// implementation of the framework; this package only adapts its
// concatenated messages to the two-field form and fixes the cipher suite,
// the pattern and the (empty) prologue. The standard NK test vectors the
// Juicebox SDK checks itself against are replayed in the tests.
package noisenk

import (
	"errors"
	"fmt"
	"io"

	"github.com/flynn/noise"
)

// KeySize is the size of X25519 public and private keys.
const KeySize = 32

// tagSize is the Poly1305 tag appended to every ciphertext.
const tagSize = 16

// ProtocolName is the full Noise protocol name.
const ProtocolName = "Noise_NK_25519_ChaChaPoly_BLAKE2s"

var suite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)

// Errors.
var (
	// ErrHandshake reports a handshake message that is malformed or fails
	// to authenticate.
	ErrHandshake = errors.New("noisenk: handshake failed")
	// ErrDecrypt reports a transport message that fails to authenticate.
	ErrDecrypt = errors.New("noisenk: transport message failed to authenticate")
)

// HandshakeRequest is the client's first message.
type HandshakeRequest struct {
	// ClientEphemeralPublic is the client's ephemeral X25519 key.
	ClientEphemeralPublic []byte
	// PayloadCiphertext is the encrypted request payload (possibly an
	// empty payload's 16-byte tag).
	PayloadCiphertext []byte
}

// HandshakeResponse is the server's reply.
type HandshakeResponse struct {
	// ServerEphemeralPublic is the server's ephemeral X25519 key.
	ServerEphemeralPublic []byte
	// PayloadCiphertext is the encrypted response payload.
	PayloadCiphertext []byte
}

// StaticKey is a realm's long-lived X25519 key pair.
type StaticKey struct {
	Private [KeySize]byte
	Public  [KeySize]byte
}

// GenerateStaticKey draws a realm key pair from rand.
func GenerateStaticKey(rand io.Reader) (StaticKey, error) {
	k, err := suite.GenerateKeypair(rand)
	if err != nil {
		return StaticKey{}, fmt.Errorf("noisenk: generating key: %w", err)
	}
	var sk StaticKey
	copy(sk.Private[:], k.Private)
	copy(sk.Public[:], k.Public)
	clear(k.Private)
	return sk, nil
}

// Transport is an established channel: messages must be decrypted in the
// order they were encrypted. A Transport is not safe for concurrent use.
type Transport struct {
	send, recv *noise.CipherState
}

// Encrypt seals the next outgoing message.
func (t *Transport) Encrypt(plaintext []byte) ([]byte, error) {
	ct, err := t.send.Encrypt(nil, nil, plaintext)
	if err != nil {
		return nil, fmt.Errorf("noisenk: %w", err)
	}
	return ct, nil
}

// Decrypt opens the next incoming message.
func (t *Transport) Decrypt(ciphertext []byte) ([]byte, error) {
	if len(ciphertext) < tagSize {
		return nil, ErrDecrypt
	}
	pt, err := t.recv.Decrypt(nil, nil, ciphertext)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// ClientHandshake is a client's handshake awaiting the server's response.
type ClientHandshake struct {
	hs *noise.HandshakeState
}

// StartClient begins a handshake with the realm whose static public key is
// serverStatic, carrying payload (which has no forward secrecy; it may be
// empty). The ephemeral key is drawn from rand.
func StartClient(serverStatic []byte, payload []byte, rand io.Reader) (*ClientHandshake, *HandshakeRequest, error) {
	return startClient(serverStatic, nil, payload, rand)
}

func startClient(serverStatic, prologue, payload []byte, rand io.Reader) (*ClientHandshake, *HandshakeRequest, error) {
	if len(serverStatic) != KeySize {
		return nil, nil, fmt.Errorf("%w: server key is %d bytes", ErrHandshake, len(serverStatic))
	}
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite: suite,
		Random:      rand,
		Pattern:     noise.HandshakeNK,
		Initiator:   true,
		Prologue:    prologue,
		PeerStatic:  append([]byte(nil), serverStatic...),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	msg, _, _, err := hs.WriteMessage(nil, payload)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	return &ClientHandshake{hs: hs}, &HandshakeRequest{
		ClientEphemeralPublic: msg[:KeySize],
		PayloadCiphertext:     msg[KeySize:],
	}, nil
}

// Finish completes the handshake with the server's response and returns
// the transport and the decrypted response payload.
func (h *ClientHandshake) Finish(resp *HandshakeResponse) (*Transport, []byte, error) {
	if h == nil || h.hs == nil {
		return nil, nil, fmt.Errorf("%w: handshake already finished", ErrHandshake)
	}
	if resp == nil || len(resp.ServerEphemeralPublic) != KeySize || len(resp.PayloadCiphertext) < tagSize {
		return nil, nil, fmt.Errorf("%w: malformed response", ErrHandshake)
	}
	msg := append(append([]byte(nil), resp.ServerEphemeralPublic...), resp.PayloadCiphertext...)
	payload, cs1, cs2, err := h.hs.ReadMessage(nil, msg)
	h.hs = nil
	if err != nil || cs1 == nil || cs2 == nil {
		return nil, nil, ErrHandshake
	}
	return &Transport{send: cs1, recv: cs2}, payload, nil
}

// ServerHandshake is a server's handshake that has read the client's
// request and must answer it.
type ServerHandshake struct {
	hs *noise.HandshakeState
}

// Respond reads a client's handshake request with the realm's static key
// and returns the handshake and the decrypted request payload. The server's
// ephemeral key is drawn from rand.
func Respond(static StaticKey, req *HandshakeRequest, rand io.Reader) (*ServerHandshake, []byte, error) {
	return respond(static, nil, req, rand)
}

func respond(static StaticKey, prologue []byte, req *HandshakeRequest, rand io.Reader) (*ServerHandshake, []byte, error) {
	if req == nil || len(req.ClientEphemeralPublic) != KeySize || len(req.PayloadCiphertext) < tagSize {
		return nil, nil, fmt.Errorf("%w: malformed request", ErrHandshake)
	}
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   suite,
		Random:        rand,
		Pattern:       noise.HandshakeNK,
		Initiator:     false,
		Prologue:      prologue,
		StaticKeypair: noise.DHKey{Private: append([]byte(nil), static.Private[:]...), Public: append([]byte(nil), static.Public[:]...)},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	msg := append(append([]byte(nil), req.ClientEphemeralPublic...), req.PayloadCiphertext...)
	payload, _, _, err := hs.ReadMessage(nil, msg)
	if err != nil {
		return nil, nil, ErrHandshake
	}
	return &ServerHandshake{hs: hs}, payload, nil
}

// Finish answers the handshake with payload and returns the server's
// transport and the response to send.
func (h *ServerHandshake) Finish(payload []byte) (*Transport, *HandshakeResponse, error) {
	if h == nil || h.hs == nil {
		return nil, nil, fmt.Errorf("%w: handshake already finished", ErrHandshake)
	}
	msg, cs1, cs2, err := h.hs.WriteMessage(nil, payload)
	h.hs = nil
	if err != nil || cs1 == nil || cs2 == nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	return &Transport{send: cs2, recv: cs1}, &HandshakeResponse{
		ServerEphemeralPublic: msg[:KeySize],
		PayloadCiphertext:     msg[KeySize:],
	}, nil
}
