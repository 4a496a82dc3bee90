package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// TestFailedEventsAllowance: a sync of forged events keeps the
// conversation's allowance of failed events (by number, and by size) and
// passes the rest to fn without storing them, reported once a storing
// step (AnomalyFailedNotKept); later syncs of forged events alone do not
// renew the allowance (verified events do: TestFailedEventsAllowanceRenews);
// verified events are never charged.
func TestFailedEventsAllowance(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opt   Option
		kept  int
		total int
	}{
		{"events", WithMaxFailedEvents(4, 1<<30), 4, 10},
		{"bytes", WithMaxFailedEvents(1000, 3000), 0, 10}, // measured below: the bytes fit a few events
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			n := newNet(t)
			alice := n.user("alice")
			var ts *tamperServer
			bob := n.userWith("bob", func(s Server) Server { ts = &tamperServer{Server: s}; return ts }, tc.opt)
			forge := func(r *api.GetChatConversationEventsResponse) {
				for i := range r.Data {
					r.Data[i].EncodedEvent = editEvent(t, r.Data[i].EncodedEvent, func(me *tevent.MessageEvent) {
						if c := me.GetDetail().GetMessageCreateEvent(); c != nil && me.GetSenderID() == alice.id {
							c.Contents[len(c.Contents)-1] ^= 1
						}
					})
				}
			}
			var cid string
			for i := range tc.total {
				s, err := alice.e.SendText(ctx, bob.id, fmt.Sprintf("m%d", i))
				if err != nil {
					t.Fatal(err)
				}
				cid = s.ConversationID
			}
			ts.set(forge)
			var handed, failed int
			res, err := bob.e.Sync(ctx, cid, func(ev *event.Event) error {
				if ev.Kind == event.KindMessage {
					handed++
					if errors.Is(ev.Err, inbound.ErrBadSignature) {
						failed++
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			kept, size := failedHeld(t, bob, cid)
			notKept := 0
			for _, a := range res.Anomalies {
				if a.Kind == event.AnomalyFailedNotKept {
					var k int
					if _, err := fmt.Sscan(a.Related, &k); err != nil {
						t.Fatal(err)
					}
					notKept += k
				}
			}
			t.Logf("%d forged messages: %d handed (%d failed), %d kept (%d bytes), %d reported not kept", tc.total, handed, failed, kept, size, notKept)
			if handed != tc.total || failed != tc.total || kept+notKept != tc.total {
				t.Fatalf("handed %d failed %d kept %d not kept %d of %d", handed, failed, kept, notKept, tc.total)
			}
			switch tc.name {
			case "events":
				if kept != tc.kept {
					t.Fatalf("kept %d failed events, allowance %d", kept, tc.kept)
				}
			case "bytes":
				if size > 3000 || kept == 0 || kept == tc.total {
					t.Fatalf("kept %d failed events of %d bytes, allowance 3000 bytes", kept, size)
				}
			}
			// The allowance does not renew; honest events are stored.
			for i := range 3 {
				if _, err := alice.e.SendText(ctx, bob.id, fmt.Sprintf("more %d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
				t.Fatal(err)
			}
			if again, _ := failedHeld(t, bob, cid); again != kept {
				t.Fatalf("a later sync of forged events kept %d failed events, had %d", again, kept)
			}
			ts.set(nil)
			honest, err := alice.e.SendText(ctx, bob.id, "honest")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
				t.Fatal(err)
			}
			h, err := bob.e.History(ctx, cid, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if last := h[len(h)-1]; last.MessageID != honest.MessageID || !last.Verified {
				t.Fatalf("honest message after the forgeries: %+v", last)
			}
		})
	}
}

// failedHeld counts the failed messages u stores for cid, and their size.
func failedHeld(t *testing.T, u *testUser, cid string) (n, size int) {
	t.Helper()
	evs, err := u.store.Events(ctxT(t), cid, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Error != "" {
			n++
			size += len(ev.Raw)
		}
	}
	return n, size
}

// TestFailedEventsEngineAllowance: across conversations, the engine keeps
// failedTotalFactor conversations' allowances of failed events in all
// (a server can fabricate peers, so conversations without end): with
// room for one failed event each, the seventeenth conversation's is not
// kept, and a verified event is never charged: it renews the engine's
// allowance by one failed event.
func TestFailedEventsEngineAllowance(t *testing.T) {
	ctx := ctxT(t)
	n := newNaiveNet(t)
	bob := n.userWith("bob", nil, WithMaxFailedEvents(1, 1<<30))
	failed := func() *event.Event {
		return &event.Event{Err: errors.New("forged"), Raw: []byte("forged bytes")}
	}
	charge := func(cid string, ev *event.Event) error {
		// One storing step of one event (see storeEventsTx): charged or
		// counted, then the allowances renewed.
		return bob.e.store.Update(ctx, func(tx keystore.Tx) error {
			renew := 0
			if err := bob.e.chargeFailed(ctx, tx, cid, ev, &renew); err != nil {
				return err
			}
			return bob.e.renewFailed(ctx, tx, cid, &renew)
		})
	}
	for i := range failedTotalFactor {
		cid := fmt.Sprintf("%s:%d", bob.id, 9_000_000_000+i)
		if err := charge(cid, failed()); err != nil {
			t.Fatalf("conversation %d: %v", i, err)
		}
		if err := charge(cid, failed()); !errors.Is(err, errFailedNotKept) {
			t.Fatalf("conversation %d kept a second failed event: %v", i, err)
		}
	}
	last := fmt.Sprintf("%s:%d", bob.id, 9_000_000_000+failedTotalFactor)
	if err := charge(last, failed()); !errors.Is(err, errFailedNotKept) {
		t.Fatalf("conversation %d kept a failed event past the engine's allowance: %v", failedTotalFactor, err)
	}
	if err := charge(last, &event.Event{Verified: true, Raw: []byte("honest")}); err != nil {
		t.Fatalf("a verified event was charged: %v", err)
	}
	// That verified event renewed the engine's allowance by one event.
	if err := charge(last, failed()); err != nil {
		t.Fatalf("a verified event did not renew the engine's allowance: %v", err)
	}
	if err := charge(last, failed()); !errors.Is(err, errFailedNotKept) {
		t.Fatalf("one verified event renewed the allowances by more than one failed event: %v", err)
	}
}

// TestFailedEventsAllowanceRenews: each verified event stored gives one
// failed event (and maxFailedBytes/maxFailedEvents bytes) back to its
// conversation's allowance and to the engine's, so an account whose peers
// keep failing honestly keeps storing their failed events; forged events
// alone never renew it (TestFailedEventsAllowance).
func TestFailedEventsAllowanceRenews(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	var ts *tamperServer
	bob := n.userWith("bob", func(s Server) Server { ts = &tamperServer{Server: s}; return ts }, WithMaxFailedEvents(4, 1<<30))
	forge := func(r *api.GetChatConversationEventsResponse) {
		for i := range r.Data {
			r.Data[i].EncodedEvent = editEvent(t, r.Data[i].EncodedEvent, func(me *tevent.MessageEvent) {
				if c := me.GetDetail().GetMessageCreateEvent(); c != nil && me.GetSenderID() == alice.id {
					c.Contents[len(c.Contents)-1] ^= 1
				}
			})
		}
	}
	var cid string
	send := func(k int, prefix string) {
		t.Helper()
		for i := range k {
			s, err := alice.e.SendText(ctx, bob.id, fmt.Sprintf("%s %d", prefix, i))
			if err != nil {
				t.Fatal(err)
			}
			cid = s.ConversationID
		}
	}
	sync := func(tamper func(*api.GetChatConversationEventsResponse)) {
		t.Helper()
		ts.set(tamper)
		if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
			t.Fatal(err)
		}
	}
	send(4, "forged")
	sync(forge)
	first, _ := failedHeld(t, bob, cid)
	send(2, "honest")
	sync(nil)
	send(5, "forged again")
	sync(forge)
	kept, size := failedHeld(t, bob, cid)
	t.Logf("4 forged: %d kept; 2 verified; 5 forged: %d kept in all (%d bytes)", first, kept, size)
	if first != 4 || kept != 4+2 {
		t.Fatalf("kept %d failed events of 4, then %d in all after 2 verified and 5 forged (want 4, then 6)", first, kept)
	}
}

// TestTypingPushesAreNotStored: typing indicators are ephemeral (pushed
// live, never part of the history a sync reads) and signed by no one: a
// pushed one is handed to fn and not stored, so it costs nothing of the
// failed-event allowance and is reported as nothing, however many an
// honest conversation brings, and one for a conversation not recorded
// yet (someone typing before her first message) records nothing.
func TestTypingPushesAreNotStored(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, carol := n.user("alice"), n.user("carol")
	bob := n.userWith("bob", nil, WithMaxFailedEvents(2, 1<<30))
	first, err := alice.e.SendText(ctx, bob.id, "hello")
	if err != nil {
		t.Fatal(err)
	}
	cid := first.ConversationID
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	evs, _ := serverEvents(t, n, bob, cid)
	base, err := strconv.ParseUint(evs[len(evs)-1].SequenceID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	carolCID, err := oneToOneID(carol.id, bob.id)
	if err != nil {
		t.Fatal(err)
	}
	push := func(i int, conv string) {
		t.Helper()
		typing := editEvent(t, evs[len(evs)-1].EncodedEvent, func(me *tevent.MessageEvent) {
			me.Detail = &tevent.MessageEventDetail{MessageTypingEvent: &tevent.MessageTypingEvent{ConversationID: &conv}}
			me.MessageEventSignature = nil
			me.ConversationID = &conv
			seq, mid := strconv.FormatUint(base+uint64(i)+1, 10), fmt.Sprintf("typing-%d", i)
			me.SequenceID, me.MessageID = &seq, &mid
		})
		typed := 0
		d, err := bob.e.Deliver(ctx, chatEvent(t, fmt.Sprintf("typing-%d", i), bob.id, api.ConversationPathID(conv), typing, ""), func(ev *event.Event) error {
			if ev.Kind == event.KindTyping {
				typed++
			}
			return nil
		})
		if err != nil || d.Err != nil {
			t.Fatalf("typing push %d: %v %+v", i, err, d)
		}
		if typed != 1 {
			t.Errorf("typing push %d: %d typing indicators handed, want 1", i, typed)
		}
		for _, a := range d.Anomalies {
			if a.Kind == event.AnomalyFailedNotKept {
				t.Errorf("typing push %d reported as not kept: %+v", i, a)
			}
		}
	}
	for i := range 6 {
		push(i, cid)
	}
	push(6, carolCID)
	h, err := bob.e.History(ctx, cid, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range h {
		if en.Type == "typing" {
			t.Errorf("typing indicator stored: %+v", en)
		}
	}
	if _, err := bob.e.Conversation(ctx, carolCID); !errors.Is(err, xchat.ErrUnknownConversation) {
		t.Errorf("a typing push recorded carol's conversation (%v)", err)
	}
	if kept, _ := failedHeld(t, bob, cid); kept != 0 {
		t.Errorf("%d failed events held after typing pushes", kept)
	}
}

// allowanceReads counts, over a keystore.Memory, the write transactions
// and the reads of the failed-event allowance records made in them.
type allowanceReads struct {
	*keystore.Memory
	updates, reads int
}

// Update implements keystore.Store.
func (s *allowanceReads) Update(ctx context.Context, fn func(keystore.Tx) error) error {
	s.updates++
	return s.Memory.Update(ctx, func(tx keystore.Tx) error { return fn(allowanceReadsTx{tx, s}) })
}

type allowanceReadsTx struct {
	keystore.Tx
	s *allowanceReads
}

// Value implements keystore.Tx.
func (t allowanceReadsTx) Value(ctx context.Context, name string) ([]byte, error) {
	if strings.HasPrefix(name, "session/failed-kept") {
		t.s.reads++
	}
	return t.Tx.Value(ctx, name)
}

// TestFailedAllowanceRenewedOncePerStep: the verified events of one storing
// step renew the failed-event allowances (TestFailedEventsAllowanceRenews)
// with one read of each allowance record for the step, not two reads per
// event stored (a first sync paid them for every event of the history).
func TestFailedAllowanceRenewedOncePerStep(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	id, token := n.provision("bob")
	store := &allowanceReads{Memory: keystore.NewMemory()}
	if err := CreateAccount(ctx, store, id, nil); err != nil {
		t.Fatal(err)
	}
	bob, err := Open(ctx, store, NewAPIServer(n.client(token)))
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if _, err := bob.Register(ctx); err != nil {
		t.Fatal(err)
	}
	const msgs = 30
	var cid string
	for i := range msgs {
		s, err := alice.e.SendText(ctx, id, fmt.Sprintf("m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		cid = s.ConversationID
	}
	store.updates, store.reads = 0, 0
	stored := 0
	if _, err := bob.Sync(ctx, cid, func(ev *event.Event) error {
		if ev.Kind == event.KindMessage && ev.Verified && ev.Err == nil {
			stored++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d verified messages stored in %d write transactions: %d allowance reads", stored, store.updates, store.reads)
	if stored != msgs {
		t.Fatalf("stored %d verified messages, want %d", stored, msgs)
	}
	if store.reads == 0 || store.reads > 2*store.updates {
		t.Fatalf("%d reads of the allowance records for %d verified events in %d write transactions (want at most 2 per transaction)",
			store.reads, stored, store.updates)
	}
}
