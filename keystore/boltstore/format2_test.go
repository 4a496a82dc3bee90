package boltstore

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xchat-go/xchat/keystore"
	bolt "go.etcd.io/bbolt"
)

// format2Fixture writes testdata/format2.db.gz, a store written by format
// 2 (main before binary event records, JSON ones): WithKey(testKey), the
// events of format2Events.
func format2Fixture(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "format2.db.gz"))
	mustNil(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	mustNil(t, err)
	b, err := io.ReadAll(zr)
	mustNil(t, err)
	return writeFile(t, b)
}

// format2Events are the events of testdata/format2.db.gz, conversation
// "1:2" (sequence ids 1000..1011) and "3:4" (7 and 8): verified and not,
// with an error, with no body, with no raw event, with bytes JSON escapes,
// with times in other zones.
func format2Events() map[string][]keystore.StoredEvent {
	zone := time.FixedZone("x", 5*3600+1800)
	var a []keystore.StoredEvent
	for i := range 12 {
		e := keystore.StoredEvent{SequenceID: fmt.Sprint(1000 + i), MessageID: fmt.Sprint("m", i), SenderID: "1", Type: "message",
			Body: []byte(fmt.Sprintf(`{"text":"hello %d <&> \u00e9"}`, i)), Verified: i%3 != 1, Raw: append([]byte{0, 0xff, byte(i)}, "raw"...),
			CreatedAt: t0.Add(time.Duration(i) * time.Minute)}
		switch i {
		case 1:
			e.Error = "signature does not verify: \"quoted\"\n"
		case 4:
			e.Body = nil
		case 5:
			e.Raw = nil
			e.CreatedAt = e.CreatedAt.In(zone)
		case 7:
			e.Type, e.MessageID = "key_change", ""
		case 9:
			e.CreatedAt = time.Time{}
		}
		a = append(a, e)
	}
	return map[string][]keystore.StoredEvent{"1:2": a, "3:4": {ev("7", "x7"), ev("8", "m1")}}
}

// sealedValue returns the sealed value under key in the events bucket of
// conv of the closed store at path.
func sealedValue(t *testing.T, path, conv, seq string) []byte {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	mustNil(t, err)
	defer b.Close()
	var v []byte
	mustNil(t, b.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bucketEvents).Bucket([]byte(conv)).Get(append([]byte{byte(len(seq))}, seq...)))
		return nil
	}))
	return v
}

// checkEvents holds the stored history of each conversation to want.
func checkEvents(t *testing.T, db *DB, want map[string][]keystore.StoredEvent) {
	t.Helper()
	for c, evs := range want {
		got, err := db.Events(bg(), c, "", 0)
		mustNil(t, err)
		if len(got) != len(evs) {
			t.Fatalf("%s: %d events, want %d", c, len(got), len(evs))
		}
		for i := range evs {
			g, w := got[i], evs[i]
			if g.SequenceID != w.SequenceID || g.MessageID != w.MessageID || g.SenderID != w.SenderID || g.Type != w.Type ||
				!bytes.Equal(g.Body, w.Body) || g.Verified != w.Verified || g.Error != w.Error || !bytes.Equal(g.Raw, w.Raw) ||
				!g.CreatedAt.Equal(w.CreatedAt) || (g.Body == nil) != (w.Body == nil) || (g.Raw == nil) != (w.Raw == nil) {
				t.Errorf("%s event %d:\n got %+v\nwant %+v", c, i, g, w)
			}
		}
	}
}

// TestFormat2Upgrade: a store written by format 2 (JSON event records)
// opens and reads every event as it was written; events stored now are
// binary records beside the old ones, which are left as they are; the
// store is format 3 afterwards, which a format-2 program refuses (its
// check is `format != 2 && format != 1`), and reads alike when opened
// again.
func TestFormat2Upgrade(t *testing.T) {
	path := format2Fixture(t)
	format, _ := fileFormat(t, path)
	if format != 2 {
		t.Fatalf("fixture: format %d", format)
	}
	oldRecord := sealedValue(t, path, "1:2", "1003")
	want := format2Events()
	db := openTestDB(t, path, keystore.WithKey(testKey))
	checkEvents(t, db, want)
	checkLookups(t, db, []lookupCase{{"1:2", "m0", "1000"}, {"1:2", "m11", "1011"}, {"3:4", "x7", "7"}, {"1:2", "m7", ""}})
	var added []keystore.StoredEvent
	for i := range 5 {
		e := ev(fmt.Sprint(2000+i), fmt.Sprint("n", i))
		e.Body = append(e.Body, "\"\x00\xff"...)
		added = append(added, e)
	}
	added[1].Verified, added[1].Error = false, "no key"
	mustNil(t, db.PutEvents(bg(), "1:2", added))
	want["1:2"] = append(want["1:2"], added...)
	checkEvents(t, db, want)
	checkLookups(t, db, []lookupCase{{"1:2", "m0", "1000"}, {"1:2", "n4", "2004"}, {"1:2", "n1", "2001"}})
	mustNil(t, db.Close())

	format, _ = fileFormat(t, path)
	if format != 3 {
		t.Fatalf("after the upgrade: format %d", format)
	}
	if !bytes.Equal(sealedValue(t, path, "1:2", "1003"), oldRecord) {
		t.Fatal("an old record was written again")
	}
	if a, b := len(sealedValue(t, path, "1:2", "2000")), len(sealedValue(t, path, "3:4", "7")); a >= b {
		t.Fatalf("a binary record takes %d bytes, the JSON one of the same event %d", a, b)
	}
	db = openTestDB(t, path, keystore.WithKey(testKey))
	defer db.Close()
	checkEvents(t, db, want)
}
