package event

import (
	"path/filepath"
	"strings"
	"time"
)

// Kind names the variant of an event's detail (MessageEventDetail).
type Kind int

// Event kinds, one per MessageEventDetail variant.
const (
	// KindUnknown is an event with no detail or an unrecognised variant.
	KindUnknown Kind = iota
	// KindMessage is a MessageCreateEvent (Event.Message).
	KindMessage
	// KindKeyChange is a ConversationKeyChangeEvent (Event.KeyChange).
	KindKeyChange
	// KindGroupChange is a GroupChangeEvent (Event.GroupChange).
	KindGroupChange
	// KindFailure is a MessageFailureEvent (Event.Failure); unsigned.
	KindFailure
	// KindTyping is a MessageTypingEvent (Event.Typing); unsigned. It is
	// handed over and never stored: its sequence id is the server's and
	// names no stored event (often one that holds another).
	KindTyping
	// KindDelete is a MessageDeleteEvent (Event.Delete).
	KindDelete
	// KindConversationDelete is a ConversationDeleteEvent
	// (Event.ConversationDelete).
	KindConversationDelete
	// KindMetadataChange is a ConversationMetadataChangeEvent
	// (Event.MetadataChange).
	KindMetadataChange
	// KindGrok is a GrokSearchResponseEvent (Event.Grok); unsigned.
	KindGrok
	// KindMarkRead is a MarkConversationReadEvent (Event.MarkRead).
	KindMarkRead
	// KindMarkUnread is a MarkConversationUnreadEvent (Event.MarkUnread).
	KindMarkUnread
	// KindMemberAccountDelete is a MemberAccountDeleteEvent
	// (Event.MemberAccountDelete); unsigned.
	KindMemberAccountDelete
)

var kindNames = [...]string{
	KindUnknown:             "unknown",
	KindMessage:             "message",
	KindKeyChange:           "key_change",
	KindGroupChange:         "group_change",
	KindFailure:             "failure",
	KindTyping:              "typing",
	KindDelete:              "delete",
	KindConversationDelete:  "conversation_delete",
	KindMetadataChange:      "metadata_change",
	KindGrok:                "grok",
	KindMarkRead:            "mark_read",
	KindMarkUnread:          "mark_unread",
	KindMemberAccountDelete: "member_account_delete",
}

// String returns the snake_case name of the kind ("message", "key_change", …).
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Signed reports whether events of this kind must carry a sender signature.
// Failure, typing, Grok and member-account-delete events are unsigned by
// protocol: they are returned with Verified false and no error, and must be
// treated as server assertions.
func (k Kind) Signed() bool {
	switch k {
	case KindMessage, KindKeyChange, KindGroupChange, KindDelete, KindConversationDelete,
		KindMetadataChange, KindMarkRead, KindMarkUnread:
		return true
	}
	return false
}

// Event is one decoded server event. The header fields are unsigned server
// metadata except MessageID, SenderID and ConversationID, which signed kinds
// bind into their signature. Exactly one detail pointer matching Kind is set
// when the detail could be decoded; for a message whose verification or
// decryption failed, Message is nil.
type Event struct {
	// SequenceID is the server-assigned position in the conversation.
	SequenceID string
	// PreviousSequenceID is the sequence id the server claims precedes this
	// event (the engine checks the chain: see Anomaly).
	PreviousSequenceID string
	// MessageID is the client-minted id bound into the signature.
	MessageID string
	// SenderID is the user id of the author.
	SenderID string
	// ConversationID is "a:b" for one-to-one or "g<digits>" for groups.
	ConversationID string
	// CreatedAt is the server timestamp (zero when absent or malformed).
	CreatedAt time.Time
	// Raw is the encoded Thrift MessageEvent exactly as received (decoded
	// from base64).
	Raw []byte

	// Kind selects the detail field below.
	Kind Kind
	// Verified is true only when the event's signature verified under the
	// sender's pinned signing key (and, for a message, decryption and
	// parsing succeeded). Unsigned kinds are never Verified.
	Verified bool
	// Err is why the event could not be decoded, verified, decrypted or
	// applied (errors.Is against package session's sentinels); nil
	// otherwise. An event with Err set took no effect.
	Err error
	// Signature describes the signature the event carried (nil if none).
	Signature *SignatureInfo
	// Warnings lists non-fatal findings, e.g. that the signing key the
	// server embedded differs from the pinned one (xchat.ErrSignature).
	Warnings []error
	// Reopened marks a message handed to the application a second time:
	// it was stored failed for want of its key version alone (the server
	// served it and withheld the key change that distributes its key) and
	// a later sync or push served that key change, which opened it (see
	// session.Engine.Sync). It is then Verified, and replaces the failed
	// entry at its sequence id. It also marks a group create read before
	// its paired key change (not stored then) and the group changes read
	// meanwhile that failed as read before any roster, opened once a later
	// sync stored the pair and bound the create (see package session's
	// latebind.go). Never set otherwise; never stored.
	Reopened bool

	Message             *Message             // KindMessage
	KeyChange           *KeyChange           // KindKeyChange
	GroupChange         *GroupChange         // KindGroupChange
	Failure             *Failure             // KindFailure
	Typing              *Typing              // KindTyping
	Delete              *Delete              // KindDelete
	ConversationDelete  *ConversationDelete  // KindConversationDelete
	MetadataChange      *MetadataChange      // KindMetadataChange
	Grok                *Grok                // KindGrok
	MarkRead            *MarkRead            // KindMarkRead
	MarkUnread          *MarkUnread          // KindMarkUnread
	MemberAccountDelete *MemberAccountDelete // KindMemberAccountDelete
}

// Text returns the text of a verified text message or edit, or "".
func (e *Event) Text() string {
	if e == nil || e.Message == nil || !e.Verified {
		return ""
	}
	switch e.Message.Kind {
	case ContentText:
		if e.Message.Text != nil {
			return e.Message.Text.Text
		}
	case ContentEdit:
		if e.Message.Edit != nil {
			return e.Message.Edit.Text
		}
	}
	return ""
}

// SignatureInfo describes an event's MessageEventSignature. The embedded
// signing key is recorded for comparison only.
type SignatureInfo struct {
	// PublicKeyVersion is the signer's key version the signature names.
	PublicKeyVersion string
	// Version is the signature_version (0 when absent: treated as current).
	Version int
	// EmbeddedKey is the signing_public_key the server attached (SPKI or
	// SEC1 bytes as sent; nil if absent). Never used for verification.
	EmbeddedKey []byte
}

// ContentKind names the variant of a decrypted MessageEntryContents.
type ContentKind int

// Decrypted content kinds.
const (
	ContentUnknown              ContentKind = iota // no or unrecognised entry
	ContentText                                    // Message.Text
	ContentReactionAdd                             // Message.Reaction
	ContentReactionRemove                          // Message.Reaction
	ContentEdit                                    // Message.Edit
	ContentMarkRead                                // Message.ReadMarker
	ContentMarkUnread                              // Message.ReadMarker
	ContentPin                                     // Message.Pin
	ContentUnpin                                   // Message.Pin
	ContentScreenCapture                           // Message.ScreenCapture
	ContentCallEnded                               // Message.Call
	ContentCallMissed                              // Message.Call
	ContentCallStarted                             // Message.Call
	ContentDraft                                   // Message.Draft
	ContentAcceptMessageRequest                    // no detail
	ContentNickname                                // Message.Nickname
	ContentSetVerifiedStatus                       // Message.VerifiedStatus
)

var contentNames = [...]string{
	ContentUnknown:              "unknown",
	ContentText:                 "text",
	ContentReactionAdd:          "reaction_add",
	ContentReactionRemove:       "reaction_remove",
	ContentEdit:                 "edit",
	ContentMarkRead:             "mark_read",
	ContentMarkUnread:           "mark_unread",
	ContentPin:                  "pin",
	ContentUnpin:                "unpin",
	ContentScreenCapture:        "screen_capture",
	ContentCallEnded:            "call_ended",
	ContentCallMissed:           "call_missed",
	ContentCallStarted:          "call_started",
	ContentDraft:                "draft",
	ContentAcceptMessageRequest: "accept_message_request",
	ContentNickname:             "nickname",
	ContentSetVerifiedStatus:    "set_verified_status",
}

// String returns the snake_case name of the content kind.
func (k ContentKind) String() string {
	if k >= 0 && int(k) < len(contentNames) {
		return contentNames[k]
	}
	return "unknown"
}

// Message is a verified, decrypted MessageCreateEvent. The pointer matching
// Kind is set.
type Message struct {
	// KeyVersion is the conversation key version the contents were sealed
	// under.
	KeyVersion string
	// ShouldNotify is the push-notification hint (true if unset). Not
	// covered by the signature: the server can flip it.
	ShouldNotify bool
	// TTL is the disappearing-message lifetime (0 if unset). Not covered by
	// the signature: the server can add, change or strip it (the XDK reports
	// it as-is too); compare with the conversation's signed duration
	// setting before relying on it.
	TTL time.Duration
	// IsMessageRequest is the server's message-request flag (unsigned).
	IsMessageRequest bool
	// Kind selects the content field below.
	Kind ContentKind

	Text           *TextMessage    // ContentText
	Reaction       *Reaction       // ContentReactionAdd, ContentReactionRemove
	Edit           *Edit           // ContentEdit
	ReadMarker     *ReadMarker     // ContentMarkRead, ContentMarkUnread
	Pin            *Pin            // ContentPin, ContentUnpin
	ScreenCapture  *ScreenCapture  // ContentScreenCapture
	Call           *Call           // ContentCallStarted, ContentCallEnded, ContentCallMissed
	Draft          *Draft          // ContentDraft
	Nickname       *Nickname       // ContentNickname
	VerifiedStatus *VerifiedStatus // ContentSetVerifiedStatus
}

// TextMessage is a chat message.
type TextMessage struct {
	Text        string
	Entities    []Entity
	Attachments []Attachment
	// ReplyPreview is the quoted message, nil when not a reply. Its claims
	// are only trustworthy when ReplyPreview.Validation.Status is
	// PreviewValid.
	ReplyPreview *ReplyPreview
	// Forwarded is the forwarded message body, if any (unauthenticated
	// claim of the sender).
	Forwarded *Forwarded
	// SentFrom is the composer surface code (0 if unset).
	SentFrom int32
	// QuickReply carries quick-reply options or a selection, if any.
	QuickReply *QuickReply
	// CallsToAction are link buttons attached by the sender.
	CallsToAction []CallToAction
	// AdditionalFields are free-form key/value pairs.
	AdditionalFields map[string]string
}

// EntityType names the kind of a rich-text span.
type EntityType int

// Rich-text entity types (RichTextContent variants).
const (
	EntityUnknown EntityType = iota
	EntityHashtag
	EntityCashtag
	EntityMention
	EntityURL
	EntityEmail
	EntityAddress
	EntityPhoneNumber
)

var entityNames = [...]string{"unknown", "hashtag", "cashtag", "mention", "url", "email", "address", "phone_number"}

// String returns the snake_case entity type name.
func (t EntityType) String() string {
	if t >= 0 && int(t) < len(entityNames) {
		return entityNames[t]
	}
	return "unknown"
}

// Entity is a typed span [Start, End) of a message text.
type Entity struct {
	Start, End int32
	Type       EntityType
}

// AttachmentKind names the variant of an attachment.
type AttachmentKind int

// Attachment kinds (MessageAttachment variants).
const (
	AttachmentUnknown AttachmentKind = iota
	AttachmentMedia
	AttachmentPost
	AttachmentURL
	AttachmentUnifiedCard
	AttachmentMoney
	AttachmentJetfuel
)

// Attachment is one message attachment; the field matching Kind is set.
type Attachment struct {
	Kind        AttachmentKind
	Media       *MediaAttachment
	Post        *PostAttachment
	URL         *URLAttachment
	UnifiedCard *UnifiedCardAttachment
	Money       *MoneyAttachment
	Jetfuel     *JetfuelAttachment
}

// MediaType is the MediaAttachment type code.
type MediaType int32

// Media types.
const (
	MediaImage MediaType = 1
	MediaGIF   MediaType = 2
	MediaVideo MediaType = 3
	MediaAudio MediaType = 4
	MediaFile  MediaType = 5
	MediaSVG   MediaType = 6
)

// MediaTypeOf guesses a file's media type from its name's extension:
// MediaFile when the extension names no image, GIF, video or audio.
func MediaTypeOf(name string) MediaType {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg", ".webp", ".heic":
		return MediaImage
	case ".gif":
		return MediaGIF
	case ".mp4", ".mov", ".webm", ".m4v":
		return MediaVideo
	case ".mp3", ".m4a", ".ogg", ".wav", ".aac", ".opus":
		return MediaAudio
	}
	return MediaFile
}

// MediaAttachment references encrypted media uploaded through the chat media
// endpoints (decrypt with the conversation key, secretstream).
type MediaAttachment struct {
	MediaHashKey          string
	Width, Height         int64
	Type                  MediaType // 0 if unset
	DurationMillis        int64
	FilesizeBytes         int64
	Filename              string
	AttachmentID          string
	LegacyMediaURLHTTPS   string
	LegacyMediaPreviewURL string
	GrokTag               string
}

// PostAttachment references a post.
type PostAttachment struct {
	RestID, PostURL, AttachmentID string
}

// URLAttachment is a link preview.
type URLAttachment struct {
	URL          string
	Banner       *URLImage
	Favicon      *URLImage
	DisplayTitle string
	AttachmentID string
}

// URLImage is an image of a link preview.
type URLImage struct {
	MediaHashKey  string
	FilesizeBytes int64
	Filename      string
	Width, Height int64
}

// UnifiedCardAttachment references a card.
type UnifiedCardAttachment struct {
	URL, AttachmentID string
}

// MoneyAttachment is a payment attachment.
type MoneyAttachment struct {
	FallbackText string
	Payload      []byte
}

// JetfuelAttachment is a Jetfuel card.
type JetfuelAttachment struct {
	Height       int32
	URL          string
	AttachmentID string
}

// Forwarded is a forwarded message body.
type Forwarded struct {
	Text     string
	Entities []Entity
}

// QuickReply carries a quick-reply request (Options) or a response.
type QuickReply struct {
	// RequestID identifies the request (request) or the answered request
	// (response).
	RequestID string
	// Options are the offered options (request only).
	Options []QuickReplyOption
	// SelectedOptionID and Metadata describe a response.
	SelectedOptionID string
	Metadata         string
	// IsResponse distinguishes a response from a request.
	IsResponse bool
}

// QuickReplyOption is one offered quick reply.
type QuickReplyOption struct {
	ID, Label, Metadata, Description string
}

// CallToAction is a link button.
type CallToAction struct {
	Label, URL string
}

// Reaction adds or removes an emoji on a message.
type Reaction struct {
	// TargetSequenceID is the sequence id of the message reacted to.
	TargetSequenceID string
	Emoji            string
	// TargetAttachmentID narrows the reaction to one attachment, if set.
	TargetAttachmentID string
}

// Edit replaces the text of an earlier message.
type Edit struct {
	TargetSequenceID string
	Text             string
	Entities         []Entity
}

// ReadMarker is an encrypted mark-read / mark-unread entry.
type ReadMarker struct {
	SeenUntilSequenceID string
	SeenAtMillis        int64
}

// Pin is an encrypted pin / unpin entry.
type Pin struct {
	ConversationID string
}

// ScreenCapture reports a screenshot (1) or recording (2).
type ScreenCapture struct {
	Type int32
}

// Call is an audio/video call card.
type Call struct {
	AudioOnly       bool
	BroadcastID     string
	SentAtMillis    int64
	DurationSeconds int64
}

// Draft is a synced draft.
type Draft struct {
	ConversationID, Text string
}

// Nickname sets a nickname for a user.
type Nickname struct {
	UserID int64
	Text   string
}

// VerifiedStatus marks a user as verified or not in this conversation.
type VerifiedStatus struct {
	UserID   int64
	Verified bool
}

// PreviewStatus is the outcome of reply-preview validation.
type PreviewStatus int

const (
	// PreviewNotValidated means the preview embeds no raw source event, so
	// there is nothing to check (older clients); its claims are unverified.
	PreviewNotValidated PreviewStatus = iota
	// PreviewValid means every claim matched the verified, decrypted source.
	PreviewValid
	// PreviewInvalid means a claim or the source failed; see Reason.
	PreviewInvalid
)

// String returns "none", "valid" or "invalid".
func (s PreviewStatus) String() string {
	switch s {
	case PreviewValid:
		return "valid"
	case PreviewInvalid:
		return "invalid"
	}
	return "none"
}

// PreviewValidation is the outcome of checking a reply preview against its
// embedded signed source event.
type PreviewValidation struct {
	Status PreviewStatus
	// Reason says why Status is PreviewInvalid (or why a preview stays
	// PreviewNotValidated): for display; act on Status.
	Reason error
	// SourceMessageID is the quoted message's id as its embedded event
	// signs it (set once that signature verified). The sequence ids a
	// preview carries are not signed by anybody: a caller holding the
	// conversation binds the preview to the quoted message through this id
	// (the session engine does).
	SourceMessageID string
	// EditTargetSequenceID is the sequence id the embedded edit event names
	// as its target, signed by the quoted message's author ("" without an
	// edit). The edit belongs to the quoted message only if that message
	// is stored under this sequence id.
	EditTargetSequenceID string
}

// ReplyPreview is the quoted message of a reply, as claimed by the replier.
type ReplyPreview struct {
	SenderID          string // "" if unset
	Text              string
	HasText           bool
	Entities          []Entity
	Attachments       []Attachment
	SenderDisplayName string
	SequenceID        string
	MessageID         string
	AttachmentID      string
	// HasSourceEvent reports an embedded raw source event.
	HasSourceEvent bool
	// HasEditEvent reports an embedded raw edit event.
	HasEditEvent bool
	// Validation is the check result; only PreviewValid claims are
	// authentic. Navigate by MessageID (signed), not SequenceID (unsigned).
	Validation PreviewValidation
}

var attachmentNames = [...]string{"unknown", "media", "post", "url", "unified_card", "money", "jetfuel"}

// String returns the snake_case attachment kind name.
func (k AttachmentKind) String() string {
	if k >= 0 && int(k) < len(attachmentNames) {
		return attachmentNames[k]
	}
	return "unknown"
}

// String returns "image", "gif", "video", "audio", "file", "svg" or
// "unknown".
func (t MediaType) String() string {
	names := [...]string{"unknown", "image", "gif", "video", "audio", "file", "svg"}
	if t >= 0 && int(t) < len(names) {
		return names[t]
	}
	return "unknown"
}
