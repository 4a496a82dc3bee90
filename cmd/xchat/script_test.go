package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	bolt "go.etcd.io/bbolt"

	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/cli"
	"github.com/xchat-go/xchat/wire"
)

// TestMain makes "xchat" (the CLI, run in a child process of the test
// binary) and "xchat-testbrowser" (a stand-in browser for login) available to
// the scripts.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"xchat":             func() { os.Exit(cli.Main(os.Args[1:])) },
		"xchat-testbrowser": func() { os.Exit(testBrowser()) },
	})
}

// TestScripts runs testdata/script/*.txtar. Each script gets its own
// in-process emulator behind a tampering proxy (XCHAT_API points at it).
//
// Custom commands:
//
//	provision NAME…        create emulator users; sets $NAME_id and $NAME_token
//	as NAME                XCHAT_HOME=$WORK/NAME, XCHAT_TOKEN=$NAME_token
//	capture VAR            VAR = the last command's stdout, trimmed
//	tamper on|off          flip a ciphertext byte of every message event served
//	emulator stop          stop the emulator (connection refused afterwards)
//	emulator fail-sends N before|after
//	                       answer the next N message sends with 503, dropping
//	                       the send (before) or only its answer (after)
//	xchatd start           build and start the real xchatd binary (state in
//	                       $WORK/xchatd.db); XCHAT_API points at it. Started
//	                       again after a stop, it listens on the same address
//	xchatd stop            stop it (SIGINT): connection refused until started
//	pngfile FILE W H       write a small PNG image
//	corrupt FILE empty|truncate|flip OFFSET|event
//	                       damage a keystore file: empty it, cut it in half,
//	                       flip 8 bytes at OFFSET, or alter one stored event
//	juicebox …             realm switches, see juicebox_script_test.go
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   filepath.Join("testdata", "script"),
		Setup: setupWorld,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"provision": cmdProvision,
			"as":        cmdAs,
			"capture":   cmdCapture,
			"tamper":    cmdTamper,
			"emulator":  cmdEmulator,
			"xchatd":    cmdXchatd,
			"pngfile":   cmdPNGFile,
			"corrupt":   cmdCorrupt,
			"juicebox":  cmdJuicebox,
		},
		RequireExplicitExec: true,
	})
}

type worldKey struct{}

// world is one script's emulator.
type world struct {
	emu    *emulator.Server
	srv    *httptest.Server
	api    string // current API base (the emulator, or xchatd once started)
	tamper atomic.Bool
	// tampered counts the events altered by the proxy.
	tampered atomic.Int64
	// failSends answers that many message sends with 503; failAfter
	// forwards them to the emulator first (the reply is lost, not the send).
	failSends atomic.Int64
	failAfter atomic.Bool
	// xchatd is the running xchatd process, xchatdAddr its address (kept
	// for a restart). held holds the port of a stopped xchatd or emulator
	// (holdPort).
	xchatd     *exec.Cmd
	xchatdAddr string
	held       io.Closer
}

func setupWorld(env *testscript.Env) error {
	w := &world{emu: emulator.New()}
	w.srv = httptest.NewServer(w.proxy(w.emu))
	w.api = w.srv.URL
	env.Values[worldKey{}] = w
	env.Defer(func() {
		w.srv.Close()
		_ = w.emu.Close()
		if w.held != nil {
			_ = w.held.Close()
		}
	})
	env.Setenv(cli.EnvAPI, w.srv.URL)
	env.Setenv(cli.EnvNoPrompt, "1")
	env.Setenv(cli.EnvPassphrase, "correct horse battery staple")
	return nil
}

func worldOf(ts *testscript.TestScript) *world { return ts.Value(worldKey{}).(*world) }

// proxy serves the emulator and, while tampering is on, flips one byte of
// the encrypted contents of every message event in event listings — what a
// malicious server or network could do.
func (w *world) proxy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages") && w.failSends.Add(-1) >= 0 {
			if w.failAfter.Load() {
				next.ServeHTTP(httptest.NewRecorder(), r)
			}
			rw.Header().Set("Content-Type", "application/problem+json")
			rw.WriteHeader(http.StatusServiceUnavailable)
			_, _ = rw.Write([]byte(`{"title":"Service Unavailable","detail":"injected fault","type":"about:blank","status":503}`))
			return
		}
		if !w.tamper.Load() || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/events") {
			next.ServeHTTP(rw, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			if out, n, err := tamperEvents(body); err == nil {
				body = out
				w.tampered.Add(int64(n))
			}
		}
		for k, v := range rec.Header() {
			rw.Header()[k] = v
		}
		rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
		rw.WriteHeader(rec.Code)
		_, _ = rw.Write(body)
	})
}

// tamperEvents flips the last ciphertext byte of every message event in an
// events page and returns the page re-encoded with the number altered.
func tamperEvents(body []byte) ([]byte, int, error) {
	var page map[string]json.RawMessage
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, 0, err
	}
	var data []map[string]any
	if err := json.Unmarshal(page["data"], &data); err != nil {
		return nil, 0, err
	}
	n := 0
	for _, ev := range data {
		enc, _ := ev["encoded_event"].(string)
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			continue
		}
		me, err := wire.DecodeMessageEvent(raw)
		if err != nil || me.Detail == nil || me.Detail.MessageCreateEvent == nil || len(me.Detail.MessageCreateEvent.Contents) == 0 {
			continue
		}
		c := me.Detail.MessageCreateEvent.Contents
		c[len(c)-1] ^= 0x01
		out, err := wire.EncodeMessageEvent(me)
		if err != nil {
			continue
		}
		ev["encoded_event"] = base64.StdEncoding.EncodeToString(out)
		n++
	}
	d, err := json.Marshal(data)
	if err != nil {
		return nil, 0, err
	}
	page["data"] = d
	out, err := json.Marshal(page)
	return out, n, err
}

func cmdProvision(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: provision NAME…")
	}
	w := worldOf(ts)
	for _, name := range args {
		body, err := json.Marshal(emulator.ProvisionRequest{Username: name})
		ts.Check(err)
		resp, err := http.Post(w.api+"/emulator/v1/users", "application/json", bytes.NewReader(body))
		ts.Check(err)
		var pr emulator.ProvisionResponse
		err = json.NewDecoder(resp.Body).Decode(&pr)
		resp.Body.Close()
		ts.Check(err)
		if pr.ID == "" || pr.AccessToken == "" {
			ts.Fatalf("provision %s: status %d, empty answer", name, resp.StatusCode)
		}
		ts.Setenv(name+"_id", pr.ID)
		ts.Setenv(name+"_token", pr.AccessToken)
	}
}

func cmdAs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: as NAME")
	}
	ts.Setenv(cli.EnvHome, filepath.Join(ts.Getenv("WORK"), args[0]))
	ts.Setenv(cli.EnvToken, ts.Getenv(args[0]+"_token"))
}

func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: capture VAR")
	}
	out := strings.TrimSpace(ts.ReadFile("stdout"))
	if out == "" {
		ts.Fatalf("capture %s: stdout is empty", args[0])
	}
	ts.Setenv(args[0], out)
}

func cmdTamper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 || (args[0] != "on" && args[0] != "off") {
		ts.Fatalf("usage: tamper on|off")
	}
	w := worldOf(ts)
	if args[0] == "off" && w.tamper.Load() && w.tampered.Load() == 0 {
		ts.Fatalf("tamper: no event was altered while tampering was on")
	}
	w.tamper.Store(args[0] == "on")
}

func cmdEmulator(ts *testscript.TestScript, neg bool, args []string) {
	w := worldOf(ts)
	switch {
	case !neg && len(args) == 1 && args[0] == "stop":
		w.srv.Close()
		if w.held == nil {
			w.held = holdPort(w.srv.Listener.Addr().String())
		}
	case !neg && len(args) == 3 && args[0] == "fail-sends" && (args[2] == "before" || args[2] == "after"):
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		w.failAfter.Store(args[2] == "after")
		w.failSends.Store(int64(n))
	default:
		ts.Fatalf("usage: emulator stop | emulator fail-sends N before|after")
	}
}

var (
	xchatdOnce sync.Once
	xchatdBin  string
	xchatdErr  error
)

// buildXchatd builds cmd/xchatd once per test binary.
func buildXchatd() (string, error) {
	xchatdOnce.Do(func() {
		dir, err := os.MkdirTemp("", "xchatd-bin")
		if err != nil {
			xchatdErr = err
			return
		}
		bin := filepath.Join(dir, "xchatd")
		if runtime.GOOS == "windows" {
			bin += ".exe"
		}
		gobin, err := exec.LookPath("go")
		if err != nil {
			xchatdErr = err
			return
		}
		cmd := exec.Command(gobin, "build", "-o", bin, "github.com/xchat-go/xchat/cmd/xchatd")
		if out, err := cmd.CombinedOutput(); err != nil {
			xchatdErr = fmt.Errorf("go build xchatd: %v\n%s", err, out)
			return
		}
		xchatdBin = bin
	})
	return xchatdBin, xchatdErr
}

// cmdXchatd starts the real xchatd binary on a free port and points
// XCHAT_API (and provision) at it.
func cmdXchatd(ts *testscript.TestScript, neg bool, args []string) {
	w := worldOf(ts)
	switch {
	case !neg && len(args) == 1 && args[0] == "start" && w.xchatd == nil:
		startXchatd(ts, w)
	case !neg && len(args) == 1 && args[0] == "stop" && w.xchatd != nil:
		stopXchatd(w.xchatd)
		w.xchatd = nil
		w.held = holdPort(w.xchatdAddr)
	default:
		ts.Fatalf("usage: xchatd start | xchatd stop (start when stopped, stop when started)")
	}
}

func startXchatd(ts *testscript.TestScript, w *world) {
	bin, err := buildXchatd()
	ts.Check(err)
	if w.held != nil {
		_ = w.held.Close()
		w.held = nil
	}
	addr := w.xchatdAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	cmd := exec.Command(bin, "-addr", addr, "-data", ts.MkAbs("xchatd.db"))
	stdout, err := cmd.StdoutPipe()
	ts.Check(err)
	cmd.Stderr = ts.Stderr()
	ts.Check(cmd.Start())
	w.xchatd = cmd
	ts.Defer(func() {
		if w.xchatd == cmd {
			stopXchatd(cmd)
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		u, ok := strings.CutPrefix(l, "listening on ")
		if !ok {
			ts.Fatalf("xchatd printed %q", l)
		}
		w.api, w.xchatdAddr = u, strings.TrimPrefix(u, "http://")
		ts.Setenv(cli.EnvAPI, u)
		ts.Setenv("XCHATD_URL", u)
	case <-time.After(30 * time.Second):
		ts.Fatalf("xchatd did not start")
	}
}

// stopXchatd interrupts xchatd and waits for it (killing it after 5s).
func stopXchatd(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// cmdCorrupt damages a keystore file the way disks, copies and people do.
func cmdCorrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: corrupt FILE empty|truncate|flip OFFSET|event")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	switch {
	case args[1] == "empty":
		b = nil
	case args[1] == "truncate":
		b = b[:len(b)/2]
	case args[1] == "flip" && len(args) == 3:
		off, err := strconv.Atoi(args[2])
		ts.Check(err)
		for i := off; i < off+8 && i < len(b); i++ {
			b[i] ^= 0xff
		}
	case args[1] == "event":
		ts.Check(corruptOneEvent(path))
		return
	default:
		ts.Fatalf("usage: corrupt FILE empty|truncate|flip OFFSET|event")
	}
	ts.Check(os.WriteFile(path, b, 0o600))
}

// corruptOneEvent alters one byte of the sealed value of the second stored
// event of the first conversation: the file stays a valid bbolt database.
func corruptOneEvent(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		events := tx.Bucket([]byte("events"))
		if events == nil {
			return errors.New("no events bucket")
		}
		ck, _ := events.Cursor().First()
		conv := events.Bucket(ck)
		if conv == nil {
			return errors.New("no conversation bucket")
		}
		c := conv.Cursor()
		c.First()
		k, v := c.Next()
		if k == nil {
			return errors.New("fewer than two events stored")
		}
		nv := bytes.Clone(v)
		nv[len(nv)-5] ^= 1
		return conv.Put(bytes.Clone(k), nv)
	})
}

// cmdPNGFile writes a W×H PNG.
func cmdPNGFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: pngfile FILE W H")
	}
	w, err1 := strconv.Atoi(args[1])
	h, err2 := strconv.Atoi(args[2])
	if err1 != nil || err2 != nil || w <= 0 || h <= 0 {
		ts.Fatalf("pngfile: bad size")
	}
	b, err := pngBytes(w, h)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

// testBrowser stands in for a browser during login: it follows the
// authorization URL (approving as $XCHAT_TEST_OAUTH_USER) to the CLI's
// loopback redirect.
func testBrowser() int {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: xchat-testbrowser URL")
		return 2
	}
	u, err := url.Parse(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	q := u.Query()
	q.Set("emulator_user", os.Getenv("XCHAT_TEST_OAUTH_USER"))
	u.RawQuery = q.Encode()
	resp, err := http.Get(u.String())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "status", resp.Status)
		return 1
	}
	return 0
}
