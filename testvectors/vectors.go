package testvectors

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Seed is the fixed seed of the deterministic byte source all vectors are
// drawn from. Changing it changes every random-looking value in xchat.json.
const Seed = "xchat-go/testvectors v1"

// Case kinds: the primitive or structure a case exercises.
const (
	KindKeys         = "keys"
	KindECIES        = "ecies"
	KindSecretbox    = "secretbox"
	KindSecretstream = "secretstream"
	KindSignature    = "signature"
	KindPayload      = "payload"
	KindRegistration = "registration"
	KindHKDF         = "hkdf"
	KindEvent        = "event"
)

// Expected outcomes. ExpectSuccess means the operation succeeds with the
// listed outputs; every other value names the failure class (the error the
// implementation must return; see the package tests for the mapping to
// sentinel errors).
const (
	ExpectSuccess                = "success"
	ExpectInvalidPrivateKey      = "invalid private key"
	ExpectInvalidPublicKey       = "invalid public key"
	ExpectInvalidBackup          = "invalid backup"
	ExpectDecryptionFailed       = "decryption failed"
	ExpectInvalidConversationKey = "invalid conversation key"
	ExpectInvalidSignature       = "invalid signature"
	ExpectUnsupportedVersion     = "unsupported signature version"
	ExpectInvalidPayload         = "invalid payload"
	ExpectInvalidLength          = "invalid length"
	ExpectInvalidKey             = "invalid key"
	ExpectTruncatedStream        = "truncated stream"
	ExpectDataAfterFinal         = "data after final"
	ExpectMalformedEvent         = "malformed event"
	ExpectUnknownSigningKey      = "unknown signing key"
	ExpectMissingSignature       = "missing signature"
)

// File is the top-level object of xchat.json.
type File struct {
	// Comment describes the file for human readers.
	Comment []string `json:"comment"`
	// Seed is the seed the file was generated from.
	Seed string `json:"seed"`
	// Cases are the vectors, in generation order.
	Cases []Case `json:"cases"`
}

// Case is one test vector, in the style of age's CCTV vectors: a name, the
// primitive it exercises, the operation, the expected outcome, and named
// inputs and outputs.
//
// Binary values are hex in fields ending in _hex and standard base64 in
// fields ending in _b64 (padded unless the field name says _b64nopad);
// _utf8 fields are text. Lists are JSON arrays of strings. An absent
// optional input is an absent field.
type Case struct {
	// Name identifies the case; names are unique within a file.
	Name string `json:"name"`
	// Kind is the primitive: one of the Kind constants.
	Kind string `json:"kind"`
	// Op is the operation within the kind (e.g. "decrypt", "verify").
	Op string `json:"op"`
	// Expect is ExpectSuccess or a failure class.
	Expect string `json:"expect"`
	// Note explains a case whose outcome is surprising or differs from the
	// official SDK.
	Note string `json:"note,omitempty"`
	// Inputs are the operation's inputs.
	Inputs map[string]any `json:"inputs"`
	// Outputs are the expected results of a successful operation.
	Outputs map[string]any `json:"outputs,omitempty"`
}

// Marshal renders f as xchat.json: indented JSON with sorted input and
// output keys and a final newline, so equal files are equal bytes.
func Marshal(f *File) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("testvectors: encoding: %w", err)
	}
	return buf.Bytes(), nil
}

// Unmarshal parses xchat.json, rejecting unknown fields.
func Unmarshal(b []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("testvectors: decoding: %w", err)
	}
	seen := make(map[string]bool, len(f.Cases))
	for _, c := range f.Cases {
		if seen[c.Name] {
			return nil, fmt.Errorf("testvectors: duplicate case name %q", c.Name)
		}
		seen[c.Name] = true
	}
	return &f, nil
}
