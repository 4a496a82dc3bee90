package inbound

import (
	"crypto/sha256"
	"errors"
	"sort"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/session/event"
)

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
	anomalies []event.Anomaly
}

// NewChain returns an empty Chain.
func NewChain() *Chain { return &Chain{convs: map[string]*chainConv{}} }

// Observe records ev and returns the anomalies it exposes (also kept for
// Anomalies).
func (c *Chain) Observe(ev *event.Event) []event.Anomaly {
	if ev == nil || ev.SequenceID == "" {
		return nil
	}
	cv := c.convs[ev.ConversationID]
	if cv == nil {
		cv = &chainConv{seen: map[string][32]byte{}, childOf: map[string]string{},
			keyKnown: map[string]bool{}, keyMissed: map[string]bool{}}
		c.convs[ev.ConversationID] = cv
	}
	var found []event.Anomaly
	report := func(k event.AnomalyKind, related string) {
		found = append(found, event.Anomaly{Kind: k, ConversationID: ev.ConversationID, SequenceID: ev.SequenceID, Related: related})
	}
	h := sha256.Sum256(ev.Raw)
	if old, dup := cv.seen[ev.SequenceID]; dup {
		if old == h {
			report(event.AnomalyDuplicate, ev.SequenceID)
		} else {
			report(event.AnomalyConflict, ev.SequenceID)
		}
		c.anomalies = append(c.anomalies, found...)
		return found
	}
	cv.seen[ev.SequenceID] = h

	prev := ev.PreviousSequenceID
	if prev != "" {
		if decimal.Compare(prev, ev.SequenceID) >= 0 {
			report(event.AnomalySelfReference, prev)
		}
		if _, ok := cv.childOf[prev]; ok {
			report(event.AnomalyFork, prev)
		} else {
			cv.childOf[prev] = ev.SequenceID
		}
		if _, ok := cv.seen[prev]; !ok && cv.started {
			report(event.AnomalyGap, prev)
		}
	}
	if cv.started && decimal.Compare(ev.SequenceID, cv.max) <= 0 {
		report(event.AnomalyReorder, cv.max)
	}
	if !cv.started || decimal.Compare(ev.SequenceID, cv.max) > 0 {
		cv.max = ev.SequenceID
	}
	cv.started = true

	switch {
	case ev.KeyChange != nil && ev.KeyChange.Version != "":
		cv.keyKnown[ev.KeyChange.Version] = true
	case ev.Message != nil:
		cv.keyKnown[ev.Message.KeyVersion] = true
	case ev.Kind == event.KindMessage:
		var uk *UnknownKeyError
		if errors.As(ev.Err, &uk) && !cv.keyKnown[uk.Version] {
			cv.keyMissed[uk.Version] = true
			report(event.AnomalyMissingKey, uk.Version)
		}
	}
	c.anomalies = append(c.anomalies, found...)
	return found
}

// Anomalies returns every anomaly reported so far, in order.
func (c *Chain) Anomalies() []event.Anomaly { return append([]event.Anomaly(nil), c.anomalies...) }

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
	sort.Slice(out, func(i, j int) bool { return decimal.Compare(out[i], out[j]) < 0 })
	return out
}
