package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/exchange"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
)

// account is one emulator user with its engine and raw API client.
type account struct {
	id, token string
	c         *api.Client
	e         *session.Engine
}

type flow struct {
	t   *testing.T
	ctx context.Context
	url string
	hc  *http.Client
}

func (f *flow) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *flow) post(path, token, contentType string, body []byte, out any) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.ctx, "POST", f.url+path, bytes.NewReader(body))
	f.must(err)
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.hc.Do(req)
	f.must(err)
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		f.t.Fatalf("POST %s: status %d", path, resp.StatusCode)
	}
	f.must(json.NewDecoder(resp.Body).Decode(out))
}

func (f *flow) account(name string) *account {
	f.t.Helper()
	var u api.ProvisionUserResponse
	body := testutil.Must(json.Marshal(api.ProvisionUserRequest{Username: name}))(f.t)
	f.post(api.PathEmulatorUsers, "", "application/json", body, &u)
	c, err := api.New(api.WithBaseURL(f.url), api.WithBearerToken(u.AccessToken), api.WithHTTPClient(f.hc), api.WithMaxAttempts(1))
	f.must(err)
	store := keystore.NewMemory()
	f.must(session.CreateAccount(f.ctx, store, u.ID, nil))
	e, err := session.Open(f.ctx, store, session.NewAPIServer(c))
	f.must(err)
	f.t.Cleanup(func() { _ = e.Close() })
	_, err = e.Register(f.ctx)
	f.must(err)
	return &account{id: u.ID, token: u.AccessToken, c: c, e: e}
}

// runFlow drives every operation of the chat document through a
// spec-strict emulator, recording each exchange: the engine for the
// encrypted flows, the API client for the rest.
func runFlow(t *testing.T, rec *exchange.Recorder) {
	t.Helper()
	emu := emulator.New(emulator.WithRecorder(rec))
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); _ = emu.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	f := &flow{t: t, ctx: ctx, url: srv.URL, hc: srv.Client()}
	alice, bob, carol, dave := f.account("alice"), f.account("bob"), f.account("carol"), f.account("dave")
	f.chat(alice, bob, carol, dave)
	f.keysAndMedia(alice, bob, carol)
	f.legacyDMs(alice, bob, carol)
}

func (f *flow) chat(alice, bob, carol, dave *account) {
	ctx := f.ctx
	_, err := alice.e.SendText(ctx, bob.id, "hi bob, see https://x.com/xdevs/status/1580559079470145536 #xchat")
	f.must(err)
	_, err = bob.e.Sync(ctx, alice.id, nil)
	f.must(err)
	f.must(bob.e.Typing(ctx, alice.id))
	evs, _, err := bob.c.GetConversationEvents(ctx, alice.id, &api.ConversationEventsOptions{
		ChatMessageEventFields: api.ChatMessageEventFields, MaxResults: 5})
	f.must(err)
	if len(evs.Data) == 0 {
		f.t.Fatal("no events")
	}
	_, _, err = bob.c.MarkRead(ctx, alice.id, evs.Data[0].ID)
	f.must(err)
	gid, err := alice.e.CreateGroup(ctx, session.GroupOptions{Members: []string{bob.id, carol.id}, Title: "team"})
	f.must(err)
	f.must(alice.e.AddMembers(ctx, gid, dave.id))
	sent, err := carol.e.SendText(ctx, gid, "hello group")
	f.must(err)
	f.must(carol.e.DeleteMessages(ctx, gid, []string{sent.SequenceID}, true))
	_, err = alice.e.Rotate(ctx, gid)
	f.must(err)
	for _, u := range []*account{alice, bob, carol, dave} {
		_, err = u.e.SyncAll(ctx)
		f.must(err)
	}
	_, err = alice.e.RefreshConversations(ctx)
	f.must(err)
	_, _, err = alice.c.ListConversations(ctx, &api.ListConversationsOptions{
		ChatConversationFields: api.ChatConversationFields, Expansions: api.ChatConversationExpansions, UserFields: api.UserFields})
	f.must(err)
	_, _, err = alice.c.GetConversation(ctx, gid, &api.GetConversationOptions{
		ChatConversationFields: api.ChatConversationFields, Expansions: []string{"member_ids"}, UserFields: []string{"created_at", "username"}})
	f.must(err)
}

func (f *flow) keysAndMedia(alice, bob, carol *account) {
	ctx := f.ctx
	_, _, err := alice.c.GetUserPublicKeys(ctx, bob.id, nil)
	f.must(err)
	_, _, err = alice.c.GetUsersPublicKeys(ctx, []string{bob.id, carol.id}, api.PublicKeyFields)
	f.must(err)
	blob := bytes.Repeat([]byte{7}, 3000)
	up, err := alice.c.UploadMedia(ctx, bob.id, blob, 1024, "")
	f.must(err)
	got, _, err := bob.c.DownloadMedia(ctx, up.ConversationID, up.MediaHashKey)
	f.must(err)
	if !bytes.Equal(got, blob) {
		f.t.Fatal("media round trip")
	}
}

func (f *flow) legacyDMs(alice, bob, carol *account) {
	ctx := f.ctx
	one, _, err := alice.c.SendDmToParticipant(ctx, bob.id, &api.DmMessage{Text: "hello @bob #dm $XCH https://x.com/a/status/123"})
	f.must(err)
	var up emulator.DMMediaUpload
	f.post(emulator.PathEmulatorMedia, alice.token, "image/png", []byte("png"), &up)
	withMedia, _, err := alice.c.SendDmToConversation(ctx, one.DmConversationID, &api.DmMessage{Text: "a photo",
		Attachments: []api.DmAttachment{{MediaID: up.MediaID}}})
	f.must(err)
	group, _, err := alice.c.CreateDmConversation(ctx, &api.CreateDirectMessagesConversationRequest{
		ParticipantIDs: []string{bob.id, carol.id}, Message: api.DmMessage{Text: "group dm"}})
	f.must(err)
	opts := &api.DmEventsOptions{DmEventFields: api.DmEventFields, Expansions: api.DmEventExpansions,
		UserFields: []string{"username", "created_at"}, MediaFields: []string{"url", "type", "media_key"}, PostFields: []string{"text"}}
	_, _, err = bob.c.ListDmEvents(ctx, opts)
	partialOK(f, err)
	_, _, err = bob.c.ListDmConversationEvents(ctx, one.DmConversationID, opts)
	partialOK(f, err)
	_, _, err = carol.c.ListDmEventsWithParticipant(ctx, alice.id, nil)
	f.must(err)
	ev, _, err := bob.c.GetDmEvent(ctx, withMedia.DmEventID, &api.DmEventLookupOptions{DmEventFields: api.DmEventFields,
		Expansions: []string{"attachments.media_keys"}, MediaFields: []string{"url"}})
	f.must(err)
	if ev.Includes == nil || len(ev.Includes.Media) != 1 {
		f.t.Fatalf("media includes %+v", ev.Includes)
	}
	url := ev.Includes.Media[0].URL
	resource := url[strings.LastIndex(url, "/")+1:]
	b, _, err := bob.c.DownloadDmMedia(ctx, withMedia.DmEventID, up.MediaID, resource)
	f.must(err)
	if string(b) != "png" {
		f.t.Fatalf("dm media %q", b)
	}
	_, _, err = alice.c.DeleteDmEvent(ctx, group.DmEventID)
	f.must(err)
	_, _, err = bob.c.BlockDms(ctx, alice.id)
	f.must(err)
	_, _, err = bob.c.UnblockDms(ctx, alice.id)
	f.must(err)
}

// partialOK accepts a *api.PartialError: the emulator holds no posts, so a
// referenced_posts expansion is answered with resource-not-found problems.
func partialOK(f *flow, err error) {
	f.t.Helper()
	var pe *api.PartialError
	if err != nil && !errorsAs(err, &pe) {
		f.t.Fatal(err)
	}
}

func errorsAs(err error, target **api.PartialError) bool {
	pe, ok := err.(*api.PartialError)
	if ok {
		*target = pe
	}
	return ok
}
