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

// A group holds nothing before its create, but sequence ids are unsigned:
// the server may place an event below the create, where no roster is held
// and the roster step admits every author. An honest create the server
// moved above its members' content must leave that content standing (a
// fresh device reads it where no roster is held), so the rule is: an event
// below the group's create stands only if its author is one of the
// create's signed members or its creator. A screening holding the create
// applies it as the roster step reads each event (rosterRec.
// outsiderBelowCreate). What was stored verified below the create before
// the create was served (a sync that served the outsider's content alone)
// is re-judged when the create is stored (failBelowCreate).

// failBelowCreate re-judges, once the group create ev is accepted and
// establishes the roster of cid, the events stored verified below it
// while no roster was held: a content event or key change whose author is
// neither among the create's signed members nor its creator is marked
// failed (xchat.ErrNotMember), and a key it distributed is no longer
// verified (distrustKey), so it never encrypts. Group changes are left
// alone: read before any roster, the roster step refuses every one that
// could change the group, save a member add naming this account (which
// starts a roster, and then no create is accepted). Each stored event
// below the create is read once, when the create is stored.
func (e *Engine) failBelowCreate(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	var distrusted []distrustedKey
	for after := ""; ; {
		evs, err := tx.Events(ctx, cid, after, rejudgePage)
		if err != nil {
			return fmt.Errorf("session: reading history: %w", err)
		}
		for i := range evs {
			s := &evs[i]
			if !decimal.Less(s.SequenceID, ev.SequenceID) {
				zeroStored(evs[i:])
				return e.rerecordRecipients(ctx, tx, cid, distrusted)
			}
			d, err := failOutsiderBelow(ctx, tx, cid, ev, s)
			s.Body.Zero()
			if err != nil {
				zeroStored(evs[i+1:])
				return err
			}
			if d != nil {
				distrusted = append(distrusted, *d)
			}
		}
		if len(evs) < rejudgePage {
			return e.rerecordRecipients(ctx, tx, cid, distrusted)
		}
		after = evs[len(evs)-1].SequenceID
	}
}

// failOutsiderBelow marks s, stored below the group create ev, failed when
// it stands verified, changes nothing of the group, and its author is
// neither a member the create signs nor its creator. It returns the key s
// distributed when that key is no longer trusted.
func failOutsiderBelow(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event, s *keystore.StoredEvent) (*distrustedKey, error) {
	if !s.Verified || s.SenderID == ev.SenderID || slices.Contains(ev.GroupChange.MemberIDs, s.SenderID) {
		return nil, nil
	}
	en := entryFromStored(cid, s)
	if en.Group != nil {
		return nil, nil
	}
	cause := fmt.Errorf("%w: %s is not a member of %s: the event lies below the group's create (at %s), which does not name its author", xchat.ErrNotMember, s.SenderID, cid, ev.SequenceID)
	if err := putFlipped(ctx, tx, cid, en, s.Raw, cause); err != nil {
		return nil, err
	}
	return unstandFailed(ctx, tx, cid, s, en)
}
