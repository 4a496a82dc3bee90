package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
)

// Webhook emulation, decided where X's documents are silent or do not fit
// a local server:
//   - URLs must point at the local machine (127.0.0.1, ::1 or localhost),
//     http or https, and may carry a port: the emulator never calls out.
//   - A CRC runs on create and on PUT; there is no periodic CRC. A failed
//     CRC on create answers 400 (CrcValidationFailed) and registers
//     nothing; on PUT it answers 400 and marks the webhook invalid.
//     Invalid webhooks receive no events.
//   - Deliveries are POSTed in publication order by one worker per
//     webhook, signed with both headers; a delivery not answered 2xx is
//     tried three times (at once, after 200 ms, after 1 s), then dropped:
//     replay brings it back.
//   - Replay re-posts the retained events (24 hours, at most
//     DefaultRetainedEvents) that were delivered or attempted to the
//     webhook within [from_date, to_date + 1 minute).

const (
	webhookQueue    = 4096
	crcTokenBytes   = 24
	maxCRCAnswer    = 4 << 10
	deliverAttempts = 3
)

var retryDelays = []time.Duration{0, 200 * time.Millisecond, time.Second}

// loopbackURL checks a webhook URL: absolute http(s) on the local machine.
func loopbackURL(raw string) (*url.URL, *apiError) {
	if raw == "" || len(raw) > api.WebhookURLMaxLength {
		return nil, errInvalid("url", "UrlValidationFailed: the url must be 1 to %d characters.", api.WebhookURLMaxLength)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, errInvalid("url", "UrlValidationFailed: the url must be an absolute http(s) URL.")
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); !(host == "localhost" || (ip != nil && ip.IsLoopback())) {
		return nil, errInvalid("url", "UrlValidationFailed: the emulator only calls webhooks on the local machine (127.0.0.1, ::1, localhost).")
	}
	return u, nil
}

// crc runs a Challenge-Response Check against u: GET ?crc_token=T must
// answer 200 {"response_token": "sha256=" + base64(HMAC-SHA256(consumer
// secret, T))}.
func (rt *realtime) crc(ctx context.Context, u *url.URL) error {
	var b [crcTokenBytes]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		return err
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	target := *u
	q := target.Query()
	q.Set("crc_token", token)
	target.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return err
	}
	resp, err := rt.hc.Do(req)
	if err != nil {
		return fmt.Errorf("the CRC request failed")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the CRC request was answered %d", resp.StatusCode)
	}
	var answer struct {
		ResponseToken string `json:"response_token"`
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxCRCAnswer))
	if json.Unmarshal(body, &answer) != nil {
		return fmt.Errorf("the CRC answer is not JSON")
	}
	want := api.CRCResponseToken([]byte(rt.app.consumerSecret), token)
	if subtle.ConstantTimeCompare([]byte(answer.ResponseToken), []byte(want)) != 1 {
		return fmt.Errorf("the CRC answer's response_token is wrong")
	}
	return nil
}

func crcFailed(err error) *apiError {
	return errInvalid("url", "CrcValidationFailed: %v.", err)
}

// createWebhook is POST /2/webhooks.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, _ *principal) *apiError {
	body, perr := s.activityBody(w, r, api.OpCreateWebhooks)
	if perr != nil {
		return perr
	}
	var req api.CreateWebhookRequest
	if perr := decodeJSON(body, &req, true); perr != nil {
		return perr
	}
	u, perr := loopbackURL(req.URL)
	if perr != nil {
		return perr
	}
	rt := s.rt
	rt.mu.Lock()
	for _, wh := range rt.webhooks {
		if wh.URL == req.URL {
			rt.mu.Unlock()
			return errInvalid("url", "DuplicateUrlFailed: a webhook is already registered for this url.")
		}
	}
	if len(rt.webhooks) >= maxWebhooks {
		rt.mu.Unlock()
		return newProblem(http.StatusForbidden, api.ProblemUsageCapped, "Forbidden", "WebhookLimitExceeded: the app has reached its limit of webhooks.")
	}
	rt.mu.Unlock()
	if err := rt.crc(r.Context(), u); err != nil {
		return crcFailed(err)
	}
	wh := &webhookRec{ID: s.newID(), URL: req.URL, Valid: true, Created: s.cfg.clock().UTC()}
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return errUnavailable("The emulator is shutting down.")
	}
	wh.out = rt.newWorker(wh)
	rt.webhooks[wh.ID] = wh
	rt.mu.Unlock()
	writeJSON(w, http.StatusOK, api.CreateWebhookResponse{Data: wh.config()})
	return nil
}

func (wh *webhookRec) config() *api.WebhookConfig {
	return &api.WebhookConfig{ID: wh.ID, URL: wh.URL, Valid: wh.Valid, CreatedAt: wh.Created.Format(time.RFC3339Nano)}
}

// listWebhooks is GET /2/webhooks.
func (s *Server) listWebhooks(w http.ResponseWriter, _ *http.Request, _ *principal) *apiError {
	rt := s.rt
	rt.mu.Lock()
	out := []api.WebhookConfig{}
	for _, wh := range rt.webhooks {
		out = append(out, *wh.config())
	}
	rt.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return decimal.Compare(out[i].ID, out[j].ID) < 0 })
	writeJSON(w, http.StatusOK, api.GetWebhooksResponse{Data: out, Meta: &api.WebhooksMeta{ResultCount: len(out)}})
	return nil
}

// validateWebhook is PUT /2/webhooks/{webhook_id}: a CRC, re-enabling the
// webhook when it passes.
func (s *Server) validateWebhook(w http.ResponseWriter, r *http.Request, _ *principal) *apiError {
	id := r.PathValue("webhook_id")
	rt := s.rt
	rt.mu.Lock()
	wh := rt.webhooks[id]
	rt.mu.Unlock()
	if wh == nil {
		return errNotFound("webhook", id)
	}
	u, perr := loopbackURL(wh.URL)
	if perr != nil {
		return perr
	}
	err := rt.crc(r.Context(), u)
	rt.mu.Lock()
	wh.Valid = err == nil
	rt.mu.Unlock()
	if err != nil {
		return crcFailed(err)
	}
	writeJSON(w, http.StatusOK, api.ValidateWebhookResponse{Data: &api.WebhookValidity{Valid: true}})
	return nil
}

// deleteWebhook is DELETE /2/webhooks/{webhook_id}.
func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, _ *principal) *apiError {
	id := r.PathValue("webhook_id")
	rt := s.rt
	rt.mu.Lock()
	wh := rt.webhooks[id]
	delete(rt.webhooks, id)
	rt.mu.Unlock()
	if wh == nil {
		return errNotFound("webhook", id)
	}
	if wh.out != nil {
		wh.out.stop()
	}
	writeJSON(w, http.StatusOK, api.DeleteWebhookResponse{Data: &api.Deleted{Deleted: true}})
	return nil
}

// replayWebhook is POST /2/webhooks/replay.
func (s *Server) replayWebhook(w http.ResponseWriter, r *http.Request, _ *principal) *apiError {
	body, perr := s.activityBody(w, r, api.OpCreateWebhookReplayJob)
	if perr != nil {
		return perr
	}
	var req api.WebhookReplayRequest
	if perr := decodeJSON(body, &req, true); perr != nil {
		return perr
	}
	from, err := api.ParseReplayTime(req.FromDate)
	if err != nil {
		return errInvalid("from_date", "from_date must be yyyymmddhhmm (UTC).")
	}
	to, err := api.ParseReplayTime(req.ToDate)
	if err != nil {
		return errInvalid("to_date", "to_date must be yyyymmddhhmm (UTC).")
	}
	now := s.cfg.clock().UTC()
	if to.Before(from) {
		return errInvalid("to_date", "to_date is before from_date.")
	}
	if from.Before(now.Add(-retention).Truncate(time.Minute)) {
		return errInvalid("from_date", "Events can be replayed from the past 24 hours only.")
	}
	rt := s.rt
	rt.mu.Lock()
	wh := rt.webhooks[req.WebhookID]
	if wh == nil {
		rt.mu.Unlock()
		return errNotFound("webhook", req.WebhookID)
	}
	lines := rt.since(from, to.Add(time.Minute-time.Nanosecond), wh.ID)
	if wh.out != nil {
		for _, l := range lines {
			wh.out.enqueue(l)
		}
	}
	rt.mu.Unlock()
	writeJSON(w, http.StatusOK, api.WebhookReplayResponse{Data: &api.WebhookReplayJob{JobID: s.newID(), CreatedAt: now.Format(time.RFC3339Nano)}})
	return nil
}

// webhookWorker posts one webhook's deliveries in order.
type webhookWorker struct {
	rt   *realtime
	url  string
	ch   chan []byte
	quit chan struct{}
	once sync.Once
	done chan struct{}
}

// newWorker starts the delivery goroutine of wh. Callers hold rt.mu.
func (rt *realtime) newWorker(wh *webhookRec) *webhookWorker {
	w := &webhookWorker{rt: rt, url: wh.URL, ch: make(chan []byte, webhookQueue), quit: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// enqueue queues a delivery; a full queue drops it (replay recovers it).
func (w *webhookWorker) enqueue(line []byte) {
	select {
	case w.ch <- line:
	default:
	}
}

func (w *webhookWorker) stop() {
	w.once.Do(func() { close(w.quit) })
	<-w.done
}

func (w *webhookWorker) run() {
	defer close(w.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.quit:
		case <-w.rt.closing:
		}
		cancel()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case line := <-w.ch:
			if w.post(ctx, line) {
				w.rt.mu.Lock()
				w.rt.stats.WebhookPosts++
				w.rt.mu.Unlock()
			}
		}
	}
}

// post delivers one event, signed, with retries.
func (w *webhookWorker) post(ctx context.Context, body []byte) bool {
	app := w.rt.app
	for _, d := range retryDelays[:deliverAttempts] {
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return false
			case <-t.C:
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
		if err != nil {
			return false
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(api.HeaderWebhookSignature, api.WebhookSignature([]byte(app.consumerSecret), body))
		req.Header.Set(api.HeaderWebhookSignatureOAuth2, api.WebhookSignature([]byte(app.clientSecret), body))
		resp, err := w.rt.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return true
		}
		if strings.HasPrefix(resp.Status, "4") && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout {
			return false // the receiver refuses it: retrying cannot help
		}
	}
	return false
}
