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

// A write transaction leaves mapped only the few pages its commit reads:
// the pages of a history read before (through bbolt's memory map, clean
// copies of the file) are released, and reading them again gives the same
// records.
func TestWriteReleasesMappedPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "account.db")
	path, err := filepath.EvalSymlinks(filepath.Dir(path))
	mustNil(t, err)
	path = filepath.Join(path, "account.db")
	db := openTestDB(t, path, keystore.WithKey(testKey))
	defer db.Close()
	const n = 4000
	for i := 0; i < n; i += 200 {
		mustNil(t, db.PutEvents(bg(), "c", benchEvents(i, 200)))
	}
	want, err := db.Events(bg(), "c", "", 0)
	mustNil(t, err)
	if len(want) != n {
		t.Fatalf("stored %d events, want %d", len(want), n)
	}
	read := mappedKiB(t, path)
	if read < 2048 {
		t.Fatalf("reading the history mapped only %d KiB of the file: the test no longer touches it", read)
	}
	mustNil(t, db.PutEvents(bg(), "c", benchEvents(n, 1)))
	after := mappedKiB(t, path)
	t.Logf("mapped after reading %d events: %d KiB; after one more write: %d KiB", n, read, after)
	// The kernel maps up to 64 KiB around each page read (fault-around).
	if after > 512 {
		t.Fatalf("after a write %d KiB of the file stay mapped (%d KiB before it), want at most 512", after, read)
	}
	got, err := db.Events(bg(), "c", "", n)
	mustNil(t, err)
	for i := range got {
		if got[i].SequenceID != want[i].SequenceID || !bytes.Equal(got[i].Body, want[i].Body) || !bytes.Equal(got[i].Raw, want[i].Raw) {
			t.Fatalf("event %d changed after its pages were released", i)
		}
	}
}
