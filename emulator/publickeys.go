package emulator

import (
	"net/http"
	"slices"
	"strings"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/b64"
	"github.com/xchat-go/xchat/internal/decimal"
)

// parsePublicKeyB64 decodes and validates a base64 P-256 public key (SPKI
// or uncompressed SEC1).
func parsePublicKeyB64(s string) (*crypto.PublicKey, []byte, bool) {
	raw, ok := b64.DecodeAny(s)
	if !ok || len(raw) > 256 {
		return nil, nil, false
	}
	pk, err := crypto.ParsePublicKey(raw)
	if err != nil {
		return nil, nil, false
	}
	return pk, raw, true
}

// addUserPublicKey registers a user's identity and signing public keys.
//
// Only the account itself may register keys. The binding signatures are
// verified with crypto.VerifyKeyBinding (identity_public_key_signature,
// required) and crypto.VerifySigningKeyBinding
// (signing_public_key_signature, checked when present); a supplied
// public_key_fingerprint must equal SHA-256 of the identity SPKI.
// Versions: with generate_version the server mints a millisecond timestamp
// (strictly above the user's latest version); otherwise version must be a
// decimal string above the latest one. Re-posting an already registered
// key pair answers its existing version (idempotent). The answer carries
// the account's juicebox_config (see juicebox.go).
func (s *Server) addUserPublicKey(c *call) *apiError {
	id := c.r.PathValue("id")
	if !isID(id) {
		return errInvalid("id", "The user id must be a decimal id.")
	}
	if id != c.user.ID {
		return errForbidden("user", id, "You may only register public keys for the authenticated user.")
	}
	var req api.AddUserPublicKeyRequest
	if perr := decodeJSON(c.body, &req, false); perr != nil {
		return perr
	}
	pk := req.PublicKey
	identity, identityRaw, ok := parsePublicKeyB64(pk.PublicKey)
	if !ok {
		return errInvalid("public_key.public_key", "The identity public key must be a base64 P-256 public key (SPKI).")
	}
	signing, signingRaw, ok := parsePublicKeyB64(pk.SigningPublicKey)
	if !ok {
		return errInvalid("public_key.signing_public_key", "The signing public key must be a base64 P-256 public key (SPKI).")
	}
	if identity.Equal(signing) {
		return errInvalid("public_key.signing_public_key", "The signing key must differ from the identity key.")
	}
	idSig, ok := b64.DecodeAny(pk.IdentityPublicKeySignature)
	if !ok {
		return errInvalid("public_key.identity_public_key_signature", "identity_public_key_signature is required (base64 raw r||s).")
	}
	if err := crypto.VerifyKeyBinding(identityRaw, signing, idSig); err != nil {
		return errInvalid("public_key.identity_public_key_signature", "identity_public_key_signature does not verify with the signing key.")
	}
	if pk.SigningPublicKeySignature != "" {
		sgSig, ok := b64.DecodeAny(pk.SigningPublicKeySignature)
		if !ok {
			return errInvalid("public_key.signing_public_key_signature", "signing_public_key_signature must be base64.")
		}
		if err := crypto.VerifySigningKeyBinding(signingRaw, identity, sgSig); err != nil {
			return errInvalid("public_key.signing_public_key_signature", "signing_public_key_signature does not verify with the identity key.")
		}
	}
	if pk.PublicKeyFingerprint != "" && pk.PublicKeyFingerprint != crypto.FingerprintString(identity) {
		return errInvalid("public_key.public_key_fingerprint", "public_key_fingerprint is not SHA-256 of the identity key.")
	}
	if len(pk.RegistrationMethod) > 64 {
		return errInvalid("public_key.registration_method", "registration_method is too long.")
	}
	if !req.GenerateVersion && !isVersion(req.Version) {
		return errInvalid("version", "version must be a decimal string (or set generate_version).")
	}
	// Idempotent re-registration of the same key pair.
	for _, k := range s.st.keys[id] {
		if k.PublicKey == pk.PublicKey && k.SigningPublicKey == pk.SigningPublicKey {
			writeJSON(c.w, http.StatusOK, api.AddUserPublicKeyResponse{Data: &api.AddUserPublicKeyData{PublicKeyVersion: k.Version, JuiceboxConfig: s.juiceboxConfig(c, id, nil)}})
			return nil
		}
	}
	latest := s.st.latestKey(id)
	version := req.Version
	if req.GenerateVersion {
		v := uint64(s.nowMsec())
		if latest != nil {
			if lv, ok := parseID(latest.Version); ok && lv >= v {
				v = lv + 1
			}
		}
		version = fmtID(v)
	} else if latest != nil && decimal.Compare(version, latest.Version) <= 0 {
		return errInvalid("version", "version must be greater than the latest registered version %s.", latest.Version)
	}
	method := pk.RegistrationMethod
	if method == "" {
		method = crypto.RegistrationMethod
	}
	rec := &publicKeyRec{
		UserID: id, Version: version, PublicKey: pk.PublicKey, SigningPublicKey: pk.SigningPublicKey,
		IdentityPublicKeySignature: pk.IdentityPublicKeySignature, SigningPublicKeySignature: pk.SigningPublicKeySignature,
		Fingerprint: crypto.FingerprintString(identity), RegistrationMethod: method, CreatedAt: s.cfg.clock().UTC(),
	}
	var b batch
	b.publicKey(rec)
	if err := s.commit(&b); err != nil {
		return errInternal()
	}
	s.st.keys[id] = append(s.st.keys[id], rec)
	writeJSON(c.w, http.StatusOK, api.AddUserPublicKeyResponse{Data: &api.AddUserPublicKeyData{PublicKeyVersion: version, JuiceboxConfig: s.juiceboxConfig(c, id, nil)}})
	return nil
}

// parseFields validates a comma-separated fields parameter against the
// allowed values. It returns nil when the parameter is absent.
func parseFields(c *call, name string, allowed []string) ([]string, *apiError) {
	raw, present := c.r.URL.Query()[name]
	if !present {
		return nil, nil
	}
	var out []string
	for _, part := range raw {
		for f := range strings.SplitSeq(part, ",") {
			if !slices.Contains(allowed, f) {
				return nil, errInvalid(name, "The %s query parameter value [%s] is not one of [%s].", name, clip(f), strings.Join(allowed, ","))
			}
			out = append(out, f)
		}
	}
	return out, nil
}

func (s *Server) publicKeyJSON(k *publicKeyRec, fields []string) api.PublicKey {
	var out api.PublicKey
	if s.cfg.keyUserIDs {
		out.UserID = k.UserID
	}
	want := func(f string) bool { return fields == nil || slices.Contains(fields, f) }
	if want("public_key") {
		out.PublicKey = k.PublicKey
	}
	if want("public_key_version") {
		out.PublicKeyVersion = k.Version
	}
	if want("signing_public_key") {
		out.SigningPublicKey = k.SigningPublicKey
	}
	if want("identity_public_key_signature") {
		out.IdentityPublicKeySignature = k.IdentityPublicKeySignature
	}
	return out
}

// userKeysJSON lists every registered version of a user, newest first (the
// XDK needs old signing keys to verify old events).
func (s *Server) userKeysJSON(user string, fields []string) []api.PublicKey {
	ks := s.st.keys[user]
	out := make([]api.PublicKey, 0, len(ks))
	for i := len(ks) - 1; i >= 0; i-- {
		out = append(out, s.publicKeyJSON(ks[i], fields))
	}
	return out
}

// getUsersPublicKey lists one user's registered keys.
func (s *Server) getUsersPublicKey(c *call) *apiError {
	id := c.r.PathValue("id")
	if !isID(id) {
		return errInvalid("id", "The user id must be a decimal id.")
	}
	fields, perr := parseFields(c, "public_key.fields", api.PublicKeyFields)
	if perr != nil {
		return perr
	}
	if s.st.users[id] == nil {
		return errNotFound("user", id)
	}
	data := s.userKeysJSON(id, fields)
	s.attachJuiceboxConfig(c, data, id, fields)
	writeJSON(c.w, http.StatusOK, api.GetUsersPublicKeyResponse{Data: data})
	return nil
}

// getUsersPublicKeys is the batch lookup: keys of every known user, in the
// order of ids; unknown users are reported in "errors" (partial success,
// as X does for batch lookups). Keys carry user_id only with
// WithPublicKeyUserIDs: the specification's PublicKey has none, so by
// default a batch answer does not say whose keys are whose (the api
// package's GetPublicKeysByUser attributes them without it).
func (s *Server) getUsersPublicKeys(c *call) *apiError {
	q := c.r.URL.Query()
	raw := strings.Join(q["ids"], ",")
	if raw == "" {
		return errInvalid("ids", "The ids query parameter is required.")
	}
	ids := strings.Split(raw, ",")
	if len(ids) > api.PublicKeysMaxIDs {
		return errInvalid("ids", "At most %d ids may be requested.", api.PublicKeysMaxIDs)
	}
	for _, id := range ids {
		if !isID(id) {
			return errInvalid("ids", "The ids query parameter value [%s] is not a decimal id.", clip(id))
		}
	}
	fields, perr := parseFields(c, "public_key.fields", api.PublicKeyFields)
	if perr != nil {
		return perr
	}
	var resp api.GetUsersPublicKeysResponse
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if s.st.users[id] == nil {
			resp.Errors = append(resp.Errors, errNotFound("user", id).problem)
			continue
		}
		keys := s.userKeysJSON(id, fields)
		s.attachJuiceboxConfig(c, keys, id, fields)
		resp.Data = append(resp.Data, keys...)
	}
	writeJSON(c.w, http.StatusOK, resp)
	return nil
}
