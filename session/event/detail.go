package event

import (
	"time"

	"github.com/xchat-go/xchat/crypto"
)

// ParticipantKey is one participant's wrapped copy of a conversation key.
type ParticipantKey struct {
	UserID string
	// EncryptedKey is the ECIES-wrapped key as sent (base64).
	EncryptedKey     string
	PublicKeyVersion string
}

// KeyChange is a ConversationKeyChangeEvent.
//
// Key is the unwrapped conversation key when this account is a participant
// and the key may be adopted for decryption. A change whose signature
// verifies yields its key; one that does not fails closed (Key nil),
// except a pre-v6 change (whose plaintext key is not signed), which the XDK
// keeps for reading old histories and so does the engine, flagged
// DecryptOnlyUnverified. No sequence id decides anything: they are not
// signed. A key only becomes the conversation's encryption key when the
// event is Verified, UsableForEncryption is set and Version is above the
// conversation's high-water mark (versions compare as decimals): a
// replayed older key change never displaces a newer key.
type KeyChange struct {
	// Version is the conversation key version (decimal ms timestamp).
	Version string
	// Participants lists every wrapped copy the event carries.
	Participants []ParticipantKey
	// ForKeyRotation is the server's rotation flag.
	ForKeyRotation bool
	// HasRatchetTree reports ratchet-tree material (not interpreted).
	HasRatchetTree bool
	// Key is the conversation key (nil if not a participant, unwrap failed,
	// or withheld as described above). Redacts itself in fmt output.
	Key *crypto.ConversationKey
	// UsableForEncryption is true when the key may become the
	// conversation's encryption key (subject to the version high-water mark):
	// the event verified at signature version 6+ (the plaintext key is
	// signed), as in the XDK's apply_ckey_freshness, and DecryptOnly is
	// empty.
	UsableForEncryption bool
	// KeyErr explains why Key is nil (this account is not a participant,
	// its copy does not unwrap, the signature fails; errors.Is against
	// xchat.ErrNotMember, ErrDecrypt, ErrSignature), nil when Key is set.
	KeyErr error
	// DecryptOnly, when not empty, says why Key (which is set) may decrypt
	// messages but must never become the conversation's encryption key,
	// nor be kept as conversation key state (see DecryptOnlyReason).
	DecryptOnly DecryptOnlyReason
}

// DecryptOnlyReason says why a key change's key may only decrypt.
type DecryptOnlyReason string

// Reasons a key is decrypt-only. The first two follow from the event
// alone; the others from the engine's state (the sender's key history,
// the clock).
const (
	// DecryptOnlyUnverified: the change's signature failed or could not be
	// checked and its signature version (2 to 5) predates signed plaintext
	// keys. The XDK keeps such keys to read old histories; so does the
	// engine, flagged. The event is not Verified; messages under the key
	// are still verified on their own signatures.
	DecryptOnlyUnverified DecryptOnlyReason = "unverified"
	// DecryptOnlyPreV6: the change verified, but below signature version 6
	// the plaintext key is not signed.
	DecryptOnlyPreV6 DecryptOnlyReason = "pre_v6"
	// DecryptOnlySupersededSigner: the change was signed with a signing key
	// its sender has since replaced. It may verify history made while the
	// key was current, never a new encryption key.
	DecryptOnlySupersededSigner DecryptOnlyReason = "superseded_signer"
	// DecryptOnlyImplausibleVersion: the key version lies further in the
	// future than any clock allows.
	DecryptOnlyImplausibleVersion DecryptOnlyReason = "implausible_version"
	// DecryptOnlyBackfilled: the change was served late, below events
	// stored already, by an author who is no member now, and stands at
	// its place (she was a member there). Its key opens the events sealed
	// under it; she holds it, so it never encrypts.
	DecryptOnlyBackfilled DecryptOnlyReason = "backfilled"
)

// GroupChangeKind names a GroupChange variant.
type GroupChangeKind int

// Group change kinds.
const (
	GroupChangeUnknown GroupChangeKind = iota
	GroupCreated
	GroupTitleChanged
	GroupAvatarChanged
	GroupAdminsAdded
	GroupMembersAdded
	GroupAdminsRemoved
	GroupMembersRemoved
	GroupInviteEnabled
	GroupInviteDisabled
	GroupJoinRequested
	GroupJoinRejected
	GroupAdminSettingsChanged
)

var groupChangeNames = [...]string{"unknown", "created", "title_changed", "avatar_changed",
	"admins_added", "members_added", "admins_removed", "members_removed", "invite_enabled",
	"invite_disabled", "join_requested", "join_rejected", "admin_settings_changed"}

// String returns the snake_case name of the group change kind.
func (k GroupChangeKind) String() string {
	if k >= 0 && int(k) < len(groupChangeNames) {
		return groupChangeNames[k]
	}
	return "unknown"
}

// GroupChange is a GroupChangeEvent. Fields not used by Kind are zero.
// Optional values absent on the wire are "" / nil.
type GroupChange struct {
	Kind           GroupChangeKind
	ForKeyRotation bool

	// MemberIDs: created (all members), members added (new members),
	// members removed.
	MemberIDs []string
	// AdminIDs: created, admins added/removed.
	AdminIDs []string
	// Title and AvatarURL: created, title/avatar changed, members added
	// (current values).
	Title     string
	AvatarURL string
	// KeyVersion is the conversation key version the change refers to.
	KeyVersion string
	// TTL: created (ttl_msec), members added (current_ttl_msec).
	TTL time.Duration
	// IsLegacyGroupUpgrade: created.
	IsLegacyGroupUpgrade bool
	// Members added: the roster snapshot.
	CurrentMemberIDs        []string
	CurrentAdminIDs         []string
	CurrentPendingMemberIDs []string
	ScreenCaptureBlocking   *bool
	// Invite: invite enabled, or members added with an invite.
	Invite *GroupInvite
	// DisabledBy: invite disabled. Always the event's sender: one
	// naming anyone else fails (xchat.ErrNotAuthorized).
	DisabledBy string
	// RequestingUserID: join requested. Always the event's sender: one
	// naming anyone else fails (xchat.ErrNotAuthorized).
	RequestingUserID string
	// RejectedUserIDs: join rejected.
	RejectedUserIDs []string
	// AdminSettings: admin settings changed, or members added.
	AdminSettings *GroupAdminSettings

	// Unsigned names the fields above that carry a value the sender's
	// signature does not cover at this event's signature version (e.g.
	// "AdminIDs" and "TTL" of a group create, "AdminSettings" of a member
	// add): the server controls them, so treat them as hints only.
	Unsigned []string
}

// GroupInvite is an invite link.
type GroupInvite struct {
	URL           string
	AffiliateID   string
	ExpiresAtMsec int64
}

// GroupAdminSettings are admin capability switches (nil = unset).
type GroupAdminSettings struct {
	EditGroupInfo, EditMessageTTL, BlockScreenCapture, AddMember, SendMessage, StartCall *bool
}

// FailureType is why the server rejected a message (MessageFailureEvent).
type FailureType int32

// Failure types (values as on the wire).
const (
	FailureUnknown                                 FailureType = 0
	FailureEmptyDetail                             FailureType = 1
	FailureInternalError                           FailureType = 2
	FailureContentsTooLarge                        FailureType = 3
	FailureTooManyMessages                         FailureType = 4
	FailureInvalidSenderSignature                  FailureType = 5
	FailureNonLatestKeyVersion                     FailureType = 6
	FailureRecipientNotTrusted                     FailureType = 7
	FailureRecipientKeyChanged                     FailureType = 8
	FailureOnlyEncryptedMessagesAllowed            FailureType = 9
	FailureRequesterNotAdmin                       FailureType = 10
	FailureFlaggedAsSpam                           FailureType = 11
	FailureRateLimitUpsell                         FailureType = 12
	FailureSignatureFailedToVerifyAgainstPublicKey FailureType = 13
	FailureGenericError                            FailureType = 14
	FailureSenderNotGroupMember                    FailureType = 15
	FailureInvalidSignatureVersion                 FailureType = 16
	FailureInvalidPinRequest                       FailureType = 17
	FailureTooManyPins                             FailureType = 18
)

var failureNames = [...]string{
	"UNKNOWN", "EMPTY_DETAIL", "INTERNAL_ERROR", "CONTENTS_TOO_LARGE", "TOO_MANY_MESSAGES",
	"INVALID_SENDER_SIGNATURE", "NON_LATEST_CKEY_VERSION", "RECIPIENT_HAS_NOT_TRUSTED_CONVERSATION",
	"RECIPIENT_KEY_HAS_CHANGED", "ONLY_ENCRYPTED_MESSAGES_ALLOWED", "REQUESTER_NOT_ADMIN",
	"FLAGGED_AS_SPAM", "RATE_LIMIT_UPSELL", "SIGNATURE_FAILED_TO_VERIFY_AGAINST_PUBLIC_KEY",
	"GENERIC_ERROR", "SENDER_NOT_GROUP_MEMBER", "INVALID_SIGNATURE_VERSION", "INVALID_PIN_REQUEST",
	"TOO_MANY_PINS",
}

// String returns the wire enum name (e.g. "NON_LATEST_CKEY_VERSION"), or
// "UNKNOWN" for values outside 1..18.
func (f FailureType) String() string {
	if f >= 0 && int(f) < len(failureNames) {
		return failureNames[f]
	}
	return "UNKNOWN"
}

// Retryable reports whether resending (after refreshing keys) may succeed:
// stale conversation key, changed recipient key, rate limits and transient
// server errors.
func (f FailureType) Retryable() bool {
	switch f {
	case FailureInternalError, FailureTooManyMessages, FailureNonLatestKeyVersion,
		FailureRecipientKeyChanged, FailureRateLimitUpsell, FailureGenericError:
		return true
	}
	return false
}

// RateLimitTier is the account tier reported with rate-limit failures.
type RateLimitTier int32

// Rate limit tiers (0 = unset or unknown).
const (
	TierUnknown         RateLimitTier = 0
	TierFree            RateLimitTier = 1
	TierVerifiedPhone   RateLimitTier = 2
	TierPremium         RateLimitTier = 3
	TierPremiumPlus     RateLimitTier = 4
	TierPremiumBusiness RateLimitTier = 5
)

// Failure is a MessageFailureEvent: the server rejected the message whose
// id is Event.MessageID. Unsigned.
type Failure struct {
	Type FailureType
	Tier RateLimitTier
}

// Typing is a typing indicator. Unsigned.
type Typing struct {
	ConversationID string
}

// DeleteAction says whom a delete applies to.
type DeleteAction int32

// Delete actions (values as on the wire; 0 = unset/unknown).
const (
	DeleteUnknown DeleteAction = 0
	DeleteForSelf DeleteAction = 1
	DeleteForAll  DeleteAction = 2
)

// String returns "for_self", "for_all" or "unknown".
func (a DeleteAction) String() string {
	switch a {
	case DeleteForSelf:
		return "for_self"
	case DeleteForAll:
		return "for_all"
	}
	return "unknown"
}

// Delete is a MessageDeleteEvent, verified against its action signature
// ("MessageDeleteEvent,{message_id},{sender_id},{conversation_id},{action},{sequence_ids…}").
type Delete struct {
	SequenceIDs []string
	Action      DeleteAction
}

// ConversationDelete is a ConversationDeleteEvent.
type ConversationDelete struct {
	ConversationID   string
	ClearAllMessages bool
	SortOrderMsec    int64
}

// MetadataChangeKind names a ConversationMetadataChange variant.
type MetadataChangeKind int

// Metadata change kinds.
const (
	MetadataUnknown MetadataChangeKind = iota
	MetadataMessageDurationChanged
	MetadataMessageDurationRemoved
	MetadataMuted
	MetadataUnmuted
	MetadataScreenCaptureDetectionEnabled
	MetadataScreenCaptureDetectionDisabled
	MetadataScreenCaptureBlockingEnabled
	MetadataScreenCaptureBlockingDisabled
)

// MetadataChange is a ConversationMetadataChangeEvent.
type MetadataChange struct {
	Kind MetadataChangeKind
	// TTL: duration changed (new), duration removed (previous).
	TTL time.Duration
	// ApplyToAllMessages: duration changed.
	ApplyToAllMessages bool
	// ConversationIDs: muted / unmuted conversations.
	ConversationIDs []string
}

// Grok is a Grok search response notification. Unsigned.
type Grok struct {
	SearchResponseID string
}

// MarkRead is an event-level read receipt.
type MarkRead struct {
	SeenUntilSequenceID string
	SeenAtMillis        int64
}

// MarkUnread is an event-level mark-unread.
type MarkUnread struct {
	SeenUntilSequenceID string
}

// MemberAccountDelete reports a member whose account was deleted. Unsigned.
type MemberAccountDelete struct {
	MemberID string
}

var metadataNames = [...]string{"unknown", "message_duration_changed", "message_duration_removed", "muted", "unmuted",
	"screen_capture_detection_enabled", "screen_capture_detection_disabled",
	"screen_capture_blocking_enabled", "screen_capture_blocking_disabled"}

// String returns the snake_case name of the metadata change kind.
func (k MetadataChangeKind) String() string {
	if k >= 0 && int(k) < len(metadataNames) {
		return metadataNames[k]
	}
	return "unknown"
}

var tierNames = [...]string{"UNKNOWN", "FREE", "VERIFIED_PHONE", "PREMIUM", "PREMIUM_PLUS", "PREMIUM_BUSINESS"}

// String returns the wire enum name of the tier ("PREMIUM"), or "UNKNOWN".
func (t RateLimitTier) String() string {
	if t >= 0 && int(t) < len(tierNames) {
		return tierNames[t]
	}
	return "UNKNOWN"
}
