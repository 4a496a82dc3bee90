package hostile

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func echo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"path":"`+r.URL.Path+`","q":"`+r.URL.RawQuery+`"}`)
	})
}

func get(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Header().Get("Content-Length") != "" && rec.Header().Get("Content-Length") != strconv.Itoa(rec.Body.Len()) {
		t.Fatalf("Content-Length %s for %d bytes", rec.Header().Get("Content-Length"), rec.Body.Len())
	}
	return rec.Body.String()
}

func TestProxyRules(t *testing.T) {
	p := NewProxy(echo())
	if got := get(t, p, "/2/x?a=1"); got != `{"path":"/2/x","q":"a=1"}` {
		t.Fatalf("pass-through changed the answer: %s", got)
	}
	p.Add(Rule{Name: "strip", Path: `/2/.*`, Times: 1,
		Request: func(r *http.Request) { r.URL.RawQuery = "" },
		Rewrite: func(_ *http.Request, resp *Response) error {
			resp.Body = append(resp.Body, '!')
			return nil
		}})
	if got := get(t, p, "/2/x?a=1"); got != `{"path":"/2/x","q":""}!` {
		t.Fatalf("rewritten answer %s", got)
	}
	if got := get(t, p, "/2/x?a=1"); got != `{"path":"/2/x","q":"a=1"}` {
		t.Fatalf("rule applied beyond Times: %s", got)
	}
	if p.Hits("strip") != 1 {
		t.Fatalf("hits %d", p.Hits("strip"))
	}
	p.Add(Rule{Name: "broken", Rewrite: func(_ *http.Request, resp *Response) error {
		resp.Body = nil
		return errors.New("boom")
	}})
	if got := get(t, p, "/other"); got != `{"path":"/other","q":""}` {
		t.Fatalf("failed rewrite must answer the original body, got %s", got)
	}
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("Err() = %v", err)
	}
}

func TestFaultsDeterministic(t *testing.T) {
	var delivered int
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		delivered++
		return &http.Response{Status: "200 OK", StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Header: http.Header{}, Request: r}, nil
	})
	run := func() []string {
		f := NewFaults(base, FaultConfig{Seed: 42, ResetBefore: .1, ResetAfter: .1, Timeout: .1, ServerError: .1, RateLimit: .1, MaxBurst: 3})
		var out []string
		for range 200 {
			resp, err := f.RoundTrip(httptest.NewRequest(http.MethodPost, "http://x/2/m", strings.NewReader("b")))
			switch {
			case err != nil:
				out = append(out, err.Error())
			default:
				out = append(out, resp.Status)
				_ = resp.Body.Close()
			}
		}
		return out
	}
	a, b := run(), run()
	if strings.Join(a, "|") != strings.Join(b, "|") {
		t.Fatal("same seed, different fault sequence")
	}
	kinds := map[string]bool{}
	for _, s := range a {
		switch {
		case strings.Contains(s, "reset"):
			kinds["reset"] = true
		case strings.Contains(s, "timeout"):
			kinds["timeout"] = true
		case strings.HasPrefix(s, "503"):
			kinds["503"] = true
		case strings.HasPrefix(s, "429"):
			kinds["429"] = true
		case strings.HasPrefix(s, "200"):
			kinds["ok"] = true
		}
	}
	if len(kinds) != 5 {
		t.Fatalf("fault kinds seen: %v", kinds)
	}
}

func TestFaultsKill(t *testing.T) {
	delivered := 0
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		delivered++
		return &http.Response{Status: "200 OK", StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Header: http.Header{}, Request: r}, nil
	})
	f := NewFaults(base, FaultConfig{Seed: 1})
	killed := 0
	f.KillOn(func(r *http.Request) bool { return r.Method == http.MethodPost }, true, func() { killed++ })
	req := func(m string) error {
		resp, err := f.RoundTrip(httptest.NewRequest(m, "http://x/", nil))
		if err == nil {
			_ = resp.Body.Close()
		}
		return err
	}
	if err := req(http.MethodGet); err != nil || delivered != 1 {
		t.Fatalf("GET before the kill: %v, delivered %d", err, delivered)
	}
	if err := req(http.MethodPost); !errors.Is(err, ErrKilled) || delivered != 2 || killed != 1 {
		t.Fatalf("killing POST: %v, delivered %d, onKill %d", err, delivered, killed)
	}
	if err := req(http.MethodGet); !errors.Is(err, ErrKilled) || delivered != 2 {
		t.Fatalf("request of a dead process: %v, delivered %d", err, delivered)
	}
	f.Revive()
	if err := req(http.MethodGet); err != nil || delivered != 3 {
		t.Fatalf("after Revive: %v, delivered %d", err, delivered)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
