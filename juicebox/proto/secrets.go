// Package proto holds Juicebox's realm messages and their CBOR encoding,
// byte-compatible with the SDK (serde + ciborium): structs are maps keyed by
// field name in declaration order, byte fields are byte strings, enums are
// externally tagged (a unit variant is its name as a text string, any other
// variant a one-entry map {name: body}).
//
// Decoders are strict: exact lengths, canonical scalars and valid points
// where the SDK's types require them, no duplicate keys, no indefinite
// lengths or tags, nothing after the value. Unknown map keys are ignored, as
// serde does.
package proto

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/xchat-go/xchat/juicebox/oprf"
)

// Sizes of the fixed-length fields.
const (
	RealmIDSize             = 16
	VersionSize             = 16
	ScalarSize              = 32
	PointSize               = 32
	UnlockKeyCommitmentSize = 32
	UnlockKeyTagSize        = 16
	CommitmentSize          = 16
	EncryptedSecretSize     = 145
	SignatureSize           = 64
	VerifyingKeySize        = 32
	// PaddedResponseSize is the fixed size of a padded secrets response.
	PaddedResponseSize = 436
	// BodySizeLimit is the largest request a realm accepts.
	BodySizeLimit = 2048
)

// RealmID identifies a realm.
type RealmID [RealmIDSize]byte

// String is the lowercase hex form used in configurations and tokens.
func (id RealmID) String() string { return hex.EncodeToString(id[:]) }

// ParseRealmID parses 32 hex digits (dashes are ignored, as the SDK does).
func ParseRealmID(s string) (RealmID, error) {
	var id RealmID
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != RealmIDSize {
		return id, fmt.Errorf("%w: realm id %q is not 16 hex bytes", ErrDecode, clip(s))
	}
	copy(id[:], b)
	return id, nil
}

func clip(s string) string {
	if len(s) > 48 {
		return s[:48] + "…"
	}
	return s
}

// Version identifies one registration (and salts the PIN hash).
type Version [VersionSize]byte

// Policy is the guess limit chosen at registration.
type Policy struct {
	// NumGuesses is the number of wrong guesses allowed.
	NumGuesses uint16
}

// SignedPublicKey is a realm's OPRF public key share, signed by the
// registration's one-time Ed25519 key.
type SignedPublicKey struct {
	PublicKey    [PointSize]byte
	VerifyingKey [VerifyingKeySize]byte
	Signature    [SignatureSize]byte
}

// Register2Request stores a registration on one realm.
type Register2Request struct {
	Version                   Version
	OprfPrivateKey            [ScalarSize]byte
	OprfSignedPublicKey       SignedPublicKey
	UnlockKeyCommitment       [UnlockKeyCommitmentSize]byte
	UnlockKeyTag              [UnlockKeyTagSize]byte
	EncryptionKeyScalarShare  [ScalarSize]byte
	EncryptedSecret           [EncryptedSecretSize]byte
	EncryptedSecretCommitment [CommitmentSize]byte
	Policy                    Policy
}

// Recover2Request asks a realm to evaluate the OPRF.
type Recover2Request struct {
	Version          Version
	OprfBlindedInput [PointSize]byte
}

// Recover3Request proves knowledge of the PIN to get the secret share.
type Recover3Request struct {
	Version      Version
	UnlockKeyTag [UnlockKeyTagSize]byte
}

// Kind names a request (and its response).
type Kind int

// The request kinds.
const (
	Register1 Kind = iota + 1
	Register2
	Recover1
	Recover2
	Recover3
	Delete
)

var kindNames = map[Kind]string{
	Register1: "Register1", Register2: "Register2", Recover1: "Recover1",
	Recover2: "Recover2", Recover3: "Recover3", Delete: "Delete",
}

// String returns the variant name.
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

func kindByName(s string) (Kind, bool) {
	for k, n := range kindNames {
		if n == s {
			return k, true
		}
	}
	return 0, false
}

// SecretsRequest is one request to a realm. Exactly the field matching
// Kind is set for Register2, Recover2 and Recover3.
type SecretsRequest struct {
	Kind      Kind
	Register2 *Register2Request
	Recover2  *Recover2Request
	Recover3  *Recover3Request
}

// NeedsForwardSecrecy reports whether the request must travel inside an
// established Noise session rather than in the handshake itself.
func (r *SecretsRequest) NeedsForwardSecrecy() bool {
	switch r.Kind {
	case Register2, Recover2, Recover3:
		return true
	}
	return false
}

type signedKeyWire struct {
	PublicKey    []byte `cbor:"public_key"`
	VerifyingKey []byte `cbor:"verifying_key"`
	Signature    []byte `cbor:"signature"`
}

type proofWire struct {
	C     []byte `cbor:"c"`
	BetaZ []byte `cbor:"beta_z"`
}

type policyWire struct {
	NumGuesses uint16 `cbor:"num_guesses"`
}

type register2Wire struct {
	Version                   []byte        `cbor:"version"`
	OprfPrivateKey            []byte        `cbor:"oprf_private_key"`
	OprfSignedPublicKey       signedKeyWire `cbor:"oprf_signed_public_key"`
	UnlockKeyCommitment       []byte        `cbor:"unlock_key_commitment"`
	UnlockKeyTag              []byte        `cbor:"unlock_key_tag"`
	EncryptionKeyScalarShare  []byte        `cbor:"encryption_key_scalar_share"`
	EncryptedSecret           []byte        `cbor:"encrypted_secret"`
	EncryptedSecretCommitment []byte        `cbor:"encrypted_secret_commitment"`
	Policy                    policyWire    `cbor:"policy"`
}

type recover2Wire struct {
	Version          []byte `cbor:"version"`
	OprfBlindedInput []byte `cbor:"oprf_blinded_input"`
}

type recover3Wire struct {
	Version      []byte `cbor:"version"`
	UnlockKeyTag []byte `cbor:"unlock_key_tag"`
}

func signedKeyToWire(k *SignedPublicKey) signedKeyWire {
	return signedKeyWire{k.PublicKey[:], k.VerifyingKey[:], k.Signature[:]}
}

// Marshal encodes the request.
func (r *SecretsRequest) Marshal() ([]byte, error) {
	switch r.Kind {
	case Register1, Recover1, Delete:
		return marshal(r.Kind.String())
	case Register2:
		q := r.Register2
		if q == nil {
			return nil, fmt.Errorf("juicebox/proto: Register2 without a body")
		}
		return marshal(variant("Register2", register2Wire{
			Version: q.Version[:], OprfPrivateKey: q.OprfPrivateKey[:],
			OprfSignedPublicKey: signedKeyToWire(&q.OprfSignedPublicKey),
			UnlockKeyCommitment: q.UnlockKeyCommitment[:], UnlockKeyTag: q.UnlockKeyTag[:],
			EncryptionKeyScalarShare: q.EncryptionKeyScalarShare[:], EncryptedSecret: q.EncryptedSecret[:],
			EncryptedSecretCommitment: q.EncryptedSecretCommitment[:], Policy: policyWire{q.Policy.NumGuesses},
		}))
	case Recover2:
		if r.Recover2 == nil {
			return nil, fmt.Errorf("juicebox/proto: Recover2 without a body")
		}
		return marshal(variant("Recover2", recover2Wire{r.Recover2.Version[:], r.Recover2.OprfBlindedInput[:]}))
	case Recover3:
		if r.Recover3 == nil {
			return nil, fmt.Errorf("juicebox/proto: Recover3 without a body")
		}
		return marshal(variant("Recover3", recover3Wire{r.Recover3.Version[:], r.Recover3.UnlockKeyTag[:]}))
	}
	return nil, fmt.Errorf("juicebox/proto: unknown request kind %d", int(r.Kind))
}

// DecodeSecretsRequest parses a request (what a realm receives).
func DecodeSecretsRequest(b []byte) (*SecretsRequest, error) {
	name, body, err := readVariant("SecretsRequest", b)
	if err != nil {
		return nil, err
	}
	kind, ok := kindByName(name)
	if !ok {
		return nil, decodeErr("SecretsRequest", "unknown variant %q", clip(name))
	}
	r := &SecretsRequest{Kind: kind}
	switch kind {
	case Register1, Recover1, Delete:
		if body != nil {
			return nil, decodeErr("SecretsRequest", "%s carries data", name)
		}
		return r, nil
	}
	if body == nil {
		return nil, decodeErr("SecretsRequest", "%s without a body", name)
	}
	o, err := readObject(name, body)
	if err != nil {
		return nil, err
	}
	switch kind {
	case Register2:
		r.Register2, err = readRegister2(o)
	case Recover2:
		r.Recover2, err = readRecover2(o)
	case Recover3:
		r.Recover3, err = readRecover3(o)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func readSignedKey(o *object) (SignedPublicKey, error) {
	var k SignedPublicKey
	if err := o.fixed("public_key", k.PublicKey[:]); err != nil {
		return k, err
	}
	if err := o.fixed("verifying_key", k.VerifyingKey[:]); err != nil {
		return k, err
	}
	if err := o.fixed("signature", k.Signature[:]); err != nil {
		return k, err
	}
	return k, nil
}

// canonicalScalar reads a field that the SDK decodes as a Scalar (rejecting
// non-canonical encodings).
func (o *object) canonicalScalar(key string, dst *[ScalarSize]byte) error {
	if err := o.fixed(key, dst[:]); err != nil {
		return err
	}
	if _, err := oprf.DecodeScalar(dst[:]); err != nil {
		return decodeErr(o.name+"."+key, "not a canonical scalar")
	}
	return nil
}

// point reads a field that the SDK decodes as a RistrettoPoint.
func (o *object) point(key string, dst *[PointSize]byte) error {
	if err := o.fixed(key, dst[:]); err != nil {
		return err
	}
	if _, err := oprf.DecodePoint(dst[:]); err != nil {
		return decodeErr(o.name+"."+key, "not a valid point")
	}
	return nil
}

func readRegister2(o *object) (*Register2Request, error) {
	q := &Register2Request{}
	steps := []func() error{
		func() error { return o.fixed("version", q.Version[:]) },
		func() error { return o.canonicalScalar("oprf_private_key", &q.OprfPrivateKey) },
		func() error {
			ko, err := o.object("oprf_signed_public_key")
			if err != nil {
				return err
			}
			q.OprfSignedPublicKey, err = readSignedKey(ko)
			return err
		},
		func() error { return o.fixed("unlock_key_commitment", q.UnlockKeyCommitment[:]) },
		func() error { return o.fixed("unlock_key_tag", q.UnlockKeyTag[:]) },
		func() error { return o.canonicalScalar("encryption_key_scalar_share", &q.EncryptionKeyScalarShare) },
		func() error { return o.fixed("encrypted_secret", q.EncryptedSecret[:]) },
		func() error { return o.fixed("encrypted_secret_commitment", q.EncryptedSecretCommitment[:]) },
		func() error {
			po, err := o.object("policy")
			if err != nil {
				return err
			}
			n, err := po.uint("num_guesses", 0xffff)
			q.Policy.NumGuesses = uint16(n)
			return err
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	return q, nil
}

func readRecover2(o *object) (*Recover2Request, error) {
	q := &Recover2Request{}
	if err := o.fixed("version", q.Version[:]); err != nil {
		return nil, err
	}
	if err := o.point("oprf_blinded_input", &q.OprfBlindedInput); err != nil {
		return nil, err
	}
	return q, nil
}

func readRecover3(o *object) (*Recover3Request, error) {
	q := &Recover3Request{}
	if err := o.fixed("version", q.Version[:]); err != nil {
		return nil, err
	}
	if err := o.fixed("unlock_key_tag", q.UnlockKeyTag[:]); err != nil {
		return nil, err
	}
	return q, nil
}
