package attacks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/bot"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
)

// Attacks of the second outside review: receivers and insiders the
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

// attackBotEditOfUnseenMessage: carol, a member, signs an edit of alice's
// message; the server withholds the message and pushes the edit to bob's
// bot first (its unsigned predecessor claim pointing past the message).
// Who wrote the target cannot be known before the target arrives, and a
// handler's action cannot be undone when the edit is rejected then: no
// OnEdit handler may see it. alice's own edit of a message bob has
// stored, still reaches OnEdit.
func attackBotEditOfUnseenMessage(w *world) (string, error) {
	gr := newGroup(w)
	r, err := runBot(w, gr.bob)
	if err != nil {
		return "", err
	}
	edits := map[string]string{} // edit message id -> sender, as OnEdit saw it
	r.b.OnEdit(func(c *bot.Context) error {
		r.mu.Lock()
		edits[c.MessageID()] = c.Sender()
		r.mu.Unlock()
		r.signal()
		return nil
	})
	m := gr.alice.send(gr.g, "pay invoice 42 to account A")[0]
	w.withhold("withhold", m.MessageID)
	if sr := gr.carol.sync(gr.g); sr.err != nil {
		return "", sr.err
	}
	c, err := gr.carol.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	env := hostile.Envelope{SequenceID: hostile.NextSequenceID(m.SequenceID, 1), PreviousSequenceID: gr.hello.SequenceID,
		MessageID: "0b7c1a52-3333-4c4c-8888-000000000001", ConversationID: gr.g}
	ed, err := editEvent(gr.carol.forger(), env, c.KeyVersion, gr.carol.convKey(gr.g, c.KeyVersion), m.SequenceID, "pay invoice 42 to account M")
	if err != nil {
		return "", err
	}
	ev, err := pushOf(gr.bob, "edit-unseen-1", ed, "", nil)
	if err != nil {
		return "", err
	}
	r.pushes <- ev
	if err := r.waitFor("carol's edit handled or refused", func() bool {
		if _, ok := edits[ed.GetMessageID()]; ok {
			return true
		}
		for _, u := range r.unver {
			if u.MessageID == ed.GetMessageID() {
				return true
			}
		}
		return false
	}); err != nil {
		return "", err
	}
	w.proxy.Reset()
	own, err := gr.alice.e.Send(w.ctx, gr.g, session.Outgoing{Edit: gr.hello.SequenceID, Text: "group hello, edited"})
	if err != nil {
		return "", err
	}
	if err := r.pushGenuine(gr.bob, gr.g, own.MessageID); err != nil {
		return "", err
	}
	if err := r.waitFor("alice's own edit at OnEdit", func() bool { return edits[own.MessageID] != "" }); err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if by, ok := edits[ed.GetMessageID()]; ok {
		return "", errorf("OnEdit ran for %s's edit of alice's message %s before its author could be known", by, m.SequenceID)
	}
	var reason error
	for _, u := range r.unver {
		if u.MessageID == ed.GetMessageID() {
			reason = u.Reason
		}
	}
	return fmt.Sprintf("no OnEdit for carol's edit (OnUnverified: %v); alice's own edit reached OnEdit", reason), nil
}

var receiverAttacks = []attack{
	{"bot-edit-of-unseen-message-by-non-author", attackBotEditOfUnseenMessage},
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
