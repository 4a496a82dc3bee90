package api_test

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testref"
)

func obj(v any, keys ...string) map[string]any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	m, _ := v.(map[string]any)
	return m
}

func TestOperationsMatchSpec(t *testing.T) {
	var spec map[string]any
	testref.JSON(t, testref.ChatOpenAPI, &spec)
	type specOp struct {
		method, path string
		scopes       []string
	}
	want := map[string]specOp{}
	for path, item := range obj(spec, "paths") {
		for method, o := range item.(map[string]any) {
			op, ok := o.(map[string]any)
			if !ok || op["operationId"] == nil {
				continue
			}
			var scopes []string
			if sec := op["security"].([]any); len(sec) > 0 {
				for _, s := range obj(sec[0])["OAuth2UserToken"].([]any) {
					scopes = append(scopes, s.(string))
				}
			}
			want[op["operationId"].(string)] = specOp{strings.ToUpper(method), path, scopes}
		}
	}
	if len(want) != len(api.Operations) {
		t.Errorf("spec has %d operations, package %d", len(want), len(api.Operations))
	}
	for _, op := range api.Operations {
		w, ok := want[op.ID]
		if !ok {
			t.Errorf("%s not in spec", op.ID)
			continue
		}
		if w.method != op.Method || w.path != op.Pattern {
			t.Errorf("%s: %s %s, spec %s %s", op.ID, op.Method, op.Pattern, w.method, w.path)
		}
		a, b := slices.Clone(op.Scopes), slices.Clone(w.scopes)
		sort.Strings(a)
		sort.Strings(b)
		if !slices.Equal(a, b) {
			t.Errorf("%s scopes %v, spec %v", op.ID, op.Scopes, w.scopes)
		}
	}
}

func jsonNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			names = append(names, jsonNames(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

func TestTypesMatchSpecSchemas(t *testing.T) {
	var spec map[string]any
	testref.JSON(t, testref.ChatOpenAPI, &spec)
	schemas := obj(spec, "components", "schemas")
	cases := []struct {
		v      any
		schema string
		extra  []string // documented additions beyond the spec schema
	}{
		{api.ChatConversation{}, "ChatConversation", nil},
		{api.ChatMessageEvent{}, "ChatMessageEvent", []string{"sequence_id", "previous_sequence_id", "created_at_msec"}},
		{api.MessageEventSignature{}, "AddConversationKeysActionSignaturesMessageEventSignature", nil},
		{api.MessageEventSignature{}, "CreateChatConversationActionSignaturesMessageEventSignature", nil},
		{api.SigningKeyInfo{}, "DeleteChatMessagesActionSignaturesMessageEventSignatureMessageSigningKeyInfoList", nil},
		{api.ActionSignature{}, "AddChatGroupMembersActionSignatures", nil},
		{api.ActionSignature{}, "DeleteChatMessagesActionSignatures", nil},
		{api.ConversationParticipantKey{}, "AddConversationKeysConversationParticipantKeys", nil},
		{api.GetChatConversationsResponse{}, "GetChatConversationsResponse", nil},
		{api.ChatConversationsMeta{}, "GetChatConversationsResponse.meta", nil},
		{api.ChatEventsMeta{}, "GetChatConversationEventsResponse.meta", []string{"missing_conversation_key_change_events"}},
		{api.DmEventsMeta{}, "GetDirectMessagesEventsResponse.meta", nil},
		{api.DmEntityURL{}, "DmEventEntities.urls", nil},
		{api.DmEntityMention{}, "DmEventEntities.mentions", nil},
		{api.DmEntityTag{}, "DmEventEntities.hashtags", nil},
		{api.GetChatConversationResponse{}, "GetChatConversationResponse", nil},
		{api.GetChatConversationEventsResponse{}, "GetChatConversationEventsResponse", nil},
		{api.InitializeChatGroupData{}, "InitializeChatGroupResponseData", nil},
		{api.CreateChatConversationRequest{}, "CreateChatConversationRequest", nil},
		{api.CreateChatConversationData{}, "CreateChatConversationResponseData", nil},
		{api.AddConversationKeysRequest{}, "AddConversationKeysRequest", nil},
		{api.AddConversationKeysData{}, "AddConversationKeysResponseData", nil},
		{api.AddChatGroupMembersRequest{}, "AddChatGroupMembersRequest", nil},
		{api.SendChatMessageRequest{}, "SendChatMessageRequest", nil},
		{api.SendChatMessageData{}, "SendChatMessageResponseData", nil},
		{api.DeleteChatMessagesRequest{}, "DeleteChatMessagesRequest", nil},
		{api.DeleteChatMessagesData{}, "DeleteChatMessagesResponseData", nil},
		{api.MarkChatConversationReadRequest{}, "MarkChatConversationReadRequest", nil},
		{api.SuccessData{}, "MarkChatConversationReadResponseData", nil},
		{api.SuccessData{}, "SendChatTypingIndicatorResponseData", nil},
		{api.SuccessData{}, "ChatMediaUploadFinalizeResponseData", nil},
		{api.ChatMediaUploadInitializeRequest{}, "ChatMediaUploadInitializeRequest", nil},
		{api.ChatMediaUploadInitializeData{}, "ChatMediaUploadInitializeResponseData", nil},
		{api.ChatMediaUploadAppendRequest{}, "ChatMediaUploadAppendRequest", nil},
		{api.ChatMediaUploadAppendData{}, "ChatMediaUploadAppendResponseData", nil},
		{api.ChatMediaUploadFinalizeRequest{}, "ChatMediaUploadFinalizeRequest", nil},
		{api.PublicKeyRegistration{}, "AddUserPublicKeyPublicKey", nil},
		{api.AddUserPublicKeyRequest{}, "AddUserPublicKeyRequest", nil},
		{api.AddUserPublicKeyData{}, "AddUserPublicKeyResponseData", nil},
		{api.PublicKey{}, "PublicKey", []string{"user_id"}},
		{api.User{}, "User", nil},
		{api.Media{}, "Media", nil},
		{api.GetUsersPublicKeysResponse{}, "GetUsersPublicKeysResponse", nil},
		{api.GetUsersPublicKeyResponse{}, "GetUsersPublicKeyResponse", nil},
		{api.CreateDirectMessagesConversationRequest{}, "CreateDirectMessagesConversationRequest", nil},
		{api.DmMessage{}, "CreateDirectMessagesByParticipantIdRequest", nil},
		{api.DmMessage{}, "CreateDirectMessagesByConversationIdRequest", nil},
		{api.DmMessage{}, "CreateDirectMessagesConversationMessage", nil},
		{api.DmAttachment{}, "CreateDirectMessagesByParticipantIdAttachments", nil},
		{api.DmCreateData{}, "CreateDirectMessagesConversationResponseData", nil},
		{api.DmCreateData{}, "CreateDirectMessagesByParticipantIdResponseData", nil},
		{api.DmEvent{}, "DmEvent", []string{"referenced_tweets"}},
		{api.DmEventAttachments{}, "DmEventAttachments", nil},
		{api.DmEventEntities{}, "DmEventEntities", nil},
		{api.GetDmEventsResponse{}, "GetDirectMessagesEventsResponse", nil},
		{api.GetDmEventsResponse{}, "GetDirectMessagesEventsByConversationIdResponse", nil},
		{api.GetDmEventResponse{}, "GetDirectMessagesEventsByIdResponse", nil},
		{api.DeleteDmEventData{}, "DeleteDirectMessagesEventsResponseData", nil},
		{api.DmBlockData{}, "BlockUsersDmsResponseData", nil},
		{api.DmBlockData{}, "UnblockUsersDmsResponseData", nil},
		{api.LegacyError{}, "Error", nil},
		{api.Problem{}, "NotAuthorizedForFieldProblem", []string{}},
	}
	for _, tc := range cases {
		if tc.schema == "" {
			continue
		}
		name, prop, nested := strings.Cut(tc.schema, ".")
		s := obj(schemas, name)
		if nested {
			s = obj(s, "properties", prop)
			if items := obj(s, "items"); items != nil {
				s = items
			}
		}
		if s == nil {
			t.Errorf("schema %s missing from spec", tc.schema)
			continue
		}
		var want []string
		for k := range obj(s, "properties") {
			want = append(want, k)
		}
		want = append(want, tc.extra...)
		got := jsonNames(reflect.TypeOf(tc.v))
		if tc.schema == "NotAuthorizedForFieldProblem" {
			// Problem is the union of all problem variants: it must cover
			// this, the largest variant.
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Errorf("Problem lacks %q", w)
				}
			}
			continue
		}
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("%T vs %s:\n got  %v\n want %v", tc.v, tc.schema, got, want)
		}
	}
	// Every problem variant is covered by Problem.
	for _, v := range obj(schemas, "Problem")["oneOf"].([]any) {
		name := strings.TrimPrefix(obj(v)["$ref"].(string), "#/components/schemas/")
		for k := range obj(schemas, name, "properties") {
			if !slices.Contains(jsonNames(reflect.TypeOf(api.Problem{})), k) {
				t.Errorf("Problem lacks %s.%s", name, k)
			}
		}
	}
}

func TestFieldEnumsMatchSpec(t *testing.T) {
	var spec map[string]any
	testref.JSON(t, testref.ChatOpenAPI, &spec)
	params := obj(spec, "components", "parameters")
	cases := []struct {
		param string
		got   []string
		extra []string
	}{
		{"ChatConversationFieldsParameter", api.ChatConversationFields, nil},
		{"ChatConversationExpansionsParameter", api.ChatConversationExpansions, nil},
		{"ChatMessageEventFieldsParameter", api.ChatMessageEventFields, nil},
		{"DmEventFieldsParameter", api.DmEventFields, nil},
		{"DmEventExpansionsParameter", api.DmEventExpansions, nil},
		{"UserFieldsParameter", api.UserFields, nil},
		{"PostFieldsParameter", api.PostFields, nil},
		{"MediaFieldsParameter", api.MediaFields, nil},
		{"PublicKeyFieldsParameter", api.PublicKeyFields, nil},
	}
	for _, tc := range cases {
		var want []string
		for _, v := range obj(params, tc.param, "schema", "items")["enum"].([]any) {
			if !slices.Contains(want, v.(string)) { // the spec lists one value twice
				want = append(want, v.(string))
			}
		}
		want = append(want, tc.extra...)
		got := slices.Clone(tc.got)
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got  %v\n want %v", tc.param, got, want)
		}
	}
}
