package bot_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/session"
)

// readmeBot returns the Go block of README.md's bot section.
func readmeBot(t *testing.T, root string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, "\n## Write a bot in 30 lines\n")
	if i < 0 {
		t.Fatal(`README.md has no "## Write a bot in 30 lines" section`)
	}
	s = s[i:]
	j := strings.Index(s, "\n```go\n")
	if j < 0 {
		t.Fatal("the bot section has no ```go block")
	}
	s = s[j+len("\n```go\n"):]
	k := strings.Index(s, "\n```\n")
	if k < 0 {
		t.Fatal("the bot section's ```go block is not terminated")
	}
	return s[:k+1]
}

// codeLines counts the lines of src that are code: not blank, not
// comments, not the package clause or the imports.
func codeLines(src string) int {
	n, inImport := 0, false
	for _, l := range strings.Split(src, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "import (":
			inImport = true
		case inImport:
			inImport = l != ")"
		case l == "", strings.HasPrefix(l, "//"), strings.HasPrefix(l, "package "):
		default:
			n++
		}
	}
	return n
}

// TestReadmeBot compiles the README's bot as written, in a module of its
// own using this checkout, and runs it as the account echobot against an
// in-process emulator: alice's "!echo" is answered, verified, and an
// interrupt stops the program with status 0. The program has at most 30
// lines of code.
func TestReadmeBot(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs the README's bot")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	src := readmeBot(t, root)
	if n := codeLines(src); n > 30 {
		t.Errorf("the README's bot has %d lines of code, not 30", n)
	}
	dir := t.TempDir()
	gomod := "module readmebot\n\ngo 1.26.0\n\nrequire github.com/xchat-go/xchat v0.0.0\n\nreplace github.com/xchat-go/xchat => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "main.go": []byte(src)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the README test needs the go command: %v", err)
	}
	build := exec.Command(gobin, "build", "-o", "readmebot", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README's bot does not compile: %v\n%s", err, out)
	}

	n := newNet(t)
	ctx := ctxT(t)
	alice, echobot := n.user("alice"), n.user("echobot")
	// echobot's account in a keystore file, as xchat init and keys
	// register leave it.
	home := t.TempDir()
	pass := "a long passphrase"
	db, err := boltstore.Open(filepath.Join(home, "keystore.db"), keystore.WithPassphrase([]byte(pass)))
	if err != nil {
		t.Fatal(err)
	}
	backup, err := echobot.e.ExportBackup()
	if err != nil {
		t.Fatal(err)
	}
	if err := session.ImportBackup(ctx, db, echobot.id, backup, echobot.e.PublicKeyVersion()); err != nil {
		t.Fatal(err)
	}
	clear(backup)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, appToken := n.emu.AppCredentials()
	run := exec.CommandContext(ctx, filepath.Join(dir, "readmebot"))
	run.Env = append(os.Environ(), "XCHAT_STORE=", "XCHAT_HOME="+home, "XCHAT_PASSPHRASE="+pass, "XCHAT_API="+n.srv.URL,
		"XCHAT_TOKEN="+echobot.token, "XCHAT_APP_TOKEN="+appToken)
	stderr, err := run.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs <- sc.Text()
		}
		close(logs)
	}()
	var log []string
	for ready := false; !ready; {
		select {
		case l, ok := <-logs:
			if !ok {
				t.Fatalf("the README's bot exited: %v\n%s", run.Wait(), strings.Join(log, "\n"))
			}
			log = append(log, l)
			ready = strings.Contains(l, "bot: ready")
		case <-ctx.Done():
			t.Fatalf("the README's bot never got ready:\n%s", strings.Join(log, "\n"))
		}
	}
	conv := alice.send(ctx, echobot.id, "!echo hi from the README").ConversationID
	alice.send(ctx, conv, "@echobot help")
	got := alice.waitMessages(ctx, conv, echobot.id, 2)
	if got[0] != "hi from the README" || !strings.Contains(got[1], "!echo (also !say)") {
		t.Fatalf("the README's bot answered %q", got)
	}
	if err := run.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for range logs {
		}
		done <- run.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the README's bot exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the README's bot did not stop on an interrupt")
	}
	t.Logf("readme: the bot compiled (%d lines of code) and answered %q", codeLines(src), got[0])
}
