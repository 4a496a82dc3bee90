package peer

import "context"

// Account is a handle on one SDK Chat instance inside the harness. The
// instance is created on first use.
type Account struct {
	p    *Peer
	name string
}

// Account returns the handle for the named account.
func (p *Peer) Account(name string) *Account { return &Account{p: p, name: name} }

func (a *Account) call(ctx context.Context, op string, args map[string]any, out any) error {
	if args == nil {
		args = map[string]any{}
	}
	args["account"] = a.name
	return a.p.Call(ctx, op, args, out)
}

// GenerateKeypairs creates new identity and signing keys.
func (a *Account) GenerateKeypairs(ctx context.Context) (*Registration, error) {
	var r Registration
	if err := a.call(ctx, "generateKeypairs", nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ImportKeys loads identity(32)||signing(32) private scalars; version may be empty.
func (a *Account) ImportKeys(ctx context.Context, keys []byte, version string) error {
	args := map[string]any{"keys": keys}
	if version != "" {
		args["version"] = version
	}
	return a.call(ctx, "importKeys", args, nil)
}

// ExportKeys returns identity(32)||signing(32) private scalars.
func (a *Account) ExportKeys(ctx context.Context) ([]byte, error) {
	var r struct {
		Keys []byte `json:"keys"`
	}
	err := a.call(ctx, "exportKeys", nil, &r)
	return r.Keys, err
}

// PublicKeys returns the loaded public keys (raw SEC1, base64).
func (a *Account) PublicKeys(ctx context.Context) (*PublicKeys, error) {
	var r PublicKeys
	if err := a.call(ctx, "getPublicKeys", nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Fingerprint returns getPublicKeyFingerprint.
func (a *Account) Fingerprint(ctx context.Context) (string, error) {
	var s string
	err := a.call(ctx, "getPublicKeyFingerprint", nil, &s)
	return s, err
}

// SetIdentity sets the session user id and signing-key version.
func (a *Account) SetIdentity(ctx context.Context, userID, signingKeyVersion string) error {
	return a.call(ctx, "setIdentity", map[string]any{"userId": userID, "signingKeyVersion": signingKeyVersion}, nil)
}

// VerifyKeyBinding checks identityPublicKeySignature (all inputs base64).
func (a *Account) VerifyKeyBinding(ctx context.Context, identityPub, signingPub, identitySig string) (bool, error) {
	var ok bool
	err := a.call(ctx, "verifyKeyBinding", map[string]any{
		"identityPublicKey": identityPub, "signingPublicKey": signingPub, "identityPublicKeySignature": identitySig,
	}, &ok)
	return ok, err
}

// MatchesRegisteredKey reports whether publicKey (SPKI or SEC1) is the loaded identity key.
func (a *Account) MatchesRegisteredKey(ctx context.Context, publicKey string) (bool, error) {
	var ok bool
	err := a.call(ctx, "matchesRegisteredKey", map[string]any{"publicKey": publicKey}, &ok)
	return ok, err
}

// Sign signs data with the signing key (ECDSA P-256 SHA-256, r||s).
func (a *Account) Sign(ctx context.Context, data []byte) ([]byte, error) {
	var r struct {
		Signature []byte `json:"signature"`
	}
	err := a.call(ctx, "sign", map[string]any{"data": data}, &r)
	return r.Signature, err
}

// Verify checks an r||s signature over data with publicKey (base64).
func (a *Account) Verify(ctx context.Context, publicKey string, sig, data []byte) (bool, error) {
	var ok bool
	err := a.call(ctx, "verify", map[string]any{"publicKey": publicKey, "signature": sig, "data": data}, &ok)
	return ok, err
}

// DecryptConversationKey unwraps an ECIES-wrapped conversation key.
func (a *Account) DecryptConversationKey(ctx context.Context, encryptedKey string) ([]byte, error) {
	var r struct {
		Key []byte `json:"key"`
	}
	err := a.call(ctx, "decryptConversationKey", map[string]any{"encryptedKey": encryptedKey}, &r)
	return r.Key, err
}

func (a *Account) prepare(ctx context.Context, op string, params any) (*PreparedChange, error) {
	var r PreparedChange
	if err := a.call(ctx, op, map[string]any{"params": params}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// PrepareConversationKeyChange mints and wraps a new conversation key.
func (a *Account) PrepareConversationKeyChange(ctx context.Context, p KeyChangeParams) (*PreparedChange, error) {
	return a.prepare(ctx, "prepareConversationKeyChange", p)
}

// PrepareGroupCreate prepares a group create (two action signatures).
func (a *Account) PrepareGroupCreate(ctx context.Context, p GroupCreateParams) (*PreparedChange, error) {
	return a.prepare(ctx, "prepareGroupCreate", p)
}

// PrepareGroupMembersChange prepares a member add (two action signatures).
func (a *Account) PrepareGroupMembersChange(ctx context.Context, p GroupMembersChangeParams) (*PreparedChange, error) {
	return a.prepare(ctx, "prepareGroupMembersChange", p)
}

// PrepareMessageDelete signs a delete action.
func (a *Account) PrepareMessageDelete(ctx context.Context, p MessageDeleteParams) (*ActionSignature, error) {
	var r ActionSignature
	if err := a.call(ctx, "prepareMessageDelete", map[string]any{"params": p}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (a *Account) send(ctx context.Context, op string, params any) (*SendPayload, error) {
	var r SendPayload
	if err := a.call(ctx, op, map[string]any{"params": params}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// EncryptMessage encrypts and signs a text message.
func (a *Account) EncryptMessage(ctx context.Context, p MessageParams) (*SendPayload, error) {
	return a.send(ctx, "encryptMessage", p)
}

// Encrypt seals a metadata string (e.g. a group title) under a conversation key.
func (a *Account) Encrypt(ctx context.Context, plaintext string, key []byte) (string, error) {
	var r struct {
		Ciphertext string `json:"ciphertext"`
	}
	err := a.call(ctx, "encrypt", map[string]any{"plaintext": plaintext, "conversationKey": key}, &r)
	return r.Ciphertext, err
}

// Decrypt opens a metadata ciphertext.
func (a *Account) Decrypt(ctx context.Context, ciphertext string, key []byte) (string, error) {
	var r struct {
		Plaintext string `json:"plaintext"`
	}
	err := a.call(ctx, "decrypt", map[string]any{"ciphertext": ciphertext, "conversationKey": key}, &r)
	return r.Plaintext, err
}

// DecryptEvent decrypts and verifies one base64 MessageEvent. keys maps
// conversation key versions to keys; nil keys or signingKeys fall back to
// the SDK's session stores.
func (a *Account) DecryptEvent(ctx context.Context, event string, keys map[string][]byte, signingKeys []SigningKeyEntry) (*Event, error) {
	args := map[string]any{"event": event}
	if keys != nil {
		args["conversationKeys"] = keys
	}
	if signingKeys != nil {
		args["signingKeys"] = signingKeys
	}
	var e Event
	if err := a.call(ctx, "decryptEvent", args, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// DecryptEvents decrypts a batch, extracting keys from its key changes.
func (a *Account) DecryptEvents(ctx context.Context, events []string, signingKeys []SigningKeyEntry) (*DecryptEventsResult, error) {
	args := map[string]any{"events": events}
	if signingKeys != nil {
		args["signingKeys"] = signingKeys
	}
	var r DecryptEventsResult
	if err := a.call(ctx, "decryptEvents", args, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// EncryptStream encrypts a whole media buffer.
func (a *Account) EncryptStream(ctx context.Context, plaintext, key []byte) ([]byte, error) {
	var r struct {
		Ciphertext []byte `json:"ciphertext"`
	}
	err := a.call(ctx, "encryptStream", map[string]any{"plaintext": plaintext, "conversationKey": key}, &r)
	return r.Ciphertext, err
}

// DecryptStream decrypts a whole media buffer.
func (a *Account) DecryptStream(ctx context.Context, ciphertext, key []byte) ([]byte, error) {
	var r struct {
		Plaintext []byte `json:"plaintext"`
	}
	err := a.call(ctx, "decryptStream", map[string]any{"ciphertext": ciphertext, "conversationKey": key}, &r)
	return r.Plaintext, err
}

// StreamEncrypt drives the incremental encryptor: one push per chunk, then finish.
func (a *Account) StreamEncrypt(ctx context.Context, key []byte, chunks [][]byte) (*StreamResult, error) {
	return a.stream(ctx, "streamEncrypt", key, chunks)
}

// StreamDecrypt drives the incremental decryptor: one push per chunk, then finish.
func (a *Account) StreamDecrypt(ctx context.Context, key []byte, chunks [][]byte) (*StreamResult, error) {
	return a.stream(ctx, "streamDecrypt", key, chunks)
}

func (a *Account) stream(ctx context.Context, op string, key []byte, chunks [][]byte) (*StreamResult, error) {
	if chunks == nil {
		chunks = [][]byte{}
	}
	var r StreamResult
	if err := a.call(ctx, op, map[string]any{"conversationKey": key, "chunks": chunks}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// BuildMessageEvent encodes a server-side MessageEvent envelope (base64),
// the way the X backend wraps client payloads. No SDK is involved.
func (p *Peer) BuildMessageEvent(ctx context.Context, e EnvelopeParams) (string, error) {
	var r struct {
		Event string `json:"event"`
	}
	err := p.Call(ctx, "buildMessageEvent", e, &r)
	return r.Event, err
}
