package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/xchat-go/xchat/api"
)

// ExampleClient_OpenMedia streams an encrypted media blob into a consumer
// (here a hash; in an app, the decryptor) without holding it in memory.
// Cancelling the context or closing the body stops the download.
func ExampleClient_OpenMedia() {
	blob := bytes.Repeat([]byte("ciphertext"), 100000) // 1 MB
	mux := http.NewServeMux()
	mux.HandleFunc(api.OpChatMediaDownload.Route(), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(blob)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, err := api.New(api.WithBaseURL(srv.URL), api.WithBearerToken("user-access-token"))
	if err != nil {
		log.Fatal(err)
	}
	body, resp, err := c.OpenMedia(context.Background(), "g1234567890123456789", "hk1")
	if err != nil {
		log.Fatal(err) // an *api.Error for a non-2xx answer, after any retries
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(h, body) // fails if the body is cut short or too long
	if err != nil {
		log.Fatal(err)
	}
	want := sha256.Sum256(blob)
	fmt.Println(resp.StatusCode, n, bytes.Equal(h.Sum(nil), want[:]))
	// Output: 200 1000000 true
}
