package emulator_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
	"golang.org/x/oauth2"
)

// chatFixture is two users with a keyed 1:1 conversation and one message.
type chatFixture struct {
	e      *env
	a, b   *user
	conv   string // event form
	hyphen string
	kc     keyChange
}

func newChatFixture(t testing.TB, opts ...emulator.Option) *chatFixture {
	e := newEnv(t, opts...)
	a, b := e.newUser("alice"), e.newUser("bob")
	conv := convKey1to1(a, b)
	kc := a.prepareKeyChange(conv, "1000", a, b)
	e.must(e.do("POST", "/2/chat/conversations/"+b.id+"/keys", a.token, api.AddConversationKeysRequest{
		ConversationKeyVersion: kc.version, ConversationParticipantKeys: kc.keys, ActionSignatures: []api.ActionSignature{kc.action}}), http.StatusOK)
	return &chatFixture{e: e, a: a, b: b, conv: conv, hyphen: strings.Replace(conv, ":", "-", 1), kc: kc}
}

func TestBadInput(t *testing.T) {
	f := newChatFixture(t)
	e, a, b := f.e, f.a, f.b
	seed := a.send(b.id, f.conv, f.kc, "seed")
	good := a.sendBody(f.conv, f.kc, "x")
	mutate := func(fn func(*api.SendChatMessageRequest)) api.SendChatMessageRequest {
		r := a.sendBody(f.conv, f.kc, "y")
		fn(&r)
		return r
	}
	other := b.sendBody(f.conv, f.kc, "signed by bob") // valid for bob, forged for alice
	big := strings.Repeat("A", emulator.DefaultMaxBodyBytes+10)
	stale := a.prepareKeyChange(f.conv, "999", a, b)
	fresh := a.prepareKeyChange(f.conv, "3000", a, b)
	forgedVersion := fresh.action
	forgedVersion.MessageEventSignature.PublicKeyVersion = "1"
	msgs := "/2/chat/conversations/" + b.id + "/messages"
	cases := []struct {
		name   string
		path   string
		body   any // string = raw
		status int
	}{
		{"malformed json", msgs, `{"message_id":`, 400},
		{"not an object", msgs, `["x"]`, 400},
		{"empty body", msgs, ``, 400},
		{"trailing data", msgs, `{"message_id":"a","encoded_message_create_event":"AA=="} {}`, 400},
		{"wrong type", msgs, `{"message_id":5,"encoded_message_create_event":"AA=="}`, 400},
		{"oversized", msgs, `{"message_id":"` + big + `"}`, 413},
		{"missing create event", msgs, mutate(func(r *api.SendChatMessageRequest) { r.EncodedMessageCreateEvent = "" }), 400},
		{"bad base64", msgs, mutate(func(r *api.SendChatMessageRequest) { r.EncodedMessageCreateEvent = "!!!" }), 400},
		{"not thrift", msgs, mutate(func(r *api.SendChatMessageRequest) { r.EncodedMessageCreateEvent = "/////w==" }), 400},
		{"comma in message id", msgs, mutate(func(r *api.SendChatMessageRequest) { r.MessageID = "a,b" }), 400},
		{"missing signature", msgs, mutate(func(r *api.SendChatMessageRequest) { r.EncodedMessageEventSignature = "" }), 400},
		{"forged signature", msgs, mutate(func(r *api.SendChatMessageRequest) {
			r.EncodedMessageEventSignature = other.EncodedMessageEventSignature
		}), 400},
		{"signature of other content", msgs, mutate(func(r *api.SendChatMessageRequest) { r.EncodedMessageCreateEvent = good.EncodedMessageCreateEvent }), 400},
		{"bad conversation id", "/2/chat/conversations/abc/messages", good, 400},
		{"unknown recipient", "/2/chat/conversations/42/messages", good, 404},
		{"self conversation", "/2/chat/conversations/" + a.id + "/messages", good, 400},
		{"unknown group", "/2/chat/conversations/g123/messages", good, 404},
		{"keys: stale version", "/2/chat/conversations/" + b.id + "/keys", api.AddConversationKeysRequest{ConversationKeyVersion: "999",
			ConversationParticipantKeys: stale.keys, ActionSignatures: []api.ActionSignature{stale.action}}, 400},
		{"keys: signed version differs", "/2/chat/conversations/" + b.id + "/keys", api.AddConversationKeysRequest{ConversationKeyVersion: "3001",
			ConversationParticipantKeys: fresh.keys, ActionSignatures: []api.ActionSignature{fresh.action}}, 400},
		{"keys: no signatures", "/2/chat/conversations/" + b.id + "/keys", api.AddConversationKeysRequest{ConversationKeyVersion: "3000",
			ConversationParticipantKeys: f.kc.keys}, 400},
		{"keys: missing participant", "/2/chat/conversations/" + b.id + "/keys", api.AddConversationKeysRequest{ConversationKeyVersion: "3000",
			ConversationParticipantKeys: fresh.keys[:1], ActionSignatures: []api.ActionSignature{fresh.action}}, 400},
		{"keys: forged signer key version", "/2/chat/conversations/" + b.id + "/keys", api.AddConversationKeysRequest{ConversationKeyVersion: "3000",
			ConversationParticipantKeys: fresh.keys, ActionSignatures: []api.ActionSignature{forgedVersion}}, 400},
		{"keys: non-numeric version", "/2/chat/conversations/" + b.id + "/keys", `{"conversation_key_version":"v1"}`, 400},
		{"read: bad sequence id", "/2/chat/conversations/" + b.id + "/read", `{"seen_until_sequence_id":"x"}`, 400},
		{"read: wrong type", "/2/chat/conversations/" + b.id + "/read", `{"seen_until_sequence_id":12}`, 400},
		{"delete: bad action", "/2/chat/conversations/" + b.id + "/messages/delete", `{"sequence_ids":["1"],"delete_message_action":"nuke","action_signatures":[]}`, 400},
		{"delete: no signature", "/2/chat/conversations/" + b.id + "/messages/delete", api.DeleteChatMessagesRequest{SequenceIDs: []string{seed.GetSequenceID()}, DeleteMessageAction: api.DeleteForAll}, 400},
		{"group: unknown id", "/2/chat/conversations/group", `{"conversation_id":"g1","conversation_key_version":"1","conversation_participant_keys":[],"group_members":[]}`, 404},
		{"group: bad id", "/2/chat/conversations/group", `{"conversation_id":"123"}`, 400},
		{"members: not a group", "/2/chat/conversations/" + b.id + "/members", `{"user_ids":["1"]}`, 400},
		{"media: unknown field", "/2/chat/media/upload/initialize", `{"conversation_id":"` + f.hyphen + `","total_bytes":10,"x":1}`, 400},
		{"media: negative size", "/2/chat/media/upload/initialize", `{"conversation_id":"` + f.hyphen + `","total_bytes":-1}`, 400},
		{"media: float size", "/2/chat/media/upload/initialize", `{"conversation_id":"` + f.hyphen + `","total_bytes":1.5}`, 400},
		{"media: unknown session", "/2/chat/media/upload/77/append", `{"conversation_id":"` + f.hyphen + `","media_hash_key":"a","segment_index":0,"media":"AA=="}`, 404},
		{"keys registration: not json", "/2/users/" + a.id + "/public_keys", `nope`, 400},
		{"dm: empty message", "/2/dm_conversations/with/" + b.id + "/messages", `{}`, 400},
		{"dm: unknown field", "/2/dm_conversations/with/" + b.id + "/messages", `{"text":"x","y":1}`, 400},
		{"dm group: too few", "/2/dm_conversations", `{"conversation_type":"Group","participant_ids":["` + b.id + `"],"message":{"text":"x"}}`, 400},
	}
	before, _ := a.events(b.id)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r resp
			if s, ok := tc.body.(string); ok {
				r = e.raw("POST", tc.path, a.token, "application/json", []byte(s))
			} else {
				r = e.do("POST", tc.path, a.token, tc.body)
			}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			p := r.problem(t)
			if p.Type == "" || p.Title == "" || p.Status != tc.status || !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("not a problem document: %s", r.body)
			}
		})
	}
	after, _ := a.events(b.id)
	if len(after) != len(before) {
		t.Fatalf("bad input changed state: %d events, then %d", len(before), len(after))
	}
	var dms api.GetDmEventsResponse
	e.must(e.do("GET", "/2/dm_events", a.token, nil), http.StatusOK).decode(t, &dms)
	if len(dms.Data) != 0 {
		t.Fatal("bad DM input stored events")
	}
}

func TestPagination(t *testing.T) {
	f := newChatFixture(t)
	e, a, b := f.e, f.a, f.b
	var sent []string
	for i := range 25 {
		sent = append(sent, a.send(b.id, f.conv, f.kc, fmt.Sprint("m", i)).GetSequenceID())
	}
	var seen []string
	token := ""
	pages := 0
	for {
		q := "?max_results=10"
		if token != "" {
			q += "&pagination_token=" + url.QueryEscape(token)
		}
		var out api.GetChatConversationEventsResponse
		r := e.must(e.do("GET", "/2/chat/conversations/"+f.hyphen+"/events"+q, b.token, nil), http.StatusOK)
		if cl := r.header.Get("Content-Length"); cl != strconv.Itoa(len(r.body)) {
			t.Fatalf("Content-Length %q for a body of %d bytes", cl, len(r.body))
		}
		r.decode(t, &out)
		pages++
		if out.Meta.ResultCount != len(out.Data) {
			t.Fatalf("result_count %d for %d items", out.Meta.ResultCount, len(out.Data))
		}
		for _, ev := range out.Data {
			seen = append(seen, ev.ID)
		}
		if pages == 1 && len(out.Meta.ConversationKeyEvents) != 1 {
			t.Fatalf("first page key events: %d", len(out.Meta.ConversationKeyEvents))
		}
		if !out.Meta.HasMore {
			if out.Meta.NextToken != "" {
				t.Fatal("next_token without has_more")
			}
			break
		}
		token = out.Meta.NextToken
	}
	if pages != 3 || len(seen) != 25 {
		t.Fatalf("%d pages, %d events", pages, len(seen))
	}
	for i, id := range seen { // newest first
		if id != sent[len(sent)-1-i] {
			t.Fatalf("order: position %d has %s, want %s", i, id, sent[len(sent)-1-i])
		}
	}
	for _, q := range []string{"max_results=0", "max_results=101", "max_results=x", "pagination_token=bogus", "chat_message_event.fields=nope"} {
		e.must(e.do("GET", "/2/chat/conversations/"+f.hyphen+"/events?"+q, b.token, nil), http.StatusBadRequest)
	}
	// Field selection keeps id and drops the rest.
	var out api.GetChatConversationEventsResponse
	e.must(e.do("GET", "/2/chat/conversations/"+f.hyphen+"/events?max_results=1&chat_message_event.fields=sender_id", b.token, nil), http.StatusOK).decode(t, &out)
	if len(out.Data) != 1 || out.Data[0].ID == "" || out.Data[0].SenderID != a.id || out.Data[0].EncodedEvent != "" {
		t.Fatalf("fields: %+v", out.Data)
	}
}

func TestPersistence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.db")
	f := newChatFixture(t, emulator.WithDataFile(file))
	first := f.a.send(f.b.id, f.conv, f.kc, "kept")
	before, keys := f.b.events(f.a.id)
	f.e.ts.Close()
	if err := f.e.srv.Close(); err != nil {
		t.Fatal(err)
	}

	e2 := newEnv(t, emulator.WithDataFile(file))
	a, b := *f.a, *f.b
	a.e, b.e = e2, e2
	after, keys2 := b.events(a.id)
	if len(after) != len(before) || after[0].EncodedEvent != before[0].EncodedEvent || len(keys2) != len(keys) {
		t.Fatalf("state not restored: %d/%d events", len(after), len(before))
	}
	// Tokens, keys and idempotency survive; new ids keep growing.
	second := a.send(b.id, f.conv, f.kc, "after restart")
	if compare(t, second.GetSequenceID(), first.GetSequenceID()) <= 0 || second.GetPreviousSequenceID() != first.GetSequenceID() {
		t.Fatalf("sequence after restart: %s after %s", second.GetSequenceID(), first.GetSequenceID())
	}
	var users struct{ Data []emulator.ProvisionedUser }
	e2.must(e2.do("GET", "/emulator/v1/users", "", nil), http.StatusOK).decode(t, &users)
	if len(users.Data) != 2 {
		t.Fatalf("users %+v", users.Data)
	}
	// A second server cannot open the same file while it is in use.
	if _, err := emulator.Open(emulator.WithDataFile(file)); err == nil {
		t.Fatal("data file opened twice")
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, emulator.WithRateLimit(3, time.Minute), emulator.WithOperationRateLimit("getChatConversations", 2, time.Minute))
	a := e.provision("alice")
	e.must(e.do("GET", "/2/users/"+a.id+"/public_keys", a.token, nil), http.StatusOK)
	for i := range 2 {
		r := e.must(e.do("GET", "/2/chat/conversations", a.token, nil), http.StatusOK)
		if got := r.header.Get("x-rate-limit-remaining"); got != strconv.Itoa(1-i) {
			t.Fatalf("remaining %q", got)
		}
	}
	r := e.must(e.do("GET", "/2/chat/conversations", a.token, nil), http.StatusTooManyRequests)
	reset, err := strconv.ParseInt(r.header.Get("x-rate-limit-reset"), 10, 64)
	if err != nil || reset < time.Now().Unix() || r.header.Get("x-rate-limit-limit") != "2" || r.header.Get("x-rate-limit-remaining") != "0" {
		t.Fatalf("429 headers %v", r.header)
	}
	var le api.LegacyError
	if r.decode(t, &le); le.Code != 88 || le.Message == "" {
		t.Fatalf("429 body %s", r.body)
	}
	// Limits are per operation and per user.
	e.must(e.do("GET", "/2/users/"+a.id+"/public_keys", a.token, nil), http.StatusOK)
	b := e.provision("bob")
	e.must(e.do("GET", "/2/chat/conversations", b.token, nil), http.StatusOK)
}

func TestOAuthPKCE(t *testing.T) {
	e := newEnv(t, emulator.WithAccessTokenTTL(time.Hour))
	a := e.provision("alice")
	conf := &oauth2.Config{
		ClientID:    "test-app",
		Endpoint:    oauth2.Endpoint{AuthURL: e.ts.URL + "/i/oauth2/authorize", TokenURL: e.ts.URL + "/2/oauth2/token"},
		RedirectURL: "http://127.0.0.1:9/callback",
		Scopes:      []string{"tweet.read", "users.read", "dm.read", "dm.write", "offline.access"},
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authorize := func(verifier string) string {
		t.Helper()
		u := conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier)) + "&emulator_user=" + a.id
		res, err := noFollow.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusFound {
			t.Fatalf("authorize status %d", res.StatusCode)
		}
		loc, err := url.Parse(res.Header.Get("Location"))
		if err != nil || loc.Query().Get("state") != "st4te" || loc.Query().Get("code") == "" {
			t.Fatalf("redirect %v", res.Header.Get("Location"))
		}
		return loc.Query().Get("code")
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.ts.Client())
	verifier := oauth2.GenerateVerifier()

	// Wrong verifier: rejected, and the code is burnt.
	code := authorize(verifier)
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatal("wrong code_verifier accepted")
	}
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("authorization code reused")
	}
	// No verifier at all: rejected.
	if _, err := conf.Exchange(ctx, authorize(verifier)); err == nil {
		t.Fatal("missing code_verifier accepted")
	}

	tok, err := conf.Exchange(ctx, authorize(verifier), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || !tok.Valid() {
		t.Fatalf("token %+v", tok)
	}
	var me struct{ Data api.User }
	e.must(e.do("GET", "/2/users/me", tok.AccessToken, nil), http.StatusOK).decode(t, &me)
	if me.Data.ID != a.id {
		t.Fatalf("me = %+v", me.Data)
	}
	// Granted scopes are enforced: no media.write.
	e.must(e.do("POST", "/2/chat/media/upload/initialize", tok.AccessToken, map[string]any{}), http.StatusForbidden)

	// Refresh rotates the refresh token; the old one stops working.
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	fresh, err := conf.TokenSource(ctx, &expired).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Fatal("refresh did not rotate")
	}
	if _, err := conf.TokenSource(ctx, &expired).Token(); err == nil {
		t.Fatal("rotated-out refresh token still works")
	}
	e.must(e.do("GET", "/2/users/me", fresh.AccessToken, nil), http.StatusOK)

	// Without offline.access there is no refresh token.
	conf.Scopes = []string{"tweet.read", "users.read"}
	tok2, err := conf.Exchange(ctx, authorize(verifier), oauth2.VerifierOption(verifier))
	if err != nil || tok2.RefreshToken != "" {
		t.Fatalf("token %+v, %v", tok2, err)
	}
	// Authorization request errors.
	res, err := noFollow.Get(e.ts.URL + "/i/oauth2/authorize?response_type=code&client_id=x&redirect_uri=https://evil.example/cb&code_challenge=abc")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("non-loopback redirect: %d", res.StatusCode)
	}
	res, err = noFollow.Get(e.ts.URL + "/i/oauth2/authorize?response_type=code&client_id=x&redirect_uri=http://127.0.0.1/cb&scope=dm.read&emulator_user=" + a.id)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := testutil.Must(url.Parse(res.Header.Get("Location")))(t); res.StatusCode != http.StatusFound || loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("missing PKCE challenge: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestMedia(t *testing.T) {
	f := newChatFixture(t)
	e, a, b := f.e, f.a, f.b
	blob := make([]byte, 3000)
	_, _ = rand.Read(blob)
	var ini api.ChatMediaUploadInitializeResponse
	e.must(e.do("POST", "/2/chat/media/upload/initialize", a.token, map[string]any{"conversation_id": f.conv, "total_bytes": len(blob)}), http.StatusOK).decode(t, &ini)
	d := ini.Data
	if d.SessionID == "" || d.MediaHashKey == "" || d.ConversationID != f.hyphen {
		t.Fatalf("initialize %+v", d)
	}
	appendPath := "/2/chat/media/upload/" + d.SessionID + "/append"
	// segment_index is an integer in JSON bodies (the specification; a
	// string is refused), a text field in multipart ones.
	e.must(e.do("POST", appendPath, a.token, map[string]any{"conversation_id": f.conv, "media_hash_key": d.MediaHashKey,
		"segment_index": "0", "media": blob[:2000]}), http.StatusBadRequest)
	e.must(e.do("POST", appendPath, a.token, map[string]any{"conversation_id": f.conv, "media_hash_key": d.MediaHashKey,
		"segment_index": 0, "media": blob[:2000]}), http.StatusOK)
	// Finalizing early fails and keeps the session.
	fin := map[string]any{"conversation_id": f.hyphen, "media_hash_key": d.MediaHashKey, "num_parts": "2"}
	e.must(e.do("POST", "/2/chat/media/upload/"+d.SessionID+"/finalize", a.token, fin), http.StatusBadRequest)
	// Segment 1 as multipart with raw bytes.
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	_ = w.WriteField("conversation_id", f.hyphen)
	_ = w.WriteField("media_hash_key", d.MediaHashKey)
	_ = w.WriteField("segment_index", "1")
	fw := testutil.Must(w.CreateFormFile("media", "blob"))(t)
	_, _ = fw.Write(blob[2000:])
	_ = w.Close()
	e.must(e.raw("POST", appendPath, a.token, w.FormDataContentType(), mp.Bytes()), http.StatusOK)
	// Bob cannot append to alice's session; too many bytes are refused.
	e.must(e.do("POST", appendPath, b.token, map[string]any{"conversation_id": f.hyphen, "media_hash_key": d.MediaHashKey, "segment_index": 2, "media": []byte{1}}), http.StatusNotFound)
	e.must(e.do("POST", appendPath, a.token, map[string]any{"conversation_id": f.hyphen, "media_hash_key": d.MediaHashKey, "segment_index": 2, "media": []byte{1}}), http.StatusBadRequest)
	e.must(e.do("POST", "/2/chat/media/upload/"+d.SessionID+"/finalize", a.token, fin), http.StatusOK)
	r := e.must(e.do("GET", "/2/chat/media/"+a.id+"/"+d.MediaHashKey, b.token, nil), http.StatusOK)
	if !bytes.Equal(r.body, blob) || r.header.Get("Content-Type") != "application/octet-stream" {
		t.Fatal("downloaded bytes differ")
	}
	c := e.newUser("carol")
	e.must(e.do("GET", "/2/chat/media/"+f.hyphen+"/"+d.MediaHashKey, c.token, nil), http.StatusForbidden)
	e.must(e.do("GET", "/2/chat/media/"+f.hyphen+"/nothere", a.token, nil), http.StatusNotFound)
	e.must(e.do("GET", "/2/chat/media/"+f.hyphen+"/bad-key!", a.token, nil), http.StatusBadRequest)
}

func TestLegacyDM(t *testing.T) {
	e := newEnv(t)
	a, b, c := e.provision("alice"), e.provision("bob"), e.provision("carol")
	var cr api.DmCreateResponse
	e.must(e.do("POST", "/2/dm_conversations/with/"+b.id+"/messages", a.token, api.DmMessage{Text: "hi bob"}), http.StatusCreated).decode(t, &cr)
	conv := cr.Data.DmConversationID
	if !strings.Contains(conv, "-") || cr.Data.DmEventID == "" {
		t.Fatalf("create %+v", cr.Data)
	}
	// Media must have been uploaded by the sender (seed 004).
	e.must(e.do("POST", "/2/dm_conversations/"+conv+"/messages", b.token, api.DmMessage{Text: "hi alice", Attachments: []api.DmAttachment{{MediaID: "123"}}}), http.StatusBadRequest)
	var up emulator.DMMediaUpload
	e.must(e.raw("POST", emulator.PathEmulatorMedia, b.token, "image/png", []byte("png bytes")), http.StatusCreated).decode(t, &up)
	e.must(e.do("POST", "/2/dm_conversations/"+conv+"/messages", a.token, api.DmMessage{Text: "not mine", Attachments: []api.DmAttachment{{MediaID: up.MediaID}}}), http.StatusBadRequest)
	var withMedia api.DmCreateResponse
	e.must(e.do("POST", "/2/dm_conversations/"+conv+"/messages", b.token, api.DmMessage{Text: "hi alice", Attachments: []api.DmAttachment{{MediaID: up.MediaID}}}), http.StatusCreated).decode(t, &withMedia)
	dl := e.must(e.do("GET", "/2/dm_conversations/media/"+withMedia.Data.DmEventID+"/"+up.MediaID+"/"+up.ResourceID, a.token, nil), http.StatusOK)
	if string(dl.body) != "png bytes" {
		t.Fatalf("dm media %q", dl.body)
	}
	e.must(e.do("GET", "/2/dm_conversations/media/"+withMedia.Data.DmEventID+"/"+up.MediaID+"/"+up.ResourceID, c.token, nil), http.StatusNotFound)
	var inc api.GetDmEventResponse
	e.must(e.do("GET", "/2/dm_events/"+withMedia.Data.DmEventID+"?expansions=attachments.media_keys&media.fields=url", a.token, nil), http.StatusOK).decode(t, &inc)
	if inc.Includes == nil || len(inc.Includes.Media) != 1 || !strings.HasSuffix(inc.Includes.Media[0].URL, "/"+up.ResourceID) {
		t.Fatalf("media includes %+v", inc.Includes)
	}
	e.must(e.do("POST", "/2/dm_conversations/"+conv+"/messages", c.token, api.DmMessage{Text: "intruder"}), http.StatusForbidden)
	var g api.DmCreateResponse
	e.must(e.do("POST", "/2/dm_conversations", a.token, api.CreateDirectMessagesConversationRequest{ConversationType: "Group",
		ParticipantIDs: []string{b.id, c.id}, Message: api.DmMessage{Text: "group hello"}}), http.StatusCreated).decode(t, &g)

	var list api.GetDmEventsResponse
	e.must(e.do("GET", "/2/dm_conversations/"+conv+"/dm_events?dm_event.fields=id,text,attachments", a.token, nil), http.StatusOK).decode(t, &list)
	if len(list.Data) != 2 || list.Data[0].Text != "hi alice" || list.Data[0].Attachments == nil {
		t.Fatalf("events %+v", list.Data)
	}
	e.must(e.do("GET", "/2/dm_conversations/with/"+a.id+"/dm_events", b.token, nil), http.StatusOK).decode(t, &list)
	if len(list.Data) != 2 {
		t.Fatalf("by participant %+v", list.Data)
	}
	e.must(e.do("GET", "/2/dm_events?event_types=ParticipantsJoin&expansions=participant_ids", c.token, nil), http.StatusOK).decode(t, &list)
	if len(list.Data) != 1 || list.Data[0].EventType != "ParticipantsJoin" || list.Includes == nil || len(list.Includes.Users) != 3 {
		t.Fatalf("join events %+v", list)
	}
	e.must(e.do("GET", "/2/dm_events?max_results=1", a.token, nil), http.StatusOK).decode(t, &list)
	if list.Meta.NextToken == "" || len(list.Meta.NextToken) < 16 {
		t.Fatalf("next_token %q", list.Meta.NextToken)
	}
	var next api.GetDmEventsResponse
	e.must(e.do("GET", "/2/dm_events?max_results=1&pagination_token="+list.Meta.NextToken, a.token, nil), http.StatusOK).decode(t, &next)
	if len(next.Data) != 1 || next.Data[0].ID == list.Data[0].ID {
		t.Fatalf("second page %+v", next.Data)
	}
	var one api.GetDmEventResponse
	e.must(e.do("GET", "/2/dm_events/"+cr.Data.DmEventID+"?expansions=sender_id", b.token, nil), http.StatusOK).decode(t, &one)
	if one.Data.Text != "hi bob" || one.Data.SenderID != a.id {
		t.Fatalf("event %+v", one.Data)
	}
	e.must(e.do("GET", "/2/dm_events/"+cr.Data.DmEventID, c.token, nil), http.StatusNotFound)
	e.must(e.do("DELETE", "/2/dm_events/"+cr.Data.DmEventID, b.token, nil), http.StatusForbidden)
	e.must(e.do("DELETE", "/2/dm_events/"+cr.Data.DmEventID, a.token, nil), http.StatusOK)
	e.must(e.do("GET", "/2/dm_events/"+cr.Data.DmEventID, a.token, nil), http.StatusNotFound)
	e.must(e.do("GET", "/2/dm_conversations/media/"+g.Data.DmEventID+"/1/x", c.token, nil), http.StatusNotFound)

	// Blocking: bob blocks alice; alice cannot DM bob until unblocked.
	var bl api.DmBlockResponse
	e.must(e.do("POST", "/2/users/"+a.id+"/dm/block", b.token, nil), http.StatusOK).decode(t, &bl)
	if !bl.Data.Blocked {
		t.Fatal("not blocked")
	}
	e.must(e.do("POST", "/2/dm_conversations/with/"+b.id+"/messages", a.token, api.DmMessage{Text: "blocked?"}), http.StatusForbidden)
	e.must(e.do("POST", "/2/users/"+a.id+"/dm/unblock", b.token, nil), http.StatusOK).decode(t, &bl)
	if bl.Data.Blocked {
		t.Fatal("still blocked")
	}
	e.must(e.do("POST", "/2/dm_conversations/with/"+b.id+"/messages", a.token, api.DmMessage{Text: "unblocked"}), http.StatusCreated)
	e.must(e.do("POST", "/2/users/"+b.id+"/dm/block", b.token, nil), http.StatusBadRequest)
}

func TestConcurrentSends(t *testing.T) {
	f := newChatFixture(t)
	bodies := make([]api.SendChatMessageRequest, 20)
	for i := range bodies {
		bodies[i] = f.a.sendBody(f.conv, f.kc, fmt.Sprint(i))
	}
	errc := make(chan error, 2*len(bodies))
	for i := range bodies {
		for range 2 { // each message twice, concurrently: still stored once
			go func() {
				raw, err := json.Marshal(bodies[i])
				if err != nil {
					errc <- err
					return
				}
				req, err := http.NewRequest("POST", f.e.ts.URL+"/2/chat/conversations/"+f.b.id+"/messages", bytes.NewReader(raw))
				if err != nil {
					errc <- err
					return
				}
				req.Header.Set("Authorization", "Bearer "+f.a.token)
				req.Header.Set("Content-Type", "application/json")
				res, err := f.e.ts.Client().Do(req)
				if err == nil {
					res.Body.Close()
					if res.StatusCode != http.StatusCreated {
						err = fmt.Errorf("status %d", res.StatusCode)
					}
				}
				errc <- err
			}()
		}
	}
	for range 2 * len(bodies) {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	evs, _ := f.b.events(f.a.id)
	if len(evs) != len(bodies) {
		t.Fatalf("%d events for %d messages", len(evs), len(bodies))
	}
	for i := 1; i < len(evs); i++ {
		if decodeEvent(t, evs[i-1].EncodedEvent).GetPreviousSequenceID() != evs[i].ID {
			t.Fatal("previous_sequence_id chain broken")
		}
	}
}

func TestInjectedClockAndIDs(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	next := uint64(1000)
	e := newEnv(t, emulator.WithClock(func() time.Time { return now }),
		emulator.WithIDSource(func() uint64 { next++; return next }))
	a, b := e.newUser("alice"), e.newUser("bob")
	if a.id != "1001" || b.id != "1002" {
		t.Fatalf("ids %s %s", a.id, b.id)
	}
	if a.keyVersion != strconv.FormatInt(now.UnixMilli(), 10) {
		t.Fatalf("generated key version %s", a.keyVersion)
	}
	conv := convKey1to1(a, b)
	kc := a.prepareKeyChange(conv, "1", a, b)
	e.must(e.do("POST", "/2/chat/conversations/"+b.id+"/keys", a.token, api.AddConversationKeysRequest{
		ConversationKeyVersion: kc.version, ConversationParticipantKeys: kc.keys, ActionSignatures: []api.ActionSignature{kc.action}}), http.StatusOK)
	m := a.send(b.id, conv, kc, "x")
	if m.GetSequenceID() != "1004" || m.GetPreviousSequenceID() != "1003" || m.GetCreatedAtMsec() != strconv.FormatInt(now.UnixMilli(), 10) {
		t.Fatalf("envelope %+v", m)
	}
}

func TestOAuthConfidentialClient(t *testing.T) {
	e := newEnv(t, emulator.WithOAuthClient("app", "s3cret", "http://127.0.0.1:9/cb"))
	a := e.provision("alice")
	conf := &oauth2.Config{ClientID: "app", ClientSecret: "wrong", RedirectURL: "http://127.0.0.1:9/cb", Scopes: []string{"users.read"},
		Endpoint: oauth2.Endpoint{AuthURL: e.ts.URL + "/i/oauth2/authorize", TokenURL: e.ts.URL + "/2/oauth2/token"}}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	code := func(c *oauth2.Config, v string) string {
		res, err := noFollow.Get(c.AuthCodeURL("s", oauth2.S256ChallengeOption(v)) + "&emulator_user=" + a.id)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc, err := url.Parse(res.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return loc.Query().Get("code")
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.ts.Client())
	v := oauth2.GenerateVerifier()
	if _, err := conf.Exchange(ctx, code(conf, v), oauth2.VerifierOption(v)); err == nil {
		t.Fatal("wrong client secret accepted")
	}
	conf.ClientSecret = "s3cret"
	if _, err := conf.Exchange(ctx, code(conf, v), oauth2.VerifierOption(v)); err != nil {
		t.Fatal(err)
	}
	// Unregistered redirect URIs are refused before any redirect.
	other := *conf
	other.RedirectURL = "http://127.0.0.1:9/other"
	res, err := noFollow.Get(other.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("unregistered redirect: %d", res.StatusCode)
	}
}
