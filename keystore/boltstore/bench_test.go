package boltstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/xchat-go/xchat/keystore"
)

func benchEvents(base, n int) []keystore.StoredEvent {
	evs := make([]keystore.StoredEvent, n)
	for i := range evs {
		seq := strconv.Itoa(1700000000000 + base + i)
		evs[i] = keystore.StoredEvent{SequenceID: seq, MessageID: "m" + seq, SenderID: "42", Type: "message",
			Body: []byte(`{"text":"hello, this is a typical short chat message"}`), Verified: true, Raw: make([]byte, 300), CreatedAt: t0}
	}
	return evs
}

// BenchmarkPutEvents100 stores 100 events per transaction (one fsync).
func BenchmarkPutEvents100(b *testing.B) {
	db := openTestDB(b, filepath.Join(b.TempDir(), "bench.db"), keystore.WithKey(testKey))
	defer db.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := db.PutEvents(bg(), "c", benchEvents(i*100, 100)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkEvents100 reads and decrypts 100 events.
func BenchmarkEvents100(b *testing.B) {
	db := openTestDB(b, filepath.Join(b.TempDir(), "bench.db"), keystore.WithKey(testKey))
	defer db.Close()
	mustNil(b, db.PutEvents(bg(), "c", benchEvents(0, 1000)))
	b.ReportAllocs()
	for b.Loop() {
		evs, err := db.Events(bg(), "c", "1700000000400", 100)
		if err != nil || len(evs) != 100 {
			b.Fatal(len(evs), err)
		}
	}
}

// BenchmarkOpenArgon2 opens a passphrase store with keystore.DefaultArgon2Params
// (the cost a user pays per unlock).
func BenchmarkOpenArgon2(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.db")
	pass := keystore.WithPassphrase([]byte("benchmark passphrase"))
	db := openTestDB(b, path, pass)
	mustNil(b, db.Close())
	for b.Loop() {
		db, err := Open(path, pass)
		if err != nil {
			b.Fatal(err)
		}
		_ = db.Close()
	}
}

// BenchmarkEventByMessageID looks up random message ids (every other one
// absent) in a history of 20k events stored 256 per transaction.
func BenchmarkEventByMessageID(b *testing.B) {
	db := openTestDB(b, filepath.Join(b.TempDir(), "bench.db"), keystore.WithKey(testKey))
	defer db.Close()
	const n = 20000
	for i := 0; i < n; i += 256 {
		mustNil(b, db.PutEvents(bg(), "c", benchEvents(i, min(256, n-i))))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i = (i*7919 + 1) % (2 * n)
		id := "m" + strconv.Itoa(1700000000000+i)
		if _, err := db.EventByMessageID(bg(), "c", id); (err == nil) != (i < n) {
			b.Fatal(id, err)
		}
	}
}

// BenchmarkSyncBatch256 is one batch of a first sync as the engine stores
// it: one transaction looking up, then storing, each of 256 new events.
func BenchmarkSyncBatch256(b *testing.B) {
	db := openTestDB(b, filepath.Join(b.TempDir(), "bench.db"), keystore.WithKey(testKey))
	defer db.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		err := db.Update(bg(), func(tx keystore.Tx) error {
			for _, e := range benchEvents(i*256, 256) {
				if _, err := tx.EventByMessageID(bg(), "c", e.MessageID); !errors.Is(err, keystore.ErrNotFound) {
					return fmt.Errorf("lookup of a new id: %w", err)
				}
				if err := tx.PutEvents(bg(), "c", []keystore.StoredEvent{e}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// eventsOnly hides a Tx's EventAt: keystore.EventAt falls back to Events.
type eventsOnly struct{ keystore.Tx }

// BenchmarkEventAt looks a sequence id up inside a transaction, as a sync
// does for every event it stores, in a history of 1,000 events: one that
// is stored (hit), one that is not with events stored above it (miss
// below), one above the newest (miss above); with the store's EventAt and
// with the fallback over Events (scan from the predecessor, opening the
// first record above it).
func BenchmarkEventAt(b *testing.B) {
	db := openTestDB(b, filepath.Join(b.TempDir(), "bench.db"), keystore.WithKey(testKey))
	defer db.Close()
	evs := benchEvents(0, 1000)
	for i := range evs {
		evs[i].SequenceID = strconv.Itoa(1700000000000 + 2*i) // every other id free
	}
	mustNil(b, db.PutEvents(bg(), "c", evs))
	for _, c := range []struct{ name, seq string }{{"hit", "1700000000400"}, {"miss below", "1700000000401"}, {"miss above", "1700000002001"}} {
		for _, fallback := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/fallback=%v", c.name, fallback), func(b *testing.B) {
				b.ReportAllocs()
				mustNil(b, db.View(bg(), func(tx keystore.Tx) error {
					if fallback {
						tx = eventsOnly{tx}
					}
					for b.Loop() {
						e, err := keystore.EventAt(bg(), tx, "c", c.seq)
						if (e != nil) != (c.name == "hit") || (err != nil) == (c.name == "hit") {
							b.Fatal(e, err)
						}
					}
					return nil
				}))
			})
		}
	}
}
