package api_test

// Tests against the project's emulator over loopback HTTP: the same JSON
// types on both sides, real status codes, problems, pagination tokens,
// rate-limit headers and the OAuth endpoints.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
)

type emu struct {
	t     *testing.T
	url   string
	calls atomic.Int64
}

func startEmulator(t *testing.T, opts ...emulator.Option) *emu {
	t.Helper()
	e := &emu{t: t}
	s := emulator.New(opts...)
	t.Cleanup(func() { _ = s.Close() })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.calls.Add(1)
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// provision creates an account through the emulator's provisioning
// endpoint and returns it with a client authenticated as that user.
func (e *emu) provision(name string, opts ...api.Option) (api.ProvisionUserResponse, *api.Client) {
	e.t.Helper()
	id, token := testutil.Provision(e.t, nil, e.url, name)
	u := api.ProvisionUserResponse{ID: id, Username: name, AccessToken: token}
	c, err := api.New(append([]api.Option{api.WithBaseURL(e.url), api.WithBearerToken(u.AccessToken)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	return u, c
}

func TestEmulatorLegacyDMs(t *testing.T) {
	e := startEmulator(t)
	alice, ac := e.provision("alice")
	bob, bc := e.provision("bob")
	carol, _ := e.provision("carol")
	ctx := context.Background()

	first, resp, err := ac.SendDmToParticipant(ctx, bob.ID, &api.DmMessage{Text: "hello bob"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || first.DmEventID == "" || api.ValidateDmConversationID(first.DmConversationID) != nil {
		t.Fatalf("created %+v (status %d)", first, resp.StatusCode)
	}
	for i := 1; i < 25; i++ {
		if _, _, err := ac.SendDmToConversation(ctx, first.DmConversationID, &api.DmMessage{Text: "n" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Bob pages through the conversation 10 at a time.
	seen := map[string]bool{}
	before := e.calls.Load()
	var texts int
	for ev, err := range bc.DmEventsWithParticipant(ctx, alice.ID, &api.DmEventsOptions{MaxResults: 10, DmEventFields: []string{"id", "text", "event_type", "dm_conversation_id"}, Expansions: []string{"sender_id"}}) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[ev.ID] {
			t.Fatalf("event %s seen twice", ev.ID)
		}
		seen[ev.ID] = true
		if ev.EventType == api.DmEventMessageCreate {
			texts++
			if ev.SenderID != alice.ID {
				t.Errorf("sender %s", ev.SenderID)
			}
		}
	}
	if texts != 25 {
		t.Fatalf("bob saw %d messages, want 25", texts)
	}
	if pages := e.calls.Load() - before; pages < 3 {
		t.Fatalf("%d requests: pagination not exercised", pages)
	}

	got, _, err := bc.GetDmEvent(ctx, first.DmEventID, &api.DmEventLookupOptions{DmEventFields: []string{"id", "text"}})
	if err != nil || got.Data == nil || got.Data.Text != "hello bob" {
		t.Fatalf("get event = %+v, %v", got, err)
	}
	if d, _, err := ac.DeleteDmEvent(ctx, first.DmEventID); err != nil || !d.Deleted {
		t.Fatalf("delete = %+v, %v", d, err)
	}
	if _, _, err := ac.GetDmEvent(ctx, first.DmEventID, nil); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("get deleted event: %v", err)
	}

	group, _, err := ac.CreateDmConversation(ctx, &api.CreateDirectMessagesConversationRequest{
		ParticipantIDs: []string{bob.ID, carol.ID}, Message: api.DmMessage{Text: "group hi"},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ev, err := range bc.DmConversationEvents(ctx, group.DmConversationID, nil) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.EventType == api.DmEventMessageCreate {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("group messages = %d", n)
	}
}

func TestEmulatorBlockAndErrors(t *testing.T) {
	e := startEmulator(t)
	_, ac := e.provision("alice")
	bob, bc := e.provision("bob")
	ctx := context.Background()
	if d, _, err := ac.BlockDms(ctx, bob.ID); err != nil || !d.Blocked {
		t.Fatalf("block = %+v, %v", d, err)
	}
	if d, _, err := ac.UnblockDms(ctx, bob.ID); err != nil || d.Blocked {
		t.Fatalf("unblock = %+v, %v", d, err)
	}
	// Unknown user: a problem document surfaces as *Error / ErrNotFound.
	_, _, err := ac.BlockDms(ctx, "999999999")
	var apiErr *api.Error
	if !errors.As(err, &apiErr) || !errors.Is(err, api.ErrNotFound) || apiErr.Problem.Type == "" {
		t.Fatalf("block unknown: %v", err)
	}
	// Unknown group conversation.
	if _, _, err := bc.GetConversationEvents(ctx, "g1234567", nil); err == nil {
		t.Fatal("events of unknown conversation")
	} else if !errors.As(err, &apiErr) || apiErr.StatusCode < 400 {
		t.Fatalf("err = %v", err)
	}
	// Bad token.
	bad := testutil.Must(api.New(api.WithBaseURL(e.url), api.WithBearerToken("not-a-token")))(t)
	if _, _, err := bad.ListConversations(ctx, nil); !errors.Is(err, api.ErrUnauthorized) {
		t.Fatalf("bad token: %v", err)
	}
	// A new group id from the emulator has the spec's shape.
	init, _, err := ac.InitializeGroup(ctx)
	if err != nil || api.ValidateConversationID(init.ConversationID) != nil || init.ConversationID[0] != 'g' {
		t.Fatalf("initialize = %+v, %v", init, err)
	}
	// No conversations yet: an empty, well-formed list.
	list, resp, err := ac.ListConversations(ctx, &api.ListConversationsOptions{MaxResults: 5})
	if err != nil || list == nil || !resp.RateLimit.Known() {
		t.Fatalf("list = %+v, %+v, %v", list, resp, err)
	}
}

func TestEmulatorRateLimitFailFast(t *testing.T) {
	e := startEmulator(t, emulator.WithOperationRateLimit(api.OpBlockUsersDms.ID, 2, time.Hour))
	_, ac := e.provision("alice", api.WithFailFast(true))
	bob, _ := e.provision("bob")
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		_, resp, err := ac.BlockDms(ctx, bob.ID)
		if err != nil {
			t.Fatal(err)
		}
		if resp.RateLimit.Limit != 2 || resp.RateLimit.Remaining != 1-i {
			t.Fatalf("call %d rate limit = %+v", i, resp.RateLimit)
		}
	}
	before := e.calls.Load()
	_, _, err := ac.BlockDms(ctx, bob.ID)
	var rle *api.RateLimitError
	if !errors.As(err, &rle) || e.calls.Load() != before {
		t.Fatalf("err=%v, %d network calls", err, e.calls.Load()-before)
	}
	// Another operation is unaffected.
	if _, _, err := ac.UnblockDms(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
}

// TestEmulatorOAuthLoginAndRefresh logs in against the emulator and uses
// the token until it expires: client and emulator share a fake clock, so
// the request before expiry must reuse the login token and the one after
// must carry a refreshed one (the emulator refuses the expired token).
func TestEmulatorOAuthLoginAndRefresh(t *testing.T) {
	// The emulator approves the authorization request for the user named
	// by emulator_user=<id>, standing in for the consent page.
	clk := testutil.NewClock()
	e := startEmulator(t, emulator.WithClock(clk.Now), emulator.WithAccessTokenTTL(time.Hour))
	alice, _ := e.provision("alice")
	bob, _ := e.provision("bob")
	cfg := api.NewOAuthConfig(e.url, "xchat-cli")
	cfg.AuthURL += "?emulator_user=" + alice.ID
	cfg.Timeout = 10 * time.Second
	cfg.Now = clk.Now
	ctx := context.Background()
	br := newBrowser()
	tok, err := api.LoopbackLogin(ctx, cfg, br.open)
	if err != nil {
		t.Fatal(err)
	}
	br.wait(t)
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token (offline.access requested)")
	}
	var saved []*oauth2.Token
	ts := cfg.TokenSource(ctx, tok, func(t *oauth2.Token) error { saved = append(saved, t); return nil })
	c, err := api.New(api.WithBaseURL(e.url), api.WithTokenSource(ts), api.WithClock(clk.Now, clk.Sleep))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.SendDmToParticipant(ctx, bob.ID, &api.DmMessage{Text: "before expiry"}); err != nil {
		t.Fatal(err)
	}
	if len(saved) != 0 {
		t.Fatalf("the login token was refreshed before it expired (%d saves)", len(saved))
	}
	if err := clk.Sleep(ctx, time.Hour+time.Second); err != nil {
		t.Fatal(err)
	}
	d, _, err := c.SendDmToParticipant(ctx, bob.ID, &api.DmMessage{Text: "via oauth"})
	if err != nil {
		t.Fatal(err)
	}
	if len(saved) != 1 || saved[0].AccessToken == tok.AccessToken {
		t.Fatalf("refreshed token not saved: %d saves", len(saved))
	}
	got, _, err := c.GetDmEvent(ctx, d.DmEventID, &api.DmEventLookupOptions{DmEventFields: []string{"text"}, Expansions: []string{"sender_id"}})
	if err != nil || got.Data.SenderID != alice.ID {
		t.Fatalf("event = %+v, %v", got, err)
	}
}

func TestEmulatorRateLimitWaitsForReset(t *testing.T) {
	// Client and emulator share a fake clock: the client's wait for the
	// window to reset advances the emulator's time too.
	clk := testutil.NewClock()
	e := startEmulator(t, emulator.WithClock(clk.Now), emulator.WithOperationRateLimit(api.OpGetChatConversations.ID, 2, time.Minute))
	_, ac := e.provision("alice", api.WithClock(clk.Now, clk.Sleep))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, _, err := ac.ListConversations(ctx, nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	// Three successful calls, exactly three requests (plus provisioning):
	// the third waited instead of drawing a 429.
	if n := e.calls.Load(); n != 4 {
		t.Fatalf("%d requests, want 4", n)
	}
	if s := clk.Sleeps(); len(s) != 1 || s[0] <= 0 || s[0] > time.Minute+time.Second {
		t.Fatalf("sleeps = %v", s)
	}
}

func TestEmulator429RetriedAfterReset(t *testing.T) {
	clk := testutil.NewClock()
	e := startEmulator(t, emulator.WithClock(clk.Now), emulator.WithOperationRateLimit(api.OpGetChatConversations.ID, 1, time.Minute))
	alice, a1 := e.provision("alice", api.WithClock(clk.Now, clk.Sleep))
	ctx := context.Background()
	if _, _, err := a1.ListConversations(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// A second client for the same user knows nothing of the spent window:
	// it draws a 429, waits for the reset and retries.
	a2, err := api.New(api.WithBaseURL(e.url), api.WithBearerToken(alice.AccessToken), api.WithClock(clk.Now, clk.Sleep), api.WithRand(maxRand))
	if err != nil {
		t.Fatal(err)
	}
	before := e.calls.Load()
	_, resp, err := a2.ListConversations(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Attempts != 2 || e.calls.Load()-before != 2 {
		t.Fatalf("attempts=%d requests=%d", resp.Attempts, e.calls.Load()-before)
	}
	// A fail-fast client gets the 429 as an error.
	a3 := testutil.Must(api.New(api.WithBaseURL(e.url), api.WithBearerToken(alice.AccessToken), api.WithClock(clk.Now, clk.Sleep), api.WithFailFast(true)))(t)
	_, _, err = a3.ListConversations(ctx, nil)
	var apiErr *api.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || !errors.Is(err, api.ErrRateLimited) || !apiErr.RateLimit.Known() {
		t.Fatalf("err = %v", err)
	}
}
