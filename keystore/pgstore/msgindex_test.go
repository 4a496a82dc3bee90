package pgstore_test

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/keystore/pgstore"
	"github.com/xchat-go/xchat/keystore/storetest"
)

// TestMessageIndex checks lookups across the index's segment boundaries
// (segments moved with the backend's two-statement MoveRecords).
func TestMessageIndex(t *testing.T) {
	for _, r := range []int{1, 3} {
		t.Run(fmt.Sprint("R=", r), func(t *testing.T) {
			s := openStore(t, pgstore.Keystore(keystore.WithMessageIndexRecent(r)))
			storetest.MessageIndex(t, s, r)
		})
	}
}

// TestDifferentialSmallIndex is TestDifferential with a 3-entry recent
// part, so lookups cross many segments.
func TestDifferentialSmallIndex(t *testing.T) {
	storetest.Differential(t, openStore(t, pgstore.Keystore(keystore.WithMessageIndexRecent(3))), 1500)
}

// fixtureKey is the key of ../boltstore/testdata/format1.db.gz, a store
// written by format 1 (see boltstore's format1Fixture).
var fixtureKey = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

// format1File unpacks the format-1 fixture and returns its path and its
// (format-1) header.
func format1File(t *testing.T) (string, []byte) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "boltstore", "testdata", "format1.db.gz"))
	mustNil(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	mustNil(t, err)
	b, err := io.ReadAll(zr)
	mustNil(t, err)
	path := filepath.Join(t.TempDir(), "format1.db")
	mustNil(t, os.WriteFile(path, b, 0o600))
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	mustNil(t, err)
	defer db.Close()
	var header []byte
	mustNil(t, db.View(func(tx *bolt.Tx) error {
		header = append([]byte(nil), tx.Bucket([]byte("meta")).Get([]byte("header"))...)
		return nil
	}))
	if header[4] != 1 {
		t.Fatalf("fixture header is format %d", header[4])
	}
	return path, header
}

// TestFormat1IntoPostgres: a format-1 bolt store copied into PostgreSQL
// answers lookups from its old index and takes new entries; a format-1
// header in a schema is upgraded by Open.
func TestFormat1IntoPostgres(t *testing.T) {
	ctx := context.Background()
	path, v1 := format1File(t)
	src, err := boltstore.Open(path, keystore.WithKey(fixtureKey))
	mustNil(t, err)
	defer src.Close()
	pg := openStore(t, pgstore.Keystore(keystore.WithMessageIndexRecent(2)))
	_, err = keystore.CopyRecords(ctx, pg, src)
	mustNil(t, err)
	mustNil(t, pg.PutEvents(ctx, "1:2", []keystore.StoredEvent{{SequenceID: "2000", MessageID: "n", Verified: true}, {SequenceID: "2001", MessageID: "dup", Verified: true},
		{SequenceID: "2002", MessageID: "m0", Verified: true}}))
	for id, want := range map[string]string{"m1": "1001", "m5": "", "m5b": "1005", "dup": "2001", "n": "2000", "m0": "2002", "m39": "1039"} {
		e, err := pg.EventByMessageID(ctx, "1:2", id)
		if (want == "" && !errors.Is(err, keystore.ErrNotFound)) || (want != "" && (err != nil || e.SequenceID != want)) {
			t.Errorf("%s: %+v %v, want %q", id, e, err, want)
		}
	}
	// A format-1 header in the schema is upgraded on open.
	s := openStore(t)
	mustExec(t, s, `UPDATE `+s.Schema()+`.meta SET value = '\x`+fmt.Sprintf("%x", v1)+`' WHERE name = 'header'`)
	s2, err := pgstore.Open(ctx, testDB(t), pgstore.Keystore(keystore.WithKey(fixtureKey)), pgstore.WithSchema(s.Schema()))
	mustNil(t, err)
	defer s2.Close()
	var header []byte
	mustNil(t, rawConn(t).QueryRow(ctx, `SELECT value FROM `+s.Schema()+`.meta WHERE name = 'header'`).Scan(&header))
	if header[4] != 3 {
		t.Fatalf("header after open: format %d", header[4])
	}
}

// TestSchemaFormat2 checks the migration that marks store format 2: a
// program knowing only schema version 2 (format 1) refuses the schema.
func TestSchemaFormat2(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var v int
	mustNil(t, rawConn(t).QueryRow(ctx, `SELECT max(version) FROM `+s.Schema()+`.schema_version`).Scan(&v))
	if v != 3 || pgstore.SchemaVersion != 3 || v <= 2 {
		t.Fatalf("schema version %d (code %d): a format-1 program (schema 2) would open it", v, pgstore.SchemaVersion)
	}
}
