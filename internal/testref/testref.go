// Package testref is the one way tests reach the reference data vendored in
// testdata/reference at the module root: X's OpenAPI extracts and
// documentation pages, the official Chat XDK vectors and the Wycheproof
// vectors. A fresh clone needs nothing
// else, and a missing or unreadable file fails the test (tb.Fatal); it never
// skips it.
//
//	spec := testref.Read(t, testref.ChatOpenAPI)       // []byte
//	testref.JSON(t, testref.SDKVectors, &vectors)      // decoded
//	path := testref.Path(t, testref.ChatOpenAPI)       // for loaders that want a file
//	testref.JSON(t, testref.Wycheproof("aes_gcm_test.json"), &cases)
//	name, err := testref.Seed("004_")                  // an X documentation page
//
// Files kept gzip-compressed (the Wycheproof ones, as name.json.gz) are
// decompressed transparently by Read, JSON and Path.
package testref

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Names of the vendored files, relative to testdata/reference.
const (
	// ChatOpenAPI is X API v2 OpenAPI 2.167 restricted to the Chat, public
	// key and Direct Message operations (unchanged extract).
	ChatOpenAPI = "x-api-chat-openapi.json"
	// ActivityOpenAPI is the same document restricted to the Activity API
	// and webhook operations.
	ActivityOpenAPI = "x-api-activity-openapi.json"
	// SDKVectors is the official Chat XDK's sdk_vectors.json.
	SDKVectors = "chat-xdk-sdk_vectors.json"
)

// Wycheproof names a Project Wycheproof vector file by its upstream name,
// for example Wycheproof("aes_gcm_test.json").
func Wycheproof(name string) string { return "wycheproof/" + name }

// Seed returns the name of the one seed document (X's documentation pages,
// as text, in seeds/) whose file name starts with prefix, e.g. "004_".
func Seed(prefix string) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	names, err := filepath.Glob(filepath.Join(dir, "seeds", prefix+"*.txt"))
	if err != nil {
		return "", err
	}
	if len(names) != 1 {
		return "", fmt.Errorf("testref: want one seed document seeds/%s*.txt, found %d (see testdata/reference/README.md)", prefix, len(names))
	}
	return "seeds/" + filepath.Base(names[0]), nil
}

// modulePath identifies this module's go.mod when searching for the root.
const modulePath = "module github.com/xchat-go/xchat"

// Dir returns the absolute path of testdata/reference, or an error when the
// module root cannot be found.
func Dir() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "testdata", "reference"), nil
}

// moduleRoot finds the directory holding this module's go.mod: upwards from
// the working directory (go test runs in the package directory), then from
// this source file.
func moduleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isThisModule(b) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("testref: module root (go.mod of github.com/xchat-go/xchat) not found above the working directory")
}

func isThisModule(gomod []byte) bool {
	for _, line := range strings.Split(string(gomod), "\n") {
		if strings.TrimSpace(line) == modulePath {
			return true
		}
	}
	return false
}

// Load returns the content of the vendored file name (decompressing a
// name.gz copy). It is the error-returning form of Read, for code that is
// not a test.
func Load(name string) ([]byte, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	if strings.Contains(name, "..") || filepath.IsAbs(name) {
		return nil, fmt.Errorf("testref: invalid reference name %q", name)
	}
	p := filepath.Join(dir, filepath.FromSlash(name))
	b, err := os.ReadFile(p)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("testref: %w", err)
	}
	gz, gzErr := os.ReadFile(p + ".gz")
	if errors.Is(gzErr, fs.ErrNotExist) {
		return nil, fmt.Errorf("testref: reference file %s is missing (neither %s nor %s.gz exists; see testdata/reference/README.md)", name, p, p)
	}
	if gzErr != nil {
		return nil, fmt.Errorf("testref: %w", gzErr)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("testref: %s.gz: %w", p, err)
	}
	b, err = io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("testref: %s.gz: %w", p, err)
	}
	return b, nil
}

// Read returns the content of the vendored file name; a missing file fails
// the test.
func Read(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := Load(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// JSON decodes the vendored file name into v; a missing or undecodable file
// fails the test.
func JSON(tb testing.TB, name string, v any) {
	tb.Helper()
	if err := json.Unmarshal(Read(tb, name), v); err != nil {
		tb.Fatalf("testref: %s: %v", name, err)
	}
}

// Path returns a file system path holding the content of name, for code
// that wants to open a file itself. A compressed file is decompressed into
// a temporary file removed when the test ends. A missing file fails the
// test.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	dir, err := Dir()
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(dir, filepath.FromSlash(name))
	if _, err := os.Stat(p); err == nil {
		return p
	}
	b := Read(tb, name)
	tmp := filepath.Join(tb.TempDir(), filepath.Base(p))
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return tmp
}
