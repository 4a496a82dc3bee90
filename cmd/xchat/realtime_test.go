package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
)

var (
	xchatBinOnce sync.Once
	xchatBin     string
	xchatBinErr  error
)

// buildXchat builds cmd/xchat once per test binary.
func buildXchat() (string, error) {
	xchatBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "xchat-bin")
		if err != nil {
			xchatBinErr = err
			return
		}
		bin := filepath.Join(dir, "xchat")
		gobin, err := exec.LookPath("go")
		if err != nil {
			xchatBinErr = err
			return
		}
		if out, err := exec.Command(gobin, "build", "-o", bin, "github.com/xchat-go/xchat/cmd/xchat").CombinedOutput(); err != nil {
			xchatBinErr = fmt.Errorf("go build xchat: %v\n%s", err, out)
			return
		}
		xchatBin = bin
	})
	return xchatBin, xchatBinErr
}

// lines delivers a reader's lines on a channel (closed at EOF).
func lines(r io.Reader) <-chan string {
	ch := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
		close(ch)
	}()
	return ch
}

// waitLine returns the first line containing want, or fails.
func waitLine(t *testing.T, ctx context.Context, ch <-chan string, want, what string) string {
	t.Helper()
	for {
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatalf("%s: output ended before %q", what, want)
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-ctx.Done():
			t.Fatalf("%s: no line with %q", what, want)
		}
	}
}

// TestWatchStreamXchatd: against a real xchatd, `xchat watch --json` in one
// process shows, through the Activity stream, messages another account
// sends with `xchat send` in another; it reports the time from starting
// the send to the printed line.
func TestWatchStreamXchatd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds xchatd and xchat")
	}
	xchatd, err := buildXchatd()
	if err != nil {
		t.Fatal(err)
	}
	xchat, err := buildXchat()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := exec.CommandContext(ctx, xchatd, "-addr", "127.0.0.1:0")
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Signal(os.Interrupt); _ = srv.Wait() }()
	base, ok := strings.CutPrefix(waitLine(t, ctx, lines(out), "listening on ", "xchatd"), "listening on ")
	if !ok {
		t.Fatal("xchatd did not print its address")
	}
	users := map[string]api.ProvisionUserResponse{}
	for _, name := range []string{"alice", "bob"} {
		body := testutil.Must(json.Marshal(api.ProvisionUserRequest{Username: name}))(t)
		resp, err := http.Post(base+"/emulator/v1/users", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var pr api.ProvisionUserResponse
		err = json.NewDecoder(resp.Body).Decode(&pr)
		resp.Body.Close()
		if err != nil || pr.AppBearerToken == "" {
			t.Fatalf("provision %s: %+v %v", name, pr, err)
		}
		users[name] = pr
	}
	work := t.TempDir()
	xc := func(name string, args ...string) *exec.Cmd {
		u := users[name]
		cmd := exec.CommandContext(ctx, xchat, append([]string{"--home", filepath.Join(work, name), "--api", base,
			"--token", u.AccessToken, "--no-passphrase"}, args...)...)
		cmd.Env = append(os.Environ(), "XCHAT_NO_PROMPT=1", "XCHAT_APP_TOKEN="+u.AppBearerToken)
		return cmd
	}
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := xc(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("xchat %s %v: %v\n%s", name, args, err, out)
		}
	}
	for _, name := range []string{"alice", "bob"} {
		run(name, "init", "--user-id", users[name].ID)
		run(name, "keys", "register")
	}

	watch := xc("bob", "watch", "--json")
	wout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	werr, err := watch.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	stdout, stderr := lines(wout), lines(werr)
	var stderrLog []string
	var mu sync.Mutex
	status := make(chan string, 64)
	go func() {
		for l := range stderr {
			mu.Lock()
			stderrLog = append(stderrLog, l)
			mu.Unlock()
			status <- l
		}
		close(status)
	}()
	waitLine(t, ctx, status, "stream: connected", "watch stderr")

	var latencies []time.Duration
	for i, text := range []string{"first over the stream", "second over the stream", "third over the stream"} {
		start := time.Now()
		run("alice", "send", "--to", users["bob"].ID, text)
		sent := time.Now()
		line := waitLine(t, ctx, stdout, text, "watch stdout")
		shown := time.Now()
		var ev struct {
			SenderID string `json:"sender_id"`
			Type     string `json:"type"`
			Text     string `json:"text"`
			Verified bool   `json:"verified"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil || !ev.Verified || ev.SenderID != users["alice"].ID || ev.Type != "message" {
			t.Fatalf("watch printed %q (%v)", line, err)
		}
		latencies = append(latencies, shown.Sub(start))
		t.Logf("message %d: shown %v after starting 'xchat send' (%v after it exited)", i+1,
			shown.Sub(start).Round(time.Millisecond), shown.Sub(sent).Round(time.Millisecond))
	}
	_ = watch.Process.Signal(os.Interrupt)
	if err := watch.Wait(); err != nil {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("watch exited with %v; stderr:\n%s", err, strings.Join(stderrLog, "\n"))
	}
	mu.Lock()
	for _, l := range stderrLog {
		if strings.Contains(l, "error") || strings.Contains(l, "polling") {
			t.Errorf("watch stderr: %s", l)
		}
	}
	mu.Unlock()
	t.Logf("xchat watch --json (stream, xchatd) showed each of %d sends after %v", len(latencies), latencies)

	// Without access to the Activity API, watch says so and polls.
	poll := xc("bob", "watch", "--json", "--interval", "100ms")
	poll.Env = append(poll.Env, "XCHAT_APP_TOKEN=not-the-app-token")
	pout := testutil.Must(poll.StdoutPipe())(t)
	perr := testutil.Must(poll.StderrPipe())(t)
	if err := poll.Start(); err != nil {
		t.Fatal(err)
	}
	pstdout, pstderr := lines(pout), lines(perr)
	waitLine(t, ctx, pstderr, "the app bearer token (--app-token or XCHAT_APP_TOKEN) was rejected; polling instead", "polling watch")
	waitLine(t, ctx, pstderr, "every 100ms", "polling watch")
	run("alice", "send", "--to", users["bob"].ID, "polled, not streamed")
	if l := waitLine(t, ctx, pstdout, "polled, not streamed", "polling watch"); !strings.Contains(l, `"verified":true`) {
		t.Fatalf("polling watch printed %s", l)
	}
	_ = poll.Process.Signal(os.Interrupt)
	if err := poll.Wait(); err != nil {
		t.Fatalf("polling watch exited with %v", err)
	}
}

// TestWebhookServeXchatd: `xchat webhook serve --register local` against a
// real xchatd registers itself (passing the CRC), subscribes the account,
// prints a message another account sends, verified, and refuses a POST
// signed with a wrong secret.
func TestWebhookServeXchatd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds xchatd and xchat")
	}
	xchatd, err := buildXchatd()
	if err != nil {
		t.Fatal(err)
	}
	xchat, err := buildXchat()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := exec.CommandContext(ctx, xchatd, "-addr", "127.0.0.1:0")
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Signal(os.Interrupt); _ = srv.Wait() }()
	base, _ := strings.CutPrefix(waitLine(t, ctx, lines(out), "listening on ", "xchatd"), "listening on ")
	users := map[string]api.ProvisionUserResponse{}
	for _, name := range []string{"alice", "bob"} {
		body := testutil.Must(json.Marshal(api.ProvisionUserRequest{Username: name}))(t)
		resp, err := http.Post(base+"/emulator/v1/users", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var pr api.ProvisionUserResponse
		err = json.NewDecoder(resp.Body).Decode(&pr)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		users[name] = pr
	}
	work := t.TempDir()
	xc := func(name string, args ...string) *exec.Cmd {
		u := users[name]
		cmd := exec.CommandContext(ctx, xchat, append([]string{"--home", filepath.Join(work, name), "--api", base,
			"--token", u.AccessToken, "--no-passphrase"}, args...)...)
		cmd.Env = append(os.Environ(), "XCHAT_NO_PROMPT=1", "XCHAT_APP_TOKEN="+u.AppBearerToken,
			"XCHAT_CONSUMER_SECRET="+u.ConsumerSecret, "XCHAT_CLIENT_SECRET="+u.ClientSecret)
		return cmd
	}
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := xc(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("xchat %s %v: %v\n%s", name, args, err, out)
		}
	}
	for _, name := range []string{"alice", "bob"} {
		run(name, "init", "--user-id", users[name].ID)
		run(name, "keys", "register")
	}
	serve := xc("bob", "webhook", "serve", "--addr", "127.0.0.1:0", "--register", "local", "--json")
	sout := testutil.Must(serve.StdoutPipe())(t)
	serr := testutil.Must(serve.StderrPipe())(t)
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	stdout, stderr := lines(sout), lines(serr)
	hook, _ := strings.CutPrefix(waitLine(t, ctx, stderr, "listening on ", "webhook serve"), "listening on ")
	waitLine(t, ctx, stderr, "registered at "+hook, "webhook serve")

	run("alice", "send", "--to", users["bob"].ID, "hello by webhook")
	line := waitLine(t, ctx, stdout, "hello by webhook", "webhook serve stdout")
	if !strings.Contains(line, `"verified":true`) {
		t.Fatalf("printed %s", line)
	}
	body := []byte(`{"data":{"event_uuid":"1","event_type":"chat.received","payload":{"encoded_event":"AAAA"}}}`)
	req := testutil.Must(http.NewRequestWithContext(ctx, "POST", hook, bytes.NewReader(body)))(t)
	req.Header.Set(api.HeaderWebhookSignature, api.WebhookSignature([]byte("wrong"), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged POST answered %d", resp.StatusCode)
	}
	waitLine(t, ctx, stderr, "refused", "webhook serve stderr")
	_ = serve.Process.Signal(os.Interrupt)
	if err := serve.Wait(); err != nil {
		t.Fatalf("webhook serve exited with %v", err)
	}
}
