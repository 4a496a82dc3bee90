package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// rejudgePage is how many stored events rejudgeAbove reads at a time.
const rejudgePage = 256

// rejudgeAbove re-judges what this account stored above a member removal
// (ev, verified, just stored) before the removal itself: events the
// server served or pushed ahead of a removal it withheld, and then served
// (or pushed) the removal below them. When they were judged, the members
// it removes passed as members; sequence ids are not signed, and the
// removal's place in the transcript is as much the server's word as the
// withholding was, but the removal is signed by an admin and the safe
// reading of it is the one that takes rights away. What a removed member
// signed above the removal, until a later signed add re-admits her, is
// marked failed (ErrNotMember) and reported (AnomalyRosterDivergence,
// Related the removal), and a conversation key she distributed there is
// no longer verified: new content never goes under it.
//
// Events are stored oldest first, so in a sync served in order nothing is
// stored above a removal yet when it is stored: the walk reads nothing.
// The roster itself follows the removal as it is stored; group changes
// such a member made above it keep their effect on the roster and are
// only reported.
func (e *Engine) rejudgeAbove(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) ([]event.Anomaly, error) {
	g := ev.GroupChange
	if !IsGroup(cid) || !ev.Verified || ev.Err != nil || g == nil || g.Kind != event.GroupMembersRemoved {
		return nil, nil
	}
	removed := map[string]bool{}
	for _, id := range g.MemberIDs {
		if id != e.userID {
			removed[id] = true
		}
	}
	j := &rejudge{cid: cid, removal: ev.SequenceID, removed: removed}
	return j.found, j.walk(ctx, tx)
}

// rejudge is one walk of rejudgeAbove.
type rejudge struct {
	cid, removal string
	removed      map[string]bool // the removed members not re-admitted yet
	found        []event.Anomaly
}

// walk reads the stored events above the removal in transcript order,
// failing the verified ones its removed members signed until a verified
// add by someone else re-admits them.
func (j *rejudge) walk(ctx context.Context, tx keystore.Tx) error {
	after := j.removal
	for len(j.removed) > 0 {
		evs, err := tx.Events(ctx, j.cid, after, rejudgePage)
		if err != nil {
			return fmt.Errorf("session: reading history: %w", err)
		}
		for i := range evs {
			if err := j.judge(ctx, tx, &evs[i]); err != nil {
				return err
			}
		}
		if len(evs) < rejudgePage {
			return nil
		}
		after = evs[len(evs)-1].SequenceID
	}
	return nil
}

// judge re-judges one stored event above the removal.
func (j *rejudge) judge(ctx context.Context, tx keystore.Tx, ev *keystore.StoredEvent) error {
	defer ev.Body.Zero()
	if !ev.Verified {
		return nil
	}
	en := entryFromStored(j.cid, ev)
	if !j.removed[ev.SenderID] {
		if en.Group != nil && en.Group.Kind == event.GroupMembersAdded {
			for _, id := range en.Group.MemberIDs {
				delete(j.removed, id) // re-admitted by a member's signed add
			}
		}
		return nil
	}
	cause := fmt.Errorf("%w: %s was removed at %s, which the server served after this event", ErrNotMember, ev.SenderID, j.removal)
	if err := flipEntry(ctx, tx, j.cid, ev.SequenceID, cause); err != nil {
		return err
	}
	j.found = append(j.found, event.Anomaly{Kind: event.AnomalyRosterDivergence, ConversationID: j.cid, SequenceID: ev.SequenceID, Related: j.removal})
	if ev.Type != event.KindKeyChange.String() || en.KeyVersion == "" {
		return nil
	}
	return distrustKey(ctx, tx, j.cid, en.KeyVersion, ev.SenderID)
}

// distrustKey clears the verified mark of the conversation key version
// that maker distributed.
func distrustKey(ctx context.Context, tx keystore.Tx, cid, version, maker string) error {
	k, err := tx.ConversationKey(ctx, cid, version)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("session: reading conversation key: %w", err)
	}
	defer k.Key.Zero()
	if !k.Verified || k.CreatedBy != maker {
		return nil
	}
	k.Verified = false
	if err := tx.PutConversationKey(ctx, *k); err != nil {
		return fmt.Errorf("session: storing conversation key: %w", err)
	}
	return nil
}
