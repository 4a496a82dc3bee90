package botcli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/cli"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// world is an emulator over loopback and the accounts made on it with
// xchat (in process), each in a home of its own.
type world struct {
	t     *testing.T
	ctx   context.Context
	emu   *emulator.Server
	url   string
	dir   string
	users map[string]api.ProvisionUserResponse
}

func newWorld(t *testing.T) *world {
	t.Helper()
	emu := emulator.New(emulator.WithStreamHeartbeat(50 * time.Millisecond))
	srv := httptest.NewServer(emu)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(func() { cancel(); emu.EndStreams(); srv.Close(); _ = emu.Close() })
	return &world{t: t, ctx: ctx, emu: emu, url: srv.URL, dir: t.TempDir(), users: map[string]api.ProvisionUserResponse{}}
}

// env is the environment of name's processes.
func (w *world) env(name string, extra map[string]string) (*cli.Env, *syncBuffer, *syncBuffer) {
	u := w.users[name]
	vars := map[string]string{"XCHAT_NO_PROMPT": "1", cli.EnvAppToken: u.AppBearerToken,
		cli.EnvConsumerSecret: u.ConsumerSecret, cli.EnvClientSecret: u.ClientSecret}
	for k, v := range extra {
		vars[k] = v
	}
	var out, errs syncBuffer
	return &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errs, Getenv: func(k string) string { return vars[k] }}, &out, &errs
}

// globals are name's global xchat flags.
func (w *world) globals(name string) []string {
	u := w.users[name]
	return []string{"--home", filepath.Join(w.dir, name), "--api", w.url, "--token", u.AccessToken, "--no-passphrase"}
}

// xchat runs the CLI as name and returns its stdout.
func (w *world) xchat(name string, args ...string) string {
	w.t.Helper()
	env, out, errs := w.env(name, nil)
	if st := cli.Run(w.ctx, append(w.globals(name), args...), env); st != 0 {
		w.t.Fatalf("xchat %s %v: status %d\n%s", name, args, st, errs.String())
	}
	return out.String()
}

// account provisions name and makes its account with xchat.
func (w *world) account(name string) string {
	w.t.Helper()
	body, err := json.Marshal(api.ProvisionUserRequest{Username: name})
	if err != nil {
		w.t.Fatal(err)
	}
	resp, err := http.Post(w.url+"/emulator/v1/users", "application/json", bytes.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	var pr api.ProvisionUserResponse
	err = json.NewDecoder(resp.Body).Decode(&pr)
	resp.Body.Close()
	if err != nil {
		w.t.Fatal(err)
	}
	w.users[name] = pr
	w.xchat(name, "init", "--user-id", pr.ID)
	w.xchat(name, "keys", "register")
	return pr.ID
}

// startBot runs xchat-bot as name with flags; it returns its stderr and a
// stop function returning the exit status.
func (w *world) startBot(name string, extra map[string]string, flags ...string) (*syncBuffer, func() int) {
	w.t.Helper()
	env, _, errs := w.env(name, extra)
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan int, 1)
	go func() { done <- Run(ctx, append(w.globals(name), flags...), env) }()
	return errs, func() int { cancel(); return <-done }
}

// waitLog waits for a line matching re on the bot's stderr.
func (w *world) waitLog(errs *syncBuffer, re string) string {
	w.t.Helper()
	rx := regexp.MustCompile(re)
	for {
		if m := rx.FindString(errs.String()); m != "" {
			return m
		}
		select {
		case <-w.ctx.Done():
			w.t.Fatalf("no %q in the bot's log:\n%s", re, errs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// jsonEvent is a line of xchat read --json.
type jsonEvent struct {
	SenderID    string `json:"sender_id"`
	SequenceID  string `json:"sequence_id"`
	Type        string `json:"type"`
	Text        string `json:"text"`
	Verified    bool   `json:"verified"`
	Attachments []struct {
		Filename string `json:"filename"`
	} `json:"attachments"`
}

// replies reads conv as name and returns the verified messages from
// sender, waiting until there are want.
func (w *world) replies(name, conv, sender string, want int) []jsonEvent {
	w.t.Helper()
	for {
		var got []jsonEvent
		for _, line := range strings.Split(strings.TrimSpace(w.xchat(name, "read", "--conversation", conv, "--json")), "\n") {
			var ev jsonEvent
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				w.t.Fatalf("read --json printed %q: %v", line, err)
			}
			if ev.SenderID == sender && ev.Type == "message" && ev.Verified {
				got = append(got, ev)
			}
		}
		if len(got) >= want {
			return got
		}
		select {
		case <-w.ctx.Done():
			w.t.Fatalf("%s has %d of %d messages from %s", name, len(got), want, sender)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestXchatBot: xchat-bot over the Activity stream answers !echo, !help,
// !whoami (with the safety number alice's xchat shows for the bot) and
// !file (alice's file comes back, byte for byte); its health endpoint is
// ready; SIGINT-like cancellation stops it with status 0.
func TestXchatBot(t *testing.T) {
	w := newWorld(t)
	alice := w.account("alice")
	botID := w.account("echobot")
	errs, stop := w.startBot("echobot", nil, "--name", "echobot", "--health", "127.0.0.1:0")
	w.waitLog(errs, `msg="bot: ready"`)
	health := w.waitLog(errs, `url=http://127\.0\.0\.1:[0-9]+`)
	resp, err := http.Get(strings.TrimPrefix(health, "url=") + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d", resp.StatusCode)
	}

	w.xchat("alice", "send", "--to", botID, "!echo hi")
	w.xchat("alice", "send", "--to", botID, "!help")
	w.xchat("alice", "send", "--to", botID, "!whoami")
	blob := bytes.Repeat([]byte("round trip\n"), 3000)
	path := filepath.Join(w.dir, "notes.txt")
	if err := os.WriteFile(path, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	w.xchat("alice", "send", "--to", botID, "--file", path, "!file")
	got := w.replies("alice", botID, botID, 4)
	sum := sha256.Sum256(blob)
	if got[0].Text != "hi" {
		t.Errorf("!echo hi answered %q", got[0].Text)
	}
	if !strings.Contains(got[1].Text, "!echo TEXT — repeats TEXT (also !say)") || !strings.Contains(got[1].Text, "!whoami") {
		t.Errorf("!help answered %q", got[1].Text)
	}
	verify := w.xchat("alice", "keys", "verify", "--yes", botID)
	sn := regexp.MustCompile(`[0-9]{5}( [0-9]{5}){11}`).FindString(got[2].Text)
	if !strings.Contains(got[2].Text, "You are "+alice) || sn == "" || !strings.Contains(verify, sn) {
		t.Errorf("!whoami answered %q; xchat keys verify shows\n%s", got[2].Text, verify)
	}
	if want := fmt.Sprintf("notes.txt: %d bytes, sha256 %s", len(blob), hex.EncodeToString(sum[:])); got[3].Text != want || len(got[3].Attachments) != 1 {
		t.Errorf("!file answered %q %+v, want %q", got[3].Text, got[3].Attachments, want)
	}
	back := filepath.Join(w.dir, "back.txt")
	w.xchat("alice", "media", "get", "--conversation", botID, got[3].SequenceID, "-o", back)
	if b, err := os.ReadFile(back); err != nil || !bytes.Equal(b, blob) {
		t.Errorf("the file came back as %d bytes (%v)", len(b), err)
	}
	if st := stop(); st != 0 {
		t.Fatalf("xchat-bot exited %d:\n%s", st, errs.String())
	}
	if strings.Contains(errs.String(), "round trip") || strings.Contains(errs.String(), "!echo hi") {
		t.Errorf("the log shows message text:\n%s", errs.String())
	}
}

// TestXchatBotWebhookAndPoll: the same bot by webhook (registered with the
// emulator, which checks its CRC) and by polling, configured from the
// environment.
func TestXchatBotWebhookAndPoll(t *testing.T) {
	w := newWorld(t)
	w.account("alice")
	botID := w.account("echobot")
	errs, stop := w.startBot("echobot", map[string]string{"XCHAT_BOT_TRANSPORT": "webhook", "XCHAT_BOT_WEBHOOK_ADDR": "127.0.0.1:0",
		"XCHAT_BOT_WEBHOOK_URL": "local"})
	w.waitLog(errs, `msg="bot: ready"`)
	w.xchat("alice", "send", "--to", botID, "!echo by webhook")
	if got := w.replies("alice", botID, botID, 1); got[0].Text != "by webhook" {
		t.Fatalf("answered %q", got[0].Text)
	}
	if st := stop(); st != 0 {
		t.Fatalf("exit %d:\n%s", st, errs.String())
	}
	errs, stop = w.startBot("echobot", map[string]string{"XCHAT_BOT_TRANSPORT": "poll", "XCHAT_BOT_POLL": "100ms"})
	w.waitLog(errs, `msg="bot: ready"`)
	w.xchat("alice", "send", "--to", botID, "!say polled")
	if got := w.replies("alice", botID, botID, 2); got[1].Text != "polled" {
		t.Fatalf("answered %q", got[1].Text)
	}
	if st := stop(); st != 0 {
		t.Fatalf("exit %d:\n%s", st, errs.String())
	}
}

// TestXchatBotUsage: configuration mistakes exit 2 with a message.
func TestXchatBotUsage(t *testing.T) {
	w := newWorld(t)
	w.account("echobot")
	for _, tt := range []struct {
		extra map[string]string
		flags []string
		want  string
	}{
		{map[string]string{cli.EnvAppToken: ""}, nil, "the stream needs the app's bearer token"},
		{nil, []string{"--group-commands", "loud"}, "--group-commands"},
		{nil, []string{"--group-commands", "mention"}, "mention-only addressing needs the bot's name"},
		{map[string]string{"XCHAT_BOT_RATE": "lots"}, nil, `--rate "lots"`},
		{nil, []string{"extra"}, `unexpected argument "extra"`},
	} {
		env, _, errs := w.env("echobot", tt.extra)
		if st := Run(w.ctx, append(w.globals("echobot"), tt.flags...), env); st != exitUsage || !strings.Contains(errs.String(), tt.want) {
			t.Errorf("%v %v: status %d, stderr %q (want %q)", tt.extra, tt.flags, st, errs.String(), tt.want)
		}
	}
	env, out, _ := w.env("echobot", nil)
	if st := Run(w.ctx, []string{"--help"}, env); st != 0 || !strings.Contains(out.String(), "$XCHAT_BOT_NAME") {
		t.Errorf("--help: %d\n%s", st, out.String())
	}
}
