// Command xchatd serves the local X API v2 chat emulator.
//
//	xchatd -addr 127.0.0.1:8080 [-data FILE] [-rate-limit N] [-rate-window 15m]
//	       [-juicebox-max-guesses N] [-juicebox-fast-insecure]
//
// It also serves three Juicebox realms under /juicebox/ (PIN-protected key
// backup, state in memory); -juicebox-fast-insecure makes them advertise
// the FastInsecure PIN stretch, for tests only.
//
// With -addr 127.0.0.1:0 it picks a free port; either way it prints
// exactly "listening on http://HOST:PORT" on stdout once it accepts
// connections. It shuts down gracefully on SIGINT or SIGTERM.
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

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xchatd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (host:port; port 0 picks one)")
	data := fs.String("data", "", "bbolt data file to keep state across restarts (default: in memory)")
	rate := fs.Int("rate-limit", emulator.DefaultRateLimit, "requests per user, per operation and window (0 disables)")
	window := fs.Duration("rate-window", emulator.DefaultRateWindow, "rate-limit window")
	autoUser := fs.String("oauth-auto-approve", "", "user id that /i/oauth2/authorize approves without a consent page")
	verbose := fs.Bool("v", false, "log requests to stderr (never tokens or bodies)")
	jbGuesses := fs.Uint("juicebox-max-guesses", realm.DefaultMaxGuesses, "max_guess_count served in juicebox_config (1..65535)")
	jbFast := fs.Bool("juicebox-fast-insecure", false, "advertise the FastInsecure PIN stretch (tests only)")
	keyUserIDs := fs.Bool("public-key-user-ids", false, "add user_id to public keys (not in the specification; off = spec-strict)")
	failureEvents := fs.Bool("failure-events", false, "attach MessageFailureEvents to rejected sends (not in the specification)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
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
