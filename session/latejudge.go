package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// Late re-judging. The design (why the walk exists, its state, records,
// cost and the tests that guard it) is in docs/late-judging.md.

// rejudgePage is how many stored events rejudgeLate reads at a time.
const rejudgePage = 256

// noteLate records a group change that takes rights away (ev, verified,
// just stored: a member removal or an admin revocation) for re-judging
// when something is stored above it already: events the server served or
// pushed ahead of a change it withheld, and then served (or pushed) the
// change below them. It is recorded in the conversation's bookkeeping
// (lateChanges) in the same transaction, and rejudgeLate walks
// what is above it: a Sync once, after its last page, for every late
// change it stored; Engine.Deliver at once. Events are stored oldest
// first, so in a sync served in order nothing is stored above the change
// when it is stored: nothing is recorded.
func (e *Engine) noteLate(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	g := ev.GroupChange
	if !IsGroup(cid) || !ev.Verified || ev.Err != nil || g == nil || len(takenFrom(g, e.userID)) == 0 {
		return nil
	}
	above, err := tx.Events(ctx, cid, ev.SequenceID, 1)
	if err != nil {
		return fmt.Errorf("session: reading history: %w", err)
	}
	for i := range above {
		above[i].Body.Zero()
	}
	if len(above) == 0 {
		return nil
	}
	pending, err := lateChanges(ctx, tx, cid)
	if err != nil || slices.Contains(pending, ev.SequenceID) {
		return err
	}
	return setLateChanges(ctx, tx, cid, append(pending, ev.SequenceID))
}

// lateChangesKey names the record of cid's late changes not re-judged
// yet (a value of its own: every sync and push asks for it, and it is
// almost always absent).
func lateChangesKey(cid string) string { return "session/late-changes/" + cid }

// lateChanges returns the sequence ids noteLate recorded for cid.
func lateChanges(ctx context.Context, v valueReader, cid string) ([]string, error) {
	b, err := v.Value(ctx, lateChangesKey(cid))
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("session: reading the late changes of %s: %w", cid, err)
	}
	var seqs []string
	if err := json.Unmarshal(b, &seqs); err != nil {
		return nil, fmt.Errorf("session: the late changes record of %s is unreadable: %w", cid, err)
	}
	return seqs, nil
}

// setLateChanges stores the record of cid's late changes (none: deleted).
func setLateChanges(ctx context.Context, tx keystore.Tx, cid string, seqs []string) error {
	var b []byte
	if len(seqs) > 0 {
		var err error
		if b, err = json.Marshal(seqs); err != nil {
			return fmt.Errorf("session: recording late changes: %w", err)
		}
	}
	if err := tx.SetValue(ctx, lateChangesKey(cid), b); err != nil {
		return fmt.Errorf("session: recording late changes: %w", err)
	}
	return nil
}

// takenFrom returns whom group change g takes rights from (this account
// aside): the members a removal removes, the admins a revocation revokes.
func takenFrom(g *event.GroupChange, self string) []string {
	var ids []string
	switch g.Kind {
	case event.GroupMembersRemoved:
		ids = g.MemberIDs
	case event.GroupAdminsRemoved:
		ids = g.AdminIDs
	}
	return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == self })
}

// rejudgeLate re-judges what this account stored above the late changes
// noteLate recorded for cid, in one walk in transcript order from the
// lowest (each stored event read once, however many late changes a sync
// brings), and clears the record. When the events above a change were
// judged, the members it removes passed as members and the admins it
// revokes as admins. Sequence ids are not signed, and a change's place in
// the transcript is as much the server's word as the withholding was,
// but the change is signed by an admin and the safe reading of it is the
// one that takes rights away:
//
//   - what a removed member signed above the removal, until a signed add
//     re-admits her, is marked failed (xchat.ErrNotMember), and a conversation
//     key she distributed there is no longer verified;
//
//   - a group change a revoked admin made above the revocation that needs
//     an admin, until a signed admin add restores her, is marked failed
//     (xchat.ErrNotAuthorized);
//
//   - what such a failed group change granted is taken back from the
//     roster: the members it added, the admins it named, but not from
//     those who held that place or right already when it was applied
//     (noteHeld): a no-op grant takes nothing back. What a member it let
//     in signed above it, until a signed add admits her, is marked failed
//     (xchat.ErrNotMember) as a removed member's is; what an admin it
//     named does above it that needs an admin, until a signed admin add
//     restores her, fails (xchat.ErrNotAuthorized), and a member add whose
//     admin list names her does not fit. What it took
//     away stays taken (the safe direction). What it set of the group's
//     details is undone: the title, avatar and screen-capture setting
//     become those verified changes set last (restoreSettings).
//
//   - a group change above such a change is read against the roster the
//     change leaves (rejudge.reread): a member add naming among its
//     current members one the change took the place of re-admits her (the
//     split of its signed list moves by the members held); one still
//     naming her a current member or an admin, or an admin add naming one
//     without a place, does not fit there and is marked failed
//     (xchat.ErrRosterDivergence), as on a fresh device; so does one that,
//     as stored, added as new one the change removed, unless the change was
//     applied when it was stored (rejudge.addedRemoved);
//
//   - whom a verified add above the change gave the place or rights back,
//     and no verified change above took again, is put back on the roster
//     (putBack): the change was applied to the roster as it was stored,
//     above that add; confirmed only if the add vouched for them as it was
//     stored (noteVouched), and noted as granted by it (saveGave): a later
//     walk that fails the add takes them back. Not whom a failed member add above leaves out
//     (rejudge.doubt): that add excluded them as it was stored.
//
// Each is reported (AnomalyRosterDivergence, Related the change). The
// walk runs once everything the sync brought is stored, so a signed
// re-add (or admin add) the same sync stores above a late removal (or
// revocation) restores the member before her events are judged, wherever
// the server's pages (or the sync's batches) cut between them: judged
// change by change as each was stored, her honest events above the re-add
// failed for good.
//
// It returns the anomalies and, by sequence id, why each event it failed
// failed (for the events a sync still holds for its fn, see
// syncState.holdLate).
func (e *Engine) rejudgeLate(ctx context.Context, tx keystore.Tx, cid string) ([]event.Anomaly, map[string]error, error) {
	pending, err := lateChanges(ctx, tx, cid)
	if err != nil || len(pending) == 0 {
		return nil, nil, err
	}
	slices.SortFunc(pending, decimal.Compare)
	r, err := loadRoster(ctx, tx, cid)
	if err != nil {
		return nil, nil, err
	}
	j := &rejudge{seed: r.seed(), cid: cid, self: e.userID, removed: map[string]string{}, demoted: map[string]string{}, unadmitted: map[string]string{}, ungranted: map[string]string{},
		pending: pending, causes: map[string]error{}, readmitted: map[string]bool{}, regranted: map[string]bool{}}
	ctx, batch := withReindexBatch(ctx, tx, cid)
	if err := j.walk(ctx, tx); err != nil {
		return nil, nil, err
	}
	if err := j.saveGave(ctx, tx); err != nil {
		return nil, nil, err
	}
	if err := j.putBack(ctx, e, tx); err != nil {
		return nil, nil, err
	}
	if err := j.takeBack(ctx, e, tx); err != nil {
		return nil, nil, err
	}
	if j.resettle {
		if err := e.restoreSettings(ctx, tx, cid); err != nil {
			return nil, nil, err
		}
	}
	if err := e.rerecordRecipients(ctx, tx, cid, j.distrusted); err != nil {
		return nil, nil, err
	}
	if err := batch.flush(ctx); err != nil {
		return nil, nil, err
	}
	return j.found, j.causes, setLateChanges(ctx, tx, cid, nil)
}

// rejudge is one walk of rejudgeLate.
type rejudge struct {
	cid, self string
	// seed is the sequence id of the member add that started a join-based
	// roster ("" for none): it was read by its flat signed list, and the
	// split stored with it is the event's own, the server's word.
	seed string
	// pending are the late changes not reached yet, oldest first.
	pending []string
	// removed and demoted map those the changes reached took rights from,
	// not restored yet by a signed change above them, to the change.
	removed, demoted map[string]string
	// unadmitted maps the members a failed member add let in (and nothing
	// else did) to that add: what they sign above it fails too, until a
	// signed add admits them.
	unadmitted map[string]string
	// ungranted maps the admins a failed admin add named (and who held
	// no rights before it) to that add: what they do as admins above it
	// fails too, until a signed admin add restores them.
	ungranted map[string]string
	// readmitted and regranted map those a verified add above a change
	// re-admitted (or gave admin rights back), not taken again since, to
	// whether the add vouched for them (see noteVouched): the late change
	// took them off the roster when it was stored, so they are put back
	// (putBack), confirmed only if vouched for.
	readmitted, regranted map[string]bool
	// gave maps the sequence id of each verified add that gave someone
	// back to whom (saveGave).
	gave map[string]*gaveBack
	// applied are the late changes pending when the member add judged
	// now was stored (noteApplied): it was read with them applied.
	applied []string
	// dropMembers and dropAdmins are what failed group changes granted.
	dropMembers, dropAdmins []string
	found                   []event.Anomaly
	// causes maps the sequence id of each event the walk failed to why.
	causes map[string]error
	// resettle: a failed group change set the group's title, avatar or
	// screen-capture setting (see restoreSettings).
	resettle bool
	// distrusted are the keys the walk no longer trusts (distrustKey).
	distrusted []distrustedKey
}

// walk reads the stored events from the lowest late change up in
// transcript order; while no change reached takes rights from anyone, it
// skips to the next late change.
func (j *rejudge) walk(ctx context.Context, tx keystore.Tx) error {
	after := ""
	for {
		if len(j.removed)+len(j.demoted)+len(j.unadmitted)+len(j.ungranted)+len(j.readmitted)+len(j.regranted) == 0 {
			j.pending = slices.DeleteFunc(j.pending, func(seq string) bool { return after != "" && !decimal.Less(after, seq) })
			if len(j.pending) == 0 {
				return nil
			}
			next := j.pending[0]
			if err := j.enterAt(ctx, tx, next); err != nil {
				return err
			}
			after = next
			continue
		}
		evs, err := tx.Events(ctx, j.cid, after, rejudgePage)
		if err != nil {
			return fmt.Errorf("session: reading history: %w", err)
		}
		for i := range evs {
			if err := j.step(ctx, tx, &evs[i]); err != nil {
				return err
			}
		}
		if len(evs) < rejudgePage {
			return nil
		}
		after = evs[len(evs)-1].SequenceID
	}
}

// enterAt starts the walk at the late change stored at seq.
func (j *rejudge) enterAt(ctx context.Context, tx keystore.Tx, seq string) error {
	j.pending = slices.DeleteFunc(j.pending, func(s string) bool { return s == seq })
	ev, err := eventAt(ctx, tx, j.cid, seq)
	if err != nil {
		return fmt.Errorf("session: reading history: %w", err)
	}
	if ev != nil {
		g := entryFromStored(j.cid, ev).Group
		ev.Body.Zero()
		j.enter(seq, ev.Verified, g)
	}
	return nil
}

// enter adds what the late change g stored at seq takes away, when it
// stands (verified); a member add recorded by noteGrantAtPlace takes
// nothing away, but what it set of the group's details is read again.
func (j *rejudge) enter(seq string, verified bool, g *event.GroupChange) {
	if !verified || g == nil {
		return // failed meanwhile: it takes nothing away
	}
	if g.Kind == event.GroupMembersAdded {
		// A member add judged at its place (noteGrantAtPlace): what it
		// set of the group's details is read again.
		j.resettle = true
		return
	}
	set := j.removed
	if g.Kind == event.GroupAdminsRemoved {
		set = j.demoted
	}
	for _, id := range takenFrom(g, j.self) {
		set[id] = seq
	}
}

// step re-judges one stored event of the walk, and enters it when it is
// a late change that stands.
func (j *rejudge) step(ctx context.Context, tx keystore.Tx, ev *keystore.StoredEvent) error {
	if !slices.Contains(j.pending, ev.SequenceID) {
		return j.judge(ctx, tx, ev)
	}
	j.pending = slices.DeleteFunc(j.pending, func(s string) bool { return s == ev.SequenceID })
	g := entryFromStored(j.cid, ev).Group
	seq := ev.SequenceID
	if err := j.judge(ctx, tx, ev); err != nil {
		return err
	}
	j.enter(seq, ev.Verified, g)
	return nil
}

// judge re-judges one stored event above the late changes entered (a
// failed one is left unverified in ev too).
func (j *rejudge) judge(ctx context.Context, tx keystore.Tx, ev *keystore.StoredEvent) error {
	defer ev.Body.Zero()
	if !ev.Verified {
		if len(j.readmitted)+len(j.regranted) > 0 {
			j.doubt(entryFromStored(j.cid, ev).Group)
		}
		return nil
	}
	en := entryFromStored(j.cid, ev)
	var cause, err error
	change := j.removed[ev.SenderID]
	switch {
	case change != "":
		cause = fmt.Errorf("%w: %s was removed at %s, which the server served after this event", xchat.ErrNotMember, ev.SenderID, change)
	case j.unadmitted[ev.SenderID] != "":
		change = j.unadmitted[ev.SenderID]
		cause = fmt.Errorf("%w: %s was let in by the group change at %s, which failed once a change the server served late was read", xchat.ErrNotMember, ev.SenderID, change)
	case j.demoted[ev.SenderID] != "" && needsAdmin(en.Group, ev.SenderID):
		change = j.demoted[ev.SenderID]
		cause = notAuthorized("%s's admin rights were revoked at %s, which the server served after this event", ev.SenderID, change)
	case j.ungranted[ev.SenderID] != "" && needsAdmin(en.Group, ev.SenderID):
		change = j.ungranted[ev.SenderID]
		cause = notAuthorized("%s's admin rights came from the group change at %s, which failed once a change the server served late was read", ev.SenderID, change)
	default:
		if j.applied, err = j.appliedAt(ctx, tx, ev.SequenceID, en.Group); err != nil {
			return err
		}
		readmits, misfit, id := j.reread(ev.SequenceID, en.Group)
		if misfit == "" {
			return j.restore(ctx, tx, ev.SequenceID, en.Group, readmits)
		}
		change = misfit
		cause = fmt.Errorf("%w: it names %s a member or an admin, whose place or rights the change at %s took, which the server served after this event", xchat.ErrRosterDivergence, id, change)
	}
	if err := putFlipped(ctx, tx, j.cid, en, ev.Raw, cause); err != nil {
		return err
	}
	ev.Verified = false // a late change further up does not enter
	j.causes[ev.SequenceID] = cause
	j.found = append(j.found, event.Anomaly{Kind: event.AnomalyRosterDivergence, ConversationID: j.cid, SequenceID: ev.SequenceID, Related: change})
	if grants(en.Group) {
		if err := j.takeGranted(ctx, tx, ev.SequenceID, en.Group); err != nil {
			return err
		}
	}
	if en.Group != nil && setsSettings(en.Group.Kind) {
		j.resettle = true // what it set is undone
	}
	d, err := unstandFailed(ctx, tx, j.cid, ev, en)
	if d != nil {
		j.distrusted = append(j.distrusted, *d)
	}
	return err
}

// unstandFailed undoes what stored event ev (read as en), just marked
// failed, made stand: an edit no longer stands for its target
// (reindexEdit), and a key change's key is no longer verified
// (distrustKey; it is returned when so).
func unstandFailed(ctx context.Context, tx keystore.Tx, cid string, ev *keystore.StoredEvent, en event.Entry) (*distrustedKey, error) {
	if ev.Type == event.TypeEdit && decimal.ValidID(en.TargetSequenceID) {
		if err := reindexEdit(ctx, tx, cid, en.TargetSequenceID, ev.SequenceID, ev.SenderID, ev.Raw); err != nil {
			return nil, err
		}
	}
	if ev.Type != event.KindKeyChange.String() || en.KeyVersion == "" {
		return nil, nil
	}
	distrusted, err := distrustKey(ctx, tx, cid, en.KeyVersion, ev.SenderID)
	if !distrusted {
		return nil, err
	}
	return &distrustedKey{version: en.KeyVersion, maker: ev.SenderID}, err
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

// reread reads verified group change g (a member add's lists as read when
// it was stored, in signed order) against the roster the late changes
// entered so far leave: those they took a place from (removed, or let in
// by a failed add) are no members there, and those they took rights from
// no admins. A member add naming k of them among its current members reads
// k ids further into its new ids (rosterRec.splitMemberAdd splits by the
// count of members held): readmits are whom it adds there. It does not fit
// (misfit: the change that took the place or right, id: whom) when one of
// them stays among its current members or in its admin tail, or when an
// admin add names one without a place: a fresh device served the same
// events fails it, and so does the walk. The add that started a join-based
// roster (seed) re-admits nobody: its stored split is the server's, and a
// fresh device served the removal below it starts no roster from it
// (rosterRec.readmits).
func (j *rejudge) reread(seq string, g *event.GroupChange) (readmits []string, misfit, id string) {
	if g == nil {
		return nil, "", ""
	}
	placeless := func(id string) string {
		if c := j.removed[id]; c != "" {
			return c
		}
		return j.unadmitted[id]
	}
	switch g.Kind {
	case event.GroupMembersAdded:
		if seq == j.seed {
			return nil, "", "" // its split is unsigned: it re-admits nobody
		}
		if id, c := j.addedRemoved(g); c != "" && !slices.Contains(j.applied, c) {
			return nil, c, id
		}
		gone := 0
		for _, id := range g.CurrentMemberIDs {
			if placeless(id) != "" {
				gone++
			}
		}
		head, cut := slices.Concat(g.MemberIDs, g.CurrentMemberIDs), len(g.MemberIDs)+gone
		for _, id := range head[cut:] {
			if c := placeless(id); c != "" {
				return nil, c, id
			}
		}
		for _, id := range g.CurrentAdminIDs {
			if c := placeless(id); c != "" {
				return nil, c, id
			}
			if c := j.demoted[id]; c != "" {
				return nil, c, id
			}
			if c := j.ungranted[id]; c != "" {
				return nil, c, id
			}
		}
		return head[:cut], "", ""
	case event.GroupAdminsAdded:
		for _, id := range g.AdminIDs {
			if c := placeless(id); c != "" {
				return nil, c, id
			}
		}
	}
	return nil, "", ""
}

// addedRemoved returns an id member add g read as new when it was stored
// whom a late change entered removed (and that change): she held no place
// just below the add as stored. Unless the change was applied when the
// add was stored (rejudge.applied, see noteApplied), she held none with
// the change left out either: a fresh device reads the change as removing
// a non-member (a tombstone: see rosterRec.readmits) and refuses the add,
// which the server may have moved above the removal (sequence ids are not
// signed, and a removal signs no key version).
func (j *rejudge) addedRemoved(g *event.GroupChange) (id, change string) {
	for _, id := range g.MemberIDs {
		if c := j.removed[id]; c != "" {
			return id, c
		}
	}
	return "", ""
}

// restore notes what the verified group change at seq above the change
// gives back (read by reread): a member add re-admits whom it adds
// (readmits); an admin add restores whom it names. Whether it vouched for
// them is as its author stood when it was stored (vouchedAt), not as she
// stands now: an admin confirmed since, her rights claimed when she
// signed, confirms nobody by it (as rosterRec.step reads it).
func (j *rejudge) restore(ctx context.Context, tx keystore.Tx, seq string, g *event.GroupChange, readmits []string) error {
	if g == nil {
		return nil
	}
	vouched, err := j.vouchedAt(ctx, tx, seq, g, readmits)
	if err != nil {
		return err
	}
	switch g.Kind {
	case event.GroupMembersRemoved:
		for _, id := range g.MemberIDs {
			delete(j.readmitted, id)
			delete(j.regranted, id)
		}
	case event.GroupAdminsRemoved:
		for _, id := range g.AdminIDs {
			delete(j.regranted, id)
		}
	case event.GroupMembersAdded:
		for _, id := range readmits {
			if j.removed[id] != "" {
				j.readmitted[id] = vouched
				j.gaveAt(seq).Members = append(j.gaveAt(seq).Members, id)
			}
			delete(j.removed, id)
			delete(j.unadmitted, id)
		}
		j.dropMembers = slices.DeleteFunc(j.dropMembers, func(id string) bool { return slices.Contains(readmits, id) })
		// Its signed admin list ends the rights of every admin it leaves
		// out (rosterRec.stepMemberAdd: a confirmed author's list is the
		// admins, a claimed one's prunes the claimed), as read when it
		// was stored: one whose rights were given back below it and who
		// was a claimed admin then is left out.
		maps.DeleteFunc(j.regranted, func(id string, _ bool) bool { return !slices.Contains(g.CurrentAdminIDs, id) })
	case event.GroupAdminsAdded:
		for _, id := range g.AdminIDs {
			if j.demoted[id] != "" {
				j.regranted[id] = vouched
				j.gaveAt(seq).Admins = append(j.gaveAt(seq).Admins, id)
			}
			delete(j.demoted, id)
			delete(j.ungranted, id)
		}
		j.dropAdmins = slices.DeleteFunc(j.dropAdmins, func(id string) bool { return slices.Contains(g.AdminIDs, id) })
	}
	return nil
}

// vouchedAt reads noteVouched's record of grant g stored at seq, only when
// it gives someone back (readmits one removed, or names one demoted).
func (j *rejudge) vouchedAt(ctx context.Context, tx keystore.Tx, seq string, g *event.GroupChange, readmits []string) (bool, error) {
	ids, taken := readmits, j.removed
	switch g.Kind {
	case event.GroupAdminsAdded:
		ids, taken = g.AdminIDs, j.demoted
	case event.GroupMembersAdded:
	default:
		return false, nil
	}
	if !slices.ContainsFunc(ids, func(id string) bool { return taken[id] != "" }) {
		return false, nil
	}
	_, err := tx.Value(ctx, vouchedKey(j.cid, seq))
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return false, nil // not vouched for, or stored before the record: claimed
	case err != nil:
		return false, fmt.Errorf("session: reading a group change's record: %w", err)
	}
	return true, nil
}

// doubt applies what a failed member add above a change says of those the
// walk re-admitted or gave rights back: whom its signed lists leave out of
// the members (or the admins) is no member (no admin) in its author's
// signed view, and a member add that did not fit the roster excluded them
// so as it was stored (rosterRec.excludeDoubted); they are not put back.
// A member add that failed for another reason (its author no admin)
// excluded nobody but counts too: when in doubt, exclude.
func (j *rejudge) doubt(g *event.GroupChange) {
	if g == nil || g.Kind != event.GroupMembersAdded {
		return
	}
	head, admins, ok := flatSplit(slices.Concat(g.MemberIDs, g.CurrentMemberIDs, g.CurrentAdminIDs))
	if !ok {
		return
	}
	maps.DeleteFunc(j.readmitted, func(id string, _ bool) bool { return !slices.Contains(head, id) })
	maps.DeleteFunc(j.regranted, func(id string, _ bool) bool { return !slices.Contains(admins, id) })
}

// takeGranted notes what the failed grant g at seq granted (grantedBy),
// from the records of it (heldBy, gaveBackBy).
func (j *rejudge) takeGranted(ctx context.Context, tx keystore.Tx, seq string, g *event.GroupChange) error {
	held, err := heldBy(ctx, tx, j.cid, seq)
	if err != nil {
		return err
	}
	gave, err := gaveBackBy(ctx, tx, j.cid, seq)
	if err != nil {
		return err
	}
	j.grantedBy(seq, g, held, gave)
	return nil
}

// grantedBy notes what the failed group change at seq granted: the ids it names,
// but those that held the right already when it was applied (held, see
// noteHeld): a grant that changed nothing for them takes nothing back.
// Whom an earlier walk found it gave back (gave, see saveGave) it granted:
// the late change below it took their place or rights.
func (j *rejudge) grantedBy(seq string, g *event.GroupChange, held []string, gave gaveBack) {
	if g == nil {
		return
	}
	held = without(held, slices.Concat(gave.Members, gave.Admins))
	switch g.Kind {
	case event.GroupMembersAdded:
		granted := normaliseIDs(append(without(g.MemberIDs, held), gave.Members...))
		j.dropMembers = append(j.dropMembers, granted...)
		j.dropAdmins = append(j.dropAdmins, granted...)
		for _, id := range granted {
			if id != j.self && j.unadmitted[id] == "" {
				j.unadmitted[id] = seq
			}
		}
	case event.GroupAdminsAdded:
		granted := without(g.AdminIDs, held)
		j.dropAdmins = append(j.dropAdmins, granted...)
		for _, id := range granted {
			if id != j.self && j.ungranted[id] == "" && j.demoted[id] == "" {
				j.ungranted[id] = seq
			}
		}
	}
}

// putBack puts back on the roster those the late changes took off it and
// verified adds above them gave back (readmitted, regranted): the late
// change was applied to the roster as it was stored, above those adds. One
// re-admitted by an add that did not vouch for her (its author no
// confirmed admin when it was stored) is unconfirmed, one given admin
// rights back by one is a claimed admin (as rosterRec.step reads such
// adds).
func (j *rejudge) putBack(ctx context.Context, e *Engine, tx keystore.Tx) error {
	if len(j.readmitted)+len(j.regranted) == 0 {
		return nil
	}
	r, err := loadRoster(ctx, tx, j.cid)
	if err != nil {
		return err
	}
	for _, id := range slices.Sorted(maps.Keys(j.readmitted)) {
		if r.member(id) {
			continue
		}
		r.Members = normaliseIDs(append(r.Members, id))
		if !j.readmitted[id] {
			r.Unconfirmed = normaliseIDs(append(r.Unconfirmed, id))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(j.regranted)) {
		if !r.member(id) || r.admin(id) {
			continue
		}
		if j.regranted[id] {
			r.Admins = normaliseIDs(append(r.Admins, id))
		} else {
			r.Claimed = normaliseIDs(append(r.Claimed, id))
		}
	}
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
// that maker distributed, reporting whether it did.
func distrustKey(ctx context.Context, tx keystore.Tx, cid, version, maker string) (bool, error) {
	k, err := tx.ConversationKey(ctx, cid, version)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("session: reading conversation key: %w", err)
	}
	defer k.Key.Zero()
	if !k.Verified || k.CreatedBy != maker {
		return false, nil
	}
	k.Verified = false
	if err := tx.PutConversationKey(ctx, *k); err != nil {
		return false, fmt.Errorf("session: storing conversation key: %w", err)
	}
	return true, nil
}
