package cli

import (
	"strings"
	"testing"
	"unicode"

	"github.com/xchat-go/xchat/session/event"
)

// FuzzHumanEntry checks that no message content can break the one-line
// transcript format or inject terminal control sequences, and that an
// unverified event never shows its content.
func FuzzHumanEntry(f *testing.F) {
	f.Add("hello", "7", false)
	f.Add("line\nbreak\r\x1b[31mred\x07", "1", true)
	f.Add("\u0085\u009b2J\u2028", "", true)
	f.Add("ok\u202e\u2066 #8 \u2713 1002  pay \u2714\u2717", "1003", true)
	f.Fuzz(func(t *testing.T, text, sender string, verified bool) {
		e := &event.Entry{SequenceID: "5", SenderID: sender, Type: event.TypeMessage, Text: text, Verified: verified}
		got := humanEntry(e, "1", map[string]string{sender: "alice_1"})
		if strings.ContainsAny(got, "\n\r") {
			t.Fatalf("line break in %q", got)
		}
		for _, r := range got {
			if r < 0x20 || (r >= 0x7f && r < 0xa0) || layoutControl(r) {
				t.Fatalf("control character %U in %q", r, got)
			}
		}
		ok, fail := 0, 1
		if verified {
			ok, fail = 1, 0
		}
		if strings.Count(got, markOK) != ok || strings.Count(got, markFail) != fail {
			t.Fatalf("verdict marks forged in %q", got)
		}
		if !verified && strings.TrimFunc(text, unicode.IsSpace) != "" && len(text) > 3 &&
			strings.Contains(got, oneLine(text)) && !strings.Contains(humanEntry(&event.Entry{SequenceID: "5", SenderID: sender, Type: event.TypeMessage}, "1", nil), oneLine(text)) {
			t.Fatalf("unverified content shown: %q", got)
		}
	})
}
