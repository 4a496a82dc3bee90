package api

// SigningKeyInfo is one element of message_signing_key_info_list: a
// member's signing public key and the version it belongs to.
type SigningKeyInfo struct {
	MemberID         string `json:"member_id,omitempty"`
	PublicKeyVersion string `json:"public_key_version,omitempty"`
	SigningPublicKey string `json:"signing_public_key,omitempty"`
}

// MessageEventSignature is the JSON form of a message event signature, used
// inside action signatures and on ChatMessageEvent objects. Signature,
// PublicKeyVersion and SignatureVersion are required by the specification.
type MessageEventSignature struct {
	MessageSigningKeyInfoList []SigningKeyInfo `json:"message_signing_key_info_list,omitempty"`
	PublicKeyVersion          string           `json:"public_key_version"`
	Signature                 string           `json:"signature"`
	SignatureVersion          string           `json:"signature_version"`
	SigningPublicKey          string           `json:"signing_public_key,omitempty"`
}

// ActionSignature is a signed action accompanying group creation, key
// changes, member additions and deletions. MessageID,
// EncodedMessageEventDetail and MessageEventSignature are required.
// SignaturePayload is the signed string, used by the server only for logs.
type ActionSignature struct {
	EncodedMessageEventDetail string                `json:"encoded_message_event_detail"`
	MessageEventSignature     MessageEventSignature `json:"message_event_signature"`
	MessageID                 string                `json:"message_id"`
	SignaturePayload          string                `json:"signature_payload,omitempty"`
}

// ConversationParticipantKey is the conversation key encrypted for one
// participant's public key.
type ConversationParticipantKey struct {
	EncryptedConversationKey string `json:"encrypted_conversation_key,omitempty"`
	PublicKeyVersion         string `json:"public_key_version,omitempty"`
	UserID                   string `json:"user_id,omitempty"`
}

// ChatConversation is a Chat conversation as listed by GetChatConversations.
type ChatConversation struct {
	ID                            string   `json:"id,omitempty"`
	Type                          string   `json:"type,omitempty"`
	AdminIDs                      []string `json:"admin_ids,omitempty"`
	MemberIDs                     []string `json:"member_ids,omitempty"`
	ParticipantIDs                []string `json:"participant_ids,omitempty"`
	GroupName                     string   `json:"group_name,omitempty"`
	GroupAvatarURL                string   `json:"group_avatar_url,omitempty"`
	IsMuted                       *bool    `json:"is_muted,omitempty"`
	MessageTTLMS                  int64    `json:"message_ttl_ms,omitempty"`
	ScreenCaptureBlockingEnabled  *bool    `json:"screen_capture_blocking_enabled,omitempty"`
	ScreenCaptureDetectionEnabled *bool    `json:"screen_capture_detection_enabled,omitempty"`
	CreatedAt                     string   `json:"created_at,omitempty"`
	UpdatedAt                     string   `json:"updated_at,omitempty"`
}

// ChatMessageEvent is one encrypted event of a conversation. EncodedEvent is
// the base64 Thrift MessageEvent envelope built by the server. The
// specification names created_at and previous_id; X's published
// documentation names created_at_msec, sequence_id and previous_sequence_id.
// Both spellings are carried so either server form decodes.
type ChatMessageEvent struct {
	ID                 string `json:"id,omitempty"`
	EncodedEvent       string `json:"encoded_event,omitempty"`
	ConversationID     string `json:"conversation_id,omitempty"`
	ConversationToken  string `json:"conversation_token,omitempty"`
	SequenceID         string `json:"sequence_id,omitempty"`
	PreviousSequenceID string `json:"previous_sequence_id,omitempty"`
	PreviousID         string `json:"previous_id,omitempty"`
	SenderID           string `json:"sender_id,omitempty"`
	CreatedAt          string `json:"created_at,omitempty"`
	CreatedAtMsec      string `json:"created_at_msec,omitempty"`
	// IsTrusted is nil when the server did not say (the field was not
	// requested or not answered), which is not the same as false.
	IsTrusted             *bool                  `json:"is_trusted,omitempty"`
	MessageEventSignature *MessageEventSignature `json:"message_event_signature,omitempty"`
}

// ChatConversationsMeta is the meta object of GetChatConversationsResponse.
type ChatConversationsMeta struct {
	HasMessageRequests bool   `json:"has_message_requests,omitempty"`
	HasMore            bool   `json:"has_more"`
	NextToken          string `json:"next_token,omitempty"`
	ResultCount        int    `json:"result_count"`
}

// ChatEventsMeta is the meta object of GetChatConversationEventsResponse.
// The specification calls the key-change list conversation_key_events; X's
// documentation calls it missing_conversation_key_change_events. Each entry
// is a base64 Thrift MessageEvent carrying a conversation key change.
type ChatEventsMeta struct {
	HasMore                            bool     `json:"has_more"`
	NextToken                          string   `json:"next_token,omitempty"`
	ResultCount                        int      `json:"result_count"`
	ConversationKeyEvents              []string `json:"conversation_key_events,omitempty"`
	MissingConversationKeyChangeEvents []string `json:"missing_conversation_key_change_events,omitempty"`
}

// KeyChangeEvents returns the key-change events under whichever name the
// server used (both lists, de-duplicated, spec name first).
func (m *ChatEventsMeta) KeyChangeEvents() []string {
	if m == nil {
		return nil
	}
	if len(m.MissingConversationKeyChangeEvents) == 0 {
		return m.ConversationKeyEvents
	}
	if len(m.ConversationKeyEvents) == 0 {
		return m.MissingConversationKeyChangeEvents
	}
	seen := make(map[string]bool, len(m.ConversationKeyEvents))
	out := make([]string, 0, len(m.ConversationKeyEvents)+len(m.MissingConversationKeyChangeEvents))
	for _, e := range m.ConversationKeyEvents {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	for _, e := range m.MissingConversationKeyChangeEvents {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// GetChatConversationsResponse is the body of GET /2/chat/conversations.
type GetChatConversationsResponse struct {
	Data     []ChatConversation     `json:"data,omitempty"`
	Errors   []Problem              `json:"errors,omitempty"`
	Includes *Expansions            `json:"includes,omitempty"`
	Meta     *ChatConversationsMeta `json:"meta,omitempty"`
}

// GetChatConversationResponse is the body of GET /2/chat/conversations/{id}.
type GetChatConversationResponse struct {
	Data     *ChatConversation `json:"data,omitempty"`
	Errors   []Problem         `json:"errors,omitempty"`
	Includes *Expansions       `json:"includes,omitempty"`
}

// GetChatConversationEventsResponse is the body of
// GET /2/chat/conversations/{id}/events.
type GetChatConversationEventsResponse struct {
	Data   []ChatMessageEvent `json:"data,omitempty"`
	Errors []Problem          `json:"errors,omitempty"`
	Meta   *ChatEventsMeta    `json:"meta,omitempty"`
}

// InitializeChatGroupData is the data of InitializeChatGroupResponse.
type InitializeChatGroupData struct {
	ConversationID string `json:"conversation_id"`
}

// InitializeChatGroupResponse is the body of
// POST /2/chat/conversations/group/initialize (the request has no body).
type InitializeChatGroupResponse struct {
	Data   *InitializeChatGroupData `json:"data,omitempty"`
	Errors []Problem                `json:"errors,omitempty"`
}

// CreateChatConversationRequest is the body of
// POST /2/chat/conversations/group. ConversationID (from
// InitializeChatGroup), ConversationKeyVersion, ConversationParticipantKeys
// and GroupMembers are required.
type CreateChatConversationRequest struct {
	ConversationID              string                       `json:"conversation_id"`
	ConversationKeyVersion      string                       `json:"conversation_key_version"`
	ConversationParticipantKeys []ConversationParticipantKey `json:"conversation_participant_keys"`
	GroupMembers                []string                     `json:"group_members"`
	GroupAdmins                 []string                     `json:"group_admins,omitempty"`
	GroupName                   string                       `json:"group_name,omitempty"`
	GroupDescription            string                       `json:"group_description,omitempty"`
	GroupAvatarURL              string                       `json:"group_avatar_url,omitempty"`
	TTLMsec                     string                       `json:"ttl_msec,omitempty"`
	Base64EncodedKeyRotation    string                       `json:"base64_encoded_key_rotation,omitempty"`
	ActionSignatures            []ActionSignature            `json:"action_signatures,omitempty"`
}

// CreateChatConversationData is the data of CreateChatConversationResponse.
type CreateChatConversationData struct {
	ConversationID                  string `json:"conversation_id"`
	ConversationKeyChangeSequenceID string `json:"conversation_key_change_sequence_id,omitempty"`
}

// CreateChatConversationResponse is the 201 body of
// POST /2/chat/conversations/group.
type CreateChatConversationResponse struct {
	Data   *CreateChatConversationData `json:"data,omitempty"`
	Errors []Problem                   `json:"errors,omitempty"`
}

// AddConversationKeysRequest is the body of
// POST /2/chat/conversations/{id}/keys (a conversation key change).
// ConversationKeyVersion and ConversationParticipantKeys are required.
type AddConversationKeysRequest struct {
	ConversationKeyVersion      string                       `json:"conversation_key_version"`
	ConversationParticipantKeys []ConversationParticipantKey `json:"conversation_participant_keys"`
	Base64EncodedKeyRotation    string                       `json:"base64_encoded_key_rotation,omitempty"`
	ActionSignatures            []ActionSignature            `json:"action_signatures,omitempty"`
}

// AddConversationKeysData is the data of AddConversationKeysResponse.
type AddConversationKeysData struct {
	ConversationID string `json:"conversation_id,omitempty"`
	SequenceID     string `json:"sequence_id,omitempty"`
}

// AddConversationKeysResponse is the body of
// POST /2/chat/conversations/{id}/keys.
type AddConversationKeysResponse struct {
	Data   *AddConversationKeysData `json:"data,omitempty"`
	Errors []Problem                `json:"errors,omitempty"`
}

// AddChatGroupMembersRequest is the body of
// POST /2/chat/conversations/{id}/members. UserIDs is required; the key
// fields carry the rotated conversation key for the enlarged group.
type AddChatGroupMembersRequest struct {
	UserIDs                     []string                     `json:"user_ids"`
	ConversationKeyVersion      string                       `json:"conversation_key_version,omitempty"`
	ConversationParticipantKeys []ConversationParticipantKey `json:"conversation_participant_keys,omitempty"`
	EncryptedTitle              string                       `json:"encrypted_title,omitempty"`
	EncryptedAvatarURL          string                       `json:"encrypted_avatar_url,omitempty"`
	ActionSignatures            []ActionSignature            `json:"action_signatures,omitempty"`
}

// AddChatGroupMembersData is the data of AddChatGroupMembersResponse. The
// specification types it as a Post (id, text, ...); servers modelled on the
// key-change answer send conversation_id and sequence_id instead. Both
// shapes decode; KeyChangeSequenceID picks whichever the server sent.
type AddChatGroupMembersData struct {
	// ID and Text are the Post fields the specification promises.
	ID   string `json:"id,omitempty"`
	Text string `json:"text,omitempty"`
	// ConversationID and SequenceID are the key-change shape.
	ConversationID string `json:"conversation_id,omitempty"`
	SequenceID     string `json:"sequence_id,omitempty"`
}

// KeyChangeSequenceID returns the sequence id of the key change the call
// stored: sequence_id when sent, otherwise the Post id (which the emulator
// sets to it). Callers must treat it as an unsigned server claim.
func (d *AddChatGroupMembersData) KeyChangeSequenceID() string {
	if d.SequenceID != "" {
		return d.SequenceID
	}
	return d.ID
}

// AddChatGroupMembersResponse is the body of
// POST /2/chat/conversations/{id}/members.
type AddChatGroupMembersResponse struct {
	Data   *AddChatGroupMembersData `json:"data,omitempty"`
	Errors []Problem                `json:"errors,omitempty"`
}

// SendChatMessageRequest is the body of
// POST /2/chat/conversations/{id}/messages. MessageID (client generated,
// makes retries idempotent) and EncodedMessageCreateEvent are required.
type SendChatMessageRequest struct {
	MessageID                    string `json:"message_id"`
	EncodedMessageCreateEvent    string `json:"encoded_message_create_event"`
	EncodedMessageEventSignature string `json:"encoded_message_event_signature,omitempty"`
	ConversationToken            string `json:"conversation_token,omitempty"`
}

// SendChatMessageData is the data of SendChatMessageResponse: the server's
// base64 Thrift MessageEvent for the stored message.
type SendChatMessageData struct {
	EncodedMessageEvent string `json:"encoded_message_event"`
}

// SendChatMessageResponse is the 201 body of
// POST /2/chat/conversations/{id}/messages.
type SendChatMessageResponse struct {
	Data   *SendChatMessageData `json:"data,omitempty"`
	Errors []Problem            `json:"errors,omitempty"`
}

// Values of DeleteChatMessagesRequest.DeleteMessageAction.
const (
	DeleteForAll  = "delete_for_all"
	DeleteForSelf = "delete_for_self"
)

// DeleteChatMessagesRequest is the body of
// POST /2/chat/conversations/{id}/messages/delete. SequenceIDs (at least
// one), DeleteMessageAction and ActionSignatures are required.
type DeleteChatMessagesRequest struct {
	SequenceIDs         []string          `json:"sequence_ids"`
	DeleteMessageAction string            `json:"delete_message_action"`
	ActionSignatures    []ActionSignature `json:"action_signatures"`
	MediaHashKeys       []string          `json:"media_hash_keys,omitempty"`
}

// DeleteChatMessagesData is the data of DeleteChatMessagesResponse.
type DeleteChatMessagesData struct {
	Deleted bool `json:"deleted"`
}

// DeleteChatMessagesResponse is the body of
// POST /2/chat/conversations/{id}/messages/delete.
type DeleteChatMessagesResponse struct {
	Data   *DeleteChatMessagesData `json:"data,omitempty"`
	Errors []Problem               `json:"errors,omitempty"`
}

// MarkChatConversationReadRequest is the body of
// POST /2/chat/conversations/{id}/read.
type MarkChatConversationReadRequest struct {
	SeenUntilSequenceID string `json:"seen_until_sequence_id"`
}

// SuccessData is the {"success":bool} data shared by the read, typing and
// media finalize responses.
type SuccessData struct {
	Success bool `json:"success"`
}

// MarkChatConversationReadResponse is the body of
// POST /2/chat/conversations/{id}/read.
type MarkChatConversationReadResponse struct {
	Data   *SuccessData `json:"data,omitempty"`
	Errors []Problem    `json:"errors,omitempty"`
}

// SendChatTypingIndicatorResponse is the body of
// POST /2/chat/conversations/{id}/typing (the request has no body).
type SendChatTypingIndicatorResponse struct {
	Data   *SuccessData `json:"data,omitempty"`
	Errors []Problem    `json:"errors,omitempty"`
}
