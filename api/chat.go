package api

import (
	"context"
	"net/url"
	"strconv"
	"strings"
)

// ListConversationsOptions are the query parameters of
// GET /2/chat/conversations.
type ListConversationsOptions struct {
	MaxResults             int    // 1..100; 0 leaves the server default (10)
	PaginationToken        string // next_token of the previous page
	ChatConversationFields []string
	Expansions             []string
	UserFields             []string
}

// GetConversationOptions are the query parameters of
// GET /2/chat/conversations/{id}.
type GetConversationOptions struct {
	ChatConversationFields []string
	Expansions             []string
	UserFields             []string
}

// ConversationEventsOptions are the query parameters of
// GET /2/chat/conversations/{id}/events.
type ConversationEventsOptions struct {
	MaxResults             int    // 1..100; 0 leaves the server default (10)
	PaginationToken        string // next_token of the previous page
	ChatMessageEventFields []string
}

func setList(q url.Values, key string, vals []string) {
	if len(vals) > 0 {
		q.Set(key, strings.Join(vals, ","))
	}
}

func setInt(q url.Values, key string, n int) {
	if n != 0 {
		q.Set(key, strconv.Itoa(n))
	}
}

func setStr(q url.Values, key, v string) {
	if v != "" {
		q.Set(key, v)
	}
}

func checkConversationFields(fields, expansions, userFields []string) error {
	if err := checkEnumList("chat_conversation.fields", fields, ChatConversationFields); err != nil {
		return err
	}
	if err := checkEnumList("expansions", expansions, ChatConversationExpansions); err != nil {
		return err
	}
	return checkEnumList("user.fields", userFields, UserFields)
}

// ListConversations fetches one page of the user's Chat conversations
// (getChatConversations). Scopes: dm.read, users.read.
func (c *Client) ListConversations(ctx context.Context, opts *ListConversationsOptions) (*GetChatConversationsResponse, *Response, error) {
	if opts == nil {
		opts = &ListConversationsOptions{}
	}
	if err := ValidateMaxResults(opts.MaxResults, ChatConversationsMaxResultsMin, ChatConversationsMaxResultsMax); err != nil {
		return nil, nil, err
	}
	if err := checkConversationFields(opts.ChatConversationFields, opts.Expansions, opts.UserFields); err != nil {
		return nil, nil, err
	}
	q := url.Values{}
	setInt(q, "max_results", opts.MaxResults)
	setStr(q, "pagination_token", opts.PaginationToken)
	setList(q, "chat_conversation.fields", opts.ChatConversationFields)
	setList(q, "expansions", opts.Expansions)
	setList(q, "user.fields", opts.UserFields)
	out := new(GetChatConversationsResponse)
	resp, err := c.do(ctx, &request{op: OpGetChatConversations, path: PathChatConversations(), query: q}, out)
	return result(out, resp, err)
}

// GetConversation fetches one Chat conversation (getChatConversation).
// Scopes: dm.read, users.read, tweet.read.
func (c *Client) GetConversation(ctx context.Context, conversationID string, opts *GetConversationOptions) (*GetChatConversationResponse, *Response, error) {
	if err := ValidateConversationID(conversationID); err != nil {
		return nil, nil, err
	}
	if opts == nil {
		opts = &GetConversationOptions{}
	}
	if err := checkConversationFields(opts.ChatConversationFields, opts.Expansions, opts.UserFields); err != nil {
		return nil, nil, err
	}
	q := url.Values{}
	setList(q, "chat_conversation.fields", opts.ChatConversationFields)
	setList(q, "expansions", opts.Expansions)
	setList(q, "user.fields", opts.UserFields)
	out := new(GetChatConversationResponse)
	resp, err := c.do(ctx, &request{op: OpGetChatConversation, path: PathChatConversation(conversationID), query: q}, out)
	return result(out, resp, err)
}

// GetConversationEvents fetches one page of a conversation's encrypted
// events (getChatConversationEvents). The page's meta also lists the
// conversation key change events the caller may be missing
// (ChatEventsMeta.KeyChangeEvents). Scopes: users.read, dm.read, tweet.read.
func (c *Client) GetConversationEvents(ctx context.Context, conversationID string, opts *ConversationEventsOptions) (*GetChatConversationEventsResponse, *Response, error) {
	if err := ValidateConversationID(conversationID); err != nil {
		return nil, nil, err
	}
	if opts == nil {
		opts = &ConversationEventsOptions{}
	}
	if err := ValidateMaxResults(opts.MaxResults, ChatEventsMaxResultsMin, ChatEventsMaxResultsMax); err != nil {
		return nil, nil, err
	}
	if err := checkEnumList("chat_message_event.fields", opts.ChatMessageEventFields, ChatMessageEventFields); err != nil {
		return nil, nil, err
	}
	q := url.Values{}
	setInt(q, "max_results", opts.MaxResults)
	setStr(q, "pagination_token", opts.PaginationToken)
	setList(q, "chat_message_event.fields", opts.ChatMessageEventFields)
	out := new(GetChatConversationEventsResponse)
	resp, err := c.do(ctx, &request{op: OpGetChatConversationEvents, path: PathChatEvents(conversationID), query: q}, out)
	return result(out, resp, err)
}

// InitializeGroup reserves a new group conversation id
// (initializeChatGroup); pass it to CreateGroup. Not retried. Scopes:
// dm.write.
func (c *Client) InitializeGroup(ctx context.Context) (*InitializeChatGroupData, *Response, error) {
	out := new(InitializeChatGroupResponse)
	resp, err := c.do(ctx, &request{op: OpInitializeChatGroup, path: PathChatGroupInitialize()}, out)
	return data(out.Data, resp, err)
}

// CreateGroup creates an encrypted group conversation
// (createChatConversation). Not retried. Scopes: users.read, dm.write,
// tweet.read.
func (c *Client) CreateGroup(ctx context.Context, req *CreateChatConversationRequest) (*CreateChatConversationData, *Response, error) {
	if req == nil {
		return nil, nil, invalid("request", "", "must not be nil")
	}
	if err := ValidateConversationID(req.ConversationID); err != nil {
		return nil, nil, err
	}
	if err := checkKeyVersion(req.ConversationKeyVersion); err != nil {
		return nil, nil, err
	}
	if len(req.GroupMembers) == 0 {
		return nil, nil, invalid("group_members", "", "must not be empty")
	}
	if err := checkUserIDs("group member", req.GroupMembers); err != nil {
		return nil, nil, err
	}
	if err := checkUserIDs("group admin", req.GroupAdmins); err != nil {
		return nil, nil, err
	}
	if err := checkParticipantKeys(req.ConversationParticipantKeys, true); err != nil {
		return nil, nil, err
	}
	if err := checkActionSignatures(req.ActionSignatures); err != nil {
		return nil, nil, err
	}
	if err := checkDecimal("ttl_msec", req.TTLMsec); err != nil {
		return nil, nil, err
	}
	out := new(CreateChatConversationResponse)
	resp, err := c.do(ctx, &request{op: OpCreateChatConversation, path: PathChatGroup(), body: req}, out)
	return data(out.Data, resp, err)
}

// AddConversationKeys publishes a conversation key change
// (addConversationKeys): the new key encrypted for each participant. The
// action signatures carry client message ids, so the call is retried.
// Scopes: users.read, dm.write, tweet.read.
func (c *Client) AddConversationKeys(ctx context.Context, conversationID string, req *AddConversationKeysRequest) (*AddConversationKeysData, *Response, error) {
	if err := ValidateConversationID(conversationID); err != nil {
		return nil, nil, err
	}
	if req == nil {
		return nil, nil, invalid("request", "", "must not be nil")
	}
	if err := checkKeyVersion(req.ConversationKeyVersion); err != nil {
		return nil, nil, err
	}
	if err := checkParticipantKeys(req.ConversationParticipantKeys, true); err != nil {
		return nil, nil, err
	}
	if err := checkActionSignatures(req.ActionSignatures); err != nil {
		return nil, nil, err
	}
	out := new(AddConversationKeysResponse)
	resp, err := c.do(ctx, &request{op: OpAddConversationKeys, path: PathChatKeys(conversationID), body: req}, out)
	return data(out.Data, resp, err)
}

// AddMembers adds users to a group conversation (addChatGroupMembers),
// usually with a rotated conversation key. Not retried. Scopes:
// tweet.read, users.read, dm.write.
func (c *Client) AddMembers(ctx context.Context, conversationID string, req *AddChatGroupMembersRequest) (*AddChatGroupMembersData, *Response, error) {
	if err := ValidateConversationID(conversationID); err != nil {
		return nil, nil, err
	}
	if req == nil {
		return nil, nil, invalid("request", "", "must not be nil")
	}
	if len(req.UserIDs) == 0 {
		return nil, nil, invalid("user_ids", "", "must not be empty")
	}
	if err := checkUserIDs("user id", req.UserIDs); err != nil {
		return nil, nil, err
	}
	if req.ConversationKeyVersion != "" {
		if err := checkKeyVersion(req.ConversationKeyVersion); err != nil {
			return nil, nil, err
		}
	}
	if err := checkParticipantKeys(req.ConversationParticipantKeys, false); err != nil {
		return nil, nil, err
	}
	if err := checkActionSignatures(req.ActionSignatures); err != nil {
		return nil, nil, err
	}
	out := new(AddChatGroupMembersResponse)
	resp, err := c.do(ctx, &request{op: OpAddChatGroupMembers, path: PathChatMembers(conversationID), body: req}, out)
	return data(out.Data, resp, err)
}

// SendMessage posts an encrypted message (sendChatMessage). conversationID
// may be the recipient's user id for a 1:1 conversation. The request's
// client-chosen MessageID makes the call safe to retry, and it is retried.
// Scopes: tweet.read, users.read, dm.write.
func (c *Client) SendMessage(ctx context.Context, conversationID string, req *SendChatMessageRequest) (*SendChatMessageData, *Response, error) {
	if err := ValidateConversationID(conversationID); err != nil {
		return nil, nil, err
	}
	if req == nil {
		return nil, nil, invalid("request", "", "must not be nil")
	}
	if req.MessageID == "" {
		return nil, nil, invalid("message_id", "", "must not be empty")
	}
	if err := ValidateSignature("encoded_message_create_event", req.EncodedMessageCreateEvent); err != nil {
		return nil, nil, err
	}
	if req.EncodedMessageEventSignature != "" {
		if err := ValidateSignature("encoded_message_event_signature", req.EncodedMessageEventSignature); err != nil {
			return nil, nil, err
		}
	}
	out := new(SendChatMessageResponse)
	resp, err := c.do(ctx, &request{op: OpSendChatMessage, path: PathChatMessages(conversationID), body: req}, out)
	return data(out.Data, resp, err)
}

// DeleteMessages deletes messages by sequence id (deleteChatMessages). Not
// retried. Scopes: tweet.read, users.read, dm.write.
func (c *Client) DeleteMessages(ctx context.Context, conversationID string, req *DeleteChatMessagesRequest) (*DeleteChatMessagesData, *Response, error) {
	if err := ValidateConversationID(conversationID); err != nil {
		return nil, nil, err
	}
	if req == nil {
		return nil, nil, invalid("request", "", "must not be nil")
	}
	if len(req.SequenceIDs) == 0 {
		return nil, nil, invalid("sequence_ids", "", "must not be empty")
	}
	for _, s := range req.SequenceIDs {
		if err := checkDecimal("sequence id", s); err != nil || s == "" {
			return nil, nil, invalid("sequence id", s, "must be a decimal number")
		}
	}
	switch req.DeleteMessageAction {
	case DeleteForAll, DeleteForSelf:
	default:
		return nil, nil, invalid("delete_message_action", req.DeleteMessageAction, "must be delete_for_all or delete_for_self")
	}
	for _, k := range req.MediaHashKeys {
		if err := ValidateMediaHashKey(k); err != nil {
			return nil, nil, err
		}
	}
	if req.ActionSignatures == nil {
		return nil, nil, invalid("action_signatures", "", "required")
	}
	if err := checkActionSignatures(req.ActionSignatures); err != nil {
		return nil, nil, err
	}
	out := new(DeleteChatMessagesResponse)
	resp, err := c.do(ctx, &request{op: OpDeleteChatMessages, path: PathChatMessagesDelete(conversationID), body: req}, out)
	return data(out.Data, resp, err)
}

// MarkRead marks the conversation read up to a sequence id
// (markChatConversationRead). Idempotent, retried. Scopes: tweet.read,
// dm.write, users.read.
func (c *Client) MarkRead(ctx context.Context, conversationID, seenUntilSequenceID string) (*SuccessData, *Response, error) {
	if err := ValidateConversationID(conversationID); err != nil {
		return nil, nil, err
	}
	if seenUntilSequenceID == "" || checkDecimal("seen_until_sequence_id", seenUntilSequenceID) != nil {
		return nil, nil, invalid("seen_until_sequence_id", seenUntilSequenceID, "must be a decimal number")
	}
	out := new(MarkChatConversationReadResponse)
	body := &MarkChatConversationReadRequest{SeenUntilSequenceID: seenUntilSequenceID}
	resp, err := c.do(ctx, &request{op: OpMarkChatConversationRead, path: PathChatRead(conversationID), body: body}, out)
	return data(out.Data, resp, err)
}

// SendTyping sends a typing indicator (sendChatTypingIndicator). Not
// retried. Scopes: users.read, dm.write, tweet.read.
func (c *Client) SendTyping(ctx context.Context, conversationID string) (*SuccessData, *Response, error) {
	if err := ValidateConversationID(conversationID); err != nil {
		return nil, nil, err
	}
	out := new(SendChatTypingIndicatorResponse)
	resp, err := c.do(ctx, &request{op: OpSendChatTypingIndicator, path: PathChatTyping(conversationID)}, out)
	return data(out.Data, resp, err)
}

// result returns a decoded envelope; on *PartialError the envelope is kept.
func result[T any](out *T, resp *Response, err error) (*T, *Response, error) {
	if err != nil {
		if _, ok := err.(*PartialError); ok {
			return out, resp, err
		}
		return nil, resp, err
	}
	return out, resp, nil
}

// data returns the envelope's data; on *PartialError the data (possibly nil)
// is kept. A success without data is an error.
func data[T any](d *T, resp *Response, err error) (*T, *Response, error) {
	if err != nil {
		if _, ok := err.(*PartialError); ok {
			return d, resp, err
		}
		return nil, resp, err
	}
	if d == nil {
		return nil, resp, &missingDataError{}
	}
	return d, resp, nil
}

type missingDataError struct{}

// Error implements error.
func (*missingDataError) Error() string { return "api: response has no data" }

func checkUserIDs(field string, ids []string) error {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !userIDRE.MatchString(id) {
			return invalid(field, id, "must match "+UserIDPattern)
		}
		if seen[id] {
			return invalid(field, id, "duplicate")
		}
		seen[id] = true
	}
	return nil
}

func checkDecimal(field, v string) error {
	if v == "" {
		return nil
	}
	return ValidateVersion(field, v)
}

func checkKeyVersion(v string) error {
	return ValidateVersion("conversation_key_version", v)
}

func checkParticipantKeys(keys []ConversationParticipantKey, required bool) error {
	if required && len(keys) == 0 {
		return invalid("conversation_participant_keys", "", "must not be empty")
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if err := ValidateUserID(k.UserID); err != nil {
			return err
		}
		if seen[k.UserID] {
			return invalid("participant key user id", k.UserID, "duplicate")
		}
		seen[k.UserID] = true
		if err := ValidateSignature("encrypted_conversation_key", k.EncryptedConversationKey); err != nil {
			return err
		}
		if err := checkDecimal("participant public_key_version", k.PublicKeyVersion); err != nil {
			return err
		}
	}
	return nil
}

func checkActionSignatures(sigs []ActionSignature) error {
	for _, s := range sigs {
		if s.MessageID == "" {
			return invalid("action signature message_id", "", "must not be empty")
		}
		if err := ValidateSignature("encoded_message_event_detail", s.EncodedMessageEventDetail); err != nil {
			return err
		}
		if err := checkMessageEventSignature(&s.MessageEventSignature); err != nil {
			return err
		}
	}
	return nil
}

func checkMessageEventSignature(m *MessageEventSignature) error {
	if err := ValidateSignature("signature", m.Signature); err != nil {
		return err
	}
	if err := ValidateVersion("public_key_version", m.PublicKeyVersion); err != nil {
		return err
	}
	return ValidateVersion("signature_version", m.SignatureVersion)
}
