package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/xchat-go/xchat/api"
)

// TestClientNeverFollowsRedirects: the API lists no redirect; one is an
// unexpected status, never a request to the host it names (a GET, or a
// POST carrying its body on 307), whichever HTTP client the Client was
// given.
func TestClientNeverFollowsRedirects(t *testing.T) {
	var elsewhere atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer target.Close()
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
		c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/internal", status)
		}, api.WithMaxAttempts(1))
		ctx := context.Background()
		if _, _, err := c.OpenMedia(ctx, "1-2", "abc"); err == nil {
			t.Errorf("%d: media download succeeded", status)
		}
		_, resp, err := c.SendMessage(ctx, "1-2", &api.SendChatMessageRequest{MessageID: "m", EncodedMessageCreateEvent: "AAAA"})
		if err == nil || resp == nil || resp.StatusCode != status {
			t.Errorf("%d: send: %+v, %v", status, resp, err)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("%d request(s) followed a redirect", n)
	}
}
