package api

import "encoding/json"

// PublicKeyRegistration is the public_key object of AddUserPublicKeyRequest
// (the specification's AddUserPublicKeyPublicKey): the user's identity and
// signing public keys (base64) with their signatures.
type PublicKeyRegistration struct {
	PublicKey                  string `json:"public_key,omitempty"`
	PublicKeyFingerprint       string `json:"public_key_fingerprint,omitempty"`
	IdentityPublicKeySignature string `json:"identity_public_key_signature,omitempty"`
	SigningPublicKey           string `json:"signing_public_key,omitempty"`
	SigningPublicKeySignature  string `json:"signing_public_key_signature,omitempty"`
	RegistrationMethod         string `json:"registration_method,omitempty"`
}

// AddUserPublicKeyRequest is the body of POST /2/users/{id}/public_keys.
// PublicKey and Version are required.
type AddUserPublicKeyRequest struct {
	PublicKey       PublicKeyRegistration `json:"public_key"`
	Version         string                `json:"version"`
	GenerateVersion bool                  `json:"generate_version,omitempty"`
}

// AddUserPublicKeyData is the data of AddUserPublicKeyResponse.
type AddUserPublicKeyData struct {
	PublicKeyVersion string          `json:"public_key_version,omitempty"`
	JuiceboxConfig   json.RawMessage `json:"juicebox_config,omitempty"`
}

// AddUserPublicKeyResponse is the body of POST /2/users/{id}/public_keys.
type AddUserPublicKeyResponse struct {
	Data   *AddUserPublicKeyData `json:"data,omitempty"`
	Errors []Problem             `json:"errors,omitempty"`
}

// PublicKey is a registered public key of a user. UserID is not in the
// specification's PublicKey schema; servers that set it let batch lookups
// attribute keys without relying on order (the emulator sets it).
type PublicKey struct {
	UserID                     string          `json:"user_id,omitempty"`
	PublicKey                  string          `json:"public_key,omitempty"`
	PublicKeyVersion           string          `json:"public_key_version,omitempty"`
	SigningPublicKey           string          `json:"signing_public_key,omitempty"`
	IdentityPublicKeySignature string          `json:"identity_public_key_signature,omitempty"`
	JuiceboxConfig             json.RawMessage `json:"juicebox_config,omitempty"`
}

// GetUsersPublicKeyResponse is the body of GET /2/users/{id}/public_keys.
type GetUsersPublicKeyResponse struct {
	Data   []PublicKey `json:"data,omitempty"`
	Errors []Problem   `json:"errors,omitempty"`
}

// GetUsersPublicKeysResponse is the body of GET /2/users/public_keys?ids=...
type GetUsersPublicKeysResponse struct {
	Data   []PublicKey `json:"data,omitempty"`
	Errors []Problem   `json:"errors,omitempty"`
}
