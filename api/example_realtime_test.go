package api_test

import (
	"bytes"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/xchat-go/xchat/api"
)

// A webhook endpoint: X's CRC challenges are answered and deliveries are
// accepted only when their signature verifies over the raw body; verified
// events are read from Events (hand them to session.Engine.Deliver).
func ExampleWebhookReceiver() {
	secret := []byte("the app's consumer secret")
	recv, err := api.NewWebhookReceiver(api.WebhookOptions{ConsumerSecret: secret})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(recv)
	defer srv.Close()

	// What X sends: a CRC, then a signed delivery, then a forgery.
	resp, err := http.Get(srv.URL + "?crc_token=challenge")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("CRC:", resp.StatusCode)
	resp.Body.Close()
	body := []byte(`{"data":{"event_uuid":"1","event_type":"chat.received","payload":{"encoded_event":"AA=="}}}`)
	for _, sig := range []string{api.WebhookSignature(secret, body), api.WebhookSignature([]byte("guess"), body)} {
		req, err := http.NewRequest("POST", srv.URL, bytes.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set(api.HeaderWebhookSignature, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println("delivery:", resp.StatusCode)
	}
	ev := <-recv.Events()
	fmt.Println(ev.EventType, ev.EventUUID)
	// Output:
	// CRC: 200
	// delivery: 200
	// delivery: 401
	// chat.received 1
}
