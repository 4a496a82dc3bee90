package session

import (
	"context"
	"slices"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// A create below a roster started by a join. While no roster is held, a
// signed member add naming this account starts one on trust
// (rosterRec.seedJoin), and a group create read later is refused as a
// second create. When the group's create was only read before its pair
// (latebind.go), or withheld, and is served or bound later below that add,
// a fresh device served the events in order starts its roster from the
// create, reads the add against it, and keeps the group changes this
// device failed as read before any roster (a title change, an admin add).
//
// So the group is read again from such a create (Engine.bindLateCreate,
// Engine.rereadFromCreate), as from a create bound late while no roster
// is held: the lowest create below the add that started the roster whose
// pair is stored (joinedCreate: read unbound, or stored failed there). The
// join-based roster is a guess, the create is signed: the reading replaces
// the roster by the one the create starts, judged as a fresh device judges
// it, and is given up, changing nothing, should a group change stored
// verified (the add that started the roster among them) not stand on it.
// So a create by someone the add's signed lists leave out of the admins (a
// non-member, or a member's own create) cannot replace the roster: the
// add does not fit the roster such a create starts. A create above the add
// is never read so (a fresh device reads the add first and refuses the
// create), nor one whose pair is not stored. A sync of a group whose
// roster a join started holds from fn what it stores when a create may be
// bound below the add (its pages serve one: holdIfJoinedCreate; one read
// unbound is remembered: joinedCreateAhead; one is stored failed there:
// joinedCreateStored), as one of a group holding no roster does, so that
// fn is never handed as verified what the reading then fails.

// joinedCreate returns the lowest group create below since (the sequence
// id of the member add that started cid's roster) whose pair (a verified
// key change by its author at its key version, env.paired) is stored: one
// read unbound, its place holding no event stored verified, or one stored
// failed (refused as a second create) among the group changes the change
// index lists. Its author and key version are as the envelope or the
// record of it says: the reading verifies the create before it binds it.
func joinedCreate(ctx context.Context, tx keystore.Tx, env rosterEnv, cid, since string) (*unboundCreate, error) {
	var best *unboundCreate
	creates, err := loadUnboundCreates(ctx, tx, cid)
	if err != nil {
		return nil, err
	}
	for i := range creates {
		u := &creates[i]
		if !decimal.Less(u.Seq, since) || !env.paired(u.Sender, u.Version) {
			continue
		}
		old, err := eventAt(ctx, tx, cid, u.Seq)
		if err != nil {
			return nil, err
		}
		if old != nil {
			old.Body.Zero()
			if old.Verified {
				continue
			}
		}
		best = u
		break
	}
	idx, found, err := loadChangeIndex(ctx, tx, cid)
	if err != nil || !found || !idx.Complete {
		return best, err
	}
	for _, seq := range idx.Seqs {
		if !decimal.Less(seq, since) || best != nil && !decimal.Less(seq, best.Seq) {
			break
		}
		s, err := eventAt(ctx, tx, cid, seq)
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue
		}
		var c *unboundCreate
		if !s.Verified && s.Type == event.TypeGroupChange {
			c = storedCreate(s)
		}
		s.Body.Zero()
		if c != nil && env.paired(c.Sender, c.Version) {
			return c, nil
		}
	}
	return best, nil
}

// storedCreate returns the group create whose wire bytes s holds, as its
// envelope says, nil when s holds none.
func storedCreate(s *keystore.StoredEvent) *unboundCreate {
	me, err := wire.DecodeMessageEvent(s.Raw)
	if err != nil || me.Detail == nil || me.Detail.GroupChangeEvent == nil || me.Detail.GroupChangeEvent.GroupChange == nil {
		return nil
	}
	gc := me.Detail.GroupChangeEvent.GroupChange.GroupCreate
	if gc == nil || me.GetSenderID() == "" || !decimal.Valid(gc.GetConversationKeyVersion()) {
		return nil
	}
	return &unboundCreate{Seq: s.SequenceID, Sender: me.GetSenderID(), Version: gc.GetConversationKeyVersion(), Raw: slices.Clone(s.Raw)}
}

// joinedCreateAhead reports whether a create may be bound below the
// member add that started cid's roster r: one read unbound below it is
// remembered, or raws (the staged pages of a sync) serve an event whose
// envelope carries a group create below it.
func joinedCreateAhead(ctx context.Context, v valueReader, cid string, r rosterRec, raws [][]byte) (bool, error) {
	since := r.seed()
	if since == "" {
		return false, nil
	}
	creates, err := loadUnboundCreates(ctx, v, cid)
	if err != nil {
		return false, err
	}
	for _, u := range creates {
		if decimal.Less(u.Seq, since) {
			return true, nil
		}
	}
	for _, raw := range raws {
		if !namesCreate(raw) {
			continue
		}
		if me, err := wire.DecodeMessageEvent(raw); err == nil && decimal.ValidID(me.GetSequenceID()) && decimal.Less(me.GetSequenceID(), since) {
			return true, nil
		}
	}
	return false, nil
}

// holdIfJoinedCreate starts holding events from fn, when the roster r a
// join started is held, should the staged pages serve a group create
// below that join (the reading again from it may fail what the sync
// stores: see Engine.bindLateCreate).
func (s *syncState) holdIfJoinedCreate(ctx context.Context, sp spill, pages []stagedPage, r rosterRec) error {
	for _, sg := range pages {
		if s.holdUnrostered {
			return nil
		}
		p, err := sp.get(ctx, nil, sg.n)
		if err != nil {
			return err
		}
		if err := s.holdIfJoinedCreateOn(ctx, p, r); err != nil {
			return err
		}
	}
	return nil
}

// holdIfJoinedCreateOn is holdIfJoinedCreate for one page p.
func (s *syncState) holdIfJoinedCreateOn(ctx context.Context, p *syncPage, r rosterRec) error {
	if s.holdUnrostered || p.err() != nil {
		return nil
	}
	ahead, err := joinedCreateAhead(ctx, s.e.store, s.cid, r, p.raws[p.kcCount:])
	if ahead {
		s.holdUnrostered, s.holdJoined = true, true
	}
	return err
}

// holdIfJoinedPage is holdIfJoinedCreateOn for a sync of one page, when
// the group's roster is one a join started.
func (s *syncState) holdIfJoinedPage(ctx context.Context, p *syncPage) error {
	if s.holdUnrostered || !IsGroup(s.cid) {
		return nil
	}
	r, err := loadRoster(ctx, s.e.store, s.cid)
	if err != nil || r.Base != baseJoin {
		return err
	}
	return s.holdIfJoinedCreateOn(ctx, p, r)
}

// joinedCreateStored reports whether a group create is stored failed
// below since (the member add that started cid's roster), among the group
// changes the change index lists: refused as a second create, its pair
// served later binds it (joinedCreate).
func joinedCreateStored(ctx context.Context, tx keystore.Tx, cid, since string) (bool, error) {
	idx, found, err := loadChangeIndex(ctx, tx, cid)
	if err != nil || !found || !idx.Complete {
		return false, err
	}
	for _, seq := range idx.Seqs {
		if !decimal.Less(seq, since) {
			break
		}
		s, err := eventAt(ctx, tx, cid, seq)
		if err != nil || s == nil {
			if err != nil {
				return false, err
			}
			continue
		}
		c := !s.Verified && s.Type == event.TypeGroupChange && storedCreate(s) != nil
		s.Body.Zero()
		if c {
			return true, nil
		}
	}
	return false, nil
}
