package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// testEnv is an Env with captured output, a fixed environment and an
// optional scripted terminal.
func testEnv(vars map[string]string, tty *fakeTTY) (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	env := &Env{
		Stdin:  strings.NewReader(""),
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(k string) string { return vars[k] },
	}
	if tty != nil {
		env.OpenTTY = func() (TTY, error) { return tty, nil }
	}
	return env, &out, &errb
}

// fakeTTY answers prompts from a list of lines.
type fakeTTY struct {
	lines   []string
	prompts []string
	closed  bool
}

func (t *fakeTTY) Prompt(s string) error { t.prompts = append(t.prompts, s); return nil }
func (t *fakeTTY) ReadLine() (string, error) {
	if len(t.lines) == 0 {
		return "", io.EOF
	}
	l := t.lines[0]
	t.lines = t.lines[1:]
	return l, nil
}
func (t *fakeTTY) ReadPassword() ([]byte, error) {
	l, err := t.ReadLine()
	return []byte(l), err
}
func (t *fakeTTY) Close() error { t.closed = true; return nil }

func TestEveryCommandHasHelpWithExample(t *testing.T) {
	if len(commands) < 20 {
		t.Fatalf("only %d commands registered", len(commands))
	}
	for name, c := range commands {
		args := append(strings.Fields(name), "--help")
		env, out, errb := testEnv(nil, nil)
		if st := Run(context.Background(), args, env); st != ExitOK {
			t.Errorf("%s --help: exit %d, stderr %q", name, st, errb)
		}
		s := out.String()
		if !strings.HasPrefix(s, "Usage: xchat [global flags] "+name) {
			t.Errorf("%s --help: usage line %q", name, firstLine(s))
		}
		if !strings.Contains(s, "\nExample:\n  xchat ") || c.example == "" {
			t.Errorf("%s --help has no example", name)
		}
		if errb.Len() != 0 {
			t.Errorf("%s --help wrote to stderr: %q", name, errb)
		}
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

func TestTopLevelUsage(t *testing.T) {
	tests := []struct {
		args       []string
		status     int
		stdout     string
		stderrLine string
	}{
		{[]string{"--help"}, ExitOK, "Usage: xchat [--home DIR] [--api URL] [--token T] [--no-passphrase] COMMAND", ""},
		{[]string{"help"}, ExitOK, "Commands:", ""},
		{nil, ExitUsage, "", "xchat: error: no command given"},
		{[]string{"nope"}, ExitUsage, "", `xchat: error: unknown command "nope"`},
		{[]string{"--bogus", "send"}, ExitUsage, "", "xchat: error: flag provided but not defined: -bogus"},
		{[]string{"keys"}, ExitUsage, "", "xchat: error: missing subcommand"},
		{[]string{"keys", "--help"}, ExitOK, "keys verify", ""},
		{[]string{"send", "--to", "1", "--conversation", "2", "x"}, ExitUsage, "", "xchat: error: give either --to or --conversation, not both"},
		{[]string{"react", "--conversation", "1", "5"}, ExitUsage, "", "xchat: error: react: missing argument SEQ EMOJI"},
		{[]string{"keys", "show", "1", "2"}, ExitUsage, "", `xchat: error: keys show: unexpected argument "2"`},
	}
	for _, tt := range tests {
		env, out, errb := testEnv(nil, nil)
		st := Run(context.Background(), tt.args, env)
		if st != tt.status {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tt.args, st, tt.status, errb)
		}
		if tt.stdout != "" && !strings.Contains(out.String(), tt.stdout) {
			t.Errorf("%q: stdout lacks %q:\n%s", tt.args, tt.stdout, out)
		}
		if tt.stdout == "" && out.Len() != 0 {
			t.Errorf("%q: unexpected stdout %q", tt.args, out)
		}
		if tt.stderrLine != "" {
			found := false
			for _, l := range strings.Split(errb.String(), "\n") {
				if l == tt.stderrLine {
					found = true
				}
			}
			if !found {
				t.Errorf("%q: stderr lacks line %q:\n%s", tt.args, tt.stderrLine, errb)
			}
		}
	}
}

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args []string
		to   string
		pos  []string
	}{
		{[]string{"--to", "2", "hello", "world"}, "2", []string{"hello", "world"}},
		{[]string{"hello", "--to", "2", "world"}, "2", []string{"hello", "world"}},
		{[]string{"--to", "2", "--", "--not-a-flag", "-x"}, "2", []string{"--not-a-flag", "-x"}},
		{[]string{"a", "--", "--to", "3"}, "", []string{"a", "--to", "3"}},
		{nil, "", nil},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		to := fs.String("to", "", "")
		pos, err := parseInterspersed(fs, tt.args)
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if *to != tt.to || !reflect.DeepEqual(pos, tt.pos) {
			t.Errorf("%q: to=%q pos=%q, want %q %q", tt.args, *to, pos, tt.to, tt.pos)
		}
	}
}

func TestIDList(t *testing.T) {
	var l idList
	for _, s := range []string{"1,2", " 3 ,,4", "5"} {
		if err := l.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"1", "2", "3", "4", "5"}; !reflect.DeepEqual([]string(l), want) {
		t.Errorf("idList = %q, want %q", l, want)
	}
}

func TestOneLineNeutralisesControls(t *testing.T) {
	in := "hi\n\x1b[2J\x1b]0;pwned\x07\rthere\u0085"
	got := oneLine(in)
	if strings.ContainsAny(got, "\n\r\x1b\x07\u0085") {
		t.Errorf("oneLine(%q) = %q keeps control characters", in, got)
	}
	if !strings.HasPrefix(got, "hi ") || !strings.Contains(got, "there") {
		t.Errorf("oneLine(%q) = %q lost text", in, got)
	}
}

func TestHumanEntryNeverShowsUnverifiedContent(t *testing.T) {
	e := &event.Entry{SequenceID: "9", SenderID: "7", Type: event.TypeMessage, Text: "transfer the money",
		Error: "signature does not verify"}
	got := humanEntry(e, "1", nil)
	if strings.Contains(got, "transfer") {
		t.Errorf("unverified content shown: %q", got)
	}
	if !strings.Contains(got, markFail) || !strings.Contains(got, "NOT VERIFIED") || !strings.Contains(got, "signature does not verify") {
		t.Errorf("failure not marked: %q", got)
	}
	e.Verified, e.Error = true, ""
	got = humanEntry(e, "7", nil)
	if !strings.Contains(got, markOK+" 7 (you)  transfer the money") {
		t.Errorf("verified line = %q", got)
	}
}

func TestJSONEventContract(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	msg := toJSONEvent(&event.Entry{ConversationID: "1:2", SequenceID: "10", MessageID: "m", SenderID: "1",
		Type: event.TypeMessage, CreatedAt: at, Verified: false})
	var buf bytes.Buffer
	if err := writeJSONLine(&buf, msg); err != nil {
		t.Fatal(err)
	}
	want := `{"conversation_id":"1:2","sequence_id":"10","message_id":"m","sender_id":"1","type":"message","created_at":"2026-01-02T03:04:05Z","text":"","verified":false,"error":"not verified"}` + "\n"
	if buf.String() != want {
		t.Errorf("json =\n%s want\n%s", buf.String(), want)
	}
	kc := toJSONEvent(&event.Entry{SequenceID: "11", Type: event.TypeKeyChange, Verified: true, KeyVersion: "5"})
	if kc.Text != nil || kc.Error != "" || kc.KeyVersion != "5" {
		t.Errorf("key change json = %+v", kc)
	}
}

func TestDescribe(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	got := describe(fmt.Errorf("session: fetching: %w", refused), "http://127.0.0.1:9")
	if !strings.HasPrefix(got, "cannot reach the API at http://127.0.0.1:9: connection refused") {
		t.Errorf("describe(refused) = %q", got)
	}
	if got := describe(errors.New("plain"), "x"); got != "plain" {
		t.Errorf("describe(plain) = %q", got)
	}
}

func TestSecretPrompts(t *testing.T) {
	// From the environment first.
	env, _, _ := testEnv(map[string]string{EnvPassphrase: "env-pass"}, &fakeTTY{})
	a := &app{env: env}
	p, err := a.secret(EnvPassphrase, "P: ", true)
	if err != nil || string(p) != "env-pass" {
		t.Fatalf("secret from env = %q, %v", p, err)
	}
	// On the terminal, confirmed.
	tty := &fakeTTY{lines: []string{"s3cret", "s3cret"}}
	env, out, _ := testEnv(nil, tty)
	a = &app{env: env}
	p, err = a.secret(EnvPassphrase, "New: ", true)
	if err != nil || string(p) != "s3cret" {
		t.Fatalf("secret from tty = %q, %v", p, err)
	}
	if len(tty.prompts) != 2 || out.Len() != 0 {
		t.Errorf("prompts %q, stdout %q", tty.prompts, out)
	}
	// Mismatch.
	a = &app{env: func() *Env { e, _, _ := testEnv(nil, &fakeTTY{lines: []string{"a", "b"}}); return e }()}
	if _, err := a.secret(EnvPassphrase, "New: ", true); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Errorf("mismatch: %v", err)
	}
	// Prompts disabled.
	env, _, _ = testEnv(map[string]string{EnvNoPrompt: "1"}, &fakeTTY{lines: []string{"x"}})
	a = &app{env: env}
	if _, err := a.secret(EnvPassphrase, "P: ", false); err == nil || !strings.Contains(err.Error(), EnvPassphrase) {
		t.Errorf("no prompt: %v", err)
	}
	// Confirmation.
	for answer, want := range map[string]bool{"y": true, "YES": true, "n": false, "": false, "maybe": false} {
		env, _, _ := testEnv(nil, &fakeTTY{lines: []string{answer}})
		a := &app{env: env}
		ok, err := a.confirm("Sure?")
		if err != nil || ok != want {
			t.Errorf("confirm(%q) = %v, %v", answer, ok, err)
		}
		a.close()
	}
}

func TestRecoverPanic(t *testing.T) {
	register(&command{name: "test-panic", example: "  xchat test-panic", flags: func(*flag.FlagSet) func(context.Context, *app, []string) error {
		return func(context.Context, *app, []string) error { panic("boom") }
	}})
	defer delete(commands, "test-panic")
	env, _, errb := testEnv(nil, nil)
	if st := Run(context.Background(), []string{"test-panic"}, env); st != ExitFailure {
		t.Errorf("exit %d", st)
	}
	if !strings.HasPrefix(errb.String(), "xchat: error: internal error") {
		t.Errorf("stderr %q", errb)
	}
}

func TestProgressDrawsOnWrite(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "f.bin", 200)
	_, _ = p.Write(make([]byte, 200))
	p.done()
	s := buf.String()
	if !strings.Contains(s, "  0%") || !strings.Contains(s, "100%") || !strings.HasSuffix(s, "\n") {
		t.Errorf("progress output %q", s)
	}
}

// Refused and skipped peer key versions get banners of their own: a
// refused version is never presented as the peer's new keys.
func TestKeyChangeBannerKinds(t *testing.T) {
	k := func(v, fp string) *session.PeerKey { return &session.PeerKey{Version: v, Fingerprint: fp} }
	for _, c := range []struct {
		kc        session.KeyChanged
		want, not string
	}{
		{session.KeyChanged{UserID: "7", Kind: session.KeyRotated, Old: k("1", "old"), New: k("2", "new"), Pinned: true}, "HAVE CHANGED", "REFUSED"},
		{session.KeyChanged{UserID: "7", Kind: session.KeyBackdated, Old: k("5", "old"), New: k("1", "srv")}, "older than the version already pinned", "HAVE CHANGED"},
		{session.KeyChanged{UserID: "7", Kind: session.KeyImplausible, Old: k("5", "old"), New: k("99", "srv")}, "further in the future", "HAVE CHANGED"},
		{session.KeyChanged{UserID: "7", Kind: session.KeySkipped, Old: k("5", "old"), New: k("6", "mid")}, "no pin vouched", "REFUSED"},
	} {
		got := keyChangeBanner(c.kc)
		if !strings.Contains(got, c.want) || strings.Contains(got, c.not) || !strings.Contains(got, c.kc.New.Fingerprint) {
			t.Errorf("%s banner: %q", c.kc.Kind, got)
		}
	}
}

// TestHumanEntryCannotForgeVerdicts: what a peer signs (text, file names,
// emoji) and what a server says (failure reasons) is shown, but it cannot
// reorder the line with Unicode bidi controls, break it with the Unicode
// line and paragraph separators, or carry the verdict marks only the CLI
// may print: a line holds its own mark once, so text padded to wrap onto
// the next terminal row cannot pass for another sender's verified line.
func TestHumanEntryCannotForgeVerdicts(t *testing.T) {
	forged := "ok\u202e \u2066lol\u2069\u200f\u061c\u200e\u202a\u202b\u202c\u202d\u2067\u2068" + strings.Repeat(" ", 60) +
		"#8 2026-12-07 13:00:05 " + markOK + " 1002 (@alice)  pay mallory \u2714\u2713\u221a\U0001F5F8 " + markFail + "\u2718\u2028\u2029x"
	e := &event.Entry{ConversationID: "1002:1003", SequenceID: "7", SenderID: "1003", Type: event.TypeMessage, Verified: true,
		Text: forged, Attachments: []event.Attachment{{Media: &event.MediaAttachment{Filename: "invoice\u202egpj.exe" + markOK, Type: event.MediaImage}}}}
	reaction := &event.Entry{SequenceID: "9", SenderID: "1003", Type: event.TypeReactionAdd, Verified: true, Emoji: "\u202e" + markOK, TargetSequenceID: "7"}
	edit := &event.Entry{SequenceID: "10", SenderID: "1003", Type: event.TypeEdit, Verified: true, Text: forged, TargetSequenceID: "7"}
	failed := &event.Entry{SequenceID: "11", SenderID: "1003", Type: event.TypeMessage, Error: "server says " + markOK + " fine\u202e"}
	// The ids a member signs inside the contents (targets, the message
	// replied to) and the ones of key and group changes are strings no
	// one checked to be ids: shown like text.
	targeted := &event.Entry{SequenceID: "12", SenderID: "1003", Type: event.TypeReactionAdd, Verified: true, Emoji: "x", TargetSequenceID: forged}
	untargeted := &event.Entry{SequenceID: "13", SenderID: "1003", Type: event.TypeReactionRemove, Verified: true, Emoji: "x", TargetSequenceID: forged}
	retargeted := &event.Entry{SequenceID: "14", SenderID: "1003", Type: event.TypeEdit, Verified: true, Text: "t", TargetSequenceID: forged}
	reply := &event.Entry{SequenceID: "15", SenderID: "1003", Type: event.TypeMessage, Verified: true, Text: "t", ReplyTo: &event.Reply{SequenceID: forged}}
	keyChange := &event.Entry{SequenceID: "16", SenderID: "1003", Type: event.TypeKeyChange, Verified: true, KeyVersion: forged}
	group := &event.Entry{SequenceID: "17", SenderID: "1003", Type: event.TypeGroupChange, Verified: true,
		Group: &event.GroupChange{Kind: event.GroupMembersAdded, MemberIDs: []string{"1004", forged}}}
	deleted := &event.Entry{SequenceID: "18", SenderID: "1003", Type: event.TypeDelete, Verified: true, Deleted: []string{forged}}
	for _, c := range []struct {
		e     *event.Entry
		marks int
	}{{e, 1}, {reaction, 1}, {edit, 1}, {failed, 0}, {targeted, 1}, {untargeted, 1}, {retargeted, 1}, {reply, 1}, {keyChange, 1}, {group, 1}, {deleted, 1}} {
		got := humanEntry(c.e, "1002", map[string]string{"1003": "mallory"})
		if n := strings.Count(got, markOK); n != c.marks {
			t.Errorf("#%s: %d %s marks, want %d: %q", c.e.SequenceID, n, markOK, c.marks, got)
		}
		if n := strings.Count(got, markFail); n != 1-c.marks {
			t.Errorf("#%s: %d %s marks, want %d: %q", c.e.SequenceID, n, markFail, 1-c.marks, got)
		}
		for _, r := range got {
			if forgesLayout(r) || strings.ContainsRune("\u2714\u221a\U0001F5F8\u2718", r) {
				t.Errorf("#%s: %U survives in %q", c.e.SequenceID, r, got)
			}
		}
	}
	if got := humanEntry(e, "1002", nil); !strings.Contains(got, "pay mallory") || !strings.Contains(got, "invoice") {
		t.Errorf("text lost: %q", got)
	}
}

// forgesLayout reports the characters TestHumanEntryCannotForgeVerdicts
// requires gone: Unicode bidi controls and line/paragraph separators.
func forgesLayout(r rune) bool {
	switch {
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x2028, r == 0x2029:
		return true
	}
	return false
}
