package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/session/realtime"
)

// Environment variables of the real-time commands.
const (
	// EnvAppToken is the app-only bearer token that opens the Activity
	// stream and manages webhooks (X: the developer app's Bearer Token;
	// the emulator: app_bearer_token of provisioning).
	EnvAppToken = "XCHAT_APP_TOKEN"
	// EnvConsumerSecret is the default --secret-env of webhook serve.
	EnvConsumerSecret = "XCHAT_CONSUMER_SECRET"
	// EnvClientSecret is the default --client-secret-env of webhook serve.
	EnvClientSecret = "XCHAT_CLIENT_SECRET"
)

// keystoreHold is how long watch keeps the keystore open after the last
// event, so bursts do not reopen it for every message while other xchat
// commands on the account still get their turn.
const keystoreHold = 2 * time.Second

// errStreamUnavailable reports that the stream cannot be used (no access
// to the Activity API): watch falls back to polling.
var errStreamUnavailable = errors.New("the Activity stream is not available")

func init() {
	register(&command{
		name:    "webhook serve",
		summary: "receive events by webhook: verify, decrypt and print them",
		help: `Serves a webhook receiver on --addr: it answers X's CRC challenges with the
consumer secret and accepts event deliveries whose x-twitter-webhooks-signature
(or -OAuth2 variant, with the client secret) verifies over the raw body; others
are refused before parsing. Every accepted event is verified and decrypted by
the account's engine, then printed like 'watch'; conversations are also
reconciled with the API, so nothing a lost delivery missed goes unseen.

The secrets are read from the environment variables named by --secret-env and
--client-secret-env, never from the command line. With --register URL, the
webhook is registered at URL (the public address X posts to, e.g. a tunnel to
--addr) and the account subscribed to it; that needs the app bearer token
(--app-token or ` + EnvAppToken + `). "--register local" registers the listening address
itself, which the local emulator (xchatd) accepts. Stops cleanly on Ctrl-C.`,
		example: "  xchat webhook serve --addr 127.0.0.1:8080 --register https://example.ngrok.app/webhook   # XCHAT_CONSUMER_SECRET set\n  xchat --api http://127.0.0.1:8080 webhook serve --addr 127.0.0.1:0 --register local --json     # against xchatd",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			o := webhookOpts{}
			fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen `ADDRESS` (host:port; port 0 picks one)")
			fs.StringVar(&o.path, "path", "/webhook", "URL `PATH` of the receiver")
			fs.StringVar(&o.secretEnv, "secret-env", EnvConsumerSecret, "environment `VARIABLE` holding the consumer secret")
			fs.StringVar(&o.clientSecretEnv, "client-secret-env", EnvClientSecret, "environment `VARIABLE` holding the OAuth 2.0 client secret (optional)")
			fs.StringVar(&o.register, "register", "", "register the webhook at public `URL` and subscribe the account to it (\"local\": the listening address, for the emulator)")
			fs.StringVar(&o.appToken, "app-token", "", "app bearer `TOKEN` for --register (default $"+EnvAppToken+")")
			fs.StringVar(&o.conv, "conversation", "", "print only conversation `ID`")
			fs.BoolVar(&o.asJSON, "json", false, "print one JSON object per event")
			return func(ctx context.Context, a *app, _ []string) error {
				return a.webhookServe(ctx, o)
			}
		},
	})
}

// appToken returns the app bearer token from the flag or the environment.
func (a *app) appToken(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return a.env.Getenv(EnvAppToken)
}

// appClient is an API client authenticated as the developer app.
func (a *app) appClient(ctx context.Context, token string) (*api.Client, error) {
	if _, err := a.openEngine(ctx, true); err != nil { // resolves the API base
		return nil, err
	}
	return api.New(api.WithBaseURL(a.base), api.WithBearerToken(token),
		api.WithUserAgent("xchat-cli/0.1 (+https://github.com/xchat-go/xchat)"))
}

// chatEventTypes are the subscriptions watch and webhook serve keep.
var chatEventTypes = []string{api.EventChatReceived, api.EventChatSent, api.EventChatConversationJoin}

// ensureSubscriptions makes sure the account is subscribed to its chat
// events (delivered to webhookID, or to the stream only when empty): the
// app lists them, the account's own token creates the missing ones.
func (a *app) ensureSubscriptions(ctx context.Context, app *api.Client, userID, webhookID string) error {
	have := map[string]bool{}
	for s, err := range app.ActivitySubscriptions(ctx, nil) {
		if err != nil {
			return err
		}
		if s.Filter.UserID == userID && s.WebhookID == webhookID {
			have[s.EventType] = true
		}
	}
	user := a.client
	for _, t := range chatEventTypes {
		if have[t] {
			continue
		}
		_, _, err := user.CreateActivitySubscription(ctx, &api.CreateActivitySubscriptionRequest{
			EventType: t, Filter: api.ActivitySubscriptionFilter{UserID: userID}, WebhookID: webhookID, Tag: "xchat-cli"})
		var ae *api.Error
		if err != nil && !(errors.As(err, &ae) && ae.StatusCode == http.StatusConflict) {
			return fmt.Errorf("subscribing to %s: %w", t, err)
		}
	}
	return nil
}

// follower builds the Follower that prints events as watch does.
func (a *app) follower(self, cid string, asJSON bool, status *statusLine) *realtime.Follower {
	return &realtime.Follower{
		Engine:       func(ctx context.Context) (*session.Engine, error) { return a.openEngine(ctx, true) },
		Release:      a.closeAccount,
		IdleRelease:  keystoreHold,
		Conversation: cid,
		Emit: func(ev *event.Event, _ realtime.Via) error {
			en := ev.Entry()
			return status.around(func() error { return a.printEntry(&en, self, asJSON, cid == "") })
		},
		OnError: func(err error) {
			_ = status.around(func() error { a.warnf("%s", describe(err, a.apiBase())); return nil })
		},
		OnSync: func(r *session.SyncResult) {
			for _, an := range r.Anomalies {
				_ = status.around(func() error {
					a.warnf("conversation %s: transcript anomaly: %s", r.ConversationID, an)
					return nil
				})
			}
		},
	}
}

// watchStream follows the account's events through the Activity stream
// until ctx ends. It returns errStreamUnavailable (wrapped) when the
// stream or the subscriptions cannot be used at all.
func (a *app) watchStream(ctx context.Context, cid string, asJSON bool, token string) error {
	e, err := a.openEngine(ctx, true)
	if err != nil {
		return err
	}
	self := e.UserID()
	app, err := a.appClient(ctx, token)
	if err != nil {
		return err
	}
	if err := a.ensureSubscriptions(ctx, app, self, ""); err != nil {
		if errors.Is(err, api.ErrUnauthorized) {
			// Not the account's token: keep describe from suggesting login.
			return fmt.Errorf("%w: the app bearer token (--app-token or %s) was rejected", errStreamUnavailable, EnvAppToken)
		}
		return fmt.Errorf("%w: %w", errStreamUnavailable, err)
	}
	status := newStatusLine(a.env.Stderr, a.env.StderrIsTerminal)
	defer status.clear()
	f := a.follower(self, cid, asJSON, status)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := app.ActivityStream(sctx, &api.StreamOptions{OnStatus: func(st api.StreamStatus) {
		status.stream(st)
		switch {
		case st.State == api.StreamConnected && st.Reconnect:
			f.Resync()
		case st.State == api.StreamSkipped:
			f.Missed()
		}
	}})
	if err != nil {
		return err
	}
	a.infof("Watching %s via the Activity stream; press Ctrl-C to stop.", orAll(cid))
	if err := f.Run(sctx, s.Events()); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	<-s.Done()
	if err := s.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %w", errStreamUnavailable, err)
	}
	return nil
}

// webhookOpts are the flags of webhook serve.
type webhookOpts struct {
	addr, path, secretEnv, clientSecretEnv string
	register, appToken, conv               string
	asJSON                                 bool
}

func (a *app) webhookServe(ctx context.Context, o webhookOpts) error {
	consumer, client := a.env.Getenv(o.secretEnv), a.env.Getenv(o.clientSecretEnv)
	if consumer == "" && client == "" {
		return usagef("webhook serve", "no secret: set $%s (or name another variable with --secret-env)", o.secretEnv)
	}
	if !strings.HasPrefix(o.path, "/") {
		return usagef("webhook serve", "--path must start with /")
	}
	e, err := a.openEngine(ctx, true)
	if err != nil {
		return err
	}
	cid := ""
	if o.conv != "" {
		if cid, err = session.CanonicalID(o.conv, e.UserID()); err != nil {
			return usagef("webhook serve", "invalid conversation id %q", o.conv)
		}
	}
	recv, err := api.NewWebhookReceiver(api.WebhookOptions{ConsumerSecret: []byte(consumer), OAuth2ClientSecret: []byte(client),
		OnReject: func(err error) { a.warnf("webhook: refused a request: %v", err) }})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(o.path, recv)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		recv.Close()
	}()
	local := fmt.Sprintf("http://%s%s", ln.Addr(), o.path)
	a.infof("listening on %s", local)
	if o.register == "local" {
		o.register = local
	}
	if o.register != "" {
		if err := a.registerWebhook(ctx, o, e.UserID()); err != nil {
			return err
		}
	}
	status := newStatusLine(io.Discard, false)
	f := a.follower(e.UserID(), cid, o.asJSON, status)
	return f.Run(ctx, recv.Events())
}

// registerWebhook registers o.register with the app and subscribes the
// account to it.
func (a *app) registerWebhook(ctx context.Context, o webhookOpts, self string) error {
	token := a.appToken(o.appToken)
	if token == "" {
		return usagef("webhook serve", "--register needs the app bearer token (--app-token or $%s)", EnvAppToken)
	}
	app, err := a.appClient(ctx, token)
	if err != nil {
		return err
	}
	id := ""
	if list, _, err := app.ListWebhooks(ctx); err == nil {
		for _, w := range list.Data {
			if w.URL == o.register {
				id = w.ID
				if _, _, err := app.ValidateWebhook(ctx, id); err != nil {
					return fmt.Errorf("revalidating webhook %s: %w", id, err)
				}
			}
		}
	}
	if id == "" {
		r, _, err := app.CreateWebhook(ctx, o.register)
		if err != nil {
			return fmt.Errorf("registering %s: %w", o.register, err)
		}
		id = r.Data.ID
	}
	if err := a.ensureSubscriptions(ctx, app, self, id); err != nil {
		return err
	}
	a.infof("webhook %s registered at %s", oneLine(id), o.register) // the id is the server's
	return nil
}

// statusLine shows the stream's state on stderr: on a terminal one line
// redrawn in place (cleared around printed events), otherwise a line per
// change of connection.
type statusLine struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	text  string
	drawn bool
}

func newStatusLine(w io.Writer, tty bool) *statusLine { return &statusLine{w: w, tty: tty} }

// stream records a stream status.
func (s *statusLine) stream(st api.StreamStatus) {
	var text string
	switch st.State {
	case api.StreamConnected:
		text = "stream: connected"
		if st.Reconnect {
			text = fmt.Sprintf("stream: reconnected (backfill %d min)", st.Backfill)
		}
	case api.StreamDisconnected:
		text = "stream: disconnected: " + oneLine(st.Err.Error())
	case api.StreamWaiting:
		if st.Wait == 0 {
			return
		}
		text = fmt.Sprintf("stream: reconnecting in %s (%s)", st.Wait.Round(10*time.Millisecond), oneLine(st.Err.Error()))
	case api.StreamSkipped, api.StreamProblem:
		text = "stream: " + oneLine(st.Err.Error())
	default:
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.text = text
	if s.tty {
		s.drawLocked()
		return
	}
	fmt.Fprintln(s.w, text)
}

func (s *statusLine) drawLocked() {
	fmt.Fprintf(s.w, "\r\033[K%s", s.text)
	s.drawn = true
}

// around runs print with the status line taken off the terminal, and
// draws it again afterwards.
func (s *statusLine) around(print func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty && s.drawn {
		fmt.Fprint(s.w, "\r\033[K")
		s.drawn = false
	}
	err := print()
	if s.tty && s.text != "" {
		s.drawLocked()
	}
	return err
}

// clear removes the status line from the terminal for good.
func (s *statusLine) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty && s.drawn {
		fmt.Fprint(s.w, "\r\033[K")
		s.drawn = false
	}
	s.text = ""
}
