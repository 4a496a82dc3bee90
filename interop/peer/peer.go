package peer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// SDKVersion is the exact SDK release the harness is pinned to.
const SDKVersion = "0.4.3"

// EnvDir names the environment variable that overrides the interop directory
// (the one holding harness.mjs and node_modules).
const EnvDir = "XCHAT_INTEROP_DIR"

// maxLine bounds one response line (large media streams included).
const maxLine = 256 << 20

var (
	// ErrNodeNotFound reports that no node executable was found.
	ErrNodeNotFound = errors.New("peer: node not found on PATH (install Node.js 18+)")
	// ErrSDKNotInstalled reports that interop/node_modules lacks the SDK.
	ErrSDKNotInstalled = errors.New("peer: @xdevplatform/chat-xdk not installed: run npm ci in interop/")
	// ErrHarnessNotFound reports that harness.mjs could not be located.
	ErrHarnessNotFound = errors.New("peer: interop/harness.mjs not found")
	// ErrClosed reports a call on a closed or dead peer.
	ErrClosed = errors.New("peer: harness not running")
)

// RemoteError is an error reported by the harness or the SDK for one call.
type RemoteError struct {
	Op      string // the op that failed
	Message string // the SDK's (or harness's) error message
}

// Error implements error.
func (e *RemoteError) Error() string { return "peer: " + e.Op + ": " + e.Message }

// Option configures Start.
type Option func(*config)

type config struct {
	dir string
}

// WithDir sets the interop directory (holding harness.mjs and node_modules).
func WithDir(dir string) Option { return func(c *config) { c.dir = dir } }

// Peer is a running harness process. Its methods are safe for concurrent
// use; calls are serialised because the SDK is single-threaded.
type Peer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tailBuffer

	mu     sync.Mutex // serialises calls
	nextID uint64

	resp    chan response
	done    chan struct{} // closed when the reader stops
	readErr error         // why the reader stopped; valid after done

	closeOnce sync.Once
	closeErr  error
}

type request struct {
	ID   uint64 `json:"id"`
	Op   string `json:"op"`
	Args any    `json:"args,omitempty"`
}

type response struct {
	ID     *uint64         `json:"id"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

// Dir returns the interop directory Start would use with no WithDir option:
// $XCHAT_INTEROP_DIR, else the directory above this package's source.
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if ok {
		d := filepath.Dir(filepath.Dir(file))
		if _, err := os.Stat(filepath.Join(d, "harness.mjs")); err == nil {
			return d, nil
		}
	}
	// Fall back to walking up from the working directory.
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrHarnessNotFound, err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		for _, c := range []string{d, filepath.Join(d, "interop")} {
			if _, err := os.Stat(filepath.Join(c, "harness.mjs")); err == nil {
				return c, nil
			}
		}
		if filepath.Dir(d) == d {
			return "", ErrHarnessNotFound
		}
	}
}

// Start launches the harness and checks that it answers. ctx bounds the
// start-up only; the process lives until Close.
func Start(ctx context.Context, opts ...Option) (*Peer, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.dir == "" {
		d, err := Dir()
		if err != nil {
			return nil, err
		}
		c.dir = d
	}
	harness := filepath.Join(c.dir, "harness.mjs")
	if _, err := os.Stat(harness); err != nil {
		return nil, fmt.Errorf("%w in %s", ErrHarnessNotFound, c.dir)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "node_modules", "@xdevplatform", "chat-xdk", "package.json")); err != nil {
		return nil, fmt.Errorf("%w (looked in %s)", ErrSDKNotInstalled, filepath.Join(c.dir, "node_modules"))
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, ErrNodeNotFound
	}

	cmd := exec.Command(node, harness)
	cmd.Dir = c.dir
	tail := &tailBuffer{max: 16 << 10}
	cmd.Stderr = tail
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("peer: stdin pipe: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("peer: stdout pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("peer: start node: %w", err)
	}
	p := &Peer{
		cmd:    cmd,
		stdin:  stdin,
		stderr: tail,
		resp:   make(chan response),
		done:   make(chan struct{}),
	}
	go p.read(stdout)

	var v struct {
		SDK string `json:"sdk"`
	}
	if err := p.Call(ctx, "version", nil, &v); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("peer: harness did not start: %w", err)
	}
	if v.SDK != SDKVersion {
		_ = p.Close()
		return nil, fmt.Errorf("peer: harness reports SDK %q, want %q: run npm ci in interop/", v.SDK, SDKVersion)
	}
	return p, nil
}

func (p *Peer) read(r io.Reader) {
	defer close(p.done)
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("harness exited")
			}
			p.readErr = err
			return
		}
		var res response
		if err := json.Unmarshal(line, &res); err != nil {
			p.readErr = fmt.Errorf("bad response line: %w", err)
			return
		}
		p.resp <- res
	}
}

func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > maxLine {
			return nil, fmt.Errorf("response line exceeds %d bytes", maxLine)
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return bytes.TrimRight(buf, "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, err
		}
	}
}

// Call sends op with args and decodes the result into out (which may be nil).
// An SDK failure is returned as *RemoteError. If ctx ends first Call returns
// ctx.Err(); the stale answer is discarded by the next call.
func (p *Peer) Call(ctx context.Context, op string, args any, out any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return p.deadErr()
	default:
	}
	p.nextID++
	id := p.nextID
	line, err := json.Marshal(request{ID: id, Op: op, Args: args})
	if err != nil {
		return fmt.Errorf("peer: %s: encode request: %w", op, err)
	}
	line = append(line, '\n')
	if _, err := p.stdin.Write(line); err != nil {
		return fmt.Errorf("peer: %s: write request: %w", op, errors.Join(err, p.deadErr()))
	}
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("peer: %s: %w", op, ctx.Err())
		case <-p.done:
			return fmt.Errorf("peer: %s: %w", op, p.deadErr())
		case res := <-p.resp:
			if res.ID == nil || *res.ID != id {
				continue // answer to an abandoned call
			}
			if !res.OK {
				return &RemoteError{Op: op, Message: res.Error}
			}
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(res.Result, out); err != nil {
				return fmt.Errorf("peer: %s: decode result: %w", op, err)
			}
			return nil
		}
	}
}

func (p *Peer) deadErr() error {
	<-p.done
	msg := "harness not running"
	if p.readErr != nil {
		msg = p.readErr.Error()
	}
	if s := p.stderr.String(); s != "" {
		return fmt.Errorf("%w: %s; stderr: %s", ErrClosed, msg, s)
	}
	return fmt.Errorf("%w: %s", ErrClosed, msg)
}

// Close stops the harness (closing its stdin, then killing it if it does not
// exit within five seconds) and waits for it.
func (p *Peer) Close() error {
	p.closeOnce.Do(func() {
		_ = p.stdin.Close()
		exited := make(chan error, 1)
		go func() { exited <- p.cmd.Wait() }()
		select {
		case err := <-exited:
			p.closeErr = err
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-exited
			p.closeErr = errors.New("peer: harness killed after close timeout")
		}
		// Unblock the reader if it is waiting to hand over a response.
		go func() {
			for {
				select {
				case <-p.resp:
				case <-p.done:
					return
				}
			}
		}()
		<-p.done
		if p.closeErr != nil {
			var ee *exec.ExitError
			if errors.As(p.closeErr, &ee) {
				p.closeErr = fmt.Errorf("peer: harness exit: %w", p.closeErr)
			}
		}
	})
	return p.closeErr
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
