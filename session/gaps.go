package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// maxGapWalk bounds how many removed events resolveGaps follows back from
// one break in the chain.
const maxGapWalk = 1024

// pendingGap is a break in the previous_sequence_id chain: the event seq
// claims prev as its predecessor, but the event served before it is
// before (older than prev).
type pendingGap struct {
	seq, prev, before string
}

// noteRemovals records the sequence ids that verified deletes among evs
// remove from this account's view: deletes for everyone, and this
// account's own deletes for itself. The server stops serving those events,
// which leaves a break in the chain that is not an attack. A delete counts
// only as stored (its authorship checked, see gateDelete and
// gateAuthorship): call it after the page is stored.
func (s *syncState) noteRemovals(ctx context.Context, tx keystore.Tx, evs []*event.Event) error {
	for _, ev := range evs {
		d := ev.Delete
		if d == nil || !ev.Verified || ev.Err != nil || !decimal.ValidID(ev.SequenceID) {
			continue
		}
		if d.Action != event.DeleteForAll && ev.SenderID != s.e.userID {
			continue
		}
		stored, err := eventAt(ctx, tx, s.cid, ev.SequenceID)
		if err != nil {
			return fmt.Errorf("session: reading history: %w", err)
		}
		if stored == nil {
			continue
		}
		stored.Body.Zero()
		if !stored.Verified || !bytes.Equal(stored.Raw, ev.Raw) {
			continue // rejected when stored, or not this delete
		}
		for _, seq := range d.SequenceIDs {
			if !decimal.ValidID(seq) {
				continue
			}
			s.setRemoval(seq, ev.SenderID)
			if err := s.noteUnconfirmedTarget(ctx, tx, ev, seq); err != nil {
				return err
			}
		}
	}
	return nil
}

// noteUnconfirmedTarget reports (AnomalyUnconfirmedDelete) a delete for
// everyone by another user naming an event stored here unverified: the
// sender that event claims is the server's word, so whether the deleter
// wrote it cannot be told (a stand-in for a withheld message would let the
// delete pass as its own author's).
func (s *syncState) noteUnconfirmedTarget(ctx context.Context, tx keystore.Tx, del *event.Event, seq string) error {
	if del.Delete.Action != event.DeleteForAll || del.SenderID == s.e.userID {
		return nil
	}
	t, err := eventAt(ctx, tx, s.cid, seq)
	if err != nil {
		return fmt.Errorf("session: reading history: %w", err)
	}
	if t == nil {
		return nil // never stored: see explained
	}
	t.Body.Zero()
	if !t.Verified {
		s.res.Anomalies = append(s.res.Anomalies, event.Anomaly{Kind: event.AnomalyUnconfirmedDelete, ConversationID: s.cid, SequenceID: seq, Related: del.SenderID})
	}
	return nil
}

// noteServed records the key changes a page served in meta: they are in
// the chain even when outside the window the walk checks (the oldest event
// of a page links to the key change its key came from).
func (s *syncState) noteServed(kcs []*event.Event) {
	for _, ev := range kcs {
		if !decimal.ValidID(ev.SequenceID) {
			continue
		}
		s.setServed(ev.SequenceID, ev.PreviousSequenceID)
	}
}

// resolveGaps reports every break in the chain (AnomalyGap) that held,
// verified deletes do not explain. A break is explained when each event
// from the claimed predecessor back to the event served before it was
// either served after all (a key change in meta, outside the window the
// walk checks) or removed by a signed delete this account holds: one seen in this
// sync, or one applied earlier (the entry is stored as removed). The walk
// back follows the predecessors recorded with removed entries; it ends,
// explained, at a removed event this account never stored (its own
// predecessor is unknowable, and the delete vouches for the event's
// absence). Anything else, a withheld event no delete names, is reported.
func (s *syncState) resolveGaps(ctx context.Context, r keystore.Tx) error {
	for _, g := range s.gaps {
		ok, err := s.explained(ctx, r, g)
		if err != nil {
			return err
		}
		if !ok {
			s.res.Anomalies = append(s.res.Anomalies, event.Anomaly{Kind: event.AnomalyGap, ConversationID: s.cid, SequenceID: g.seq, Related: g.prev})
		}
	}
	s.gaps = nil
	return nil
}

// explained reports whether the events between g.before and g.seq that the
// server withheld were all removed by held deletes.
func (s *syncState) explained(ctx context.Context, r keystore.Tx, g pendingGap) (bool, error) {
	cur := g.prev
	for range maxGapWalk {
		if cur == g.before {
			return true, nil
		}
		if !decimal.ValidID(cur) || !decimal.Less(g.before, cur) {
			return false, nil
		}
		if prev, ok := s.served[cur]; ok {
			// Served (as a key change in meta), not withheld.
			cur = prev
			continue
		}
		stored, err := eventAt(ctx, r, s.cid, cur)
		if err != nil {
			return false, fmt.Errorf("session: reading history: %w", err)
		}
		if stored == nil {
			// Never stored here: a held delete must name it, one of this
			// sync or one this account sent. Another user's delete cannot
			// show that its author wrote the event (nobody here saw it):
			// the break is reported as an unconfirmed delete.
			if by, named := s.removals[cur]; named {
				if by != s.e.userID {
					s.res.Anomalies = append(s.res.Anomalies, event.Anomaly{Kind: event.AnomalyUnconfirmedDelete, ConversationID: s.cid, SequenceID: cur, Related: by})
				}
				return true, nil
			}
			// Or it is a key change this account posted, served only
			// while a message uses its version.
			for _, key := range []string{removalKey(s.cid, cur), ownKeyChangeKey(s.cid, cur)} {
				v, err := r.Value(ctx, key)
				if err != nil && !errors.Is(err, keystore.ErrNotFound) {
					return false, fmt.Errorf("session: reading history: %w", err)
				}
				if err == nil && len(v) > 0 {
					return true, nil
				}
			}
			return false, nil
		}
		// A stored key change: the server serves key changes only for
		// the versions a page needs (one whose messages are all deleted
		// is no longer served), so its absence is not a withheld event.
		if stored.Type == event.KindKeyChange.String() && len(stored.Raw) > 0 {
			stored.Body.Zero()
			cur = previousOf(stored.Raw)
			continue
		}
		// Stored: explained only when a delete was applied to it (by its
		// author for everyone, or by this account for itself; this
		// sync's deletes are applied by now).
		var b entryBody
		jerr := json.Unmarshal(stored.Body, &b)
		stored.Body.Zero()
		if jerr != nil || !b.Removed {
			return false, nil
		}
		if b.Prev == "" {
			return true, nil // predecessor unknown (removed before it was recorded)
		}
		cur = b.Prev
	}
	return false, nil
}

// previousOf returns the previous sequence id recorded in an encoded
// MessageEvent, or "" when raw does not decode.
func previousOf(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	me, err := wire.DecodeMessageEvent(raw)
	if err != nil {
		return ""
	}
	return previousIn(me)
}

// previousIn returns a decoded MessageEvent's previous sequence id, or ""
// when it names none that is well formed.
func previousIn(me *tevent.MessageEvent) string {
	if p := me.GetPreviousSequenceID(); decimal.ValidID(p) {
		return p
	}
	return ""
}

// joinStored links the oldest event this sync walked to the history
// stored before it, when no page served that history again (an honest
// server's last page reaches back into it, so the page's own links join
// the two). Previous sequence ids are unsigned and the server chooses
// what a page holds: without this, a server that serves only what is new
// could withhold the events at the join, or link the new events past a
// stored one (a fork), unseen. The stored events above the sync position
// that this sync did not walk (stored by Deliver, which leaves the
// position alone) are linked in turn, oldest first.
func (s *syncState) joinStored(ctx context.Context, r keystore.Tx) error {
	if s.stored == "" || s.lo == "" || !decimal.Less(s.stored, s.lo) {
		return nil
	}
	before := s.stored
	for i := 0; ; i++ {
		if i == maxGapWalk {
			return nil // too many to follow: the join is left unchecked
		}
		evs, err := r.Events(ctx, s.cid, before, 1)
		if err != nil {
			return fmt.Errorf("session: reading history: %w", err)
		}
		if len(evs) == 0 || !decimal.Less(evs[0].SequenceID, s.lo) {
			for i := range evs {
				evs[i].Body.Zero()
			}
			break
		}
		ev := evs[0]
		prev, known := storedPrev(&ev)
		ev.Body.Zero()
		if known {
			s.link(ev.SequenceID, prev, before)
		}
		before = ev.SequenceID
	}
	s.link(s.lo, s.loPrev, before)
	return nil
}

// storedPrev returns the previous sequence id of a stored event: from its
// bytes, or, for a removed entry (its bytes dropped), from its body;
// known is false when neither tells (an entry removed before its
// predecessor was recorded).
func storedPrev(ev *keystore.StoredEvent) (prev string, known bool) {
	if len(ev.Raw) > 0 {
		if me, err := wire.DecodeMessageEvent(ev.Raw); err == nil {
			return previousIn(me), true
		}
	}
	var b entryBody
	if json.Unmarshal(ev.Body, &b) != nil || !decimal.ValidID(b.Prev) {
		return "", false
	}
	return b.Prev, true
}

// checkLate reports (AnomalyReorder) an event new to this account that
// the server slipped in below history already stored, where the stored
// event after it does not name it as its predecessor: the transcript this
// account stored and showed ran past it. An event filling a break the
// stored successor named (a gap reported before) is not reported again.
func (s *syncState) checkLate(ctx context.Context, r keystore.Tx) error {
	late := make(map[string]bool, len(s.late))
	for _, seq := range s.late {
		late[seq] = true
	}
	for _, seq := range s.late {
		evs, err := r.Events(ctx, s.cid, seq, 1)
		if err != nil {
			return fmt.Errorf("session: reading history: %w", err)
		}
		if len(evs) == 0 {
			continue
		}
		next := evs[0]
		prev, known := storedPrev(&next)
		next.Body.Zero()
		if late[next.SequenceID] || !known || prev == seq {
			continue
		}
		s.report(event.AnomalyReorder, seq, s.stored)
	}
	s.late = nil
	return nil
}
