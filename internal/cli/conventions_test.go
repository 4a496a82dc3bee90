package cli

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestEveryEnvironmentVariableDocumented scans the package's sources for
// every Getenv call and requires its variable in the environment table
// that 'xchat help environment' prints.
func TestEveryEnvironmentVariableDocumented(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	var calls []ast.Expr
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, id := range n.Names {
					if i < len(n.Values) {
						if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							v, err := strconv.Unquote(lit.Value)
							if err != nil {
								t.Fatalf("%s: %v", fset.Position(lit.Pos()), err)
							}
							consts[id.Name] = v
						}
					}
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Getenv" && len(n.Args) == 1 {
					calls = append(calls, n.Args[0])
				}
			}
			return true
		})
	}
	documented := map[string]bool{}
	for _, v := range environment {
		documented[v.name] = true
	}
	read := 0
	for _, arg := range calls {
		var name string
		switch a := arg.(type) {
		case *ast.Ident:
			name = consts[a.Name]
			if name == "" {
				continue // a variable: the caller passes a documented constant
			}
		case *ast.BasicLit:
			if a.Kind != token.STRING {
				t.Errorf("Getenv(%s) at %s: not a string", a.Value, fset.Position(arg.Pos()))
				continue
			}
			var err error
			if name, err = strconv.Unquote(a.Value); err != nil {
				t.Fatalf("%s: %v", fset.Position(arg.Pos()), err)
			}
		default:
			continue
		}
		read++
		if !documented[name] {
			t.Errorf("%s is read (%s) but not listed in 'xchat help environment'", name, fset.Position(arg.Pos()))
		}
	}
	for id, v := range consts {
		if strings.HasPrefix(id, "Env") && !documented[v] {
			t.Errorf("%s = %q is not listed in 'xchat help environment'", id, v)
		}
	}
	if read < 3 {
		t.Fatalf("found only %d Getenv calls: the scan is broken", read)
	}
	env, out, _ := testEnv(nil, nil)
	if st := Run(context.Background(), []string{"help", "environment"}, env); st != ExitOK {
		t.Fatalf("help environment: exit %d", st)
	}
	for _, v := range environment {
		if !strings.Contains(out.String(), v.name) {
			t.Errorf("help environment does not print %s", v.name)
		}
	}
}

// goTypeWord finds a Go type name used as a flag placeholder.
var goTypeWord = regexp.MustCompile(`(?m)^\s+-{1,2}[a-z-]+ (string|int|int64|uint|float64|duration|value)\b`)

// TestFlagHelpShowsPlaceholders: no command's help shows a Go type name as
// a flag's value, one-letter flags take one dash, and the global flags are
// listed.
func TestFlagHelpShowsPlaceholders(t *testing.T) {
	for name := range commands {
		env, out, _ := testEnv(nil, nil)
		if st := Run(context.Background(), append(strings.Fields(name), "--help"), env); st != ExitOK {
			t.Fatalf("%s --help: exit %d", name, st)
		}
		s := out.String()
		if m := goTypeWord.FindString(s); m != "" {
			t.Errorf("%s --help shows a Go type name: %q", name, m)
		}
		if strings.Contains(s, "  --o ") {
			t.Errorf("%s --help shows a one-letter flag with two dashes", name)
		}
		if !strings.Contains(s, "Global flags (before or after the command") || !strings.Contains(s, "--home DIR") {
			t.Errorf("%s --help does not list the global flags", name)
		}
	}
}

// TestResultCommandsTakeJSON: every command that prints a result takes
// --json.
func TestResultCommandsTakeJSON(t *testing.T) {
	want := []string{"init", "import-keys", "keys register", "keys show", "keys verify", "send", "react", "edit", "delete",
		"conversations", "read", "watch", "media get", "outbox", "group create", "group add", "group rotate", "dm send", "dm list"}
	for _, name := range want {
		c, ok := commands[name]
		if !ok {
			t.Errorf("no command %q", name)
			continue
		}
		env, out, _ := testEnv(nil, nil)
		Run(context.Background(), append(strings.Fields(name), "--help"), env)
		if !strings.Contains(out.String(), "  --json ") {
			t.Errorf("%s prints a result but takes no --json", name)
		}
		_ = c
	}
	for name, c := range commands {
		if c.result && !slices.Contains(want, name) {
			t.Errorf("%s is a result command missing from this test's list", name)
		}
	}
}

// TestGlobalFlagsAfterCommand: --home and --no-passphrase work after the
// command, like before it.
func TestGlobalFlagsAfterCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acct")
	env, out, errb := testEnv(nil, nil)
	if st := Run(context.Background(), []string{"init", "--user-id", "1001", "--home", dir, "--no-passphrase"}, env); st != ExitOK {
		t.Fatalf("init with global flags after it: exit %d: %s", st, errb)
	}
	fp := strings.TrimSpace(out.String())
	env, out, errb = testEnv(nil, nil)
	if st := Run(context.Background(), []string{"keys", "show", "--json", "--no-passphrase", "--home", dir}, env); st != ExitOK {
		t.Fatalf("keys show: exit %d: %s", st, errb)
	}
	if !strings.Contains(out.String(), fp) || !strings.Contains(out.String(), `"user_id":"1001"`) {
		t.Fatalf("keys show: %s", out)
	}
}

// TestExitStatuses: 1 failure, 2 usage, 4 authentication (as gh).
func TestExitStatuses(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`))
	}))
	defer refuse.Close()
	// One account without a passphrase (fast), one with (for the wrong
	// passphrase case).
	dir, pdir := filepath.Join(t.TempDir(), "acct"), filepath.Join(t.TempDir(), "pacct")
	home := map[string]string{EnvHome: dir}
	for _, args := range [][]string{{"--no-passphrase", "init", "--user-id", "1001"}, {"--home", pdir, "init", "--user-id", "1002"}} {
		env, _, errb := testEnv(map[string]string{EnvHome: dir, EnvPassphrase: "right passphrase"}, nil)
		if st := Run(context.Background(), args, env); st != ExitOK {
			t.Fatalf("%v: exit %d: %s", args, st, errb)
		}
	}
	tests := []struct {
		name   string
		vars   map[string]string
		args   []string
		status int
		stderr string
	}{
		{"usage", home, []string{"send", "--nope"}, ExitUsage, "flag provided but not defined"},
		{"token refused", home, []string{"--no-passphrase", "--api", refuse.URL, "--token", "bad", "keys", "register"}, ExitAuth, "the token was rejected"},
		{"not logged in", home, []string{"--no-passphrase", "--api", refuse.URL, "keys", "register"}, ExitAuth, "not logged in"},
		{"wrong passphrase", map[string]string{EnvPassphrase: "wrong", EnvHome: pdir}, []string{"keys", "show"}, ExitAuth, "wrong passphrase"},
		{"failure", home, []string{"--no-passphrase", "read", "--offline", "--conversation", "g123"}, ExitFailure, `unknown conversation "g123"`},
	}
	for _, tt := range tests {
		env, _, errb := testEnv(tt.vars, nil)
		st := Run(context.Background(), tt.args, env)
		if st != tt.status || !strings.Contains(errb.String(), tt.stderr) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", tt.name, st, errb, tt.status, tt.stderr)
		}
		if strings.Contains(errb.String(), "session: ") || strings.Contains(errb.String(), "api: ") {
			t.Errorf("%s: internal prefix in %q", tt.name, errb)
		}
	}
}

func TestCleanMessage(t *testing.T) {
	for in, want := range map[string]string{
		"session: peer has no usable public keys: user 5":              "peer has no usable public keys: user 5",
		"register keys: session: posting: api: addUserPublicKey: boom": "register keys: posting: addUserPublicKey: boom",
		"keystore /x is damaged: keystore: corrupt or tampered data":   "keystore /x is damaged: corrupt or tampered data",
		`message "api: as text" not delivered`:                         `message "api: as text" not delivered`,
	} {
		if got := cleanMessage(in); got != want {
			t.Errorf("cleanMessage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVersion(t *testing.T) {
	env, out, _ := testEnv(nil, nil)
	if st := Run(context.Background(), []string{"--version"}, env); st != ExitOK || !strings.HasPrefix(out.String(), "xchat ") ||
		!strings.Contains(out.String(), " go1.") {
		t.Fatalf("--version: exit %d, %q", st, out)
	}
}
