package bot_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/bot"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// An echo bot on a local emulator of the X API: alice sends "!echo hi
// there" and reads the bot's verified reply. Against X, the engine is
// opened on the bot account's keystore with a user-token client, and
// bot.Stream takes a client holding the app's bearer token.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	local, err := emulator.Start(ctx, "alice", "echobot")
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	alice, _ := exampleAccount(ctx, local.URL, local.Users["alice"])
	echobot, botsClient := exampleAccount(ctx, local.URL, local.Users["echobot"])
	_, _, appToken := local.Server().AppCredentials()
	app, err := api.New(api.WithBaseURL(local.URL), api.WithBearerToken(appToken))
	if err != nil {
		log.Fatal(err)
	}

	b := bot.New(echobot, bot.WithName("echobot"), bot.WithLogger(slog.New(slog.DiscardHandler)))
	b.Command("echo", func(c *bot.Context) error {
		_, err := c.Reply(c.RawArgs())
		return err
	}, "say").Usage("TEXT").Describe("repeats TEXT")
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.Run(runCtx, bot.Stream(app, botsClient)) }()

	sent, err := alice.SendText(ctx, echobot.UserID(), "!echo hi there")
	if err != nil {
		log.Fatal(err)
	}
	for {
		res, err := alice.Sync(ctx, sent.ConversationID, nil)
		if err != nil {
			log.Fatal(err)
		}
		for _, en := range res.Entries {
			if en.SenderID == echobot.UserID() && en.Type == event.TypeMessage {
				fmt.Println(en.Text, en.Verified, en.ReplyTo.Validation)
				stop()
				if err := <-done; err != nil {
					log.Fatal(err)
				}
				fmt.Println(b.Stats().Handled, "handled")
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Output:
	// hi there true valid
	// 1 handled
}

// exampleAccount creates an emulator user's account and opens its engine.
func exampleAccount(ctx context.Context, base string, u emulator.User) (*session.Engine, *api.Client) {
	client, err := api.New(api.WithBaseURL(base), api.WithBearerToken(u.Token))
	if err != nil {
		log.Fatal(err)
	}
	store := keystore.NewMemory()
	if err := session.CreateAccount(ctx, store, u.ID, nil); err != nil {
		log.Fatal(err)
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(client))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := e.Register(ctx); err != nil {
		log.Fatal(err)
	}
	return e, client
}

// Help lists the registered commands, as a "!help" command would answer.
func ExampleBot_Help() {
	b := bot.New(nil, bot.WithPrefix("/"))
	b.Command("echo", nil, "say").Usage("TEXT").Describe("repeats TEXT")
	b.Command("whoami", nil).Describe("your id and our safety number")
	b.Command("help", nil)
	fmt.Println(b.Help())
	// Output:
	// Commands:
	// /echo TEXT — repeats TEXT (also /say)
	// /help
	// /whoami — your id and our safety number
}

// The health endpoint for a supervisor: liveness, readiness (after the
// first reconciliation with /events, transport connected) and metrics.
func ExampleBot_HealthHandler() {
	b := bot.New(nil)
	srv := httptest.NewServer(b.HealthHandler()) // e.g. http.ListenAndServe("127.0.0.1:9090", b.HealthHandler())
	defer srv.Close()
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode) // 503 until Run runs and is ready
	}
	// Output:
	// /healthz 503
	// /readyz 503
	// /metrics 200
}
