// Package botcli is the xchat-bot program (cmd/xchat-bot): an example bot
// on package bot with !echo, !help, !whoami and !file, configured by flags
// and environment variables, that opens its account as xchat does (the
// same --home, --api, --token and --no-passphrase, and XCHAT_HOME,
// XCHAT_API, XCHAT_TOKEN, XCHAT_PASSPHRASE).
package botcli

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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/bot"
	"github.com/xchat-go/xchat/internal/cli"
	"github.com/xchat-go/xchat/session"
)

// Exit statuses (as xchat's).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// options are the program's flags; each has an environment variable
// (envOf) used when the flag is not given.
type options struct {
	name, prefix, group, direct, allow string
	concurrency                        int
	rate                               string
	transport, appToken                string
	webhookAddr, webhookPath           string
	webhookURL                         string
	poll                               time.Duration
	health                             string
	logLevel, logFormat                string
	drain                              time.Duration
}

// envOf maps flags to their environment variables.
var envOf = map[string]string{
	"name":            "XCHAT_BOT_NAME",
	"prefix":          "XCHAT_BOT_PREFIX",
	"group-commands":  "XCHAT_BOT_GROUP_COMMANDS",
	"direct-commands": "XCHAT_BOT_DIRECT_COMMANDS",
	"allow":           "XCHAT_BOT_ALLOW",
	"concurrency":     "XCHAT_BOT_CONCURRENCY",
	"rate":            "XCHAT_BOT_RATE",
	"transport":       "XCHAT_BOT_TRANSPORT",
	"app-token":       cli.EnvAppToken,
	"webhook-addr":    "XCHAT_BOT_WEBHOOK_ADDR",
	"webhook-path":    "XCHAT_BOT_WEBHOOK_PATH",
	"webhook-url":     "XCHAT_BOT_WEBHOOK_URL",
	"poll":            "XCHAT_BOT_POLL",
	"health":          "XCHAT_BOT_HEALTH",
	"log-level":       "XCHAT_BOT_LOG_LEVEL",
	"log-format":      "XCHAT_BOT_LOG_FORMAT",
	"drain":           "XCHAT_BOT_DRAIN",
}

func (o *options) define(fs *flag.FlagSet) {
	fs.StringVar(&o.name, "name", "", "the bot's X `USERNAME`, for @mentions")
	fs.StringVar(&o.prefix, "prefix", bot.DefaultPrefix, "command `PREFIX`")
	fs.StringVar(&o.group, "group-commands", "prefix-or-mention", "which group messages are commands: prefix-or-mention, mention or bare")
	fs.StringVar(&o.direct, "direct-commands", "prefix-or-mention", "which one-to-one messages are commands: prefix-or-mention, mention or bare")
	fs.StringVar(&o.allow, "allow", "", "comma-separated user `IDS` allowed to use the bot (default everyone)")
	fs.IntVar(&o.concurrency, "concurrency", bot.DefaultConcurrency, "conversations handled at once")
	fs.StringVar(&o.rate, "rate", "", "per-conversation rate limit `N/DURATION` (e.g. 10/1m; default none)")
	fs.StringVar(&o.transport, "transport", "stream", "how events arrive: stream, webhook or poll")
	fs.StringVar(&o.appToken, "app-token", "", "the app's bearer `TOKEN` (stream; webhook registration)")
	fs.StringVar(&o.webhookAddr, "webhook-addr", "127.0.0.1:8080", "webhook receiver listen `ADDRESS`")
	fs.StringVar(&o.webhookPath, "webhook-path", "/webhook", "webhook receiver URL `PATH`")
	fs.StringVar(&o.webhookURL, "webhook-url", "", "register the webhook at public `URL` (\"local\": the listening address, for xchatd)")
	fs.DurationVar(&o.poll, "poll", 5*time.Second, "reconciliation period of --transport poll")
	fs.StringVar(&o.health, "health", "", "serve /healthz, /readyz and /metrics on `ADDRESS` (default off)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
	fs.DurationVar(&o.drain, "drain", bot.DefaultDrain, "how long a shutdown waits for handlers in flight")
}

// Main runs the program with the process environment; SIGINT and SIGTERM
// stop it gracefully.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, cli.ProcessEnv())
}

// Run runs the program with args (without the program name) in env until
// ctx ends, and returns the exit status.
func Run(ctx context.Context, args []string, env *cli.Env) int {
	acct := cli.NewAccount(env)
	defer acct.Close()
	fs := flag.NewFlagSet("xchat-bot", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	acct.RegisterFlags(fs)
	var o options
	o.define(fs)
	if err := parseFlags(fs, args, env); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(env.Stdout, fs)
			return exitOK
		}
		fmt.Fprintf(env.Stderr, "xchat-bot: error: %v\nRun 'xchat-bot --help' for usage.\n", err)
		return exitUsage
	}
	log, err := newLogger(env.Stderr, o.logLevel, o.logFormat)
	if err != nil {
		fmt.Fprintf(env.Stderr, "xchat-bot: error: %v\n", err)
		return exitUsage
	}
	if err := run(ctx, acct, o, env, log); err != nil {
		var ue usageError
		if errors.As(err, &ue) || errors.Is(err, bot.ErrConfig) {
			fmt.Fprintf(env.Stderr, "xchat-bot: error: %v\n", err)
			return exitUsage
		}
		fmt.Fprintf(env.Stderr, "xchat-bot: error: %s\n", acct.Describe(err))
		return exitFailure
	}
	return exitOK
}

// usageError is a configuration mistake (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// parseFlags parses args, then fills the flags not given from their
// environment variables.
func parseFlags(fs *flag.FlagSet, args []string, env *cli.Env) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, v := range envOf {
		if val := env.Getenv(v); val != "" && !given[name] {
			if err := fs.Set(name, val); err != nil {
				return fmt.Errorf("$%s: %w", v, err)
			}
		}
	}
	return nil
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `xchat-bot: an example XChat bot (package bot).

Usage: xchat-bot [--home DIR] [--api URL] [--token T] [--no-passphrase] [flags]

Answers, in one-to-one conversations and in groups it is added to:
  !echo TEXT     repeats TEXT (also !say)
  !help          lists the commands
  !whoami        your user id and the safety number of you and the bot
  !file          sent with a file: decrypts it and sends it back with its SHA-256

The account is one made with 'xchat init' and 'xchat keys register' (same
--home, --api, --token, passphrase). Handlers see verified events only.

Flags (each also read from the environment variable shown):
`)
	fs.VisitAll(func(f *flag.Flag) {
		name, help := flag.UnquoteUsage(f)
		arg := "--" + f.Name
		if name != "" {
			arg += " " + name
		}
		if v := envOf[f.Name]; v != "" {
			help += "; $" + v
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			help += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "  %-28s %s\n", arg, help)
	})
	fmt.Fprint(w, `
Webhook secrets: $XCHAT_CONSUMER_SECRET and $XCHAT_CLIENT_SECRET.

Example (against xchatd; XCHAT_APP_TOKEN from the provisioning answer):
  xchat-bot --home ~/.xchat-bot --api http://127.0.0.1:8787 --name echobot --health 127.0.0.1:9090
`)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// botOptions turns the flags into bot options.
func (o *options) botOptions(log *slog.Logger) ([]bot.Option, error) {
	group, err := bot.ParseAddressing(o.group)
	if err != nil {
		return nil, usagef("--group-commands: %v", err)
	}
	direct, err := bot.ParseAddressing(o.direct)
	if err != nil {
		return nil, usagef("--direct-commands: %v", err)
	}
	opts := []bot.Option{bot.WithLogger(log), bot.WithName(o.name), bot.WithPrefix(o.prefix),
		bot.WithGroupAddressing(group), bot.WithDirectAddressing(direct), bot.WithConcurrency(o.concurrency), bot.WithDrain(o.drain)}
	if o.allow != "" {
		var ids []string
		for _, id := range strings.Split(o.allow, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
		opts = append(opts, bot.WithAllowList(ids...))
	}
	return opts, nil
}

// parseRate reads "N/DURATION".
func parseRate(s string) (int, time.Duration, error) {
	ns, ds, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(ns)
	if !ok || err != nil || n < 1 {
		return 0, 0, usagef("--rate %q: want N/DURATION, e.g. 10/1m", s)
	}
	d, err := time.ParseDuration(ds)
	if err != nil || d <= 0 {
		return 0, 0, usagef("--rate %q: want N/DURATION, e.g. 10/1m", s)
	}
	return n, d, nil
}

func run(ctx context.Context, acct *cli.Account, o options, env *cli.Env, log *slog.Logger) error {
	opts, err := o.botOptions(log)
	if err != nil {
		return err
	}
	acct.OnKeyChange(func(kc session.KeyChanged) {
		log.Warn("a peer's keys changed: compare the safety number before trusting it", "user_id", kc.UserID, "kind", string(kc.Kind))
	})
	e, err := acct.Engine(ctx)
	if err != nil {
		return err
	}
	if e.PublicKeyVersion() == "" {
		return usagef("the account's keys are not registered: run 'xchat keys register'")
	}
	b := bot.New(e, opts...)
	if o.rate != "" {
		n, per, err := parseRate(o.rate)
		if err != nil {
			return err
		}
		b.Use(bot.RateLimit(n, per))
	}
	register(b)
	src, stop, err := source(ctx, acct, o, env, log)
	if err != nil {
		return err
	}
	defer stop()
	if o.health != "" {
		addr, stopHealth, err := serve(o.health, b.HealthHandler())
		if err != nil {
			return err
		}
		defer stopHealth()
		log.Info("bot: health endpoint", "url", "http://"+addr)
	}
	log.Info("bot: account", "user_id", e.UserID(), "api", acct.APIBase(), "transport", o.transport)
	return b.Run(ctx, src)
}

// serve serves h on addr until the returned stop.
func serve(addr string, h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return ln.Addr().String(), func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}, nil
}

// source builds the transport --transport names.
func source(ctx context.Context, acct *cli.Account, o options, env *cli.Env, log *slog.Logger) (bot.Source, func(), error) {
	nothing := func() {}
	switch o.transport {
	case "poll":
		return bot.Poll(o.poll), nothing, nil
	case "stream", "webhook":
	default:
		return nil, nil, usagef("--transport %q: want stream, webhook or poll", o.transport)
	}
	app, err := acct.AppClient(ctx, o.appToken)
	if err != nil {
		return nil, nil, err
	}
	user, err := acct.Client(ctx)
	if err != nil {
		return nil, nil, err
	}
	if o.transport == "stream" {
		if app == nil {
			return nil, nil, usagef("the stream needs the app's bearer token (--app-token or $%s); or use --transport poll", cli.EnvAppToken)
		}
		return bot.Stream(app, user), nothing, nil
	}
	consumer, client := env.Getenv(cli.EnvConsumerSecret), env.Getenv(cli.EnvClientSecret)
	if consumer == "" && client == "" {
		return nil, nil, usagef("the webhook needs $%s or $%s", cli.EnvConsumerSecret, cli.EnvClientSecret)
	}
	if !strings.HasPrefix(o.webhookPath, "/") {
		return nil, nil, usagef("--webhook-path must start with /")
	}
	recv, err := api.NewWebhookReceiver(api.WebhookOptions{ConsumerSecret: []byte(consumer), OAuth2ClientSecret: []byte(client),
		OnReject: func(err error) { log.Warn("webhook: refused a request", "err", err) }})
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(o.webhookPath, recv)
	addr, stop, err := serve(o.webhookAddr, mux)
	if err != nil {
		return nil, nil, err
	}
	local := "http://" + addr + o.webhookPath
	log.Info("bot: webhook receiver", "url", local)
	src := &bot.WebhookSource{Receiver: recv, User: user}
	if o.webhookURL != "" {
		if app == nil {
			stop()
			return nil, nil, usagef("--webhook-url needs the app's bearer token (--app-token or $%s)", cli.EnvAppToken)
		}
		src.App, src.URL = app, o.webhookURL
		if o.webhookURL == "local" {
			src.URL = local
		}
	}
	return src, func() { stop(); recv.Close() }, nil
}
