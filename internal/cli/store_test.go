package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// runXchat runs the tool with args and the environment vars, and returns its
// stdout; a non-zero exit fails t.
func runXchat(t *testing.T, vars map[string]string, args ...string) string {
	t.Helper()
	env, out, errb := testEnv(vars, nil)
	if st := Run(context.Background(), args, env); st != ExitOK {
		t.Fatalf("xchat %s: exit %d: %s", strings.Join(args, " "), st, errb)
	}
	return out.String()
}

// TestStoreMigrateFilePostgresFile moves an account from its keystore file
// into PostgreSQL (selected by XCHAT_STORE, then --store) and back into a
// new account directory: the same identity answers everywhere.
func TestStoreMigrateFilePostgresFile(t *testing.T) {
	pg := pgtest.Shared(t).NewDatabase(t) + "&xchat_schema=cli_acct"
	vars := map[string]string{EnvPassphrase: "migrate me", EnvNoPrompt: "1"}
	home := t.TempDir()
	fp := runXchat(t, vars, "--home", home, "init", "--user-id", "1001")
	runXchat(t, vars, "--home", home, "store", "migrate", "--to", pg)

	inPG := map[string]string{EnvPassphrase: "migrate me", EnvNoPrompt: "1", EnvStore: pg}
	if got := runXchat(t, inPG, "keys", "show"); !strings.Contains(got, strings.TrimSpace(fp)) {
		t.Fatalf("keys show from PostgreSQL = %q, want fingerprint %q", got, fp)
	}
	back := filepath.Join(t.TempDir(), "back")
	runXchat(t, vars, "--store", pg, "store", "migrate", "--to", back)
	if got := runXchat(t, vars, "--home", back, "keys", "show"); !strings.Contains(got, strings.TrimSpace(fp)) {
		t.Fatalf("keys show after migrating back = %q, want %q", got, fp)
	}

	// An occupied destination and a second init are refused.
	env, _, errb := testEnv(vars, nil)
	if st := Run(context.Background(), []string{"--home", home, "store", "migrate", "--to", pg}, env); st != ExitFailure ||
		!strings.Contains(errb.String(), "already holds an account") {
		t.Fatalf("migrating onto an account: exit %d, %q", st, errb)
	}
	env, _, errb = testEnv(inPG, nil)
	if st := Run(context.Background(), []string{"init", "--user-id", "1002"}, env); st != ExitFailure ||
		!strings.Contains(errb.String(), "already exists") {
		t.Fatalf("init over an account in PostgreSQL: exit %d, %q", st, errb)
	}
	wrong := map[string]string{EnvPassphrase: "not it", EnvNoPrompt: "1", EnvStore: pg}
	env, _, errb = testEnv(wrong, nil)
	if st := Run(context.Background(), []string{"keys", "show"}, env); st != ExitFailure || !strings.Contains(errb.String(), "wrong passphrase") {
		t.Fatalf("wrong passphrase: exit %d, %q", st, errb)
	}
}
