package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Webhook signature headers. X documents the first, keyed with the app's
// consumer secret; newer pages describe a variant keyed with the OAuth 2.0
// client secret. Both carry "sha256=" + base64(HMAC-SHA256(secret, body)).
const (
	HeaderWebhookSignature       = "X-Twitter-Webhooks-Signature"
	HeaderWebhookSignatureOAuth2 = "X-Twitter-Webhooks-Signature-Oauth2"
)

// Defaults of WebhookReceiver.
const (
	// DefaultWebhookQueue is the number of verified deliveries waiting for
	// the consumer; a delivery arriving when it is full is answered 503.
	DefaultWebhookQueue = 256
	// MaxCRCTokenLength bounds a CRC challenge token.
	MaxCRCTokenLength = 1024
)

// Webhook receiver errors, reported through WebhookOptions.OnReject.
var (
	// ErrWebhookSignature: the body is unsigned or a signature does not
	// verify. The body was not parsed.
	ErrWebhookSignature = errors.New("api: webhook signature missing or invalid")
	// ErrWebhookTooLarge: the body exceeds the size limit.
	ErrWebhookTooLarge = errors.New("api: webhook body too large")
	// ErrWebhookQueueFull: the consumer is behind; the delivery was refused.
	ErrWebhookQueueFull = errors.New("api: webhook queue full")
	// ErrCRCTokenShape: a CRC token that could be a delivery body (it
	// holds '{'); answering it would sign that body. Not answered.
	ErrCRCTokenShape = errors.New("api: webhook: crc_token shaped like a delivery body; not answered")
)

// crcTokenSafe reports whether a CRC token can never be a body the
// receiver accepts: a delivery is a JSON object, which holds '{' (JSON has
// no escapes outside strings), so a token without one cannot be signed
// into a delivery by its CRC answer.
func crcTokenSafe(token string) bool { return !strings.Contains(token, "{") }

// WebhookSignature returns the signature header value of body under secret:
// "sha256=" + base64(HMAC-SHA256(secret, body)). The same construction
// answers a CRC (see CRCResponseToken).
func WebhookSignature(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// CRCResponseToken is the response_token answering a CRC challenge.
func CRCResponseToken(secret []byte, crcToken string) string {
	return WebhookSignature(secret, []byte(crcToken))
}

// VerifyWebhookSignature reports whether header is a valid signature of
// body under secret. The MAC is compared in constant time.
func VerifyWebhookSignature(secret, body []byte, header string) bool {
	b64, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(secret) == 0 {
		return false
	}
	got, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// WebhookOptions configure a WebhookReceiver. At least one secret is
// required.
type WebhookOptions struct {
	// ConsumerSecret (the app's API secret key) answers CRC challenges and
	// verifies X-Twitter-Webhooks-Signature.
	ConsumerSecret []byte
	// OAuth2ClientSecret verifies X-Twitter-Webhooks-Signature-OAuth2 (and
	// answers CRCs when there is no consumer secret).
	OAuth2ClientSecret []byte
	// MaxBodyBytes bounds a delivery (default
	// DefaultMaxActivityMessageBytes); larger bodies are answered 413.
	MaxBodyBytes int64
	// Queue is the number of verified deliveries buffered (default
	// DefaultWebhookQueue).
	Queue int
	// OnReject, when set, is called with every refused request's reason
	// (never with the body).
	OnReject func(error)
}

// WebhookStats counts a receiver's requests.
type WebhookStats struct {
	CRC, Accepted            int
	BadSignature, TooLarge   int
	Malformed, QueueFull     int
	KeepAlives, OtherMethods int
}

// WebhookReceiver is the http.Handler of a webhook URL: it answers CRC
// challenges (GET ?crc_token=…) and accepts event deliveries (POST) whose
// signature verifies over the raw body. Nothing of an unsigned or wrongly
// signed body is parsed. A verified delivery is parsed, queued and answered
// 200 at once; the consumer reads it from Events. Verification covers the
// transport only: the events themselves are still the server's claims, for
// the engine to verify.
type WebhookReceiver struct {
	consumer, oauth2 []byte
	maxBody          int64
	onReject         func(error)

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	queue  chan *ActivityEvent

	smu   sync.Mutex
	stats WebhookStats
}

// NewWebhookReceiver returns a receiver for the given secrets.
func NewWebhookReceiver(opts WebhookOptions) (*WebhookReceiver, error) {
	if len(opts.ConsumerSecret) == 0 && len(opts.OAuth2ClientSecret) == 0 {
		return nil, errors.New("api: webhook receiver needs a consumer secret or an OAuth 2.0 client secret")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxActivityMessageBytes
	}
	if opts.Queue <= 0 {
		opts.Queue = DefaultWebhookQueue
	}
	return &WebhookReceiver{
		consumer: append([]byte(nil), opts.ConsumerSecret...),
		oauth2:   append([]byte(nil), opts.OAuth2ClientSecret...),
		maxBody:  opts.MaxBodyBytes,
		onReject: opts.OnReject,
		queue:    make(chan *ActivityEvent, opts.Queue),
	}, nil
}

// Events returns the verified deliveries, in the order they were accepted.
// The channel is closed by Close.
func (r *WebhookReceiver) Events() <-chan *ActivityEvent { return r.queue }

// Close stops accepting deliveries (they are answered 503) and closes
// Events once the queued ones are read.
func (r *WebhookReceiver) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.queue)
	}
}

// Stats returns the receiver's counters.
func (r *WebhookReceiver) Stats() WebhookStats {
	r.smu.Lock()
	defer r.smu.Unlock()
	return r.stats
}

func (r *WebhookReceiver) count(f func(*WebhookStats)) {
	r.smu.Lock()
	f(&r.stats)
	r.smu.Unlock()
}

func (r *WebhookReceiver) reject(w http.ResponseWriter, status int, err error, count func(*WebhookStats)) {
	r.count(count)
	if r.onReject != nil {
		r.onReject(err)
	}
	http.Error(w, http.StatusText(status), status)
}

// ServeHTTP implements http.Handler.
func (r *WebhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch req.Method {
	case http.MethodGet:
		r.serveCRC(w, req)
	case http.MethodPost:
		r.serveDelivery(w, req)
	default:
		w.Header().Set("Allow", "GET, POST")
		r.reject(w, http.StatusMethodNotAllowed, errors.New("api: webhook: method "+req.Method), func(s *WebhookStats) { s.OtherMethods++ })
	}
}

// serveCRC answers GET ?crc_token=T with {"response_token": "sha256=…"}.
//
// The answer is HMAC-SHA256(secret, T) in the very format of a delivery's
// signature header, under the same secret: answering a token that could be
// a delivery body would sign that body for whoever asked (anyone who can
// reach the URL). Every body a delivery is read from is a JSON object, so
// a token holding '{' is refused (X's tokens are random strings without
// one; see crcTokenSafe).
func (r *WebhookReceiver) serveCRC(w http.ResponseWriter, req *http.Request) {
	tokens := req.URL.Query()["crc_token"]
	if len(tokens) != 1 || tokens[0] == "" || len(tokens[0]) > MaxCRCTokenLength {
		r.reject(w, http.StatusBadRequest, errors.New("api: webhook: GET without a single crc_token"), func(s *WebhookStats) { s.Malformed++ })
		return
	}
	if !crcTokenSafe(tokens[0]) {
		r.reject(w, http.StatusBadRequest, ErrCRCTokenShape, func(s *WebhookStats) { s.Malformed++ })
		return
	}
	secret := r.consumer
	if len(secret) == 0 {
		secret = r.oauth2
	}
	r.count(func(s *WebhookStats) { s.CRC++ })
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"response_token": CRCResponseToken(secret, tokens[0])})
}

// serveDelivery reads the bounded raw body, checks its signature, then
// parses and queues it.
func (r *WebhookReceiver) serveDelivery(w http.ResponseWriter, req *http.Request) {
	if req.ContentLength > r.maxBody {
		r.reject(w, http.StatusRequestEntityTooLarge, ErrWebhookTooLarge, func(s *WebhookStats) { s.TooLarge++ })
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			r.reject(w, http.StatusRequestEntityTooLarge, ErrWebhookTooLarge, func(s *WebhookStats) { s.TooLarge++ })
			return
		}
		r.reject(w, http.StatusBadRequest, err, func(s *WebhookStats) { s.Malformed++ })
		return
	}
	if !r.signed(req.Header, body) {
		r.reject(w, http.StatusUnauthorized, ErrWebhookSignature, func(s *WebhookStats) { s.BadSignature++ })
		return
	}
	m, err := parseActivityMessage(body, int(r.maxBody))
	if err != nil {
		r.reject(w, http.StatusBadRequest, err, func(s *WebhookStats) { s.Malformed++ })
		return
	}
	if m.Data == nil {
		r.count(func(s *WebhookStats) { s.KeepAlives++ })
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := r.enqueue(m.Data); err != nil {
		r.reject(w, http.StatusServiceUnavailable, err, func(s *WebhookStats) { s.QueueFull++ })
		return
	}
	w.WriteHeader(http.StatusOK)
}

// signed reports whether the body carries at least one signature header a
// configured secret verifies, and no header (of a configured secret) that
// fails. Each header must appear at most once.
func (r *WebhookReceiver) signed(h http.Header, body []byte) bool {
	verified := false
	for _, c := range []struct {
		name   string
		secret []byte
	}{{HeaderWebhookSignature, r.consumer}, {HeaderWebhookSignatureOAuth2, r.oauth2}} {
		vals := h.Values(c.name)
		if len(vals) == 0 || len(c.secret) == 0 {
			continue
		}
		if len(vals) > 1 || !VerifyWebhookSignature(c.secret, body, vals[0]) {
			return false
		}
		verified = true
	}
	return verified
}

func (r *WebhookReceiver) enqueue(ev *ActivityEvent) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return errors.New("api: webhook receiver closed")
	}
	// Accepted is counted under the stats lock held across the send, so a
	// consumer that took the event and then reads Stats sees it counted.
	r.smu.Lock()
	defer r.smu.Unlock()
	select {
	case r.queue <- ev:
		r.stats.Accepted++
		return nil
	default:
		return ErrWebhookQueueFull
	}
}
