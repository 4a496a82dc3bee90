package session

import (
	"context"
	"fmt"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// A create served late. A group holds nothing before its create, but
// sequence ids are unsigned: the server chooses on which side of the
// create an event lies, and while a device holds no roster for the group
// the roster step admits every author. A fresh device served the
// transcript in order reads what lies below the create where no roster is
// held, and what lies above it against the roster the create starts; so:
//
//   - below the create, an event stands only if its author is a member the
//     create signs, or its creator (rosterRec.outsiderBelowCreate);
//   - above it, only if its author is a member of the roster the create
//     starts (the ids a removal read before any roster named excluded:
//     rosterRec.stepCreate).
//
// A screening holding the create applies the first rule as it reads each
// event (createAhead; a sync's staged pages are searched for the create
// before the first is stored: syncState.findCreate). What was stored
// verified before the create was accepted (served in an earlier sync, or
// the create served below it) is judged again when the create is stored
// and starts the roster (rejudgeBeforeCreate). A sync that reads the group
// while no roster is held holds what it stores from fn until a roster is
// held (syncState.holdUnrostered), so fn is never handed as verified what
// the create then fails. A create read before its pair, its pair stored
// later, is bound then, the group read again from no roster
// (latebind.go).

// rejudgeBeforeCreate judges again, once the group create ev is accepted
// and starts the roster r of cid, the events stored verified while no
// roster was held: a content event or key change whose author the rules
// above exclude is marked failed (xchat.ErrNotMember), a key it
// distributed is no longer verified (distrustKey) and an edit no longer
// stands for its target (reindexEdit: the indexes are given back at the
// walk's end, in one read of the history). Group changes are left as stored:
// read before any roster, every one that could change the group failed
// (xchat.ErrRosterUnknown) and stays failed (fail safe; a fresh device
// reads those above the create against its roster), and a join request
// changes nothing. It returns, per sequence id it failed, the cause. Each event
// stored in the group is read once, when the create is stored (for a
// group synced in order, nothing is stored before its create).
func (e *Engine) rejudgeBeforeCreate(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event, r *rosterRec) (map[string]error, error) {
	var distrusted []distrustedKey
	failed := map[string]error{}
	outer := ctx
	ctx, batch := withReindexBatch(ctx, tx, cid)
	for after := ""; ; {
		evs, err := tx.Events(ctx, cid, after, rejudgePage)
		if err != nil {
			return nil, fmt.Errorf("session: reading history: %w", err)
		}
		for i := range evs {
			s := &evs[i]
			cause := excludedByCreate(cid, ev, r, s)
			if cause == nil {
				s.Body.Zero()
				continue
			}
			en := entryFromStored(cid, s)
			if !en.Verified || en.Group != nil {
				s.Body.Zero()
				continue
			}
			err := putFlipped(ctx, tx, cid, en, s.Raw, cause)
			var d *distrustedKey
			if err == nil {
				d, err = unstandFailed(ctx, tx, cid, s, en)
			}
			s.Body.Zero()
			if err != nil {
				zeroStored(evs[i+1:])
				return nil, err
			}
			if d != nil {
				distrusted = append(distrusted, *d)
			}
			failed[s.SequenceID] = cause
		}
		if len(evs) < rejudgePage {
			if err := batch.flush(ctx); err != nil {
				return nil, err
			}
			return failed, e.rerecordRecipients(outer, tx, cid, distrusted)
		}
		after = evs[len(evs)-1].SequenceID
	}
}

// excludedByCreate returns why stored event s fails once the group create
// ev is accepted and starts the roster r (see above), nil when it stands
// or is no content event or key change stored verified.
func excludedByCreate(cid string, ev *event.Event, r *rosterRec, s *keystore.StoredEvent) error {
	if !s.Verified || s.SequenceID == ev.SequenceID || s.Type == event.TypeGroupChange {
		return nil
	}
	if decimal.Less(s.SequenceID, ev.SequenceID) {
		if s.SenderID == ev.SenderID || slices.Contains(ev.GroupChange.MemberIDs, s.SenderID) {
			return nil
		}
		return fmt.Errorf("%w: %s is not a member of %s: the event lies below the group's create (at %s), which does not name its author", xchat.ErrNotMember, s.SenderID, cid, ev.SequenceID)
	}
	if r.member(s.SenderID) {
		return nil
	}
	return fmt.Errorf("%w: %s is not a member of %s: the group's create (at %s), served after this event, does not make its author a member", xchat.ErrNotMember, s.SenderID, cid, ev.SequenceID)
}
