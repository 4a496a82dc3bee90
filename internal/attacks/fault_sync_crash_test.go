package attacks

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// syncCrashChildEnv marks a re-executed test binary as the sync crash
// child.
const syncCrashChildEnv = "XCHAT_ATTACKS_SYNC_CRASH_CHILD"

// syncCrashPageSize is the child's page size: small pages make a sync of
// a round many storing batches (many commits a kill can land between or
// inside).
const syncCrashPageSize = 10

// syncCrashChild is the body of the sync crash child: it opens the
// keystore its killed predecessor left, announces it ("READY"), syncs the
// conversation and delivers the pushes of XCHAT_CRASH_PUSH (a JSON list of
// activity events), announcing each event handed over ("EV seq", after
// the transaction storing it committed), and "DONE" at the end.
func syncCrashChild() {
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "sync crash child: "+format+"\n", args...)
		os.Exit(3)
	}
	ctx := context.Background()
	st, err := boltstore.Open(os.Getenv("XCHAT_CRASH_STORE"), keystore.WithKey(crashKey), keystore.WithLockTimeout(5*time.Second))
	if err != nil {
		fail("open keystore: %v", err)
	}
	c, err := api.New(api.WithBaseURL(os.Getenv("XCHAT_CRASH_URL")), api.WithBearerToken(os.Getenv("XCHAT_CRASH_TOKEN")))
	if err != nil {
		fail("api: %v", err)
	}
	e, err := session.Open(ctx, st, session.NewAPIServer(c), session.WithPageSize(syncCrashPageSize))
	if err != nil {
		fail("session: %v", err)
	}
	fmt.Println("READY")
	handed := func(ev *event.Event) error {
		fmt.Printf("EV %s\n", ev.SequenceID)
		return nil
	}
	if _, err := e.Sync(ctx, os.Getenv("XCHAT_CRASH_CONVERSATION"), handed); err != nil {
		fail("sync: %v", err)
	}
	var pushes []*api.ActivityEvent
	if err := json.Unmarshal([]byte(os.Getenv("XCHAT_CRASH_PUSH")), &pushes); err != nil {
		fail("pushes: %v", err)
	}
	for _, p := range pushes {
		if _, err := e.Deliver(ctx, p, handed); err != nil {
			fail("push: %v", err)
		}
	}
	fmt.Println("DONE")
	_ = e.Close()
	_ = st.Close()
}

// TestSyncCrash kills (SIGKILL) a child process syncing bob's side of a
// conversation into a sealed bbolt store, once a round, at a random moment
// (a third of the rounds within 40 ms of the child's start, a third as it
// hands over a random event of the round, so the kill lands while batches
// are being stored; the last third is not killed).
// Between rounds alice adds messages, edits, replies, reactions, deletes
// for everyone (a delete of a message bob has not stored yet is pending
// on bob's side: the server no longer serves its target) and a key
// rotation. After every kill the store opens and its history reads; at
// the end bob's store, synced to completion, shows exactly what a copy of
// it taken before the first round shows after one sync (a device that
// synced in pieces, killed in the middle of them, ends where a fresh
// device synced once ends).
func TestSyncCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary 12 times")
	}
	const rounds = 12
	w := newWorld(t)
	ctx := w.ctx
	alice := w.newUser("alice", false)
	bobID, bobToken := w.provision("bob")
	dir := t.TempDir()
	path, freshPath := filepath.Join(dir, "bob.db"), filepath.Join(dir, "fresh.db")

	openBob := func(p string, opts ...session.Option) (*boltstore.DB, *session.Engine) {
		t.Helper()
		st, err := boltstore.Open(p, keystore.WithKey(crashKey))
		if err != nil {
			t.Fatalf("keystore %s does not open: %v", filepath.Base(p), err)
		}
		e, err := session.Open(ctx, st, session.NewAPIServer(apiClient(t, w.evil.URL, bobToken)), opts...)
		if err != nil {
			_ = st.Close()
			t.Fatalf("engine on %s does not open: %v", filepath.Base(p), err)
		}
		return st, e
	}
	st, err := boltstore.Open(path, keystore.WithKey(crashKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := session.CreateAccount(ctx, st, bobID, nil); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	st, e := openBob(path)
	if _, err := e.Register(ctx); err != nil {
		t.Fatal(err)
	}
	_ = e.Close()
	_ = st.Close()
	// The fresh device: the same account, before anything was synced.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(freshPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(faultSeed, 37))
	cid := ""
	var mine []string   // sequence ids of alice's messages edited, quoted, reacted to
	var doomed []string // sequence ids of alice's messages to delete
	say := func(text string, o session.Outgoing) *session.Sent {
		t.Helper()
		o.Text = text
		to := cid
		if to == "" {
			to = bobID
		}
		s, err := alice.e.Send(ctx, to, o)
		if err != nil {
			t.Fatalf("alice sends %q: %v", text, err)
		}
		cid = s.ConversationID
		return s
	}
	pick := func() string { return mine[rng.IntN(len(mine))] }
	var pushes []*api.ActivityEvent // the deleted messages pushed late
	var lateMIDs []string           // their message ids
	erased := 0                     // of them, stored erased (counted by shown)
	killedMid, completed := 0, 0
	for k := range rounds {
		// Alice's round: mostly texts, then an edit, a reply and a reaction
		// of earlier messages, deletes for everyone, every third round a
		// key rotation.
		n := 30
		if k == 0 {
			n = 120
		}
		for i := range n {
			mine = append(mine, say(fmt.Sprintf("round %d text %d", k, i), session.Outgoing{}).SequenceID)
		}
		say(fmt.Sprintf("round %d edit", k), session.Outgoing{Edit: pick()})
		mine = append(mine, say(fmt.Sprintf("round %d reply", k), session.Outgoing{ReplyTo: pick()}).SequenceID)
		if _, err := alice.e.Send(ctx, cid, session.Outgoing{React: pick(), Emoji: "👍"}); err != nil {
			t.Fatalf("alice reacts: %v", err)
		}
		// Messages only ever deleted: one of this round, which bob's
		// device has not stored (its delete is pending there) and which
		// is pushed to it from the next round on, after the delete (its
		// author's delete must erase it then), and one of the last round
		// (stored unless the kill came first).
		now := say(fmt.Sprintf("round %d doomed now", k), session.Outgoing{})
		gone := append(doomed, now.SequenceID)
		doomed = []string{say(fmt.Sprintf("round %d doomed next", k), session.Outgoing{}).SequenceID}
		raw := servedAs(w, bobToken, cid, now.MessageID)
		for _, seq := range gone {
			if err := alice.e.DeleteMessages(ctx, cid, []string{seq}, true); err != nil {
				t.Fatalf("alice deletes: %v", err)
			}
		}
		lateMIDs = append(lateMIDs, now.MessageID)
		pushes = append(pushes, &api.ActivityEvent{EventUUID: api.StringOrNumber(fmt.Sprintf("late-%d", k)), EventType: api.EventChatReceived,
			Filter:  api.ActivitySubscriptionFilter{UserID: bobID},
			Payload: testutil.Must(json.Marshal(api.ChatPayload{ConversationID: cid, EncodedEvent: raw, SenderID: api.StringOrNumber(alice.id), ID: now.MessageID}))(t)})
		if k%3 == 2 {
			if _, err := alice.e.Rotate(ctx, cid); err != nil {
				t.Fatalf("alice rotates: %v", err)
			}
		}

		// Bob's child syncs, is pushed the messages deleted in earlier
		// rounds, and is killed.
		late := testutil.Must(json.Marshal(pushes[:len(pushes)-1]))(t)
		cmd, lines, stderr := startChild(ctx, t, syncCrashChildEnv+"=1",
			"XCHAT_CRASH_STORE="+path, "XCHAT_CRASH_URL="+w.evil.URL,
			"XCHAT_CRASH_TOKEN="+bobToken, "XCHAT_CRASH_CONVERSATION="+cid, "XCHAT_CRASH_PUSH="+string(late))
		kill := func() { _ = cmd.Process.Kill() }
		var killer *time.Timer
		at := -1 // killed as the at-th event is handed over
		switch k % 3 {
		case 0:
			killer = time.AfterFunc(time.Duration(rng.IntN(40))*time.Millisecond, kill)
		case 1:
			at = rng.IntN(n + 8)
		}
		done, seen := false, 0
		for line := range lines {
			switch f := strings.Fields(line); {
			case len(f) == 0:
			case f[0] == "EV":
				if seen == at {
					kill()
				}
				seen++
			case f[0] == "DONE":
				done = true
			}
		}
		_ = cmd.Wait()
		if killer != nil {
			killer.Stop()
		}
		if strings.Contains(stderr.String(), "sync crash child:") {
			t.Fatalf("child %d failed: %s", k, stderr.String())
		}
		if done {
			completed++
		} else {
			killedMid++
		}

		// Restart: the file opens and its history reads.
		st, e := openBob(path)
		if _, err := e.History(ctx, cid, "", 0); err != nil {
			t.Fatalf("history after kill %d: %v", k, err)
		}
		_ = e.Close()
		_ = st.Close()
	}

	// The device killed in the middle of its syncs, synced to completion,
	// against the fresh device synced once.
	shown := func(p string, opts ...session.Option) []event.Entry {
		t.Helper()
		st, e := openBob(p, opts...)
		defer func() { _ = e.Close(); _ = st.Close() }()
		if _, err := e.Sync(ctx, cid, nil); err != nil {
			t.Fatalf("sync of %s: %v", filepath.Base(p), err)
		}
		h, err := e.History(ctx, cid, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		// A message deleted after this device stored it shows as removed,
		// where a device that never stored it shows nothing.
		return slices.DeleteFunc(h, func(en event.Entry) bool {
			if en.Removed && slices.Contains(lateMIDs, en.MessageID) {
				erased++
			}
			return en.Removed
		})
	}
	got, want := shown(path, session.WithPageSize(syncCrashPageSize)), shown(freshPath)
	t.Logf("sync crash: rounds=%d killed mid-sync=%d completed=%d entries=%d late-erased=%d", rounds, killedMid, completed, len(want), erased)
	addSummary(fmt.Sprintf("sync crash: rounds=%d killed mid-sync=%d entries=%d late-erased=%d", rounds, killedMid, len(want), erased))
	if killedMid == 0 {
		t.Errorf("no child was killed before its sync returned: the test exercised no crash")
	}
	if erased == 0 {
		t.Errorf("no message pushed after its delete was stored: the test exercised no pending delete")
	}
	if d := firstEntryDiff(got, want); d != "" {
		t.Errorf("the device killed mid-sync differs from a fresh device synced once: %s", d)
	}
}

// servedAs returns the encoded event the server serves as message mid of
// cid (among the newest 100).
func servedAs(w *world, token, cid, mid string) string {
	w.t.Helper()
	page, _, err := apiClient(w.t, w.honest.URL, token).GetConversationEvents(w.ctx, api.ConversationPathID(cid), &api.ConversationEventsOptions{MaxResults: 100})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, d := range page.Data {
		if me, err := hostile.DecodeEvent(d.EncodedEvent); err == nil && me.GetMessageID() == mid {
			return d.EncodedEvent
		}
	}
	w.t.Fatalf("the server does not serve message %s", mid)
	return ""
}

// firstEntryDiff describes the first entry in which got and want differ
// ("" when none does).
func firstEntryDiff(got, want []event.Entry) string {
	for i := range max(len(got), len(want)) {
		var g, w []byte
		if i < len(got) {
			g, _ = json.Marshal(got[i])
		}
		if i < len(want) {
			w, _ = json.Marshal(want[i])
		}
		if string(g) != string(w) {
			return fmt.Sprintf("entry %d (of %d, fresh %d): got %s, fresh %s", i, len(got), len(want), g, w)
		}
	}
	return ""
}
