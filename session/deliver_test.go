package session

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/session/event"
)

// chatEvent builds the activity event X pushes for a stored message:
// its envelope and, when kc is set, the key change it needs.
func chatEvent(t *testing.T, uuid, user, conv, encoded, kc string) *api.ActivityEvent {
	t.Helper()
	p, err := json.Marshal(api.ChatPayload{ConversationID: conv, EncodedEvent: encoded, ConversationKeyChangeEvent: kc})
	if err != nil {
		t.Fatal(err)
	}
	return &api.ActivityEvent{EventUUID: api.StringOrNumber(uuid), EventType: api.EventChatReceived,
		Filter: api.ActivitySubscriptionFilter{UserID: user}, Payload: p}
}

// serverEvents returns u's view of a conversation from the server: the
// events, oldest first, and the key change envelopes of the newest page.
func serverEvents(t *testing.T, n *testNet, u *testUser, cid string) ([]api.ChatMessageEvent, []string) {
	t.Helper()
	page, _, err := n.client(u.token).GetConversationEvents(ctxT(t), api.ConversationPathID(cid), &api.ConversationEventsOptions{MaxResults: 100})
	if err != nil {
		t.Fatal(err)
	}
	evs := page.Data
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs, page.Meta.KeyChangeEvents()
}

// TestDeliver: the carried key change is applied before the event; the
// event is stored verified and handed over once; repeats by event_uuid or
// by sequence id are duplicates; the sync position stays until Reconcile;
// foreign, non-chat and mis-routed deliveries take no effect.
func TestDeliver(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, bob := n.user("alice"), n.user("bob")
	sent := []*Sent{}
	for _, s := range []string{"one", "two"} {
		r, err := alice.e.SendText(ctx, bob.id, s)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, r)
	}
	cid := sent[0].ConversationID
	evs, kcs := serverEvents(t, n, bob, cid)
	if len(evs) != 2 || len(kcs) != 1 {
		t.Fatalf("server holds %d events, %d key changes", len(evs), len(kcs))
	}
	var handed []*event.Event
	fn := func(ev *event.Event) error { handed = append(handed, ev); return nil }

	// bob has never synced: only the carried key change opens the message.
	d, err := bob.e.Deliver(ctx, chatEvent(t, "u1", bob.id, api.ConversationPathID(cid), evs[0].EncodedEvent, kcs[0]), fn)
	if err != nil || d.Status != DeliveryStored || d.ConversationID != cid {
		t.Fatalf("Deliver: %+v %v", d, err)
	}
	if len(handed) != 2 || handed[0].Kind != event.KindKeyChange || handed[1].MessageID != sent[0].MessageID ||
		!handed[1].Verified || handed[1].Err != nil || handed[1].Entry().Text != "one" {
		t.Fatalf("handed %+v", handed)
	}
	// Again under the same uuid, and under a new one: nothing new.
	for _, uuid := range []string{"u1", "u2"} {
		d, err := bob.e.Deliver(ctx, chatEvent(t, uuid, bob.id, cid, evs[0].EncodedEvent, kcs[0]), fn)
		if err != nil || d.Status != DeliveryDuplicate || len(handed) != 2 {
			t.Fatalf("repeat %s: %+v %v, %d handed", uuid, d, err, len(handed))
		}
	}
	c, err := bob.e.Conversation(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := bob.store.Conversation(ctx, cid)
	if err != nil || rec.Sync.LastSequenceID != "" {
		t.Fatalf("a delivery moved the sync position: %+v %v (%+v)", rec, err, c)
	}
	// Reconcile fetches what the push did not bring, once.
	res, err := bob.e.Reconcile(ctx, fn)
	if err != nil || len(res) != 1 || res[0].NewestSequenceID != evs[1].ID || len(res[0].Anomalies) != 0 {
		t.Fatalf("Reconcile: %+v %v", res, err)
	}
	if len(handed) != 3 || handed[2].MessageID != sent[1].MessageID {
		t.Fatalf("after reconcile handed %d", len(handed))
	}
	if res, err := bob.e.Reconcile(ctx, fn); err != nil || len(res) != 0 {
		t.Fatalf("second Reconcile: %+v %v", res, err)
	}

	rejected := map[string]*api.ActivityEvent{
		"payload names another conversation": chatEvent(t, "r1", bob.id, "g123", evs[1].EncodedEvent, ""),
		"not base64":                         chatEvent(t, "r2", bob.id, cid, "%%%", ""),
		"not a MessageEvent":                 chatEvent(t, "r3", bob.id, cid, "AAAA", ""),
		"no encoded_event":                   {EventUUID: "r4", EventType: api.EventChatSent, Payload: json.RawMessage(`{"conversation_id":"1:2"}`)},
	}
	for name, ev := range rejected {
		d, err := bob.e.Deliver(ctx, ev, fn)
		if err != nil || d.Status != DeliveryRejected || !errors.Is(d.Err, xchat.ErrDeliveryRejected) {
			t.Errorf("%s: %+v %v", name, d, err)
		}
	}
	ignored := map[string]*api.ActivityEvent{
		"another user": chatEvent(t, "i1", alice.id, cid, evs[1].EncodedEvent, ""),
		"not chat":     {EventUUID: "i2", EventType: "dm.received", Payload: json.RawMessage(`{}`)},
	}
	for name, ev := range ignored {
		if d, err := bob.e.Deliver(ctx, ev, fn); err != nil || d.Status != DeliveryIgnored {
			t.Errorf("%s: %+v %v", name, d, err)
		}
	}
	if len(handed) != 3 {
		t.Fatalf("rejected or ignored deliveries handed %d events", len(handed)-3)
	}
	if res, err := bob.e.Reconcile(ctx, fn); err != nil || len(res) != 0 {
		t.Fatalf("rejected deliveries left conversations to reconcile: %+v %v", res, err)
	}
}
