package attacks

import (
	"fmt"

	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on the bot's handling
// of events reported late or re-opened.

var botTypingAttacks = []attack{
	{"typing-indicator-replays-old-command-to-bot", attackTypingReplaysCommand},
}

// attackTypingReplaysCommand: the engine hands a pushed typing indicator
// over without storing it, whatever sequence id the server gave it. The
// server pushes bob's bot one at the sequence id of a command the bot
// handled long ago (its message id and sequence id past the bot's
// duplicate memory). A bot that takes such a report for an event stored
// late reads the stored entry at that place, the old genuine command,
// and runs its handler a second time: a replay the server chose the
// moment of.
func attackTypingReplaysCommand(w *world) (string, error) {
	d := newDM(w, "hello")
	r, err := runBot(w, d.bob)
	if err != nil {
		return "", err
	}
	defer func() { _ = r.stop() }()
	cmd := d.alice.send(d.cid, "!echo once")[0]
	fillers := make([]string, 260)
	for i := range fillers {
		fillers[i] = fmt.Sprint("filler ", i)
	}
	d.alice.send(d.cid, fillers...)
	last := d.alice.send(d.cid, "!echo last")[0]
	if err := r.waitFor("the command and the last one", func() bool { return r.handled[cmd.MessageID] == 1 && r.handled[last.MessageID] == 1 }); err != nil {
		return "", errorf("setup: %v", err)
	}
	me, err := encodedOf(w, d.bob, d.cid, cmd.MessageID)
	if err != nil {
		return "", err
	}
	cid := d.cid
	me.Detail = &tevent.MessageEventDetail{MessageTypingEvent: &tevent.MessageTypingEvent{ConversationID: &cid}}
	me.MessageEventSignature = nil
	typing, err := pushOf(d.bob, "typing-at-old-command", me, "", nil)
	if err != nil {
		return "", err
	}
	r.pushes <- typing
	for i, text := range []string{"!echo marker", "!echo marker 2"} {
		m := d.alice.send(d.cid, text)[0]
		if err := r.pushGenuine(d.bob, d.cid, m.MessageID); err != nil {
			return "", err
		}
		if err := r.waitFor(fmt.Sprint("marker ", i), func() bool { return r.handled[m.MessageID] == 1 }); err != nil {
			return "", errorf("setup: %v", err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.handled[cmd.MessageID]; n != 1 {
		return "", errorf("a typing indicator pushed at an old command's sequence id made the bot handle that command %d times, want once", n)
	}
	return "a typing indicator at an old command's place reaches no handler", nil
}
