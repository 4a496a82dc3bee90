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

// TestHeaderFormat: new headers are format 3, which the format-1 check
// (`version != 1`) and the format-2 one (`version != 2 && version != 1`)
// refuse; headers of formats 1 and 2 still open and OpenHeader returns
// their upgrade, which unlocks with the same secret; the version byte is
// authenticated, so it cannot be set back.
func TestHeaderFormat(t *testing.T) {
	raw, s, err := CreateHeader(WithPassphrase([]byte("pw")), WithArgon2Params(testParams))
	mustNil(t, err)
	defer s.Close()
	if raw[len(headerMagic)] != 3 {
		t.Fatalf("new header is format %d", raw[len(headerMagic)])
	}
	if _, up, err := OpenHeader(raw, WithPassphrase([]byte("pw"))); err != nil || up != nil {
		t.Fatalf("current header: upgrade %x, %v", up, err)
	}
	for _, v := range []byte{formatVersion1, formatVersion2} {
		downgraded := bytes.Clone(raw)
		downgraded[len(headerMagic)] = v
		if _, err := UnlockHeader(downgraded, WithPassphrase([]byte("pw"))); !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("version byte set back to %d: %v", v, err)
		}
	}
	future := bytes.Clone(raw)
	future[len(headerMagic)] = 4
	if _, err := UnlockHeader(future, WithPassphrase([]byte("pw"))); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("format 4: %v", err)
	}
	for _, v := range []byte{formatVersion1, formatVersion2} {
		old := olderHeader(t, raw, []byte("pw"), v)
		s1, up, err := OpenHeader(old, WithPassphrase([]byte("pw")))
		mustNil(t, err)
		defer s1.Close()
		if !s1.SameKey(s) || up == nil || up[len(headerMagic)] != formatVersion || len(up) != headerSize {
			t.Fatalf("format-%d header: same key %v, upgrade %x", v, s1.SameKey(s), up)
		}
		s2, up2, err := OpenHeader(up, WithPassphrase([]byte("pw")))
		mustNil(t, err)
		defer s2.Close()
		if !s2.SameKey(s) || up2 != nil || !bytes.Equal(up[:headerPrefixSize], raw[:headerPrefixSize]) {
			t.Fatalf("upgraded format-%d header differs from a format-3 one beyond its nonce", v)
		}
		if _, _, err := OpenHeader(old, WithPassphrase([]byte("wrong"))); !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("format-%d header, wrong passphrase: %v", v, err)
		}
	}
}

// olderHeader re-wraps a passphrase header's key as format v wrote it.
func olderHeader(t *testing.T, raw, pass []byte, v byte) []byte {
	t.Helper()
	h, err := parseHeader(raw)
	mustNil(t, err)
	kek := deriveKEK(pass, h.salt[:], h.params)
	key, ok := h.unwrap(&kek)
	if !ok {
		t.Fatal("unwrap")
	}
	h.version = v
	mustNil(t, h.wrap(&kek, &key, rand.Reader))
	return h.marshal()
}
