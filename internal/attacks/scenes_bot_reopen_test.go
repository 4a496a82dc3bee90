package attacks

import (
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/hostile"
)

// A message stored before its key reaches the application: the server
// withholds the key change that distributes a genuine command's key while
// bob's bot reads it, so the engine stores it failed and the bot refuses
// it; the key change served later opens it in the store, below the bot's
// cursor. Unless the opening reaches the bot, the server has made a bot
// drop a genuine command for good by delaying one event.

var botReopenAttacks = []attack{
	{"key-change-withheld-bot-never-answers", attackKeyWithheldBot},
}

// attackKeyWithheldBot: alice rotates the conversation's key and sends a
// command under it; the proxy withholds the key change from bob's bot
// until the command was refused, then serves it (the bot's reconciliation
// after a later push reads it).
func attackKeyWithheldBot(w *world) (string, error) {
	d := newDM(w, "hello")
	var hide atomic.Bool
	hide.Store(true)
	var version atomic.Value
	version.Store("")
	w.proxy.Add(hostile.Events("withhold-key-change", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		if v := version.Load().(string); v != "" && hide.Load() {
			return withholdKeyVersion(page, v)
		}
		return nil
	}))
	r, err := runBot(w, d.bob)
	if err != nil {
		return "", err
	}
	defer func() { _ = r.stop() }()
	v, err := d.alice.e.Rotate(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	version.Store(v)
	cmd := d.alice.send(d.cid, "!echo under the withheld key")[0]
	if err := r.pushGenuine(d.bob, d.cid, cmd.MessageID); err != nil {
		return "", err
	}
	if err := r.waitFor("the command refused for want of its key", func() bool {
		for _, u := range r.unver {
			if u.MessageID == cmd.MessageID && containsText(u.Reason, "unknown conversation key version") {
				return true
			}
		}
		return false
	}); err != nil {
		return "", errorf("setup: %v", err)
	}
	hide.Store(false)
	// A later command's push makes the bot reconcile, which is served the
	// key change now.
	next := d.alice.send(d.cid, "!echo next")[0]
	if err := r.pushGenuine(d.bob, d.cid, next.MessageID); err != nil {
		return "", err
	}
	// The next command may be refused for want of the key too (when the
	// bot reads it before that reconciliation): both open with it.
	if err := r.waitFor("both commands", func() bool { return r.handled[cmd.MessageID] > 0 && r.handled[next.MessageID] > 0 }); err != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		return "", errorf("a genuine command refused before its key change arrived never reached its handler once the key change opened it (handled %d and %d times): %v",
			r.handled[cmd.MessageID], r.handled[next.MessageID], err)
	}
	last := d.alice.send(d.cid, "!echo last")[0]
	if err := r.pushGenuine(d.bob, d.cid, last.MessageID); err != nil {
		return "", err
	}
	if err := r.waitFor("the last command", func() bool { return r.handled[last.MessageID] > 0 }); err != nil {
		return "", errorf("setup: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, mid := range []string{cmd.MessageID, next.MessageID, last.MessageID} {
		if n := r.handled[mid]; n != 1 {
			return "", errorf("command %s handled %d times, want once", mid, n)
		}
	}
	return fmt.Sprintf("refused before its key change, handled once when it opened (Reopened %d)", r.b.Stats().Reopened), nil
}
