package testref

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// sums parses SHA256SUMS: name → hex digest of the uncompressed content.
func sums(t *testing.T) map[string]string {
	t.Helper()
	raw := Read(t, "SHA256SUMS")
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			t.Fatalf("SHA256SUMS: malformed line %q", sc.Text())
		}
		out[f[1]] = f[0]
	}
	if len(out) == 0 {
		t.Fatal("SHA256SUMS lists no files")
	}
	return out
}

// TestVendoredFilesMatchChecksums reads every vendored file through Load
// (decompressing the .gz ones) and checks it against SHA256SUMS.
func TestVendoredFilesMatchChecksums(t *testing.T) {
	want := sums(t)
	for _, name := range []string{ChatOpenAPI, ActivityOpenAPI, SDKVectors} {
		if _, ok := want[name]; !ok {
			t.Errorf("SHA256SUMS does not list %s", name)
		}
	}
	for name, digest := range want {
		sum := sha256.Sum256(Read(t, name))
		if got := hex.EncodeToString(sum[:]); got != digest {
			t.Errorf("%s: sha256 %s, SHA256SUMS says %s", name, got, digest)
		}
	}
	t.Logf("testref: %d vendored reference files match SHA256SUMS", len(want))
}

// TestVendoredFilesEqualShared compares every file of the shared
// workspace's reference and seeds directories (../shared beside the module
// root), when it exists, with the vendored copy.
func TestVendoredFilesEqualShared(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(root, "..", "shared")
	if _, err := os.Stat(filepath.Join(shared, "reference")); err != nil {
		t.Skipf("no shared workspace at %s: nothing to compare the vendored copies with", shared)
	}
	want := sums(t)
	n := 0
	for _, sub := range []struct{ dir, prefix string }{{"reference", ""}, {"seeds", "seeds/"}} {
		base := filepath.Join(shared, sub.dir)
		err = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(base, p)
			if err != nil {
				return err
			}
			rel = sub.prefix + filepath.ToSlash(rel)
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if _, listed := want[rel]; !listed {
				t.Errorf("%s is in ../shared but not vendored (add it to testdata/reference and SHA256SUMS)", rel)
				return nil
			}
			if !bytes.Equal(Read(t, rel), b) {
				t.Errorf("%s: vendored copy differs from ../shared/%s/%s", rel, sub.dir, strings.TrimPrefix(rel, sub.prefix))
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n != len(want) {
		t.Errorf("compared %d files, SHA256SUMS lists %d", n, len(want))
	}
	t.Logf("testref: %d vendored reference files equal ../shared", n)
}

func TestSeed(t *testing.T) {
	name, err := Seed("004_")
	if err != nil || !strings.HasPrefix(name, "seeds/004_") {
		t.Fatalf("Seed(004_) = %q, %v", name, err)
	}
	if !bytes.Contains(Read(t, name), []byte("Direct Messages")) {
		t.Fatalf("%s is not the DM documentation page", name)
	}
	if _, err := Seed("999_"); err == nil {
		t.Fatal("Seed of a missing prefix succeeded")
	}
}

// fatalTB records the first Fatal and stops the goroutine like testing does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestMissingFileFails proves a missing reference file fails the test (and
// names the file) instead of skipping it.
func TestMissingFileFails(t *testing.T) {
	for name, call := range map[string]func(tb testing.TB){
		"Read": func(tb testing.TB) { Read(tb, "no-such-vectors.json") },
		"JSON": func(tb testing.TB) { var v any; JSON(tb, Wycheproof("no_such_test.json"), &v) },
		"Path": func(tb testing.TB) { Path(tb, "no-such-spec.json") },
	} {
		ftb := &fatalTB{TB: t}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			call(ftb)
		}()
		wg.Wait()
		if !strings.Contains(ftb.msg, "is missing") {
			t.Errorf("%s of a missing file: Fatal message %q, want one saying it is missing", name, ftb.msg)
		}
	}
	if _, err := Load("../go.mod"); err == nil {
		t.Error("Load accepted a name outside testdata/reference")
	}
}

// TestPathDecompresses checks that Path hands out a readable plain file for
// a compressed vector file and the vendored file itself otherwise.
func TestPathDecompresses(t *testing.T) {
	name := Wycheproof("aes_gcm_test.json")
	p := Path(t, name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, Read(t, name)) || !bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		t.Fatalf("Path(%s) does not hold the decompressed JSON", name)
	}
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if got := Path(t, ChatOpenAPI); got != filepath.Join(dir, ChatOpenAPI) {
		t.Fatalf("Path(%s) = %s, want the vendored file", ChatOpenAPI, got)
	}
}
