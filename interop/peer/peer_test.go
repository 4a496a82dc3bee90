package peer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startPeer starts the harness, skipping only when node is absent.
func startPeer(t *testing.T) *Peer {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		// Same policy as the interop suite: fail unless explicitly optional.
		if os.Getenv("XCHAT_INTEROP_OPTIONAL") == "1" {
			t.Skip("node not on PATH and XCHAT_INTEROP_OPTIONAL=1")
		}
		t.Fatalf("node not on PATH: the interop tests need Node.js 18+ (set XCHAT_INTEROP_OPTIONAL=1 to skip): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := Start(ctx)
	if err != nil {
		t.Fatalf("start harness: %v\n(the official SDK must be installed: cd interop && npm ci)", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return p
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

func parseSPKI(t *testing.T, b64 string) *ecdsa.PublicKey {
	t.Helper()
	k, err := x509.ParsePKIXPublicKey(mustB64(t, b64))
	if err != nil {
		t.Fatalf("parse SPKI: %v", err)
	}
	pk, ok := k.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("SPKI holds %T, want *ecdsa.PublicKey", k)
	}
	return pk
}

// verifyRS checks a raw r||s P-256 signature over SHA-256(msg) with Go's stdlib.
func verifyRS(pub *ecdsa.PublicKey, msg, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	h := sha256.Sum256(msg)
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, h[:], r, s)
}

func TestGenerateKeypairsAndVerifyKeyBinding(t *testing.T) {
	p := startPeer(t)
	ctx := testCtx(t)
	alice, bob := p.Account("alice"), p.Account("bob")

	reg, err := alice.GenerateKeypairs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if reg.PublicKey.RegistrationMethod != "CustomPin" || !reg.GenerateVersion || reg.Version == "" {
		t.Errorf("unexpected registration metadata: %+v", reg)
	}
	idSPKI := mustB64(t, reg.PublicKey.PublicKey)
	sgSPKI := mustB64(t, reg.PublicKey.SigningPublicKey)
	if len(idSPKI) != 91 || len(sgSPKI) != 91 {
		t.Fatalf("SPKI lengths %d, %d; want 91", len(idSPKI), len(sgSPKI))
	}
	idPub, sgPub := parseSPKI(t, reg.PublicKey.PublicKey), parseSPKI(t, reg.PublicKey.SigningPublicKey)

	// The binding signatures, checked independently with Go's stdlib.
	idSig := mustB64(t, reg.PublicKey.IdentityPublicKeySignature)
	sgSig := mustB64(t, reg.PublicKey.SigningPublicKeySignature)
	if !verifyRS(sgPub, idSPKI, idSig) {
		t.Error("identityPublicKeySignature is not the signing key's signature over the identity SPKI")
	}
	if !verifyRS(idPub, sgSPKI, sgSig) {
		t.Error("signingPublicKeySignature is not the identity key's signature over the signing SPKI")
	}
	if verifyRS(idPub, idSPKI, idSig) {
		t.Error("identityPublicKeySignature unexpectedly verifies under the identity key")
	}

	// The fingerprint: base64url(SHA-256(identity SPKI)), no padding.
	sum := sha256.Sum256(idSPKI)
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); reg.PublicKey.PublicKeyFingerprint != want {
		t.Errorf("fingerprint %q, want %q", reg.PublicKey.PublicKeyFingerprint, want)
	}
	fp, err := alice.Fingerprint(ctx)
	if err != nil || fp != reg.PublicKey.PublicKeyFingerprint {
		t.Errorf("getPublicKeyFingerprint = %q, %v; want %q", fp, err, reg.PublicKey.PublicKeyFingerprint)
	}

	// The raw public keys are the SPKI's trailing 65 bytes.
	pub, err := alice.PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustB64(t, pub.Identity), idSPKI[26:]) || !bytes.Equal(mustB64(t, pub.Signing), sgSPKI[26:]) {
		t.Error("getPublicKeys raw points differ from the SPKI contents")
	}

	// Round trip: another SDK instance verifies alice's binding.
	ok, err := bob.VerifyKeyBinding(ctx, reg.PublicKey.PublicKey, reg.PublicKey.SigningPublicKey, reg.PublicKey.IdentityPublicKeySignature)
	if err != nil || !ok {
		t.Fatalf("verifyKeyBinding(valid) = %v, %v; want true", ok, err)
	}
	ok, err = bob.VerifyKeyBinding(ctx, reg.PublicKey.PublicKey, reg.PublicKey.SigningPublicKey, reg.PublicKey.SigningPublicKeySignature)
	if err != nil || ok {
		t.Errorf("verifyKeyBinding(wrong signature) = %v, %v; want false", ok, err)
	}
	bobReg, err := bob.GenerateKeypairs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ok, err = bob.VerifyKeyBinding(ctx, reg.PublicKey.PublicKey, bobReg.PublicKey.SigningPublicKey, reg.PublicKey.IdentityPublicKeySignature)
	if err != nil || ok {
		t.Errorf("verifyKeyBinding(substituted signing key) = %v, %v; want false", ok, err)
	}
}

func TestRemoteErrors(t *testing.T) {
	p := startPeer(t)
	ctx := testCtx(t)

	var re *RemoteError
	err := p.Call(ctx, "noSuchOp", nil, nil)
	if !errors.As(err, &re) || re.Op != "noSuchOp" || !strings.Contains(re.Message, "unknown op") {
		t.Errorf("unknown op: got %v", err)
	}
	_, err = p.Account("x").VerifyKeyBinding(ctx, "!!", "", "")
	if !errors.As(err, &re) || !strings.Contains(re.Message, "Base64") {
		t.Errorf("bad base64: got %v", err)
	}
	// The peer keeps working after errors.
	if _, err := p.Account("x").GenerateKeypairs(ctx); err != nil {
		t.Errorf("after errors: %v", err)
	}
}

func TestMessageRoundTrip(t *testing.T) {
	p := startPeer(t)
	ctx := testCtx(t)
	alice, bob := p.Account("alice"), p.Account("bob")
	ra, err := alice.GenerateKeypairs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := bob.GenerateKeypairs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.SetIdentity(ctx, "111", ra.Version); err != nil {
		t.Fatal(err)
	}
	if err := bob.SetIdentity(ctx, "222", rb.Version); err != nil {
		t.Fatal(err)
	}
	kc, err := alice.PrepareConversationKeyChange(ctx, KeyChangeParams{
		PublicKeys: []PublicKeyInput{PublicKeyInputFor("111", ra), PublicKeyInputFor("222", rb)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if kc.ConversationID != "111:222" || len(kc.ConversationKey) != 32 || len(kc.ActionSignatures) != 1 {
		t.Fatalf("unexpected key change: id %q, key %d bytes, %d signatures", kc.ConversationID, len(kc.ConversationKey), len(kc.ActionSignatures))
	}
	as := kc.ActionSignatures[0]
	kcEvent, err := p.BuildMessageEvent(ctx, EnvelopeParams{
		SequenceID: "1", MessageID: as.MessageID, SenderID: "111", ConversationID: kc.ConversationID, CreatedAtMsec: "1700000000000",
		DetailB64: as.EncodedMessageEventDetail,
		Signature: &EventSignature{Signature: &as.Signature, PublicKeyVersion: &as.PublicKeyVersion, SignatureVersion: &as.SignatureVersion},
	})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := alice.EncryptMessage(ctx, MessageParams{
		ConversationID: kc.ConversationID, Text: "hello from the SDK",
		ConversationKey: kc.ConversationKey, ConversationKeyVersion: kc.ConversationKeyVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The key-change signature covers the plaintext key (checked in Go).
	payload := strings.Join([]string{"ConversationKeyChangeEvent", as.MessageID, "111", kc.ConversationID, kc.ConversationKeyVersion,
		base64.RawStdEncoding.EncodeToString(kc.ConversationKey)}, ",")
	sig, err := base64.RawStdEncoding.DecodeString(as.Signature)
	if err != nil {
		t.Fatalf("action signature is not unpadded base64: %v", err)
	}
	if !verifyRS(parseSPKI(t, ra.PublicKey.SigningPublicKey), []byte(payload), sig) {
		t.Error("key change signature does not cover the documented payload")
	}
	msgEvent, err := p.BuildMessageEvent(ctx, EnvelopeParams{
		SequenceID: "2", MessageID: msg.MessageID, SenderID: "111", ConversationID: kc.ConversationID, CreatedAtMsec: "1700000000001",
		MessageCreateEventB64: msg.EncryptedContent, SignatureB64: msg.EncodedEventSignature, PreviousSequenceID: "1",
	})
	if err != nil {
		t.Fatal(err)
	}
	signers := []SigningKeyEntry{SigningKeyEntryFor("111", ra), SigningKeyEntryFor("222", rb)}
	res, err := bob.DecryptEvents(ctx, []string{kcEvent, msgEvent}, signers)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 0 || len(res.Messages) != 2 {
		t.Fatalf("decryptEvents: %d messages, errors %v", len(res.Messages), res.Errors)
	}
	got := res.Messages[1].Event
	if got.Type != "message" || !got.Verified || got.Content == nil || got.Content.Text != "hello from the SDK" || got.ID != msg.MessageID {
		t.Errorf("decrypted event = %s", got.Raw)
	}
	if !bytes.Equal(res.ConversationKeys.Keys[kc.ConversationKeyVersion], kc.ConversationKey) {
		t.Error("bob extracted a different conversation key")
	}

	// A tampered envelope (sender changed) must not verify.
	forged, err := p.BuildMessageEvent(ctx, EnvelopeParams{
		SequenceID: "3", MessageID: msg.MessageID, SenderID: "222", ConversationID: kc.ConversationID,
		MessageCreateEventB64: msg.EncryptedContent, SignatureB64: msg.EncodedEventSignature,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bob.DecryptEvent(ctx, forged, map[string][]byte{kc.ConversationKeyVersion: kc.ConversationKey}, signers)
	var re *RemoteError
	if !errors.As(err, &re) {
		t.Errorf("forged sender: got %v, want a RemoteError", err)
	}
}

func TestStreams(t *testing.T) {
	p := startPeer(t)
	ctx := testCtx(t)
	a := p.Account("media")
	key := bytes.Repeat([]byte{7}, 32)
	pt := bytes.Repeat([]byte("0123456789abcdef"), 160) // 2560 bytes: 2 full chunks + 512

	ct, err := a.EncryptStream(ctx, pt, key)
	if err != nil {
		t.Fatal(err)
	}
	if want := 24 + 2*1041 + 512 + 17; len(ct) != want {
		t.Errorf("ciphertext length %d, want %d", len(ct), want)
	}
	back, err := a.DecryptStream(ctx, ct, key)
	if err != nil || !bytes.Equal(back, pt) {
		t.Fatalf("decryptStream round trip: %v", err)
	}
	if _, err := a.DecryptStream(ctx, ct[:24+1041], key); err == nil {
		t.Error("stream truncated at a chunk boundary decrypted without error")
	}

	inc, err := a.StreamEncrypt(ctx, key, [][]byte{pt[:100], pt[100:]})
	if err != nil {
		t.Fatal(err)
	}
	var joined []byte
	for _, part := range inc.Parts {
		joined = append(joined, part...)
	}
	joined = append(joined, inc.Final...)
	dec, err := a.StreamDecrypt(ctx, key, [][]byte{joined})
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, part := range dec.Parts {
		out = append(out, part...)
	}
	out = append(out, dec.Final...)
	if !bytes.Equal(out, pt) {
		t.Error("incremental stream round trip changed the plaintext")
	}
}

func TestStartWithoutSDK(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "harness.mjs"), []byte("// placeholder\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), WithDir(dir))
	if !errors.Is(err, ErrSDKNotInstalled) || !strings.Contains(err.Error(), "npm ci") {
		t.Errorf("Start without node_modules: %v, want ErrSDKNotInstalled with npm ci instructions", err)
	}
	_, err = Start(context.Background(), WithDir(t.TempDir()))
	if !errors.Is(err, ErrHarnessNotFound) {
		t.Errorf("Start without harness: %v, want ErrHarnessNotFound", err)
	}
}

func TestCallAfterClose(t *testing.T) {
	p := startPeer(t)
	if err := p.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	err := p.Call(context.Background(), "version", nil, nil)
	if !errors.Is(err, ErrClosed) {
		t.Errorf("call after close: %v, want ErrClosed", err)
	}
}
