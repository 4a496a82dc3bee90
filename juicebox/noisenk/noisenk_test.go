package noisenk

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
	"golang.org/x/crypto/curve25519"
)

type nkVector struct {
	Source        string `json:"source"`
	Prologue      string `json:"prologue"`
	RespStatic    string `json:"resp_static"`
	InitEphemeral string `json:"init_ephemeral"`
	RespEphemeral string `json:"resp_ephemeral"`
	Messages      []struct {
		Payload    string `json:"payload"`
		Ciphertext string `json:"ciphertext"`
	} `json:"messages"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNKVectors replays every Noise_NK_25519_ChaChaPoly_BLAKE2s vector of
// the Juicebox SDK's rust/noise/src/vectors (cacophony, snow, noise-c,
// flynn): handshake request and response bytes, then transport messages
// in both directions.
func TestNKVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/nk-vectors.json")
	if err != nil {
		t.Fatalf("reference vectors missing: %v", err)
	}
	var vs []nkVector
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != 7 {
		t.Fatalf("expected the SDK's 7 NK vectors, found %d", len(vs))
	}
	for i, v := range vs {
		var static StaticKey
		copy(static.Private[:], unhex(t, v.RespStatic))
		pub, err := curve25519.X25519(static.Private[:], curve25519.Basepoint)
		if err != nil {
			t.Fatal(err)
		}
		copy(static.Public[:], pub)
		prologue := unhex(t, v.Prologue)

		m0 := v.Messages[0]
		client, req, err := startClient(static.Public[:], prologue, unhex(t, m0.Payload), bytes.NewReader(unhex(t, v.InitEphemeral)))
		if err != nil {
			t.Fatalf("vector %d (%s): start: %v", i, v.Source, err)
		}
		if got := hex.EncodeToString(append(append([]byte(nil), req.ClientEphemeralPublic...), req.PayloadCiphertext...)); got != m0.Ciphertext {
			t.Fatalf("vector %d (%s): request %s, want %s", i, v.Source, got, m0.Ciphertext)
		}
		server, payload, err := respond(static, prologue, req, bytes.NewReader(unhex(t, v.RespEphemeral)))
		if err != nil || hex.EncodeToString(payload) != m0.Payload {
			t.Fatalf("vector %d (%s): server read %x, %v", i, v.Source, payload, err)
		}
		m1 := v.Messages[1]
		sTransport, resp, err := server.Finish(unhex(t, m1.Payload))
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(append(append([]byte(nil), resp.ServerEphemeralPublic...), resp.PayloadCiphertext...)); got != m1.Ciphertext {
			t.Fatalf("vector %d (%s): response %s, want %s", i, v.Source, got, m1.Ciphertext)
		}
		cTransport, rp, err := client.Finish(resp)
		if err != nil || hex.EncodeToString(rp) != m1.Payload {
			t.Fatalf("vector %d (%s): client read %x, %v", i, v.Source, rp, err)
		}
		for j, m := range v.Messages[2:] {
			from, to := cTransport, sTransport
			if j%2 == 1 {
				from, to = sTransport, cTransport
			}
			ct, err := from.Encrypt(unhex(t, m.Payload))
			if err != nil || hex.EncodeToString(ct) != m.Ciphertext {
				t.Fatalf("vector %d (%s) transport %d: %x %v, want %s", i, v.Source, j, ct, err, m.Ciphertext)
			}
			pt, err := to.Decrypt(ct)
			if err != nil || hex.EncodeToString(pt) != m.Payload {
				t.Fatalf("vector %d (%s) transport %d: decrypt %v", i, v.Source, j, err)
			}
		}
	}
	t.Logf("juicebox noise: %d Noise_NK_25519_ChaChaPoly_BLAKE2s vectors (cacophony, snow, noise-c, flynn) match", len(vs))
}

func TestRoundTripAndTampering(t *testing.T) {
	static, err := GenerateStaticKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	client, req, err := StartClient(static.Public[:], nil, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// A flipped bit anywhere in the request fails the server's read.
	for _, f := range []func(r *HandshakeRequest){
		func(r *HandshakeRequest) { r.PayloadCiphertext[0] ^= 1 },
		func(r *HandshakeRequest) { r.ClientEphemeralPublic[3] ^= 1 },
		func(r *HandshakeRequest) { r.ClientEphemeralPublic = r.ClientEphemeralPublic[:31] },
		func(r *HandshakeRequest) { r.PayloadCiphertext = r.PayloadCiphertext[:15] },
	} {
		bad := &HandshakeRequest{append([]byte(nil), req.ClientEphemeralPublic...), append([]byte(nil), req.PayloadCiphertext...)}
		f(bad)
		if _, _, err := Respond(static, bad, rand.Reader); !errors.Is(err, ErrHandshake) {
			t.Errorf("tampered request accepted: %v", err)
		}
	}
	// A request for another realm's key fails too.
	other := testutil.Must(GenerateStaticKey(rand.Reader))(t)
	if _, _, err := Respond(other, req, rand.Reader); !errors.Is(err, ErrHandshake) {
		t.Errorf("request to the wrong realm accepted: %v", err)
	}
	server, payload, err := Respond(static, req, rand.Reader)
	if err != nil || len(payload) != 0 {
		t.Fatalf("respond: %x %v", payload, err)
	}
	st, resp, err := server.Finish(nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := &HandshakeResponse{resp.ServerEphemeralPublic, append([]byte(nil), resp.PayloadCiphertext...)}
	bad.PayloadCiphertext[0] ^= 1
	c2, _ := testutil.Must2(StartClient(static.Public[:], nil, rand.Reader))(t)
	if _, _, err := c2.Finish(resp); !errors.Is(err, ErrHandshake) {
		t.Errorf("response for another handshake accepted: %v", err)
	}
	ct, _, err := client.Finish(resp)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Finish(resp); !errors.Is(err, ErrHandshake) {
		t.Errorf("second Finish: %v", err)
	}
	for i := 0; i < 3; i++ {
		msg := []byte{byte(i), 'x'}
		c, err := ct.Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		p, err := st.Decrypt(c)
		if err != nil || !bytes.Equal(p, msg) {
			t.Fatalf("message %d: %v", i, err)
		}
		r, err := st.Encrypt(append(msg, '!'))
		if err != nil {
			t.Fatal(err)
		}
		// Replaying a message is out of order and fails.
		if _, err := st.Decrypt(c); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("replayed message accepted: %v", err)
		}
		if p, err := ct.Decrypt(r); err != nil || !bytes.Equal(p, append(msg, '!')) {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	if _, err := st.Decrypt([]byte("short")); !errors.Is(err, ErrDecrypt) {
		t.Errorf("short ciphertext: %v", err)
	}
	if _, _, err := StartClient(make([]byte, 31), nil, rand.Reader); !errors.Is(err, ErrHandshake) {
		t.Errorf("31-byte server key: %v", err)
	}
	// An all-zero (low-order) server key gives no shared secret.
	if _, _, err := StartClient(make([]byte, 32), nil, rand.Reader); err == nil {
		t.Error("low-order server key accepted")
	}
}
