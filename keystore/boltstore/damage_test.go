package boltstore

import (
	"bytes"
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

// damageFixture writes a keystore with one record of every kind and a
// conversation of 40 events (their message-id index in 4 segments with
// filters and a recent part), and returns its bytes.
func damageFixture(t testing.TB) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fixture.db")
	db, err := Open(path, keystore.WithKey(testKey), keystore.WithMessageIndexRecent(9))
	if err != nil {
		t.Fatal(err)
	}
	mustNil(t, db.SetIdentity(bg(), &keystore.Identity{UserID: "1", Backup: seqBlob(9), PublicKeyVersion: "7"}))
	mustNil(t, db.PutPeerKey(bg(), keystore.PeerKey{UserID: "2", Version: "3", IdentityPublicKey: []byte{4, 1}, SigningPublicKey: []byte{4, 2}, FirstSeen: t0}))
	mustNil(t, db.PutConversationKey(bg(), keystore.ConversationKey{ConversationID: "1:2", Version: "5", Key: keyOf(1), CreatedAt: t0}))
	mustNil(t, db.PutConversation(bg(), &keystore.Conversation{ID: "1:2", Type: "one_to_one", Members: []string{"1", "2"}, UpdatedAt: t0}))
	var evs []keystore.StoredEvent
	for i := range 40 {
		e := ev(fmt.Sprint(1000+i), fmt.Sprintf("m%d", i))
		e.Body = keystore.SecretBytes(bytes.Repeat([]byte("message body "), 20))
		evs = append(evs, e)
	}
	mustNil(t, db.PutEvents(bg(), "1:2", evs))
	mustNil(t, db.PutOutbox(bg(), keystore.OutboxItem{MessageID: "o1", ConversationID: "1:2", Kind: "message", Body: keystore.SecretBytes("req"), CreatedAt: t0}))
	mustNil(t, db.SetToken(bg(), &keystore.Token{AccessToken: "a", TokenType: "bearer", Expiry: t0}))
	mustNil(t, db.SetValue(bg(), "v", []byte("x")))
	mustNil(t, db.Close())
	b, err := os.ReadFile(path)
	mustNil(t, err)
	return b
}

// readAll opens the store at path and reads every kind of record. It
// returns the first error; a panic fails the test.
func readAll(path string) (err error) {
	db, err := Open(path, keystore.WithKey(testKey), keystore.WithLockTimeout(time.Second))
	if err != nil {
		return err
	}
	defer db.Close()
	var errs []error
	_, e := db.Identity(bg())
	errs = append(errs, e)
	_, e = db.PeerKeys(bg(), "2")
	errs = append(errs, e)
	_, e = db.ConversationKeys(bg(), "1:2")
	errs = append(errs, e)
	_, e = db.Conversations(bg())
	errs = append(errs, e)
	_, e = db.Events(bg(), "1:2", "", 0)
	errs = append(errs, e)
	_, e = db.EventByMessageID(bg(), "1:2", "m3")
	errs = append(errs, e)
	_, e = db.Outbox(bg())
	errs = append(errs, e)
	_, e = db.Token(bg())
	errs = append(errs, e)
	_, e = db.Value(bg(), "v")
	errs = append(errs, e)
	errs = append(errs, db.SetValue(bg(), "w", []byte("y")))
	for _, e := range errs {
		if e != nil && !errors.Is(e, keystore.ErrNotFound) {
			return e
		}
	}
	return nil
}

// acceptable reports whether err is what damage may produce: nothing, a
// named damaged store, or (for a damaged header, whose sealed store key
// cannot be told from a wrong one) a wrong key or unknown version.
func acceptable(err error) bool {
	return err == nil || errors.Is(err, keystore.ErrDamaged) || errors.Is(err, keystore.ErrWrongKey) || errors.Is(err, keystore.ErrUnsupportedVersion) ||
		errors.Is(err, keystore.ErrNotFound)
}

func writeFile(t testing.TB, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keystore.db")
	mustNil(t, os.WriteFile(path, b, 0o600))
	return path
}

// TestDamagedFileRefused covers issue #12 finding 5: an empty, foreign,
// truncated or byte-flipped file is reported as "keystore PATH is damaged:
// …" (ErrDamaged), never as an internal error or a panic, and a refused
// file is left as it was.
func TestDamagedFileRefused(t *testing.T) {
	good := damageFixture(t)
	foreignBolt := func() []byte {
		path := filepath.Join(t.TempDir(), "other.db")
		b, err := bolt.Open(path, 0o600, nil)
		mustNil(t, err)
		mustNil(t, b.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucket([]byte("settings"))
			if err != nil {
				return err
			}
			return bk.Put([]byte("theme"), []byte("dark"))
		}))
		mustNil(t, b.Close())
		raw, err := os.ReadFile(path)
		mustNil(t, err)
		return raw
	}()
	cases := []struct {
		name, want string
		file       []byte
	}{
		{"empty", "the file is empty", nil},
		{"foreign text", "not a keystore file", bytes.Repeat([]byte("my shopping list\n"), 300)},
		{"foreign bolt database", "not an xchat keystore", foreignBolt},
		{"truncated", "is damaged", good[:len(good)/2]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, c.file)
			_, err := Open(path, keystore.WithKey(testKey))
			var de *keystore.DamagedError
			if !errors.Is(err, keystore.ErrDamaged) || !errors.As(err, &de) || de.Path != path {
				t.Fatalf("err = %v, want a *DamagedError for %s", err, path)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "keystore "+path+" is damaged: ") || !strings.Contains(msg, c.want) {
				t.Fatalf("message %q, want %q", msg, c.want)
			}
			got, rerr := os.ReadFile(path)
			mustNil(t, rerr)
			if !bytes.Equal(got, c.file) {
				t.Fatal("Open modified the refused file")
			}
		})
	}
}

// TestFlippedBytesContained flips 8 bytes at the start of every page of a
// real keystore (and in the middle of each): opening and reading either
// works or fails with a named error, never a panic or an internal error.
func TestFlippedBytesContained(t *testing.T) {
	good := damageFixture(t)
	const page = 4096
	failures := 0
	for off := 0; off < len(good); off += page / 2 {
		b := bytes.Clone(good)
		for i := off + 16; i < off+24 && i < len(b); i++ {
			b[i] ^= 0xA5
		}
		path := writeFile(t, b)
		err := readAll(path)
		if !acceptable(err) {
			t.Errorf("8 bytes flipped at %d: %v", off+16, err)
		}
		if err != nil {
			failures++
			if strings.Contains(err.Error(), "internal error") || strings.Contains(err.Error(), "runtime error") && !errors.Is(err, keystore.ErrDamaged) {
				t.Errorf("offset %d: unnamed failure %v", off+16, err)
			}
		}
	}
	t.Logf("keystore damage: %d of %d flipped spots detected, none panicked", failures, (len(good)+page/2-1)/(page/2))
}

// TestOneDamagedEventFailsAlone: a tampered event record is returned as a
// damaged entry in its place; the conversation's other events still read.
func TestOneDamagedEventFailsAlone(t *testing.T) {
	path := writeFile(t, damageFixture(t))
	mutateRaw(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents).Bucket([]byte("1:2"))
		v := bytes.Clone(b.Get(versionKey("1007")))
		v[len(v)-3] ^= 1
		return b.Put(versionKey("1007"), v)
	})
	db := openTestDB(t, path, keystore.WithKey(testKey))
	defer db.Close()
	evs, err := db.Events(bg(), "1:2", "", 0)
	if err != nil || len(evs) != 40 {
		t.Fatalf("events: %d, %v", len(evs), err)
	}
	for _, e := range evs {
		damaged := e.SequenceID == "1007"
		if (e.Type == keystore.DamagedType) != damaged || (damaged && (e.Verified || !strings.Contains(e.Error, "authentication failed"))) {
			t.Fatalf("event %s: %+v", e.SequenceID, e)
		}
	}
	// Looking up the damaged record itself names the file.
	_, err = db.EventByMessageID(bg(), "1:2", "m7")
	var de *keystore.DamagedError
	if !errors.As(err, &de) || de.Path != path || !errors.Is(err, keystore.ErrCorrupt) {
		t.Fatalf("lookup of the damaged record: %v", err)
	}
}

// FuzzOpenDamaged mutates a real keystore file (XOR a run of bytes at an
// offset, optionally truncate) and opens and reads it: every outcome must
// be success or a named error, never a panic.
func FuzzOpenDamaged(f *testing.F) {
	good := damageFixture(f)
	f.Add(uint32(16500), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint32(0))
	f.Add(uint32(0), []byte{1}, uint32(0))
	f.Add(uint32(4096), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}, uint32(0))
	f.Add(uint32(0), []byte{}, uint32(len(good)/2))
	f.Add(uint32(12288+20), []byte{0x80}, uint32(0))
	f.Fuzz(func(t *testing.T, off uint32, mask []byte, trunc uint32) {
		b := bytes.Clone(good)
		for i, m := range mask {
			if j := int(off%uint32(len(b))) + i; j < len(b) {
				b[j] ^= m
			}
		}
		if trunc > 0 {
			b = b[:int(trunc)%len(b)]
		}
		path := writeFile(t, b)
		if err := readAll(path); !acceptable(err) {
			t.Fatalf("unnamed failure: %v", err)
		}
	})
}
