package attacks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/xchat-go/xchat/api"
)

// Attacks of the second outside review (h11g): receivers and insiders the
// first review did not reach. Each is an attacker the engine must refuse
// although honest traffic of the same shape passes.

// crcOracleForge asks recv's CRC endpoint to "answer a challenge" whose
// token is body, and returns the response_token (the empty string when the
// challenge is refused).
func crcOracleForge(w *world, hook *httptest.Server, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(w.ctx, "GET", hook.URL+"?crc_token="+url.QueryEscape(string(body)), nil)
	if err != nil {
		return "", err
	}
	resp, err := hook.Client().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", nil
	}
	var answer struct {
		ResponseToken string `json:"response_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return "", err
	}
	return answer.ResponseToken, nil
}

var redteam2Attacks = []attack{
	{"webhook-crc-answer-replayed-as-signature", func(w *world) (string, error) {
		// Anyone who can reach the webhook URL (no secret, not even the
		// server) sends the delivery it wants to forge as a CRC token: the
		// answer, HMAC-SHA256(secret, token) in the signature's own
		// format, is that body's signature. Both receiver set-ups (CRC
		// under the consumer secret, or under the OAuth 2.0 client secret
		// when it is the only one) are attacked, each through the header
		// its CRC secret verifies.
		consumer, client, _ := w.emu.AppCredentials()
		body := []byte(`{"data":{"event_uuid":"forged-1","event_type":"chat.received","filter":{"user_id":"1"},"payload":{"encoded_event":"AAAA"}}}`)
		setups := []struct {
			opts   api.WebhookOptions
			header string
		}{
			{api.WebhookOptions{ConsumerSecret: []byte(consumer), OAuth2ClientSecret: []byte(client)}, api.HeaderWebhookSignature},
			{api.WebhookOptions{OAuth2ClientSecret: []byte(client)}, api.HeaderWebhookSignatureOAuth2},
		}
		refused := 0
		for _, s := range setups {
			recv, err := api.NewWebhookReceiver(s.opts)
			if err != nil {
				return "", err
			}
			hook := httptest.NewServer(recv)
			token, err := crcOracleForge(w, hook, body)
			if err != nil {
				hook.Close()
				return "", err
			}
			if token != "" {
				req, err := http.NewRequestWithContext(w.ctx, "POST", hook.URL, bytes.NewReader(body))
				if err != nil {
					hook.Close()
					return "", err
				}
				req.Header.Set(s.header, token)
				resp, err := hook.Client().Do(req)
				if err != nil {
					hook.Close()
					return "", err
				}
				resp.Body.Close()
			}
			hook.Close()
			if st := recv.Stats(); st.Accepted != 0 {
				return "", errorf("delivery signed by the receiver's own CRC answer accepted (%s): %+v", s.header, st)
			}
			if token == "" {
				refused++
			}
		}
		return fmt.Sprintf("refused: %d of %d CRC challenges shaped as deliveries unanswered, no forged delivery accepted", refused, len(setups)), nil
	}},
}
