// Package cli implements the xchat command-line tool: global flags, the
// command table, terminal prompts and output formatting. All protocol work is
// done by package session; this package only turns arguments into engine
// calls and engine results into text.
//
// Conventions (see conventions.go, which holds the shared parts):
//
//   - Global flags come before or after the command:
//     xchat [--home DIR] [--api URL] [--token T] [--no-passphrase] COMMAND …
//   - stdout carries only the command's result, so it can be piped (--json:
//     one JSON object per line); progress, warnings and prompts go to
//     stderr or the terminal (/dev/tty).
//   - Errors are printed as "xchat: error: …" on stderr. Exit status 0 means
//     full success, 1 a failure, 2 a usage error, 4 authentication needed.
//   - Secrets (tokens, passphrases, keys) are never printed.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Exit statuses.
const (
	// ExitOK is full success.
	ExitOK = 0
	// ExitFailure is any failure of the command itself.
	ExitFailure = 1
	// ExitUsage is a command-line usage error.
	ExitUsage = 2
)

// Exit statuses beyond these: ExitAuth (conventions.go).

// Environment variables read by the tool.
const (
	EnvHome       = "XCHAT_HOME"
	EnvAPI        = "XCHAT_API"
	EnvToken      = "XCHAT_TOKEN"
	EnvPassphrase = "XCHAT_PASSPHRASE"
	// EnvNewPassphrase supplies the new passphrase to "passphrase change".
	EnvNewPassphrase = "XCHAT_NEW_PASSPHRASE"
	// EnvBackupPassphrase supplies the passphrase of an export-keys /
	// import-keys backup file.
	EnvBackupPassphrase = "XCHAT_BACKUP_PASSPHRASE"
	// EnvNoPrompt, when set to a non-empty value, forbids terminal prompts
	// (scripts and CI): a missing passphrase or confirmation is an error.
	EnvNoPrompt = "XCHAT_NO_PROMPT"
	// EnvClientID is the OAuth client id used by login.
	EnvClientID = "XCHAT_CLIENT_ID"
	// EnvBrowser, when set, is run with the authorization URL by login.
	EnvBrowser = "BROWSER"
	// EnvStore selects the keystore like --store: a postgres:// URL, for an
	// account served by several replicas (see keystore/storeurl).
	EnvStore = "XCHAT_STORE"
)

// Env is the process environment a command runs in. Tests replace its
// fields; Main uses the real process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv looks up an environment variable.
	Getenv func(string) string
	// StdoutIsTerminal and StderrIsTerminal report whether those streams
	// are terminals (binary output is refused on a terminal stdout; the
	// upload progress bar is drawn only on a terminal stderr).
	StdoutIsTerminal bool
	StderrIsTerminal bool
	// OpenTTY opens the terminal used for prompts. Nil, or an error, means
	// there is none.
	OpenTTY func() (TTY, error)
	// OpenBrowser, when set, is called by login with the authorization URL
	// (after it is printed). ProcessEnv runs $BROWSER.
	OpenBrowser func(url string) error
	// Now is the clock that decides when the stored access token has
	// expired and must be refreshed (nil: time.Now).
	Now func() time.Time
}

// ProcessEnv returns the Env of the running process.
func ProcessEnv() *Env {
	return &Env{
		Stdin:            os.Stdin,
		Stdout:           os.Stdout,
		Stderr:           os.Stderr,
		Getenv:           os.Getenv,
		StdoutIsTerminal: isTerminal(os.Stdout),
		StderrIsTerminal: isTerminal(os.Stderr),
		OpenTTY:          openTTY,
		OpenBrowser:      runBrowser,
	}
}

// Main runs the tool with the process environment and returns the exit
// status. SIGINT and SIGTERM cancel the running command.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, ProcessEnv())
}

// Run runs the tool with args (without the program name) in env and returns
// the exit status.
func Run(ctx context.Context, args []string, env *Env) (status int) {
	defer func() {
		// A panic is a bug; report it as an error instead of a stack trace
		// that could include secrets.
		if r := recover(); r != nil {
			fmt.Fprintf(env.Stderr, "xchat: error: internal error: %v\n", r)
			status = ExitFailure
		}
	}()
	a := &app{env: env}
	defer a.close()
	err := a.run(ctx, args)
	return a.report(err)
}

// globals are the flags accepted before the command.
type globals struct {
	home         string
	apiURL       string
	token        string
	noPassphrase bool
	store        string
}

// errHelp reports that help was requested and printed.
var errHelp = errors.New("help requested")

// usageError is a command-line mistake; its command names the help to point at.
type usageError struct {
	cmd string
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// exitError carries a specific exit status with an already printed or
// explicit message.
type exitError struct {
	status int
	err    error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// report prints err and returns the exit status.
func (a *app) report(err error) int {
	if errors.Is(err, errVersion) {
		return ExitOK
	}
	if err == nil || errors.Is(err, errHelp) {
		return ExitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(a.env.Stderr, "xchat: error: %s\n", ue.msg)
		if ue.cmd != "" {
			fmt.Fprintf(a.env.Stderr, "Run 'xchat %s --help' for usage.\n", ue.cmd)
		} else {
			fmt.Fprintf(a.env.Stderr, "Run 'xchat --help' for usage.\n")
		}
		return ExitUsage
	}
	// Error texts may quote the server: neutralise control characters.
	fmt.Fprintf(a.env.Stderr, "xchat: error: %s\n", oneLine(cleanMessage(describe(err, a.apiBase()))))
	var xe *exitError
	if errors.As(err, &xe) {
		return xe.status
	}
	if authFailure(err) {
		return ExitAuth
	}
	return ExitFailure
}

// errVersion reports that --version was printed.
var errVersion = errors.New("version printed")

func (a *app) run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("xchat", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.addGlobalFlags(fs)
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.printTopHelp(a.env.Stdout, fs)
			return errHelp
		}
		return usagef("", "%v", err)
	}
	if *version {
		fmt.Fprintln(a.env.Stdout, versionString())
		return errVersion
	}
	rest := fs.Args()
	if len(rest) == 0 {
		a.printTopHelp(a.env.Stderr, fs)
		return &exitError{status: ExitUsage, err: errors.New("no command given")}
	}
	name := rest[0]
	if name == "help" {
		switch {
		case len(rest) == 1:
			a.printTopHelp(a.env.Stdout, fs)
			return errHelp
		case len(rest) == 2 && (rest[1] == "environment" || rest[1] == "env"):
			printEnvironment(a.env.Stdout)
			return errHelp
		}
		return a.dispatch(ctx, append(rest[1:], "--help"))
	}
	return a.dispatch(ctx, rest)
}

// dispatch finds the (possibly two-word) command named by args and runs it.
func (a *app) dispatch(ctx context.Context, args []string) error {
	name := args[0]
	if len(args) > 1 {
		if c, ok := commands[name+" "+args[1]]; ok {
			return c.run(ctx, a, args[2:])
		}
	}
	if c, ok := commands[name]; ok {
		return c.run(ctx, a, args[1:])
	}
	// A group word alone ("group", "keys", …) lists its subcommands.
	var subs []string
	for n := range commands {
		if strings.HasPrefix(n, name+" ") {
			subs = append(subs, n)
		}
	}
	if len(subs) > 0 {
		sort.Strings(subs)
		w := a.env.Stderr
		if len(args) > 1 && (args[1] == "--help" || args[1] == "-h") {
			w = a.env.Stdout
		}
		fmt.Fprintf(w, "Usage: xchat %s SUBCOMMAND …\n\nSubcommands:\n", name)
		for _, n := range subs {
			fmt.Fprintf(w, "  %-22s %s\n", n, commands[n].summary)
		}
		if w == a.env.Stdout {
			return errHelp
		}
		if len(args) > 1 {
			return usagef(name, "unknown subcommand %q", args[1])
		}
		return usagef(name, "missing subcommand")
	}
	return usagef("", "unknown command %q", name)
}

func (a *app) printTopHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `xchat: end-to-end encrypted X Chat from the terminal.

Usage: xchat [--home DIR] [--api URL] [--token T] [--no-passphrase] COMMAND [flags] [args]

Global flags may also follow the command. Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-22s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, "\nGlobal flags:\n")
	printFlags(w, fs, true)
	fmt.Fprintf(w, "  %-26s %s\n", "--version", "print the version and exit")
	fmt.Fprintf(w, `
The account directory defaults to %s.
Environment: %s, %s, %s, %s, %s and more; see 'xchat help environment'.
%s
Example:
  xchat --home ~/.xchat-alice init --user-id 1001
  xchat --home ~/.xchat-alice keys register
  xchat --home ~/.xchat-alice send --to 1002 "hello bob"

Run 'xchat COMMAND --help' for a command's flags and an example.
`, defaultHomeHint(), EnvHome, EnvStore, EnvAPI, EnvToken, EnvPassphrase, exitStatusHelp)
}

// homeDir resolves the account directory: --home, XCHAT_HOME, then
// $XDG_CONFIG_HOME/xchat (or the platform's equivalent).
func (a *app) homeDir() (string, error) {
	if a.g.home != "" {
		return a.g.home, nil
	}
	if h := a.env.Getenv(EnvHome); h != "" {
		return h, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no account directory: pass --home or set %s", EnvHome)
	}
	return filepath.Join(dir, "xchat"), nil
}
