package session

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// rejudgePage is how many stored events rejudgeAbove reads at a time.
const rejudgePage = 256

// rejudgeAbove re-judges what this account stored above a group change
// that takes rights away (ev, verified, just stored: a member removal or
// an admin revocation) before the change itself: events the server
// served or pushed ahead of a change it withheld, and then served (or
// pushed) the change below them. When they were judged, the members it
// removes passed as members and the admins it revokes as admins. Sequence
// ids are not signed, and the change's place in the transcript is as much
// the server's word as the withholding was, but the change is signed by
// an admin and the safe reading of it is the one that takes rights away:
//
//   - what a removed member signed above the removal, until a signed add
//     re-admits her, is marked failed (xchat.ErrNotMember), and a conversation
//     key she distributed there is no longer verified;
//   - a group change a revoked admin made above the revocation that needs
//     an admin, until a signed admin add restores her, is marked failed
//     (xchat.ErrNotAuthorized);
//   - what such a failed group change granted is taken back from the
//     roster: the members it added, the admins it named. What it took
//     away stays taken (the safe direction). A title it set is undone:
//     the title becomes the one verified changes set last (restoreTitle).
//
// Each is reported (AnomalyRosterDivergence, Related the change).
// Events are stored oldest first, so in a sync served in order nothing is
// stored above the change yet when it is stored: the walk reads nothing.
func (e *Engine) rejudgeAbove(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) ([]event.Anomaly, error) {
	g := ev.GroupChange
	if !IsGroup(cid) || !ev.Verified || ev.Err != nil || g == nil {
		return nil, nil
	}
	j := &rejudge{cid: cid, change: ev.SequenceID, removed: map[string]bool{}, demoted: map[string]bool{}}
	switch g.Kind {
	case event.GroupMembersRemoved:
		j.mark(j.removed, g.MemberIDs, e.userID)
	case event.GroupAdminsRemoved:
		j.mark(j.demoted, g.AdminIDs, e.userID)
	default:
		return nil, nil
	}
	if len(j.removed)+len(j.demoted) == 0 {
		return nil, nil
	}
	if err := j.walk(ctx, tx); err != nil {
		return nil, err
	}
	if err := j.takeBack(ctx, e, tx); err != nil {
		return nil, err
	}
	if j.retitle {
		return j.found, e.restoreTitle(ctx, tx, cid)
	}
	return j.found, nil
}

// rejudge is one walk of rejudgeAbove.
type rejudge struct {
	cid, change string
	// removed and demoted are those the change took rights from, not
	// restored yet by a signed change above it.
	removed, demoted map[string]bool
	// dropMembers and dropAdmins are what failed group changes granted.
	dropMembers, dropAdmins []string
	found                   []event.Anomaly
	// retitle: a failed group change set the title (see restoreTitle).
	retitle bool
}

// mark records ids in set, this account aside.
func (j *rejudge) mark(set map[string]bool, ids []string, self string) {
	for _, id := range ids {
		if id != self {
			set[id] = true
		}
	}
}

// walk reads the stored events above the change in transcript order.
func (j *rejudge) walk(ctx context.Context, tx keystore.Tx) error {
	after := j.change
	for len(j.removed)+len(j.demoted) > 0 {
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

// judge re-judges one stored event above the change.
func (j *rejudge) judge(ctx context.Context, tx keystore.Tx, ev *keystore.StoredEvent) error {
	defer ev.Body.Zero()
	if !ev.Verified {
		return nil
	}
	en := entryFromStored(j.cid, ev)
	var cause error
	switch {
	case j.removed[ev.SenderID]:
		cause = fmt.Errorf("%w: %s was removed at %s, which the server served after this event", xchat.ErrNotMember, ev.SenderID, j.change)
	case j.demoted[ev.SenderID] && needsAdmin(en.Group, ev.SenderID):
		cause = notAuthorized("%s's admin rights were revoked at %s, which the server served after this event", ev.SenderID, j.change)
	default:
		j.restore(en.Group)
		return nil
	}
	if err := flipEntry(ctx, tx, j.cid, ev.SequenceID, cause); err != nil {
		return err
	}
	j.found = append(j.found, event.Anomaly{Kind: event.AnomalyRosterDivergence, ConversationID: j.cid, SequenceID: ev.SequenceID, Related: j.change})
	j.grantedBy(en.Group)
	if en.Group != nil && setsTitle(en.Group.Kind) {
		j.retitle = true // the title it set is undone
	}
	if ev.Type != event.KindKeyChange.String() || en.KeyVersion == "" {
		return nil
	}
	return distrustKey(ctx, tx, j.cid, en.KeyVersion, ev.SenderID)
}

// needsAdmin reports whether group change g by sender needs an admin (see
// rosterRec.stepMemberAdd, stepRemove and stepAdmins).
func needsAdmin(g *event.GroupChange, sender string) bool {
	if g == nil {
		return false
	}
	switch g.Kind {
	case event.GroupMembersAdded, event.GroupAdminsAdded, event.GroupAdminsRemoved:
		return true
	case event.GroupMembersRemoved:
		return !(len(g.MemberIDs) == 1 && g.MemberIDs[0] == sender) // leaving needs no rights
	}
	return false
}

// restore notes what a verified group change above the change gives back:
// a member add re-admits whom it adds (and whom its signed lists name as
// admins keep that right); an admin add restores whom it names.
func (j *rejudge) restore(g *event.GroupChange) {
	if g == nil {
		return
	}
	switch g.Kind {
	case event.GroupMembersAdded:
		for _, id := range g.MemberIDs {
			delete(j.removed, id)
		}
		j.dropMembers = slices.DeleteFunc(j.dropMembers, func(id string) bool { return slices.Contains(g.MemberIDs, id) })
		for _, id := range g.CurrentAdminIDs {
			delete(j.demoted, id)
		}
	case event.GroupAdminsAdded:
		for _, id := range g.AdminIDs {
			delete(j.demoted, id)
		}
		j.dropAdmins = slices.DeleteFunc(j.dropAdmins, func(id string) bool { return slices.Contains(g.AdminIDs, id) })
	}
}

// grantedBy notes what a failed group change granted.
func (j *rejudge) grantedBy(g *event.GroupChange) {
	if g == nil {
		return
	}
	switch g.Kind {
	case event.GroupMembersAdded:
		j.dropMembers = append(j.dropMembers, g.MemberIDs...)
		j.dropAdmins = append(j.dropAdmins, g.MemberIDs...)
	case event.GroupAdminsAdded:
		j.dropAdmins = append(j.dropAdmins, g.AdminIDs...)
	}
}

// takeBack removes from the roster what failed group changes granted.
func (j *rejudge) takeBack(ctx context.Context, e *Engine, tx keystore.Tx) error {
	drop := slices.DeleteFunc(slices.Clone(j.dropMembers), func(id string) bool { return id == e.userID })
	admins := j.dropAdmins
	if len(drop)+len(admins) == 0 {
		return nil
	}
	r, err := loadRoster(ctx, tx, j.cid)
	if err != nil {
		return err
	}
	r.Members, r.Unconfirmed = without(r.Members, drop), without(r.Unconfirmed, drop)
	r.Admins, r.Claimed = without(without(r.Admins, drop), admins), without(without(r.Claimed, drop), admins)
	if err := r.save(ctx, tx, j.cid); err != nil {
		return err
	}
	c, err := e.conversationRecord(ctx, tx, j.cid)
	if err != nil {
		return err
	}
	c.Members = r.effective()
	return tx.PutConversation(ctx, c)
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
