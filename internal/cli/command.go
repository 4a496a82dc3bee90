package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one entry of the command table.
type command struct {
	// name is the command as typed ("send", "group create").
	name string
	// args is the synopsis after the flags ("TEXT", "USER_ID", …).
	args string
	// summary is the one-line description of the command list.
	summary string
	// help is the longer description shown by --help.
	help string
	// example is shown by --help.
	example string
	// flags registers the command's flags and returns the function that
	// runs it with the positional arguments.
	flags func(fs *flag.FlagSet) func(ctx context.Context, a *app, args []string) error
	// nargs bounds the positional arguments (max < 0: unbounded).
	minArgs, maxArgs int
	// result marks a command that prints a result: it takes --json (unless
	// it defines its own) and prints through app.result.
	result bool
}

// commands is the command table, filled by the cmd_*.go files' init.
var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// run parses args for c and runs it.
func (c *command) run(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("xchat "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runFn := c.flags(fs)
	if c.result && fs.Lookup("json") == nil {
		fs.BoolVar(&a.json, "json", false, "print the result as JSON (one object per line)")
	}
	a.addGlobalFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.printHelp(a.env.Stdout, fs)
			return errHelp
		}
		return usagef(c.name, "%v", err)
	}
	if f := fs.Lookup("json"); f != nil && f.Value.String() == "true" {
		a.json = true
	}
	if len(pos) < c.minArgs {
		return usagef(c.name, "%s: missing argument %s", c.name, c.args)
	}
	if c.maxArgs >= 0 && len(pos) > c.maxArgs {
		return usagef(c.name, "%s: unexpected argument %q", c.name, pos[c.maxArgs])
	}
	a.cmd = c.name
	return runFn(ctx, a, pos)
}

func (c *command) printHelp(w io.Writer, fs *flag.FlagSet) {
	synopsis := "xchat [global flags] " + c.name
	hasFlags := false
	fs.VisitAll(func(f *flag.Flag) { hasFlags = hasFlags || !isGlobalFlag(f.Name) })
	if hasFlags {
		synopsis += " [flags]"
	}
	if c.args != "" {
		synopsis += " " + c.args
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", synopsis, strings.TrimSpace(c.help))
	if hasFlags {
		fmt.Fprint(w, "\nFlags:\n")
		printFlags(w, fs, false)
	}
	fmt.Fprint(w, "\nGlobal flags (before or after the command; see 'xchat --help'):\n")
	printFlags(w, fs, true)
	if c.example != "" {
		fmt.Fprintf(w, "\nExample:\n%s\n", strings.TrimRight(c.example, "\n"))
	}
}

// parseInterspersed parses flags anywhere among the positional arguments
// (gh-style), so "send --to 2 hello --reply-to 5" works. Everything after
// "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// idList is a comma-separated list flag ("--members 1,2,3"); it may also be
// repeated.
type idList []string

func (l *idList) String() string { return strings.Join(*l, ",") }

func (l *idList) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		*l = append(*l, p)
	}
	return nil
}
