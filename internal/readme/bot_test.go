package readme

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

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

// engineFor opens u's engine on store and publishes its keys.
func engineFor(t *testing.T, ctx context.Context, base string, u emulator.User, store keystore.Store) *session.Engine {
	t.Helper()
	client, err := api.New(api.WithBaseURL(base), api.WithBearerToken(u.Token))
	if err != nil {
		t.Fatal(err)
	}
	if err := session.CreateAccount(ctx, store, u.ID, nil); err != nil {
		t.Fatal(err)
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(client))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Register(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestReadmeBot compiles the README's bot as written, in a module of its
// own using this checkout, and runs it as the account echobot (a keystore
// file with a passphrase, as xchat init and keys register leave it)
// against an in-process emulator: alice's "!echo" and "@echobot help" are
// answered, verified, and an interrupt stops the program with status 0.
// The program has at most 30 lines of code.
func TestReadmeBot(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs the README's bot")
	}
	root := moduleRoot(t)
	src := block(t, "## Write a bot in 30 lines", "go")
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
	goTool(t, dir, []string{"GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off"}, "build", "-o", "readmebot", ".")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	local, err := emulator.Start(ctx, "alice", "echobot")
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	alice := engineFor(t, ctx, local.URL, local.Users["alice"], keystore.NewMemory())
	defer alice.Close()
	home, pass := t.TempDir(), "a long passphrase"
	db, err := boltstore.Open(filepath.Join(home, "keystore.db"), keystore.WithPassphrase([]byte(pass)))
	if err != nil {
		t.Fatal(err)
	}
	botID := engineFor(t, ctx, local.URL, local.Users["echobot"], db).UserID()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, appToken := local.Server().AppCredentials()
	run := exec.CommandContext(ctx, filepath.Join(dir, "readmebot"))
	run.Env = append(os.Environ(), "XCHAT_STORE=", "XCHAT_HOME="+home, "XCHAT_PASSPHRASE="+pass, "XCHAT_API="+local.URL,
		"XCHAT_TOKEN="+local.Users["echobot"].Token, "XCHAT_APP_TOKEN="+appToken)
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
	sent, err := alice.SendText(ctx, botID, "!echo hi from the README")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SendText(ctx, sent.ConversationID, "@echobot help"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		res, err := alice.Sync(ctx, sent.ConversationID, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range res.Entries {
			if en.SenderID == botID && en.Type == event.TypeMessage && en.Verified {
				got = append(got, en.Text)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the README's bot answered %q:\n%s", got, strings.Join(log, "\n"))
		case <-time.After(20 * time.Millisecond):
		}
	}
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
	case <-ctx.Done():
		t.Fatal("the README's bot did not stop on an interrupt")
	}
	t.Logf("readme: the bot compiled (%d lines of code) and answered %q", codeLines(src), got[0])
}
