package attacks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/bot"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/realtime"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks of the twentieth review: the surfaces outside the
// transcript walk — the api client's listings, real-time delivery, the
// CLI's terminal output.

var spendPushAttacks = []attack{
	{"activity-subscriptions-endless-empty-pages", attackSubscriptionsEndlessEmptyPages},
	{"dm-events-endless-empty-pages", attackDmEventsEndlessEmptyPages},
	{"activity-stream-drops-after-keepalive", attackStreamDropsAfterKeepAlive},
	{"pushed-foreign-groups-stay-pending", attackPushedForeignGroupsStayPending},
	{"pushed-junk-resyncs-everything", attackPushedJunkResyncsEverything},
}

// endlessEmptyPages is how many answers of a listing the server turns into
// an empty page claiming more, under a fresh next_token, before it lets
// the honest listing through: a client that follows them all would follow
// as many as the server likes (memory for every token, a request each,
// and a caller that never returns).
const endlessEmptyPages = 64

// emptyPagesRules answer the listing at path with empty pages, each under
// a fresh next_token, endlessEmptyPages times (the "empty-pages" rule's
// hits count them), and strip the tokens the emulator never issued.
func emptyPagesRules(path string) []hostile.Rule {
	var n atomic.Int64
	strip := hostile.Rule{Name: "strip-token", Method: http.MethodGet, Path: path,
		Request: func(r *http.Request) {
			q := r.URL.Query()
			q.Del("pagination_token")
			r.URL.RawQuery = q.Encode()
		}}
	return []hostile.Rule{strip, {Name: "empty-pages", Method: http.MethodGet, Path: path, Times: endlessEmptyPages,
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			i := n.Add(1)
			resp.Status = http.StatusOK
			resp.Header.Set("Content-Type", "application/json")
			resp.Body = fmt.Appendf(nil, `{"data":[],"meta":{"result_count":0,"next_token":"freshtoken%08d"}}`, i)
			return nil
		}}}
}

// expectStalledListing requires a listing that met endless empty pages to
// fail with api.ErrPaginationStalled after at most api.MaxEmptyPages of
// them.
func expectStalledListing(w *world, what string, err error) (string, error) {
	hits := w.proxy.Hits("empty-pages")
	if hits > api.MaxEmptyPages+1 {
		return "", errorf("%s followed %d empty pages claiming more (err %v)", what, hits, err)
	}
	if !errors.Is(err, api.ErrPaginationStalled) {
		return "", errorf("%s ended with %v after %d empty pages, want api.ErrPaginationStalled", what, err, hits)
	}
	return fmt.Sprintf("%s stopped after %d empty page(s): %v", what, hits, err), nil
}

// appToken provisions an account on the emulator and returns the app's
// bearer token (the emulator hands it to every account it provisions).
func (w *world) appToken(name string) string {
	w.t.Helper()
	body, err := json.Marshal(emulator.ProvisionRequest{Username: name})
	if err != nil {
		w.t.Fatal(err)
	}
	resp, err := http.Post(w.honest.URL+"/emulator/v1/users", "application/json", bytes.NewReader(body))
	if err != nil {
		w.t.Fatalf("provision %s: %v", name, err)
	}
	defer resp.Body.Close()
	var pr emulator.ProvisionResponse
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
		w.t.Fatalf("provision %s: %v", name, err)
	}
	if pr.AppBearerToken == "" {
		w.t.Fatalf("provision %s: no app bearer token (HTTP %d)", name, resp.StatusCode)
	}
	return pr.AppBearerToken
}

// attackSubscriptionsEndlessEmptyPages: a bot's start (bot.Subscribe, as
// the CLI's webhook serve --register does) lists the app's activity
// subscriptions with the app's token. The server answers every page empty,
// claiming more under a fresh next_token. Followed, the bot never starts:
// each fresh token is remembered (to detect a loop) and costs a request,
// for as long as the server likes. The listing must give up after
// api.MaxEmptyPages empty pages in a row.
func attackSubscriptionsEndlessEmptyPages(w *world) (string, error) {
	bob := w.newUser("bob", true)
	app := apiClient(w.t, w.evil.URL, w.appToken("app"))
	w.proxy.Add(emptyPagesRules(api.PathActivitySubscriptions())...)
	err := bot.Subscribe(w.ctx, app, bob.client, bob.id, "")
	return expectStalledListing(w, "bot.Subscribe's subscription listing", err)
}

// attackDmEventsEndlessEmptyPages: the legacy Direct Message listing
// (api.Client.DmEvents, behind 'xchat dm list', whose --limit counts
// events, not pages) answered with empty pages under fresh next_tokens
// never ends. It must give up after api.MaxEmptyPages empty pages.
func attackDmEventsEndlessEmptyPages(w *world) (string, error) {
	bob := w.newUser("bob", true)
	w.proxy.Add(emptyPagesRules(api.PathDmEvents())...)
	n := 0
	var err error
	for _, e := range bob.client.DmEvents(w.ctx, nil) {
		if e != nil {
			err = e
			break
		}
		n++
	}
	if n != 0 {
		return "", errorf("the empty pages yielded %d events", n)
	}
	return expectStalledListing(w, "DmEvents", err)
}

// streamDrops is how many connects the stream-drop attack lets the victim
// make.
const streamDrops = 12

// attackStreamDropsAfterKeepAlive: the server answers every Activity
// stream connect 200, sends one keep-alive newline and ends the response
// (an on-path attacker gets the same by resetting each connection after
// its first bytes). A connection that delivered a line counts as
// established, and the documented schedule reconnects at once after it:
// followed, the stream reconnects in a tight loop, and every reconnection
// makes the CLI, the bot and session/realtime run a full reconciliation
// (every conversation's /events). Connections that end this soon must
// back off as failures do.
func attackStreamDropsAfterKeepAlive(w *world) (string, error) {
	// The emulator's answer becomes a one-line stream.
	waits, serr, err := streamAnswered(w, "drop", func(_ *http.Request, resp *hostile.Response) error {
		resp.Status = http.StatusOK
		resp.Header = http.Header{"Content-Type": {"application/json"}}
		resp.Body = []byte("\r\n")
		return nil
	}, streamDrops)
	if err != nil {
		return "", err
	}
	if len(waits) < streamDrops {
		return "", errorf("the stream ended after %d connects: %v", len(waits), serr)
	}
	var total time.Duration
	for _, d := range waits {
		total += d
	}
	// The network schedule: 250 ms, 500 ms, … after each drop.
	if want := api.StreamNetworkStep * streamDrops * (streamDrops + 1) / 2; total < want {
		return "", errorf("%d connections that each ended after one keep-alive were followed by waits of %v in all (%v), want the network schedule's %v", len(waits), total, waits, want)
	}
	return fmt.Sprintf("%d one-line connections, reconnect waits %v", len(waits), waits), nil
}

// foreignGroups is how many group ids the pending-growth attack invents.
const foreignGroups = 32

// attackPushedForeignGroupsStayPending: the server pushes bob a genuine
// group message of alice's (a group bob is not in), relabelled into
// foreignGroups invented group ids. Each push is held back (no roster of
// that group is held) and its group left for Reconcile, whose sync of it
// fails (bob is in no such group). A group whose sync fails stays pending
// for the next round — so every push of an invented id costs bob a
// request in every later Reconcile, for ever, and the pending set grows
// with each one. A group the server refuses bob must leave the pending set.
func attackPushedForeignGroupsStayPending(w *world) (string, error) {
	alice := w.newUser("alice", false)
	bob := w.newUser("bob", true)
	carol := w.newUser("carol", false)
	g, err := alice.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{carol.id}})
	if err != nil {
		return "", err
	}
	s := alice.send(g, "not for bob")[0]
	var me *tevent.MessageEvent
	for _, e := range w.serverEvents(carol, g) {
		if e.GetMessageID() == s.MessageID {
			me = e
		}
	}
	if me == nil {
		return "", errorf("message not on the server")
	}
	w.proxy.Add(hostile.Rule{Name: "foreign-syncs", Method: http.MethodGet, Path: `/2/chat/conversations/g9[0-9]{18}/events`})
	for i := range foreignGroups {
		fake := *me
		fake.ConversationID = strp(fmt.Sprintf("g9%018d", i))
		ev, err := pushOf(bob, fmt.Sprintf("foreign-group-%d", i), &fake, "", nil)
		if err != nil {
			return "", err
		}
		d, handed, err := bob.deliver(ev)
		if err != nil || d.Status != session.DeliveryRejected || len(handed) != 0 {
			return "", errorf("push %d: %+v, %d handed, %v", i, d, len(handed), err)
		}
	}
	_, first := bob.e.Reconcile(w.ctx, nil)
	firstSyncs := w.proxy.Hits("foreign-syncs")
	_, second := bob.e.Reconcile(w.ctx, nil)
	again := w.proxy.Hits("foreign-syncs") - firstSyncs
	if again != 0 {
		return "", errorf("the next Reconcile synced %d invented groups again (first round %d, err %v)", again, firstSyncs, second)
	}
	if second != nil {
		return "", errorf("the next Reconcile failed: %v", second)
	}
	if first == nil {
		return "", errorf("the first Reconcile reported no failure for %d invented groups", foreignGroups)
	}
	return fmt.Sprintf("%d invented groups synced once (%d requests), then dropped: %.120v", foreignGroups, firstSyncs, first), nil
}

// junkPushes is how many malformed pushes the resync attack sends.
const junkPushes = 24

// attackPushedJunkResyncsEverything: the server pushes, one after another,
// chat events whose encoded_event is not a MessageEvent. Each is rejected
// without a conversation, and session/realtime's Follower answered every
// such rejection with a full reconciliation: the conversation listing and
// every conversation's /events, for a line of a few bytes; so did every
// line the stream skipped (the CLI and the bot asked for a Resync). Junk
// must cost at most one full reconciliation until the next periodic one.
func attackPushedJunkResyncsEverything(w *world) (string, error) {
	bob := w.newUser("bob", true)
	w.proxy.Add(hostile.Rule{Name: "listing", Method: http.MethodGet, Path: hostile.PathConversations})
	events := make(chan *api.ActivityEvent)
	handled := make(chan session.DeliveryStatus, 1)
	f := &realtime.Follower{
		Engine:         func(context.Context) (*session.Engine, error) { return bob.e, nil },
		ReconcileEvery: -1, ReconcileAfter: -1,
		OnDelivered: func(d *session.Delivered) { handled <- d.Status },
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(w.ctx, events) }()
	for i := range junkPushes {
		raw := fmt.Appendf(nil, `{"conversation_id":"%s:%s","encoded_event":"AAAA"}`, bob.id, "9")
		events <- &api.ActivityEvent{EventUUID: api.StringOrNumber(fmt.Sprintf("junk-%d", i)), EventType: api.EventChatReceived,
			Filter: api.ActivitySubscriptionFilter{UserID: bob.id}, Payload: raw}
		if st := <-handled; st != session.DeliveryRejected {
			return "", errorf("junk push %d: %s, want rejected", i, st)
		}
		f.Missed() // and a junk line the stream skipped, as the CLI and the bot report it
	}
	close(events)
	if err := <-done; err != nil {
		return "", err
	}
	st := f.Stats()
	// The first round, one for the junk, the last round (the channel closed).
	if st.FullReconciles > 3 {
		return "", errorf("%d junk pushes caused %d full reconciliations (%d conversation listings)", junkPushes, st.FullReconciles, w.proxy.Hits("listing"))
	}
	return fmt.Sprintf("%d junk pushes, %d full reconciliations, %d listings", junkPushes, st.FullReconciles, w.proxy.Hits("listing")), nil
}
