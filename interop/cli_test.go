package interop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/interop/peer"
)

// The reference CLI (cmd/xchat) as our side of a scenario: built once into
// the suite's temporary directory and run against xchatd.

// cliUser is an account driven through the xchat command.
type cliUser struct {
	s     *suite
	id    string
	token string
	home  string
}

func (s *suite) xchatBinary(t *testing.T) string {
	t.Helper()
	s.cliOnce.Do(func() {
		bin := filepath.Join(s.tmp, "xchat")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/xchat-go/xchat/cmd/xchat").CombinedOutput()
		if err != nil {
			s.cliErr = err.Error() + "\n" + string(out)
			return
		}
		s.cliBin = bin
	})
	if s.cliBin == "" {
		t.Fatalf("go build cmd/xchat: %s", s.cliErr)
	}
	return s.cliBin
}

func (s *suite) newCLI(t *testing.T, name string) *cliUser {
	t.Helper()
	id, token := s.provision(t, name)
	u := &cliUser{s: s, id: id, token: token, home: t.TempDir()}
	u.run(t, "init", "--user-id", id)
	u.run(t, "keys", "register")
	return u
}

// run executes xchat with the global flags for this account and returns
// stdout; a non-zero exit fails the test.
func (u *cliUser) run(t *testing.T, args ...string) string {
	t.Helper()
	bin := u.s.xchatBinary(t)
	full := append([]string{"--home", u.home, "--api", u.s.baseURL, "--token", u.token, "--no-passphrase"}, args...)
	cmd := exec.CommandContext(u.s.ctx(t), bin, full...)
	cmd.Env = append(os.Environ(), "XCHAT_NO_PROMPT=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("xchat %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// cliEvent is one line of `xchat read --json`.
type cliEvent struct {
	SequenceID string `json:"sequence_id"`
	MessageID  string `json:"message_id"`
	SenderID   string `json:"sender_id"`
	Type       string `json:"type"`
	Text       string `json:"text"`
	Verified   bool   `json:"verified"`
	Error      string `json:"error"`
}

func (u *cliUser) read(t *testing.T, conv string) []cliEvent {
	t.Helper()
	out := u.run(t, "read", "--conversation", conv, "--json")
	var evs []cliEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var e cliEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("xchat read --json line %q: %v", sc.Text(), err)
		}
		evs = append(evs, e)
	}
	return evs
}

// --- 22: the xchat CLI against the SDK app ---

func cliO2F(t *testing.T, s *suite) {
	u := s.newCLI(t, "cli")
	o1, o2 := s.newOfficial(t, "official1"), s.newOfficial(t, "official2")
	conv := oneToOne(t, u.id, o1.id)
	u.run(t, "send", "--to", o1.id, "hello from the xchat CLI")
	r := o1.sync(t, conv, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("SDK rejected: %+v", r.Errors)
	}
	var got bool
	for i := range r.Events {
		if e := &r.Events[i]; e.Type == "message" && e.SenderID == u.id {
			verifiedEvent(t, e)
			got = e.Content != nil && e.Content.Text == "hello from the xchat CLI"
		}
	}
	if !got {
		t.Error("SDK did not read the CLI's message")
	}
	// A file: encrypted and uploaded by the CLI, downloaded and decrypted by the SDK app.
	data := payload(5000, 22)
	file := filepath.Join(t.TempDir(), "report.bin")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	u.run(t, "send", "--conversation", conv, "--file", file, "the report")
	r = o1.sync(t, conv, nil)
	var media *peer.Event
	for i := range r.Events {
		if e := &r.Events[i]; e.Type == "message" && e.Content != nil && len(e.Content.Attachments) > 0 {
			media = e
		}
	}
	if media == nil {
		t.Fatal("SDK saw no attachment from the CLI")
	}
	verifiedEvent(t, media)
	a := mediaOf(t, media)
	got2, err := sdkDownload(t, o1, conv, a.Media.MediaHashKey, media.KeyVersion, 0)
	if err != nil || !bytes.Equal(got2, data) || media.Content.Text != "the report" {
		t.Errorf("SDK download of the CLI's file: %d bytes (want %d), caption %q, %v", len(got2), len(data), media.Content.Text, err)
	}

	gid := strings.TrimSpace(u.run(t, "group", "create", "--members", o1.id+","+o2.id))
	if !strings.HasPrefix(gid, "g") {
		t.Fatalf("xchat group create printed %q", gid)
	}
	u.run(t, "send", "--conversation", gid, "hello group from the CLI")
	for _, o := range []*official{o1, o2} {
		r := o.sync(t, gid, nil)
		if len(r.Errors) > 0 {
			t.Errorf("SDK member rejected: %+v", r.Errors)
		}
		var ok bool
		for i := range r.Events {
			if e := &r.Events[i]; e.Type == "message" && e.Verified && e.Content != nil && e.Content.Text == "hello group from the CLI" {
				ok = true
			}
		}
		if !ok {
			t.Errorf("SDK member %s did not read the CLI's group message", o.id)
		}
	}
}

func cliF2O(t *testing.T, s *suite) {
	u := s.newCLI(t, "cli")
	them := s.newOfficial(t, "official")
	conv := oneToOne(t, u.id, them.id)
	them.call(t, "app.startConversation", map[string]any{"peerId": u.id}, nil)
	m := them.send(t, conv, map[string]any{"text": "hello xchat CLI"})
	evs := u.read(t, conv)
	var found bool
	for _, e := range evs {
		if e.MessageID == m.MessageID {
			found = true
			if !e.Verified || e.Error != "" || e.Text != "hello xchat CLI" || e.SenderID != them.id || e.SequenceID != m.SequenceID {
				t.Errorf("xchat read: %+v", e)
			}
		}
	}
	if !found {
		t.Fatalf("xchat read --json did not list the SDK's message (%d events)", len(evs))
	}
	// A file from the SDK app, fetched and decrypted by `xchat media get`.
	data := payload(5000, 23)
	fm, _ := sdkSendMedia(t, them, conv, data, "")
	u.read(t, conv)
	out := filepath.Join(t.TempDir(), "got.bin")
	u.run(t, "media", "get", "--conversation", conv, "--o", out, fm.SequenceID)
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("xchat media get: %d bytes (want %d), %v", len(got), len(data), err)
	}

	// The CLI answers in the SDK's conversation (under the SDK's key).
	u.run(t, "send", "--conversation", conv, "answer from the CLI")
	r := them.sync(t, conv, nil)
	var ok bool
	for i := range r.Events {
		if e := &r.Events[i]; e.SenderID == u.id && e.Verified && e.Content != nil && e.Content.Text == "answer from the CLI" && e.KeyVersion == m.KeyVersion {
			ok = true
		}
	}
	if !ok {
		t.Errorf("SDK did not read the CLI's answer under its key %s", m.KeyVersion)
	}
}
