package emulator_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
)

// ExampleNew serves the emulator over HTTP and provisions an account.
func ExampleNew() {
	srv := emulator.New()
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()

	res, err := http.Post(ts.URL+"/emulator/v1/users", "application/json", strings.NewReader(`{"username":"alice"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	res.Body.Close()
	fmt.Println(res.StatusCode)

	// Everything under /2/ needs the bearer token from that answer.
	res, err = http.Get(ts.URL + "/2/chat/conversations")
	if err != nil {
		fmt.Println(err)
		return
	}
	res.Body.Close()
	fmt.Println(res.StatusCode)
	// Output:
	// 201
	// 401
}

// ExampleStart runs an emulator inside the process with two accounts: the
// one call examples, demos and embedders' tests need.
func ExampleStart() {
	ctx := context.Background()
	local, err := emulator.Start(ctx, "alice", "bob")
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	alice := local.Users["alice"]
	client, err := api.New(api.WithBaseURL(local.URL), api.WithBearerToken(alice.Token))
	if err != nil {
		log.Fatal(err)
	}
	convs, _, err := client.ListConversations(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(alice.Username, local.Users["bob"].ID != alice.ID, len(convs.Data), strings.HasPrefix(local.URL, "http://127.0.0.1:"))
	// Output: alice true 0 true
}
