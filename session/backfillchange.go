package session

import (
	"context"
	"errors"
	"slices"

	"github.com/xchat-go/xchat"
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
	if gone := r.absent(env, g.MemberIDs); len(gone) > 0 {
		r.Removed = normaliseIDs(append(r.Removed, gone...))
		res.anomaly = rosterAnomaly(event.AnomalyRosterDivergence, env.cid, ev, r.Seq)
	}
	r.Members, r.Admins = without(r.Members, g.MemberIDs), without(r.Admins, g.MemberIDs)
	r.Claimed, r.Unconfirmed = without(r.Claimed, g.MemberIDs), without(r.Unconfirmed, g.MemberIDs)
	for i := range r.Pending {
		r.Pending[i].Added = without(r.Pending[i].Added, g.MemberIDs)
	}
	return res
}
