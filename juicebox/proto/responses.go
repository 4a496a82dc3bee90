package proto

import (
	"bytes"
	"fmt"

	"github.com/xchat-go/xchat/juicebox/oprf"
)

// Status is the outcome a realm reports for a request.
type Status int

// The statuses. Which ones a kind allows: Register1, Register2, Delete: OK;
// Recover1: OK, NotRegistered, NoGuesses; Recover2: OK, VersionMismatch,
// NotRegistered, NoGuesses; Recover3: all five.
const (
	StatusOK Status = iota + 1
	StatusNotRegistered
	StatusNoGuesses
	StatusVersionMismatch
	StatusBadUnlockKeyTag
)

var statusNames = map[Status]string{
	StatusOK: "Ok", StatusNotRegistered: "NotRegistered", StatusNoGuesses: "NoGuesses",
	StatusVersionMismatch: "VersionMismatch", StatusBadUnlockKeyTag: "BadUnlockKeyTag",
}

// String returns the variant name.
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// allowed lists the statuses each kind may answer.
var allowed = map[Kind][]Status{
	Register1: {StatusOK},
	Register2: {StatusOK},
	Recover1:  {StatusOK, StatusNotRegistered, StatusNoGuesses},
	Recover2:  {StatusOK, StatusVersionMismatch, StatusNotRegistered, StatusNoGuesses},
	Recover3:  {StatusOK, StatusVersionMismatch, StatusNotRegistered, StatusBadUnlockKeyTag, StatusNoGuesses},
	Delete:    {StatusOK},
}

// Recover2OK is a realm's OPRF evaluation.
type Recover2OK struct {
	OprfSignedPublicKey SignedPublicKey
	OprfBlindedResult   [PointSize]byte
	OprfProof           oprf.Proof
	UnlockKeyCommitment [UnlockKeyCommitmentSize]byte
	NumGuesses          uint16
	GuessCount          uint16
}

// Recover3OK is a realm's share of the secret.
type Recover3OK struct {
	EncryptionKeyScalarShare  [ScalarSize]byte
	EncryptedSecret           [EncryptedSecretSize]byte
	EncryptedSecretCommitment [CommitmentSize]byte
}

// SecretsResponse is a realm's answer. Kind is the request it answers; the
// data fields are set for the matching OK status (Version for Recover1,
// Recover2 and Recover3) and GuessesRemaining for BadUnlockKeyTag.
type SecretsResponse struct {
	Kind             Kind
	Status           Status
	Version          Version
	Recover2         *Recover2OK
	Recover3         *Recover3OK
	GuessesRemaining uint16
}

type recover1OKWire struct {
	Version []byte `cbor:"version"`
}

type recover2OKWire struct {
	OprfSignedPublicKey signedKeyWire `cbor:"oprf_signed_public_key"`
	OprfBlindedResult   []byte        `cbor:"oprf_blinded_result"`
	OprfProof           proofWire     `cbor:"oprf_proof"`
	UnlockKeyCommitment []byte        `cbor:"unlock_key_commitment"`
	NumGuesses          uint16        `cbor:"num_guesses"`
	GuessCount          uint16        `cbor:"guess_count"`
}

type recover3OKWire struct {
	EncryptionKeyScalarShare  []byte `cbor:"encryption_key_scalar_share"`
	EncryptedSecret           []byte `cbor:"encrypted_secret"`
	EncryptedSecretCommitment []byte `cbor:"encrypted_secret_commitment"`
}

type badTagWire struct {
	GuessesRemaining uint16 `cbor:"guesses_remaining"`
}

func (r *SecretsResponse) check() error {
	for _, s := range allowed[r.Kind] {
		if s == r.Status {
			return nil
		}
	}
	return fmt.Errorf("juicebox/proto: %v cannot answer %v", r.Status, r.Kind)
}

// inner is the response's enum value inside its kind's variant.
func (r *SecretsResponse) inner() (any, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	name := r.Status.String()
	if r.Status != StatusOK {
		if r.Status == StatusBadUnlockKeyTag {
			return variant(name, badTagWire{r.GuessesRemaining}), nil
		}
		return name, nil
	}
	switch r.Kind {
	case Recover1:
		return variant(name, recover1OKWire{r.Version[:]}), nil
	case Recover2:
		q := r.Recover2
		if q == nil {
			return nil, fmt.Errorf("juicebox/proto: Recover2 Ok without data")
		}
		return variant(name, recover2OKWire{
			OprfSignedPublicKey: signedKeyToWire(&q.OprfSignedPublicKey),
			OprfBlindedResult:   q.OprfBlindedResult[:],
			OprfProof:           proofWire{q.OprfProof.C[:], q.OprfProof.BetaZ[:]},
			UnlockKeyCommitment: q.UnlockKeyCommitment[:],
			NumGuesses:          q.NumGuesses, GuessCount: q.GuessCount,
		}), nil
	case Recover3:
		q := r.Recover3
		if q == nil {
			return nil, fmt.Errorf("juicebox/proto: Recover3 Ok without data")
		}
		return variant(name, recover3OKWire{q.EncryptionKeyScalarShare[:], q.EncryptedSecret[:], q.EncryptedSecretCommitment[:]}), nil
	}
	return name, nil
}

// Marshal encodes the response (unpadded).
func (r *SecretsResponse) Marshal() ([]byte, error) {
	in, err := r.inner()
	if err != nil {
		return nil, err
	}
	return marshal(variant(r.Kind.String(), in))
}

// DecodeSecretsResponse parses an unpadded response.
func DecodeSecretsResponse(b []byte) (*SecretsResponse, error) {
	name, body, err := readVariant("SecretsResponse", b)
	if err != nil {
		return nil, err
	}
	kind, ok := kindByName(name)
	if !ok || body == nil {
		return nil, decodeErr("SecretsResponse", "unknown variant %q", clip(name))
	}
	sname, sbody, err := readVariant(name+"Response", body)
	if err != nil {
		return nil, err
	}
	r := &SecretsResponse{Kind: kind}
	for s, n := range statusNames {
		if n == sname {
			r.Status = s
		}
	}
	if err := r.check(); err != nil {
		return nil, decodeErr(name+"Response", "unexpected variant %q", clip(sname))
	}
	return r, r.readBody(name+"."+sname, sbody)
}

// readBody reads the data of a response variant.
func (r *SecretsResponse) readBody(name string, body []byte) error {
	hasData := r.Status == StatusBadUnlockKeyTag ||
		(r.Status == StatusOK && (r.Kind == Recover1 || r.Kind == Recover2 || r.Kind == Recover3))
	if !hasData {
		if body != nil {
			return decodeErr(name, "unit variant carries data")
		}
		return nil
	}
	if body == nil {
		return decodeErr(name, "missing data")
	}
	o, err := readObject(name, body)
	if err != nil {
		return err
	}
	if r.Status == StatusBadUnlockKeyTag {
		n, err := o.uint("guesses_remaining", 0xffff)
		r.GuessesRemaining = uint16(n)
		return err
	}
	switch r.Kind {
	case Recover1:
		return o.fixed("version", r.Version[:])
	case Recover2:
		r.Recover2, err = readRecover2OK(o)
	case Recover3:
		r.Recover3, err = readRecover3OK(o)
	}
	return err
}

func readRecover2OK(o *object) (*Recover2OK, error) {
	q := &Recover2OK{}
	ko, err := o.object("oprf_signed_public_key")
	if err != nil {
		return nil, err
	}
	if q.OprfSignedPublicKey, err = readSignedKey(ko); err != nil {
		return nil, err
	}
	if err := o.point("oprf_blinded_result", &q.OprfBlindedResult); err != nil {
		return nil, err
	}
	po, err := o.object("oprf_proof")
	if err != nil {
		return nil, err
	}
	if err := po.canonicalScalar("c", &q.OprfProof.C); err != nil {
		return nil, err
	}
	if err := po.canonicalScalar("beta_z", &q.OprfProof.BetaZ); err != nil {
		return nil, err
	}
	if err := o.fixed("unlock_key_commitment", q.UnlockKeyCommitment[:]); err != nil {
		return nil, err
	}
	n, err := o.uint("num_guesses", 0xffff)
	if err != nil {
		return nil, err
	}
	c, err := o.uint("guess_count", 0xffff)
	if err != nil {
		return nil, err
	}
	q.NumGuesses, q.GuessCount = uint16(n), uint16(c)
	return q, nil
}

func readRecover3OK(o *object) (*Recover3OK, error) {
	q := &Recover3OK{}
	if err := o.canonicalScalar("encryption_key_scalar_share", &q.EncryptionKeyScalarShare); err != nil {
		return nil, err
	}
	if err := o.fixed("encrypted_secret", q.EncryptedSecret[:]); err != nil {
		return nil, err
	}
	if err := o.fixed("encrypted_secret_commitment", q.EncryptedSecretCommitment[:]); err != nil {
		return nil, err
	}
	return q, nil
}

type paddedWire struct {
	UnpaddedLength uint16 `cbor:"unpadded_length"`
	PaddedBytes    []byte `cbor:"padded_bytes"`
}

// MarshalPadded encodes the response padded to PaddedResponseSize, as
// hardware realms send it inside the Noise channel (so its length does
// not reveal the outcome).
func (r *SecretsResponse) MarshalPadded() ([]byte, error) {
	b, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	if len(b) > PaddedResponseSize {
		return nil, fmt.Errorf("juicebox/proto: response of %d bytes exceeds the padded size", len(b))
	}
	padded := make([]byte, PaddedResponseSize)
	copy(padded, b)
	return marshal(paddedWire{uint16(len(b)), padded})
}

// DecodePaddedSecretsResponse parses a padded response. The padding must
// be zeros.
func DecodePaddedSecretsResponse(b []byte) (*SecretsResponse, error) {
	o, err := readObject("PaddedSecretsResponse", b)
	if err != nil {
		return nil, err
	}
	n, err := o.uint("unpadded_length", PaddedResponseSize)
	if err != nil {
		return nil, err
	}
	padded, err := o.bytes("padded_bytes", PaddedResponseSize)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(padded[n:], make([]byte, PaddedResponseSize-int(n))) {
		return nil, decodeErr("PaddedSecretsResponse", "non-zero padding")
	}
	return DecodeSecretsResponse(padded[:n])
}
