package attacks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks of the tenth outside review: what the engine spends. A
// hostile server decides the size, shape and timing of every answer; no
// answer may make the engine hold memory without bound or wait for hours.

var spendAttacks = []attack{
	{"pagination-ballooned-tokens", attackBallooningEventTokens},
	{"conversation-listing-ballooned-tokens", attackBallooningListTokens},
	{"activity-stream-reset-far-future", attackStreamResetFarFuture},
	{"activity-stream-retry-after-a-day", attackStreamRetryAfterDay},
	{"first-sync-fills-the-disk", attackFirstSyncFillsDisk},
	{"send-failure-detail-balloon", attackSendFailureDetailBalloon},
	{"conversation-listing-flood", attackConversationListingFlood},
}

// balloonToken is the next_token of page n: unique, and far longer than
// any token a server needs (the engine keeps every token of a sync to
// detect loops, and sends each back in a URL).
func balloonToken(n int64) string {
	return strconv.FormatInt(n, 10) + "-" + strings.Repeat("A", 256<<10)
}

// tokenEcho records the longest pagination token the victim sent back.
type tokenEcho struct{ longest atomic.Int64 }

// strip notes the request's token and strips it, so the emulator answers
// the first page again.
func (e *tokenEcho) strip(r *http.Request) {
	q := r.URL.Query()
	if n := int64(len(q.Get("pagination_token"))); n > e.longest.Load() {
		e.longest.Store(n)
	}
	q.Del("pagination_token")
	r.URL.RawQuery = q.Encode()
}

// attackBallooningEventTokens: bob's first sync of a conversation is
// answered with pages that each extend the transcript (the events' unsigned
// sequence ids moved up, each page a range of its own) under a fresh next_token of 256 KiB. Followed, the
// sync holds every token (10,000 pages of up to 16 MiB answers: gigabytes)
// and sends each back. The sync must stop at the first oversized token
// with ErrServerResponse, never send it back, and keep the page it came
// with.
func attackBallooningEventTokens(w *world) (string, error) {
	d := newDM(w)
	var n atomic.Int64
	var echo tokenEcho
	const pages = 8
	w.proxy.Add(hostile.Rule{Name: "balloon", Method: http.MethodGet, Path: hostile.PathEvents, Times: pages,
		Request: echo.strip,
		Rewrite: jsonRewrite(func(page *api.GetChatConversationEventsResponse) {
			i := n.Add(1)
			if i > 1 {
				_ = hostile.EditData(page, func(me *tevent.MessageEvent) error {
					me.SequenceID = strp(hostile.NextSequenceID(me.GetSequenceID(), uint64(i)*1_000_000_000_000_000))
					return nil
				})
			}
			page.Meta.HasMore, page.Meta.NextToken = i < pages, balloonToken(i)
		})})
	r := d.bob.sync(d.cid)
	longest := echo.longest.Load()
	if longest > api.MaxPaginationTokenBytes {
		return "", errorf("engine sent back a %d-byte token (%d pages fetched, sync err %v)", longest, w.proxy.Hits("balloon"), r.err)
	}
	if !errors.Is(r.err, xchat.ErrServerResponse) {
		return "", errorf("sync ended with %v, want ErrServerResponse", r.err)
	}
	if err := d.honestIntact("m1", "m2", "m3"); err != nil {
		return "", err
	}
	return fmt.Sprintf("stopped after %d page(s), longest token sent back %d bytes: %v", w.proxy.Hits("balloon"), longest, r.err), nil
}

// attackBallooningListTokens: the conversation listing answers every page
// with one conversation not listed before and a fresh next_token of 256
// KiB. RefreshConversations must stop at the first with ErrServerResponse
// and never send it back.
func attackBallooningListTokens(w *world) (string, error) {
	d := newDM(w)
	var n atomic.Int64
	var echo tokenEcho
	const pages = 8
	w.proxy.Add(hostile.Rule{Name: "balloon", Method: http.MethodGet, Path: hostile.PathConversations, Times: pages,
		Request: echo.strip,
		Rewrite: hostile.Conversations("", func(_ *http.Request, v *api.GetChatConversationsResponse) error {
			i := n.Add(1)
			if v.Meta == nil {
				v.Meta = &api.ChatConversationsMeta{}
			}
			v.Data = append(v.Data, api.ChatConversation{ID: "g" + strconv.FormatInt(1_000_000_000_000_000+i, 10), Type: "Group"})
			v.Meta.HasMore, v.Meta.NextToken = i < pages, balloonToken(i)
			return nil
		}).Rewrite})
	_, err := d.bob.e.RefreshConversations(w.ctx)
	longest := echo.longest.Load()
	if longest > api.MaxPaginationTokenBytes {
		return "", errorf("engine sent back a %d-byte listing token (%d pages, err %v)", longest, w.proxy.Hits("balloon"), err)
	}
	if !errors.Is(err, xchat.ErrServerResponse) {
		return "", errorf("listing ended with %v, want ErrServerResponse", err)
	}
	return fmt.Sprintf("stopped after %d page(s), longest token sent back %d bytes: %v", w.proxy.Hits("balloon"), longest, err), nil
}

// waitClock is an api.Clock whose Sleep records the delay and returns at
// once; its watchdog timers never fire.
type waitClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *waitClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *waitClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *waitClock) AfterFunc(time.Duration, func()) func() bool { return func() bool { return true } }

// streamRateLimited answers bob's Activity stream connects with 429 and
// the headers h, and returns the waits the stream scheduled in its first
// attempts.
func streamRateLimited(w *world, h http.Header) ([]time.Duration, error) {
	waits, serr, err := streamAnswered(w, "throttle", func(_ *http.Request, resp *hostile.Response) error {
		resp.Status = http.StatusTooManyRequests
		for k, v := range h {
			resp.Header[k] = v
		}
		resp.Body = []byte(`{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}`)
		return nil
	}, 3)
	if err != nil {
		return nil, err
	}
	if len(waits) == 0 {
		return nil, errorf("the stream scheduled no reconnect (err %v)", serr)
	}
	return waits, nil
}

// expectBoundedWaits requires every scheduled reconnect wait to stay within
// the stream's longest documented backoff.
func expectBoundedWaits(waits []time.Duration) (string, error) {
	for _, d := range waits {
		if d > api.StreamMaxWait {
			return "", errorf("the stream scheduled a reconnect in %v (waits %v), over %v", d, waits, api.StreamMaxWait)
		}
	}
	return fmt.Sprintf("reconnect waits %v, within %v", waits, api.StreamMaxWait), nil
}

// attackStreamResetFarFuture: the stream's connects are answered 429 with
// the window exhausted until x-rate-limit-reset 2^40-1 (some 34,000
// years). A stream that waits for the reset never reconnects: real-time
// delivery is off for good after one answer.
func attackStreamResetFarFuture(w *world) (string, error) {
	h := http.Header{}
	h.Set("x-rate-limit-limit", "50")
	h.Set("x-rate-limit-remaining", "0")
	h.Set("x-rate-limit-reset", strconv.FormatInt(1<<40-1, 10))
	waits, err := streamRateLimited(w, h)
	if err != nil {
		return "", err
	}
	return expectBoundedWaits(waits)
}

// attackStreamRetryAfterDay: the stream's connects are answered 429 with
// Retry-After: 86400. The stream must not go quiet for a day.
func attackStreamRetryAfterDay(w *world) (string, error) {
	h := http.Header{}
	h.Set("Retry-After", "86400")
	waits, err := streamRateLimited(w, h)
	if err != nil {
		return "", err
	}
	return expectBoundedWaits(waits)
}

// attackFirstSyncFillsDisk: bob's first sync is answered with pages that
// each extend the transcript and carry 128 KiB of padding (an entry that is
// not base64), claiming more each time. A sync of several pages keeps them
// all aside (spill file or keystore) before storing them; followed, 10,000
// pages of 16 MiB fill 160 GB of disk. bob bounds a sync at 512 KiB
// (session.WithMaxSyncBytes; 1 GiB by default): the sync must stop with
// ErrServerResponse within one page of the bound, keeping what it fetched.
func attackFirstSyncFillsDisk(w *world) (string, error) {
	const budget, pad, pages = 512 << 10, 128 << 10, 40
	alice := w.newUser("alice", false)
	bob := w.newUser("bob", true, session.WithMaxSyncBytes(budget))
	sent := alice.send(bob.id, "m1", "m2", "m3")
	d := &dm{w: w, alice: alice, bob: bob, cid: sent[0].ConversationID, path: api.ConversationPathID(sent[0].ConversationID), sent: sent}
	var n atomic.Int64
	w.proxy.Add(hostile.Rule{Name: "fill", Method: http.MethodGet, Path: hostile.PathEvents, Times: pages,
		Request: stripToken,
		Rewrite: jsonRewrite(func(page *api.GetChatConversationEventsResponse) {
			i := n.Add(1)
			if i > 1 {
				_ = hostile.EditData(page, func(me *tevent.MessageEvent) error {
					me.SequenceID = strp(hostile.NextSequenceID(me.GetSequenceID(), uint64(i)*1_000_000_000_000_000))
					return nil
				})
			}
			page.Data = append(page.Data, api.ChatMessageEvent{EncodedEvent: strings.Repeat("!", pad)})
			page.Meta.HasMore, page.Meta.NextToken = i < pages, "fill-"+strconv.FormatInt(i, 10)
		})})
	r := d.bob.sync(d.cid)
	got := w.proxy.Hits("fill")
	if limit := budget/pad + 1; got > limit {
		return "", errorf("the sync fetched %d pages of %d KiB padding (bound %d KiB: at most %d pages), sync err %v", got, pad>>10, budget>>10, limit, r.err)
	}
	if !errors.Is(r.err, xchat.ErrServerResponse) {
		return "", errorf("sync ended with %v after %d pages, want ErrServerResponse", r.err, got)
	}
	if err := d.honestIntact("m1", "m2", "m3"); err != nil {
		return "", err
	}
	return fmt.Sprintf("stopped after %d pages: %v", got, r.err), nil
}

// attackSendFailureDetailBalloon: the server answers bob's send 503 with a
// problem document whose detail is 4 MiB (and carries terminal escape
// sequences). The send stays queued, and the outbox item records the
// failure's text, persisted for every queued send and shown by apps and
// the CLI: the text a server writes into an error must be bounded (and
// free of control characters), and the send must stay queued.
func attackSendFailureDetailBalloon(w *world) (string, error) {
	d := newDM(w)
	detail := "\x1b]0;owned\x07\x1b[2J" + strings.Repeat("D", 4<<20)
	body, err := json.Marshal(api.Problem{Type: "about:blank", Title: "Service Unavailable\x1b[31m", Detail: detail})
	if err != nil {
		return "", err
	}
	w.proxy.Add(hostile.Rule{Name: "balloon", Method: http.MethodPost, Path: hostile.PathMessages,
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			resp.Status, resp.Body = http.StatusServiceUnavailable, body
			resp.Header.Set("Content-Type", "application/problem+json")
			return nil
		}})
	_, serr := d.bob.e.SendText(w.ctx, d.alice.id, "reply")
	var q *xchat.QueuedError
	if !errors.As(serr, &q) {
		return "", errorf("send ended with %v, want a *QueuedError (kept for retry)", serr)
	}
	out, err := d.bob.e.Outbox(w.ctx)
	if err != nil {
		return "", err
	}
	if len(out) != 1 {
		return "", errorf("outbox holds %d sends, want the refused one", len(out))
	}
	for what, text := range map[string]string{"send error": serr.Error(), "outbox last_error": out[0].LastError} {
		if len(text) > maxServerErrorText {
			return "", errorf("%s holds %d bytes of the server's text", what, len(text))
		}
		if strings.ContainsAny(text, "\x1b\x07") {
			return "", errorf("%s carries the server's control characters: %q", what, text[:min(len(text), 80)])
		}
	}
	return fmt.Sprintf("send queued, error bounded to %d bytes: %.120s", len(out[0].LastError), out[0].LastError), nil
}

// maxServerErrorText bounds what an error shows of a server's answer: the
// api's bound on each text (api.MaxProblemTextBytes, three of them: title,
// detail, message) with room for the engine's own words around them.
const maxServerErrorText = 3*api.MaxProblemTextBytes + 1024

// attackConversationListingFlood: bob's conversation listing (100 a page)
// is answered first with one page of 5,000 groups, then with a group
// whose (unsigned, display-only) member list holds 20,000 ids and an id
// of 1 MiB. Every listed conversation is stored and synced by the
// real-time reconciliation: a page over max_results must be refused
// whole, and the server's member list of a group kept within the bound on
// a group's size (1,024), valid ids only.
func attackConversationListingFlood(w *world) (string, error) {
	d := newDM(w)
	before, err := d.bob.e.RefreshConversations(w.ctx)
	if err != nil {
		return "", errorf("setup: listing: %v", err)
	}
	flood := make([]api.ChatConversation, 5000)
	for i := range flood {
		flood[i] = api.ChatConversation{ID: "g" + strconv.Itoa(2_000_000_000_000_000+i), Type: "Group"}
	}
	w.proxy.Add(hostile.Rule{Name: "flood", Method: http.MethodGet, Path: hostile.PathConversations, Times: 1,
		Rewrite: hostile.Conversations("", func(_ *http.Request, v *api.GetChatConversationsResponse) error {
			v.Data = append(v.Data, flood...)
			return nil
		}).Rewrite})
	_, ferr := d.bob.e.RefreshConversations(w.ctx)
	after, err := d.bob.e.Conversations(w.ctx)
	if err != nil {
		return "", err
	}
	if !errors.Is(ferr, xchat.ErrServerResponse) || len(after) != len(before) {
		return "", errorf("a listing page of %d conversations (max_results 100): err %v, %d conversations stored (%d before)", len(flood), ferr, len(after), len(before))
	}
	members := []string{strings.Repeat("7", 1<<20)}
	for i := range 20000 {
		members = append(members, strconv.Itoa(3_000_000+i))
	}
	const gid = "g2999999999999999999"
	w.proxy.Add(hostile.Rule{Name: "members", Method: http.MethodGet, Path: hostile.PathConversations, Times: 1,
		Rewrite: hostile.Conversations("", func(_ *http.Request, v *api.GetChatConversationsResponse) error {
			v.Data = append(v.Data, api.ChatConversation{ID: gid, Type: "Group", MemberIDs: members})
			return nil
		}).Rewrite})
	if _, err := d.bob.e.RefreshConversations(w.ctx); err != nil {
		return "", errorf("listing with one large group: %v", err)
	}
	c, err := d.bob.e.Conversation(w.ctx, gid)
	if err != nil {
		return "", errorf("the listed group was not recorded: %v", err)
	}
	size := 0
	for _, id := range c.ServerMembers {
		size += len(id)
	}
	if len(c.ServerMembers) > 1024 || size > 1024*20 {
		return "", errorf("bob keeps the server's member list of %d ids (%d bytes)", len(c.ServerMembers), size)
	}
	return fmt.Sprintf("flooded page refused (%v); a listed group keeps %d server members", ferr, len(c.ServerMembers)), nil
}
