package xchat

import (
	"errors"
	"fmt"
	"strings"
)

// The engine's errors: one family for the calls of package session and
// for Event.Err, listed in the table of the package documentation. They
// are returned wrapped with detail; test with errors.Is (and errors.As for
// *QueuedError and *RejectedError).
var (
	// ErrNoAccount reports a store without an identity (see
	// session.CreateAccount).
	ErrNoAccount = errors.New("session: no account in store")
	// ErrAccountExists reports CreateAccount, ImportBackup or
	// backup.Restore on a store that already holds an identity.
	ErrAccountExists = errors.New("session: store already holds an account")
	// ErrNotRegistered reports an operation that needs the account's public
	// keys to be registered (see session.Engine.Register).
	ErrNotRegistered = errors.New("session: public keys not registered")
	// ErrClosed reports use of a closed engine.
	ErrClosed = errors.New("session: engine closed")
	// ErrOffline reports a network operation on an engine opened without a
	// server.
	ErrOffline = errors.New("session: no server configured")
	// ErrInvalidArgument reports a malformed argument (user id, conversation
	// id, empty text, ...) or an option given a value it cannot use.
	ErrInvalidArgument = errors.New("session: invalid argument")

	// ErrNoPeerKeys reports a peer with no usable registered public keys.
	ErrNoPeerKeys = errors.New("session: peer has no usable public keys")
	// ErrKeyBinding reports published keys whose binding signature (the
	// signing key's signature over the identity key) does not verify.
	ErrKeyBinding = errors.New("session: peer key binding signature invalid")
	// ErrKeyChanged reports, under TrustStrict, a peer whose published keys
	// differ from the pinned (verified) ones; call Engine.Verify after
	// checking the new safety number.
	ErrKeyChanged = errors.New("session: peer keys changed")
	// ErrUnverifiedPeer reports, under TrustStrict, a peer whose keys have not
	// been verified with Engine.Verify.
	ErrUnverifiedPeer = errors.New("session: peer keys not verified")

	// ErrUnknownConversation reports a conversation the engine knows nothing
	// about.
	ErrUnknownConversation = errors.New("session: unknown conversation")
	// ErrNoConversationKey reports a conversation for which no conversation
	// key is held.
	ErrNoConversationKey = errors.New("session: no conversation key")
	// ErrNotMember reports an operation on a group this account is not a
	// member of, or naming a user who is not a member. As an Event.Err it
	// marks a signed event whose author is not a participant of the
	// one-to-one conversation or not a member of the group at that point of
	// the transcript (or a key change that wraps no key to this account);
	// such an event takes no effect.
	ErrNotMember = errors.New("session: not a member of the conversation")
	// ErrRosterUnknown reports a group whose roster no signed group change
	// establishes (RosterUnknown): the engine refuses to wrap a conversation
	// key to it (Rotate, AddMembers, a send that must rotate). As an
	// Event.Err it marks a group change that cannot be checked before a
	// roster is established; it takes no effect.
	ErrRosterUnknown = errors.New("session: group roster unknown")
	// ErrRosterUnconfirmed reports, under TrustStrict, a key that would be
	// wrapped to group members whose place rests on trust on first use
	// (RosterUnconfirmed; see Conversation.UnconfirmedMembers).
	ErrRosterUnconfirmed = errors.New("session: group roster unconfirmed")

	// ErrQueued reports a send that was not delivered and stays, encrypted
	// and signed, in the outbox; FlushOutbox (or the next send to the same
	// conversation) delivers it with the same message id. The error is a
	// *QueuedError.
	ErrQueued = errors.New("session: send queued for retry")
	// ErrRejected reports a send the server refused for good (a definite,
	// content-related rejection); it was removed from the outbox. The
	// error is a *RejectedError naming what was not sent.
	ErrRejected = errors.New("session: send rejected by the server")
	// ErrAudienceGrew is the cause (inside a *RejectedError) of a queued
	// group send, retried in a later call and refused for a stale key, that
	// is not sealed again because the group gained members since it was
	// written: the current key would show it to people it was not written
	// for. Its text is given back.
	ErrAudienceGrew = errors.New("session: the group gained members since the send was written")
	// ErrOutboxBusy reports outbox items of a conversation being sent by
	// another replica sharing the store; they are left to it.
	ErrOutboxBusy = errors.New("session: outbox items of the conversation are being sent by another replica")
	// ErrMediaTooLarge reports media above the upload limit (512 MiB).
	ErrMediaTooLarge = errors.New("session: media too large")
	// ErrKeyReplaced reports a media send whose file was encrypted under a
	// conversation key that was replaced while it uploaded (a participant
	// re-keyed, the key was exposed, another key became current): its
	// message is not sealed under the old key, and nothing was sent.
	ErrKeyReplaced = errors.New("session: the conversation key was replaced while the media uploaded")

	// ErrServerResponse reports a server response that is malformed or does
	// not match the request (for example a returned event that is not the
	// message sent, or endless pagination).
	ErrServerResponse = errors.New("session: unexpected server response")
	// ErrMediaTruncated reports downloaded media that does not match the
	// size its attachment announces (for example a stream cut down to its
	// header, which would otherwise decrypt as an empty file).
	ErrMediaTruncated = errors.New("session: media truncated")
	// ErrDeliveryRejected is the Delivered.Err of an activity event the
	// engine refused to route (undecodable, or naming a conversation that
	// disagrees with its encoded event).
	ErrDeliveryRejected = errors.New("session: activity event rejected")

	// ErrMalformed is the Event.Err of bytes that are not a well-formed
	// event: bad base64 or Thrift, a missing detail or required field,
	// malformed ids, lists beyond the engine's bounds.
	ErrMalformed = errors.New("session: malformed event")
	// ErrSignature is the Event.Err of a signed kind of event that carries
	// no valid signature by its sender's pinned key: the signature is
	// missing, of a refused signature_version, names a key version with no
	// pinned key, covers a payload that cannot be rebuilt, or does not
	// verify.
	ErrSignature = errors.New("session: event signature invalid")
	// ErrUnknownKeyVersion is the Event.Err of a message sealed under a
	// conversation key version this account does not hold (its key change
	// has not arrived, or was withheld: see AnomalyMissingKey).
	ErrUnknownKeyVersion = errors.New("session: unknown conversation key version")
	// ErrDecrypt is the Event.Err of a verified message whose contents do
	// not open under the conversation key, or are not encrypted at all.
	ErrDecrypt = errors.New("session: event contents do not decrypt")
	// ErrNotAuthorized is the Event.Err of a signed event whose author is a
	// member but may not do what it asks: a delete-for-all of another
	// member's message, or a group change that needs an admin (admin
	// changes, removing other members) by a non-admin. It is stored as
	// failed and not applied.
	ErrNotAuthorized = errors.New("session: sender not authorised for this action")
	// ErrRosterDivergence is the Event.Err of a signed group change that
	// does not fit the roster held: a member add whose signed lists differ
	// from it (this account and the author see different groups), a second
	// group create, a create not bound to its group by its paired key change
	// or replayed from another group, an admin add naming a non-member. It
	// is stored as failed, not applied, and reported as an anomaly.
	ErrRosterDivergence = errors.New("session: group change does not fit the roster held")
	// ErrReplayed is the Event.Err of a genuine signed event the server
	// serves out of its place: again under another sequence id (its message
	// id is already stored; the original keeps its place) or in another
	// conversation than its own. It is stored as failed and not applied.
	ErrReplayed = errors.New("session: event replayed under another sequence id")
	// ErrKeyConflict is the Event.Err of a key change carrying a different
	// key for a conversation key version this account already holds: its
	// author equivocates. The held key is kept.
	ErrKeyConflict = errors.New("session: conflicting conversation key for version")
)

// Rejected describes a queued send the server refused for good. It is no
// longer in the outbox: sending the same request again cannot succeed.
type Rejected struct {
	MessageID      string `json:"message_id"`
	ConversationID string `json:"conversation_id"`
	// Kind is the outbox kind ("message" or "delete").
	Kind string `json:"kind"`
	// What names the send in the user's terms, e.g. `message "hello"`.
	What string `json:"what"`
	// Text is the message text, when the send carried one.
	Text string `json:"text,omitempty"`
	// Reason is the server's answer.
	Reason string `json:"reason"`
}

// RejectedError reports a send the server refused for good (a definite,
// content-related rejection such as a malformed, oversized or stale
// request). The item has been removed from the outbox. It matches
// ErrRejected and unwraps to the server's error.
type RejectedError struct {
	Rejected
	Err error
}

// Error implements error.
func (e *RejectedError) Error() string {
	return fmt.Sprintf("session: the server rejected the %s (message id %s) and it was removed from the outbox: %v",
		e.What, e.MessageID, e.Err)
}

// Unwrap returns the server's error.
func (e *RejectedError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

// QueuedError reports a send that was not delivered and is kept, encrypted
// and signed, in the outbox: FlushOutbox, or the next send to the same
// conversation, delivers it with the same message id. It matches ErrQueued
// and unwraps to the reason it is still pending.
type QueuedError struct {
	MessageID      string
	ConversationID string
	Kind           string
	// What names the send in the user's terms.
	What string
	// Behind counts the older pending sends of the conversation this one
	// waits behind (it was not attempted itself while they are stuck).
	Behind int
	// Duplicate reports a send identical to one already queued: nothing new
	// was queued, the pending copy stays.
	Duplicate bool
	Err       error
}

// Error implements error.
func (e *QueuedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "session: %s not delivered yet", e.What)
	switch {
	case e.Duplicate:
		b.WriteString(" (it was already queued; no second copy was made)")
	case e.Behind > 0:
		fmt.Fprintf(&b, " (queued behind %d older pending send(s) of this conversation)", e.Behind)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

// Unwrap returns the reason the send is pending.
func (e *QueuedError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrQueued) true.
func (e *QueuedError) Is(target error) bool { return target == ErrQueued }
