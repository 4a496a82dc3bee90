package session

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (wrapped) by the engine; test with errors.Is.
var (
	// ErrNoAccount reports a store without an identity (see CreateAccount).
	ErrNoAccount = errors.New("session: no account in store")
	// ErrAccountExists reports CreateAccount or ImportBackup on a store that
	// already holds an identity.
	ErrAccountExists = errors.New("session: store already holds an account")
	// ErrNotRegistered reports an operation that needs the account's public
	// keys to be registered (see Engine.Register).
	ErrNotRegistered = errors.New("session: public keys not registered")
	// ErrClosed reports use of a closed engine.
	ErrClosed = errors.New("session: engine closed")
	// ErrOffline reports a network operation on an engine opened without a
	// server.
	ErrOffline = errors.New("session: no server configured")
	// ErrInvalidArgument reports a malformed argument (user id, conversation
	// id, empty text, ...).
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
	// ErrNoConversationKey reports a conversation for which no conversation
	// key is held.
	ErrNoConversationKey = errors.New("session: no conversation key")
	// ErrUnknownConversation reports a conversation the engine knows nothing
	// about.
	ErrUnknownConversation = errors.New("session: unknown conversation")
	// ErrNotMember reports an operation on a group this account is not a
	// member of, or naming a user who is not a member. As an Event.Err it
	// marks a signed event whose author is not a participant of the
	// one-to-one conversation or not a member of the group at that point of
	// the transcript; such an event takes no effect.
	ErrNotMember = errors.New("session: not a member of the conversation")
	// ErrNotAuthorized is the Event.Err of a signed event whose author is a
	// member but may not do what it asks: a delete-for-all of another
	// member's message, or a group change that needs an admin (admin
	// changes, removing other members) by a non-admin. It is stored as
	// failed and not applied.
	ErrNotAuthorized = errors.New("session: sender not authorised for this action")
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
	// ErrRosterDivergence is the Event.Err of a signed group change that
	// does not fit the roster held: a member add whose signed lists differ
	// from it (this account and the author see different groups), a second
	// group create, a create not bound to its group by its paired key change
	// or replayed from another group, an admin add naming a non-member. It
	// is stored as failed, not applied, and reported as an anomaly.
	ErrRosterDivergence = errors.New("session: group change does not fit the roster held")
	// ErrReplayed is the Event.Err of a signed event whose message id is
	// already stored under another sequence id: the server re-sequenced
	// (replayed) an old event. The replay is stored as failed and not
	// applied; the original keeps its place.
	ErrReplayed = errors.New("session: event replayed under another sequence id")
	// ErrServerResponse reports a server response that is malformed or does
	// not match the request (for example a returned event that is not the
	// message sent).
	ErrServerResponse = errors.New("session: unexpected server response")
	// ErrQueued reports a send that was not delivered and stays, encrypted
	// and signed, in the outbox; FlushOutbox (or the next send to the same
	// conversation) delivers it with the same message id. The error is a
	// *QueuedError.
	ErrQueued = errors.New("session: send queued for retry")
	// ErrRejected reports a send the server refused for good (a definite,
	// content-related rejection); it was removed from the outbox. The
	// error is a *RejectedError naming what was not sent.
	ErrRejected = errors.New("session: send rejected by the server")
	// ErrMediaTooLarge reports media above the upload limit.
	ErrMediaTooLarge = errors.New("session: media too large")
	// ErrMediaTruncated reports downloaded media that does not match the
	// size its attachment announces (for example a stream cut down to its
	// header, which would otherwise decrypt as an empty file).
	ErrMediaTruncated = errors.New("session: media truncated")
)

// PartialError is returned when a server answers a request successfully but
// reports problems in its "errors" array.
type PartialError struct {
	// Op names the request.
	Op string
	// Details are the problem titles/details reported.
	Details []string
}

// Error implements error.
func (e *PartialError) Error() string {
	return fmt.Sprintf("session: %s: server reported %d problem(s): %v", e.Op, len(e.Details), e.Details)
}
