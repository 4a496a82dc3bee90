package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xchat-go/xchat/internal/testutil"
)

var listening = regexp.MustCompile(`^listening on (http://127\.0\.0\.1:[0-9]{1,5})$`)

// startXchatd builds and starts the real binary and returns its base URL.
func startXchatd(t *testing.T, bin string, args ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		m := listening.FindStringSubmatch(line)
		if !ok || m == nil {
			t.Fatalf("first stdout line %q (stderr %q)", line, stderr.String())
		}
		return m[1], cmd
	case <-time.After(30 * time.Second):
		t.Fatalf("no listening line (stderr %q)", stderr.String())
	}
	return "", nil
}

func provision(t *testing.T, base, name string) (id, token string) {
	t.Helper()
	return testutil.Provision(t, nil, base, name)
}

func stop(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("xchatd exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("xchatd did not shut down")
	}
}

func TestXchatd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "xchatd")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "state.db")
	base, cmd := startXchatd(t, bin, "-addr", "127.0.0.1:0", "-data", data)
	id, token := provision(t, base, "alice")
	req := testutil.Must(http.NewRequest("GET", base+"/2/users/me", nil))(t)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("x-rate-limit-limit") == "" {
		t.Fatalf("GET /2/users/me: %d", res.StatusCode)
	}
	stop(t, cmd)

	// Restart on the same data file: the account and its token survive.
	base, cmd = startXchatd(t, bin, "-addr", "127.0.0.1:0", "-data", data, "-rate-limit", "1")
	req = testutil.Must(http.NewRequest("GET", base+"/2/users/me", nil))(t)
	req.Header.Set("Authorization", "Bearer "+token)
	var me struct{ Data struct{ ID string } }
	for i, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := json.NewDecoder(res.Body).Decode(&me); err != nil {
				t.Fatal(err)
			}
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("request %d: %d, want %d", i, res.StatusCode, want)
		}
	}
	if me.Data.ID != id {
		t.Fatalf("after restart: id %q, want %q", me.Data.ID, id)
	}
	stop(t, cmd)
}

func TestRunFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-nope"}, &stdout, &stderr); code != 2 {
		t.Fatalf("bad flag: exit %d", code)
	}
	if code := run([]string{"extra"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "xchatd: error:") {
		t.Fatalf("extra argument: exit %d, %q", code, stderr.String())
	}
	if code := run([]string{"-addr", "256.0.0.1:bad"}, &stdout, &stderr); code != 1 {
		t.Fatalf("bad address: exit %d", code)
	}
	dir := t.TempDir()
	if code := run([]string{"-data", dir}, &stdout, &stderr); code != 1 { // a directory is not a data file
		t.Fatalf("bad data file: exit %d", code)
	}
}

// TestHelp: -help describes the emulator, documents -data and the README's
// port as the default, on stdout, exit 0; a bad flag is a usage error.
func TestHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if st := run([]string{"-help"}, &out, &errb); st != 0 || errb.Len() != 0 {
		t.Fatalf("-help: exit %d, stderr %q", st, errb.String())
	}
	for _, want := range []string{"local emulator of the X API v2 chat surface", "-data FILE", "survives restarts",
		"(default " + DefaultAddr + ")", "/emulator/v1/users"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-help lacks %q:\n%s", want, out.String())
		}
	}
	if DefaultAddr != "127.0.0.1:8787" {
		t.Errorf("default address %s is not the README's", DefaultAddr)
	}
	out.Reset()
	errb.Reset()
	if st := run([]string{"-bogus"}, &out, &errb); st != 2 || !strings.Contains(errb.String(), "xchatd -help") {
		t.Fatalf("-bogus: exit %d, stderr %q", st, errb.String())
	}
}
