package crypto

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/xchat-go/xchat/internal/testref"
)

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scalar returns a 32-byte big-endian scalar with value v.
func scalar(v byte) []byte {
	s := make([]byte, 32)
	s[31] = v
	return s
}

func mustKey(t testing.TB, v byte) *PrivateKey {
	t.Helper()
	k, err := NewPrivateKey(scalar(v))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fixedReader yields the given bytes and then fails.
type fixedReader struct{ b []byte }

func (f *fixedReader) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, errors.New("fixedReader exhausted")
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	return n, nil
}

// officialVectors are the fields of chat-xdk tests/fixtures/sdk_vectors.json
// that touch this package.
type officialVectors struct {
	IdentityPrivate      string `json:"identity_private_b64"`
	SigningPrivate       string `json:"signing_private_b64"`
	IdentityPublic       string `json:"identity_public_b64"`
	SigningPublic        string `json:"signing_public_b64"`
	IdentityKeySignature string `json:"identity_public_key_signature_b64"`
	PrivateKeysConcat    string `json:"private_keys_concat_b64"`
	MessageUTF8          string `json:"message_utf8"`
	Signature            string `json:"signature_b64"`
	ConversationKey      string `json:"conversation_key_b64"`
	EventMessage         string `json:"event_message_b64"`
	EventMessageText     string `json:"event_message_text"`
}

func loadOfficial(t testing.TB) officialVectors {
	t.Helper()
	var v officialVectors
	testref.JSON(t, testref.SDKVectors, &v)
	if v.IdentityPrivate == "" || v.Signature == "" {
		t.Fatal("official vectors: missing fields")
	}
	return v
}
