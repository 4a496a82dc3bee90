// event.thrift — the server-side XChat event envelope.
//
// xchat-go's own rendition of the wire schema used by X's Chat XDK. Field ids,
// types, names, requiredness and enum values match the official IDL so the
// Thrift binary (TBinaryProtocol) encoding is identical; comments and ordering
// are ours. Server push instructions (MessageInstruction and friends) are
// deliberately left out: the engine never decodes them.

namespace go event

include "trees.thrift"

// ---------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------

// How the event reached the client.
enum MessageEventRelaySource {
  LiveFanout = 0
  MessagePull = 1
  LegacyFanout = 2
  ReboundEvent = 3
}

// One event in a conversation's sequence. All ids are decimal strings except
// message_id (a client-minted UUID) and conversation_id ("a:b" or "g<digits>").
struct MessageEvent {
  1: optional string sequence_id
  2: optional string message_id
  3: optional string sender_id
  4: optional string conversation_id
  5: optional string conversation_token
  6: optional string created_at_msec
  7: optional MessageEventDetail detail
  8: optional MessageEventRelaySource relay_source
  9: optional MessageEventSignature message_event_signature
  10: optional string previous_sequence_id
  11: optional bool is_trusted
}

// What happened; exactly one variant is expected. Id 2 and 11 are retired.
union MessageEventDetail {
  1: MessageCreateEvent messageCreateEvent
  3: ConversationKeyChangeEvent conversationKeyChangeEvent
  4: GroupChangeEvent groupChangeEvent
  5: MessageFailureEvent messageFailureEvent
  6: MessageTypingEvent messageTypingEvent
  7: MessageDeleteEvent messageDeleteEvent
  8: ConversationDeleteEvent conversationDeleteEvent
  9: ConversationMetadataChangeEvent conversationMetadataChangeEvent
  10: GrokSearchResponseEvent grokSearchResponseEvent
  12: MarkConversationReadEvent markConversationReadEvent
  13: MarkConversationUnreadEvent markConversationUnreadEvent
  14: MemberAccountDeleteEvent memberAccountDeleteEvent
}

// ---------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------

// Signing key hydration for one signer (sender or another member).
struct MessageSigningKeyInfo {
  1: optional string member_id
  2: optional string public_key_version
  3: optional string signing_public_key
}

// Sender signature over the event's signed components. signature is base64
// (standard alphabet, no padding) of raw r||s; signing_public_key is SPKI b64.
struct MessageEventSignature {
  1: optional string signature
  2: optional string public_key_version
  3: optional string signature_version
  4: optional string signing_public_key
  5: optional list<MessageSigningKeyInfo> message_signing_key_info_list
}

// ---------------------------------------------------------------------------
// Message creation
// ---------------------------------------------------------------------------

// Delivery priority; larger numbers are lower priority, unset means A.
enum EventQueuePriority {
  A = 1
  B = 2
  C = 3
  D = 4
  E = 5
}

// Extra work the client is asked to do for a message create event.
enum AdditionalAction {
  FETCH_CONV_IF_MISSING_CKEY = 0
}

// Message franking material. Field 3 is retired.
struct FrankingData {
  1: optional binary franking_tag
  2: optional binary encrypted_nonce
  4: optional list<binary> encrypted_media_hashes
}

// An encrypted message. contents is the secretbox ciphertext of a
// product.MessageEntryHolder under the conversation key of
// conversation_key_version.
struct MessageCreateEvent {
  100: optional binary contents
  101: optional string conversation_key_version
  102: optional bool should_notify
  103: optional i64 ttl_msec
  104: optional i64 delivered_at_msec
  105: optional bool is_pending_public_key
  106: optional EventQueuePriority priority
  107: optional list<AdditionalAction> additional_action_list
  108: optional FrankingData franking_data
  109: optional bool is_message_request
}

// ---------------------------------------------------------------------------
// Conversation keys
// ---------------------------------------------------------------------------

// A conversation key wrapped (ECIES, base64) for one participant.
struct ConversationParticipantKey {
  1: optional string user_id
  2: optional string encrypted_conversation_key
  3: optional string public_key_version
}

// Distribution of a new conversation key. Field 3 is retired.
struct ConversationKeyChangeEvent {
  1: optional string conversation_key_version
  2: optional list<ConversationParticipantKey> conversation_participant_keys
  4: optional trees.GroupOpData ratchet_tree_change
  5: optional bool for_key_rotation
}

// ---------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------

struct GroupCreate {
  1: optional list<string> member_ids
  2: optional list<string> admin_ids
  3: optional string title
  4: optional string avatar_url
  5: optional string conversation_key_version
  6: optional bool is_legacy_group_upgrade
  7: optional i64 ttl_msec
}

struct GroupTitleChange {
  1: optional string custom_title
  2: optional string conversation_key_version
}

struct GroupAvatarUrlChange {
  1: optional string custom_avatar_url
  2: optional string conversation_key_version
}

struct GroupAdminAddChange {
  1: optional list<string> admin_ids
}

struct GroupAdminRemoveChange {
  1: optional list<string> admin_ids
}

// Admin capability switches attached to a member add.
struct GroupAdminSettings {
  1: optional bool edit_group_info
  2: optional bool edit_message_ttl
  3: optional bool block_screen_capture
  4: optional bool add_member
  5: optional bool send_message
  6: optional bool start_call
}

// Same switches as GroupAdminSettings, as a standalone change.
struct GroupAdminSettingsChange {
  1: optional bool edit_group_info
  2: optional bool edit_message_ttl
  3: optional bool block_screen_capture
  4: optional bool add_member
  5: optional bool send_message
  6: optional bool start_call
}

struct GroupInviteEnable {
  1: optional i64 expires_at_msec
  2: optional string invite_url
  3: optional string affiliate_id
}

struct GroupInviteDisable {
  1: optional string disabled_by_member_id
}

// New members plus a snapshot of the group state. Field 10 is unused.
struct GroupMemberAddChange {
  1: optional list<string> member_ids
  2: optional list<string> current_member_ids
  3: optional list<string> current_admin_ids
  4: optional string current_title
  5: optional string current_avatar_url
  6: optional string conversation_key_version
  7: optional i64 current_ttl_msec
  8: optional list<string> current_pending_member_ids
  9: optional bool screen_capture_blocking_enabled
  11: optional GroupInviteEnable group_invite_enable
  12: optional GroupAdminSettings admin_settings
}

struct GroupMemberRemoveChange {
  1: optional list<string> member_ids
}

struct GroupJoinRequest {
  1: optional string requesting_user_id
}

struct GroupJoinReject {
  1: optional list<string> rejected_user_ids
}

union GroupChange {
  1: GroupCreate group_create
  2: GroupTitleChange group_title_change
  3: GroupAvatarUrlChange group_avatar_change
  4: GroupAdminAddChange group_admin_add
  5: GroupMemberAddChange group_member_add
  6: GroupAdminRemoveChange group_admin_remove
  7: GroupMemberRemoveChange group_member_remove
  8: GroupInviteEnable group_invite_enable
  9: GroupInviteDisable group_invite_disable
  10: GroupJoinRequest group_join_request
  11: GroupJoinReject group_join_reject
  12: GroupAdminSettingsChange group_admin_settings_change
}

struct GroupChangeEvent {
  1: optional GroupChange group_change
  2: optional bool for_key_rotation
}

// ---------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------

// Why the server rejected a message.
enum FailureType {
  EMPTY_DETAIL = 1
  INTERNAL_ERROR = 2
  CONTENTS_TOO_LARGE = 3
  TOO_MANY_MESSAGES = 4
  INVALID_SENDER_SIGNATURE = 5
  NON_LATEST_CKEY_VERSION = 6
  RECIPIENT_HAS_NOT_TRUSTED_CONVERSATION = 7
  RECIPIENT_KEY_HAS_CHANGED = 8
  ONLY_ENCRYPTED_MESSAGES_ALLOWED = 9
  REQUESTER_NOT_ADMIN = 10
  FLAGGED_AS_SPAM = 11
  RATE_LIMIT_UPSELL = 12
  SIGNATURE_FAILED_TO_VERIFY_AGAINST_PUBLIC_KEY = 13
  GENERIC_ERROR = 14
  SENDER_NOT_GROUP_MEMBER = 15
  INVALID_SIGNATURE_VERSION = 16
  INVALID_PIN_REQUEST = 17
  TOO_MANY_PINS = 18
}

// Account tier reported with RATE_LIMIT_UPSELL failures.
enum RateLimitTier {
  FREE = 1
  VERIFIED_PHONE = 2
  PREMIUM = 3
  PREMIUM_PLUS = 4
  PREMIUM_BUSINESS = 5
}

struct MessageFailureEvent {
  1: optional FailureType failure_type
  2: optional RateLimitTier rate_limit_tier
}

// ---------------------------------------------------------------------------
// Deletion, typing, read state, metadata
// ---------------------------------------------------------------------------

struct MessageTypingEvent {
  1: optional string conversation_id
}

enum DeleteMessageAction {
  DELETE_FOR_SELF = 1
  DELETE_FOR_ALL = 2
}

struct MessageDeleteEvent {
  1: optional list<string> sequence_ids
  2: optional DeleteMessageAction delete_message_action
}

struct ClearConversationOptions {
  1: optional bool clear_all_messages
  2: optional i64 sort_order_msec
}

struct ConversationDeleteEvent {
  1: optional string conversation_id
  2: optional ClearConversationOptions clear_conversation_options
}

struct MessageDurationChange {
  1: optional i64 ttl_msec
  2: optional bool apply_to_all_messages
}

struct MessageDurationRemove {
  1: optional i64 current_ttl_msec
}

struct MuteConversation {
  1: optional list<string> muted_conversation_ids
}

struct UnmuteConversation {
  1: optional list<string> unmuted_conversation_ids
}

struct EnableScreenCaptureDetection {
  1: optional string placeholder
}

struct DisableScreenCaptureDetection {
  1: optional string placeholder
}

struct EnableScreenCaptureBlocking {
  1: optional string placeholder
}

struct DisableScreenCaptureBlocking {
  1: optional string placeholder
}

union ConversationMetadataChange {
  1: MessageDurationChange message_duration_change
  2: MessageDurationRemove message_duration_remove
  3: MuteConversation mute_conversation
  4: UnmuteConversation unmute_conversation
  5: EnableScreenCaptureDetection enable_screen_capture_detection
  6: DisableScreenCaptureDetection disable_screen_capture_detection
  7: EnableScreenCaptureBlocking enable_screen_capture_blocking
  8: DisableScreenCaptureBlocking disable_screen_capture_blocking
}

struct ConversationMetadataChangeEvent {
  1: optional ConversationMetadataChange conversation_metadata_change
}

struct GrokSearchResponseEvent {
  1: optional string search_response_id
}

struct MarkConversationReadEvent {
  1: optional string seen_until_sequence_id
  2: optional i64 seen_at_millis
}

struct MarkConversationUnreadEvent {
  1: optional string seen_until_sequence_id
}

struct MemberAccountDeleteEvent {
  1: optional string member_id
}
