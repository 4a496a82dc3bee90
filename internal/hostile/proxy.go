package hostile

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Response is a captured answer of the wrapped handler, which a Rule may
// change in place before it is sent to the client.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Rule is one tampering behaviour of a Proxy.
type Rule struct {
	// Name identifies the rule in Hits and in errors.
	Name string
	// Method is the HTTP method to match ("" matches every method).
	Method string
	// Path is a regular expression matched against the whole URL path
	// (anchored at both ends). "" matches every path.
	Path string
	// Token, when set, restricts the rule to requests carrying
	// "Authorization: Bearer <Token>" (the victim's requests).
	Token string
	// Times bounds how many responses the rule rewrites (0 = unlimited).
	Times int
	// Request, when set, may change the request (a clone) before it is
	// forwarded, e.g. to strip a pagination token the server never issued.
	Request func(r *http.Request)
	// Rewrite changes the captured response. An error is recorded (see
	// Proxy.Err) and the response is answered unchanged. Nil leaves the
	// response as served.
	Rewrite func(r *http.Request, resp *Response) error

	re   *regexp.Regexp
	used int
}

// Proxy is an http.Handler that forwards every request to the wrapped
// handler and lets its rules rewrite the answers. Requests no rule matches
// are passed through untouched (streamed, not buffered). A Proxy is safe for
// concurrent use.
type Proxy struct {
	next  http.Handler
	mu    sync.Mutex
	rules []*Rule
	hits  map[string]int
	errs  []error
}

// NewProxy returns a Proxy in front of next.
func NewProxy(next http.Handler) *Proxy {
	return &Proxy{next: next, hits: map[string]int{}}
}

// Add installs rules after the existing ones. It panics on a rule whose Path
// is not a valid regular expression (a programming error in a test).
func (p *Proxy) Add(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range rules {
		r := r
		if r.Path != "" {
			r.re = regexp.MustCompile("^(?:" + r.Path + ")$")
		}
		p.rules = append(p.rules, &r)
	}
}

// Reset removes every rule (hits and errors are kept).
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.rules = nil
	p.mu.Unlock()
}

// Hits returns how many responses the rule named name has rewritten.
func (p *Proxy) Hits(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[name]
}

// Err returns the errors the rules' Rewrite functions reported, joined.
func (p *Proxy) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return errors.Join(p.errs...)
}

func (r *Rule) matches(req *http.Request) bool {
	if r.Method != "" && r.Method != req.Method {
		return false
	}
	if r.re != nil && !r.re.MatchString(req.URL.Path) {
		return false
	}
	if r.Token != "" && req.Header.Get("Authorization") != "Bearer "+r.Token {
		return false
	}
	return r.Times == 0 || r.used < r.Times
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p.mu.Lock()
	var active []*Rule
	for _, r := range p.rules {
		if r.matches(req) {
			active = append(active, r)
		}
	}
	p.mu.Unlock()
	if len(active) == 0 {
		p.next.ServeHTTP(w, req)
		return
	}
	orig := req
	for _, r := range active {
		if r.Request != nil {
			if req == orig {
				req = req.Clone(req.Context())
			}
			r.Request(req)
		}
	}
	rec := httptest.NewRecorder()
	p.next.ServeHTTP(rec, req)
	resp := &Response{Status: rec.Code, Header: rec.Header().Clone(), Body: rec.Body.Bytes()}
	for _, r := range active {
		before := resp.Body
		var err error
		if r.Rewrite != nil {
			err = r.Rewrite(orig, resp)
		}
		p.mu.Lock()
		r.used++
		if err != nil {
			p.errs = append(p.errs, fmt.Errorf("hostile: rule %s: %w", r.Name, err))
			resp.Body = before
		} else {
			p.hits[r.Name]++
		}
		p.mu.Unlock()
	}
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	w.WriteHeader(resp.Status)
	_, _ = bytes.NewReader(resp.Body).WriteTo(w)
}

// Route patterns of the endpoints the typed helpers rewrite.
const (
	PathEvents        = `/2/chat/conversations/[^/]+/events`
	PathMessages      = `/2/chat/conversations/[^/]+/messages`
	PathConversations = `/2/chat/conversations`
	PathConversation  = `/2/chat/conversations/(?:g[0-9]+|[0-9]+-[0-9]+|[0-9]+)`
	PathPublicKeys    = `/2/users/(?:[0-9]+/)?public_keys`
	PathMedia         = `/2/chat/media/[^/]+/[^/]+`
)

// ConversationOf returns the conversation id segment of a chat path
// ("/2/chat/conversations/{id}/..."), or "".
func ConversationOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/2/chat/conversations/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}
