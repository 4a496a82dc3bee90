package readme

import (
	"bytes"
	"context"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// moduleRoot is the directory holding go.mod (two levels up).
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	return root
}

// block returns the body of the first fenced block with the given language
// tag after the heading.
func block(t *testing.T, heading, lang string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(moduleRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q section", heading)
	}
	s = s[i:]
	open := "\n```" + lang + "\n"
	j := strings.Index(s, open)
	if j < 0 {
		t.Fatalf("README.md section %q has no ```%s block", heading, lang)
	}
	s = s[j+len(open):]
	k := strings.Index(s, "\n```\n")
	if k < 0 {
		t.Fatalf("README.md section %q: unterminated ```%s block", heading, lang)
	}
	return s[:k+1]
}

// goTool runs the go command in dir with env additions.
func goTool(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the README tests need the go command: %v", err)
	}
	cmd := exec.Command(gobin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestReadmeEmbeddingProgram compiles the README's Go program as written,
// in a module of its own that uses this checkout, and runs it: it starts
// an in-process emulator, and bob must read alice's message verified.
func TestReadmeEmbeddingProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs the README's program")
	}
	root := moduleRoot(t)
	src := block(t, "## Embedding", "go")
	dir := t.TempDir()
	gomod := "module readmeexample\n\ngo 1.26.0\n\nrequire github.com/xchat-go/xchat v0.0.0\n\nreplace github.com/xchat-go/xchat => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "main.go": []byte(src)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Offline: every dependency is the checkout's, already in the module cache.
	out := goTool(t, dir, []string{"GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off"}, "run", ".")
	want := []string{"key_change  true", "message hi bob true"}
	if got := strings.Split(strings.TrimSpace(out), "\n"); !equal(got, want) {
		t.Fatalf("the README's program printed\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}
	if !strings.Contains(readme(t), "It prints `key_change  true` and `message hi bob true`.") {
		t.Error("the README no longer states what its program prints")
	}
	t.Logf("readme: Go program compiled and ran: %q", strings.TrimSpace(out))
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func readme(t *testing.T) string {
	raw, err := os.ReadFile(filepath.Join(moduleRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestReadmeQuickStart runs the README's install step (go install
// ./cmd/... into a temporary GOBIN) and then its CLI quick start, as
// written, in bash with a fresh HOME and only GOBIN and the system
// directories on PATH, with the "Running several replicas" block (which
// continues the quick start) run before the final kill: two xchat
// processes on one account in a throwaway PostgreSQL. The one change: the
// emulator's port 8787 becomes a free one, so parallel runs do not collide.
func TestReadmeQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and runs the README's shell block")
	}
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's quick start needs %s: %v", tool, err)
		}
	}
	root := moduleRoot(t)
	install := strings.TrimSpace(block(t, "## Install", "sh"))
	if !strings.HasPrefix(install, "go install ./cmd/...") {
		t.Fatalf("the README's install step is %q; this test runs 'go install ./cmd/...'", install)
	}
	bin := t.TempDir()
	goTool(t, root, []string{"GOBIN=" + bin}, "install", "./cmd/...")
	for _, b := range []string{"xchat", "xchatd", "xchat-demo", "xchat-bench"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			t.Fatalf("go install ./cmd/... did not install %s: %v", b, err)
		}
	}

	script := block(t, "## CLI quick start", "bash")
	// The replicas section continues the quick start while xchatd still
	// runs, before its kill.
	const kill = "kill \"$XCHATD_PID\"\n"
	if !strings.HasSuffix(script, kill) {
		t.Fatalf("the README's quick start no longer ends with %q", kill)
	}
	if _, err := exec.LookPath("pg_virtualenv"); err != nil {
		t.Fatalf("the README's replicas section needs pg_virtualenv (Debian's postgresql-common; make test installs it): %v", err)
	}
	script = strings.TrimSuffix(script, kill) + block(t, "## Running several replicas", "") + kill
	port := freePort(t)
	script = strings.ReplaceAll(script, "127.0.0.1:8787", "127.0.0.1:"+port)
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", script)
	ownGroup(cmd) // so a failing script's background xchatd is stopped too
	defer killGroup(cmd)
	cmd.Dir = home
	cmd.Env = []string{"HOME=" + home, "PATH=" + bin + string(os.PathListSeparator) + "/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		t.Fatalf("the README's quick start failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	checks := []struct{ what, re string }{
		{"alice's fingerprint", `(?m)^[A-Za-z0-9_-]{43}$`},
		{"a registered key version", `(?m)^[0-9]{6,}$`},
		{"bob reads alice's message, verified", `(?m)^#[0-9]+ .* ✓ [0-9]+ \(@alice\)  hello bob$`},
		{"alice reads bob's answer, verified", `"sender_username":"bob","type":"message".*"text":"hi alice","verified":true`},
		{"xchatd announced itself", `(?m)^listening on http://127\.0\.0\.1:` + port + `$`},
		{"replica 1's message read back from PostgreSQL", `"text":"from replica 1","verified":true`},
		{"replica 2's message read back from PostgreSQL", `"text":"from replica 2","verified":true`},
	}
	for _, c := range checks {
		if !regexp.MustCompile(c.re).MatchString(out) {
			t.Errorf("quick start output lacks %s (%s):\n%s\nstderr:\n%s", c.what, c.re, out, stderr.String())
		}
	}
	if strings.Contains(out+stderr.String(), "xchat: error") {
		t.Errorf("the quick start printed an error:\n%s", stderr.String())
	}
	t.Logf("readme: quick start ran in bash against xchatd on port %s", port)
}

// TestReadmeExamplesExist checks that every example the README names exists
// and is runnable (has an Output comment, so go test runs it and
// pkg.go.dev / go doc -http renders it with its output), using go/doc as
// pkgsite does.
func TestReadmeExamplesExist(t *testing.T) {
	root := moduleRoot(t)
	text := readme(t)
	named := regexp.MustCompile("`((?:[a-z]+\\.)?Example[A-Za-z_]*)`").FindAllStringSubmatch(text, -1)
	if len(named) < 9 {
		t.Fatalf("README names %d examples, want the workflows listed", len(named))
	}
	examples := map[string]*doc.Example{}
	for _, pkg := range []string{"session", "session/realtime", "session/backup", "emulator", "api"} {
		for name, ex := range packageExamples(t, filepath.Join(root, pkg)) {
			examples[name] = ex
			examples[filepath.Base(pkg)+"."+name] = ex
		}
	}
	for _, m := range named {
		ex, ok := examples[m[1]]
		switch {
		case !ok:
			t.Errorf("README names %s, which does not exist", m[1])
		case ex.Output == "" && !ex.EmptyOutput:
			t.Errorf("%s has no Output comment: it never runs and renders without output", m[1])
		}
	}
	for _, want := range []string{"Example_send", "Example_reply", "Example_media", "Example_group", "Example_strictTrust"} {
		if !strings.Contains(text, "`"+want+"`") {
			t.Errorf("README does not point to %s", want)
		}
	}
}

// packageExamples parses a package's external and internal test files and
// returns its examples by name, as go/doc (and pkgsite) sees them.
func packageExamples(t *testing.T, dir string) map[string]*doc.Example {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	out := map[string]*doc.Example{}
	for _, ex := range doc.Examples(files...) {
		out["Example"+ex.Name] = ex
	}
	return out
}
