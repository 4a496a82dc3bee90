// Command xchatd serves a local emulator of the X API v2 chat surface
// (XChat conversations, keys, media, legacy DMs, OAuth 2.0) for tests, demos
// and offline development.
//
//	xchatd [-addr 127.0.0.1:8787] [-data FILE] [-rate-limit N] [-rate-window 15m] [-v]
//	       [-juicebox-max-guesses N] [-juicebox-fast-insecure]
//
// It also serves three Juicebox realms under /juicebox/ (PIN-protected key
// backup, state in memory); -juicebox-fast-insecure makes them advertise
// the FastInsecure PIN stretch, for tests only.
//
// It prints exactly "listening on http://HOST:PORT" on stdout once it
// accepts connections (-addr 127.0.0.1:0 picks a free port). Accounts are
// provisioned with POST /emulator/v1/users {"username":"alice"}, which
// answers the user id and a bearer token. State lives in memory unless
// -data names a file, which keeps it across restarts. It shuts down
// gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/emulator/realm"
	"github.com/xchat-go/xchat/juicebox"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// DefaultAddr is where xchatd listens unless -addr says otherwise (the
// address the README's quick start uses).
const DefaultAddr = "127.0.0.1:8787"

// usage prints the description, synopsis and flags.
func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `xchatd: a local emulator of the X API v2 chat surface (XChat conversations,
public keys, media, legacy Direct Messages, OAuth 2.0) for tests, demos and
offline development. It behaves like the real API as far as X's
specification and official SDK tell, and never talks to X.

Usage: xchatd [-addr HOST:PORT] [-data FILE] [-rate-limit N] [-rate-window DURATION] [-v] [flags]

Once it accepts connections it prints "listening on http://HOST:PORT".
Create accounts with
  curl -s -XPOST http://127.0.0.1:8787/emulator/v1/users -d '{"username":"alice"}'
which answers {"id":…,"username":"alice","access_token":…}; use the token
as the bearer token of every /2/… request (xchat --token).

Flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		name, u := flag.UnquoteUsage(f)
		arg := "-" + f.Name
		if name != "" {
			arg += " " + name
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "  %-26s %s%s\n", arg, u, def)
	})
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xchatd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", DefaultAddr, "listen on `HOST:PORT` (port 0 picks a free one)")
	data := fs.String("data", "", "keep the emulator's state in `FILE` (a bbolt database, created if missing) so it survives restarts; default: in memory, lost on exit")
	rate := fs.Int("rate-limit", emulator.DefaultRateLimit, "allow `N` requests per user, operation and window (0 disables)")
	window := fs.Duration("rate-window", emulator.DefaultRateWindow, "length of a rate-limit window (`DURATION`)")
	autoUser := fs.String("oauth-auto-approve", "", "user `ID` that /i/oauth2/authorize approves without a consent page")
	verbose := fs.Bool("v", false, "log requests to stderr (never tokens or bodies)")
	jbGuesses := fs.Uint("juicebox-max-guesses", realm.DefaultMaxGuesses, "max_guess_count served in juicebox_config (1..65535)")
	jbFast := fs.Bool("juicebox-fast-insecure", false, "advertise the FastInsecure PIN stretch (tests only)")
	keyUserIDs := fs.Bool("public-key-user-ids", false, "add user_id to public keys (not in the specification; off = spec-strict)")
	failureEvents := fs.Bool("failure-events", false, "attach MessageFailureEvents to rejected sends (not in the specification)")
	fs.Usage = func() {} // -help prints usage on stdout below; errors get a hint
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			usage(fs)
			return 0
		}
		fmt.Fprintln(stderr, "Run 'xchatd -help' for usage.")
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "xchatd: error: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *jbGuesses < 1 || *jbGuesses > 0xffff {
		fmt.Fprintf(stderr, "xchatd: error: -juicebox-max-guesses must be between 1 and 65535\n")
		return 2
	}
	jbOpts := []realm.Option{realm.WithMaxGuesses(uint16(*jbGuesses))}
	if *jbFast {
		jbOpts = append(jbOpts, realm.WithPinHashingMode(juicebox.FastInsecure))
	}
	opts := []emulator.Option{emulator.WithRateLimit(*rate, *window), emulator.WithJuiceboxOptions(jbOpts...)}
	if *data != "" {
		opts = append(opts, emulator.WithDataFile(*data))
	}
	if *autoUser != "" {
		opts = append(opts, emulator.WithOAuthAutoApprove(*autoUser))
	}
	opts = append(opts, emulator.WithPublicKeyUserIDs(*keyUserIDs), emulator.WithFailureEvents(*failureEvents))
	if *verbose {
		opts = append(opts, emulator.WithLogger(slog.New(slog.NewTextHandler(stderr, nil))))
	}
	srv, err := emulator.Open(opts...)
	if err != nil {
		fmt.Fprintf(stderr, "xchatd: error: %v\n", err)
		return 1
	}
	defer func() { _ = srv.Close() }()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "xchatd: error: %v\n", err)
		return 1
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	hs.RegisterOnShutdown(srv.EndStreams) // activity streams never end by themselves
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "xchatd: error: %v\n", err)
			return 1
		}
		return 0
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintf(stderr, "xchatd: error: shutdown: %v\n", err)
		return 1
	}
	return 0
}
