package inbound

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
)

// AnomalyKind classifies a transcript finding.
type AnomalyKind int

// Transcript anomalies reported by Chain.
const (
	// AnomalyGap: an event's previous_sequence_id was never seen, so events
	// are missing (or withheld) between it and its predecessor.
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
	// lists differ from it). Reported by the session engine.
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
)

var anomalyNames = [...]string{"", "gap", "duplicate", "conflict", "fork", "reorder", "self_reference", "missing_key",
	"roster_divergence", "create_rejected", "create_replayed", "unconfirmed_delete"}

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
	// (gap), the shared predecessor (fork), the highest id already seen
	// (reorder), the key version (missing key, a create not bound), the
	// sequence id the roster stood at (roster divergence, second create) or
	// the group a replayed create was accepted in.
	Related string
}

// String describes the anomaly.
func (a Anomaly) String() string {
	return fmt.Sprintf("%s in %s at %s (%s)", a.Kind, a.ConversationID, a.SequenceID, a.Related)
}

type chainConv struct {
	seen      map[string][32]byte // sequence id → hash of the raw event
	childOf   map[string]string   // previous id → first successor
	max       string              // highest sequence id seen
	started   bool
	keyKnown  map[string]bool // versions with a key (or key change) seen
	keyMissed map[string]bool // versions used without a key
}

// Chain checks transcripts as the server presents them: feed it events in
// the order received (Observe) and it reports gaps, duplicates, conflicting
// duplicates, forks, reorders and messages under unknown key versions. It
// reports and never hides: every event is still the caller's to show. The
// first event of each conversation starts the chain (its predecessor is
// assumed to lie before the window read). Events without a sequence id
// (typing indicators) are ignored. Memory grows with the number of distinct
// sequence ids seen. A Chain is not safe for concurrent use.
type Chain struct {
	convs     map[string]*chainConv
	anomalies []Anomaly
}

// NewChain returns an empty Chain.
func NewChain() *Chain { return &Chain{convs: map[string]*chainConv{}} }

// Observe records ev and returns the anomalies it exposes (also kept for
// Anomalies).
func (c *Chain) Observe(ev *Event) []Anomaly {
	if ev == nil || ev.SequenceID == "" {
		return nil
	}
	cv := c.convs[ev.ConversationID]
	if cv == nil {
		cv = &chainConv{seen: map[string][32]byte{}, childOf: map[string]string{},
			keyKnown: map[string]bool{}, keyMissed: map[string]bool{}}
		c.convs[ev.ConversationID] = cv
	}
	var found []Anomaly
	report := func(k AnomalyKind, related string) {
		found = append(found, Anomaly{Kind: k, ConversationID: ev.ConversationID, SequenceID: ev.SequenceID, Related: related})
	}
	h := sha256.Sum256(ev.Raw)
	if old, dup := cv.seen[ev.SequenceID]; dup {
		if old == h {
			report(AnomalyDuplicate, ev.SequenceID)
		} else {
			report(AnomalyConflict, ev.SequenceID)
		}
		c.anomalies = append(c.anomalies, found...)
		return found
	}
	cv.seen[ev.SequenceID] = h

	prev := ev.PreviousSequenceID
	if prev != "" {
		if CompareVersions(prev, ev.SequenceID) >= 0 {
			report(AnomalySelfReference, prev)
		}
		if _, ok := cv.childOf[prev]; ok {
			report(AnomalyFork, prev)
		} else {
			cv.childOf[prev] = ev.SequenceID
		}
		if _, ok := cv.seen[prev]; !ok && cv.started {
			report(AnomalyGap, prev)
		}
	}
	if cv.started && CompareVersions(ev.SequenceID, cv.max) <= 0 {
		report(AnomalyReorder, cv.max)
	}
	if !cv.started || CompareVersions(ev.SequenceID, cv.max) > 0 {
		cv.max = ev.SequenceID
	}
	cv.started = true

	switch {
	case ev.KeyChange != nil && ev.KeyChange.Version != "":
		cv.keyKnown[ev.KeyChange.Version] = true
	case ev.Message != nil:
		cv.keyKnown[ev.Message.KeyVersion] = true
	case ev.Kind == KindMessage:
		var uk *UnknownKeyError
		if errors.As(ev.Err, &uk) && !cv.keyKnown[uk.Version] {
			cv.keyMissed[uk.Version] = true
			report(AnomalyMissingKey, uk.Version)
		}
	}
	c.anomalies = append(c.anomalies, found...)
	return found
}

// Anomalies returns every anomaly reported so far, in order.
func (c *Chain) Anomalies() []Anomaly { return append([]Anomaly(nil), c.anomalies...) }

// MissingKeyVersions returns, sorted numerically, the conversation key
// versions of conversationID that messages used but for which no key and no
// key change has been seen: the key change events to fetch (compare the
// server's missing-key-change hints).
func (c *Chain) MissingKeyVersions(conversationID string) []string {
	cv := c.convs[conversationID]
	if cv == nil {
		return nil
	}
	var out []string
	for v := range cv.keyMissed {
		if !cv.keyKnown[v] {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return CompareVersions(out[i], out[j]) < 0 })
	return out
}
