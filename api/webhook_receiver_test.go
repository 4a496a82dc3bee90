package api_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/api"
)

// Vectors computed with openssl, independently of this package:
//
//	printf 'challenge-token' | openssl dgst -sha256 -hmac 'consumer-secret' -binary | base64
//	printf '{"data":{}}' | openssl dgst -sha256 -hmac 'consumer-secret' -binary | base64
const (
	crcVector  = "sha256=VZK9B1kCyurInvXeJ+LoGXGP568O3i5YIWthXZNE0QA="
	bodyVector = "sha256=RgUBLfcxMY9p4IskLCtHGW9zP0y1XBbPueX/xCFu94Y="
)

func TestWebhookSignatureVectors(t *testing.T) {
	if got := api.CRCResponseToken([]byte("consumer-secret"), "challenge-token"); got != crcVector {
		t.Errorf("CRC token %s", got)
	}
	if got := api.WebhookSignature([]byte("consumer-secret"), []byte(`{"data":{}}`)); got != bodyVector {
		t.Errorf("signature %s", got)
	}
	if !api.VerifyWebhookSignature([]byte("consumer-secret"), []byte(`{"data":{}}`), bodyVector) {
		t.Error("vector does not verify")
	}
	for _, bad := range []string{"", "sha256=", bodyVector[:len(bodyVector)-2] + "A=", strings.TrimPrefix(bodyVector, "sha256="),
		"SHA256=" + strings.TrimPrefix(bodyVector, "sha256="), bodyVector + " "} {
		if api.VerifyWebhookSignature([]byte("consumer-secret"), []byte(`{"data":{}}`), bad) {
			t.Errorf("%q verified", bad)
		}
	}
}

func newReceiver(t *testing.T, opts api.WebhookOptions) *api.WebhookReceiver {
	t.Helper()
	r, err := api.NewWebhookReceiver(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWebhookCRC(t *testing.T) {
	r := newReceiver(t, api.WebhookOptions{ConsumerSecret: []byte("consumer-secret")})
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/webhook?crc_token=challenge-token", nil))
	var got struct {
		ResponseToken string `json:"response_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("status %d, body %q: %v", rec.Code, rec.Body, err)
	}
	if got.ResponseToken != crcVector || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("answer %+v, %q", got, rec.Header().Get("Content-Type"))
	}
	for _, q := range []string{"", "?crc_token=", "?crc_token=a&crc_token=b", "?crc_token=" + strings.Repeat("x", api.MaxCRCTokenLength+1)} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("GET", "/webhook"+q, nil))
		if rec.Code != 400 {
			t.Errorf("GET %q: %d", q, rec.Code)
		}
	}
}

// TestWebhookCRCIsNoSigningOracle: a CRC answer is the signature of its
// token, so a token shaped like a delivery (a JSON object, which holds
// '{') is not answered, and a delivery signed with what an answer would
// have been is refused only because the answer was never given.
func TestWebhookCRCIsNoSigningOracle(t *testing.T) {
	var rejected []error
	r := newReceiver(t, api.WebhookOptions{ConsumerSecret: []byte("consumer-secret"), OnReject: func(err error) { rejected = append(rejected, err) }})
	for _, token := range []string{chatBody, " " + chatBody, "x{"} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("GET", "/webhook?crc_token="+url.QueryEscape(token), nil))
		if rec.Code != 400 || strings.Contains(rec.Body.String(), "sha256=") {
			t.Errorf("CRC of %q: %d %q", token, rec.Code, rec.Body)
		}
	}
	if len(rejected) != 3 || !errors.Is(rejected[0], api.ErrCRCTokenShape) {
		t.Errorf("rejections %v", rejected)
	}
	// The honest token alphabet (base64url, as the emulator's) is answered.
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/webhook?crc_token=Zm9vYmFy-_0123456789", nil))
	if rec.Code != 200 {
		t.Errorf("honest CRC: %d", rec.Code)
	}
	if st := r.Stats(); st.CRC != 1 || st.Malformed != 3 || st.Accepted != 0 {
		t.Errorf("stats %+v", st)
	}
}

// post sends body with the given signature headers.
func post(r http.Handler, body string, headers map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/webhook", strings.NewReader(body))
	for k, v := range headers {
		req.Header.Add(k, v)
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

const chatBody = `{"data":{"event_uuid":"8511582263942905822","filter":{"user_id":"1111111111111111111"},"event_type":"chat.received","tag":"t","payload":{"conversation_id":"2:1","encoded_event":"AA=="}}}`

// TestWebhookRefusesBadSignaturesBeforeParsing: unsigned, wrongly signed,
// doubly signed and wrong-variant bodies are refused with 401 and never
// parsed (a malformed body counts as a signature failure, not as
// malformed); a correct signature of either variant is accepted and
// queued.
func TestWebhookRefusesBadSignaturesBeforeParsing(t *testing.T) {
	consumer, client := []byte("consumer-secret"), []byte("client-secret")
	var rejects []error
	r := newReceiver(t, api.WebhookOptions{ConsumerSecret: consumer, OAuth2ClientSecret: client,
		OnReject: func(err error) { rejects = append(rejects, err) }})
	garbage := `{"data": not json at all`
	sig := api.WebhookSignature(consumer, []byte(garbage))
	cases := []struct {
		name    string
		body    string
		headers map[string]string
	}{
		{"unsigned", garbage, nil},
		{"wrong secret", garbage, map[string]string{api.HeaderWebhookSignature: api.WebhookSignature([]byte("guess"), []byte(garbage))}},
		{"other body", garbage, map[string]string{api.HeaderWebhookSignature: api.WebhookSignature(consumer, []byte(chatBody))}},
		{"consumer key in the oauth2 header", garbage, map[string]string{api.HeaderWebhookSignatureOAuth2: sig}},
		{"one good one bad", garbage, map[string]string{api.HeaderWebhookSignature: sig,
			api.HeaderWebhookSignatureOAuth2: api.WebhookSignature([]byte("guess"), []byte(garbage))}},
		{"header twice", garbage, map[string]string{api.HeaderWebhookSignature: sig, "x-twitter-webhooks-signature": sig}},
	}
	for _, c := range cases {
		rec := post(r, c.body, c.headers)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: status %d", c.name, rec.Code)
		}
	}
	st := r.Stats()
	if st.BadSignature != len(cases) || st.Malformed != 0 || st.Accepted != 0 {
		t.Fatalf("stats %+v: a refused body was parsed or accepted", st)
	}
	for _, err := range rejects {
		if !errors.Is(err, api.ErrWebhookSignature) {
			t.Errorf("reject reason %v", err)
		}
	}
	// A verified malformed body is parsed, and refused as malformed.
	if rec := post(r, garbage, map[string]string{api.HeaderWebhookSignature: sig}); rec.Code != 400 || r.Stats().Malformed != 1 {
		t.Errorf("signed garbage: %d %+v", rec.Code, r.Stats())
	}
	for _, h := range []map[string]string{
		{api.HeaderWebhookSignature: api.WebhookSignature(consumer, []byte(chatBody))},
		{"X-Twitter-Webhooks-Signature-OAuth2": api.WebhookSignature(client, []byte(chatBody))},
		{api.HeaderWebhookSignature: api.WebhookSignature(consumer, []byte(chatBody)),
			api.HeaderWebhookSignatureOAuth2: api.WebhookSignature(client, []byte(chatBody))},
	} {
		if rec := post(r, chatBody, h); rec.Code != 200 {
			t.Errorf("good delivery %v: %d", h, rec.Code)
		}
	}
	for range 3 {
		ev := <-r.Events()
		p, err := ev.ChatPayload()
		if err != nil || ev.EventUUID != "8511582263942905822" || p.ConversationID != "2:1" {
			t.Errorf("queued %+v %v", ev, err)
		}
	}
}

// TestWebhookLimits: oversized bodies are refused without reading them
// all; a full queue answers 503; a closed receiver refuses; other methods
// get 405.
func TestWebhookLimits(t *testing.T) {
	secret := []byte("s")
	r := newReceiver(t, api.WebhookOptions{ConsumerSecret: secret, MaxBodyBytes: 512, Queue: 1})
	big := `{"data":{"event_uuid":"1","event_type":"chat.received","payload":{"encoded_event":"` + strings.Repeat("A", 1000) + `"}}}`
	if rec := post(r, big, map[string]string{api.HeaderWebhookSignature: api.WebhookSignature(secret, []byte(big))}); rec.Code != 413 {
		t.Errorf("oversized: %d", rec.Code)
	}
	// Without Content-Length (chunked), the limit still holds.
	req := httptest.NewRequest("POST", "/webhook", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set(api.HeaderWebhookSignature, api.WebhookSignature(secret, []byte(big)))
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != 413 || r.Stats().TooLarge != 2 {
		t.Errorf("chunked oversized: %d %+v", rec.Code, r.Stats())
	}
	sign := map[string]string{api.HeaderWebhookSignature: api.WebhookSignature(secret, []byte(chatBody))}
	if rec := post(r, chatBody, sign); rec.Code != 200 {
		t.Errorf("first: %d", rec.Code)
	}
	if rec := post(r, chatBody, sign); rec.Code != 503 || r.Stats().QueueFull != 1 {
		t.Errorf("queue full: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("PUT", "/webhook", nil))
	if rec.Code != 405 {
		t.Errorf("PUT: %d", rec.Code)
	}
	r.Close()
	if rec := post(r, chatBody, sign); rec.Code != 503 {
		t.Errorf("closed: %d", rec.Code)
	}
	if _, ok := <-r.Events(); !ok {
		t.Error("the queued delivery was lost on Close")
	}
	if _, ok := <-r.Events(); ok {
		t.Error("Events not closed")
	}
	if _, err := api.NewWebhookReceiver(api.WebhookOptions{}); err == nil {
		t.Error("receiver without a secret")
	}
}
