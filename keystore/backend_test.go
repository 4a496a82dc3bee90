package keystore

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func TestSealerCloseZeroesKey(t *testing.T) {
	_, s, err := CreateHeader(WithKey(testKey))
	mustNil(t, err)
	if s.key == (SecretKey{}) {
		t.Fatal("new sealer has a zero key")
	}
	s.Close()
	if s.key != (SecretKey{}) {
		t.Fatal("Close left the store key in memory")
	}
}

// TestRewrapHeader: the header is re-wrapped for the new secret only when
// the old one is right and of the header's kind; the store key stays.
func TestRewrapHeader(t *testing.T) {
	raw, s, err := CreateHeader(WithPassphrase([]byte("old")), WithArgon2Params(testParams))
	mustNil(t, err)
	defer s.Close()
	if _, err := RewrapHeader(raw, s, WithPassphrase([]byte("nope")), WithPassphrase([]byte("new"))); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong old passphrase: %v", err)
	}
	if _, err := RewrapHeader(raw, s, WithKey(testKey), WithKey(testKey)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("key for a passphrase header: %v", err)
	}
	nh, err := RewrapHeader(raw, s, WithPassphrase([]byte("old")), WithKey(testKey))
	mustNil(t, err)
	s2, err := UnlockHeader(nh, WithKey(testKey))
	mustNil(t, err)
	defer s2.Close()
	if !s2.SameKey(s) {
		t.Fatal("re-wrapped header unlocks another store key")
	}
	if _, err := UnlockHeader(nh, WithPassphrase([]byte("old"))); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase still opens the re-wrapped header: %v", err)
	}
	_, other, err := CreateHeader(WithKey(testKey))
	mustNil(t, err)
	defer other.Close()
	if _, err := RewrapHeader(nh, other, WithKey(testKey), WithKey(testKey)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("header of another store key: %v", err)
	}
}

// TestHeaderFormat: new headers are format 2, which the format-1 check
// (`version != 1`) refuses; a format-1 header still opens and OpenHeader
// returns its upgrade, which unlocks with the same secret; the version
// byte is authenticated, so it cannot be set back to 1.
func TestHeaderFormat(t *testing.T) {
	raw, s, err := CreateHeader(WithPassphrase([]byte("pw")), WithArgon2Params(testParams))
	mustNil(t, err)
	defer s.Close()
	if raw[len(headerMagic)] != 2 || raw[len(headerMagic)] == formatVersion1 {
		t.Fatalf("new header is format %d", raw[len(headerMagic)])
	}
	if _, up, err := OpenHeader(raw, WithPassphrase([]byte("pw"))); err != nil || up != nil {
		t.Fatalf("current header: upgrade %x, %v", up, err)
	}
	downgraded := bytes.Clone(raw)
	downgraded[len(headerMagic)] = formatVersion1
	if _, err := UnlockHeader(downgraded, WithPassphrase([]byte("pw"))); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("version byte set back to 1: %v", err)
	}
	future := bytes.Clone(raw)
	future[len(headerMagic)] = 3
	if _, err := UnlockHeader(future, WithPassphrase([]byte("pw"))); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("format 3: %v", err)
	}
	v1 := format1Header(t, raw, []byte("pw"))
	s1, up, err := OpenHeader(v1, WithPassphrase([]byte("pw")))
	mustNil(t, err)
	defer s1.Close()
	if !s1.SameKey(s) || up == nil || up[len(headerMagic)] != formatVersion || len(up) != headerSize {
		t.Fatalf("format-1 header: same key %v, upgrade %x", s1.SameKey(s), up)
	}
	s2, up2, err := OpenHeader(up, WithPassphrase([]byte("pw")))
	mustNil(t, err)
	defer s2.Close()
	if !s2.SameKey(s) || up2 != nil || !bytes.Equal(up[:headerPrefixSize], raw[:headerPrefixSize]) {
		t.Fatal("upgraded header differs from a format-2 one beyond its nonce")
	}
	if _, _, err := OpenHeader(v1, WithPassphrase([]byte("wrong"))); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("format-1 header, wrong passphrase: %v", err)
	}
}

// format1Header re-wraps a passphrase header's key as format 1 wrote it.
func format1Header(t *testing.T, raw, pass []byte) []byte {
	t.Helper()
	h, err := parseHeader(raw)
	mustNil(t, err)
	kek := deriveKEK(pass, h.salt[:], h.params)
	key, ok := h.unwrap(&kek)
	if !ok {
		t.Fatal("unwrap")
	}
	h.version = formatVersion1
	mustNil(t, h.wrap(&kek, &key, rand.Reader))
	return h.marshal()
}
