package bot

import (
	"errors"
	"fmt"
)

// Errors reported to the hooks, matched with errors.Is.
var (
	// ErrUnverified is the Reason of every Unverified event: its signature
	// did not verify against the sender's pinned key, it could not be
	// decrypted, or it broke a rule of the transcript (see
	// Unverified.Reason for the engine's words).
	ErrUnverified = errors.New("bot: event not verified")
	// ErrUnsigned marks an Unverified event of a kind the protocol does not
	// sign (typing indicators, server failure notices): the server's word
	// only, never handed to a handler.
	ErrUnsigned = errors.New("bot: event kind is not signed")
	// ErrUnordered marks an event the server gave no valid sequence id:
	// it cannot be placed in its conversation, so no handler sees it.
	ErrUnordered = errors.New("bot: event without a valid sequence id")
	// ErrUnconfirmedEdit marks an Unverified edit whose target is not a
	// stored, verified message of the edit's sender (not yet arrived, or
	// another's): its sender's signature verified, but not its right to
	// edit that message, so no handler sees it.
	ErrUnconfirmedEdit = errors.New("bot: edit of a message its sender is not known to have written")
	// ErrPanic wraps a handler's panic (the process carries on).
	ErrPanic = errors.New("bot: handler panicked")
	// ErrRateLimited is returned by the RateLimit middleware for an event
	// over its conversation's budget; the handler did not run.
	ErrRateLimited = errors.New("bot: conversation over its rate limit")
	// ErrRunning is returned by Run while the bot already runs.
	ErrRunning = errors.New("bot: already running")
	// ErrConfig reports an invalid option (returned by Run).
	ErrConfig = errors.New("bot: invalid configuration")
	// ErrNotMessage is returned by the Context methods that need a
	// message (React, Media) in a context without one.
	ErrNotMessage = errors.New("bot: no message in this context")
)

// Unverified is an event no handler may see: it failed verification or
// decryption, or it is of a kind the protocol does not sign. Its claims
// (the sender above all) are the server's, not the sender's. A message
// refused for want of its key alone (session.AwaitsKey: the server
// withheld its key change) may reach its handler later, once, verified,
// when that key change opens it (see the package documentation,
// Delivery guarantees).
type Unverified struct {
	ConversationID string
	SequenceID     string
	MessageID      string
	// ClaimedSender is the sender the event names. It is NOT verified.
	ClaimedSender string
	// Type is the event's entry type ("message", "key_change", …).
	Type string
	// Reason wraps ErrUnverified (and ErrUnsigned or ErrUnordered where
	// they apply) with the engine's explanation.
	Reason error
}

// Error describes the event and why it was refused.
func (u *Unverified) Error() string {
	return fmt.Sprintf("conversation %s, sequence %s (%s claimed from %s): %v", u.ConversationID, u.SequenceID, u.Type, u.ClaimedSender, u.Reason)
}

// Unwrap returns Reason.
func (u *Unverified) Unwrap() error { return u.Reason }
