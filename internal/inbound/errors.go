package inbound

import (
	"errors"
	"fmt"
)

// Sentinel errors carried in Event.Err (wrapped with detail; test with
// errors.Is).
var (
	// ErrMalformed reports bytes that are not a well-formed event: bad
	// base64, bad Thrift, a missing detail, or required fields absent.
	ErrMalformed = errors.New("inbound: malformed event")
	// ErrMissingSignature reports a signed event type that carries no
	// signature.
	ErrMissingSignature = errors.New("inbound: signature missing")
	// ErrUnknownSigningKey reports that no pinned signing key exists for the
	// sender at the public_key_version the signature names.
	ErrUnknownSigningKey = errors.New("inbound: no pinned signing key for sender and key version")
	// ErrSignatureVersion reports a signature_version below the minimum (a
	// downgrade) or not understood by this client.
	ErrSignatureVersion = errors.New("inbound: unacceptable signature version")
	// ErrBadSignature reports a signature that does not verify under the
	// sender's pinned key over the rebuilt payload.
	ErrBadSignature = errors.New("inbound: bad signature")
	// ErrUnsignablePayload reports an event whose signed payload cannot be
	// rebuilt (a component contains a comma, or a signed field is absent),
	// so it cannot be verified.
	ErrUnsignablePayload = errors.New("inbound: signed payload cannot be rebuilt")
	// ErrUnknownKeyVersion reports a message encrypted under a conversation
	// key version the client does not hold.
	ErrUnknownKeyVersion = errors.New("inbound: unknown conversation key version")
	// ErrDecrypt reports ciphertext that fails authentication under the
	// conversation key.
	ErrDecrypt = errors.New("inbound: decryption failed")
	// ErrUnencrypted reports a message create event without a conversation
	// key version (plaintext contents carry no verifiable signature).
	ErrUnencrypted = errors.New("inbound: unencrypted message")
	// ErrWrongConversation reports an event that does not belong to the
	// conversation the caller expected (Options.ConversationID).
	ErrWrongConversation = errors.New("inbound: event from another conversation")
	// ErrSenderNotParticipant reports a signed event in a one-to-one
	// conversation ("a:b") whose sender is neither a nor b: a third party's
	// genuinely signed event relayed into the conversation.
	ErrSenderNotParticipant = errors.New("inbound: sender is not a participant of the one-to-one conversation")
	// ErrNotParticipant reports a key change with no entry for this account
	// (or none at the registered key version).
	ErrNotParticipant = errors.New("inbound: no participant key for this account")
	// ErrUnwrap reports an own participant entry whose ECIES-wrapped key
	// does not open with the identity key.
	ErrUnwrap = errors.New("inbound: cannot unwrap conversation key")
	// ErrKeyConflict reports a key change carrying a different key for a
	// conversation key version the client already holds.
	ErrKeyConflict = errors.New("inbound: conflicting conversation key for version")
	// ErrSigningKeyMismatch reports (as a warning) that the signing key the
	// server embedded in an event differs from the pinned key.
	ErrSigningKeyMismatch = errors.New("inbound: embedded signing key differs from pinned key")
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

// Is reports whether target is ErrUnknownKeyVersion.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrUnknownKeyVersion }
