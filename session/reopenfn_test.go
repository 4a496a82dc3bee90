package session

import (
	"errors"
	"slices"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/session/event"
)

// keyChangeVersion returns the version of the key change encoded in b64
// ("" when it is no key change).
func keyChangeVersion(t *testing.T, b64 string) string {
	t.Helper()
	me, err := hostile.DecodeEvent(b64)
	if err != nil {
		t.Fatal(err)
	}
	kc := me.GetDetail().GetConversationKeyChangeEvent()
	if kc == nil {
		return ""
	}
	return kc.GetConversationKeyVersion()
}

// withholdKey makes ts serve its pages without the key change of version
// v (in the metadata and the data).
func withholdKey(t *testing.T, ts *tamperServer, v string) {
	ts.set(func(r *api.GetChatConversationEventsResponse) {
		other := func(b string) bool { return keyChangeVersion(t, b) != v }
		if r.Meta != nil {
			r.Meta.ConversationKeyEvents = slices.DeleteFunc(r.Meta.ConversationKeyEvents, func(b string) bool { return !other(b) })
			r.Meta.MissingConversationKeyChangeEvents = slices.DeleteFunc(r.Meta.MissingConversationKeyChangeEvents, func(b string) bool { return !other(b) })
		}
		r.Data = slices.DeleteFunc(r.Data, func(d api.ChatMessageEvent) bool { return !other(d.EncodedEvent) })
	})
}

// awaitingKeyScene: alice rotates the conversation's key and writes
// under it; bob's sync is served the message without the key change, so
// he stores it failed for want of its key. It returns the message sent
// and the new key version.
func awaitingKeyScene(t *testing.T) (*testNet, *testUser, *testUser, *tamperServer, string, *Sent, string) {
	ctx, n, alice, bob, ts, cid, _ := hostileSetup(t)
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	v, err := alice.e.Rotate(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	s, err := alice.e.SendText(ctx, bob.id, "under the late key")
	if err != nil {
		t.Fatal(err)
	}
	withholdKey(t, ts, v)
	var first []*event.Event
	if _, err := bob.e.Sync(ctx, cid, func(ev *event.Event) error { first = append(first, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || first[0].MessageID != s.MessageID || !errors.Is(first[0].Err, xchat.ErrUnknownKeyVersion) || first[0].Reopened {
		t.Fatalf("setup: the first sync handed %d events (%+v), want the message failed for want of its key", len(first), first)
	}
	ts.set(nil)
	return n, alice, bob, ts, cid, s, v
}

// reopenedOnce requires evs to hold the message s once, verified, marked
// Reopened, with its text.
func reopenedOnce(t *testing.T, evs []*event.Event, s *Sent) {
	t.Helper()
	var got []*event.Event
	for _, ev := range evs {
		if ev.SequenceID == s.SequenceID {
			got = append(got, ev)
		}
	}
	switch {
	case len(got) != 1:
		t.Fatalf("the message opened by its key change was handed to fn %d times, want once", len(got))
	case !got[0].Verified || got[0].Err != nil || !got[0].Reopened || got[0].Text() != "under the late key" || got[0].MessageID != s.MessageID:
		t.Fatalf("handed %+v, want the message verified and Reopened", got[0])
	}
	if en := got[0].Entry(); !en.Reopened || !en.Verified {
		t.Fatalf("its entry form %+v, want Reopened and Verified", en)
	}
}

// TestReopenedHandedToFn: a message stored failed for want of its key is
// handed to fn again, verified and marked Reopened, by the sync served
// its key change, once: a later sync hands it no more.
func TestReopenedHandedToFn(t *testing.T) {
	_, _, bob, _, cid, s, _ := awaitingKeyScene(t)
	ctx := ctxT(t)
	var handed []*event.Event
	res, err := bob.e.Sync(ctx, cid, func(ev *event.Event) error { handed = append(handed, ev); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if res.Reopened != 1 {
		t.Fatalf("Reopened %d, want 1", res.Reopened)
	}
	reopenedOnce(t, handed, s)
	if handed[len(handed)-1].SequenceID != s.SequenceID {
		t.Fatalf("the re-opened message is not handed last: %+v", handed)
	}
	handed = nil
	if _, err := bob.e.Sync(ctx, cid, func(ev *event.Event) error { handed = append(handed, ev); return nil }); err != nil || len(handed) != 0 {
		t.Fatalf("a later sync handed %d events again (%v)", len(handed), err)
	}
}

// TestReopenedInEntries: with fn nil, the sync served the key change
// returns the re-opened message in Entries once, verified.
func TestReopenedInEntries(t *testing.T) {
	_, _, bob, _, cid, s, _ := awaitingKeyScene(t)
	res, err := bob.e.Sync(ctxT(t), cid, nil)
	if err != nil {
		t.Fatal(err)
	}
	var at []event.Entry
	for _, en := range res.Entries {
		if en.SequenceID == s.SequenceID {
			at = append(at, en)
		}
	}
	if len(at) != 1 || !at[0].Verified || !at[0].Reopened || at[0].Text != "under the late key" {
		t.Fatalf("Entries hold %d entries at the message's sequence id (%+v), want one, verified and Reopened", len(at), at)
	}
}

// TestReopenedHandedByDeliver: a push carrying the withheld key change
// (with alice's next message) hands fn the message that awaited it,
// verified and Reopened, after the pushed events, and lists it in
// Delivered.Events.
func TestReopenedHandedByDeliver(t *testing.T) {
	n, alice, bob, _, cid, s, v := awaitingKeyScene(t)
	ctx := ctxT(t)
	next, err := alice.e.SendText(ctx, bob.id, "next under it")
	if err != nil {
		t.Fatal(err)
	}
	evs, kcs := serverEvents(t, n, bob, cid)
	kc := ""
	for _, b := range kcs {
		if keyChangeVersion(t, b) == v {
			kc = b
		}
	}
	if kc == "" || evs[len(evs)-1].ID != next.SequenceID {
		t.Fatalf("setup: the server's newest page lacks the key change %s or the next message", v)
	}
	var handed []*event.Event
	d, err := bob.e.Deliver(ctx, chatEvent(t, "reopen-1", bob.id, cid, evs[len(evs)-1].EncodedEvent, kc),
		func(ev *event.Event) error { handed = append(handed, ev); return nil })
	if err != nil || d.Status != DeliveryStored {
		t.Fatalf("Deliver: %+v %v", d, err)
	}
	reopenedOnce(t, handed, s)
	if last := handed[len(handed)-1]; last.SequenceID != s.SequenceID {
		t.Fatalf("the re-opened message is not handed last: %+v", handed)
	}
	if !slices.ContainsFunc(handed, func(ev *event.Event) bool { return ev.MessageID == next.MessageID && ev.Verified }) {
		t.Fatalf("the pushed message was not handed verified: %+v", handed)
	}
	if !slices.Equal(d.Events, handed) {
		t.Fatalf("Delivered.Events %+v, handed %+v", d.Events, handed)
	}
}

// TestReopenedFnError: an error from fn for a re-opened message is the
// sync's error, and every re-opened message is handed over all the same.
func TestReopenedFnError(t *testing.T) {
	_, _, bob, _, cid, s, _ := awaitingKeyScene(t)
	stop := errors.New("the application stops")
	var handed []*event.Event
	_, err := bob.e.Sync(ctxT(t), cid, func(ev *event.Event) error {
		handed = append(handed, ev)
		if ev.Reopened {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Sync returned %v, want fn's error", err)
	}
	reopenedOnce(t, handed, s)
}

// TestAwaitsKey: only a failed message whose error is the pipeline's
// unknown key version of its own conversation, alone, awaits its key.
func TestAwaitsKey(t *testing.T) {
	const cid = "1:2"
	awaiting := func() event.Entry {
		return event.Entry{ConversationID: cid, SequenceID: "10", Type: event.TypeMessage,
			Error: (&inbound.UnknownKeyError{ConversationID: cid, Version: "7"}).Error()}
	}
	if en := awaiting(); !AwaitsKey(&en) {
		t.Fatalf("%+v does not await its key", en)
	}
	for name, f := range map[string]func(*event.Entry){
		"verified":             func(en *event.Entry) { en.Verified = true },
		"removed":              func(en *event.Entry) { en.Removed = true },
		"a key change":         func(en *event.Entry) { en.Type = event.TypeKeyChange },
		"no sequence id":       func(en *event.Entry) { en.SequenceID = "" },
		"another conversation": func(en *event.Entry) { en.ConversationID = "1:3" },
		"another error":        func(en *event.Entry) { en.Error = "inbound: bad signature" },
		"an error after it":    func(en *event.Entry) { en.Error += "; and more" },
		"a version not decimal": func(en *event.Entry) {
			en.Error = (&inbound.UnknownKeyError{ConversationID: cid, Version: "7x"}).Error()
		},
		"no version": func(en *event.Entry) { en.Error = (&inbound.UnknownKeyError{ConversationID: cid}).Error() },
	} {
		en := awaiting()
		f(&en)
		if AwaitsKey(&en) {
			t.Errorf("%s: %+v awaits its key", name, en)
		}
	}
	if AwaitsKey(nil) {
		t.Error("nil awaits its key")
	}
}
