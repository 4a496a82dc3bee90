package session

import (
	"context"
	"errors"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// Judging a backfilled removal or revocation at its place (see the note
// in backfill.go). An admin removes a member, or revokes an admin's
// rights; another admin revokes hers; the server withholds her change
// from this account's sync and serves it later at its place, below the
// revocation: judged against the roster held when stored she is no admin,
// where a fresh device served the transcript in order keeps the change.
// Failing it would keep on this account's roster a member (or an admin)
// whom every other device removed: a key wrapped to her. So such a change
// is judged at its place (adminAtPlace) and, when it stands there, what
// it takes away is taken from the roster held (takeAtPlace). It is then a
// change that takes rights away stored below events already stored: a
// late change (noteLate), and the late walk re-judges everything above
// it as for a removal the server served late.

// backfillableChange reports whether ev, which failed the roster step with
// err, is a verified member removal or admin revocation that needs an
// admin, failed only because its author is no member or no admin now.
func backfillableChange(ev *event.Event, err error) bool {
	g := ev.GroupChange
	if !ev.Verified || g == nil || !(errors.Is(err, xchat.ErrNotAuthorized) || errors.Is(err, xchat.ErrNotMember)) {
		return false
	}
	switch g.Kind {
	case event.GroupMembersRemoved, event.GroupAdminsRemoved:
		return needsAdmin(g, ev.SenderID)
	}
	return false
}

// adminAtPlace reports whether ev's author was an admin of group cid at
// ev's place, as the group changes stored below it say read down from it
// (adminBelow), with the place open in the stored chain (placeOf).
func adminAtPlace(ctx context.Context, tx keystore.Tx, cid string, r *rosterRec, ev *event.Event) (bool, error) {
	seqs, ok, err := placeOf(ctx, tx, cid, r, ev)
	if err != nil || !ok {
		return false, err
	}
	return adminBelow(ctx, tx, cid, seqs, ev.SenderID)
}

// adminBelow reads the group changes at seqs (ascending, all below the
// event judged) from the top down until one decides u's admin rights: a
// verified admin add naming u, a verified member add whose signed admin
// tail names u (after a verified member add exactly the ids of its tail
// are admins: see rosterRec.splitMemberAdd), or the group's create by u
// (the lowest change; its other admins are unsigned) grant them; a
// verified revocation or removal naming u, a verified member add whose
// tail leaves u out, or any change that did not verify (a fresh device may
// judge it otherwise) decide against. Other changes leave them alone. An
// admin is a member (an admin add names members only, a member add's tail
// repeats its members), so rights at the place are a place too.
func adminBelow(ctx context.Context, tx keystore.Tx, cid string, seqs []string, u string) (bool, error) {
	for i, n := len(seqs)-1, 0; i >= 0 && n < maxPlaceReads; i, n = i-1, n+1 {
		g, verified, err := storedGroupChange(ctx, tx, cid, seqs[i])
		if err != nil || !verified || g == nil {
			return false, err
		}
		switch {
		case g.GroupCreate != nil:
			return i == 0 && g.sender == u, nil
		case g.GroupMemberAdd != nil:
			a := g.GroupMemberAdd
			_, admins, ok := flatSplit(slices.Concat(a.MemberIds, a.CurrentMemberIds, a.CurrentAdminIds))
			return ok && slices.Contains(admins, u), nil
		case g.GroupMemberRemove != nil:
			if slices.Contains(g.GroupMemberRemove.MemberIds, u) {
				return false, nil
			}
		case g.GroupAdminAdd != nil:
			if slices.Contains(g.GroupAdminAdd.AdminIds, u) {
				return true, nil
			}
		case g.GroupAdminRemove != nil:
			if slices.Contains(g.GroupAdminRemove.AdminIds, u) {
				return false, nil
			}
		}
	}
	return false, nil
}

// takeAtPlace applies to r, the roster held, what removal or revocation ev
// takes away, ev having stood at its place: as rosterRec.stepRemove and
// stepAdmins apply it, without the rights its author held there and holds
// no longer. Ids a removal names that are no members now become its
// tombstones, as stepRemove records them (exclusion on doubt). r.Seq, the
// last change applied, stays: ev lies below it.
func (r *rosterRec) takeAtPlace(env rosterEnv, ev *event.Event) stepResult {
	g := ev.GroupChange
	res := stepResult{changed: true}
	if g.Kind == event.GroupAdminsRemoved {
		r.Admins, r.Claimed = without(r.Admins, g.AdminIDs), without(r.Claimed, g.AdminIDs)
		return res
	}
	return r.remove(env, ev)
}

// Judging a backfilled grant at its place. An admin adds a member (or
// names an admin); another admin revokes her rights; the server withholds
// the grant and serves it later at its place, below the revocation:
// judged as stored it fails, where a fresh device keeps it and the member
// it let in. A grant read at its place changes the roster above it, so
// it is judged by reading the group again from its changes: the roster
// at its place is rebuilt by stepping every stored group change below it
// from nothing (rosterRec.step, the rules a fresh device applies), the
// grant is stepped there, and every stored change above it is stepped
// again on top. It stands only when every one of those changes is stored
// verified and steps again as it did, and the group read without the
// grant comes out as the roster held: then the roster with it is what a
// fresh device served the same events in order holds, and it becomes the
// roster held (grantAtPlace).

// backfillableGrant reports whether ev, which failed the roster step with
// err, is a verified member add or admin add failed because its author is
// no member or no admin now, or a verified member add whose signed roster
// does not fit the roster held because changes stored above its place
// changed it since (judged at its place, it must fit there).
func backfillableGrant(ev *event.Event, err error) bool {
	if !ev.Verified || !grants(ev.GroupChange) {
		return false
	}
	return errors.Is(err, xchat.ErrNotAuthorized) || errors.Is(err, xchat.ErrNotMember) ||
		ev.GroupChange.Kind == event.GroupMembersAdded && errors.Is(err, xchat.ErrRosterDivergence)
}

// beforeGrant returns a copy of r to judge ev at its place from when ev
// grants something (a failed step may change r: see judgeAtPlace), nil
// otherwise.
func (r *rosterRec) beforeGrant(ev *event.Event) *rosterRec {
	if !ev.Verified || !grants(ev.GroupChange) {
		return nil
	}
	c := r.clone()
	return &c
}

// grantAtPlace reports whether grant ev stands at its place (see above)
// and, when it does, sets r (the roster held) to the roster with it read
// there. It reads at most maxPlaceReads stored group changes: a group
// with more judges its backfilled grants as stored.
func grantAtPlace(ctx context.Context, tx keystore.Tx, env rosterEnv, r *rosterRec, ev *event.Event) (bool, error) {
	cid := env.cid
	if _, ok, err := placeOf(ctx, tx, cid, r, ev); err != nil || !ok {
		return false, err
	}
	idx, _, err := loadChangeIndex(ctx, tx, cid)
	if err != nil || len(idx.Seqs) > maxPlaceReads {
		return false, err
	}
	if g := ev.GroupChange; g.Kind == event.GroupMembersAdded {
		if ok, err := keyAtPlace(ctx, tx, cid, g.KeyVersion, ev); err != nil || !ok {
			return false, err
		}
	}
	without, with, ok, err := readGroup(ctx, tx, env, idx.Seqs, ev)
	if err != nil || !ok || !sameRoster(&without, r) {
		return false, err
	}
	for _, u := range with.Members {
		if slices.Contains(r.Removed, u) && !r.member(u) {
			return false, nil // a tombstone: no add admits her (rosterRec.readmits)
		}
	}
	r.Members, r.Admins, r.Claimed, r.Unconfirmed = with.Members, with.Admins, with.Claimed, with.Unconfirmed
	r.Removed = normaliseIDs(append(r.Removed, with.Removed...))
	return true, nil
}

// readGroup steps the stored group changes at seqs (ascending) from no
// roster, once without ev and once with ev at its place. ok is false when
// one of them is not stored verified or does not step again as it did.
func readGroup(ctx context.Context, tx keystore.Tx, env rosterEnv, seqs []string, ev *event.Event) (without, with rosterRec, ok bool, err error) {
	placed := false
	for _, seq := range seqs {
		if !placed && decimal.Less(ev.SequenceID, seq) {
			if with.step(env, ev).err != nil {
				return without, with, false, nil
			}
			placed = true
		}
		c, err := storedChangeEvent(ctx, tx, env.cid, seq)
		if err != nil || c == nil {
			return without, with, false, err
		}
		if without.step(env, c).err != nil {
			return without, with, false, nil
		}
		if with.step(env, c).err != nil {
			return without, with, false, nil
		}
	}
	if !placed && with.step(env, ev).err != nil {
		return without, with, false, nil
	}
	return without, with, true, nil
}

// storedChangeEvent returns the group change stored verified at seq as an
// event to step (nil: none there, or not verified).
func storedChangeEvent(ctx context.Context, tx keystore.Tx, cid, seq string) (*event.Event, error) {
	old, err := eventAt(ctx, tx, cid, seq)
	if err != nil || old == nil {
		return nil, err
	}
	en := entryFromStored(cid, old)
	old.Body.Zero()
	if !en.Verified || en.Group == nil {
		return nil, nil
	}
	return &event.Event{Kind: event.KindGroupChange, SequenceID: seq, MessageID: en.MessageID, SenderID: en.SenderID,
		Verified: true, GroupChange: en.Group}, nil
}

// sameRoster reports whether a and b hold the same base, members, admins
// (confirmed and claimed) and unconfirmed members.
func sameRoster(a, b *rosterRec) bool {
	same := func(x, y []string) bool { return slices.Equal(normaliseIDs(x), normaliseIDs(y)) }
	return a.Base == b.Base && same(a.Members, b.Members) && same(a.Admins, b.Admins) &&
		same(a.Claimed, b.Claimed) && same(a.Unconfirmed, b.Unconfirmed)
}

// keyAtPlace reports whether a member add's key version was distributed
// at its place: by a verified key change stored below it (keyHeldAt), or
// by the add's author in the verified key change stored just above it (an
// add and its key change are made together, the key change after).
func keyAtPlace(ctx context.Context, tx keystore.Tx, cid, version string, ev *event.Event) (bool, error) {
	if ok, err := keyHeldAt(ctx, tx, cid, version, ev.SequenceID); err != nil || ok {
		return ok, err
	}
	me, err := placedKeyChange(ctx, tx, cid, version)
	if err != nil || me == nil {
		return false, err
	}
	next, err := tx.Events(ctx, cid, ev.SequenceID, 1)
	if err != nil || len(next) == 0 {
		return false, err
	}
	above := next[0]
	above.Body.Zero()
	return above.SequenceID == me.GetSequenceID() && above.Verified && above.Type == event.TypeKeyChange && above.SenderID == ev.SenderID, nil
}

// noteGrantAtPlace records a member add that failed as stored (asStored)
// and stands at its place as a late change (lateChanges), so that the
// walk that follows reads the group's title, avatar and screen-capture
// setting again from the changes that stand, in transcript order
// (restoreSettings): applied as it is stored, the add would set what it
// signed over what the changes above it set since.
func noteGrantAtPlace(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event, asStored error) error {
	g := ev.GroupChange
	if asStored == nil || g == nil || g.Kind != event.GroupMembersAdded {
		return nil
	}
	pending, err := lateChanges(ctx, tx, cid)
	if err != nil || slices.Contains(pending, ev.SequenceID) {
		return err
	}
	return setLateChanges(ctx, tx, cid, append(pending, ev.SequenceID))
}
