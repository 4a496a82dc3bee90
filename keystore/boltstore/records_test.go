package boltstore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestGetWithReusedCursor checks boltRecords.Get, which seeks with one
// cursor per bucket for the whole transaction, against bolt.Bucket.Get
// (a fresh cursor per call), and boltRecords.Scan, which takes the
// transaction's spare cursors, against a fresh cursor, while the transaction writes, deletes and
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
	checked, found, scanned := 0, 0, 0
	for range 3 { // several transactions: the cursors are per transaction
		err = db.Update(func(tx *bolt.Tx) error {
			r := newBoltRecords(tx)
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
				case op < 7:
					var got, want [][]byte
					if err := r.Scan(p, k, 3, func(k, _ []byte) (bool, error) { got = append(got, k); return true, nil }); err != nil {
						return err
					}
					if b := r.bucket(p); b != nil {
						c := b.Cursor()
						for k, _ := c.Seek(k); k != nil && len(want) < 3; k, _ = c.Next() {
							want = append(want, k)
						}
					}
					if !slices.EqualFunc(got, want, bytes.Equal) {
						return fmt.Errorf("Scan(%q, %q) = %q, bolt %q", p, k, got, want)
					}
					scanned++
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
	if checked < 3000 || found < checked/10 || scanned < 500 {
		t.Fatalf("only %d lookups checked, %d found, %d scans", checked, found, scanned)
	}
}

// TestScanReusesCursors: boltRecords.Scan takes its cursor from the
// transaction's spares, so a sync's per-event look-ups (a one-record scan
// each) allocate nothing, and a scan nested in another's callback, in the
// same bucket, gets a cursor of its own.
func TestScanReusesCursors(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "scan.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := [][]byte{[]byte("events"), []byte("c1")}
	err = db.Update(func(tx *bolt.Tx) error {
		r := newBoltRecords(tx)
		for i := range 2000 {
			if err := r.Put(p, fmt.Appendf(nil, "k%05d", i), bytes.Repeat([]byte{1}, 100)); err != nil {
				return err
			}
		}
		from := []byte("k01000")
		var seen []byte
		one := func() {
			if err := r.Scan(p, from, 1, func(k, _ []byte) (bool, error) { seen = k; return true, nil }); err != nil {
				t.Fatal(err)
			}
		}
		if n := testing.AllocsPerRun(100, one); n != 0 {
			t.Errorf("a one-record scan allocates %v times", n)
		}
		if !bytes.Equal(seen, from) {
			t.Errorf("scan from %q found %q", from, seen)
		}
		// Nested: the outer scan goes on where it was.
		var outer, inner [][]byte
		err := r.Scan(p, []byte("k00010"), 3, func(k, _ []byte) (bool, error) {
			outer = append(outer, k)
			return true, r.Scan(p, []byte("k01500"), 2, func(k, _ []byte) (bool, error) {
				inner = append(inner, k)
				return true, nil
			})
		})
		if err != nil {
			return err
		}
		if got := fmt.Sprintf("%s|%s", bytes.Join(outer, []byte(",")), bytes.Join(inner, []byte(","))); got != "k00010,k00011,k00012|k01500,k01501,k01500,k01501,k01500,k01501" {
			t.Errorf("nested scans: %s", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
