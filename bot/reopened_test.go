package bot_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/bot"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
)

// pushWithKey is the activity event X would push to a for an encoded
// event carrying the key change kc.
func pushWithKey(t testing.TB, a *account, uuid, conv, encoded, kc string) *api.ActivityEvent {
	t.Helper()
	raw, err := json.Marshal(api.ChatPayload{ConversationID: conv, EncodedEvent: encoded, ConversationKeyChangeEvent: kc})
	if err != nil {
		t.Fatal(err)
	}
	return &api.ActivityEvent{EventUUID: api.StringOrNumber(uuid), EventType: api.EventChatReceived,
		Filter: api.ActivitySubscriptionFilter{UserID: a.id}, Payload: raw}
}

// keyChangeOf returns the encoded key change of version v of conv, as
// the server serves it to a (in a page's metadata).
func keyChangeOf(t testing.TB, ctx context.Context, a *account, conv, v string) string {
	t.Helper()
	page, _, err := a.client.GetConversationEvents(ctx, api.ConversationPathID(conv), &api.ConversationEventsOptions{MaxResults: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range page.Meta.KeyChangeEvents() {
		me, err := hostile.DecodeEvent(b)
		if err != nil {
			t.Fatal(err)
		}
		if kc := me.GetDetail().GetConversationKeyChangeEvent(); kc != nil && kc.GetConversationKeyVersion() == v {
			return b
		}
	}
	t.Fatalf("the server serves no key change of version %s", v)
	return ""
}

// awaitingKeyBot runs echobot, which alice's command under her new key
// reaches pushed without its key change: the bot refuses it as
// unverified (stored failed for want of its key). Reconciliations run
// only at the start, so nothing but a push or a sync serves the key; the
// command, whose predecessor (the key change) is withheld, is held
// briefly (WithMaxHold).
func awaitingKeyBot(t *testing.T, ctx context.Context) (n *testNet, alice, echobot *account, conv, version string, late *session.Sent, rec *record, r *running, pushes chan *api.ActivityEvent) {
	n = newNet(t)
	alice, echobot = n.user("alice"), n.user("echobot")
	conv = alice.send(ctx, echobot.id, "hello").ConversationID
	pushes = make(chan *api.ActivityEvent, 8)
	rec = newRecord()
	r = startEcho(ctx, echobot, rec, pushes)
	r.waitReady(t, ctx)
	rec.waitFor(t, ctx, "hello", func() bool { return len(rec.calls) == 1 })
	v, err := alice.e.Rotate(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	late = alice.send(ctx, echobot.id, "!echo opened late")
	pushes <- push(t, echobot, "late-1", conv, echobot.served(ctx, conv)[late.MessageID].EncodedEvent)
	rec.waitFor(t, ctx, "the command refused for want of its key", func() bool { return len(rec.unver) == 1 })
	if u := rec.refused(); u[0].SequenceID != late.SequenceID {
		t.Fatalf("setup: refused %+v, want the command under the withheld key", u[0])
	}
	return n, alice, echobot, conv, v, late, rec, r, pushes
}

// refused returns the events OnUnverified received.
func (r *record) refused() []*bot.Unverified {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.unver)
}

// startEcho starts echobot's bot with reconciliations at the start only
// and a short hold (see awaitingKeyBot).
func startEcho(ctx context.Context, echobot *account, rec *record, pushes chan *api.ActivityEvent) *running {
	return start(ctx, echoBot(echobot, rec, bot.WithReconcile(-1, time.Hour), bot.WithMaxHold(20*time.Millisecond)), bot.Events(pushes))
}

// marker has alice send text to echobot, pushed as uuid, and waits until
// the handlers made want calls in all.
func marker(t *testing.T, ctx context.Context, alice, echobot *account, conv string, pushes chan *api.ActivityEvent, rec *record, text, uuid string, want int) {
	t.Helper()
	s := alice.send(ctx, echobot.id, text)
	pushes <- push(t, echobot, uuid, conv, echobot.served(ctx, conv)[s.MessageID].EncodedEvent)
	rec.waitFor(t, ctx, text, func() bool { return len(rec.calls) == want })
}

// handledOnce requires the handlers to have seen mid once, verified (the
// recorded calls are of verified events only).
func handledOnce(t *testing.T, rec *record, mid, text string) {
	t.Helper()
	n := 0
	for _, c := range rec.snapshot() {
		if c.mid == mid {
			n++
			if c.command != "echo" || c.text != text {
				t.Fatalf("handled %+v", c)
			}
		}
	}
	if n != 1 {
		t.Fatalf("the re-opened command was handled %d times, want once", n)
	}
}

// TestReopenedMessageDispatched: the command the bot refused for want of
// its key is handled once, verified, when a push brings its key change
// (with alice's next command); not again after more traffic, nor after a
// restart.
func TestReopenedMessageDispatched(t *testing.T) {
	ctx, cancel := context.WithTimeout(ctxT(t), 30*time.Second)
	defer cancel()
	_, alice, echobot, conv, v, late, rec, r, pushes := awaitingKeyBot(t, ctx)
	next := alice.send(ctx, echobot.id, "!echo next")
	served := echobot.served(ctx, conv)
	pushes <- pushWithKey(t, echobot, "next-1", conv, served[next.MessageID].EncodedEvent, keyChangeOf(t, ctx, echobot, conv, v))
	rec.waitFor(t, ctx, "the next command and the re-opened one", func() bool { return len(rec.calls) == 3 })
	handledOnce(t, rec, late.MessageID, "!echo opened late")
	handledOnce(t, rec, next.MessageID, "!echo next")

	marker(t, ctx, alice, echobot, conv, pushes, rec, "!echo after", "after-1", 4)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	pushes = make(chan *api.ActivityEvent, 8)
	r = startEcho(ctx, echobot, rec, pushes)
	r.waitReady(t, ctx)
	marker(t, ctx, alice, echobot, conv, pushes, rec, "!echo after the restart", "last-1", 5)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	handledOnce(t, rec, late.MessageID, "!echo opened late")
	if u := rec.refused(); len(u) != 1 {
		t.Fatalf("refused %d events, want the one before its key", len(u))
	}
}

// TestReopenedWhileDown: the command refused for want of its key is
// opened by a sync while the bot is down (no report reaches it); the next
// run handles it once, verified.
func TestReopenedWhileDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(ctxT(t), 30*time.Second)
	defer cancel()
	_, alice, echobot, conv, _, late, rec, r, _ := awaitingKeyBot(t, ctx)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	res, err := echobot.e.Sync(ctx, conv, nil)
	if err != nil || res.Reopened != 1 {
		t.Fatalf("the sync while the bot is down: %+v %v, want the command re-opened", res, err)
	}
	pushes := make(chan *api.ActivityEvent, 8)
	r = startEcho(ctx, echobot, rec, pushes)
	r.waitReady(t, ctx)
	rec.waitFor(t, ctx, "the command re-opened while the bot was down", func() bool { return len(rec.calls) == 2 })
	marker(t, ctx, alice, echobot, conv, pushes, rec, "!echo after", "after-1", 3)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	handledOnce(t, rec, late.MessageID, "!echo opened late")
}
