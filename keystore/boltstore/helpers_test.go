package boltstore

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/xchat-go/xchat/keystore"
)

func openTestDB(t testing.TB, path string, opts ...keystore.Option) *DB {
	t.Helper()
	if len(opts) == 0 {
		opts = []keystore.Option{keystore.WithPassphrase([]byte("correct horse")), keystore.WithArgon2Params(testParams)}
	}
	db, err := Open(path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func tempDB(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "account.db")
	db := openTestDB(t, path)
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

// testParams are the cheapest Argon2id parameters, so tests stay fast.
var testParams = keystore.Argon2Params{Time: 1, MemoryKiB: 8, Threads: 1}

var testKey = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

func seqBlob(seed byte) []byte {
	b := make([]byte, keystore.BackupSize)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

func keyOf(seed byte) keystore.SecretKey {
	var k keystore.SecretKey
	for i := range k {
		k[i] = seed ^ byte(i*7+1)
	}
	return k
}

var t0 = time.Date(2026, 11, 22, 3, 0, 0, 123456789, time.UTC)

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func bg() context.Context { return context.Background() }

func containsAny(hay string, needles ...[]byte) bool {
	for _, n := range needles {
		if len(n) > 0 && bytes.Contains([]byte(hay), n) {
			return true
		}
	}
	return false
}

func ev(seq, msg string) keystore.StoredEvent {
	return keystore.StoredEvent{SequenceID: seq, MessageID: msg, SenderID: "1", Type: "message", Body: []byte("body " + seq),
		Verified: true, Raw: []byte("raw " + seq), CreatedAt: t0}
}

// The record layout's names, as the file holds them (for tests that alter
// the file directly).
var (
	bucketAccount  = []byte("account")
	bucketConvKeys = []byte("convkeys")
	keyIdentity    = []byte("identity")
)

// versionKey is a version's key in the file: its length, then its digits.
func versionKey(v string) []byte { return append([]byte{byte(len(v))}, v...) }
