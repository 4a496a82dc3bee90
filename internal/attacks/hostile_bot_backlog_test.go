package attacks

import (
	"fmt"

	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on the bot's backlog rule: the server's timestamps are unsigned.

var botBacklogAttacks = []attack{
	{"bot-command-backdated-into-backlog", attackBotCommandBackdated},
}

// attackBotCommandBackdated: bob's bot has run for a while and answered
// alice's commands. The server then dates her next command to 1970, in
// /events and in the push: a bot that takes the server's created_at for
// the message's age settles it as backlog from before its first run,
// without a handler, and its cursor passes it for good. The command is
// verified and stored; the server chose, by an unsigned field, which of
// alice's commands the bot never answers, and nothing reports it.
func attackBotCommandBackdated(w *world) (string, error) {
	d := newDM(w, "hello")
	r, err := runBot(w, d.bob)
	if err != nil {
		return "", err
	}
	defer func() { _ = r.stop() }()
	first := d.alice.send(d.cid, "!echo first")[0]
	if err := r.pushGenuine(d.bob, d.cid, first.MessageID); err != nil {
		return "", err
	}
	if err := r.waitFor("the first command", func() bool { return r.handled[first.MessageID] == 1 }); err != nil {
		return "", errorf("setup: %v", err)
	}
	cmd := d.alice.send(d.cid, "!echo pay the invoice")[0]
	backdate := func(me *tevent.MessageEvent) { me.CreatedAtMsec = strp("1000") }
	w.tamper("backdate-command", cmd.MessageID, backdate)
	me, err := encodedOf(w, d.bob, d.cid, cmd.MessageID)
	if err != nil {
		return "", err
	}
	backdate(me)
	ev, err := pushOf(d.bob, "backdated-"+cmd.MessageID, me, "", nil)
	if err != nil {
		return "", err
	}
	r.pushes <- ev
	marker := d.alice.send(d.cid, "!echo marker")[0]
	if err := r.pushGenuine(d.bob, d.cid, marker.MessageID); err != nil {
		return "", err
	}
	if err := r.waitFor("the marker", func() bool { return r.handled[marker.MessageID] == 1 }); err != nil {
		return "", errorf("setup: %v", err)
	}
	r.mu.Lock()
	n := r.handled[cmd.MessageID]
	r.mu.Unlock()
	if n != 1 {
		return "", errorf("the backdated command ran %d times (backlog count %d): the bot skipped it for good", n, r.b.Stats().Backlog)
	}
	return fmt.Sprintf("the backdated command was handled once (backlog count %d)", r.b.Stats().Backlog), nil
}
