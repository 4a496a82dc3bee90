package peer

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// samples mirrors the parts of testdata/sdk-samples.json the tests use.
type samples struct {
	SDKVersion string `json:"sdkVersion"`
	Accounts   []struct {
		UserID      string       `json:"userId"`
		PrivateKeys string       `json:"privateKeys"`
		Reg         Registration `json:"generateKeypairs"`
	} `json:"accounts"`
	SigningKeys []SigningKeyEntry `json:"signingKeys"`
	KeyChange   struct {
		Prepared      PreparedChange `json:"prepared"`
		SignedPayload string         `json:"signedPayload"`
		EncodedEvent  string         `json:"encodedEvent"`
	} `json:"keyChange"`
	Messages []struct {
		Name          string      `json:"name"`
		Sender        string      `json:"sender"`
		SendPayload   SendPayload `json:"sendPayload"`
		SignedPayload string      `json:"signedPayload"`
		EncodedEvent  string      `json:"encodedEvent"`
		DecryptedBy   string      `json:"decryptedBy"`
		SDK           struct {
			OK    bool  `json:"ok"`
			Event Event `json:"event"`
		} `json:"sdk"`
	} `json:"messages"`
}

func loadSamples(t *testing.T) *samples {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "sdk-samples.json"))
	if err != nil {
		t.Fatalf("read samples: %v", err)
	}
	var s samples
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("decode samples: %v", err)
	}
	if s.SDKVersion != SDKVersion || len(s.Accounts) == 0 || len(s.Messages) == 0 {
		t.Fatalf("samples look wrong: version %q, %d accounts, %d messages", s.SDKVersion, len(s.Accounts), len(s.Messages))
	}
	return &s
}

// TestSamplesIndependently checks the recorded facts with Go's stdlib only.
func TestSamplesIndependently(t *testing.T) {
	s := loadSamples(t)
	signing := map[string]string{}
	for _, a := range s.Accounts {
		k := a.Reg.PublicKey
		id, sg := mustB64(t, k.PublicKey), mustB64(t, k.SigningPublicKey)
		sum := sha256.Sum256(id)
		if got := base64.RawURLEncoding.EncodeToString(sum[:]); got != k.PublicKeyFingerprint {
			t.Errorf("account %s: fingerprint %q, want %q", a.UserID, k.PublicKeyFingerprint, got)
		}
		if !verifyRS(parseSPKI(t, k.SigningPublicKey), id, mustB64(t, k.IdentityPublicKeySignature)) {
			t.Errorf("account %s: identity binding signature", a.UserID)
		}
		if !verifyRS(parseSPKI(t, k.PublicKey), sg, mustB64(t, k.SigningPublicKeySignature)) {
			t.Errorf("account %s: signing binding signature", a.UserID)
		}
		signing[a.UserID] = k.SigningPublicKey
	}
	kc := s.KeyChange
	sig, err := base64.RawStdEncoding.DecodeString(kc.Prepared.ActionSignatures[0].Signature)
	if err != nil {
		t.Fatalf("key change signature: %v", err)
	}
	if !verifyRS(parseSPKI(t, signing["111"]), []byte(kc.SignedPayload), sig) {
		t.Error("key change signed payload does not verify")
	}
	for _, m := range s.Messages {
		sig, err := base64.RawStdEncoding.DecodeString(m.SendPayload.Signature)
		if err != nil {
			t.Fatalf("%s: signature: %v", m.Name, err)
		}
		if !verifyRS(parseSPKI(t, signing[m.Sender]), []byte(m.SignedPayload), sig) {
			t.Errorf("%s: signed payload does not verify", m.Name)
		}
	}
}

// TestSamplesReplay feeds the recorded envelopes back to a fresh SDK
// holding the recorded private keys and expects the recorded results.
func TestSamplesReplay(t *testing.T) {
	s := loadSamples(t)
	p := startPeer(t)
	ctx := testCtx(t)
	for _, a := range s.Accounts {
		if err := p.Account(a.UserID).ImportKeys(ctx, mustB64(t, a.PrivateKeys), a.Reg.Version); err != nil {
			t.Fatal(err)
		}
	}
	keys := map[string][]byte{s.KeyChange.Prepared.ConversationKeyVersion: s.KeyChange.Prepared.ConversationKey}
	for _, m := range s.Messages {
		got, err := p.Account(m.DecryptedBy).DecryptEvent(ctx, m.EncodedEvent, keys, s.SigningKeys)
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		want := m.SDK.Event
		if !m.SDK.OK || got.Verified != want.Verified || got.Type != want.Type || got.ID != want.ID || got.Content == nil || want.Content == nil ||
			got.Content.ContentType != want.Content.ContentType || got.Content.Text != want.Content.Text || got.Content.Emoji != want.Content.Emoji {
			t.Errorf("%s: got %s, recorded %s", m.Name, got.Raw, want.Raw)
		}
	}
	res, err := p.Account("222").DecryptEvents(ctx, []string{s.KeyChange.EncodedEvent}, s.SigningKeys)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 0 || string(res.ConversationKeys.Keys[s.KeyChange.Prepared.ConversationKeyVersion]) != string(s.KeyChange.Prepared.ConversationKey) {
		t.Errorf("key change replay: errors %v", res.Errors)
	}
}
