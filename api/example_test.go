package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"

	"golang.org/x/oauth2"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
)

// exampleServer stands in for X (or the emulator) in the examples: it
// stores sent messages and serves them back as conversation events.
func exampleServer() *httptest.Server {
	var events []api.ChatMessageEvent
	mux := http.NewServeMux()
	mux.HandleFunc(api.OpSendChatMessage.Route(), func(w http.ResponseWriter, r *http.Request) {
		var req api.SendChatMessageRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeProblem(w, 400, api.Problem{Type: api.ProblemInvalidRequest, Title: "Invalid Request", Detail: "bad body"})
			return
		}
		events = append(events, api.ChatMessageEvent{
			ID: req.MessageID, SequenceID: strconv.Itoa(len(events) + 1), ConversationID: r.PathValue("id"),
			EncodedEvent: req.EncodedMessageCreateEvent, SenderID: "1215441834412953600",
		})
		w.Header().Set("x-rate-limit-limit", "300")
		w.Header().Set("x-rate-limit-remaining", strconv.Itoa(300-len(events)))
		w.Header().Set("x-rate-limit-reset", "4102444800")
		writeJSON(w, 201, api.SendChatMessageResponse{Data: &api.SendChatMessageData{EncodedMessageEvent: req.EncodedMessageCreateEvent}})
	})
	mux.HandleFunc(api.OpGetChatConversationEvents.Route(), func(w http.ResponseWriter, r *http.Request) {
		// One event per page, to show pagination.
		i := 0
		if tok := r.URL.Query().Get("pagination_token"); tok != "" {
			var err error
			if i, err = strconv.Atoi(tok); err != nil {
				http.Error(w, "bad pagination_token", http.StatusBadRequest)
				return
			}
		}
		resp := api.GetChatConversationEventsResponse{Meta: &api.ChatEventsMeta{}}
		if i < len(events) {
			resp.Data = events[i : i+1]
			resp.Meta.ResultCount = 1
		}
		if i+1 < len(events) {
			resp.Meta.NextToken = strconv.Itoa(i + 1)
			resp.Meta.HasMore = true
		}
		writeJSON(w, 200, resp)
	})
	mux.HandleFunc(api.OpGetUsersPublicKey.Route(), func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, 404, api.Problem{Type: api.ProblemResourceNotFound, Title: "Not Found Error", Detail: "user has no public keys"})
	})
	return httptest.NewServer(mux)
}

func ExampleClient_SendMessage() {
	srv := exampleServer()
	defer srv.Close()

	c, err := api.New(api.WithBaseURL(srv.URL), api.WithBearerToken("ACCESS_TOKEN"))
	if err != nil {
		log.Fatal(err)
	}
	// For a 1:1 chat the conversation id may be the recipient's user id.
	// MessageID is chosen by the client, so the send is retried safely.
	d, resp, err := c.SendMessage(context.Background(), "1603419180975409153", &api.SendChatMessageRequest{
		MessageID:                 "9b2f6d1e-0c55-4a53-9d0e-6a4f3a1d2c7b",
		EncodedMessageCreateEvent: "CwABAAAAA2hpIQA=", // base64 Thrift MessageCreateEvent
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, d.EncodedMessageEvent != "", resp.RateLimit.Remaining)
	// Output: 201 true 299
}

func ExampleClient_ConversationEvents() {
	srv := exampleServer()
	defer srv.Close()
	c, err := api.New(api.WithBaseURL(srv.URL), api.WithBearerToken("ACCESS_TOKEN"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for i, text := range []string{"aGk=", "dGhlcmU="} {
		req := &api.SendChatMessageRequest{MessageID: fmt.Sprint("m", i), EncodedMessageCreateEvent: text}
		if _, _, err := c.SendMessage(ctx, "g1234567890123456789", req); err != nil {
			log.Fatal(err)
		}
	}
	// The iterator follows next_token across pages.
	for ev, err := range c.ConversationEvents(ctx, "g1234567890123456789", &api.ConversationEventsOptions{MaxResults: 1}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.SequenceID, ev.ID, ev.EncodedEvent)
	}
	// Output:
	// 1 m0 aGk=
	// 2 m1 dGhlcmU=
}

func ExampleError() {
	srv := exampleServer()
	defer srv.Close()
	c, err := api.New(api.WithBaseURL(srv.URL), api.WithBearerToken("ACCESS_TOKEN"))
	if err != nil {
		log.Fatal(err)
	}
	_, _, err = c.GetUserPublicKeys(context.Background(), "1603419180975409153", nil)
	var apiErr *api.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Problem.Type)
	}
	fmt.Println(errors.Is(err, api.ErrNotFound))
	// Output:
	// 404 https://api.x.com/2/problems/resource-not-found
	// true
}

// Sign in with OAuth 2.0 (authorization code with PKCE) through a loopback
// redirect. The emulator plays X here and a stand-in browser approves the
// request; with X, use &api.OAuthConfig{ClientID: "YOUR_CLIENT_ID"} (X's
// endpoints and every chat scope by default) and open authURL for the user.
func ExampleLoopbackLogin() {
	ctx := context.Background()
	local, err := emulator.Start(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	cfg := api.NewOAuthConfig(local.URL, "YOUR_CLIENT_ID")
	cfg.AuthURL += "?emulator_user=" + local.Users["alice"].ID // the emulator's consent page stand-in
	cfg.LoopbackAddr = "127.0.0.1:0"                           // X needs the exact registered redirect: fix the port there
	tok, err := api.LoopbackLogin(ctx, cfg, func(authURL string) {
		go func() { // the "browser": follows authURL to the loopback redirect
			if resp, err := http.Get(authURL); err == nil {
				resp.Body.Close()
			}
		}()
	})
	if err != nil {
		log.Fatal(err)
	}
	// Refreshes (offline.access) are saved before use, e.g. to the keystore.
	ts := cfg.TokenSource(ctx, tok, func(t *oauth2.Token) error { return saveToKeystore(t) })
	c, err := api.New(api.WithBaseURL(local.URL), api.WithTokenSource(ts))
	if err != nil {
		log.Fatal(err)
	}
	convs, _, err := c.ListConversations(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.RefreshToken != "", len(convs.Data))
	// Output: true 0
}

func saveToKeystore(*oauth2.Token) error { return nil }
