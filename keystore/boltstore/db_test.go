package boltstore

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/keystore"
	bolt "go.etcd.io/bbolt"
)

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	mustNil(t, err)
	return sha256.Sum256(b)
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "account.db")
	db := openTestDB(t, path)
	mustNil(t, db.SetIdentity(bg(), &keystore.Identity{UserID: "1", Backup: seqBlob(1), PublicKeyVersion: "5"}))
	mustNil(t, db.PutConversationKey(bg(), keystore.ConversationKey{ConversationID: "c", Version: "3", Key: keyOf(3)}))
	mustNil(t, db.Close())

	db = openTestDB(t, path)
	defer db.Close()
	id, err := db.Identity(bg())
	mustNil(t, err)
	if !id.Backup.Equal(seqBlob(1)) || id.PublicKeyVersion != "5" {
		t.Fatalf("identity after reopen: %+v", id)
	}
	k, err := db.LatestConversationKey(bg(), "c")
	mustNil(t, err)
	if k.Key != keyOf(3) {
		t.Fatal("conversation key changed across reopen")
	}
	st, err := os.Stat(path)
	mustNil(t, err)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, want 0600", st.Mode().Perm())
	}
}

func TestWrongPassphraseChangesNothing(t *testing.T) {
	db, path := tempDB(t)
	mustNil(t, db.SetValue(bg(), "v", []byte("x")))
	mustNil(t, db.Close())
	before := fileHash(t, path)
	_, err := Open(path, keystore.WithPassphrase([]byte("wrong horse")), keystore.WithArgon2Params(testParams))
	if !errors.Is(err, keystore.ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: err = %v", err)
	}
	_, err = Open(path, keystore.WithKey(testKey))
	if !errors.Is(err, keystore.ErrWrongKey) {
		t.Fatalf("key on a passphrase store: err = %v", err)
	}
	if fileHash(t, path) != before {
		t.Fatal("failed opens modified the file")
	}
	// The lock was released by the failed opens.
	db = openTestDB(t, path)
	defer db.Close()
	if v, err := db.Value(bg(), "v"); err != nil || string(v) != "x" {
		t.Fatalf("value after failed opens: %q %v", v, err)
	}
}

func TestKeyProtectedStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	db := openTestDB(t, path, keystore.WithKey(testKey))
	mustNil(t, db.SetValue(bg(), "v", []byte("x")))
	mustNil(t, db.Close())
	other := testKey
	other[31] ^= 1
	if _, err := Open(path, keystore.WithKey(other)); !errors.Is(err, keystore.ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := Open(path, keystore.WithPassphrase([]byte("correct horse"))); !errors.Is(err, keystore.ErrWrongPassphrase) {
		t.Fatalf("passphrase on a key store: %v", err)
	}
	db = openTestDB(t, path, keystore.WithKey(testKey))
	if err := db.ChangePassphrase([]byte("a"), []byte("b")); !errors.Is(err, keystore.ErrInvalid) {
		t.Fatalf("ChangePassphrase on a key store: %v", err)
	}
	if err := db.ChangeKey(other, testKey); !errors.Is(err, keystore.ErrWrongKey) {
		t.Fatalf("ChangeKey with a wrong old key: %v", err)
	}
	mustNil(t, db.ChangeKey(testKey, other))
	mustNil(t, db.Close())
	if _, err := Open(path, keystore.WithKey(testKey)); !errors.Is(err, keystore.ErrWrongKey) {
		t.Fatalf("old key after ChangeKey: %v", err)
	}
	db = openTestDB(t, path, keystore.WithKey(other))
	defer db.Close()
	if v, err := db.Value(bg(), "v"); err != nil || string(v) != "x" {
		t.Fatalf("value after ChangeKey: %q %v", v, err)
	}
}

func TestOpenOptionErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	for name, opts := range map[string][]keystore.Option{
		"none":       nil,
		"both":       {keystore.WithKey(testKey), keystore.WithPassphrase([]byte("p"))},
		"bad params": {keystore.WithPassphrase([]byte("p")), keystore.WithArgon2Params(keystore.Argon2Params{Time: 0, MemoryKiB: 8, Threads: 1})},
		// Refused even where they would not be used, rather than dropped.
		"bad params with a key": {keystore.WithKey(testKey), keystore.WithArgon2Params(keystore.Argon2Params{Time: 1, MemoryKiB: 1, Threads: 1})},
		"zero lock timeout":     {keystore.WithKey(testKey), keystore.WithLockTimeout(0)},
		"negative lock timeout": {keystore.WithKey(testKey), keystore.WithLockTimeout(-time.Second)},
		"nil option":            {keystore.WithKey(testKey), nil},
	} {
		if _, err := Open(path, opts...); !errors.Is(err, keystore.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("invalid options created the file: %v", err)
	}
}

// rawRecords returns a copy of every key/value below the top-level buckets
// except meta, keyed by their path.
func rawRecords(t *testing.T, path string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	mustNil(t, err)
	defer b.Close()
	var walk func(prefix string, bk *bolt.Bucket) error
	walk = func(prefix string, bk *bolt.Bucket) error {
		return bk.ForEach(func(k, v []byte) error {
			p := prefix + "/" + string(k)
			if v == nil {
				return walk(p, bk.Bucket(k))
			}
			out[p] = bytes.Clone(v)
			return nil
		})
	}
	mustNil(t, b.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error { return walk(string(name), bk) })
	}))
	return out
}

func TestChangePassphrase(t *testing.T) {
	db, path := tempDB(t)
	mustNil(t, db.SetIdentity(bg(), &keystore.Identity{UserID: "1", Backup: seqBlob(9)}))
	mustNil(t, db.PutEvents(bg(), "c", []keystore.StoredEvent{ev("1", "m1"), ev("2", "m2")}))
	mustNil(t, db.Close())
	before := rawRecords(t, path)

	db = openTestDB(t, path)
	if err := db.ChangePassphrase([]byte("not it"), []byte("new")); !errors.Is(err, keystore.ErrWrongPassphrase) {
		t.Fatalf("wrong old passphrase: %v", err)
	}
	mustNil(t, db.ChangePassphrase([]byte("correct horse"), []byte("battery staple")))
	// The open handle keeps working.
	if _, err := db.Identity(bg()); err != nil {
		t.Fatal(err)
	}
	mustNil(t, db.Close())

	after := rawRecords(t, path)
	for k, v := range before {
		if k == "meta/header" {
			if bytes.Equal(after[k], v) {
				t.Error("header not rewritten")
			}
			continue
		}
		if !bytes.Equal(after[k], v) {
			t.Errorf("record %s changed; only the header may", k)
		}
	}
	if len(after) != len(before) {
		t.Errorf("record count %d -> %d", len(before), len(after))
	}

	if _, err := Open(path, keystore.WithPassphrase([]byte("correct horse"))); !errors.Is(err, keystore.ErrWrongPassphrase) {
		t.Fatalf("old passphrase still opens: %v", err)
	}
	db = openTestDB(t, path, keystore.WithPassphrase([]byte("battery staple")))
	defer db.Close()
	id, err := db.Identity(bg())
	mustNil(t, err)
	evs, err := db.Events(bg(), "c", "", 0)
	mustNil(t, err)
	if !id.Backup.Equal(seqBlob(9)) || len(evs) != 2 {
		t.Fatal("data lost across passphrase change")
	}
}

// mutateRaw applies fn to the raw bbolt file, bypassing the keystore.
func mutateRaw(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	mustNil(t, err)
	defer b.Close()
	mustNil(t, b.Update(fn))
}

func TestTamperDetected(t *testing.T) {
	setup := func(t *testing.T) string {
		db, path := tempDB(t)
		mustNil(t, db.SetIdentity(bg(), &keystore.Identity{UserID: "1", Backup: seqBlob(9)}))
		mustNil(t, db.PutConversationKey(bg(), keystore.ConversationKey{ConversationID: "a", Version: "1", Key: keyOf(1)}))
		mustNil(t, db.PutConversationKey(bg(), keystore.ConversationKey{ConversationID: "b", Version: "1", Key: keyOf(2)}))
		mustNil(t, db.PutEvents(bg(), "a", []keystore.StoredEvent{ev("1", "m1"), ev("2", "m2")}))
		mustNil(t, db.Close())
		return path
	}
	reopen := func(t *testing.T, path string) *DB {
		db := openTestDB(t, path)
		t.Cleanup(func() { _ = db.Close() })
		return db
	}

	t.Run("flipped byte in identity", func(t *testing.T) {
		path := setup(t)
		mutateRaw(t, path, func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAccount)
			v := bytes.Clone(b.Get(keyIdentity))
			v[len(v)-5] ^= 0x01
			return b.Put(keyIdentity, v)
		})
		_, err := reopen(t, path).Identity(bg())
		if !errors.Is(err, keystore.ErrCorrupt) || !strings.Contains(err.Error(), "authentication failed") {
			t.Fatalf("err = %v, want keystore.ErrCorrupt (authentication failed)", err)
		}
	})
	t.Run("conversation key swapped between conversations", func(t *testing.T) {
		path := setup(t)
		mutateRaw(t, path, func(tx *bolt.Tx) error {
			ck := tx.Bucket(bucketConvKeys)
			va := bytes.Clone(ck.Bucket([]byte("a")).Get(versionKey("1")))
			return ck.Bucket([]byte("b")).Put(versionKey("1"), va)
		})
		db := reopen(t, path)
		if _, err := db.ConversationKey(bg(), "b", "1"); !errors.Is(err, keystore.ErrCorrupt) {
			t.Fatalf("swapped key: err = %v, want ErrCorrupt", err)
		}
		if _, err := db.ConversationKey(bg(), "a", "1"); err != nil {
			t.Fatalf("untouched key: %v", err)
		}
	})
	t.Run("event moved to another sequence id", func(t *testing.T) {
		path := setup(t)
		mutateRaw(t, path, func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketEvents).Bucket([]byte("a"))
			return b.Put(versionKey("2"), bytes.Clone(b.Get(versionKey("1"))))
		})
		// The moved record fails alone; the intact one is still returned.
		evs, err := reopen(t, path).Events(bg(), "a", "", 0)
		if err != nil || len(evs) != 2 || evs[0].MessageID != "m1" || evs[0].Type == keystore.DamagedType ||
			evs[1].SequenceID != "2" || evs[1].Type != keystore.DamagedType || evs[1].Verified || !strings.Contains(evs[1].Error, "authentication failed") {
			t.Fatalf("moved event: %+v, %v", evs, err)
		}
	})
	t.Run("unknown record version", func(t *testing.T) {
		path := setup(t)
		mutateRaw(t, path, func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAccount)
			v := bytes.Clone(b.Get(keyIdentity))
			v[0] = 2
			return b.Put(keyIdentity, v)
		})
		if _, err := reopen(t, path).Identity(bg()); !errors.Is(err, keystore.ErrUnsupportedVersion) {
			t.Fatalf("err = %v, want ErrUnsupportedVersion", err)
		}
	})
	t.Run("header parameters altered", func(t *testing.T) {
		path := setup(t)
		mutateRaw(t, path, func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketMeta)
			v := bytes.Clone(b.Get(keyHeader))
			v[9]++ // argon2 time, low byte
			return b.Put(keyHeader, v)
		})
		_, err := Open(path, keystore.WithPassphrase([]byte("correct horse")))
		if !errors.Is(err, keystore.ErrWrongPassphrase) {
			t.Fatalf("err = %v, want ErrWrongPassphrase", err)
		}
	})
	t.Run("unknown format version", func(t *testing.T) {
		path := setup(t)
		mutateRaw(t, path, func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketMeta)
			v := bytes.Clone(b.Get(keyHeader))
			v[4] = 9
			return b.Put(keyHeader, v)
		})
		_, err := Open(path, keystore.WithPassphrase([]byte("correct horse")))
		if !errors.Is(err, keystore.ErrUnsupportedVersion) {
			t.Fatalf("err = %v, want ErrUnsupportedVersion", err)
		}
	})
}

func TestLocked(t *testing.T) {
	db, path := tempDB(t)
	_ = db
	start := time.Now()
	_, err := Open(path, keystore.WithPassphrase([]byte("correct horse")), keystore.WithLockTimeout(50*time.Millisecond))
	if !errors.Is(err, keystore.ErrLocked) {
		t.Fatalf("second open: err = %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second open took %v", d)
	}
}

func TestNoPlaintextOnDisk(t *testing.T) {
	db, path := tempDB(t)
	marker := []byte("PLAINTEXT-MARKER-7f3a")
	secret := seqBlob(0x41)
	ck := keyOf(0x55)
	mustNil(t, db.SetIdentity(bg(), &keystore.Identity{UserID: "1", Backup: secret}))
	mustNil(t, db.PutConversationKey(bg(), keystore.ConversationKey{ConversationID: "c", Version: "1", Key: ck}))
	mustNil(t, db.PutEvents(bg(), "c", []keystore.StoredEvent{{SequenceID: "1", Body: marker, Raw: marker}}))
	mustNil(t, db.PutOutbox(bg(), keystore.OutboxItem{MessageID: "m", Body: marker}))
	mustNil(t, db.SetToken(bg(), &keystore.Token{AccessToken: string(marker) + "acc", RefreshToken: string(marker) + "ref"}))
	mustNil(t, db.SetValue(bg(), "v", marker))
	mustNil(t, db.Close())
	raw, err := os.ReadFile(path)
	mustNil(t, err)
	for name, needle := range map[string][]byte{"marker": marker, "backup": secret, "conversation key": ck[:]} {
		if bytes.Contains(raw, needle) {
			t.Errorf("%s found in the clear on disk", name)
		}
	}
}

func TestRedaction(t *testing.T) {
	blob := seqBlob(0x61) // printable bytes: "abcd..."
	ck := keyOf(0x70)
	tok := keystore.Token{AccessToken: "ACCESS-SECRET", RefreshToken: "REFRESH-SECRET", TokenType: "bearer", Scopes: []string{"dm.read"}}
	values := []any{
		keystore.Identity{UserID: "1", Backup: blob},
		&keystore.Identity{UserID: "1", Backup: blob},
		keystore.ConversationKey{ConversationID: "c", Version: "1", Key: ck},
		[]keystore.ConversationKey{{Key: ck}},
		keystore.StoredEvent{SequenceID: "1", Body: []byte("BODY-SECRET")},
		keystore.OutboxItem{MessageID: "m", Body: []byte("BODY-SECRET")},
		tok, &tok,
	}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
			out := fmt.Sprintf(verb, v)
			if containsAny(out, blob[:8], []byte("BODY-SECRET"), []byte("ACCESS-SECRET"), []byte("REFRESH-SECRET"),
				[]byte(fmt.Sprintf("%x", blob[:4])), []byte(strings.TrimSuffix(fmt.Sprint(blob[:4]), "]")),
				[]byte(strings.TrimSuffix(fmt.Sprint(ck[:4]), "]")), []byte(fmt.Sprintf("%x", ck[:4]))) {
				t.Errorf("%s of %T leaks a secret: %s", verb, v, out)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(tok), "bearer") {
		t.Error("redaction hid non-secret token fields")
	}
}

func TestOpenInitialisesHeaderlessFile(t *testing.T) {
	// A crash between bbolt creating the file and the header transaction
	// leaves an empty bbolt file; Open must initialise it.
	path := filepath.Join(t.TempDir(), "empty.db")
	b, err := bolt.Open(path, 0o600, nil)
	mustNil(t, err)
	mustNil(t, b.Close())
	db := openTestDB(t, path)
	mustNil(t, db.SetValue(bg(), "v", []byte("x")))
	mustNil(t, db.Close())
	db = openTestDB(t, path)
	defer db.Close()
	if v, err := db.Value(bg(), "v"); err != nil || string(v) != "x" {
		t.Fatalf("value: %q %v", v, err)
	}
}

func TestOpenRejectsForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.db")
	junk := bytes.Repeat([]byte("not a database "), 2000)
	mustNil(t, os.WriteFile(path, junk, 0o600))
	if _, err := Open(path, keystore.WithKey(testKey)); err == nil {
		t.Fatal("opened a file that is not a bbolt database")
	}
	got, err := os.ReadFile(path)
	mustNil(t, err)
	if !bytes.Equal(got, junk) {
		t.Fatal("Open modified a foreign file")
	}
}
