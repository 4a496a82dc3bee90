package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/keystore"
)

// The conventions every command shares (compared with age and gh), kept
// here so commands added later inherit them:
//
//   - Global flags (--home, --store, --api, --token, --no-passphrase) are accepted
//     before the command and after it, anywhere among its arguments.
//   - A command that prints a result takes --json and then prints it as
//     one JSON object per line (see app.result); otherwise as text.
//   - Flags are shown as "--name VALUE" ("-o FILE" for one letter) with a
//     placeholder, never a Go type name.
//   - Every environment variable the tool reads is listed in environment
//     ('xchat help environment'); a test enforces it.
//   - Exit status: 0 success, 1 failure, 2 usage error, 4 authentication
//     needed (like gh).
//   - Error messages carry no internal package prefixes ("session: ").

// ExitAuth is the exit status when authentication is needed: the token
// was refused or is missing, or the keystore passphrase is wrong.
const ExitAuth = 4

// envVar documents one environment variable the tool reads.
type envVar struct {
	name, usage string
}

// environment lists every environment variable the tool reads. 'xchat help
// environment' prints it; TestEveryEnvironmentVariableDocumented fails when
// a variable read by the tool is missing. Commands that read a new variable
// add it here.
var environment = []envVar{
	{EnvHome, "account directory (keystore and settings), like --home; default: " + defaultHomeHint()},
	{EnvStore, "keystore URL, like --store: postgres://… for an account shared by several replicas (default: the file in the account directory)"},
	{EnvAPI, "X API base URL, like --api; default " + api.DefaultBaseURL + " (or the URL given at init or login)"},
	{EnvToken, "OAuth 2.0 bearer token, like --token; default: the token stored by 'xchat login'"},
	{EnvPassphrase, "the keystore passphrase (otherwise asked on the terminal)"},
	{EnvNewPassphrase, "the new passphrase for 'xchat passphrase change'"},
	{EnvBackupPassphrase, "the passphrase of an export-keys / import-keys backup file"},
	{EnvNoPrompt, "when set, never prompt on the terminal (scripts, CI): a missing passphrase or confirmation is an error"},
	{EnvClientID, "the OAuth 2.0 client id for 'xchat login', like --client-id"},
	{EnvBrowser, "a program 'xchat login' runs with the authorization URL"},
	{EnvPIN, "the backup PIN (backup setup, restore, and the current PIN of backup change-pin)"},
	{EnvNewPIN, "the new PIN of 'xchat backup change-pin'"},
	{EnvInsecureTestBackup, "when 1, the backup client accepts what only test servers offer (FastInsecure PIN stretch, plain-HTTP realms); never for a real account"},
	{EnvRealmPins, "the Juicebox realms the backup commands accept: ID (software realm) or ID:NOISEKEY (hardware realm), hex, comma-separated; a juicebox_config that differs is refused"},
	{EnvAppToken, "the app-only bearer token that opens the Activity stream and manages webhooks (watch, webhook)"},
	{EnvConsumerSecret, "the default --secret-env of 'xchat webhook serve' (the app's consumer secret)"},
	{EnvClientSecret, "the default --client-secret-env of 'xchat webhook serve'"},
	{"XDG_CONFIG_HOME", "where the default account directory lives ($XDG_CONFIG_HOME/xchat; Linux and BSD)"},
}

// defaultHomeHint describes the default account directory.
func defaultHomeHint() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "$XDG_CONFIG_HOME/xchat (none on this system: pass --home)"
	}
	return filepath.Join(dir, "xchat")
}

// printEnvironment is 'xchat help environment'.
func printEnvironment(w io.Writer) {
	fmt.Fprint(w, "Environment variables read by xchat (flags take precedence):\n\n")
	for _, v := range environment {
		fmt.Fprintf(w, "  %-24s %s\n", v.name, v.usage)
	}
	fmt.Fprintf(w, "\nThe default account directory here is %s.\n", defaultHomeHint())
}

// exitStatusHelp documents the exit statuses.
const exitStatusHelp = `Exit status: 0 success, 1 failure, 2 usage error, 4 authentication needed
(the token was refused or is missing, or the keystore passphrase is wrong).
`

// versionString is what --version prints: the module version and, for a
// build from a checkout, the commit.
func versionString() string {
	v, rev, modified := "(devel)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	out := "xchat " + v
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		out += " (commit " + rev
		if modified {
			out += ", modified"
		}
		out += ")"
	}
	return out + " " + runtime.Version()
}

// globalFlag names, in the order help lists them.
var globalFlagNames = []string{"home", "store", "api", "token", "no-passphrase"}

// addGlobalFlags registers the global flags on fs (a command's flag set),
// so they are accepted after the command too.
func (a *app) addGlobalFlags(fs *flag.FlagSet) {
	if fs.Lookup("home") == nil {
		fs.StringVar(&a.g.home, "home", a.g.home, "account directory `DIR` (keystore and settings); env "+EnvHome+", default "+defaultHomeHint())
	}
	if fs.Lookup("store") == nil {
		fs.StringVar(&a.g.store, "store", a.g.store, "keystore `URL`: postgres://… for an account shared by several replicas (default the file in --home); env "+EnvStore)
	}
	if fs.Lookup("api") == nil {
		fs.StringVar(&a.g.apiURL, "api", a.g.apiURL, "X API base `URL`; env "+EnvAPI+" (default "+api.DefaultBaseURL+")")
	}
	if fs.Lookup("token") == nil {
		fs.StringVar(&a.g.token, "token", a.g.token, "OAuth 2.0 bearer `TOKEN`; env "+EnvToken+" (default: the token stored by login)")
	}
	if fs.Lookup("no-passphrase") == nil {
		fs.BoolVar(&a.g.noPassphrase, "no-passphrase", a.g.noPassphrase, "keystore without a passphrase (tests only: NOT protected at rest)")
	}
}

func isGlobalFlag(name string) bool {
	for _, n := range globalFlagNames {
		if n == name {
			return true
		}
	}
	return false
}

// result prints a command's result: v as one JSON line with --json,
// otherwise human (a newline is added when missing; "" prints nothing).
func (a *app) result(v any, human string) error {
	if a.json {
		return writeJSONLine(a.env.Stdout, v)
	}
	if human == "" {
		return nil
	}
	if !strings.HasSuffix(human, "\n") {
		human += "\n"
	}
	_, err := io.WriteString(a.env.Stdout, human)
	return err
}

// placeholders replace the Go type names flag.UnquoteUsage falls back to.
var placeholders = map[string]string{
	"string": "VALUE", "int": "N", "int64": "N", "uint": "N", "uint64": "N",
	"float": "NUMBER", "float64": "NUMBER", "duration": "DURATION", "value": "VALUE",
}

// printFlags prints fs's flags ("--name VALUE  usage"), global ones when
// globals is set, the others otherwise.
func printFlags(w io.Writer, fs *flag.FlagSet, globals bool) {
	fs.VisitAll(func(f *flag.Flag) {
		if isGlobalFlag(f.Name) != globals {
			return
		}
		name, usage := flag.UnquoteUsage(f)
		if p, ok := placeholders[name]; ok {
			name = p
		}
		arg := "--" + f.Name
		if len(f.Name) == 1 {
			arg = "-" + f.Name
		}
		if name != "" {
			arg += " " + name
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" && !strings.Contains(usage, "default") {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  %-26s %s%s\n", arg, usage, def)
	})
}

// authFailure reports an error that exits with ExitAuth.
func authFailure(err error) bool {
	return errors.Is(err, api.ErrUnauthorized) || errors.Is(err, errNotLoggedIn) ||
		errors.Is(err, keystore.ErrWrongPassphrase) || errors.Is(err, errWrongPassphrase)
}

// errNotLoggedIn and errWrongPassphrase mark the CLI's own authentication
// failures.
var (
	errNotLoggedIn     = errors.New("not logged in")
	errWrongPassphrase = errors.New("wrong passphrase")
)

// internalPrefix matches a package name the engine puts before its
// messages ("session: ", "api: ", …), at the start or after ": ".
var internalPrefix = regexp.MustCompile(`(^|: )(session|keystore|api|wire|crypto|inbound|secretstream|emulator|hostile): `)

// cleanMessage removes internal package prefixes from an error message.
func cleanMessage(s string) string {
	for {
		t := internalPrefix.ReplaceAllString(s, "$1")
		if t == s {
			return s
		}
		s = t
	}
}
