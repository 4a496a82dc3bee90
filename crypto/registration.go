package crypto

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// RegistrationMethod is the registration_method the XDK sends.
const RegistrationMethod = "CustomPin"

// FingerprintSize is the length of a public key fingerprint.
const FingerprintSize = sha256.Size

// Registration holds the key-binding material of a
// POST /2/users/{id}/public_keys request, exactly as the XDK's
// generateKeypairs produces it:
//
//   - identity_public_key_signature = ECDSA(signing key, identity SPKI(91));
//   - signing_public_key_signature  = ECDSA(identity key, signing SPKI(91));
//   - public_key_fingerprint        = SHA-256(identity SPKI(91)).
//
// Signatures are deterministic (RFC 6979), so a key pair always yields the
// same Registration.
type Registration struct {
	// Identity is the identity public key (public_key).
	Identity *PublicKey
	// Signing is the signing public key (signing_public_key).
	Signing *PublicKey
	// IdentitySignature is the raw r‖s signature by the signing key over the
	// identity key's SPKI encoding.
	IdentitySignature []byte
	// SigningSignature is the raw r‖s signature by the identity key over the
	// signing key's SPKI encoding.
	SigningSignature []byte
	// Fingerprint is SHA-256 of the identity key's SPKI encoding.
	Fingerprint [FingerprintSize]byte
}

// RegistrationFields is a Registration rendered as the XDK renders it for the
// X API: keys and signatures in standard base64 with padding, the
// fingerprint in unpadded base64url.
type RegistrationFields struct {
	PublicKey                  string // identity key, SPKI
	SigningPublicKey           string // signing key, SPKI
	IdentityPublicKeySignature string
	SigningPublicKeySignature  string
	PublicKeyFingerprint       string
	RegistrationMethod         string
}

// NewRegistration computes the binding signatures and fingerprint for kp.
func NewRegistration(kp *KeyPair) (*Registration, error) {
	if kp == nil || kp.Identity == nil || kp.Signing == nil || kp.Identity.pub == nil || kp.Signing.pub == nil {
		return nil, fmt.Errorf("%w: incomplete key pair", ErrInvalidPrivateKey)
	}
	id, sg := kp.Identity.PublicKey(), kp.Signing.PublicKey()
	idSig, err := Sign(kp.Signing, id.SPKI())
	if err != nil {
		return nil, err
	}
	sgSig, err := Sign(kp.Identity, sg.SPKI())
	if err != nil {
		return nil, err
	}
	return &Registration{
		Identity:          id,
		Signing:           sg,
		IdentitySignature: idSig,
		SigningSignature:  sgSig,
		Fingerprint:       Fingerprint(id),
	}, nil
}

// Fields renders r for the registration request body.
func (r *Registration) Fields() RegistrationFields {
	return RegistrationFields{
		PublicKey:                  base64.StdEncoding.EncodeToString(r.Identity.SPKI()),
		SigningPublicKey:           base64.StdEncoding.EncodeToString(r.Signing.SPKI()),
		IdentityPublicKeySignature: base64.StdEncoding.EncodeToString(r.IdentitySignature),
		SigningPublicKeySignature:  base64.StdEncoding.EncodeToString(r.SigningSignature),
		PublicKeyFingerprint:       base64.RawURLEncoding.EncodeToString(r.Fingerprint[:]),
		RegistrationMethod:         RegistrationMethod,
	}
}

// Verify checks both binding signatures and the fingerprint of r.
func (r *Registration) Verify() error {
	if r == nil || r.Identity == nil || r.Signing == nil {
		return fmt.Errorf("%w: incomplete registration", ErrInvalidPublicKey)
	}
	if err := VerifyKeyBinding(r.Identity.SPKI(), r.Signing, r.IdentitySignature); err != nil {
		return err
	}
	if err := VerifySigningKeyBinding(r.Signing.SPKI(), r.Identity, r.SigningSignature); err != nil {
		return err
	}
	if Fingerprint(r.Identity) != r.Fingerprint {
		return fmt.Errorf("%w: fingerprint mismatch", ErrInvalidSignature)
	}
	return nil
}

// VerifyKeyBinding checks identity_public_key_signature: an ECDSA signature
// by the signing key over the identity public key bytes exactly as published
// (identityKey is the decoded public_key field, 91-byte SPKI or 65-byte
// SEC1). Like the XDK's verifyKeyBinding, the signed message is those bytes
// as given, so a binding made over SPKI does not verify against the SEC1 form
// of the same key and vice versa. identityKey must itself parse as a valid
// public key.
func VerifyKeyBinding(identityKey []byte, signing *PublicKey, sig []byte) error {
	return VerifyKeyBindingMemo(identityKey, signing, sig, nil)
}

// VerifyKeyBindingMemo is VerifyKeyBinding, consulting memo first for the
// signature (see VerifyMemo): a binding that verified before with the same
// key, bytes and signature is not verified again. A nil memo makes it
// VerifyKeyBinding.
func VerifyKeyBindingMemo(identityKey []byte, signing *PublicKey, sig []byte, memo *VerifyMemo) error {
	if _, err := ParsePublicKey(identityKey); err != nil {
		return fmt.Errorf("crypto: key binding: identity key: %w", err)
	}
	if err := VerifyMessageMemo(signing, identityKey, sig, memo); err != nil {
		return fmt.Errorf("crypto: key binding: %w", err)
	}
	return nil
}

// VerifySigningKeyBinding checks signing_public_key_signature: an ECDSA
// signature by the identity key over the signing public key bytes exactly as
// published. The XDK generates this signature but its verifyKeyBinding does
// not check it; this engine can.
func VerifySigningKeyBinding(signingKey []byte, identity *PublicKey, sig []byte) error {
	if _, err := ParsePublicKey(signingKey); err != nil {
		return fmt.Errorf("crypto: signing key binding: signing key: %w", err)
	}
	if err := Verify(identity, signingKey, sig); err != nil {
		return fmt.Errorf("crypto: signing key binding: %w", err)
	}
	return nil
}

// Fingerprint returns public_key_fingerprint: SHA-256 over the identity
// key's 91-byte SPKI encoding. The XDK shows it as unpadded base64url
// (see FingerprintString).
func Fingerprint(identity *PublicKey) [FingerprintSize]byte {
	return sha256.Sum256(identity.SPKI())
}

// FingerprintString returns Fingerprint(identity) as unpadded base64url, the
// form of getPublicKeyFingerprint and the registration request.
func FingerprintString(identity *PublicKey) string {
	fp := Fingerprint(identity)
	return base64.RawURLEncoding.EncodeToString(fp[:])
}
