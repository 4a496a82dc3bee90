package realtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/session/realtime"
)

// rtAccount provisions, creates and registers an account on the emulator
// at base; the provisioning answer carries the app's credentials too.
func rtAccount(ctx context.Context, base, name string) (*session.Engine, api.ProvisionUserResponse) {
	body, err := json.Marshal(api.ProvisionUserRequest{Username: name})
	if err != nil {
		log.Fatal(err)
	}
	resp, err := http.Post(base+"/emulator/v1/users", "application/json", bytes.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var u api.ProvisionUserResponse
	if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
		log.Fatal(err)
	}
	client, err := api.New(api.WithBaseURL(base), api.WithBearerToken(u.AccessToken))
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
	return e, u
}

// Follow an account's events in real time: subscribe it to its chat events
// (with its own user token), open the app's Activity stream (with the
// app's bearer token) and let a Follower hand each event to the
// application once, verified and decrypted. The same Follower runs over a
// WebhookReceiver's Events.
func ExampleFollower() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	emu := emulator.New()
	srv := httptest.NewServer(emu)
	defer func() { emu.EndStreams(); srv.Close(); _ = emu.Close() }()
	alice, _ := rtAccount(ctx, srv.URL, "alice")
	bob, b := rtAccount(ctx, srv.URL, "bob")

	user, err := api.New(api.WithBaseURL(srv.URL), api.WithBearerToken(b.AccessToken))
	if err != nil {
		log.Fatal(err)
	}
	if _, _, err := user.CreateActivitySubscription(ctx, &api.CreateActivitySubscriptionRequest{
		EventType: api.EventChatReceived, Filter: api.ActivitySubscriptionFilter{UserID: bob.UserID()}}); err != nil {
		log.Fatal(err)
	}
	app, err := api.New(api.WithBaseURL(srv.URL), api.WithBearerToken(b.AppBearerToken))
	if err != nil {
		log.Fatal(err)
	}

	got := make(chan string, 1)
	f := &realtime.Follower{
		Engine: func(context.Context) (*session.Engine, error) { return bob, nil },
		Emit: func(ev *event.Event, _ realtime.Via) error {
			if en := ev.Entry(); en.Type == event.TypeMessage && en.Verified {
				got <- en.Text
			}
			return nil
		},
	}
	connected := make(chan struct{}, 1)
	stream, err := app.ActivityStream(ctx, &api.StreamOptions{OnStatus: func(st api.StreamStatus) {
		if st.State == api.StreamConnected {
			connected <- struct{}{}
		}
		if st.Reconnect {
			f.Resync() // reconcile with /events after a reconnection
		}
	}})
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = f.Run(ctx, stream.Events()) }()
	<-connected

	if _, err := alice.SendText(ctx, bob.UserID(), "hello in real time"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-got)
	cancel()
	<-stream.Done()
	// Output: hello in real time
}
