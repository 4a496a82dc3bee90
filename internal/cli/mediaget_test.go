package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
)

// flipMedia serves h, flipping one byte of every media download's body
// at offset from its end while on is set.
func flipMedia(h http.Handler, on *atomic.Bool, fromEnd int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !on.Load() || r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/2/chat/media/") {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK && len(body) > fromEnd {
			body[len(body)-fromEnd] ^= 1
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

// TestMediaGetLeavesNoPartialFile: `xchat media get -o FILE` streams the
// download into a temporary file and moves it into place only when the
// whole stream checked out. A download tampered with near its end (after
// hundreds of KiB of authenticated frames reached the temporary file)
// fails, leaves no file (FILE nor temporary) behind, and with --force
// leaves the FILE already there untouched; without tampering the file
// arrives whole, and an existing FILE is replaced only with --force.
func TestMediaGetLeavesNoPartialFile(t *testing.T) {
	emu := emulator.New()
	var tamper atomic.Bool
	srv := httptest.NewServer(flipMedia(emu, &tamper, 30))
	defer func() { srv.Close(); _ = emu.Close() }()
	aliceID, aliceTok := testutil.Provision(t, nil, srv.URL, "alice")
	bobID, bobTok := testutil.Provision(t, nil, srv.URL, "bob")
	work := t.TempDir()
	run := func(who, token string, args ...string) (int, string, string) {
		env, out, errb := testEnv(map[string]string{EnvNoPrompt: "1", EnvToken: token}, nil)
		st := Run(context.Background(), append([]string{"--home", filepath.Join(work, who), "--api", srv.URL, "--no-passphrase"}, args...), env)
		return st, out.String(), errb.String()
	}
	must := func(who, token string, args ...string) string {
		t.Helper()
		st, out, errb := run(who, token, args...)
		if st != 0 {
			t.Fatalf("%s %v: status %d, %s", who, args, st, errb)
		}
		return strings.TrimSpace(out)
	}
	for _, u := range [][3]string{{"alice", aliceTok, aliceID}, {"bob", bobTok, bobID}} {
		must(u[0], u[1], "init", "--user-id", u[2])
		must(u[0], u[1], "keys", "register")
	}
	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(i*131 + i>>10)
	}
	src := filepath.Join(work, "talk.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	seq := must("alice", aliceTok, "send", "--to", bobID, "--file", src, "a file")

	dir := filepath.Join(work, "downloads")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "got.bin")
	get := func(extra ...string) (int, string) {
		st, _, errb := run("bob", bobTok, append([]string{"media", "get", "--conversation", aliceID, seq, "-o", out}, extra...)...)
		return st, errb
	}
	entries := func() []string {
		es := testutil.Must(os.ReadDir(dir))(t)
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return names
	}

	tamper.Store(true)
	if st, errb := get(); st == 0 || !strings.Contains(errb, "media get: decrypting media") {
		t.Fatalf("tampered download: status %d, %s", st, errb)
	}
	if names := entries(); len(names) != 0 {
		t.Fatalf("a failed download left %v behind", names)
	}

	tamper.Store(false)
	if st, errb := get(); st != 0 || !strings.Contains(errb, "Wrote "+out+" (307200 bytes") {
		t.Fatalf("download: status %d, %s", st, errb)
	}
	if got := testutil.Must(os.ReadFile(out))(t); !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes, differing from the %d sent", len(got), len(data))
	}
	if names := entries(); !slices.Equal(names, []string{"got.bin"}) {
		t.Fatalf("after a download the directory holds %v", names)
	}
	info := testutil.Must(os.Stat(out))(t)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("downloaded file mode %v, want 0600", info.Mode().Perm())
	}

	// An existing file: refused without --force; with --force, a failed
	// download leaves it as it was.
	if err := os.WriteFile(out, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, errb := get(); st == 0 || !strings.Contains(errb, "already exists") {
		t.Fatalf("over an existing file: status %d, %s", st, errb)
	}
	tamper.Store(true)
	if st, errb := get("--force"); st == 0 || !strings.Contains(errb, "decrypting media") {
		t.Fatalf("tampered download with --force: status %d, %s", st, errb)
	}
	if got := testutil.Must(os.ReadFile(out))(t); string(got) != "mine" || !slices.Equal(entries(), []string{"got.bin"}) {
		t.Fatalf("a failed download with --force left %q and %v", got, entries())
	}
	tamper.Store(false)
	if st, errb := get("--force"); st != 0 {
		t.Fatalf("download with --force: status %d, %s", st, errb)
	}
	if got := testutil.Must(os.ReadFile(out))(t); !bytes.Equal(got, data) || !slices.Equal(entries(), []string{"got.bin"}) {
		t.Fatalf("with --force: %d bytes, directory %v", len(got), entries())
	}
}
