package boltstore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestGetWithReusedCursor checks boltRecords.Get, which seeks with one
// cursor per bucket for the whole transaction, against bolt.Bucket.Get
// (a fresh cursor per call) while the transaction writes, deletes and
// drops buckets between the lookups: enough keys to split pages, empty
// values, nested buckets looked up by name, keys past the last one and
// buckets deleted and made again.
func TestGetWithReusedCursor(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "get.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() []byte { return fmt.Appendf(nil, "k%04d", rng.IntN(400)) }
	paths := [][][]byte{{[]byte("values")}, {[]byte("events"), []byte("c1")}, {[]byte("events"), []byte("c2")}}
	checked, found := 0, 0
	for range 3 { // several transactions: the cursors are per transaction
		err = db.Update(func(tx *bolt.Tx) error {
			r := boltRecords{tx: tx, cursors: map[*bolt.Bucket]*bolt.Cursor{}}
			for range 4000 {
				p := paths[rng.IntN(len(paths))]
				k := key()
				switch op := rng.IntN(10); {
				case op < 4:
					v := bytes.Repeat([]byte{byte(op)}, rng.IntN(300))
					if err := r.Put(p, k, v); err != nil {
						return err
					}
				case op < 5:
					if err := r.Delete(p, k); err != nil {
						return err
					}
				case op < 6 && rng.IntN(40) == 0:
					if err := r.DeleteBucket(p); err != nil {
						return err
					}
				default:
					got, err := r.Get(p, k)
					if err != nil {
						return err
					}
					var want []byte
					if b := r.bucket(p); b != nil {
						want = b.Get(k)
					}
					if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
						return fmt.Errorf("Get(%q, %q) = %q, bolt %q", p, k, got, want)
					}
					checked++
					if got != nil {
						found++
					}
				}
			}
			// A nested bucket's name looked up as a key, and keys past
			// the last one, as bolt answers them.
			for _, c := range []struct{ p [][]byte }{{[][]byte{[]byte("events")}}, {paths[0]}} {
				for _, k := range [][]byte{[]byte("c1"), []byte("zzzz"), []byte("k9999")} {
					got, err := r.Get(c.p, k)
					if err != nil {
						return err
					}
					var want []byte
					if b := r.bucket(c.p); b != nil {
						want = b.Get(k)
					}
					if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
						return fmt.Errorf("Get(%q, %q) = %q, bolt %q", c.p, k, got, want)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 3000 || found < checked/10 {
		t.Fatalf("only %d lookups checked, %d found", checked, found)
	}
}
