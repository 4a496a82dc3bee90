package boltstore

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/keystore"
)

// mappedKiB returns how much of the file at path this process has
// resident through its memory maps (the Rss of its mappings in
// /proc/self/smaps), in KiB.
func mappedKiB(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	total, found, in := 0, false, false
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			in = len(f) >= 6 && f[5] == path
			found = found || in
		case in && len(f) == 3 && f[0] == "Rss:":
			v, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("smaps: %q: %v", line, err)
			}
			total += v
		}
	}
	if !found {
		t.Fatalf("%s is not mapped", path)
	}
	return total
}

// unreleased is how many bytes db's write transactions have written
// since it last released its mapped pages.
func unreleased(db *DB) int64 {
	st := db.bolt.Stats()
	return st.TxStats.GetPageAlloc() - db.released
}

// Once write transactions have written releaseEvery bytes since the last
// release, the next one leaves mapped only the few pages its commit reads:
// the pages of a history read before (through bbolt's memory map, clean
// copies of the file) are released, and reading them again gives the same
// records. A write before then releases nothing: a run of small writes
// (sends) pays for one release in many.
func TestWriteReleasesMappedPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "account.db")
	path, err := filepath.EvalSymlinks(filepath.Dir(path))
	mustNil(t, err)
	path = filepath.Join(path, "account.db")
	db := openTestDB(t, path, keystore.WithKey(testKey))
	defer db.Close()
	// Store a history of 10k events at least, until its writes since the
	// last release have written releaseEvery bytes (the last of them found
	// less written before it, and did not release): the next write
	// releases.
	n := 0
	for ; n < 10000 || unreleased(db) < releaseEvery; n += 200 {
		if n >= 40000 {
			t.Fatalf("storing %d events left %d bytes written since a release, want at least %d", n, unreleased(db), releaseEvery)
		}
		mustNil(t, db.PutEvents(bg(), "c", benchEvents(n, 200)))
	}
	mustNil(t, db.PutEvents(bg(), "c", benchEvents(n, 1)))
	if w := unreleased(db); w >= releaseEvery {
		t.Fatalf("a write after %d bytes written did not release (%d bytes written since)", releaseEvery, w)
	}
	want, err := db.Events(bg(), "c", "", 0)
	mustNil(t, err)
	if len(want) != n+1 {
		t.Fatalf("stored %d events, want %d", len(want), n+1)
	}
	read := mappedKiB(t, path)
	if read < 2048 {
		t.Fatalf("reading the history mapped only %d KiB of the file: the test no longer touches it", read)
	}
	mustNil(t, db.PutEvents(bg(), "c", benchEvents(n+1, 1)))
	kept := mappedKiB(t, path)
	if kept < read/2 {
		t.Fatalf("a write %d bytes after the last release left %d KiB of the file mapped (%d KiB before it): it released them", unreleased(db), kept, read)
	}
	next := n + 2
	for unreleased(db) < releaseEvery {
		mustNil(t, db.PutEvents(bg(), "c", benchEvents(next, 20)))
		next += 20
	}
	mustNil(t, db.PutEvents(bg(), "c", benchEvents(next, 1)))
	after := mappedKiB(t, path)
	t.Logf("mapped after reading %d events: %d KiB; after one more write: %d KiB; after %d more events and a write: %d KiB",
		n, read, kept, next+1-n-2, after)
	// The kernel maps up to 64 KiB around each page read (fault-around).
	if after > 512 {
		t.Fatalf("after %d bytes written %d KiB of the file stay mapped (%d KiB before), want at most 512", releaseEvery, after, kept)
	}
	got, err := db.Events(bg(), "c", "", n+1)
	mustNil(t, err)
	for i := range got {
		if got[i].SequenceID != want[i].SequenceID || !bytes.Equal(got[i].Body, want[i].Body) || !bytes.Equal(got[i].Raw, want[i].Raw) {
			t.Fatalf("event %d changed after its pages were released", i)
		}
	}
}
