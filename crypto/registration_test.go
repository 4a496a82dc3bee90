package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"testing"
)

func TestRegistration(t *testing.T) {
	kp := &KeyPair{Identity: mustKey(t, 1), Signing: mustKey(t, 2)}
	reg, err := NewRegistration(kp)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Verify(); err != nil {
		t.Fatal(err)
	}
	// Who signs what, checked directly with Verify.
	if err := Verify(kp.Signing.PublicKey(), kp.Identity.PublicKey().SPKI(), reg.IdentitySignature); err != nil {
		t.Errorf("identity_public_key_signature is not signing-key-over-identity-SPKI: %v", err)
	}
	if err := Verify(kp.Identity.PublicKey(), kp.Signing.PublicKey().SPKI(), reg.SigningSignature); err != nil {
		t.Errorf("signing_public_key_signature is not identity-key-over-signing-SPKI: %v", err)
	}
	fp := sha256.Sum256(kp.Identity.PublicKey().SPKI())
	if reg.Fingerprint != fp {
		t.Error("fingerprint is not SHA-256(identity SPKI)")
	}
	f := reg.Fields()
	if f.PublicKeyFingerprint != base64.RawURLEncoding.EncodeToString(fp[:]) || f.RegistrationMethod != "CustomPin" {
		t.Errorf("fields: %+v", f)
	}
	if len(f.IdentityPublicKeySignature) != 88 || f.IdentityPublicKeySignature[86:] != "==" {
		t.Errorf("registration signatures are padded standard base64, got %q", f.IdentityPublicKeySignature)
	}

	swapped := *reg
	swapped.IdentitySignature, swapped.SigningSignature = reg.SigningSignature, reg.IdentitySignature
	if err := swapped.Verify(); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("swapped signatures verified: %v", err)
	}
	other := *reg
	other.Fingerprint[0] ^= 1
	if err := other.Verify(); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("bad fingerprint verified: %v", err)
	}
	substituted := *reg
	substituted.Identity = mustKey(t, 3).PublicKey()
	if err := substituted.Verify(); err == nil {
		t.Error("substituted identity key verified")
	}
	if err := VerifyKeyBinding([]byte("not a key"), kp.Signing.PublicKey(), reg.IdentitySignature); !errors.Is(err, ErrInvalidPublicKey) {
		t.Errorf("garbage identity key: %v", err)
	}
	if err := VerifySigningKeyBinding(kp.Signing.PublicKey().Bytes(), kp.Identity.PublicKey(), reg.SigningSignature); err == nil {
		t.Error("SPKI binding verified over the SEC1 form")
	}
	if _, err := NewRegistration(&KeyPair{Identity: kp.Identity}); err == nil {
		t.Error("registration without signing key")
	}
	if !bytes.Equal(reg.Identity.Bytes(), kp.Identity.PublicKey().Bytes()) {
		t.Error("registration identity key")
	}
}
