package api

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// DefaultBaseURL is the X API origin used when no base URL is configured.
const DefaultBaseURL = "https://api.x.com"

// Identifier patterns from the specification.
const (
	// ConversationIDPattern accepts a recipient user id (1:1), a legacy
	// "uid-uid" 1:1 conversation id, or a "g"-prefixed group id.
	ConversationIDPattern = `^([0-9]{1,19}|[0-9]{1,19}-[0-9]{1,19}|g[0-9]{1,19})$`
	// UserIDPattern is the pattern of user ids, DM event ids, public key ids
	// and media ids.
	UserIDPattern = `^[0-9]{1,19}$`
	// DmConversationIDPattern is the pattern of legacy DM conversation ids
	// in GET /2/dm_conversations/{id}/dm_events.
	DmConversationIDPattern = `^([0-9]{1,19}-[0-9]{1,19}|[0-9]{15,19})$`
	// MediaHashKeyPattern is the pattern of Chat media hash keys.
	MediaHashKeyPattern = `^[a-zA-Z0-9]{1,50}$`
	// SignaturePattern is the pattern of signatures and encoded event details
	// inside action signatures (standard or URL-safe base64).
	SignaturePattern = `^[A-Za-z0-9+/=_-]+$`
	// VersionPattern is the pattern of public_key_version and
	// signature_version inside message event signatures.
	VersionPattern = `^[0-9]+$`
)

var (
	conversationIDRE   = regexp.MustCompile(ConversationIDPattern)
	userIDRE           = regexp.MustCompile(UserIDPattern)
	dmConversationIDRE = regexp.MustCompile(DmConversationIDPattern)
	mediaHashKeyRE     = regexp.MustCompile(MediaHashKeyPattern)
	signatureRE        = regexp.MustCompile(SignaturePattern)
	versionRE          = regexp.MustCompile(VersionPattern)
)

// Ranges and limits from the specification.
const (
	// ChatConversationsMaxResultsMin..Max bound max_results of
	// GetChatConversations; the server default is ChatConversationsMaxResultsDefault.
	ChatConversationsMaxResultsMin     = 1
	ChatConversationsMaxResultsMax     = 100
	ChatConversationsMaxResultsDefault = 10

	// ChatEventsMaxResultsMin..Max bound max_results of
	// GetChatConversationEvents; the server default is ChatEventsMaxResultsDefault.
	ChatEventsMaxResultsMin     = 1
	ChatEventsMaxResultsMax     = 100
	ChatEventsMaxResultsDefault = 10

	// DmEventsMaxResultsMin..Max bound max_results of the three legacy DM
	// event lists; the server default is DmEventsMaxResultsDefault.
	DmEventsMaxResultsMin     = 1
	DmEventsMaxResultsMax     = 100
	DmEventsMaxResultsDefault = 100

	// DmPaginationTokenMinLength is the minimum length of pagination_token
	// on the legacy DM event lists.
	DmPaginationTokenMinLength = 16

	// PublicKeysMaxIDs is the maximum number of ids in one batch public key
	// lookup (GET /2/users/public_keys).
	PublicKeysMaxIDs = 100

	// DmGroupParticipantsMin..Max bound participant_ids of
	// POST /2/dm_conversations.
	DmGroupParticipantsMin = 2
	DmGroupParticipantsMax = 49

	// MaxSegmentIndex is the largest segment_index of a media append.
	MaxSegmentIndex = 999
)

// ErrInvalidInput is matched (errors.Is) by every *ValidationError.
var ErrInvalidInput = errors.New("api: invalid input")

// ValidationError reports an argument rejected before any request was sent.
type ValidationError struct {
	Field  string // what was checked, e.g. "conversation id"
	Value  string // the offending value, truncated; empty for secrets
	Reason string
}

// Error implements error.
func (e *ValidationError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("api: invalid %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("api: invalid %s %q: %s", e.Field, e.Value, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidInput }

func invalid(field, value, reason string) error {
	const maxShown = 64
	if len(value) > maxShown {
		value = value[:maxShown] + "..."
	}
	return &ValidationError{Field: field, Value: value, Reason: reason}
}

func checkPattern(re *regexp.Regexp, field, pattern, v string) error {
	if v == "" {
		return invalid(field, "", "must not be empty")
	}
	if !re.MatchString(v) {
		return invalid(field, v, "must match "+pattern)
	}
	return nil
}

// ConversationPathID returns the form of a conversation id that the API's
// paths and request bodies take: the canonical one-to-one id "A:B" (the
// form events carry and signatures cover, see session.CanonicalID) becomes
// "A-B"; a group id, or an id already in path form, is returned unchanged.
func ConversationPathID(canonical string) string {
	return strings.Replace(canonical, ":", "-", 1)
}

// ValidateConversationID checks a Chat conversation id (or 1:1 recipient id)
// against ConversationIDPattern.
func ValidateConversationID(id string) error {
	return checkPattern(conversationIDRE, "conversation id", ConversationIDPattern, id)
}

// ValidateUserID checks a user id against UserIDPattern.
func ValidateUserID(id string) error {
	return checkPattern(userIDRE, "user id", UserIDPattern, id)
}

// ValidateDmEventID checks a legacy DM event id against UserIDPattern.
func ValidateDmEventID(id string) error {
	return checkPattern(userIDRE, "dm event id", UserIDPattern, id)
}

// ValidateDmConversationID checks a legacy DM conversation id against
// DmConversationIDPattern.
func ValidateDmConversationID(id string) error {
	return checkPattern(dmConversationIDRE, "dm conversation id", DmConversationIDPattern, id)
}

// ValidateMediaHashKey checks a Chat media hash key against
// MediaHashKeyPattern.
func ValidateMediaHashKey(k string) error {
	return checkPattern(mediaHashKeyRE, "media hash key", MediaHashKeyPattern, k)
}

// ValidateMediaID checks a numeric media (upload session) id.
func ValidateMediaID(id string) error {
	return checkPattern(userIDRE, "media id", UserIDPattern, id)
}

// ValidateSignature checks a base64 signature or encoded event detail
// against SignaturePattern.
func ValidateSignature(field, s string) error {
	return checkPattern(signatureRE, field, SignaturePattern, s)
}

// ValidateVersion checks a decimal version string against VersionPattern.
func ValidateVersion(field, v string) error {
	return checkPattern(versionRE, field, VersionPattern, v)
}

// ValidateMaxResults checks a max_results value; 0 means "not set" and is
// accepted.
func ValidateMaxResults(n, lo, hi int) error {
	if n == 0 {
		return nil
	}
	if n < lo || n > hi {
		return invalid("max_results", strconv.Itoa(n), fmt.Sprintf("must be in [%d, %d]", lo, hi))
	}
	return nil
}

// Operation describes one operation of the specification.
type Operation struct {
	ID      string   // operationId in the specification
	Method  string   // HTTP method
	Pattern string   // path template, with net/http ServeMux wildcards
	Scopes  []string // OAuth 2.0 scopes the operation requires
	// Idempotent reports whether the client may repeat the operation after
	// an ambiguous failure (a reset or timeout after the request left, a
	// 5xx answer): every GET and DELETE, and writes whose repetition is
	// harmless by their nature (read marks, block state). Every operation
	// is repeated when the connection could not be made or the answer was
	// 429, since the server did not act.
	//
	// Writes keyed by a client-minted message id (sendChatMessage,
	// addConversationKeys) are not: the specification does not promise that
	// the server de-duplicates a repeated message_id, so the engine looks
	// for the first attempt in the conversation before it sends again
	// (package session). chatMediaUploadAppend is: a segment is addressed
	// by its upload session and segment_index, so a repeat names the same
	// segment, the upload stays private until a message references it, and
	// a corrupted upload fails finalize's size check or the recipients'
	// authenticated decryption instead of producing different media.
	Idempotent bool
}

// Route returns the "METHOD /path" pattern for net/http.ServeMux.
func (o Operation) Route() string { return o.Method + " " + o.Pattern }

// The operations of the specification. The emulator registers its handlers
// with Route(); the client keys rate-limit state by ID.
var (
	OpGetChatConversations      = Operation{"getChatConversations", "GET", "/2/chat/conversations", []string{"dm.read", "users.read"}, true}
	OpCreateChatConversation    = Operation{"createChatConversation", "POST", "/2/chat/conversations/group", []string{"users.read", "dm.write", "tweet.read"}, false}
	OpInitializeChatGroup       = Operation{"initializeChatGroup", "POST", "/2/chat/conversations/group/initialize", []string{"dm.write"}, false}
	OpGetChatConversation       = Operation{"getChatConversation", "GET", "/2/chat/conversations/{id}", []string{"dm.read", "users.read", "tweet.read"}, true}
	OpGetChatConversationEvents = Operation{"getChatConversationEvents", "GET", "/2/chat/conversations/{id}/events", []string{"users.read", "dm.read", "tweet.read"}, true}
	OpAddConversationKeys       = Operation{"addConversationKeys", "POST", "/2/chat/conversations/{id}/keys", []string{"users.read", "dm.write", "tweet.read"}, false}
	OpAddChatGroupMembers       = Operation{"addChatGroupMembers", "POST", "/2/chat/conversations/{id}/members", []string{"tweet.read", "users.read", "dm.write"}, false}
	OpSendChatMessage           = Operation{"sendChatMessage", "POST", "/2/chat/conversations/{id}/messages", []string{"tweet.read", "users.read", "dm.write"}, false}
	OpDeleteChatMessages        = Operation{"deleteChatMessages", "POST", "/2/chat/conversations/{id}/messages/delete", []string{"tweet.read", "users.read", "dm.write"}, false}
	OpMarkChatConversationRead  = Operation{"markChatConversationRead", "POST", "/2/chat/conversations/{id}/read", []string{"tweet.read", "dm.write", "users.read"}, true}
	OpSendChatTypingIndicator   = Operation{"sendChatTypingIndicator", "POST", "/2/chat/conversations/{id}/typing", []string{"users.read", "dm.write", "tweet.read"}, false}
	OpChatMediaUploadInitialize = Operation{"chatMediaUploadInitialize", "POST", "/2/chat/media/upload/initialize", []string{"media.write"}, false}
	OpChatMediaUploadAppend     = Operation{"chatMediaUploadAppend", "POST", "/2/chat/media/upload/{id}/append", []string{"media.write"}, true}
	OpChatMediaUploadFinalize   = Operation{"chatMediaUploadFinalize", "POST", "/2/chat/media/upload/{id}/finalize", []string{"media.write"}, false}
	OpChatMediaDownload         = Operation{"chatMediaDownload", "GET", "/2/chat/media/{id}/{media_hash_key}", []string{"media.write"}, true}

	OpGetUsersPublicKeys = Operation{"getUsersPublicKeys", "GET", "/2/users/public_keys", []string{"dm.read", "tweet.read", "users.read"}, true}
	OpGetUsersPublicKey  = Operation{"getUsersPublicKey", "GET", "/2/users/{id}/public_keys", []string{"users.read", "tweet.read", "dm.read"}, true}
	OpAddUserPublicKey   = Operation{"addUserPublicKey", "POST", "/2/users/{id}/public_keys", []string{"tweet.read", "dm.write", "users.read"}, false}

	OpCreateDirectMessagesConversation        = Operation{"createDirectMessagesConversation", "POST", "/2/dm_conversations", []string{"users.read", "dm.write", "tweet.read"}, false}
	OpDmConversationsMediaDownload            = Operation{"dmConversationsMediaDownload", "GET", "/2/dm_conversations/media/{dm_id}/{media_id}/{resource_id}", []string{"dm.read"}, true}
	OpGetDirectMessagesEventsByParticipantID  = Operation{"getDirectMessagesEventsByParticipantId", "GET", "/2/dm_conversations/with/{participant_id}/dm_events", []string{"dm.read", "tweet.read", "users.read"}, true}
	OpCreateDirectMessagesByParticipantID     = Operation{"createDirectMessagesByParticipantId", "POST", "/2/dm_conversations/with/{participant_id}/messages", []string{"tweet.read", "dm.write", "users.read"}, false}
	OpCreateDirectMessagesByConversationID    = Operation{"createDirectMessagesByConversationId", "POST", "/2/dm_conversations/{dm_conversation_id}/messages", []string{"users.read", "tweet.read", "dm.write"}, false}
	OpGetDirectMessagesEventsByConversationID = Operation{"getDirectMessagesEventsByConversationId", "GET", "/2/dm_conversations/{id}/dm_events", []string{"users.read", "dm.read", "tweet.read"}, true}
	OpGetDirectMessagesEvents                 = Operation{"getDirectMessagesEvents", "GET", "/2/dm_events", []string{"users.read", "tweet.read", "dm.read"}, true}
	OpDeleteDirectMessagesEvents              = Operation{"deleteDirectMessagesEvents", "DELETE", "/2/dm_events/{event_id}", []string{"dm.read", "dm.write"}, true}
	OpGetDirectMessagesEventsByID             = Operation{"getDirectMessagesEventsById", "GET", "/2/dm_events/{event_id}", []string{"users.read", "tweet.read", "dm.read"}, true}
	OpBlockUsersDms                           = Operation{"blockUsersDms", "POST", "/2/users/{id}/dm/block", []string{"users.read", "dm.write", "tweet.read"}, true}
	OpUnblockUsersDms                         = Operation{"unblockUsersDms", "POST", "/2/users/{id}/dm/unblock", []string{"tweet.read", "users.read", "dm.write"}, true}
)

// Operations lists all 29 operations of the specification (the brief
// counted 28; the spec also has dmConversationsMediaDownload).
var Operations = []Operation{
	OpGetChatConversations, OpCreateChatConversation, OpInitializeChatGroup,
	OpGetChatConversation, OpGetChatConversationEvents, OpAddConversationKeys,
	OpAddChatGroupMembers, OpSendChatMessage, OpDeleteChatMessages,
	OpMarkChatConversationRead, OpSendChatTypingIndicator,
	OpChatMediaUploadInitialize, OpChatMediaUploadAppend, OpChatMediaUploadFinalize,
	OpChatMediaDownload,
	OpGetUsersPublicKeys, OpGetUsersPublicKey, OpAddUserPublicKey,
	OpCreateDirectMessagesConversation, OpDmConversationsMediaDownload,
	OpGetDirectMessagesEventsByParticipantID, OpCreateDirectMessagesByParticipantID,
	OpCreateDirectMessagesByConversationID, OpGetDirectMessagesEventsByConversationID,
	OpGetDirectMessagesEvents, OpDeleteDirectMessagesEvents, OpGetDirectMessagesEventsByID,
	OpBlockUsersDms, OpUnblockUsersDms,
}

// AllScopes is every OAuth 2.0 scope any operation needs, plus
// offline.access for refresh tokens.
var AllScopes = []string{"tweet.read", "users.read", "dm.read", "dm.write", "media.write", "offline.access"}

func esc(s string) string { return url.PathEscape(s) }

// Path builders. Arguments are path-escaped but not validated; the client
// validates before calling them.

// PathChatConversations is GET /2/chat/conversations.
func PathChatConversations() string { return "/2/chat/conversations" }

// PathChatGroup is POST /2/chat/conversations/group.
func PathChatGroup() string { return "/2/chat/conversations/group" }

// PathChatGroupInitialize is POST /2/chat/conversations/group/initialize.
func PathChatGroupInitialize() string { return "/2/chat/conversations/group/initialize" }

// PathChatConversation is GET /2/chat/conversations/{id}.
func PathChatConversation(id string) string { return "/2/chat/conversations/" + esc(id) }

// PathChatEvents is GET /2/chat/conversations/{id}/events.
func PathChatEvents(id string) string { return PathChatConversation(id) + "/events" }

// PathChatKeys is POST /2/chat/conversations/{id}/keys.
func PathChatKeys(id string) string { return PathChatConversation(id) + "/keys" }

// PathChatMembers is POST /2/chat/conversations/{id}/members.
func PathChatMembers(id string) string { return PathChatConversation(id) + "/members" }

// PathChatMessages is POST /2/chat/conversations/{id}/messages.
func PathChatMessages(id string) string { return PathChatConversation(id) + "/messages" }

// PathChatMessagesDelete is POST /2/chat/conversations/{id}/messages/delete.
func PathChatMessagesDelete(id string) string { return PathChatConversation(id) + "/messages/delete" }

// PathChatRead is POST /2/chat/conversations/{id}/read.
func PathChatRead(id string) string { return PathChatConversation(id) + "/read" }

// PathChatTyping is POST /2/chat/conversations/{id}/typing.
func PathChatTyping(id string) string { return PathChatConversation(id) + "/typing" }

// PathChatMediaInitialize is POST /2/chat/media/upload/initialize.
func PathChatMediaInitialize() string { return "/2/chat/media/upload/initialize" }

// PathChatMediaAppend is POST /2/chat/media/upload/{id}/append.
func PathChatMediaAppend(sessionID string) string {
	return "/2/chat/media/upload/" + esc(sessionID) + "/append"
}

// PathChatMediaFinalize is POST /2/chat/media/upload/{id}/finalize.
func PathChatMediaFinalize(sessionID string) string {
	return "/2/chat/media/upload/" + esc(sessionID) + "/finalize"
}

// PathChatMedia is GET /2/chat/media/{id}/{media_hash_key}.
func PathChatMedia(conversationID, mediaHashKey string) string {
	return "/2/chat/media/" + esc(conversationID) + "/" + esc(mediaHashKey)
}

// PathUsersPublicKeys is GET /2/users/public_keys.
func PathUsersPublicKeys() string { return "/2/users/public_keys" }

// PathUserPublicKeys is GET and POST /2/users/{id}/public_keys.
func PathUserPublicKeys(userID string) string { return "/2/users/" + esc(userID) + "/public_keys" }

// PathDmConversations is POST /2/dm_conversations.
func PathDmConversations() string { return "/2/dm_conversations" }

// PathDmMedia is GET /2/dm_conversations/media/{dm_id}/{media_id}/{resource_id}.
func PathDmMedia(dmID, mediaID, resourceID string) string {
	return "/2/dm_conversations/media/" + esc(dmID) + "/" + esc(mediaID) + "/" + esc(resourceID)
}

// PathDmWithParticipantEvents is GET /2/dm_conversations/with/{participant_id}/dm_events.
func PathDmWithParticipantEvents(participantID string) string {
	return "/2/dm_conversations/with/" + esc(participantID) + "/dm_events"
}

// PathDmWithParticipantMessages is POST /2/dm_conversations/with/{participant_id}/messages.
func PathDmWithParticipantMessages(participantID string) string {
	return "/2/dm_conversations/with/" + esc(participantID) + "/messages"
}

// PathDmConversationMessages is POST /2/dm_conversations/{dm_conversation_id}/messages.
func PathDmConversationMessages(dmConversationID string) string {
	return "/2/dm_conversations/" + esc(dmConversationID) + "/messages"
}

// PathDmConversationEvents is GET /2/dm_conversations/{id}/dm_events.
func PathDmConversationEvents(dmConversationID string) string {
	return "/2/dm_conversations/" + esc(dmConversationID) + "/dm_events"
}

// PathDmEvents is GET /2/dm_events.
func PathDmEvents() string { return "/2/dm_events" }

// PathDmEvent is GET and DELETE /2/dm_events/{event_id}.
func PathDmEvent(eventID string) string { return "/2/dm_events/" + esc(eventID) }

// PathDmBlock is POST /2/users/{id}/dm/block.
func PathDmBlock(userID string) string { return "/2/users/" + esc(userID) + "/dm/block" }

// PathDmUnblock is POST /2/users/{id}/dm/unblock.
func PathDmUnblock(userID string) string { return "/2/users/" + esc(userID) + "/dm/unblock" }

// PathEmulatorUsers is the emulator's provisioning endpoint (DESIGN.md), not
// part of the X API.
const PathEmulatorUsers = "/emulator/v1/users"
