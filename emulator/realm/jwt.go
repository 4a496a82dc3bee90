package realm

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Auth tokens are JWTs as the Juicebox whitepaper (§ Authentication) and the
// SDK's realm/auth crate describe them: header kid "tenant:version", claims
// iss = tenant, sub = the user, aud = the realm id in hex, scope "user",
// nbf/exp at most a day apart. Only HS256 is implemented here (RS256 and
// EdDSA are allowed by Juicebox but not needed by the emulator).

const (
	// TokenLifetime is how long issued tokens are valid (the SDK's ten
	// minutes).
	TokenLifetime = 10 * time.Minute
	// maxTokenLength is the realm validator's limit.
	maxTokenLength = 1000
	// maxLifetime is the longest nbf..exp span accepted.
	maxLifetime = 24 * time.Hour
	// clockTolerance absorbs clock skew.
	clockTolerance = 5 * time.Second
)

// errBadToken is every token rejection (the reason stays in the realm).
var errBadToken = errors.New("realm: invalid auth token")

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid"`
}

type jwtClaims struct {
	Iat   int64  `json:"iat"`
	Nbf   int64  `json:"nbf"`
	Exp   int64  `json:"exp"`
	Iss   string `json:"iss"`
	Sub   string `json:"sub"`
	Aud   string `json:"aud"`
	Scope string `json:"scope,omitempty"`
}

var b64 = base64.RawURLEncoding

// issueToken signs a token for subject on the realm audience.
func issueToken(key []byte, tenant string, keyVersion uint64, subject, audience string, now time.Time) string {
	h, _ := json.Marshal(jwtHeader{Alg: "HS256", Typ: "JWT", Kid: fmt.Sprintf("%s:%d", tenant, keyVersion)})
	c, _ := json.Marshal(jwtClaims{Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(TokenLifetime).Unix(),
		Iss: tenant, Sub: subject, Aud: audience, Scope: "user"})
	signing := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return signing + "." + b64.EncodeToString(m.Sum(nil))
}

// validateToken checks a token against the realm's tenant key and returns
// the tenant and subject.
func validateToken(token string, keys map[string][]byte, audience string, now time.Time) (tenant, subject string, err error) {
	if len(token) == 0 || len(token) > maxTokenLength {
		return "", "", errBadToken
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", "", errBadToken
	}
	var h jwtHeader
	if err := decodeSegment(parts[0], &h); err != nil || h.Alg != "HS256" {
		return "", "", errBadToken
	}
	tenant, version, ok := strings.Cut(h.Kid, ":")
	if !ok || !alphanumeric(tenant) {
		return "", "", errBadToken
	}
	if _, err := strconv.ParseUint(version, 10, 64); err != nil {
		return "", "", errBadToken
	}
	key, ok := keys[h.Kid]
	if !ok {
		return "", "", errBadToken
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return "", "", errBadToken
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return "", "", errBadToken
	}
	var c jwtClaims
	if err := decodeSegment(parts[1], &c); err != nil {
		return "", "", errBadToken
	}
	t := now.Unix()
	tol := int64(clockTolerance / time.Second)
	switch {
	case c.Iss != tenant, c.Sub == "", c.Aud != audience, c.Scope != "user":
		return "", "", errBadToken
	case c.Exp == 0 || c.Exp+tol < t, c.Nbf-tol > t:
		return "", "", errBadToken
	case c.Exp-c.Nbf > int64(maxLifetime/time.Second):
		return "", "", errBadToken
	}
	return tenant, c.Sub, nil
}

func decodeSegment(s string, v any) error {
	raw, err := b64.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

func alphanumeric(s string) bool {
	s = strings.TrimPrefix(s, "test-")
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
