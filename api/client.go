package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// DefaultUserAgent is sent when no User-Agent is configured.
const DefaultUserAgent = "xchat-go/0.1 (+https://github.com/xchat-go/xchat)"

// Defaults of the retry and size policy.
const (
	DefaultMaxAttempts      = 4
	DefaultBaseBackoff      = 500 * time.Millisecond
	DefaultMaxBackoff       = 30 * time.Second
	DefaultMaxRateLimitWait = 16 * time.Minute
	DefaultMaxResponseBytes = 16 << 20
	DefaultMaxMediaBytes    = 512 << 20
)

// Client is a typed X API v2 client for the Chat, public key, Chat media and
// legacy Direct Message endpoints. It is safe for concurrent use.
type Client struct {
	httpClient  *http.Client
	baseURL     *url.URL
	userAgent   string
	tokenSource oauth2.TokenSource

	failFast         bool
	maxAttempts      int
	baseBackoff      time.Duration
	maxBackoff       time.Duration
	maxRateLimitWait time.Duration
	maxResponseBytes int64
	maxMediaBytes    int64

	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	randN func(int64) int64

	limits *rateLimiter

	// keysLabelled records that this server labels batch public keys with
	// user_id (see GetPublicKeysByUser).
	keysLabelled atomic.Bool
}

// Option configures a Client.
type Option func(*Client) error

// WithHTTPClient sets the HTTP client used for every request (default: a
// client with a 60 s timeout). Its Transport is used as is; do not wrap it
// in an oauth2.Transport, the Client authenticates requests itself. The
// Client uses a copy that never follows a redirect (see New).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("api: nil http client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithBaseURL sets the API origin, e.g. "http://127.0.0.1:8080" for the
// emulator (default DefaultBaseURL). A path prefix is kept.
func WithBaseURL(raw string) Option {
	return func(c *Client) error {
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("api: invalid base url: %w", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("api: invalid base url %q: need http(s)://host", raw)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawQuery, u.Fragment = "", ""
		c.baseURL = u
		return nil
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *Client) error { c.userAgent = ua; return nil }
}

// WithBearerToken authenticates every request with a fixed OAuth 2.0 user
// access token (or app bearer token).
func WithBearerToken(token string) Option {
	return func(c *Client) error {
		if token == "" {
			return errors.New("api: empty bearer token")
		}
		c.tokenSource = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"})
		return nil
	}
}

// WithTokenSource authenticates every request with a token from ts, which
// typically refreshes itself (see OAuthConfig.TokenSource).
func WithTokenSource(ts oauth2.TokenSource) Option {
	return func(c *Client) error {
		if ts == nil {
			return errors.New("api: nil token source")
		}
		c.tokenSource = ts
		return nil
	}
}

// WithFailFast makes a request that would exceed a rate limit known to be
// exhausted fail at once with a *RateLimitError (errors.Is ErrRateLimited)
// instead of waiting for the window to reset. Retries after a 429 are
// also disabled.
func WithFailFast(on bool) Option {
	return func(c *Client) error { c.failFast = on; return nil }
}

// WithMaxAttempts bounds the attempts of a retryable request (default
// DefaultMaxAttempts; 1 disables retries).
func WithMaxAttempts(n int) Option {
	return func(c *Client) error {
		if n < 1 {
			return errors.New("api: max attempts must be at least 1")
		}
		c.maxAttempts = n
		return nil
	}
}

// WithBackoff sets the base and cap of the exponential backoff with full
// jitter used between retries.
func WithBackoff(base, max time.Duration) Option {
	return func(c *Client) error {
		if base <= 0 || max < base {
			return errors.New("api: invalid backoff")
		}
		c.baseBackoff, c.maxBackoff = base, max
		return nil
	}
}

// WithMaxRateLimitWait bounds how long the client waits for a rate-limit
// window to reset before giving up with a *RateLimitError.
func WithMaxRateLimitWait(d time.Duration) Option {
	return func(c *Client) error { c.maxRateLimitWait = d; return nil }
}

// WithMaxMediaBytes bounds the size of downloaded media.
func WithMaxMediaBytes(n int64) Option {
	return func(c *Client) error { c.maxMediaBytes = n; return nil }
}

// WithClock replaces the wall clock and the sleep function (for tests).
// sleep must return ctx.Err() if ctx ends first.
func WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) error {
		if now == nil || sleep == nil {
			return errors.New("api: nil clock")
		}
		c.now, c.sleep = now, sleep
		return nil
	}
}

// WithRand replaces the jitter source: randN(n) must return a value in
// [0, n) (for tests).
func WithRand(randN func(n int64) int64) Option {
	return func(c *Client) error {
		if randN == nil {
			return errors.New("api: nil rand")
		}
		c.randN = randN
		return nil
	}
}

// New returns a Client configured by opts.
func New(opts ...Option) (*Client, error) {
	base, _ := url.Parse(DefaultBaseURL)
	c := &Client{
		httpClient:       &http.Client{Timeout: 60 * time.Second},
		baseURL:          base,
		userAgent:        DefaultUserAgent,
		maxAttempts:      DefaultMaxAttempts,
		baseBackoff:      DefaultBaseBackoff,
		maxBackoff:       DefaultMaxBackoff,
		maxRateLimitWait: DefaultMaxRateLimitWait,
		maxResponseBytes: DefaultMaxResponseBytes,
		maxMediaBytes:    DefaultMaxMediaBytes,
		now:              time.Now,
		sleep:            sleepCtx,
		randN:            rand.Int64N,
		limits:           newRateLimiter(),
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	c.httpClient = noRedirects(c.httpClient)
	return c, nil
}

// noRedirects returns a copy of hc that answers a redirect as it is,
// unfollowed: the API answers with its own bodies (the specification lists
// no redirect), and a redirect followed would let the server send this
// device's requests (a GET, or a POST with its body on 307 and 308) to any
// host it names, hosts on the user's own network among them. The
// redirect fails as the unexpected status it is.
func noRedirects(hc *http.Client) *http.Client {
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// BaseURL returns the configured API origin.
func (c *Client) BaseURL() string { return c.baseURL.String() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Response is the metadata of one API exchange, returned next to every
// result.
type Response struct {
	StatusCode int
	Header     http.Header
	RateLimit  RateLimit
	// Attempts is the number of HTTP requests made for this call.
	Attempts int
}

// request describes one call before it is sent.
type request struct {
	op     Operation
	path   string
	query  url.Values
	body   any    // marshalled to JSON when non-nil
	accept string // default application/json
}

// do sends r, retrying as policy allows, and decodes a JSON 2xx body into
// out (when non-nil).
func (c *Client) do(ctx context.Context, r *request, out any) (*Response, error) {
	return c.exchange(ctx, r, out, nil)
}

// exchange is do, returning the raw 2xx body via rawOut (when non-nil)
// instead of decoding it; a raw 2xx body is bounded by the media limit.
func (c *Client) exchange(ctx context.Context, r *request, out any, rawOut *[]byte) (*Response, error) {
	mode := bodyJSON
	if rawOut != nil {
		mode = bodyRaw
	}
	resp, hr, body, err := c.roundTrip(ctx, r, mode)
	if err != nil || hr == nil {
		return resp, err
	}
	if rawOut != nil {
		*rawOut = body
		return resp, nil
	}
	return resp, c.decodeSuccess(r.op.ID, body, out, resp)
}

// bodyMode says how roundTrip reads a response body.
type bodyMode int

const (
	// bodyJSON reads every body, bounded by the response limit.
	bodyJSON bodyMode = iota
	// bodyRaw reads every body, a 2xx one bounded by the media limit.
	bodyRaw
	// bodyStream leaves a 2xx body unread, for the caller to read and
	// close; every other body is read as in bodyJSON.
	bodyStream
)

// roundTrip sends r, retrying as policy allows, until an answer is final.
// It returns the 2xx response and its body as mode reads it (in
// bodyStream, the response with its body open, which the caller must
// close), or the error the answer maps to; hr is nil, with no error, when
// a repeated DELETE found its target already gone.
func (c *Client) roundTrip(ctx context.Context, r *request, mode bodyMode) (resp *Response, hr *http.Response, body []byte, err error) {
	var payload []byte
	if r.body != nil {
		if payload, err = json.Marshal(r.body); err != nil {
			return nil, nil, nil, fmt.Errorf("api: %s: encoding request: %w", r.op.ID, err)
		}
	}
	target := c.target(r)
	resp = &Response{}
	// landed is set once an attempt may have taken effect without an
	// answer; a repeated DELETE then answered 404 has succeeded.
	landed := false
	for attempt := 1; ; attempt++ {
		if err := c.limits.wait(ctx, c, r.op.ID); err != nil {
			return resp, nil, nil, err
		}
		resp.Attempts = attempt
		hr, body, err := c.send(ctx, r, target, payload, mode)
		if err != nil {
			delay, retry := c.retryTransport(ctx, r, attempt, err)
			if !retry {
				return resp, nil, nil, err
			}
			landed = landed || !dialFailed(err)
			if serr := c.sleep(ctx, delay); serr != nil {
				return resp, nil, nil, fmt.Errorf("%w (retry abandoned: %w)", err, serr)
			}
			continue
		}
		resp.StatusCode = hr.StatusCode
		resp.Header = hr.Header
		resp.RateLimit = parseRateLimit(hr.Header)
		retryAfter := parseRetryAfter(hr.Header, c.now())
		c.limits.update(r.op.ID, resp.RateLimit, hr.StatusCode, retryAfter, c.now())

		if success(hr.StatusCode) {
			return resp, hr, body, nil
		}
		if landed && r.op.Method == http.MethodDelete && hr.StatusCode == http.StatusNotFound {
			// The earlier attempt deleted it.
			return resp, nil, nil, nil
		}
		apiErr := decodeError(r.op.ID, hr.StatusCode, body)
		apiErr.RateLimit = resp.RateLimit
		apiErr.RetryAfter = retryAfter
		delay, retry := c.retryStatus(ctx, r, attempt, hr.StatusCode, retryAfter)
		if !retry {
			return resp, nil, nil, apiErr
		}
		if hr.StatusCode >= 500 {
			landed = true
		}
		if err := c.sleep(ctx, delay); err != nil {
			return resp, nil, nil, fmt.Errorf("%w (retry abandoned: %w)", apiErr, err)
		}
	}
}

// target is the absolute URL of r.
func (c *Client) target(r *request) string {
	u := *c.baseURL
	u.Path = c.baseURL.Path + r.path
	u.RawPath = c.baseURL.EscapedPath() + r.path
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	return u.String()
}

// retryTransport decides whether attempt, which failed with err before an
// answer arrived, is repeated, and after how long.
func (c *Client) retryTransport(ctx context.Context, r *request, attempt int, err error) (time.Duration, bool) {
	if ctx.Err() != nil || attempt >= c.maxAttempts || !retryableTransport(err) {
		return 0, false
	}
	// A request that failed after it may have reached the server is only
	// repeated when repeating it is harmless; one that never left (the
	// dial failed) is always safe to repeat.
	if !r.op.Idempotent && !dialFailed(err) {
		return 0, false
	}
	delay := c.backoff(attempt)
	return delay, !exceedsDeadline(ctx, c.now(), delay)
}

// retryStatus decides whether attempt, answered with a non-2xx status, is
// repeated, and after how long.
func (c *Client) retryStatus(ctx context.Context, r *request, attempt, status int, retryAfter time.Duration) (time.Duration, bool) {
	if attempt >= c.maxAttempts || (!r.op.Idempotent && status != http.StatusTooManyRequests) {
		return 0, false
	}
	switch {
	case status == http.StatusTooManyRequests:
		if c.failFast {
			return 0, false
		}
		delay := c.backoff(attempt)
		if until := c.limits.resetDelay(r.op.ID, c.now()); until > delay {
			delay = until
		}
		if retryAfter > delay {
			delay = retryAfter
		}
		// The limiter records this window; the wait happens in roundTrip
		// so that it is bounded by the same checks.
		return delay, delay <= c.maxRateLimitWait && !exceedsDeadline(ctx, c.now(), delay)
	case status >= 500:
		delay := c.backoff(attempt)
		return delay, !exceedsDeadline(ctx, c.now(), delay)
	default:
		return 0, false
	}
}

func success(status int) bool { return status >= 200 && status < 300 }

// send performs one HTTP request and reads the (bounded) body, except a
// 2xx body in bodyStream mode, which it leaves open for the caller.
func (c *Client) send(ctx context.Context, r *request, target string, payload []byte, mode bodyMode) (*http.Response, []byte, error) {
	hr, err := c.dispatch(ctx, r, target, payload)
	if err != nil {
		return nil, nil, err
	}
	if mode == bodyStream && success(hr.StatusCode) {
		return hr, nil, nil
	}
	defer hr.Body.Close()
	limit := c.maxResponseBytes
	if mode == bodyRaw && success(hr.StatusCode) {
		limit = c.maxMediaBytes
	}
	body, err := readBody(hr.Body, hr.ContentLength, limit)
	if err != nil {
		return nil, nil, &transportError{op: r.op.ID, err: err}
	}
	if int64(len(body)) > limit {
		return nil, nil, errBodyTooLong(r.op.ID, limit)
	}
	return hr, body, nil
}

// dispatch builds r's HTTP request, authenticates it and sends it, returning
// the response with its body unread.
func (c *Client) dispatch(ctx context.Context, r *request, target string, payload []byte) (*http.Response, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.op.Method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("api: %s: building request: %w", r.op.ID, err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	accept := r.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", c.userAgent)
	if c.tokenSource != nil {
		tok, err := c.tokenSource.Token()
		if err != nil {
			return nil, &tokenError{op: r.op.ID, err: redactRetrieveError(err)}
		}
		tok.SetAuthHeader(req)
	}
	hr, err := c.httpClient.Do(req)
	if err != nil {
		return nil, &transportError{op: r.op.ID, err: scrubURLError(err)}
	}
	return hr, nil
}

// errBodyTooLong is the error for a response body past limit bytes.
func errBodyTooLong(op string, limit int64) error {
	return fmt.Errorf("api: %s: response body exceeds %d bytes", op, limit)
}

// maxBodyHint caps the buffer a response's announced length sizes up
// front: a server announcing more than it sends costs at most this much.
const maxBodyHint = 4 << 20

// readBody reads a response body up to limit+1 bytes (the caller rejects
// a longer one). A body whose length is announced (announced >= 0) is read
// into a buffer of that size, up to maxBodyHint, with room to see its end:
// an event page is read with one allocation and no copying, where growing
// a buffer as it fills copies it over and over. A body that announces
// nothing is read with io.ReadAll; one announcing more than the hint grows
// past it as it is read.
func readBody(r io.Reader, announced, limit int64) ([]byte, error) {
	lr := io.LimitReader(r, limit+1)
	if announced < 0 {
		return io.ReadAll(lr)
	}
	b := make([]byte, 0, min(announced, limit, maxBodyHint)+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// transportError is a failure to complete an HTTP exchange.
type transportError struct {
	op  string
	err error
}

// Error implements error.
func (e *transportError) Error() string { return "api: " + e.op + ": " + e.err.Error() }

// Unwrap returns the underlying network error.
func (e *transportError) Unwrap() error { return e.err }

// tokenError is a failure of the token source; it is never retried.
type tokenError struct {
	op  string
	err error
}

// Error implements error.
func (e *tokenError) Error() string {
	return "api: " + e.op + ": obtaining access token: " + e.err.Error()
}

// Unwrap returns the token source error.
func (e *tokenError) Unwrap() error { return e.err }

func retryableTransport(err error) bool {
	var te *transportError
	return errors.As(err, &te)
}

// dialFailed reports whether err happened while connecting, before any
// byte of the request was written.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// scrubURLError drops the query string from *url.Error messages.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}

func exceedsDeadline(ctx context.Context, now time.Time, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && now.Add(d).After(dl)
}

// backoff returns the full-jitter delay before retry number attempt (1-based).
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.baseBackoff
	for i := 1; i < attempt && ceiling < c.maxBackoff; i++ {
		ceiling *= 2
	}
	if ceiling > c.maxBackoff {
		ceiling = c.maxBackoff
	}
	return time.Duration(c.randN(int64(ceiling) + 1))
}

func (c *Client) decodeSuccess(op string, body []byte, out any, resp *Response) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if out == nil {
			return nil
		}
		return fmt.Errorf("api: %s: empty response body", op)
	}
	if err := checkShape(body, MaxResponseObjects, MaxResponseValues); err != nil {
		return fmt.Errorf("api: %s: %w", op, err)
	}
	if out != nil {
		if err := decodeJSON(body, out); err != nil {
			return fmt.Errorf("api: %s: decoding response: %w", op, err)
		}
	}
	problems, ok := envelopeProblems(out)
	if !ok {
		var env struct {
			Errors []Problem `json:"errors"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			if out == nil {
				return nil
			}
			return fmt.Errorf("api: %s: decoding response: %w", op, err)
		}
		problems = env.Errors
	}
	if len(problems) > 0 {
		return &PartialError{Op: op, Errors: problems, Response: resp}
	}
	return nil
}

// decodeJSON is json.Unmarshal, reading a page of conversation events
// decoded into a zero response the faster way when it can (see
// decodeEventsPage).
func decodeJSON(body []byte, out any) error {
	if page, ok := out.(*GetChatConversationEventsResponse); ok && page.Data == nil && page.Errors == nil && page.Meta == nil {
		if got, ok := decodeEventsPage(body); ok {
			*page = *got
			return nil
		}
	}
	return json.Unmarshal(body, out)
}

var problemsType = reflect.TypeFor[[]Problem]()

// envelopeProblems returns the Errors field of a decoded response envelope
// (every envelope in this package has one), avoiding a second decode.
func envelopeProblems(out any) ([]Problem, bool) {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, false
	}
	f := v.Elem().FieldByName("Errors")
	if !f.IsValid() || f.Type() != problemsType {
		return nil, false
	}
	return f.Interface().([]Problem), true
}

// decodeError decodes a non-2xx answer. A body that is not JSON, or holds
// more values than any honest answer (see checkShape), leaves the Error
// with its status only.
func decodeError(op string, status int, body []byte) *Error {
	e := &Error{Op: op, StatusCode: status}
	var doc ErrorDocument
	if checkShape(body, MaxResponseObjects, MaxResponseValues) != nil || json.Unmarshal(body, &doc) != nil {
		return e
	}
	e.Problem = doc.Problem
	e.Code, e.Message = doc.Code, doc.Message
	e.Errors = doc.Errors
	if len(doc.Errors) > 0 {
		first := doc.Errors[0]
		if e.Problem.Type == "" && e.Problem.Title == "" && e.Problem.Detail == "" {
			e.Problem = first.Problem
		}
		if e.Message == "" && first.Message != "" {
			e.Code, e.Message = first.Code, first.Message
		}
	}
	return e
}

func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			secs = int64(maxRetryAfter / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// maxRetryAfter bounds the wait a Retry-After header can ask for, in
// either of its forms (seconds or an HTTP date), so that a server cannot
// stall a client for longer than a day.
const maxRetryAfter = 24 * time.Hour

// String describes the client without credentials.
func (c *Client) String() string { return "api.Client{base: " + c.baseURL.String() + "}" }

// GoString describes the client without credentials.
func (c *Client) GoString() string { return c.String() }
