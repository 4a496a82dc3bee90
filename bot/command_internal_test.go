package bot

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		text                string
		command             string
		args                []string
		raw                 string
		mentioned, prefixed bool
	}{
		{"!echo hi there", "echo", []string{"hi", "there"}, "hi there", false, true},
		{"  !ECHO\thi\n there ", "echo", []string{"hi", "there"}, "hi\n there", false, true},
		{"!", "", nil, "", false, true},
		{"echo hi", "echo", []string{"hi"}, "hi", false, false},
		{"@echobot echo hi", "echo", []string{"hi"}, "hi", true, false},
		{"@EchoBot: !echo hi", "echo", []string{"hi"}, "hi", true, true},
		{"@echobot, help", "help", nil, "", true, false},
		{"@echobot", "", nil, "", true, false},
		{"@echobotx echo", "@echobotx", []string{"echo"}, "echo", false, false},
		{"@echob echo", "@echob", []string{"echo"}, "echo", false, false},
		{"hey @echobot echo", "hey", []string{"@echobot", "echo"}, "@echobot echo", false, false},
		{"", "", nil, "", false, false},
	} {
		p := parse(tt.text, "!", "echobot")
		if p.command != tt.command || !slices.Equal(p.args, tt.args) || p.rawArgs != tt.raw || p.mentioned != tt.mentioned || p.prefixed != tt.prefixed {
			t.Errorf("parse(%q) = %+v", tt.text, p)
		}
	}
	addressed := map[Addressing][]bool{ // for: prefixed, mentioned, neither
		PrefixOrMention: {true, true, false},
		MentionOnly:     {false, true, false},
		Bare:            {true, true, true},
	}
	for a, want := range addressed {
		got := []bool{parse("!x", "!", "b").addressed(a), parse("@b x", "!", "b").addressed(a), parse("x", "!", "b").addressed(a)}
		if !slices.Equal(got, want) {
			t.Errorf("%v: addressed %v, want %v", a, got, want)
		}
		if parse("@b", "!", "b").addressed(a) {
			t.Errorf("%v: a bare mention names no command", a)
		}
	}
}

// FuzzParse: any text a peer sends parses without panicking, into a
// command word without white space and arguments that are the text's own.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"!echo hi", "@bot: !help", "@bot", "!", "  \t!x\ny", "@b\u00e9 x", "\xff\xfe!", "@" + strings.Repeat("b", 70)} {
		f.Add(s, "!", "bot")
	}
	f.Fuzz(func(t *testing.T, text, prefix, name string) {
		p := parse(text, prefix, name)
		if strings.ContainsFunc(p.command, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' }) {
			t.Fatalf("command %q holds white space", p.command)
		}
		if utf8.ValidString(text) && !strings.Contains(strings.ToLower(text), p.command) {
			t.Fatalf("command %q not from %q", p.command, text)
		}
		for _, a := range p.args {
			if a == "" || !strings.Contains(text, a) {
				t.Fatalf("argument %q not from %q", a, text)
			}
		}
		if p.mentioned && name == "" {
			t.Fatal("mentioned without a name")
		}
	})
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
