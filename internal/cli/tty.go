package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
)

// TTY is the terminal used for prompts. Prompts never go to stdout, so the
// tool's output stays clean in pipes.
type TTY interface {
	// Prompt writes s to the terminal.
	Prompt(s string) error
	// ReadLine reads one line (without its newline).
	ReadLine() (string, error)
	// ReadPassword reads one line without echoing it.
	ReadPassword() ([]byte, error)
	Close() error
}

// errNoTTY reports that a prompt was needed but no terminal is available.
var errNoTTY = errors.New("no terminal for prompts")

// tty opens the terminal unless prompts are disabled. It is opened once
// per invocation (so typed-ahead input is not lost) and closed by app.close.
func (a *app) tty() (TTY, error) {
	if a.env.Getenv(EnvNoPrompt) != "" || a.env.OpenTTY == nil {
		return nil, errNoTTY
	}
	if a.term != nil {
		return a.term, nil
	}
	t, err := a.env.OpenTTY()
	if err != nil {
		return nil, errNoTTY
	}
	a.term = t
	return t, nil
}

// secret returns the secret named by envName, or prompts for it on the
// terminal (twice when confirm is set). The caller clears the result.
func (a *app) secret(envName, prompt string, confirm bool) ([]byte, error) {
	if v := a.env.Getenv(envName); v != "" {
		return []byte(v), nil
	}
	t, err := a.tty()
	if err != nil {
		return nil, fmt.Errorf("passphrase needed: set %s or run in a terminal", envName)
	}
	if err := t.Prompt(prompt); err != nil {
		return nil, err
	}
	p, err := t.ReadPassword()
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	if len(p) == 0 {
		return nil, errors.New("empty passphrase")
	}
	if confirm {
		if err := t.Prompt("Repeat passphrase: "); err != nil {
			return nil, err
		}
		q, err := t.ReadPassword()
		if err != nil {
			clear(p)
			return nil, fmt.Errorf("read passphrase: %w", err)
		}
		same := bytes.Equal(p, q)
		clear(q)
		if !same {
			clear(p)
			return nil, errors.New("passphrases do not match")
		}
	}
	return p, nil
}

// confirm asks a yes/no question on the terminal (default no).
func (a *app) confirm(question string) (bool, error) {
	t, err := a.tty()
	if err != nil {
		return false, err
	}
	if err := t.Prompt(question + " [y/N] "); err != nil {
		return false, err
	}
	line, err := t.ReadLine()
	if err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// fileTTY is a TTY on an open terminal device.
type fileTTY struct {
	f *os.File
	r *bufio.Reader
}

func (t *fileTTY) Prompt(s string) error {
	_, err := t.f.WriteString(s)
	return err
}

func (t *fileTTY) ReadLine() (string, error) {
	line, err := t.r.ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (t *fileTTY) ReadPassword() ([]byte, error) {
	restore, err := noEcho(t.f)
	if err != nil {
		return nil, err
	}
	line, rerr := t.r.ReadBytes('\n')
	restore()
	_, _ = t.f.WriteString("\n")
	if rerr != nil && len(line) == 0 {
		return nil, rerr
	}
	line = bytes.TrimRight(line, "\r\n")
	out := append([]byte(nil), line...)
	clear(line)
	return out, nil
}

func (t *fileTTY) Close() error { return t.f.Close() }

// openTTY opens the controlling terminal.
func openTTY() (TTY, error) {
	f, err := os.OpenFile(ttyPath, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if !isTerminal(f) {
		f.Close()
		return nil, errNoTTY
	}
	return &fileTTY{f: f, r: bufio.NewReader(f)}, nil
}
