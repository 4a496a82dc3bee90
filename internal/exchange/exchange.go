// Package exchange records the HTTP exchanges a server answers, one JSON
// line each, so that a later step (the contract test in internal/contract)
// can validate every request and response the test suites produced against
// the OpenAPI document.
//
// Recording is off unless a process sets EnvRecordDir (scripts/test.sh does
// for `make test`); the emulator then wraps its handler with the Recorder
// returned by FromEnv. Credentials are never recorded: an Authorization
// header is kept as its scheme only.
package exchange

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// EnvRecordDir names the environment variable holding the directory that
// recorded exchanges are appended to (one file per process).
const EnvRecordDir = "XCHAT_CONTRACT_RECORD"

// MaxBodyBytes bounds each recorded body; a longer body is cut and the
// exchange marked Truncated (its body is then not validated).
const MaxBodyBytes = 256 << 10

// Exchange is one recorded HTTP request and its response.
type Exchange struct {
	Method         string      `json:"method"`
	Path           string      `json:"path"` // escaped path
	Query          string      `json:"query,omitempty"`
	RequestHeader  http.Header `json:"request_header,omitempty"`
	RequestBody    []byte      `json:"request_body,omitempty"`
	Status         int         `json:"status"`
	ResponseHeader http.Header `json:"response_header,omitempty"`
	ResponseBody   []byte      `json:"response_body,omitempty"`
	Truncated      bool        `json:"truncated,omitempty"`
}

// Recorder appends exchanges to a writer as JSON lines. It is safe for
// concurrent use.
type Recorder struct {
	mu   sync.Mutex
	w    io.Writer
	err  error
	sink func(Exchange) // in-memory recorders
}

// New returns a Recorder writing JSON lines to w.
func New(w io.Writer) *Recorder { return &Recorder{w: w} }

// NewMemory returns a Recorder that hands every exchange to sink instead of
// writing it (for tests that validate in process).
func NewMemory(sink func(Exchange)) *Recorder { return &Recorder{sink: sink} }

var (
	envOnce sync.Once
	envRec  *Recorder
)

// FromEnv returns the process-wide Recorder for EnvRecordDir, or nil when
// the variable is unset or the directory cannot be written (reported once
// on stderr: recording is a test aid and never stops a server).
func FromEnv() *Recorder {
	envOnce.Do(func() {
		dir := os.Getenv(EnvRecordDir)
		if dir == "" {
			return
		}
		rec, err := OpenDir(dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "exchange: recording disabled: %v\n", err)
			return
		}
		envRec = rec
	})
	return envRec
}

// OpenDir creates a new, uniquely named .jsonl file in dir and returns a
// Recorder appending to it. The file stays open for the life of the
// process.
func OpenDir(dir string) (*Recorder, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("exchanges-%d-%s.jsonl", os.Getpid(), hex.EncodeToString(b[:]))
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	return New(f), nil
}

// Record appends one exchange.
func (r *Recorder) Record(x Exchange) {
	if r.sink != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.sink(x)
		return
	}
	line, err := json.Marshal(x)
	if err != nil {
		return
	}
	line = append(line, '\n')
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	if _, err := r.w.Write(line); err != nil {
		r.err = err
		fmt.Fprintf(os.Stderr, "exchange: recording stopped: %v\n", err)
	}
}

// Wrap returns h with every exchange recorded.
func (r *Recorder) Wrap(h http.Handler) http.Handler {
	if r == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body := &capture{limit: MaxBodyBytes}
		if req.Body != nil {
			req.Body = &teeBody{rc: req.Body, c: body}
		}
		rw := &recordingWriter{ResponseWriter: w, status: http.StatusOK, body: capture{limit: MaxBodyBytes}}
		h.ServeHTTP(rw, req)
		if req.Body != nil {
			// Whatever the handler left unread is part of the request.
			_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, MaxBodyBytes))
		}
		r.Record(Exchange{
			Method:         req.Method,
			Path:           req.URL.EscapedPath(),
			Query:          req.URL.RawQuery,
			RequestHeader:  requestHeader(req.Header),
			RequestBody:    body.bytes(),
			Status:         rw.status,
			ResponseHeader: w.Header().Clone(),
			ResponseBody:   rw.body.bytes(),
			Truncated:      body.cut || rw.body.cut,
		})
	})
}

// requestHeader keeps the headers a validator needs, never a credential.
func requestHeader(h http.Header) http.Header {
	out := http.Header{}
	if v := h.Get("Content-Type"); v != "" {
		out.Set("Content-Type", v)
	}
	if v := h.Get("Authorization"); v != "" {
		scheme, _, _ := strings.Cut(v, " ")
		out.Set("Authorization", scheme+" REDACTED")
	}
	return out
}

type capture struct {
	buf   bytes.Buffer
	limit int
	cut   bool
}

func (c *capture) write(p []byte) {
	room := c.limit - c.buf.Len()
	if len(p) > room {
		p = p[:max(room, 0)]
		c.cut = true
	}
	c.buf.Write(p)
}

func (c *capture) bytes() []byte {
	if c.buf.Len() == 0 {
		return nil
	}
	return bytes.Clone(c.buf.Bytes())
}

type teeBody struct {
	rc io.ReadCloser
	c  *capture
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	t.c.write(p[:n])
	return n, err
}

func (t *teeBody) Close() error { return t.rc.Close() }

type recordingWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	body   capture
}

func (w *recordingWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.wrote = true
	w.body.write(p)
	return w.ResponseWriter.Write(p)
}

// Flush lets streaming handlers flush through the recorder.
func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadDir reads every exchange recorded in dir's .jsonl files, in file
// name order. A final line cut short (a process killed mid-write) is
// skipped; any other malformed line is an error.
func ReadDir(dir string) ([]Exchange, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Exchange
	for _, name := range names {
		xs, err := readFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, xs...)
	}
	return out, nil
}

func readFile(name string) ([]Exchange, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Exchange
	rd := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		line, err := rd.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// No newline: an unfinished write of a killed process.
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var x Exchange
		if err := json.Unmarshal(line, &x); err != nil {
			return nil, fmt.Errorf("exchange: %s line %d: %w", filepath.Base(name), n, err)
		}
		out = append(out, x)
	}
}
