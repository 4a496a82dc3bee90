package emulator_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

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
