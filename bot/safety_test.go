package bot_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/bot"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/thriftgen/event"
)

// served returns the encoded events the server holds for conv, as the
// account reads them, keyed by message id.
func (a *account) served(ctx context.Context, conv string) map[string]api.ChatMessageEvent {
	a.n.t.Helper()
	out := map[string]api.ChatMessageEvent{}
	for ev, err := range a.client.ConversationEvents(ctx, api.ConversationPathID(conv), nil) {
		if err != nil {
			a.n.t.Fatal(err)
		}
		out[hostile.MessageID(ev.EncodedEvent)] = ev
	}
	return out
}

// push is the activity event X would push to a for an encoded event.
func push(t testing.TB, a *account, uuid, conv, encoded string) *api.ActivityEvent {
	t.Helper()
	raw, err := json.Marshal(api.ChatPayload{ConversationID: conv, EncodedEvent: encoded})
	if err != nil {
		t.Fatal(err)
	}
	return &api.ActivityEvent{EventUUID: api.StringOrNumber(uuid), EventType: api.EventChatReceived,
		Filter: api.ActivitySubscriptionFilter{UserID: a.id}, Payload: raw}
}

// TestForgedEventNeverReachesHandler: a pushed copy of alice's command
// with a message id of the server's choosing (so its signature no longer
// verifies) and a payload claiming alice as the sender is refused: the
// command handler runs for the genuine event only, and OnUnverified
// receives the forgery with the engine's reason.
func TestForgedEventNeverReachesHandler(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, echobot := n.user("alice"), n.user("echobot")
	conv := alice.send(ctx, echobot.id, "hello").ConversationID
	pushes := make(chan *api.ActivityEvent, 4)
	rec := newRecord()
	b := echoBot(echobot, rec)
	r := start(ctx, b, bot.Events(pushes))
	r.waitReady(t, ctx)

	real := alice.send(ctx, echobot.id, "!echo genuine")
	genuine := echobot.served(ctx, conv)[real.MessageID]
	forged, err := hostile.EditEvent(genuine.EncodedEvent, func(me *event.MessageEvent) error {
		mid := "0badf00d-0000-4000-8000-000000000001"
		me.MessageID = &mid
		seq, prev := hostile.NextSequenceID(me.GetSequenceID(), 1), me.GetSequenceID()
		me.SequenceID, me.PreviousSequenceID = &seq, &prev
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pushes <- push(t, echobot, "genuine-1", conv, genuine.EncodedEvent)
	pushes <- push(t, echobot, "forged-1", conv, forged)
	rec.waitFor(t, ctx, "the genuine command and the refused forgery", func() bool { return len(rec.calls) == 2 && len(rec.unver) == 1 })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	calls := rec.snapshot()
	if calls[1].mid != real.MessageID || calls[1].command != "echo" || calls[1].sender != alice.id {
		t.Fatalf("handler saw %+v", calls)
	}
	u := rec.unver[0]
	if u.MessageID != "0badf00d-0000-4000-8000-000000000001" || u.ClaimedSender != alice.id || !errors.Is(u.Reason, bot.ErrUnverified) {
		t.Fatalf("OnUnverified got %+v", u)
	}
	t.Logf("refused: %v", u)
	if got := joined(alice.waitMessages(ctx, conv, echobot.id, 1)); got != "genuine" {
		t.Fatalf("the bot answered %q", got)
	}
}

// TestHoldUntilPredecessor: the second of two commands is pushed, the
// first never is: the bot holds the second until the reconciliation with
// /events brings the first, then handles both in order.
func TestHoldUntilPredecessor(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, echobot := n.user("alice"), n.user("echobot")
	conv := alice.send(ctx, echobot.id, "hello").ConversationID
	pushes := make(chan *api.ActivityEvent, 1)
	rec := newRecord()
	b := echoBot(echobot, rec, bot.WithReconcile(-1, 200*time.Millisecond), bot.WithMaxHold(time.Hour))
	r := start(ctx, b, bot.Events(pushes))
	r.waitReady(t, ctx)
	first := alice.send(ctx, echobot.id, "!echo first")
	second := alice.send(ctx, echobot.id, "!echo second")
	pushes <- push(t, echobot, "second-only", conv, echobot.served(ctx, conv)[second.MessageID].EncodedEvent)
	rec.waitFor(t, ctx, "hello and both commands", func() bool { return len(rec.calls) == 3 })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	calls := rec.snapshot()
	if got := texts(calls); !slices.Equal(got, []string{"hello", "!echo first", "!echo second"}) || calls[1].mid != first.MessageID {
		t.Fatalf("handled %q", got)
	}
	if s := b.Stats(); s.GapsReleased != 0 || s.Late != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestAllowList: with an allow-list, a verified command of another member
// of the group is refused before any handler; the allowed member's is
// handled.
func TestAllowList(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, carol, echobot := n.user("alice"), n.user("carol"), n.user("echobot")
	g, err := alice.e.CreateGroup(ctx, session.GroupOptions{Members: []string{carol.id, echobot.id}})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecord()
	b := echoBot(echobot, rec, bot.WithAllowList(alice.id))
	r := start(ctx, b, n.stream(echobot))
	r.waitReady(t, ctx)
	carol.send(ctx, g, "!echo from carol")
	alice.send(ctx, g, "!echo from alice")
	rec.waitFor(t, ctx, "alice's command", func() bool { return len(rec.calls) == 1 })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if c := rec.calls[0]; c.sender != alice.id || c.text != "!echo from alice" {
		t.Fatalf("handled %+v", c)
	}
	if s := b.Stats(); s.Refused < 1 { // carol's command (and her key-change acks, if any)
		t.Fatalf("stats %+v", s)
	}
}

// TestGapGivenUp: without reconciliation, an event whose predecessor never
// comes is handled after WithMaxHold; the predecessor, pushed later, is
// handled late (out of order, counted).
func TestGapGivenUp(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, echobot := n.user("alice"), n.user("echobot")
	conv := alice.send(ctx, echobot.id, "hello").ConversationID
	pushes := make(chan *api.ActivityEvent, 1)
	rec := newRecord()
	b := echoBot(echobot, rec, bot.WithReconcile(-1, time.Hour), bot.WithMaxHold(50*time.Millisecond))
	r := start(ctx, b, bot.Events(pushes))
	r.waitReady(t, ctx)
	first := alice.send(ctx, echobot.id, "!echo first")
	second := alice.send(ctx, echobot.id, "!echo second")
	served := echobot.served(ctx, conv)
	pushes <- push(t, echobot, "second", conv, served[second.MessageID].EncodedEvent)
	rec.waitFor(t, ctx, "the second command", func() bool { return len(rec.calls) == 2 })
	pushes <- push(t, echobot, "first", conv, served[first.MessageID].EncodedEvent)
	rec.waitFor(t, ctx, "the first command, late", func() bool { return len(rec.calls) == 3 })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if got := texts(rec.snapshot()); !slices.Equal(got, []string{"hello", "!echo second", "!echo first"}) {
		t.Fatalf("handled %q", got)
	}
	if s := b.Stats(); s.GapsReleased != 1 || s.Late != 1 || s.Duplicates != 0 {
		t.Fatalf("stats %+v", s)
	}
}
