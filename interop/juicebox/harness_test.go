package crosscheck

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// sdkVersion is the juicebox-sdk release package.json pins.
const sdkVersion = "0.3.7"

// jsError is a failure reported by the official client.
type jsError struct {
	Reason           string `json:"reason"`
	GuessesRemaining *int   `json:"guesses_remaining"`
	Message          string `json:"message"`
}

func (e *jsError) Error() string {
	s := "juicebox-sdk: " + e.Reason
	if e.GuessesRemaining != nil {
		s += fmt.Sprintf(" (%d guesses remaining)", *e.GuessesRemaining)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// jsClient drives jb.mjs: one node process running the official Juicebox
// client (WebAssembly) over JSON lines.
type jsClient struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Scanner
	stderr bytes.Buffer
	mu     sync.Mutex
	next   int
}

// startJS starts the harness, failing (never skipping) when the SDK is not
// installed; without node it skips only when XCHAT_INTEROP_OPTIONAL=1.
func startJS(t *testing.T) *jsClient {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("XCHAT_INTEROP_OPTIONAL") == "1" {
			t.Skip("node not on PATH and XCHAT_INTEROP_OPTIONAL=1")
		}
		t.Fatalf("node not on PATH: the Juicebox cross-check needs Node.js 20+ (set XCHAT_INTEROP_OPTIONAL=1 to skip): %v", err)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "juicebox-sdk", "package.json")); err != nil {
		t.Fatalf("juicebox-sdk is not installed (%v): run `npm ci` in interop/juicebox (make interop-deps does)", err)
	}
	c := &jsClient{cmd: exec.Command(node, "--experimental-wasm-modules", "--no-warnings", "jb.mjs")}
	c.cmd.Stderr = &c.stderr
	c.stdin, err = c.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.out = bufio.NewScanner(stdout)
	c.out.Buffer(make([]byte, 1<<20), 1<<20)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.stdin.Close()
		done := make(chan struct{})
		go func() { _ = c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	})
	var v struct {
		SDK string `json:"sdk"`
	}
	if err := c.call("version", nil, &v); err != nil {
		t.Fatalf("harness: %v (stderr: %s)", err, c.stderr.String())
	}
	if v.SDK != sdkVersion {
		t.Fatalf("juicebox-sdk %s installed, want %s", v.SDK, sdkVersion)
	}
	return c
}

// call runs one op; a failure of the official client is a *jsError.
func (c *jsClient) call(op string, args map[string]any, out any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	req, err := json.Marshal(map[string]any{"id": c.next, "op": op, "args": args})
	if err != nil {
		return err
	}
	if _, err := c.stdin.Write(append(req, '\n')); err != nil {
		return fmt.Errorf("harness gone: %w (stderr: %s)", err, c.stderr.String())
	}
	if !c.out.Scan() {
		return fmt.Errorf("harness closed stdout (stderr: %s)", c.stderr.String())
	}
	var resp struct {
		ID     int             `json:"id"`
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
		Error  *jsError        `json:"error"`
	}
	if err := json.Unmarshal(c.out.Bytes(), &resp); err != nil {
		return fmt.Errorf("harness answer %q: %w", c.out.Text(), err)
	}
	if resp.ID != c.next {
		return fmt.Errorf("harness answered id %d, want %d", resp.ID, c.next)
	}
	if !resp.OK {
		if resp.Error == nil {
			return fmt.Errorf("harness failed without a reason")
		}
		return resp.Error
	}
	if out != nil {
		return json.Unmarshal(resp.Result, out)
	}
	return nil
}

// jsAccount is the official client configured for one user from X's
// juicebox_config pieces.
type jsAccount struct {
	js     *jsClient
	config string
	tokens map[string]string
}

func (a *jsAccount) args(extra map[string]any) map[string]any {
	m := map[string]any{"config": a.config, "tokens": a.tokens}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

var b64 = base64.StdEncoding

func (a *jsAccount) register(pin string, secret []byte, guesses uint16) error {
	return a.js.call("register", a.args(map[string]any{"pin": b64.EncodeToString([]byte(pin)),
		"secret": b64.EncodeToString(secret), "info": "", "guesses": guesses}), nil)
}

func (a *jsAccount) recover(pin string) ([]byte, error) {
	var r struct {
		Secret string `json:"secret"`
	}
	if err := a.js.call("recover", a.args(map[string]any{"pin": b64.EncodeToString([]byte(pin)), "info": ""}), &r); err != nil {
		return nil, err
	}
	return b64.DecodeString(r.Secret)
}

func (a *jsAccount) delete() error { return a.js.call("delete", a.args(nil), nil) }

// ctxT is a per-test deadline.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
