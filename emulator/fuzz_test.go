package emulator_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
)

// FuzzHandlers throws hostile bodies at every POST endpoint of a populated
// emulator and requires an answer below 500 (a recovered panic answers 500).
func FuzzHandlers(f *testing.F) {
	fx := newChatFixture(f)
	e, a, b := fx.e, fx.a, fx.b
	m := a.send(b.id, fx.conv, fx.kc, "seed")
	var ini api.InitializeChatGroupResponse
	e.must(e.do("POST", "/2/chat/conversations/group/initialize", a.token, nil), http.StatusOK).decode(f, &ini)
	var media api.ChatMediaUploadInitializeResponse
	e.must(e.do("POST", "/2/chat/media/upload/initialize", a.token, map[string]any{"conversation_id": fx.hyphen, "total_bytes": 100}), http.StatusOK).decode(f, &media)
	sid := media.Data.SessionID
	paths := []string{
		"/2/chat/conversations/" + b.id + "/messages",
		"/2/chat/conversations/" + fx.hyphen + "/keys",
		"/2/chat/conversations/group",
		"/2/chat/conversations/group/initialize",
		"/2/chat/conversations/" + ini.Data.ConversationID + "/members",
		"/2/chat/conversations/" + fx.hyphen + "/messages/delete",
		"/2/chat/conversations/" + b.id + "/read",
		"/2/chat/conversations/" + b.id + "/typing",
		"/2/chat/media/upload/initialize",
		"/2/chat/media/upload/" + sid + "/append",
		"/2/chat/media/upload/" + sid + "/finalize",
		"/2/users/" + a.id + "/public_keys",
		"/2/dm_conversations",
		"/2/dm_conversations/with/" + b.id + "/messages",
		"/2/dm_conversations/" + fx.hyphen + "/messages",
		"/2/users/" + b.id + "/dm/block",
		"/emulator/v1/users",
		"/2/oauth2/token",
	}
	seeds := []any{
		a.sendBody(fx.conv, fx.kc, "fuzz"),
		api.AddConversationKeysRequest{ConversationKeyVersion: "5000", ConversationParticipantKeys: fx.kc.keys, ActionSignatures: []api.ActionSignature{fx.kc.action}},
		api.CreateChatConversationRequest{ConversationID: ini.Data.ConversationID, ConversationKeyVersion: "1", GroupMembers: []string{b.id}, ConversationParticipantKeys: fx.kc.keys, ActionSignatures: []api.ActionSignature{fx.kc.action}},
		map[string]any{},
		api.AddChatGroupMembersRequest{UserIDs: []string{b.id}, ConversationKeyVersion: "9", ActionSignatures: []api.ActionSignature{fx.kc.action}},
		api.DeleteChatMessagesRequest{SequenceIDs: []string{m.GetSequenceID()}, DeleteMessageAction: api.DeleteForAll, ActionSignatures: []api.ActionSignature{fx.kc.action}},
		api.MarkChatConversationReadRequest{SeenUntilSequenceID: m.GetSequenceID()},
		nil,
		map[string]any{"conversation_id": fx.conv, "total_bytes": 10},
		map[string]any{"conversation_id": fx.conv, "media_hash_key": media.Data.MediaHashKey, "segment_index": 0, "media": "AAAA"},
		map[string]any{"conversation_id": fx.conv, "media_hash_key": media.Data.MediaHashKey, "num_parts": "1"},
		api.AddUserPublicKeyRequest{Version: "1", PublicKey: api.PublicKeyRegistration{PublicKey: "AAAA"}},
		api.CreateDirectMessagesConversationRequest{ConversationType: "Group", ParticipantIDs: []string{b.id, a.id}, Message: api.DmMessage{Text: "x"}},
		api.DmMessage{Text: "x"},
		api.DmMessage{Text: "y"},
		nil,
		map[string]string{"username": "fuzzer"},
		nil,
	}
	for i, s := range seeds {
		var body []byte
		if s != nil {
			body = testutil.Must(json.Marshal(s))(f)
		}
		f.Add(uint8(i), body)
	}
	f.Add(uint8(0), []byte(`{"message_id":"x","encoded_message_create_event":"ZGRkZA==","encoded_message_event_signature":"AAAA"}`))
	f.Add(uint8(2), []byte(`{"conversation_id":null,"group_members":[1,2],"action_signatures":[{}]}`))
	f.Add(uint8(17), []byte(`grant_type=authorization_code&code=x&code_verifier=y`))
	srv := e.srv
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		p := paths[int(op)%len(paths)]
		req := httptest.NewRequest("POST", p, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+a.token)
		if op%3 == 0 {
			req.Header.Set("Content-Type", "multipart/form-data; boundary=xyz")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		if p == "/2/oauth2/token" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.ServeHTTP(rec, req)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("%s: no answer after 10s; body %q\n%s", p, body, buf[:runtime.Stack(buf, true)])
		}
		if rec.Code >= 500 {
			t.Fatalf("%s: status %d: %s", p, rec.Code, rec.Body.Bytes())
		}
	})
}
