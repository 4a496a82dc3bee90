package bot

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Command is a registered command. Describe and Usage feed Help.
type Command struct {
	name    string
	aliases []string
	handler Handler
	usage   string
	summary string
}

// Name returns the command's name.
func (c *Command) Name() string { return c.name }

// Aliases returns the command's other names.
func (c *Command) Aliases() []string { return append([]string(nil), c.aliases...) }

// Describe sets the one-line summary Help shows.
func (c *Command) Describe(summary string) *Command {
	c.summary = summary
	return c
}

// Usage sets the arguments Help shows after the name (e.g. "TEXT").
func (c *Command) Usage(args string) *Command {
	c.usage = args
	return c
}

// validName reports whether s can be an X username or a command name:
// letters, digits and underscores.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// parsed is what a message's text says to the bot.
type parsed struct {
	mentioned, prefixed bool
	command             string // lower case; "" when none
	args                []string
	rawArgs             string
}

// parse reads a leading "@name" mention, then the prefix, then the command
// word and its arguments.
func parse(text, prefix, name string) parsed {
	var p parsed
	t := strings.TrimLeftFunc(text, unicode.IsSpace)
	if name != "" {
		if rest, ok := cutMention(t, name); ok {
			p.mentioned = true
			t = strings.TrimLeftFunc(strings.TrimLeft(rest, ":,"), unicode.IsSpace)
		}
	}
	// A prefix that is not valid UTF-8 could end inside a character of the
	// text and leave half of it as the command: it never matches.
	if prefix != "" && utf8.ValidString(prefix) && strings.HasPrefix(t, prefix) {
		p.prefixed = true
		t = t[len(prefix):]
	}
	word, rest := t, ""
	if i := strings.IndexFunc(t, unicode.IsSpace); i >= 0 {
		word, rest = t[:i], t[i:]
	}
	p.command = strings.ToLower(word)
	p.rawArgs = strings.TrimSpace(rest)
	p.args = strings.Fields(p.rawArgs)
	return p
}

// cutMention removes a leading "@name" (any case) that is followed by the
// end of the text or a character that cannot continue a username. Both the
// name and the text it is compared with must be valid UTF-8: EqualFold
// takes any two invalid bytes for the same character, so a name cut inside
// a character of the text would otherwise match it and leave the rest of
// that character as the command.
func cutMention(t, name string) (string, bool) {
	if len(t) < len(name)+1 || t[0] != '@' {
		return "", false
	}
	if seg := t[1 : 1+len(name)]; !utf8.ValidString(name) || !utf8.ValidString(seg) || !strings.EqualFold(seg, name) {
		return "", false
	}
	rest := t[1+len(name):]
	if r, _ := utf8.DecodeRuneInString(rest); rest != "" && (r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
		return "", false
	}
	return rest, true
}

// addressed reports whether p addresses the bot under a.
func (p parsed) addressed(a Addressing) bool {
	if p.command == "" {
		return false
	}
	switch a {
	case MentionOnly:
		return p.mentioned
	case Bare:
		return true
	}
	return p.mentioned || p.prefixed
}

// Help returns the list of registered commands, one per line, sorted, as
// the prefix spells them.
func (b *Bot) Help() string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	cmds := append([]*Command(nil), b.order...)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	var sb strings.Builder
	sb.WriteString("Commands:")
	for _, c := range cmds {
		line := b.cfg.prefix + c.name
		if c.usage != "" {
			line += " " + c.usage
		}
		if c.summary != "" {
			line += " — " + c.summary
		}
		if len(c.aliases) > 0 {
			al := make([]string, len(c.aliases))
			for i, a := range c.aliases {
				al[i] = b.cfg.prefix + a
			}
			line += fmt.Sprintf(" (also %s)", strings.Join(al, ", "))
		}
		sb.WriteString("\n" + line)
	}
	return sb.String()
}
