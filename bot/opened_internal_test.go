package bot

import (
	"context"
	"testing"
	"time"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// TestOpenedBelowCursorHandledOnce: an event the bot settled refused for
// anything but want of its key (so not among the cursor's Awaiting), which
// the engine later opens in place (a group create bound late opens a
// group change or a message failed for its author's membership) and
// reports with Event.Reopened, reaches its handler once, marked Reopened.
func TestOpenedBelowCursorHandledOnce(t *testing.T) {
	b, r := offlineBot(t)
	ctx := context.Background()
	const cid = "1000:2000"
	put := func(seq, mid string, verified bool) {
		t.Helper()
		s := keystore.StoredEvent{SequenceID: seq, MessageID: mid, SenderID: "2000", Type: event.TypeMessage,
			Body: keystore.SecretBytes(`{"text":"hi"}`), Verified: verified, CreatedAt: time.Now()}
		if !verified {
			s.Error = "session: not a member of the conversation: 2000 is not a member of " + cid
		}
		if err := b.e.Store().Update(ctx, func(tx keystore.Tx) error { return tx.PutEvents(ctx, cid, []keystore.StoredEvent{s}) }); err != nil {
			t.Fatal(err)
		}
	}
	var calls []string
	b.OnMessage(func(c *Context) error {
		if !c.Entry().Reopened {
			t.Errorf("%s handled without Reopened", c.SequenceID())
		}
		calls = append(calls, c.SequenceID())
		return nil
	})
	put("10", "m-1", false)
	put("11", "m-2", false)
	r.mu.Lock()
	c := r.convLocked(cid)
	r.mu.Unlock()
	r.pass(c)
	if c.cur.Seq != "11" || len(c.cur.Awaiting) != 0 || len(calls) != 0 {
		t.Fatalf("setup: cursor %+v, handled %v", c.cur, calls)
	}
	put("10", "m-1", true) // opened in place
	for range 2 {
		r.emitted(&event.Event{ConversationID: cid, SequenceID: "10", MessageID: "m-1", SenderID: "2000", Kind: event.KindMessage, Verified: true, Reopened: true})
		r.pass(c)
	}
	// A report of an event still failed, or above the cursor, is not
	// handled here.
	r.emitted(&event.Event{ConversationID: cid, SequenceID: "11", MessageID: "m-2", SenderID: "2000", Kind: event.KindMessage, Verified: true, Reopened: true})
	r.emitted(&event.Event{ConversationID: cid, SequenceID: "12", MessageID: "m-3", SenderID: "2000", Kind: event.KindMessage, Verified: true, Reopened: true})
	r.pass(c)
	if len(calls) != 1 || calls[0] != "10" {
		t.Fatalf("handled %v, want 10 once", calls)
	}
	if s := b.Stats(); s.Reopened != 1 {
		t.Fatalf("stats %+v, want one reopened", s)
	}
}
