package realtime

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/sessiontest"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/session"
)

// TestRealtimeStream: alice sends, bob follows through the Activity stream
// of the emulator over loopback; every message arrives once, verified,
// by push.
func TestRealtimeStream(t *testing.T) {
	n := sessiontest.NewNet(t)
	ctx := sessiontest.Ctx(t)
	alice, bob := n.User("alice"), n.User("bob")
	n.Subscribe(ctx, bob, "")
	n.Subscribe(ctx, alice, "") // events for another user of the app reach bob's stream too
	sctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	w := newWatch(t, bob, -1)
	w.stream(sctx, n, nil)
	w.waitConnected(ctx)
	var mids []string
	for i := range 20 {
		s, err := alice.E.SendText(ctx, bob.ID, fmt.Sprintf("live %d", i))
		if err != nil {
			t.Fatal(err)
		}
		mids = append(mids, s.MessageID)
	}
	// Every message reaches bob's stream (a push may find its event
	// already fetched by a reconciliation: a duplicate, not shown twice);
	// alice's deliveries on the same app stream are ignored.
	w.waitFor(ctx, "20 messages and 40 deliveries", func() bool {
		return len(w.byMID) >= 20 && w.deliveries[session.DeliveryStored]+w.deliveries[session.DeliveryDuplicate] >= 20 && w.deliveries[session.DeliveryIgnored] >= 20
	})
	got, lost, dups := w.tally(mids)
	if got != 20 || lost != 0 || dups != 0 {
		t.Fatalf("got %d, lost %d, duplicates %d", got, lost, dups)
	}
	st := w.f.Stats()
	if st.Delivered != 40 || st.Stored+st.Duplicates != 20 || st.Ignored != 20 || st.Rejected != 0 {
		t.Errorf("follower %+v", st)
	}
	t.Logf("%s; follower %+v", w, st)
}

// TestRealtimeWebhook: alice sends, bob follows through a webhook receiver
// served on loopback, registered with the emulator (CRC) and subscribed
// to; a POST with a bad signature is refused before it is parsed.
func TestRealtimeWebhook(t *testing.T) {
	n := sessiontest.NewNet(t)
	ctx := sessiontest.Ctx(t)
	alice, bob := n.User("alice"), n.User("bob")
	consumer, client, _ := n.Emu.AppCredentials()
	recv, err := api.NewWebhookReceiver(api.WebhookOptions{ConsumerSecret: []byte(consumer), OAuth2ClientSecret: []byte(client)})
	if err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(recv)
	t.Cleanup(hook.Close)
	wh, _, err := n.AppClient().CreateWebhook(ctx, hook.URL+"/xchat/webhook")
	if err != nil || !wh.Data.Valid {
		t.Fatalf("CreateWebhook: %+v %v", wh, err)
	}
	n.Subscribe(ctx, bob, wh.Data.ID)
	sctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	w := newWatch(t, bob, -1)
	w.run(sctx, recv.Events())
	var mids []string
	for i := range 20 {
		s, err := alice.E.SendText(ctx, bob.ID, fmt.Sprintf("hooked %d", i))
		if err != nil {
			t.Fatal(err)
		}
		mids = append(mids, s.MessageID)
	}
	w.waitFor(ctx, "20 messages and deliveries", func() bool {
		return len(w.byMID) >= 20 && w.deliveries[session.DeliveryStored]+w.deliveries[session.DeliveryDuplicate] >= 20
	})
	if got, lost, dups := w.tally(mids); got != 20 || lost != 0 || dups != 0 {
		t.Fatalf("got %d, lost %d, duplicates %d", got, lost, dups)
	}
	if st := w.f.Stats(); st.Stored+st.Duplicates != 20 || st.Rejected != 0 || st.Ignored != 0 {
		t.Errorf("follower %+v", st)
	}

	// A forged delivery: a well-formed chat envelope signed with a guessed
	// secret. The receiver refuses it before parsing; nothing is queued.
	body := []byte(`{"data":{"event_uuid":"1","event_type":"chat.received","filter":{"user_id":"` + bob.ID +
		`"},"payload":{"conversation_id":"1:2","encoded_event":"AAAA"}}}`)
	req := testutil.Must(http.NewRequestWithContext(ctx, "POST", hook.URL+"/xchat/webhook", bytes.NewReader(body)))(t)
	req.Header.Set(api.HeaderWebhookSignature, api.WebhookSignature([]byte("guessed"), body))
	resp, err := hook.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st := recv.Stats(); resp.StatusCode != http.StatusUnauthorized || st.BadSignature != 1 || st.Malformed != 0 || st.Accepted != 20 {
		t.Fatalf("forged POST: %d, receiver %+v", resp.StatusCode, st)
	}
	t.Logf("%s; receiver %+v", w, recv.Stats())
}

// TestRealtimeGroupJoin: carol follows the stream before she is in any
// group; alice adds her to a group (chat.conversation.join carries the
// group change and the key change) and writes to it: carol's application
// gets the message, verified, and her roster has the group.
func TestRealtimeGroupJoin(t *testing.T) {
	n := sessiontest.NewNet(t)
	ctx := sessiontest.Ctx(t)
	alice, bob, carol := n.User("alice"), n.User("bob"), n.User("carol")
	n.Subscribe(ctx, carol, "")
	g, err := alice.E.CreateGroup(ctx, session.GroupOptions{Members: []string{bob.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.E.SendText(ctx, g, "before carol"); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	w := newWatch(t, carol, -1)
	w.stream(sctx, n, nil)
	w.waitConnected(ctx)
	if err := alice.E.AddMembers(ctx, g, carol.ID); err != nil {
		t.Fatal(err)
	}
	s, err := alice.E.SendText(ctx, g, "welcome carol")
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(ctx, "the welcome", func() bool { return w.byMID[s.MessageID] == 1 })
	// Pushes into a group before carol holds its roster are held back
	// (ErrRosterUnknown) and the Follower reconciles instead; on a loaded
	// machine both the add and the welcome can arrive that early. Once the
	// welcome is stored, so is the roster: the next message comes by push
	// (stored, or a duplicate when a reconciliation got there first).
	next, err := alice.E.SendText(ctx, g, "after the welcome")
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(ctx, "the next message", func() bool { return w.byMID[next.MessageID] == 1 })
	w.waitFor(ctx, "a push", func() bool { return w.deliveries[session.DeliveryStored]+w.deliveries[session.DeliveryDuplicate] > 0 })
	w.mu.Lock()
	failed, pushed := slices.Clone(w.failed), w.deliveries[session.DeliveryStored]+w.deliveries[session.DeliveryDuplicate]
	w.mu.Unlock()
	if len(failed) != 0 {
		t.Fatalf("%d failed events: %v", len(failed), failed[0].Err)
	}
	c, err := carol.E.Conversation(ctx, g)
	if err != nil || !slices.Contains(c.Members, carol.ID) || !slices.Contains(c.Members, alice.ID) {
		t.Fatalf("carol's view of the group: %+v %v", c, err)
	}
	if pushed == 0 {
		t.Fatalf("nothing came by push: %+v", w.f.Stats())
	}
}
