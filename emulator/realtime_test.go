package emulator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/wire"
)

func (e *env) client(token string) *api.Client {
	e.t.Helper()
	c, err := api.New(api.WithBaseURL(e.ts.URL), api.WithBearerToken(token), api.WithHTTPClient(e.ts.Client()), api.WithMaxAttempts(1))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// app returns a client holding the app-only bearer token as provisioning
// answers it, and the provisioning answer.
func (e *env) app() (*api.Client, api.ProvisionUserResponse) {
	e.t.Helper()
	var pr api.ProvisionUserResponse
	e.must(e.do("POST", "/emulator/v1/users", "", map[string]string{"username": "appowner"}), http.StatusCreated).decode(e.t, &pr)
	if pr.AppBearerToken == "" || pr.ConsumerSecret == "" || pr.ClientSecret == "" {
		e.t.Fatalf("provisioning answers no app credentials: %+v", pr)
	}
	c, s, b := e.srv.AppCredentials()
	if c != pr.ConsumerSecret || s != pr.ClientSecret || b != pr.AppBearerToken {
		e.t.Fatal("AppCredentials disagrees with provisioning")
	}
	return e.client(pr.AppBearerToken), pr
}

func rtCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantStatus(t *testing.T, err error, status int, what string) *api.Error {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) || ae.StatusCode != status {
		t.Fatalf("%s: %v, want HTTP %d", what, err, status)
	}
	return ae
}

func sub(typ, user string) *api.CreateActivitySubscriptionRequest {
	return &api.CreateActivitySubscriptionRequest{EventType: typ, Filter: api.ActivitySubscriptionFilter{UserID: user}}
}

func TestActivitySubscriptions(t *testing.T) {
	e := newEnv(t)
	ctx := rtCtx(t)
	app, _ := e.app()
	a, b := e.provision("alice"), e.provision("bob")
	ac, bc := e.client(a.token), e.client(b.token)

	r, _, err := ac.CreateActivitySubscription(ctx, &api.CreateActivitySubscriptionRequest{EventType: api.EventChatReceived,
		Filter: api.ActivitySubscriptionFilter{UserID: a.id}, Tag: "inbox"})
	if err != nil {
		t.Fatal(err)
	}
	s1 := r.Data.Subscription
	if s1.SubscriptionID == "" || s1.EventType != api.EventChatReceived || s1.Filter.UserID != a.id || s1.Tag != "inbox" {
		t.Fatalf("created %+v", r.Data)
	}
	// The legacy alias is answered under its canonical name.
	r, _, err = ac.CreateActivitySubscription(ctx, sub(api.EventChatConversationJoinLegacy, a.id))
	if err != nil || r.Data.Subscription.EventType != api.EventChatConversationJoin {
		t.Fatalf("legacy alias: %+v %v", r, err)
	}
	if _, _, err := bc.CreateActivitySubscription(ctx, sub(api.EventChatSent, b.id)); err != nil {
		t.Fatal(err)
	}
	// Private events need the monitored user's own token.
	_, _, err = app.CreateActivitySubscription(ctx, sub(api.EventChatSent, a.id))
	if ae := wantStatus(t, err, 403, "app token"); ae.Problem.Type != api.ProblemNotAuthorizedForResource {
		t.Errorf("app token: %+v", ae.Problem)
	}
	_, _, err = bc.CreateActivitySubscription(ctx, sub(api.EventChatSent, a.id))
	wantStatus(t, err, 403, "another user's filter")
	_, _, err = ac.CreateActivitySubscription(ctx, sub(api.EventChatReceived, a.id))
	wantStatus(t, err, 409, "duplicate")
	e.must(e.do("POST", "/2/activity/subscriptions", a.token, map[string]any{"event_type": "chat.sent",
		"filter": map[string]string{"user_id": a.id}, "extra": 1}), http.StatusBadRequest)

	// Listing: the app sees everything, in pages.
	var all []string
	page, _, err := app.ListActivitySubscriptions(ctx, &api.ListActivitySubscriptionsOptions{MaxResults: 2})
	if err != nil || len(page.Data) != 2 || page.Meta.NextToken == "" || page.Meta.TotalSubscriptions != 3 {
		t.Fatalf("first page %+v %v", page, err)
	}
	for s, err := range app.ActivitySubscriptions(ctx, &api.ListActivitySubscriptionsOptions{MaxResults: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, s.SubscriptionID)
	}
	if len(all) != 3 {
		t.Fatalf("listed %v", all)
	}
	// A user token needs the spec's scopes (like.read is not among the
	// provisioned ones).
	_, _, err = ac.ListActivitySubscriptions(ctx, nil)
	wantStatus(t, err, 403, "user listing without like.read")

	u, _, err := app.UpdateActivitySubscription(ctx, s1.SubscriptionID, &api.UpdateActivitySubscriptionRequest{Tag: "renamed"})
	if err != nil || u.Data.Subscription.Tag != "renamed" || u.Data.Subscription.EventType != api.EventChatReceived || u.Data.TotalSubscriptions != 3 {
		t.Fatalf("update %+v %v", u, err)
	}
	_, _, err = ac.UpdateActivitySubscription(ctx, s1.SubscriptionID, &api.UpdateActivitySubscriptionRequest{Tag: "x"})
	wantStatus(t, err, 403, "user token update")
	_, _, err = app.UpdateActivitySubscription(ctx, s1.SubscriptionID, &api.UpdateActivitySubscriptionRequest{WebhookID: "42"})
	wantStatus(t, err, 404, "unknown webhook")

	d, _, err := app.DeleteActivitySubscription(ctx, s1.SubscriptionID)
	if err != nil || !d.Data.Deleted {
		t.Fatalf("delete %+v %v", d, err)
	}
	_, _, err = app.DeleteActivitySubscription(ctx, s1.SubscriptionID)
	wantStatus(t, err, 404, "delete twice")
	dd, _, err := app.DeleteActivitySubscriptions(ctx, []string{all[1], "12345"})
	var de *api.DeleteSubscriptionsError
	if !errors.As(err, &de) || len(de.Failures) != 1 || de.Failures[0].SubscriptionID != "12345" ||
		len(dd.Data) != 1 || !dd.Data[0].Deleted || dd.Meta.TotalSubscriptions != 1 {
		t.Fatalf("delete by ids %+v %v", dd, err)
	}
	// The stream takes the app token only.
	e.must(e.do("GET", "/2/activity/stream", a.token, nil), http.StatusForbidden)
	e.must(e.do("GET", "/2/activity/stream", "", nil), http.StatusUnauthorized)
	e.must(e.do("GET", "/2/activity/stream?backfill_minutes=6", app2token(e), nil), http.StatusBadRequest)
}

func app2token(e *env) string { _, _, b := e.srv.AppCredentials(); return b }

// dm is alice and bob with a keyed one-to-one conversation.
type dm struct {
	e          *env
	a, b       *user
	conv, path string
	kc         keyChange
	kcSeq      string
}

func newKeyedDM(e *env) *dm {
	a, b := e.newUser("alice"), e.newUser("bob")
	d := &dm{e: e, a: a, b: b, conv: convKey1to1(a, b)}
	d.path = strings.Replace(d.conv, ":", "-", 1)
	d.kc = a.prepareKeyChange(d.conv, "1000", a, b)
	var kr api.AddConversationKeysResponse
	e.must(e.do("POST", "/2/chat/conversations/"+d.path+"/keys", a.token, api.AddConversationKeysRequest{
		ConversationKeyVersion: d.kc.version, ConversationParticipantKeys: d.kc.keys, ActionSignatures: []api.ActionSignature{d.kc.action}}), http.StatusOK).decode(e.t, &kr)
	d.kcSeq = kr.Data.SequenceID
	return d
}

// collect reads n events from a stream.
func collect(t *testing.T, ctx context.Context, s *api.Stream, n int) []*api.ActivityEvent {
	t.Helper()
	var out []*api.ActivityEvent
	for len(out) < n {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("stream ended after %d events: %v", len(out), s.Err())
			}
			out = append(out, ev)
		case <-ctx.Done():
			t.Fatalf("got %d of %d events", len(out), n)
		}
	}
	return out
}

// TestActivityStreamFanOut: a message is pushed to its sender as
// chat.sent and to the recipient as chat.received, with the envelope the
// events list serves, the key change it needs and the sender's signature.
func TestActivityStreamFanOut(t *testing.T) {
	e := newEnv(t)
	ctx := rtCtx(t)
	app, _ := e.app()
	d := newKeyedDM(e)
	for _, u := range []*user{d.a, d.b} {
		for _, typ := range []string{api.EventChatReceived, api.EventChatSent} {
			if _, _, err := e.client(u.token).CreateActivitySubscription(ctx, sub(typ, u.id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	connected := make(chan struct{}, 1)
	s, err := app.ActivityStream(sctx, &api.StreamOptions{OnStatus: func(st api.StreamStatus) {
		if st.State == api.StreamConnected {
			connected <- struct{}{}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	<-connected
	me := d.a.send(d.path, d.conv, d.kc, "pushed")
	evs := collect(t, ctx, s, 2)
	got := map[string]*api.ActivityEvent{}
	for _, ev := range evs {
		got[ev.Filter.UserID+" "+ev.EventType] = ev
	}
	sent, recv := got[d.a.id+" chat.sent"], got[d.b.id+" chat.received"]
	if sent == nil || recv == nil || sent.EventUUID == recv.EventUUID {
		t.Fatalf("deliveries %v", got)
	}
	p, err := recv.ChatPayload()
	if err != nil {
		t.Fatal(err)
	}
	ev := decodeEvent(t, p.EncodedEvent)
	kcEv := decodeEvent(t, p.ConversationKeyChangeEvent)
	if ev.GetSequenceID() != me.GetSequenceID() || ev.GetMessageID() != p.ID || p.ConversationID != d.conv ||
		string(p.SenderID) != d.a.id || string(p.ConversationKeyVersion) != "1000" || kcEv.GetSequenceID() != d.kcSeq ||
		kcEv.GetDetail().GetConversationKeyChangeEvent().GetConversationKeyVersion() != "1000" {
		t.Fatalf("payload %+v", p)
	}
	if sig := p.MessageEventSignature; sig == nil || string(sig.SignatureVersion) != "7" || string(sig.PublicKeyVersion) != d.a.keyVersion ||
		sig.SigningPublicKey != wire.EncodeB64(d.a.kp.Signing.PublicKey().SPKI()) {
		t.Fatalf("signature %+v", p.MessageEventSignature)
	}
	if got := d.b.openMessage(ev, d.kc); got != "pushed" {
		t.Fatalf("opened %q", got)
	}
}

// TestActivityStreamBackfillAndHeartbeat: a connection asking for
// backfill gets the retained events first; one that does not, does not;
// an idle stream beats.
func TestActivityStreamBackfillAndHeartbeat(t *testing.T) {
	e := newEnv(t, emulator.WithStreamHeartbeat(5*time.Millisecond))
	ctx := rtCtx(t)
	app, _ := e.app()
	d := newKeyedDM(e)
	if _, _, err := e.client(d.b.token).CreateActivitySubscription(ctx, sub(api.EventChatReceived, d.b.id)); err != nil {
		t.Fatal(err)
	}
	early := d.a.send(d.path, d.conv, d.kc, "before anyone listened")

	// Without backfill: the first line is a heartbeat.
	req := testutil.Must(http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/2/activity/stream", nil))(t)
	req.Header.Set("Authorization", "Bearer "+app2token(e))
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	if err != nil || line != "\n" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("first line %q (%v), content type %q", line, err, resp.Header.Get("Content-Type"))
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := app.ActivityStream(sctx, &api.StreamOptions{BackfillMinutes: 1})
	if err != nil {
		t.Fatal(err)
	}
	ev := collect(t, ctx, s, 1)[0]
	p, err := ev.ChatPayload()
	if err != nil || decodeEvent(t, p.EncodedEvent).GetSequenceID() != early.GetSequenceID() {
		t.Fatalf("backfilled %+v %v", p, err)
	}
	late := d.a.send(d.path, d.conv, d.kc, "live")
	ev = collect(t, ctx, s, 1)[0]
	if p := testutil.Must(ev.ChatPayload())(t); decodeEvent(t, p.EncodedEvent).GetSequenceID() != late.GetSequenceID() {
		t.Fatal("live event not delivered after the backfill")
	}
}

// TestActivityStreamFaults: the fault switches drop, duplicate and reorder
// deliveries in a deterministic pattern, and DisconnectStreams drops open
// connections (the client reconnects).
func TestActivityStreamFaults(t *testing.T) {
	e := newEnv(t)
	ctx := rtCtx(t)
	app, _ := e.app()
	d := newKeyedDM(e)
	if _, _, err := e.client(d.b.token).CreateActivitySubscription(ctx, sub(api.EventChatReceived, d.b.id)); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	connected := make(chan bool, 4)
	s, err := app.ActivityStream(sctx, &api.StreamOptions{OnStatus: func(st api.StreamStatus) {
		if st.State == api.StreamConnected {
			connected <- st.Reconnect
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	<-connected
	e.srv.SetStreamFaults(emulator.StreamFaults{DropEvery: 3, DuplicateEvery: 4, ReorderEvery: 5, ReorderHold: time.Hour})
	seqIndex := map[string]int{}
	for i := 1; i <= 12; i++ {
		me := d.a.send(d.path, d.conv, d.kc, fmt.Sprint(i))
		seqIndex[me.GetSequenceID()] = i
	}
	// 3, 6, 9, 12 dropped; 4 and 8 twice; 5 after 7 and 10 after 11.
	want := "1 2 4 4 7 5 8 8 11 10"
	var got []string
	for _, ev := range collect(t, ctx, s, 10) {
		p, err := ev.ChatPayload()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(seqIndex[decodeEvent(t, p.EncodedEvent).GetSequenceID()]))
	}
	if strings.Join(got, " ") != want {
		t.Fatalf("delivered %q, want %q", strings.Join(got, " "), want)
	}
	st := e.srv.RealtimeStats()
	if st.Dropped != 4 || st.Duplicated != 2 || st.Reordered != 2 || st.OpenStreams != 1 {
		t.Fatalf("stats %+v", st)
	}
	e.srv.SetStreamFaults(emulator.StreamFaults{})
	if n := e.srv.DisconnectStreams(); n != 1 {
		t.Fatalf("disconnected %d", n)
	}
	if again := <-connected; !again {
		t.Fatal("the client did not report a reconnection")
	}
	if s.Stats().Reconnects != 1 {
		t.Fatalf("client stats %+v", s.Stats())
	}
}

// TestWebhooks: registration runs a CRC against the receiver, deliveries
// arrive signed with both headers, replay re-posts retained events, and
// URLs that fail the checks are refused.
func TestWebhooks(t *testing.T) {
	e := newEnv(t)
	ctx := rtCtx(t)
	app, pr := e.app()
	recv, err := api.NewWebhookReceiver(api.WebhookOptions{ConsumerSecret: []byte(pr.ConsumerSecret), OAuth2ClientSecret: []byte(pr.ClientSecret)})
	if err != nil {
		t.Fatal(err)
	}
	var consumerSigs, oauth2Sigs atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			if r.Header.Get(api.HeaderWebhookSignature) != "" {
				consumerSigs.Add(1)
			}
			if r.Header.Get(api.HeaderWebhookSignatureOAuth2) != "" {
				oauth2Sigs.Add(1)
			}
		}
		recv.ServeHTTP(w, r)
	}))
	defer hook.Close()
	wrong := testutil.Must(api.NewWebhookReceiver(api.WebhookOptions{ConsumerSecret: []byte("not the secret")}))(t)
	wrongHook := httptest.NewServer(wrong)
	defer wrongHook.Close()

	_, _, err = app.CreateWebhook(ctx, wrongHook.URL+"/hook")
	if ae := wantStatus(t, err, 400, "CRC with the wrong secret"); !strings.Contains(ae.Problem.Detail, "CrcValidationFailed") {
		t.Errorf("problem %+v", ae.Problem)
	}
	_, _, err = app.CreateWebhook(ctx, "https://example.com/hook")
	if ae := wantStatus(t, err, 400, "remote url"); !strings.Contains(ae.Problem.Detail, "UrlValidationFailed") {
		t.Errorf("problem %+v", ae.Problem)
	}
	d := newKeyedDM(e)
	_, _, err = e.client(d.a.token).CreateWebhook(ctx, hook.URL+"/hook")
	wantStatus(t, err, 403, "user token")

	cw, _, err := app.CreateWebhook(ctx, hook.URL+"/hook")
	if err != nil || !cw.Data.Valid || cw.Data.ID == "" || recv.Stats().CRC != 1 {
		t.Fatalf("create %+v %v (receiver %+v)", cw, err, recv.Stats())
	}
	_, _, err = app.CreateWebhook(ctx, hook.URL+"/hook")
	wantStatus(t, err, 400, "duplicate url")
	lw, _, err := app.ListWebhooks(ctx)
	if err != nil || len(lw.Data) != 1 || lw.Meta.ResultCount != 1 || lw.Data[0].URL != hook.URL+"/hook" {
		t.Fatalf("list %+v %v", lw, err)
	}
	vw, _, err := app.ValidateWebhook(ctx, cw.Data.ID)
	if err != nil || !vw.Data.Valid || recv.Stats().CRC != 2 {
		t.Fatalf("validate %+v %v", vw, err)
	}

	req := sub(api.EventChatReceived, d.b.id)
	req.WebhookID = cw.Data.ID
	if _, _, err := e.client(d.b.token).CreateActivitySubscription(ctx, req); err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC()
	me := d.a.send(d.path, d.conv, d.kc, "by webhook")
	first := <-recv.Events()
	p, err := first.ChatPayload()
	if err != nil || decodeEvent(t, p.EncodedEvent).GetSequenceID() != me.GetSequenceID() || first.Filter.UserID != d.b.id {
		t.Fatalf("delivered %+v %v", first, err)
	}
	if consumerSigs.Load() != 1 || oauth2Sigs.Load() != 1 {
		t.Errorf("signature headers: %d consumer, %d oauth2", consumerSigs.Load(), oauth2Sigs.Load())
	}
	rj, _, err := app.ReplayWebhook(ctx, cw.Data.ID, start.Add(-time.Minute), time.Now().UTC())
	if err != nil || rj.Data.JobID == "" {
		t.Fatalf("replay %+v %v", rj, err)
	}
	again := <-recv.Events()
	if again.EventUUID != first.EventUUID {
		t.Fatalf("replayed %q, first %q", again.EventUUID, first.EventUUID)
	}
	_, _, err = app.ReplayWebhook(ctx, cw.Data.ID, start.Add(-48*time.Hour), start)
	wantStatus(t, err, 400, "replay beyond 24 hours")
	del, _, err := app.DeleteWebhook(ctx, cw.Data.ID)
	if err != nil || !del.Data.Deleted {
		t.Fatalf("delete %+v %v", del, err)
	}
	_, _, err = app.ValidateWebhook(ctx, cw.Data.ID)
	wantStatus(t, err, 404, "validate deleted")
	if st := recv.Stats(); st.Accepted != 2 || st.CRC != 2 || st.BadSignature != 0 {
		t.Errorf("receiver %+v", st)
	}
}

// TestActivityStreamShuttingDown: a stream opened after EndStreams is
// refused with the 503 resource-unavailable problem the document
// describes, resource_type included (its schema requires it).
func TestActivityStreamShuttingDown(t *testing.T) {
	e := newEnv(t)
	ctx := rtCtx(t)
	e.srv.EndStreams()
	req := testutil.Must(http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/2/activity/stream", nil))(t)
	req.Header.Set("Authorization", "Bearer "+app2token(e))
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p api.Problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || p.Type != api.ProblemResourceUnavailable || p.ResourceType != "service" {
		t.Fatalf("stream after shutdown: %d %+v", resp.StatusCode, p)
	}
}
