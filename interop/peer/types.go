package peer

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Registration is the result of generateKeypairs: the registration payload
// for POST /2/users/{id}/public_keys in the SDK's camelCase form.
type Registration struct {
	PublicKey       RegistrationKeys `json:"publicKey"`
	Version         string           `json:"version"`         // Date.now() in ms, decimal
	GenerateVersion bool             `json:"generateVersion"` // always true from the SDK
}

// RegistrationKeys holds the public half of a registration. Keys are
// SPKI/DER, standard base64 with padding; signatures are raw r||s, standard
// base64 with padding; the fingerprint is base64url without padding.
type RegistrationKeys struct {
	PublicKey                  string `json:"publicKey"`                  // identity key, SPKI
	SigningPublicKey           string `json:"signingPublicKey"`           // signing key, SPKI
	IdentityPublicKeySignature string `json:"identityPublicKeySignature"` // signing key over identity SPKI
	SigningPublicKeySignature  string `json:"signingPublicKeySignature"`  // identity key over signing SPKI
	PublicKeyFingerprint       string `json:"publicKeyFingerprint"`       // b64url(SHA-256(identity SPKI))
	RegistrationMethod         string `json:"registrationMethod"`         // "CustomPin"
}

// PublicKeys is getPublicKeys: raw 65-byte SEC1 points, standard base64.
type PublicKeys struct {
	Identity string `json:"identity"`
	Signing  string `json:"signing"`
	Version  string `json:"version"`
}

// PublicKeyInput is one participant's identity key as the prepare methods
// take it (the X API's public key list).
type PublicKeyInput struct {
	UserID     string `json:"userId"`
	PublicKey  string `json:"publicKey"` // identity key, SPKI base64
	KeyVersion string `json:"keyVersion"`
}

// SigningKeyEntry is one participant's signing key as the decrypt methods
// take it. All five fields are required by the SDK.
type SigningKeyEntry struct {
	UserID                     string `json:"userId"`
	PublicKeyVersion           string `json:"publicKeyVersion"`
	PublicKey                  string `json:"publicKey"` // signing key, SPKI or SEC1 base64
	IdentityPublicKey          string `json:"identityPublicKey"`
	IdentityPublicKeySignature string `json:"identityPublicKeySignature"`
}

// SigningKeyEntryFor builds the SigningKeyEntry for a registration.
func SigningKeyEntryFor(userID string, r *Registration) SigningKeyEntry {
	return SigningKeyEntry{
		UserID:                     userID,
		PublicKeyVersion:           r.Version,
		PublicKey:                  r.PublicKey.SigningPublicKey,
		IdentityPublicKey:          r.PublicKey.PublicKey,
		IdentityPublicKeySignature: r.PublicKey.IdentityPublicKeySignature,
	}
}

// PublicKeyInputFor builds the PublicKeyInput for a registration.
func PublicKeyInputFor(userID string, r *Registration) PublicKeyInput {
	return PublicKeyInput{UserID: userID, PublicKey: r.PublicKey.PublicKey, KeyVersion: r.Version}
}

// ParticipantKey is a conversation key wrapped for one participant.
type ParticipantKey struct {
	UserID           string `json:"userId"`
	EncryptedKey     string `json:"encryptedKey"` // ECIES blob, standard base64 with padding
	PublicKeyVersion string `json:"publicKeyVersion"`
}

// ActionSignature is a signed action (key change, group change, delete).
type ActionSignature struct {
	MessageID                 string `json:"messageId"`
	EncodedMessageEventDetail string `json:"encodedMessageEventDetail"` // Thrift MessageEventDetail, base64
	Signature                 string `json:"signature"`                 // r||s, base64 without padding
	SignatureVersion          string `json:"signatureVersion"`
	PublicKeyVersion          string `json:"publicKeyVersion"`
	SignaturePayload          string `json:"signaturePayload,omitempty"` // absent for key changes
}

// PreparedChange is the result of the three prepare methods.
type PreparedChange struct {
	ConversationID         string            `json:"conversationId"`
	ConversationKey        []byte            `json:"conversationKey"`
	ConversationKeyVersion string            `json:"conversationKeyVersion"`
	ParticipantKeys        []ParticipantKey  `json:"participantKeys"`
	ActionSignatures       []ActionSignature `json:"actionSignatures"`
}

// SignatureInfo describes the signature of a SendPayload.
type SignatureInfo struct {
	PublicKeyVersion string `json:"publicKeyVersion"`
	SignatureVersion string `json:"signatureVersion"`
}

// SendPayload is the result of the encrypt* methods: the body of
// POST /2/chat/conversations/{id}/messages.
type SendPayload struct {
	MessageID              string        `json:"messageId"`
	EncryptedContent       string        `json:"encryptedContent"`      // encoded_message_create_event
	Signature              string        `json:"signature"`             // r||s, base64 without padding
	EncodedEventSignature  string        `json:"encodedEventSignature"` // encoded_message_event_signature
	SignatureInfo          SignatureInfo `json:"signatureInfo"`
	ConversationKeyVersion string        `json:"conversationKeyVersion"`
	ShouldNotify           bool          `json:"shouldNotify"`
}

// Entity is an [start, end, "type"] tuple describing a span of text.
type Entity struct {
	Start, End int
	Type       string
}

// MarshalJSON encodes the entity as the SDK's tuple.
func (e Entity) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{e.Start, e.End, e.Type})
}

// UnmarshalJSON decodes the SDK's tuple.
func (e *Entity) UnmarshalJSON(b []byte) error {
	var t []json.RawMessage
	if err := json.Unmarshal(b, &t); err != nil {
		return fmt.Errorf("peer: entity: %w", err)
	}
	if len(t) != 3 {
		return errors.New("peer: entity: want [start, end, type]")
	}
	if err := json.Unmarshal(t[0], &e.Start); err != nil {
		return fmt.Errorf("peer: entity start: %w", err)
	}
	if err := json.Unmarshal(t[1], &e.End); err != nil {
		return fmt.Errorf("peer: entity end: %w", err)
	}
	if err := json.Unmarshal(t[2], &e.Type); err != nil {
		return fmt.Errorf("peer: entity type: %w", err)
	}
	return nil
}

// KeyChangeParams are prepareConversationKeyChange's parameters.
type KeyChangeParams struct {
	PublicKeys        []PublicKeyInput `json:"publicKeys"`
	SenderID          string           `json:"senderId,omitempty"`
	SigningKeyVersion string           `json:"signingKeyVersion,omitempty"`
	ConversationID    string           `json:"conversationId,omitempty"` // omit for a 1:1
}

// GroupCreateParams are prepareGroupCreate's parameters.
type GroupCreateParams struct {
	PublicKeys        []PublicKeyInput `json:"publicKeys"`
	ConversationID    string           `json:"conversationId"`
	MemberIDs         []string         `json:"memberIds"`
	AdminIDs          []string         `json:"adminIds"`
	SenderID          string           `json:"senderId,omitempty"`
	SigningKeyVersion string           `json:"signingKeyVersion,omitempty"`
	Title             *string          `json:"title,omitempty"`
	AvatarURL         *string          `json:"avatarUrl,omitempty"`
	TTLMsec           *int64           `json:"ttlMsec,omitempty"`
}

// GroupMembersChangeParams are prepareGroupMembersChange's parameters.
type GroupMembersChangeParams struct {
	PublicKeys                          []PublicKeyInput `json:"publicKeys"`
	ConversationID                      string           `json:"conversationId"`
	NewMemberIDs                        []string         `json:"newMemberIds"`
	CurrentMemberIDs                    []string         `json:"currentMemberIds"`
	CurrentAdminIDs                     []string         `json:"currentAdminIds"`
	CurrentPendingMemberIDs             []string         `json:"currentPendingMemberIds"`
	SenderID                            string           `json:"senderId,omitempty"`
	SigningKeyVersion                   string           `json:"signingKeyVersion,omitempty"`
	CurrentTitle                        *string          `json:"currentTitle,omitempty"`
	CurrentAvatarURL                    *string          `json:"currentAvatarUrl,omitempty"`
	CurrentTTLMsec                      *int64           `json:"currentTtlMsec,omitempty"`
	CurrentScreenCaptureBlockingEnabled *bool            `json:"currentScreenCaptureBlockingEnabled,omitempty"`
}

// MessageDeleteParams are prepareMessageDelete's parameters.
type MessageDeleteParams struct {
	ConversationID    string   `json:"conversationId"`
	SequenceIDs       []string `json:"sequenceIds"`
	DeleteForAll      bool     `json:"deleteForAll"`
	SenderID          string   `json:"senderId,omitempty"`
	SigningKeyVersion string   `json:"signingKeyVersion,omitempty"`
}

// MessageParams are encryptMessage's parameters.
type MessageParams struct {
	ConversationID         string            `json:"conversationId"`
	Text                   string            `json:"text"`
	SenderID               string            `json:"senderId,omitempty"`
	SigningKeyVersion      string            `json:"signingKeyVersion,omitempty"`
	ConversationKey        []byte            `json:"conversationKey,omitempty"`
	ConversationKeyVersion string            `json:"conversationKeyVersion,omitempty"`
	Entities               []Entity          `json:"entities,omitempty"`
	Attachments            []json.RawMessage `json:"attachments,omitempty"`
	ShouldNotify           *bool             `json:"shouldNotify,omitempty"`
	TTLMsec                *int64            `json:"ttlMsec,omitempty"`
}

// MessageContent is the decrypted content of a message event. The SDK
// writes these keys in snake_case.
type MessageContent struct {
	ContentType       string          `json:"content_type"` // text, edit, reaction, reactionRemoved, …
	Text              string          `json:"text,omitempty"`
	NewText           string          `json:"new_text,omitempty"`
	Emoji             string          `json:"emoji,omitempty"`
	TargetMessageID   string          `json:"target_message_id,omitempty"` // the target's sequence id
	Entities          json.RawMessage `json:"entities,omitempty"`
	Attachments       json.RawMessage `json:"attachments,omitempty"`
	ReplyingToPreview json.RawMessage `json:"replying_to_preview,omitempty"`
}

// Event is a decrypted event as the SDK reports it. Raw keeps the whole
// JSON object for fields not modelled here.
type Event struct {
	Type                   string           `json:"type"` // message, keyChange, groupChange, messageDeleted, unknown, …
	SequenceID             string           `json:"sequenceId"`
	ID                     string           `json:"id"` // message_id
	SenderID               string           `json:"senderId"`
	ConversationID         string           `json:"conversationId"`
	CreatedAtMsec          int64            `json:"createdAtMsec"`
	Content                *MessageContent  `json:"content,omitempty"`
	Verified               bool             `json:"verified"`
	KeyVersion             string           `json:"keyVersion,omitempty"`
	ParticipantKeys        []ParticipantKey `json:"participantKeys,omitempty"`
	ReplyPreviewValidation string           `json:"replyPreviewValidation,omitempty"`
	ShouldNotify           *bool            `json:"shouldNotify,omitempty"`
	TTLMsec                *int64           `json:"ttlMsec,omitempty"`
	Change                 json.RawMessage  `json:"change,omitempty"`
	MessageIDs             []string         `json:"messageIds,omitempty"` // messageDeleted: sequence ids
	DeleteForAll           *bool            `json:"deleteForAll,omitempty"`
	Raw                    json.RawMessage  `json:"-"`
}

// UnmarshalJSON decodes the event and keeps the raw object in Raw.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*e = Event(p)
	e.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// ConversationKeys is the SDK's ConversationKeyResult.
type ConversationKeys struct {
	Keys          map[string][]byte `json:"keys"` // version -> 32-byte key
	LatestVersion string            `json:"latestVersion"`
}

// DecryptedMessage is one successfully processed event of a batch.
type DecryptedMessage struct {
	Event       Event  `json:"event"`
	OriginalB64 string `json:"originalB64"`
}

// DecryptEventsResult is the result of decryptEvents. Errors maps the
// index of each failed input event (decimal string) to its error message;
// failed events are absent from Messages.
type DecryptEventsResult struct {
	Messages         []DecryptedMessage `json:"messages"`
	ConversationKeys ConversationKeys   `json:"conversationKeys"`
	Errors           map[string]string  `json:"errors"`
}

// EventSignature is a MessageEventSignature given field by field to
// BuildMessageEvent.
type EventSignature struct {
	Signature        *string `json:"signature,omitempty"`
	PublicKeyVersion *string `json:"publicKeyVersion,omitempty"`
	SignatureVersion *string `json:"signatureVersion,omitempty"`
	SigningPublicKey *string `json:"signingPublicKey,omitempty"`
}

// EnvelopeParams describe a server-side MessageEvent envelope for
// BuildMessageEvent. Exactly one of DetailB64 / MessageCreateEventB64 and at
// most one of SignatureB64 / Signature should be set.
type EnvelopeParams struct {
	SequenceID            string          `json:"sequenceId,omitempty"`
	MessageID             string          `json:"messageId,omitempty"`
	SenderID              string          `json:"senderId,omitempty"`
	ConversationID        string          `json:"conversationId,omitempty"`
	ConversationToken     string          `json:"conversationToken,omitempty"`
	CreatedAtMsec         string          `json:"createdAtMsec,omitempty"`
	DetailB64             string          `json:"detailB64,omitempty"`             // encoded MessageEventDetail union
	MessageCreateEventB64 string          `json:"messageCreateEventB64,omitempty"` // wrapped as union field 1
	SignatureB64          string          `json:"signatureB64,omitempty"`          // encoded MessageEventSignature
	Signature             *EventSignature `json:"signature,omitempty"`
	PreviousSequenceID    string          `json:"previousSequenceId,omitempty"`
	IsTrusted             *bool           `json:"isTrusted,omitempty"`
	RelaySource           *int32          `json:"relaySource,omitempty"`
}

// StreamResult is the output of the incremental stream ops: what each push
// returned, then what finish returned.
type StreamResult struct {
	Parts [][]byte `json:"parts"`
	Final []byte   `json:"final"`
}
