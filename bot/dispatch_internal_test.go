package bot

import (
	"context"
	"testing"
	"time"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// offlineBot is a bot on an offline engine, for driving the dispatch with
// entries made by hand.
func offlineBot(t *testing.T) (*Bot, *run) {
	t.Helper()
	ctx := context.Background()
	store := keystore.NewMemory()
	if err := session.CreateAccount(ctx, store, "1000", nil); err != nil {
		t.Fatal(err)
	}
	e, err := session.Open(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	b := New(e, WithLogger(discardLogger()))
	return b, newRun(ctx, b, time.Now())
}

// TestDuplicateMessageID: a verified event whose signed message id was
// settled before is not handed over again, even at another sequence id,
// and the cursor remembers the id across a restart; an unverified event
// never makes a later verified one with its id a duplicate.
func TestDuplicateMessageID(t *testing.T) {
	b, r := offlineBot(t)
	var calls []string
	b.OnMessage(func(c *Context) error { calls = append(calls, c.SequenceID()); return nil })
	c := &conv{id: "1000:2000", loaded: true}
	en := func(seq, mid string, verified bool) *event.Entry {
		return &event.Entry{ConversationID: c.id, SequenceID: seq, MessageID: mid, SenderID: "2000",
			Type: event.TypeMessage, Text: "hi", Verified: verified, CreatedAt: time.Now()}
	}
	r.process(c, en("10", "m-1", true), false)
	r.process(c, en("11", "m-1", true), false)  // same signed id again
	r.process(c, en("12", "m-2", false), false) // a forgery naming m-2 first
	r.process(c, en("13", "m-2", true), false)
	if len(calls) != 2 || calls[0] != "10" || calls[1] != "13" {
		t.Fatalf("handled %v, want 10 and 13", calls)
	}
	if s := b.Stats(); s.Duplicates != 1 || s.Unverified != 1 {
		t.Fatalf("stats %+v", s)
	}
	cur, err := loadCursor(context.Background(), b.e.Store(), c.id)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Seq != "13" || !cur.seen("m-1") || !cur.seen("m-2") {
		t.Fatalf("stored cursor %+v", cur)
	}
	c2 := &conv{id: c.id, cur: cur, loaded: true} // the next run
	r.process(c2, en("14", "m-1", true), false)
	if len(calls) != 2 {
		t.Fatalf("after a restart the id was handled again: %v", calls)
	}
}

// TestStaleCursorNeverOverwritesNewer: a replica whose cursor could not be
// written (its database away) while another replica, holding the lease
// meanwhile, moved the stored cursor further, takes up the stored cursor
// when it holds the lease again: its own would take the conversation back
// and hand the other's events to the handlers a second time.
func TestStaleCursorNeverOverwritesNewer(t *testing.T) {
	b, r := offlineBot(t)
	ctx := context.Background()
	const cid = "1000:2000"
	newer := cursor{Seq: "20", Recent: []string{"m-11", "m-20"}}
	if err := saveCursor(ctx, b.e.Store(), cid, newer); err != nil {
		t.Fatal(err)
	}
	c := &conv{id: cid, loaded: true, dirty: true, cur: cursor{Seq: "10", Recent: []string{"m-10"}}}
	r.pass(c)
	cur, err := loadCursor(ctx, b.e.Store(), cid)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Seq != "20" || !cur.seen("m-11") || !cur.seen("m-20") || !cur.seen("m-10") {
		t.Fatalf("stored cursor %+v after a pass with a stale one, want seq 20 remembering m-10, m-11 and m-20", cur)
	}
	if c.cur.Seq != "20" {
		t.Fatalf("the pass went on from %s", c.cur.Seq)
	}
}
