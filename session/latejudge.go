package session

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// rejudgePage is how many stored events rejudgeAfter reads at a time.
const rejudgePage = 256

// rejudgeLate re-judges what this account stored above a member removal
// that the server served late: new to this account, but below the newest
// event it had stored (see checkLate). The removal was withheld when the
// events above it were judged, so their authors' removed members passed
// as members; sequence ids are not signed, and the removal's place in the
// transcript is as much the server's word as the withholding was, but
// the removal is signed by an admin and the safe reading of it is the
// one that takes rights away. What a removed member signed above the
// removal, until a later signed add re-admits her, is marked failed
// (ErrNotMember) and reported (AnomalyRosterDivergence, Related the
// removal), and a conversation key she distributed there is no longer
// verified: new content never goes under it.
//
// The roster itself already follows the removal (it is stored in
// transcript order as it arrives); group changes such a member made
// above it keep their effect on the roster and are only reported, but a
// title she set there is undone (restoreTitle).
//
// A removal stored by this sync above the previous sync's tip may still
// lie below events stored since by pushes (Deliver leaves the sync
// position where it was): every removal stored (s.exits) is re-judged
// against what lies above it too. Above a removal in its own sync there
// is nothing to re-judge (those events were judged after it).
func (s *syncState) rejudgeLate(ctx context.Context) error {
	if !IsGroup(s.cid) || len(s.late)+len(s.exits) == 0 {
		return nil
	}
	late := slices.Concat(s.late, s.exits)
	slices.SortFunc(late, decimal.Compare)
	late = slices.Compact(late)
	return s.e.store.Update(ctx, func(tx keystore.Tx) error {
		for _, seq := range late {
			removed, err := lateRemoval(ctx, tx, s.cid, seq, s.e.userID)
			if err != nil {
				return err
			}
			if len(removed) == 0 {
				continue
			}
			if err := s.rejudgeAfter(ctx, tx, seq, removed); err != nil {
				return err
			}
		}
		if !s.retitle {
			return nil
		}
		s.retitle = false
		return s.e.restoreTitle(ctx, tx, s.cid)
	})
}

// lateRemoval returns the members a verified removal stored at seq
// removed, other than this account.
func lateRemoval(ctx context.Context, tx keystore.Tx, cid, seq, self string) (map[string]bool, error) {
	old, err := eventAt(ctx, tx, cid, seq)
	if err != nil || old == nil {
		return nil, err
	}
	en := entryFromStored(cid, old)
	old.Body.Zero()
	if !en.Verified || en.Group == nil || en.Group.Kind != event.GroupMembersRemoved {
		return nil, nil
	}
	removed := map[string]bool{}
	for _, id := range en.Group.MemberIDs {
		if id != self {
			removed[id] = true
		}
	}
	return removed, nil
}

// rejudgeAfter walks the stored events above the removal at seq in
// transcript order, failing the verified ones whose authors it removed
// until a verified add by someone else re-admits them.
func (s *syncState) rejudgeAfter(ctx context.Context, tx keystore.Tx, seq string, removed map[string]bool) error {
	after := seq
	for len(removed) > 0 {
		evs, err := tx.Events(ctx, s.cid, after, rejudgePage)
		if err != nil {
			return fmt.Errorf("session: reading history: %w", err)
		}
		for i := range evs {
			if err := s.rejudgeStored(ctx, tx, seq, &evs[i], removed); err != nil {
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

// rejudgeStored judges one stored event above the removal at seq.
func (s *syncState) rejudgeStored(ctx context.Context, tx keystore.Tx, seq string, ev *keystore.StoredEvent, removed map[string]bool) error {
	defer ev.Body.Zero()
	if !ev.Verified {
		return nil
	}
	en := entryFromStored(s.cid, ev)
	if !removed[ev.SenderID] {
		if en.Group != nil && en.Group.Kind == event.GroupMembersAdded {
			for _, id := range en.Group.MemberIDs {
				delete(removed, id) // re-admitted by a member's signed add
			}
		}
		return nil
	}
	cause := fmt.Errorf("%w: %s was removed at %s, which the server served late", ErrNotMember, ev.SenderID, seq)
	if err := flipEntry(ctx, tx, s.cid, ev.SequenceID, cause); err != nil {
		return err
	}
	s.report(event.AnomalyRosterDivergence, ev.SequenceID, seq)
	if en.Group != nil && setsTitle(en.Group.Kind) {
		s.retitle = true // the title it set is undone (restoreTitle)
	}
	if ev.Type != event.KindKeyChange.String() || en.KeyVersion == "" {
		return nil
	}
	return distrustKey(ctx, tx, s.cid, en.KeyVersion, ev.SenderID)
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

// setsTitle reports whether a group change of kind may set the title.
func setsTitle(kind event.GroupChangeKind) bool {
	return kind == event.GroupCreated || kind == event.GroupTitleChanged || kind == event.GroupMembersAdded
}

// restoreTitle sets cid's title to the one its verified group changes set
// last, in transcript order (none: no title), after re-judging failed a
// change that set it: a title a removed member set above her removal is
// not the group's.
func (e *Engine) restoreTitle(ctx context.Context, tx keystore.Tx, cid string) error {
	cipher, version, err := lastTitle(ctx, tx, cid)
	if err != nil {
		return err
	}
	c, err := e.conversationRecord(ctx, tx, cid)
	if err != nil {
		return err
	}
	m := loadMeta(c)
	m.Title, m.TitleCipher = "", cipher
	if cipher != "" {
		m.Title = e.decryptTitle(ctx, tx, cid, version, cipher)
	}
	c.Meta = m.encode()
	c.UpdatedAt = e.now()
	return tx.PutConversation(ctx, c)
}

// lastTitle returns the wire title (and its key version) of the newest
// verified group change of cid that sets one, as applyGroupChange reads
// them: a create's or a member add's title when present, a title change's
// always.
func lastTitle(ctx context.Context, tx keystore.Tx, cid string) (cipher, version string, err error) {
	after := ""
	for {
		evs, err := tx.Events(ctx, cid, after, rejudgePage)
		if err != nil {
			return "", "", fmt.Errorf("session: reading history: %w", err)
		}
		for i := range evs {
			if t, v, ok := titleOf(cid, &evs[i]); ok {
				cipher, version = t, v
			}
			evs[i].Body.Zero()
		}
		if len(evs) < rejudgePage {
			return cipher, version, nil
		}
		after = evs[len(evs)-1].SequenceID
	}
}

// titleOf returns the wire title a stored, verified group change sets.
func titleOf(cid string, ev *keystore.StoredEvent) (title, version string, ok bool) {
	if !ev.Verified {
		return "", "", false
	}
	en := entryFromStored(cid, ev)
	if en.Group == nil || !setsTitle(en.Group.Kind) {
		return "", "", false
	}
	me, err := wire.DecodeMessageEvent(ev.Raw)
	if err != nil || me.GetDetail().GetGroupChangeEvent().GetGroupChange() == nil {
		return "", "", false
	}
	gc := me.GetDetail().GetGroupChangeEvent().GetGroupChange()
	switch {
	case gc.GroupTitleChange != nil:
		return gc.GroupTitleChange.GetCustomTitle(), en.Group.KeyVersion, true
	case gc.GroupCreate != nil && gc.GroupCreate.GetTitle() != "":
		return gc.GroupCreate.GetTitle(), en.Group.KeyVersion, true
	case gc.GroupMemberAdd != nil && gc.GroupMemberAdd.GetCurrentTitle() != "":
		return gc.GroupMemberAdd.GetCurrentTitle(), en.Group.KeyVersion, true
	}
	return "", "", false
}
