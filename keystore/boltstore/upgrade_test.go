package boltstore

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xchat-go/xchat/keystore"
	bolt "go.etcd.io/bbolt"
)

// format1Fixture writes testdata/format1.db.gz, a store written by format
// 1 (main before the log-structured index): WithKey(testKey), conversation
// "1:2" with events 1000..1039 (ids m0..m39), "dup" under 1040 and 1041,
// 1005 replaced by an event with id m5b; "3:4" with x7@7 and m1@8.
func format1Fixture(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "format1.db.gz"))
	mustNil(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	mustNil(t, err)
	b, err := io.ReadAll(zr)
	mustNil(t, err)
	return writeFile(t, b)
}

// fileFormat reads the format byte of the header of the closed store at
// path, and the number of records in each top-level bucket.
func fileFormat(t *testing.T, path string) (byte, map[string]int) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	mustNil(t, err)
	defer b.Close()
	var format byte
	counts := map[string]int{}
	err = b.View(func(tx *bolt.Tx) error {
		format = tx.Bucket(bucketMeta).Get(keyHeader)[4]
		return boltRecords{tx: tx}.Walk(func(bucket [][]byte, _, _ []byte) error {
			counts[string(bytes.Join(bucket, []byte("/")))]++
			return nil
		})
	})
	mustNil(t, err)
	return format, counts
}

type lookupCase struct{ conv, id, want string }

var format1Lookups = []lookupCase{
	{"1:2", "m0", "1000"}, {"1:2", "m39", "1039"}, {"1:2", "m5", ""}, {"1:2", "m5b", "1005"},
	{"1:2", "dup", "1041"}, {"1:2", "x7", ""}, {"3:4", "x7", "7"}, {"3:4", "m1", "8"}, {"1:2", "zz", ""},
}

func checkLookups(t *testing.T, s keystore.Store, cases []lookupCase) {
	t.Helper()
	for _, c := range cases {
		e, err := s.EventByMessageID(bg(), c.conv, c.id)
		switch {
		case c.want == "" && !errors.Is(err, keystore.ErrNotFound):
			t.Errorf("%s/%s: %+v %v, want not found", c.conv, c.id, e, err)
		case c.want != "" && (err != nil || e.SequenceID != c.want || e.MessageID != c.id):
			t.Errorf("%s/%s: %+v %v, want %s", c.conv, c.id, e, err, c.want)
		}
	}
}

// TestFormat1Upgrade: a format-1 store opens, answers from its old index,
// takes new entries (the old index becomes segment 0, untouched), and is
// format 3 afterwards (format 2's index, format 3's event records), which
// a format-1 program refuses (its check is `format != 1`).
func TestFormat1Upgrade(t *testing.T) {
	path := format1Fixture(t)
	format, counts := fileFormat(t, path)
	if format != 1 || counts["msgindex/1:2"] != 43 || counts["msgrecent/1:2"] != 0 {
		t.Fatalf("fixture: format %d, %v", format, counts)
	}
	db := openTestDB(t, path, keystore.WithKey(testKey), keystore.WithMessageIndexRecent(4))
	checkLookups(t, db, format1Lookups)
	var evs []keystore.StoredEvent
	for i := range 10 {
		evs = append(evs, ev(fmt.Sprint(2000+i), fmt.Sprint("n", i)))
	}
	evs = append(evs, ev("2010", "dup"), ev("1039", "m39b"))
	mustNil(t, db.PutEvents(bg(), "1:2", evs))
	after := []lookupCase{
		{"1:2", "n0", "2000"}, {"1:2", "n9", "2009"}, {"1:2", "m39", ""}, {"1:2", "m39b", "1039"}, {"1:2", "dup", "2010"},
		{"1:2", "m0", "1000"}, {"1:2", "m5", ""}, {"1:2", "m5b", "1005"}, {"3:4", "x7", "7"}, {"3:4", "m1", "8"}, {"1:2", "zz", ""},
	}
	checkLookups(t, db, after)
	mustNil(t, db.Close())

	format, counts = fileFormat(t, path)
	if format != 3 || counts["msgindex/1:2"] != 43 || counts["msgfilter/1:2"] != 4 || counts["msgseg/1:2"] != 12 ||
		counts["msgstate"] != 1 || counts["msgindex/3:4"] != 2 {
		t.Fatalf("after the upgrade: format %d, %v", format, counts)
	}
	db = openTestDB(t, path, keystore.WithKey(testKey))
	defer db.Close()
	checkLookups(t, db, after)
}

// TestCopyRecordsKeepsIndex: bolt→bolt CopyRecords of a store holding a
// format-1 index, segments and a recent part answers every lookup alike.
func TestCopyRecordsKeepsIndex(t *testing.T) {
	src := openTestDB(t, format1Fixture(t), keystore.WithKey(testKey), keystore.WithMessageIndexRecent(3))
	defer src.Close()
	var evs []keystore.StoredEvent
	for i := range 8 {
		evs = append(evs, ev(fmt.Sprint(3000+i), fmt.Sprint("p", i)))
	}
	mustNil(t, src.PutEvents(bg(), "1:2", evs))
	mustNil(t, src.PutEvents(bg(), "5:6", evs))
	dst := openTestDB(t, filepath.Join(t.TempDir(), "copy.db"))
	defer dst.Close()
	n, err := keystore.CopyRecords(bg(), dst, src)
	if err != nil || n < 43+60 {
		t.Fatalf("CopyRecords: %d, %v", n, err)
	}
	cases := append([]lookupCase{{"1:2", "p0", "3000"}, {"1:2", "p7", "3007"}, {"5:6", "p6", "3006"}, {"5:6", "m1", ""}}, format1Lookups...)
	checkLookups(t, src, cases)
	checkLookups(t, dst, cases)
	// The copy keeps taking entries.
	mustNil(t, dst.PutEvents(bg(), "1:2", []keystore.StoredEvent{ev("4000", "q"), ev("4001", "p0")}))
	checkLookups(t, dst, []lookupCase{{"1:2", "q", "4000"}, {"1:2", "p0", "4001"}, {"1:2", "m0", "1000"}})
}
