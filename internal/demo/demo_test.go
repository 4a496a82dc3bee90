package demo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// fastArgon2 keeps the test quick; the demo itself uses the default cost.
var fastArgon2 = keystore.Argon2Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var buf bytes.Buffer
	dir := t.TempDir()
	if err := Run(ctx, &buf, Options{Dir: dir, Argon2: fastArgon2}); err != nil {
		t.Fatalf("Run: %v\n%s", err, buf.String())
	}
	out := buf.String()

	// Every step of the walk-through is reported.
	for _, step := range []string{
		"emulator listening on http://127.0.0.1:",
		"== Accounts",
		"== 1:1 chat alice ↔ bob",
		"compared safety numbers",
		"== Group of three",
		"== bob adds dave",
		"== carol sends an image",
		"== dave replies and alice reacts",
		"== Everyone syncs",
		"All messages verified",
	} {
		if !strings.Contains(out, step) {
			t.Errorf("transcript lacks %q", step)
		}
	}
	if regexp.MustCompile(`(?m)^\s*`+MarkFailed).MatchString(out) || strings.Contains(out, "NOT VERIFIED") ||
		strings.Contains(out, "anomaly") || !regexp.MustCompile(`[1-9][0-9]* events verified ✓, 0 failed`).MatchString(out) {
		t.Errorf("transcript reports a failure:\n%s", out)
	}

	// The rotation really changed the key version.
	m := regexp.MustCompile(`key rotated: version ([0-9]+) → ([0-9]+)`).FindStringSubmatch(out)
	if m == nil || m[1] == m[2] {
		t.Errorf("no key rotation in transcript: %v", m)
	}

	// Each participant's final view holds every group message, verified.
	final := out[strings.Index(out, "== Everyone syncs"):strings.Index(out, "== Summary")]
	sections := regexp.MustCompile(`(?m)^(alice|bob|carol|dave) synced the group`).FindAllStringSubmatchIndex(final, -1)
	if len(sections) != 4 {
		t.Fatalf("want 4 final syncs, got %d:\n%s", len(sections), final)
	}
	for i, s := range sections {
		end := len(final)
		if i+1 < len(sections) {
			end = sections[i+1][0]
		}
		name, body := final[s[2]:s[3]], final[s[0]:end]
		want := []string{`"Dave, meet the team."`, `"First mockup" [image mockup.png 32x24]`,
			`replying to #`, `(quote valid): "Looks great!"`, `reacted 🎉 to #`,
			name + ` downloaded and decrypted mockup.png: identical`}
		if name != "dave" {
			// dave joined after these and cannot read them (no key for him).
			want = append(want, `"Welcome to the launch group!"`, "group created: alice, bob, carol")
		} else if strings.Contains(body, "Welcome to the launch group!") {
			t.Errorf("dave reads a message sent before he joined")
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s's view lacks %q:\n%s", name, w, body)
			}
		}
		for _, line := range strings.Split(strings.TrimSpace(body), "\n")[1:] {
			if strings.HasPrefix(strings.TrimSpace(line), "roster ") {
				continue
			}
			if !strings.HasPrefix(strings.TrimSpace(line), MarkVerified+" ") {
				t.Errorf("%s: line not marked verified: %q", name, line)
			}
		}
		// How far each view of the roster rests on signed changes: the
		// creator chose everyone; bob's admin rights rest on the create's
		// unsigned admin list for the others, and so does dave's place for
		// carol; dave joined late and takes the roster then on trust.
		roster := map[string]string{
			"alice": "roster (from signed group changes): confirmed: members alice, bob, carol, dave; admins alice, bob\n",
			"bob":   "roster (from signed group changes): unconfirmed: members alice, bob, carol, dave; admins alice; claimed admins bob\n",
			"carol": "roster (from signed group changes): unconfirmed: members alice, bob, carol, dave; admins alice; claimed admins bob; unconfirmed dave\n",
			"dave":  "roster (from signed group changes): unconfirmed: members alice, bob, carol, dave; admins none confirmed; claimed admins alice, bob; unconfirmed alice, bob, carol; taken on trust before #",
		}[name]
		if !strings.Contains(body, roster) {
			t.Errorf("%s's roster line: want %q in:\n%s", name, roster, body)
		}
	}

	// The 1:1 chat was read by both sides.
	if !strings.Contains(out, `bob synced the 1:1 with alice`) || !strings.Contains(out, `alice synced the 1:1 with bob`) {
		t.Error("1:1 syncs missing")
	}
	if !strings.Contains(out, `(quote valid): "Hi Alice, loud and clear."`) {
		t.Error("bob's reply to alice not verified")
	}
}

// TestRunCleansUp checks the temporary keystore directory is removed.
func TestRunCleansUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t.Setenv("TMPDIR", t.TempDir())
	var buf bytes.Buffer
	if err := Run(ctx, &buf, Options{Argon2: fastArgon2}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	m := regexp.MustCompile(`keystores in (\S+)`).FindStringSubmatch(buf.String())
	if m == nil {
		t.Fatal("no keystore directory in transcript")
	}
	if _, err := osStat(m[1]); err == nil {
		t.Errorf("%s still exists after the demo", m[1])
	}
}

// TestLineMarksFailures checks an unverified entry is marked and counted.
func TestLineMarksFailures(t *testing.T) {
	d := &demo{names: map[string]string{"1": "alice"}}
	bad := d.line(&event.Entry{SequenceID: "7", SenderID: "1", Type: event.TypeMessage, Text: "forged", Error: "signature mismatch"})
	if !strings.HasPrefix(bad, MarkFailed) || strings.Contains(bad, "forged") || !strings.Contains(bad, "signature mismatch") {
		t.Errorf("unverified line = %q", bad)
	}
	good := d.line(&event.Entry{SequenceID: "8", SenderID: "1", Type: event.TypeMessage, Text: "hi", Verified: true})
	if !strings.HasPrefix(good, MarkVerified) || !strings.Contains(good, `"hi"`) {
		t.Errorf("verified line = %q", good)
	}
	if d.failed != 1 || d.verified != 1 {
		t.Errorf("counts = %d verified, %d failed", d.verified, d.failed)
	}
}

// TestRunCanceled checks a canceled context stops the demo with an error.
func TestRunCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Run(ctx, &bytes.Buffer{}, Options{Argon2: fastArgon2, Dir: t.TempDir()})
	if err == nil || errors.Is(err, ErrUnverified) {
		t.Fatalf("Run with canceled context = %v", err)
	}
}

var osStat = func(p string) (any, error) { return os.Stat(p) }
