package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/interop/peer"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// The two directions of every scenario.
const (
	oursToOfficial = "ours->official" // our engine produces, the SDK app consumes
	officialToOurs = "official->ours" // the SDK app produces, our engine consumes
)

// scenario is one row of the matrix: the same interaction run in both
// directions.
type scenario struct {
	name string
	run  map[string]func(t *testing.T, s *suite)
}

// summaryLine is printed by TestMain after the run (and logged by
// TestInterop).
var (
	summaryMu   sync.Mutex
	summaryLine string
	matrixText  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	summaryMu.Lock()
	if matrixText != "" {
		fmt.Print(matrixText)
	}
	if summaryLine != "" {
		fmt.Println(summaryLine)
	}
	summaryMu.Unlock()
	os.Exit(code)
}

// suite is the shared environment: one xchatd, one harness.
type suite struct {
	baseURL string
	http    *http.Client
	peer    *peer.Peer
	mu      sync.Mutex
	n       int // account counter
	prefix  string
	tmp     string // suite temporary directory (binaries)

	cliOnce sync.Once
	cliBin  string
	cliErr  string
}

func TestInterop(t *testing.T) {
	s := setup(t)
	rows := scenarios()
	type result struct {
		row, dir string
		ran, ok  bool
		dur      time.Duration
	}
	var results []result
	for _, sc := range rows {
		for _, dir := range []string{oursToOfficial, officialToOurs} {
			fn := sc.run[dir]
			start := time.Now()
			ran := false // false when -run filtered the row out
			ok := t.Run(sc.name+"/"+dir, func(t *testing.T) {
				ran = true
				if fn == nil {
					t.Fatalf("scenario %s has no %s implementation", sc.name, dir)
				}
				fn(t, s)
			})
			results = append(results, result{sc.name, dir, ran, ok, time.Since(start)})
		}
	}
	// Not a matrix row: every kind of event both sides emit, compared
	// structurally (see shapes_test.go).
	t.Run("wire shapes", func(t *testing.T) { wireShapes(t, s) })

	var b strings.Builder
	passed, failed, run := 0, 0, 0
	fmt.Fprintf(&b, "interop matrix (official SDK @xdevplatform/chat-xdk %s via xchatd):\n", peer.SDKVersion)
	fmt.Fprintf(&b, "  %-31s %-16s %-16s\n", "scenario", oursToOfficial, officialToOurs)
	for i := 0; i < len(results); i += 2 {
		cell := func(r result) string {
			if !r.ran {
				return "-"
			}
			if r.ok {
				passed++
				return fmt.Sprintf("PASS %5.2fs", r.dur.Seconds())
			}
			failed++
			return fmt.Sprintf("FAIL %5.2fs", r.dur.Seconds())
		}
		a, c := cell(results[i]), cell(results[i+1])
		if results[i].ran || results[i+1].ran {
			run++
		}
		fmt.Fprintf(&b, "  %-31s %-16s %-16s\n", results[i].row, a, c)
	}
	line := fmt.Sprintf("interop: %d scenarios x 2 directions: %d passed, %d failed", run, passed, failed)
	t.Log("\n" + b.String())
	t.Log(line)
	summaryMu.Lock()
	matrixText, summaryLine = b.String(), line
	summaryMu.Unlock()
}

// setup builds and starts xchatd and the harness. It fails (never skips)
// when the SDK is not installed; it skips only when node is absent and
// XCHAT_INTEROP_OPTIONAL=1.
func setup(t *testing.T) *suite {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("XCHAT_INTEROP_OPTIONAL") == "1" {
			t.Skip("node not on PATH and XCHAT_INTEROP_OPTIONAL=1: skipping the interop suite")
		}
		t.Fatalf("node not on PATH: the interop suite needs Node.js 18+ (set XCHAT_INTEROP_OPTIONAL=1 to skip): %v", err)
	}
	dir, err := peer.Dir()
	if err != nil {
		t.Fatalf("interop directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@xdevplatform", "chat-xdk", "package.json")); err != nil {
		t.Fatalf("the official SDK is not installed (%v): run `npm ci` in %s", err, dir)
	}

	tmp := t.TempDir()
	baseURL := startXchatd(t, tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := peer.Start(ctx, peer.WithDir(dir))
	if err != nil {
		t.Fatalf("start harness: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close harness: %v", err)
		}
	})
	return &suite{
		baseURL: baseURL,
		http:    &http.Client{Timeout: 60 * time.Second},
		peer:    p,
		prefix:  fmt.Sprintf("i%06d", time.Now().UnixNano()%1e6),
		tmp:     tmp,
	}
}

// startXchatd builds ./cmd/xchatd into a temporary directory and runs it on
// a free loopback port, returning its base URL.
func startXchatd(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "xchatd")
	build := exec.Command("go", "build", "-o", bin, "github.com/xchat-go/xchat/cmd/xchatd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/xchatd: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-rate-limit", "0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start xchatd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				lines <- u
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case u := <-lines:
		return strings.TrimSpace(u)
	case <-time.After(30 * time.Second):
		t.Fatalf("xchatd did not print its address within 30s; stderr: %s", stderr.String())
	}
	return ""
}

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// provision creates a server account and returns its id and token.
func (s *suite) provision(t *testing.T, name string) (string, string) {
	t.Helper()
	s.mu.Lock()
	s.n++
	username := fmt.Sprintf("%s_%d", s.prefix, s.n) // at most 15 characters
	s.mu.Unlock()
	return testutil.Provision(t, s.http, s.baseURL, username)
}

// ours is an account driven by our engine.
type ours struct {
	id     string
	e      *session.Engine
	client *api.Client
	srv    *hostileServer
}

func (s *suite) newOurs(t *testing.T, name string) *ours {
	t.Helper()
	ctx := s.ctx(t)
	id, token := s.provision(t, name)
	c, err := api.New(api.WithBaseURL(s.baseURL), api.WithBearerToken(token), api.WithHTTPClient(s.http), api.WithMaxAttempts(1))
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	store := keystore.NewMemory()
	if err := session.CreateAccount(ctx, store, id, nil); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	srv := &hostileServer{Server: session.NewAPIServer(c)}
	e, err := session.Open(ctx, store, srv)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	if _, err := e.Register(ctx); err != nil {
		t.Fatalf("Register %s: %v", name, err)
	}
	return &ours{id: id, e: e, client: c, srv: srv}
}

// official is an account driven by the app layer over the official SDK.
type official struct {
	s    *suite
	id   string
	acct string // harness account name
	reg  *registerResult
}

type registerResult struct {
	Version     string          `json:"version"`
	Fingerprint string          `json:"fingerprint"`
	RequestBody json.RawMessage `json:"requestBody"`
}

func (s *suite) newOfficial(t *testing.T, name string) *official {
	t.Helper()
	id, token := s.provision(t, name)
	o := &official{s: s, id: id, acct: "app-" + id}
	o.call(t, "app.init", map[string]any{"baseURL": s.baseURL, "userId": id, "token": token}, nil)
	var r registerResult
	o.call(t, "app.register", nil, &r)
	o.reg = &r
	t.Cleanup(func() { _ = s.peer.Call(context.Background(), "dropAccount", map[string]any{"account": o.acct}, nil) })
	return o
}

// call runs an app-layer op for this account and fails the test on error.
func (o *official) call(t *testing.T, op string, args map[string]any, out any) {
	t.Helper()
	if err := o.try(t, op, args, out); err != nil {
		t.Fatalf("%s: %v", op, err)
	}
}

// try runs an op and returns its error.
func (o *official) try(t *testing.T, op string, args map[string]any, out any) error {
	t.Helper()
	if args == nil {
		args = map[string]any{}
	}
	args["account"] = o.acct
	return o.s.peer.Call(o.s.ctx(t), op, args, out)
}

// sdkSync is the result of app.sync.
type sdkSync struct {
	Events []peer.Event `json:"events"`
	Errors []sdkError   `json:"errors"`
	Count  int          `json:"count"`
}

type sdkError struct {
	Index      int    `json:"index"`
	SequenceID string `json:"sequenceId"`
	MessageID  string `json:"messageId"`
	SenderID   string `json:"senderId"`
	Error      string `json:"error"`
}

func (o *official) sync(t *testing.T, conv string, tamper map[string]any) *sdkSync {
	t.Helper()
	args := map[string]any{"conversationId": conv}
	if tamper != nil {
		args["tamper"] = tamper
	}
	var r sdkSync
	o.call(t, "app.sync", args, &r)
	return &r
}

// sent is the result of app.send / app.edit / app.react.
type sent struct {
	MessageID  string `json:"messageId"`
	SequenceID string `json:"sequenceId"`
	KeyVersion string `json:"keyVersion"`
	Event      string `json:"event"`
}

func (o *official) send(t *testing.T, conv string, args map[string]any) *sent {
	t.Helper()
	if args == nil {
		args = map[string]any{}
	}
	args["conversationId"] = conv
	var r sent
	o.call(t, "app.send", args, &r)
	if r.SequenceID == "" {
		t.Fatalf("app.send: server returned no event")
	}
	return &r
}

// message finds the SDK's decrypted event with message id mid.
func (r *sdkSync) message(t *testing.T, mid string) *peer.Event {
	t.Helper()
	for i := range r.Events {
		if r.Events[i].ID == mid {
			return &r.Events[i]
		}
	}
	for _, e := range r.Errors {
		if e.MessageID == mid {
			t.Fatalf("SDK failed to process %s: %s", mid, e.Error)
		}
	}
	t.Fatalf("SDK sync: message %s not found (%d events, %d errors)", mid, len(r.Events), len(r.Errors))
	return nil
}

// failure returns the SDK's error for message id mid ("" when it was accepted).
func (r *sdkSync) failure(mid string) string {
	for _, e := range r.Errors {
		if e.MessageID == mid {
			return e.Error
		}
	}
	return ""
}

// entry finds our engine's stored entry with message id mid.
func entry(t *testing.T, entries []event.Entry, mid string) *event.Entry {
	t.Helper()
	for i := range entries {
		if entries[i].MessageID == mid {
			return &entries[i]
		}
	}
	t.Fatalf("engine: message %s not among %d entries", mid, len(entries))
	return nil
}

// syncOurs syncs conv on our engine and returns its whole stored history.
func syncOurs(t *testing.T, s *suite, o *ours, conv string) []event.Entry {
	t.Helper()
	ctx := s.ctx(t)
	if _, err := o.e.Sync(ctx, conv, nil); err != nil {
		t.Fatalf("engine Sync(%s): %v", conv, err)
	}
	h, err := o.e.History(ctx, conv, "", 0)
	if err != nil {
		t.Fatalf("engine History(%s): %v", conv, err)
	}
	return h
}

// verifiedMessage asserts that e is a verified message entry.
func verifiedMessage(t *testing.T, e *event.Entry) {
	t.Helper()
	if !e.Verified || e.Error != "" {
		t.Fatalf("engine: entry %s (%s) not verified: %q", e.MessageID, e.Type, e.Error)
	}
}

// verifiedEvent asserts that the SDK verified ev.
func verifiedEvent(t *testing.T, ev *peer.Event) {
	t.Helper()
	if !ev.Verified {
		t.Fatalf("SDK: event %s (%s) not verified: %s", ev.ID, ev.Type, ev.Raw)
	}
}

// oneToOne returns the canonical 1:1 id of a and b.
func oneToOne(t *testing.T, a, b string) string {
	t.Helper()
	id, err := session.CanonicalID(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// pair sets up a keyed 1:1 conversation. When oursFirst, our engine sends
// the key change (and a first message); otherwise the SDK app does. Both
// sides have synced afterwards.
func pair(t *testing.T, s *suite, oursFirst bool) (*ours, *official, string) {
	t.Helper()
	us := s.newOurs(t, "ours")
	them := s.newOfficial(t, "official")
	conv := oneToOne(t, us.id, them.id)
	ctx := s.ctx(t)
	if oursFirst {
		if _, err := us.e.SendText(ctx, them.id, "hello from xchat-go"); err != nil {
			t.Fatalf("engine SendText: %v", err)
		}
		r := them.sync(t, conv, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("SDK sync errors: %+v", r.Errors)
		}
	} else {
		them.call(t, "app.startConversation", map[string]any{"peerId": us.id}, nil)
		them.send(t, conv, map[string]any{"text": "hello from the official SDK"})
		syncOurs(t, s, us, conv)
	}
	return us, them, conv
}

// errorText returns err's message or "".
func errorText(err error) string {
	if err == nil {
		return ""
	}
	var re *peer.RemoteError
	if errors.As(err, &re) {
		return re.Message
	}
	return err.Error()
}
