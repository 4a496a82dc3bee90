package noisenk

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// FuzzHandshakeMessages feeds arbitrary handshake requests to a server and
// arbitrary responses and transport messages to a client: no panic, and
// nothing but the genuine messages authenticates.
func FuzzHandshakeMessages(f *testing.F) {
	static, err := GenerateStaticKey(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		f.Fatal(err)
	}
	// Deterministic, so every fuzzing process builds the same request.
	_, req, err := StartClient(static.Public[:], []byte("Recover1"), bytes.NewReader(bytes.Repeat([]byte{9}, 32)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(req.ClientEphemeralPublic, req.PayloadCiphertext)
	f.Add(make([]byte, 32), make([]byte, 16))
	f.Add([]byte{1}, []byte{})
	f.Fuzz(func(t *testing.T, eph, ct []byte) {
		if _, _, err := Respond(static, &HandshakeRequest{ClientEphemeralPublic: eph, PayloadCiphertext: ct}, rand.Reader); err == nil &&
			!(bytes.Equal(eph, req.ClientEphemeralPublic) && bytes.Equal(ct, req.PayloadCiphertext)) {
			t.Fatalf("forged handshake request accepted")
		}
		client, _, err := StartClient(static.Public[:], nil, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := client.Finish(&HandshakeResponse{ServerEphemeralPublic: eph, PayloadCiphertext: ct}); err == nil {
			t.Fatalf("forged handshake response accepted")
		}
	})
}
