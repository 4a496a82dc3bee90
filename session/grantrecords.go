package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// The records a group change's storing keeps for re-judging (see
// rejudgeLate): what a grant found held already (noteHeld), the late
// changes a member add was read against (noteApplied), whether a grant's
// author was a confirmed admin (noteVouched), and whom a walk put back
// through an add (saveGave). Each is a value of its own, keyed by the
// change's sequence id, written only when there is something to record.

// gaveBack are whom a verified add gave back a place (Members) or admin
// rights (Admins) that a late change below it took: a walk found it so.
type gaveBack struct {
	Members []string `json:"members,omitempty"`
	Admins  []string `json:"admins,omitempty"`
}

// gaveAt returns the gaveBack of the add at seq this walk noted.
func (j *rejudge) gaveAt(seq string) *gaveBack {
	if j.gave == nil {
		j.gave = map[string]*gaveBack{}
	}
	if j.gave[seq] == nil {
		j.gave[seq] = &gaveBack{}
	}
	return j.gave[seq]
}

// saveGave records, for each add this walk found giving someone back,
// whom (added to what earlier walks recorded): should a later late change
// fail the add, what it granted includes them (grantedBy), though as it
// was stored they held their place or rights before it (noteHeld).
func (j *rejudge) saveGave(ctx context.Context, tx keystore.Tx) error {
	for _, seq := range slices.Sorted(maps.Keys(j.gave)) {
		old, err := gaveBackBy(ctx, tx, j.cid, seq)
		if err != nil {
			return err
		}
		g := gaveBack{Members: normaliseIDs(append(old.Members, j.gave[seq].Members...)), Admins: normaliseIDs(append(old.Admins, j.gave[seq].Admins...))}
		if err := putRecord(ctx, tx, gaveBackKey(j.cid, seq), g); err != nil {
			return err
		}
	}
	return nil
}

// gaveBackBy returns what saveGave recorded for the add at seq.
func gaveBackBy(ctx context.Context, tx keystore.Tx, cid, seq string) (gaveBack, error) {
	var g gaveBack
	if err := readRecord(ctx, tx, gaveBackKey(cid, seq), &g); err != nil {
		return gaveBack{}, fmt.Errorf("%w (the group change at %s)", err, seq)
	}
	return g, nil
}

// gaveBackKey names saveGave's record of the add at seq of cid.
func gaveBackKey(cid, seq string) string {
	h := sha256.Sum256([]byte(cid + "/" + seq))
	return "session/group-gave/" + hex.EncodeToString(h[:])
}

// rosterHolders are who held a member's place, who an admin's rights and
// who a confirmed admin's before a group change (see noteHeld and
// noteVouched).
type rosterHolders struct{ members, admins, confirmed []string }

// holders returns who holds a place and who admin rights in r now.
func (r *rosterRec) holders() *rosterHolders {
	return &rosterHolders{members: slices.Clone(r.Members), admins: slices.Concat(r.Admins, r.Claimed), confirmed: slices.Clone(r.Admins)}
}

// grants reports whether group change g grants a place or admin rights
// (a member add or an admin add): only then does noteHeld need the
// holders before it, so other events copy nothing.
func grants(g *event.GroupChange) bool {
	return g != nil && (g.Kind == event.GroupMembersAdded || g.Kind == event.GroupAdminsAdded)
}

// noteHeld records, for a verified member add or admin add just applied,
// the ids it names that held what it grants before it (before): a member
// already, or an admin already. Should a late removal or revocation fail
// the change, taking back what it granted must not take from them what
// they held without it (rejudge.grantedBy): an ex-admin's add naming an
// admin or a member who already was one would otherwise cost them their
// place — which neither withholding the removal (the add is a no-op) nor a
// fresh device (the add fails) does.
func noteHeld(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event, before *rosterHolders) error {
	g := ev.GroupChange
	if before == nil || !grants(g) {
		return nil
	}
	var held []string
	switch g.Kind {
	case event.GroupMembersAdded:
		held = slices.DeleteFunc(slices.Clone(g.MemberIDs), func(id string) bool { return !slices.Contains(before.members, id) })
	case event.GroupAdminsAdded:
		held = slices.DeleteFunc(slices.Clone(g.AdminIDs), func(id string) bool { return !slices.Contains(before.admins, id) })
	}
	if len(held) == 0 {
		return nil
	}
	return putRecord(ctx, tx, grantHeldKey(cid, ev.SequenceID), held)
}

// noteApplied records, for a verified member add just applied, the late
// changes below it still waiting for their walk (noteLate): the add was
// read against the roster they left, so whom it adds as new held no place
// because of them (a removal and a re-add the same sync brings), not
// without them (see rejudge.addedRemoved). Almost always none: nothing is
// written. At most maxApplied are recorded, the nearest below the add:
// records are never deleted, and a server serving many late changes
// with many adds above them in one sync would otherwise make them grow
// with the square of what it serves. A late change left out reads as not
// pending then: the add, should it re-add one that change removed, fails
// (the safe side).
func noteApplied(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	if g := ev.GroupChange; g == nil || g.Kind != event.GroupMembersAdded || len(g.MemberIDs) == 0 {
		return nil
	}
	pending, err := lateChanges(ctx, tx, cid)
	if err != nil {
		return err
	}
	below := slices.DeleteFunc(pending, func(seq string) bool { return !decimal.Less(seq, ev.SequenceID) })
	if len(below) == 0 {
		return nil
	}
	if len(below) > maxApplied {
		slices.SortFunc(below, decimal.Compare)
		below = below[len(below)-maxApplied:]
	}
	return putRecord(ctx, tx, appliedKey(cid, ev.SequenceID), below)
}

// maxApplied bounds the late changes noteApplied records for one member
// add.
const maxApplied = 32

// appliedAt returns what noteApplied recorded for member add g stored at
// seq, read only when g adds one whom a late change entered removed.
func (j *rejudge) appliedAt(ctx context.Context, tx keystore.Tx, seq string, g *event.GroupChange) ([]string, error) {
	if g == nil || g.Kind != event.GroupMembersAdded {
		return nil, nil
	}
	if _, c := j.addedRemoved(g); c == "" {
		return nil, nil
	}
	var applied []string
	if err := readRecord(ctx, tx, appliedKey(j.cid, seq), &applied); err != nil {
		if errors.Is(err, errUnreadableRecord) {
			return nil, nil // a damaged record: when in doubt, exclude
		}
		return nil, err
	}
	return applied, nil
}

// appliedKey names noteApplied's record of the add at seq of cid.
func appliedKey(cid, seq string) string {
	h := sha256.Sum256([]byte(cid + "/" + seq))
	return "session/group-applied/" + hex.EncodeToString(h[:])
}

// noteVouched records that the verified grant ev just applied vouched for
// whom it names: its author was a confirmed admin before it (before), or,
// for a member add, is this account (rosterRec.stepMemberAdd confirms what
// such adds grant). Re-judging puts back whom a grant gave back confirmed
// only when it vouched for them (rejudge.restore): the author's standing
// now is not hers when she signed.
func noteVouched(ctx context.Context, tx keystore.Tx, cid, self string, ev *event.Event, before *rosterHolders) error {
	g := ev.GroupChange
	if before == nil || !grants(g) {
		return nil
	}
	if !slices.Contains(before.confirmed, ev.SenderID) && (g.Kind != event.GroupMembersAdded || ev.SenderID != self) {
		return nil
	}
	if err := tx.SetValue(ctx, vouchedKey(cid, ev.SequenceID), []byte{1}); err != nil {
		return fmt.Errorf("session: recording a group change: %w", err)
	}
	return nil
}

// vouchedKey names noteVouched's record of the grant at seq of cid.
func vouchedKey(cid, seq string) string {
	h := sha256.Sum256([]byte(cid + "/" + seq))
	return "session/group-vouched/" + hex.EncodeToString(h[:])
}

// heldBy returns what noteHeld recorded for the change at seq (nil: none).
func heldBy(ctx context.Context, tx keystore.Tx, cid, seq string) ([]string, error) {
	var held []string
	if err := readRecord(ctx, tx, grantHeldKey(cid, seq), &held); err != nil {
		if errors.Is(err, errUnreadableRecord) {
			return nil, nil // a damaged record: take back as before
		}
		return nil, err
	}
	return held, nil
}

// errUnreadableRecord is readRecord's error for a record that does not
// decode.
var errUnreadableRecord = errors.New("session: a group change's record is unreadable")

// putRecord stores v, JSON-encoded, as the group change record key.
func putRecord(ctx context.Context, tx keystore.Tx, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("session: recording a group change: %w", err)
	}
	if err := tx.SetValue(ctx, key, b); err != nil {
		return fmt.Errorf("session: recording a group change: %w", err)
	}
	return nil
}

// readRecord decodes the group change record key into v, leaving v as it
// is when there is none; a record that does not decode is
// errUnreadableRecord (what v holds then is not to be used).
func readRecord(ctx context.Context, tx keystore.Tx, key string, v any) error {
	b, err := tx.Value(ctx, key)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("session: reading a group change's record: %w", err)
	}
	if json.Unmarshal(b, v) != nil {
		return errUnreadableRecord
	}
	return nil
}

// grantHeldKey names noteHeld's record of the change at seq of cid.
func grantHeldKey(cid, seq string) string {
	h := sha256.Sum256([]byte(cid + "/" + seq))
	return "session/group-held/" + hex.EncodeToString(h[:])
}
