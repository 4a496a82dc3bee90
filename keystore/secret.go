package keystore

import (
	"crypto/subtle"
	"fmt"
)

const redacted = "[REDACTED]"

// SecretBytes is secret byte material (key blobs, decrypted bodies). It is a
// plain []byte for every purpose except formatting: String, GoString and
// Format print a redaction marker instead of the contents.
type SecretBytes []byte

// String returns a redaction marker.
func (s SecretBytes) String() string {
	if s == nil {
		return "SecretBytes(nil)"
	}
	return fmt.Sprintf("SecretBytes(%s, %d bytes)", redacted, len(s))
}

// GoString returns a redaction marker.
func (s SecretBytes) GoString() string { return s.String() }

// Format prints a redaction marker for every verb.
func (s SecretBytes) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// Equal reports, in constant time, whether s and t hold the same bytes.
func (s SecretBytes) Equal(t []byte) bool {
	return len(s) == len(t) && subtle.ConstantTimeCompare(s, t) == 1
}

// Zero overwrites the bytes with zeros.
func (s SecretBytes) Zero() { clear(s) }

// SecretKey is a 32-byte symmetric key. It is a plain [32]byte for every
// purpose except formatting: String, GoString and Format print a redaction
// marker instead of the key.
type SecretKey [32]byte

// String returns a redaction marker.
func (k SecretKey) String() string { return "SecretKey(" + redacted + ")" }

// GoString returns a redaction marker.
func (k SecretKey) GoString() string { return k.String() }

// Format prints a redaction marker for every verb.
func (k SecretKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// Equal reports, in constant time, whether k and o are the same key.
func (k *SecretKey) Equal(o *SecretKey) bool {
	return subtle.ConstantTimeCompare(k[:], o[:]) == 1
}

// Zero overwrites the key with zeros.
func (k *SecretKey) Zero() { clear(k[:]) }

// String describes the token with its secrets redacted.
func (t Token) String() string {
	return fmt.Sprintf("Token{AccessToken:%s RefreshToken:%s TokenType:%q Expiry:%s Scopes:%q}",
		redactString(t.AccessToken), redactString(t.RefreshToken), t.TokenType,
		t.Expiry.Format("2006-01-02T15:04:05Z07:00"), t.Scopes)
}

// GoString describes the token with its secrets redacted.
func (t Token) GoString() string { return "keystore." + t.String() }

// Format prints the token with its secrets redacted for every verb.
func (t Token) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(t.GoString()))
		return
	}
	_, _ = f.Write([]byte(t.String()))
}

func redactString(s string) string {
	if s == "" {
		return `""`
	}
	return redacted
}
