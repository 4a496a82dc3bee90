package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/api"
)

// routeRecorder registers every operation's route and records which one
// each request hit, with its decoded body.
type routeRecorder struct {
	mu     sync.Mutex
	hits   []string
	bodies []map[string]any
	bad    []string // requests whose body could not be read or decoded
}

func (rr *routeRecorder) handler() http.Handler {
	arrays := map[string]bool{}
	for _, op := range []api.Operation{api.OpGetChatConversations, api.OpGetChatConversationEvents, api.OpGetUsersPublicKeys,
		api.OpGetUsersPublicKey, api.OpGetDirectMessagesEvents, api.OpGetDirectMessagesEventsByConversationID,
		api.OpGetDirectMessagesEventsByParticipantID} {
		arrays[op.ID] = true
	}
	mux := http.NewServeMux()
	for _, op := range api.Operations {
		mux.HandleFunc(op.Route(), func(w http.ResponseWriter, r *http.Request) {
			var body map[string]any
			b, err := io.ReadAll(r.Body)
			if err == nil && len(b) > 0 {
				err = json.Unmarshal(b, &body)
			}
			rr.mu.Lock()
			if err != nil {
				rr.bad = append(rr.bad, op.ID+": "+err.Error())
			}
			rr.hits = append(rr.hits, op.ID)
			rr.bodies = append(rr.bodies, body)
			rr.mu.Unlock()
			switch {
			case op.ID == api.OpChatMediaDownload.ID || op.ID == api.OpDmConversationsMediaDownload.ID:
				_, _ = io.WriteString(w, "blob")
			case arrays[op.ID]:
				writeJSON(w, 200, map[string]any{"data": []any{}, "meta": map[string]any{"result_count": 0}})
			default:
				writeJSON(w, 200, map[string]any{"data": map[string]any{
					"conversation_id": groupID, "success": true, "deleted": true, "blocked": true,
					"session_id": "77", "media_hash_key": "hk77", "encoded_message_event": "ZQ==",
					"dm_conversation_id": "1-2", "dm_event_id": "3", "public_key_version": "1", "id": "9",
				}})
			}
		})
	}
	return mux
}

func TestEveryMethodHitsItsOperation(t *testing.T) {
	rr := &routeRecorder{}
	h := rr.handler()
	c, _, _ := newServer(t, h.ServeHTTP)
	ctx := context.Background()
	keys := []api.ConversationParticipantKey{{UserID: aliceID, EncryptedConversationKey: "a2V5", PublicKeyVersion: "1"}}
	sig := api.ActionSignature{MessageID: "m1", EncodedMessageEventDetail: "ZGV0", MessageEventSignature: api.MessageEventSignature{Signature: "c2ln", PublicKeyVersion: "1", SignatureVersion: "1"}}
	dm := &api.DmMessage{Text: "hi"}
	calls := []struct {
		op   api.Operation
		call func() error
	}{
		{api.OpGetChatConversations, func() error { _, _, err := c.ListConversations(ctx, nil); return err }},
		{api.OpGetChatConversation, func() error {
			_, _, err := c.GetConversation(ctx, groupID, &api.GetConversationOptions{Expansions: []string{"member_ids"}})
			return err
		}},
		{api.OpGetChatConversationEvents, func() error { _, _, err := c.GetConversationEvents(ctx, groupID, nil); return err }},
		{api.OpInitializeChatGroup, func() error { _, _, err := c.InitializeGroup(ctx); return err }},
		{api.OpCreateChatConversation, func() error {
			_, _, err := c.CreateGroup(ctx, &api.CreateChatConversationRequest{ConversationID: groupID, ConversationKeyVersion: "5",
				ConversationParticipantKeys: keys, GroupMembers: []string{aliceID, bobID}, GroupName: "n", ActionSignatures: []api.ActionSignature{sig}})
			return err
		}},
		{api.OpAddConversationKeys, func() error {
			_, _, err := c.AddConversationKeys(ctx, groupID, &api.AddConversationKeysRequest{ConversationKeyVersion: "6", ConversationParticipantKeys: keys})
			return err
		}},
		{api.OpAddChatGroupMembers, func() error {
			_, _, err := c.AddMembers(ctx, groupID, &api.AddChatGroupMembersRequest{UserIDs: []string{bobID}, ConversationKeyVersion: "7", ConversationParticipantKeys: keys})
			return err
		}},
		{api.OpSendChatMessage, func() error { _, _, err := c.SendMessage(ctx, groupID, validSendRequest("m2")); return err }},
		{api.OpDeleteChatMessages, func() error {
			_, _, err := c.DeleteMessages(ctx, groupID, &api.DeleteChatMessagesRequest{SequenceIDs: []string{"12"}, DeleteMessageAction: api.DeleteForAll,
				MediaHashKeys: []string{"hk1"}, ActionSignatures: []api.ActionSignature{sig}})
			return err
		}},
		{api.OpMarkChatConversationRead, func() error { _, _, err := c.MarkRead(ctx, groupID, "12"); return err }},
		{api.OpSendChatTypingIndicator, func() error { _, _, err := c.SendTyping(ctx, groupID); return err }},
		{api.OpChatMediaUploadInitialize, func() error {
			_, _, err := c.MediaUploadInitialize(ctx, &api.ChatMediaUploadInitializeRequest{ConversationID: groupID, TotalBytes: 3})
			return err
		}},
		{api.OpChatMediaUploadAppend, func() error {
			_, _, err := c.MediaUploadAppend(ctx, "77", &api.ChatMediaUploadAppendRequest{ConversationID: groupID, MediaHashKey: "hk77", Media: []byte("abc")})
			return err
		}},
		{api.OpChatMediaUploadFinalize, func() error {
			_, _, err := c.MediaUploadFinalize(ctx, "77", &api.ChatMediaUploadFinalizeRequest{ConversationID: groupID, MediaHashKey: "hk77", NumParts: "1"})
			return err
		}},
		{api.OpChatMediaDownload, func() error { _, _, err := c.DownloadMedia(ctx, groupID, "hk77"); return err }},
		{api.OpGetUsersPublicKeys, func() error { _, _, err := c.GetUsersPublicKeys(ctx, []string{aliceID, bobID}, nil); return err }},
		{api.OpGetUsersPublicKey, func() error { _, _, err := c.GetUserPublicKeys(ctx, aliceID, []string{"public_key"}); return err }},
		{api.OpAddUserPublicKey, func() error {
			_, _, err := c.RegisterPublicKey(ctx, aliceID, &api.AddUserPublicKeyRequest{Version: "1", PublicKey: api.PublicKeyRegistration{PublicKey: "cGs=", SigningPublicKey: "c3Br"}})
			return err
		}},
		{api.OpCreateDirectMessagesConversation, func() error {
			_, _, err := c.CreateDmConversation(ctx, &api.CreateDirectMessagesConversationRequest{ParticipantIDs: []string{aliceID, bobID}, Message: *dm})
			return err
		}},
		{api.OpDmConversationsMediaDownload, func() error { _, _, err := c.DownloadDmMedia(ctx, "1", "2", "3"); return err }},
		{api.OpGetDirectMessagesEventsByParticipantID, func() error { _, _, err := c.ListDmEventsWithParticipant(ctx, bobID, nil); return err }},
		{api.OpCreateDirectMessagesByParticipantID, func() error { _, _, err := c.SendDmToParticipant(ctx, bobID, dm); return err }},
		{api.OpCreateDirectMessagesByConversationID, func() error { _, _, err := c.SendDmToConversation(ctx, aliceID+"-"+bobID, dm); return err }},
		{api.OpGetDirectMessagesEventsByConversationID, func() error {
			_, _, err := c.ListDmConversationEvents(ctx, aliceID+"-"+bobID, &api.DmEventsOptions{EventTypes: []string{api.DmEventMessageCreate}})
			return err
		}},
		{api.OpGetDirectMessagesEvents, func() error { _, _, err := c.ListDmEvents(ctx, nil); return err }},
		{api.OpDeleteDirectMessagesEvents, func() error { _, _, err := c.DeleteDmEvent(ctx, "3"); return err }},
		{api.OpGetDirectMessagesEventsByID, func() error { _, _, err := c.GetDmEvent(ctx, "3", nil); return err }},
		{api.OpBlockUsersDms, func() error { _, _, err := c.BlockDms(ctx, bobID); return err }},
		{api.OpUnblockUsersDms, func() error { _, _, err := c.UnblockDms(ctx, bobID); return err }},
	}
	covered := map[string]bool{}
	for i, tc := range calls {
		if err := tc.call(); err != nil {
			t.Fatalf("%s: %v", tc.op.ID, err)
		}
		if len(rr.hits) != i+1 || rr.hits[i] != tc.op.ID || len(rr.bad) != 0 {
			t.Fatalf("call for %s hit %v (unreadable bodies: %v)", tc.op.ID, rr.hits[i:], rr.bad)
		}
		covered[tc.op.ID] = true
	}
	for _, op := range api.Operations {
		if !covered[op.ID] {
			t.Errorf("no client method exercised for %s", op.ID)
		}
	}
	// Spot-check request bodies.
	if b := rr.bodies[4]; b["conversation_id"] != groupID || b["group_name"] != "n" || len(b["action_signatures"].([]any)) != 1 {
		t.Errorf("create group body = %v", b)
	}
	if b := rr.bodies[9]; b["seen_until_sequence_id"] != "12" {
		t.Errorf("mark read body = %v", b)
	}
	if b := rr.bodies[18]; b["conversation_type"] != "Group" {
		t.Errorf("dm conversation body = %v", b)
	}
}

func TestUploadMediaSegments(t *testing.T) {
	rr := &routeRecorder{}
	h := rr.handler()
	c, _, _ := newServer(t, h.ServeHTTP)
	blob := []byte(strings.Repeat("0123456789", 25)) // 250 bytes
	init, err := c.UploadMedia(context.Background(), groupID, blob, 100, "msg-1")
	if err != nil {
		t.Fatal(err)
	}
	if init.MediaHashKey != "hk77" || init.SessionID != "77" {
		t.Fatalf("init = %+v", init)
	}
	want := []string{"chatMediaUploadInitialize", "chatMediaUploadAppend", "chatMediaUploadAppend", "chatMediaUploadAppend", "chatMediaUploadFinalize"}
	if strings.Join(rr.hits, ",") != strings.Join(want, ",") {
		t.Fatalf("hits = %v", rr.hits)
	}
	if rr.bodies[0]["total_bytes"] != float64(250) || rr.bodies[3]["segment_index"] != float64(2) || rr.bodies[4]["num_parts"] != "3" || rr.bodies[4]["message_id"] != "msg-1" {
		t.Fatalf("bodies = %v", rr.bodies)
	}
}

func TestKeyChangeEventsUnion(t *testing.T) {
	m := &api.ChatEventsMeta{ConversationKeyEvents: []string{"a", "b"}, MissingConversationKeyChangeEvents: []string{"b", "c"}}
	if got := strings.Join(m.KeyChangeEvents(), ","); got != "a,b,c" {
		t.Fatalf("got %s", got)
	}
	if (*api.ChatEventsMeta)(nil).KeyChangeEvents() != nil {
		t.Fatal("nil meta")
	}
	if got := (&api.ChatEventsMeta{MissingConversationKeyChangeEvents: []string{"x"}}).KeyChangeEvents(); len(got) != 1 {
		t.Fatal(got)
	}
}
