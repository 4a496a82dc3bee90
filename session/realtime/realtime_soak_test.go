package realtime

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/sessiontest"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// soakEvents is the number of messages of TestRealtimeSoak
// (XCHAT_REALTIME_EVENTS, default 520).
func soakEvents(t *testing.T) int {
	if v := os.Getenv("XCHAT_REALTIME_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 50 {
			t.Fatalf("XCHAT_REALTIME_EVENTS=%q: want a number >= 50", v)
		}
		return n
	}
	return 520
}

// pipe forwards a stream's events to the follower's channel until the
// stream ends.
func pipe(from <-chan *api.ActivityEvent, to chan<- *api.ActivityEvent, done chan<- struct{}) {
	for ev := range from {
		to <- ev
	}
	close(done)
}

// TestRealtimeSoak: messages from two senders in two one-to-one
// conversations and a group (with a key rotation and a member added
// mid-run) reach bob through the Activity stream while the server drops,
// duplicates and reorders deliveries, drops the connection and stalls it,
// and bob's stream is killed and restored. Every message is handed to the
// application once, verified; none is lost; bob's stored transcript is
// the server's, with no anomaly. Prints the "realtime:" summary line.
func TestRealtimeSoak(t *testing.T) {
	total := soakEvents(t)
	n := sessiontest.NewNet(t, emulator.WithStreamHeartbeat(50*time.Millisecond))
	ctx := sessiontest.Ctx(t)
	alice, bob, carol, dave := n.User("alice"), n.User("bob"), n.User("carol"), n.User("dave")
	n.Subscribe(ctx, bob, "")
	g, err := alice.E.CreateGroup(ctx, session.GroupOptions{Members: []string{bob.ID, carol.ID}})
	if err != nil {
		t.Fatal(err)
	}

	relay := make(chan *api.ActivityEvent, 64)
	w := newWatch(t, bob, 250*time.Millisecond)
	w.f.ReconcileAfter = 20 * time.Millisecond
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	w.run(fctx, relay)
	idle := &api.StreamOptions{IdleTimeout: 400 * time.Millisecond}
	s1ctx, kill := context.WithCancel(fctx)
	defer kill()
	s1 := w.openStream(s1ctx, n, idle)
	s1done := make(chan struct{})
	go pipe(s1.Events(), relay, s1done)
	w.waitConnected(ctx)
	n.Emu.SetStreamFaults(emulator.StreamFaults{DropEvery: 7, DuplicateEvery: 5, ReorderEvery: 11})

	send := func(i int) string {
		var from *sessiontest.User
		var to string
		switch i % 4 {
		case 0, 1:
			from, to = alice, bob.ID
		case 2:
			from, to = carol, bob.ID
		default:
			from, to = alice, g
			if i%8 == 7 {
				from = carol
			}
		}
		s, err := from.E.SendText(ctx, to, fmt.Sprintf("soak %d", i))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		return s.MessageID
	}
	var s2 *api.Stream
	var mids []string
	reconnectsBefore := 0
	for i := range total {
		switch i {
		case total / 5: // the server drops the connection
			w.mu.Lock()
			reconnectsBefore = w.reconnects
			w.mu.Unlock()
			if waits := dropStream(ctx, n, w); waits > 0 {
				t.Logf("the drop found the client between connections and waited for %d", waits)
			}
			// A connection this young backs off before reconnecting
			// (api.StreamStableAfter): let it, so that the stall below
			// is noticed by a reconnection of its own.
			w.waitFor(ctx, "a reconnection after the drop", func() bool { return w.reconnects > reconnectsBefore })
		case 2 * total / 5: // the server stalls
			w.mu.Lock()
			reconnectsBefore = w.reconnects
			w.mu.Unlock()
			n.Emu.StallStreams(true)
		case 2*total/5 + total/10: // the client noticed the silence
			w.waitFor(ctx, "a reconnection after the stall", func() bool { return w.reconnects > reconnectsBefore })
			n.Emu.StallStreams(false)
		case total / 2:
			if _, err := alice.E.Rotate(ctx, bob.ID); err != nil {
				t.Fatal(err)
			}
		case 3 * total / 5: // bob's stream is killed
			kill()
			<-s1done
		case 3*total/5 + total/10: // and restored, asking for backfill
			s2 = w.openStream(fctx, n, &api.StreamOptions{IdleTimeout: idle.IdleTimeout, BackfillMinutes: 2})
			go pipe(s2.Events(), relay, make(chan struct{}))
			w.f.Resync()
		case 4 * total / 5:
			if err := alice.E.AddMembers(ctx, g, dave.ID); err != nil {
				t.Fatal(err)
			}
		}
		mids = append(mids, send(i))
	}
	w.waitFor(ctx, fmt.Sprintf("%d messages", total), func() bool { return len(w.byMID) >= total })
	stop()
	<-w.done
	got, lost, dups := w.tally(mids)
	reconnects := s1.Stats().Reconnects + s2.Stats().Reconnects + 1 // + the restore
	fmt.Printf("realtime: %d events, lost %d, duplicates %d, reconnects %d\n", got, lost, dups, reconnects)
	st, rs := w.f.Stats(), n.Emu.RealtimeStats()
	t.Logf("%s; follower %+v; emulator %+v", w, st, rs)
	if got != total || lost != 0 || dups != 0 || len(w.failed) != 0 {
		t.Fatalf("got %d of %d, lost %d, duplicates %d, failed %d", got, total, lost, dups, len(w.failed))
	}
	if rs.Dropped == 0 || rs.Duplicated == 0 || rs.Reordered == 0 || reconnects < 3 || st.Pushed == 0 || st.Reconciled == 0 {
		t.Fatalf("the faults did not all happen: emulator %+v, follower %+v, reconnects %d", rs, st, reconnects)
	}
	checkTranscripts(ctx, t, n, bob, []string{alice.ID, carol.ID, g}, w.anomalies)
}

// dropStream closes the follower's stream connection at the server, as a
// server restart does. Its 400 ms idle watchdog can fire on a heartbeat
// late only because the machine is loaded: the client is then between
// two connections (waiting out its back-off), and the drop waits for the
// next one (and closes the server's side of a connection the client left
// when it finds one) instead of failing for want of an open stream. It
// returns how many connections it waited for.
func dropStream(ctx context.Context, n *sessiontest.Net, w *rtWatch) (waits int) {
	for n.Emu.DisconnectStreams() == 0 {
		w.waitConnected(ctx)
		waits++
	}
	return waits
}

// checkTranscripts reconciles once more and requires bob's stored
// history of each conversation to hold every event the server serves,
// verified, with no transcript anomaly found on the way.
func checkTranscripts(ctx context.Context, t *testing.T, n *sessiontest.Net, u *sessiontest.User, convs []string, seen []event.Anomaly) {
	t.Helper()
	res, err := reconcileAll(ctx, u.E, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		seen = append(seen, r.Anomalies...)
	}
	if len(seen) > 0 {
		t.Errorf("anomalies: %v", seen)
	}
	c := n.Client(u.Token)
	for _, id := range convs {
		cid, err := session.CanonicalID(id, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		hist, err := u.E.History(ctx, cid, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]bool{}
		for _, en := range hist {
			if !en.Verified || en.Error != "" {
				t.Errorf("%s: stored entry %s not verified: %s", cid, en.SequenceID, en.Error)
			}
			stored[en.SequenceID] = true
		}
		var served []string
		for ev, err := range c.ConversationEvents(ctx, api.ConversationPathID(cid), &api.ConversationEventsOptions{MaxResults: 100}) {
			if err != nil {
				t.Fatal(err)
			}
			served = append(served, ev.ID)
		}
		missing := slices.DeleteFunc(slices.Clone(served), func(s string) bool { return stored[s] })
		if len(missing) > 0 || len(served) == 0 {
			t.Errorf("%s: %d events served, %d not stored: %v", cid, len(served), len(missing), missing)
		}
	}
}
