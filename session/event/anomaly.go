package event

import "fmt"

// AnomalyKind classifies a transcript finding.
type AnomalyKind int

// Transcript anomalies the engine reports (SyncResult.Anomalies).
const (
	// AnomalyGap: an event's previous_sequence_id was never seen, so events
	// are missing (or withheld) between it and its predecessor; or the
	// event names no predecessor although events precede it (Related
	// empty: the field, unsigned, was stripped).
	AnomalyGap AnomalyKind = iota + 1
	// AnomalyDuplicate: the same sequence id arrived again with identical
	// bytes (a harmless replay, still reported).
	AnomalyDuplicate
	// AnomalyConflict: the same sequence id arrived again with different
	// bytes (equivocation by the server).
	AnomalyConflict
	// AnomalyFork: two different events claim the same previous_sequence_id.
	AnomalyFork
	// AnomalyReorder: an event's sequence id is not above one already seen.
	AnomalyReorder
	// AnomalySelfReference: an event names itself, or a later event, as
	// its predecessor.
	AnomalySelfReference
	// AnomalyMissingKey: a message under a conversation key version for
	// which no key (and no key change) is known.
	AnomalyMissingKey
	// AnomalyRosterDivergence: a signed group change that does not fit the
	// group roster held (for example a member add whose signed current
	// lists differ from it); or a stored event that a member removal or
	// admin revocation the server served late (stored below it) makes
	// invalid: it is marked failed, Related is the removal or revocation.
	// Reported by the session engine.
	AnomalyRosterDivergence
	// AnomalyCreateRejected: a group create not accepted: a second create
	// for the group, or one its paired key change does not bind to the
	// group. Reported by the session engine.
	AnomalyCreateRejected
	// AnomalyCreateReplayed: a group create already accepted in another
	// group, served again in this one. Reported by the session engine.
	AnomalyCreateReplayed
	// AnomalyUnconfirmedDelete: a verified delete for everyone names an
	// event this account never saw (missing from the chain) or holds only
	// unverified (its claimed sender is the server's word), so it cannot
	// confirm that the deleter wrote it (only a message's author may delete
	// it for everyone). SequenceID is that event, Related the deleter. Reported by the session engine instead of AnomalyGap: the
	// break may be an honest delete, or a member's delete covering a
	// message the server withheld.
	AnomalyUnconfirmedDelete
	// AnomalyKeyWrappedToNonMember: a verified key change lists among its
	// participants (those its key is said to be wrapped to) a user who is
	// not a member of the conversation: for a group, not on the roster
	// held where the key change stands in the transcript (a key change
	// served late, below changes stored since, is judged at its place:
	// against whom the group changes below it admit there); for a
	// one-to-one conversation, anyone but its two users. The participant
	// list is not signed, so the server may have added the name; either
	// way the key is treated as exposed to that user: it is never made a
	// member by it, and new content is not encrypted under that key (a
	// new key is made for the members first). One anomaly per outsider
	// and key change: SequenceID is the key change, Related the outsider's
	// user id. Reported by the session engine.
	AnomalyKeyWrappedToNonMember
	// AnomalyFailedNotKept: failed events (forged, tampered with, replayed
	// or otherwise refused: Event.Err set) arrived past their
	// conversation's allowance of kept failed events (see
	// session.WithMaxFailedEvents), or were pushed into a one-to-one
	// conversation not recorded yet; they were passed to the callback but
	// not stored. SequenceID is the first of them in one storing step,
	// Related how many (decimal). Reported by the session engine.
	AnomalyFailedNotKept
)

var anomalyNames = [...]string{"", "gap", "duplicate", "conflict", "fork", "reorder", "self_reference", "missing_key",
	"roster_divergence", "create_rejected", "create_replayed", "unconfirmed_delete", "key_wrapped_to_non_member",
	"failed_not_kept"}

// String returns the snake_case anomaly name.
func (k AnomalyKind) String() string {
	if k > 0 && int(k) < len(anomalyNames) {
		return anomalyNames[k]
	}
	return "unknown"
}

// Anomaly is one transcript finding.
type Anomaly struct {
	Kind           AnomalyKind
	ConversationID string
	// SequenceID is the event that exposed the anomaly.
	SequenceID string
	// Related is the other sequence id involved: the missing predecessor
	// (gap; empty when the event names none), the shared predecessor (fork), the highest id already seen
	// (reorder), the key version (missing key, a create not bound), the
	// sequence id the roster stood at (roster divergence, second create) or
	// the group a replayed create was accepted in, the deleter (unconfirmed
	// delete), the outsider's user id (key wrapped to a non-member) or the
	// number of failed events not kept (decimal).
	Related string
}

// String describes the anomaly.
func (a Anomaly) String() string {
	return fmt.Sprintf("%s in %s at %s (%s)", a.Kind, a.ConversationID, a.SequenceID, a.Related)
}
