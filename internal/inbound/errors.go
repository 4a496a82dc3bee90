package inbound

import (
	"errors"
	"fmt"

	"github.com/xchat-go/xchat"
)

// Sentinel errors carried in Event.Err (wrapped with detail; test with
// errors.Is). Each also matches the public error it refines, so an app
// tells them apart with package xchat's sentinels alone; these finer ones
// serve diagnostics and this module's tests.
var (
	// ErrMalformed reports bytes that are not a well-formed event: bad
	// base64, bad Thrift, a missing detail, or required fields absent.
	ErrMalformed = newSentinel(xchat.ErrMalformed, "inbound: malformed event")
	// ErrMissingSignature reports a signed event type that carries no
	// signature.
	ErrMissingSignature = newSentinel(xchat.ErrSignature, "inbound: signature missing")
	// ErrUnknownSigningKey reports that no pinned signing key exists for the
	// sender at the public_key_version the signature names.
	ErrUnknownSigningKey = newSentinel(xchat.ErrSignature, "inbound: no pinned signing key for sender and key version")
	// ErrSignatureVersion reports a signature_version below the minimum (a
	// downgrade) or not understood by this client.
	ErrSignatureVersion = newSentinel(xchat.ErrSignature, "inbound: unacceptable signature version")
	// ErrBadSignature reports a signature that does not verify under the
	// sender's pinned key over the rebuilt payload.
	ErrBadSignature = newSentinel(xchat.ErrSignature, "inbound: bad signature")
	// ErrUnsignablePayload reports an event whose signed payload cannot be
	// rebuilt (a component contains a comma, or a signed field is absent),
	// so it cannot be verified.
	ErrUnsignablePayload = newSentinel(xchat.ErrSignature, "inbound: signed payload cannot be rebuilt")
	// ErrUnknownKeyVersion reports a message encrypted under a conversation
	// key version the client does not hold.
	ErrUnknownKeyVersion = newSentinel(xchat.ErrUnknownKeyVersion, "inbound: unknown conversation key version")
	// ErrDecrypt reports ciphertext that fails authentication under the
	// conversation key.
	ErrDecrypt = newSentinel(xchat.ErrDecrypt, "inbound: decryption failed")
	// ErrUnencrypted reports a message create event without a conversation
	// key version (plaintext contents carry no verifiable signature).
	ErrUnencrypted = newSentinel(xchat.ErrDecrypt, "inbound: unencrypted message")
	// ErrWrongConversation reports an event that does not belong to the
	// conversation the caller expected (Options.ConversationID).
	ErrWrongConversation = newSentinel(xchat.ErrReplayed, "inbound: event from another conversation")
	// ErrSenderNotParticipant reports a signed event in a one-to-one
	// conversation ("a:b") whose sender is neither a nor b: a third party's
	// genuinely signed event relayed into the conversation.
	ErrSenderNotParticipant = newSentinel(xchat.ErrNotMember, "inbound: sender is not a participant of the one-to-one conversation")
	// ErrActorNotSender reports a group change whose signed acting user
	// (a join request's requesting user, an invite disable's disabling
	// member) is not its sender: the sender claims another user's act.
	ErrActorNotSender = newSentinel(xchat.ErrNotAuthorized, "inbound: group change names another actor than its sender")
	// ErrNotParticipant reports a key change with no entry for this account
	// (or none at the registered key version).
	ErrNotParticipant = newSentinel(xchat.ErrNotMember, "inbound: no participant key for this account")
	// ErrUnwrap reports an own participant entry whose ECIES-wrapped key
	// does not open with the identity key.
	ErrUnwrap = newSentinel(xchat.ErrDecrypt, "inbound: cannot unwrap conversation key")
	// ErrKeyConflict reports a key change carrying a different key for a
	// conversation key version the client already holds.
	ErrKeyConflict = newSentinel(xchat.ErrKeyConflict, "inbound: conflicting conversation key for version")
	// ErrSigningKeyMismatch reports (as a warning) that the signing key the
	// server embedded in an event differs from the pinned key.
	ErrSigningKeyMismatch = newSentinel(xchat.ErrSignature, "inbound: embedded signing key differs from pinned key")
)

// Reasons a reply preview is Invalid (PreviewValidation.Reason).
var (
	// ErrPreviewSource reports a preview whose embedded raw event is missing,
	// not a message create, from another conversation, or has no sender.
	ErrPreviewSource = errors.New("inbound: reply preview source event invalid")
	// ErrPreviewSignature reports an embedded raw event whose signature does
	// not verify with the pinned keys.
	ErrPreviewSignature = errors.New("inbound: reply preview source signature invalid")
	// ErrPreviewDecrypt reports an embedded raw event that cannot be
	// decrypted or parsed as a text message.
	ErrPreviewDecrypt = errors.New("inbound: reply preview source cannot be decrypted")
	// ErrPreviewSender reports a claimed sender that differs from the
	// original's.
	ErrPreviewSender = errors.New("inbound: reply preview sender mismatch")
	// ErrPreviewSequence reports a claimed sequence id that differs from the
	// sequence id under which the caller stored the quoted message (found by
	// its signed message id). The pipeline does not return it: sequence ids
	// are not signed, so only a caller holding the conversation can tell.
	ErrPreviewSequence = errors.New("inbound: reply preview sequence id mismatch")
	// ErrPreviewEditUnconfirmed reports a preview that embeds an edit when
	// the quoted message is not stored: the edit names its target by
	// sequence id, so without the quoted message a caller cannot tell
	// whether the edit is of that message. The preview stays
	// PreviewNotValidated until the quoted message is stored. Like
	// ErrPreviewSequence, only a caller holding the conversation returns it.
	ErrPreviewEditUnconfirmed = errors.New("session: reply preview edit cannot be bound to the quoted message")
	// ErrPreviewMessageID reports a claimed message id that differs from the
	// original's.
	ErrPreviewMessageID = errors.New("inbound: reply preview message id mismatch")
	// ErrPreviewText reports quoted text that is not a prefix of the
	// original (or edited) text on a character boundary.
	ErrPreviewText = errors.New("inbound: reply preview text mismatch")
	// ErrPreviewEntities reports a claimed entity absent from the original.
	ErrPreviewEntities = errors.New("inbound: reply preview entities mismatch")
	// ErrPreviewAttachments reports a claimed attachment absent from the
	// original.
	ErrPreviewAttachments = errors.New("inbound: reply preview attachments mismatch")
	// ErrPreviewEdit reports an embedded edit event that is not a valid,
	// verified edit by the original's author in this conversation, naming
	// its target; or (from a caller holding the conversation) one whose
	// target is not the quoted message.
	ErrPreviewEdit = errors.New("inbound: reply preview edit event invalid")
)

// UnknownKeyError is the Event.Err of a message sealed under a conversation
// key version the client does not hold. It matches ErrUnknownKeyVersion
// with errors.Is; fetch the key change for Version, then decrypt again.
type UnknownKeyError struct {
	ConversationID string
	Version        string
}

// Error implements error.
func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("inbound: unknown conversation key version: conversation %s, version %s", e.ConversationID, e.Version)
}

// Unwrap returns ErrUnknownKeyVersion.
func (e *UnknownKeyError) Unwrap() error { return ErrUnknownKeyVersion }

// sentinel is a pipeline error that also matches the public error it
// refines: one of package xchat's sentinels, listed in its error table.
type sentinel struct {
	msg    string
	public error
}

func newSentinel(public error, msg string) error { return &sentinel{msg: msg, public: public} }

// Error returns the message.
func (s *sentinel) Error() string { return s.msg }

// Is reports whether target is the public error s refines.
func (s *sentinel) Is(target error) bool { return target == s.public }
