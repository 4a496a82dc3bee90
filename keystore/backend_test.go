package keystore

import (
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
