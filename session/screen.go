package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/inbound"
)

// Screening of received events before their effects are applied: envelope
// ids the store cannot hold faithfully, authors who cannot speak in the
// conversation, and group changes their author may not make.

// maxSequenceDigits bounds sequence ids (and previous_sequence_id): X's ids
// are 64-bit snowflakes, at most 19 decimal digits.
const maxSequenceDigits = 19

// maxMessageIDLen bounds message ids (client-minted UUIDs in practice).
const maxMessageIDLen = 256

// validSequenceID reports whether s is a canonical decimal of 1–19 digits.
func validSequenceID(s string) bool {
	return len(s) <= maxSequenceDigits && keystore.ValidVersion(s)
}

// validMessageID reports whether id can be stored and indexed: 1–256 bytes
// without NUL.
func validMessageID(id string) bool {
	return id != "" && len(id) <= maxMessageIDLen && !strings.ContainsRune(id, 0)
}

// reject marks ev as failed with err: it is no longer verified, its
// content is dropped and a key it carried is wiped, so nothing of it is
// shown as authentic or applied.
func reject(ev *Event, err error) {
	ev.Err = errors.Join(ev.Err, err)
	ev.Verified = false
	ev.Message = nil
	if kc := ev.KeyChange; kc != nil {
		if kc.Key != nil {
			kc.Key.Zero()
		}
		kc.Key, kc.UsableForEncryption = nil, false
	}
}

// screenEnvelope rejects an event whose sequence ids or message id are not
// well formed (ErrMalformed). Such ids would otherwise fail the store, or
// be skipped silently.
func screenEnvelope(ev *Event) {
	var bad []string
	if ev.SequenceID != "" && !validSequenceID(ev.SequenceID) {
		bad = append(bad, fmt.Sprintf("sequence id (%d bytes) is not a canonical decimal of 1-%d digits", len(ev.SequenceID), maxSequenceDigits))
	}
	if ev.PreviousSequenceID != "" && !validSequenceID(ev.PreviousSequenceID) {
		bad = append(bad, fmt.Sprintf("previous sequence id (%d bytes) is not a canonical decimal of 1-%d digits", len(ev.PreviousSequenceID), maxSequenceDigits))
		ev.PreviousSequenceID = ""
	}
	if ev.MessageID != "" && !validMessageID(ev.MessageID) {
		bad = append(bad, fmt.Sprintf("message id (%d bytes) is not 1-%d bytes without NUL", len(ev.MessageID), maxMessageIDLen))
	}
	if len(bad) > 0 {
		reject(ev, fmt.Errorf("%w: %s", inbound.ErrMalformed, strings.Join(bad, "; ")))
	}
}

// screenSenders rejects events whose author cannot speak in cid (after
// rejecting malformed envelopes). In a one-to-one conversation only its two
// users may: a valid signature by a third party over this conversation id
// is still a forgery of the conversation. In a group whose roster is
// established by signed group changes, a signed event must come from a
// member at that point of the transcript (the roster is followed through
// the events given, oldest first) and a group change must be one its
// author may make; see screenGroup.
func (e *Engine) screenSenders(ctx context.Context, cid string, evs []*Event) error {
	for _, ev := range evs {
		screenEnvelope(ev)
	}
	if IsGroup(cid) {
		return e.screenGroup(ctx, cid, evs)
	}
	for _, ev := range evs {
		if ev.SenderID == "" || !ev.Kind.Signed() {
			continue
		}
		if _, err := peerOf(cid, ev.SenderID); err != nil {
			reject(ev, fmt.Errorf("%w: sender %s is not a participant of %s", ErrNotMember, ev.SenderID, cid))
		}
	}
	return nil
}

// roster is a group's membership as the engine follows it.
type roster struct {
	members, admins []string
	// known lists every user a verified group change ever named as a
	// member: the authors of events older than the last applied change
	// (whose roster at the time is not kept) are checked against it.
	known []string
	// seq is the sequence id of the last group change applied ("" when
	// none: the roster is then at best an unsigned server hint).
	seq string
}

func rosterKey(cid string) string { return "session/roster/" + cid }

// loadRoster reads the stored roster of group cid.
func (e *Engine) loadRoster(ctx context.Context, tx keystore.Tx, cid string) (roster, error) {
	c, err := tx.Conversation(ctx, cid)
	if errors.Is(err, keystore.ErrNotFound) {
		return roster{}, nil
	}
	if err != nil {
		return roster{}, fmt.Errorf("session: reading conversation: %w", err)
	}
	m := loadMeta(c)
	r := roster{members: slices.Clone(c.Members), admins: slices.Clone(m.Admins), known: slices.Clone(m.Known)}
	if v, err := tx.Value(ctx, rosterKey(cid)); err == nil {
		r.seq = string(v)
	}
	return r, nil
}

// past reports whether seq is not newer than the last applied change.
func (r *roster) past(seq string) bool {
	return r.seq != "" && validSequenceID(seq) && !versionLess(r.seq, seq)
}

// learn records the members a verified group change names.
func (r *roster) learn(g *GroupChange) {
	r.known = normaliseIDs(slices.Concat(r.known, g.MemberIDs, g.CurrentMemberIDs))
}

// authorise reports why sender may not make group change g on this
// roster: ErrNotMember for a non-member, ErrNotAuthorized for a member
// who is not an admin where the change needs one (admin changes, removing
// someone else). The admin list is checked only when one is known.
func (r *roster) authorise(sender string, g *GroupChange) error {
	if !slices.Contains(r.members, sender) {
		return fmt.Errorf("%w: group change (%s) by %s, who is not a member", ErrNotMember, g.Kind, sender)
	}
	needAdmin := false
	switch g.Kind {
	case inbound.GroupAdminsAdded, inbound.GroupAdminsRemoved:
		needAdmin = true
	case inbound.GroupMembersRemoved:
		needAdmin = !(len(g.MemberIDs) == 1 && g.MemberIDs[0] == sender) // leaving needs no admin
	}
	if needAdmin && len(r.admins) > 0 && !slices.Contains(r.admins, sender) {
		return fmt.Errorf("%w: group change (%s) by %s, who is not an admin", ErrNotAuthorized, g.Kind, sender)
	}
	return nil
}

// apply updates the membership for a verified, authorised group change.
func (r *roster) apply(g *GroupChange) {
	switch g.Kind {
	case inbound.GroupCreated:
		r.members = normaliseIDs(g.MemberIDs)
		r.admins = normaliseIDs(g.AdminIDs)
	case inbound.GroupMembersAdded:
		base := g.CurrentMemberIDs
		if len(base) == 0 {
			base = r.members
		}
		r.members = normaliseIDs(slices.Concat(base, g.MemberIDs))
		if len(g.CurrentAdminIDs) > 0 {
			r.admins = normaliseIDs(g.CurrentAdminIDs)
		}
	case inbound.GroupMembersRemoved:
		r.members = slices.DeleteFunc(slices.Clone(r.members), func(u string) bool { return slices.Contains(g.MemberIDs, u) })
	case inbound.GroupAdminsAdded:
		r.admins = normaliseIDs(slices.Concat(r.admins, g.AdminIDs))
	case inbound.GroupAdminsRemoved:
		r.admins = slices.DeleteFunc(slices.Clone(r.admins), func(u string) bool { return slices.Contains(g.AdminIDs, u) })
	}
	r.learn(g)
}

// screenGroup follows the group's roster through evs, oldest first, from
// the stored one and rejects:
//   - signed events by non-members (ErrNotMember): their content is
//     dropped and a key change's key is not adopted for the group;
//   - group changes their author may not make (ErrNotMember,
//     ErrNotAuthorized), which then do not change the roster.
//
// A user to whom a member's verified key change of evs wraps the group key
// counts as a member from that key change on (the roster change that added
// them may lie on an older page), except for changing the group itself.
// Events not newer than the last group change applied are checked against
// every user ever named a member. Join requests are by non-members by
// nature and are not screened. Until a signed group change has established
// the roster (the stored roster is then only the server's listing) nothing
// is screened.
func (e *Engine) screenGroup(ctx context.Context, cid string, evs []*Event) error {
	var r roster
	if err := e.store.View(ctx, func(tx keystore.Tx) error {
		var err error
		r, err = e.loadRoster(ctx, tx, cid)
		return err
	}); err != nil {
		return err
	}
	order := make([]*Event, 0, len(evs))
	for _, ev := range evs {
		if ev.SenderID != "" && ev.Kind.Signed() {
			order = append(order, ev)
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return versionLess(order[i].SequenceID, order[j].SequenceID) })
	established := r.seq != ""
	// Behind the applied roster only who was ever a member is known: every
	// member a verified change of that stretch names (a removal names
	// whoever spoke before it) counts, wherever it lies on the page.
	for _, ev := range order {
		if g := ev.GroupChange; g != nil && ev.Verified && r.past(ev.SequenceID) {
			r.learn(g)
		}
	}
	granted := map[string]bool{}
	for _, ev := range order {
		g := ev.GroupChange
		if g != nil && g.Kind == inbound.GroupJoinRequested {
			continue
		}
		past := r.past(ev.SequenceID)
		if !established {
			// Only a verified group create establishes a roster here.
			if ev.Verified && g != nil && g.Kind == inbound.GroupCreated {
				r.apply(g)
				established = true
			}
			continue
		}
		member := slices.Contains(r.members, ev.SenderID) || granted[ev.SenderID]
		if past && !member {
			member = slices.Contains(r.known, ev.SenderID)
		}
		if !member {
			reject(ev, fmt.Errorf("%w: sender %s is not a member of %s", ErrNotMember, ev.SenderID, cid))
			continue
		}
		if !ev.Verified {
			continue
		}
		if g != nil {
			if past {
				r.learn(g)
			} else if err := r.authorise(ev.SenderID, g); err != nil {
				// A key holder not (yet) on the roster may speak, but
				// changing the group needs a place on the roster.
				reject(ev, err)
				continue
			} else {
				r.apply(g)
			}
		}
		if kc := ev.KeyChange; kc != nil {
			for _, p := range kc.Participants {
				granted[p.UserID] = true
				if past {
					r.known = append(r.known, p.UserID)
				}
			}
		}
	}
	return nil
}

// gateGroupChange re-checks, against the stored roster at this point of
// the transcript (inside the storing transaction, changes applied oldest
// first), that a verified group change newer than the last one applied
// may be made by its author; it rejects the event otherwise.
func (e *Engine) gateGroupChange(ctx context.Context, tx keystore.Tx, cid string, ev *Event) error {
	r, err := e.loadRoster(ctx, tx, cid)
	if err != nil {
		return err
	}
	if r.seq == "" || r.past(ev.SequenceID) || ev.GroupChange.Kind == inbound.GroupJoinRequested {
		return nil
	}
	if err := r.authorise(ev.SenderID, ev.GroupChange); err != nil {
		reject(ev, err)
	}
	return nil
}

// gateDelete rejects (ErrNotAuthorized) a verified delete-for-all naming a
// stored message of another author: only a message's author may delete it
// for everyone. Only a verified stored event has a known author: the
// sender an unverified event claims is the server's word, so such a target
// neither rejects nor vouches for the delete (see applyDelete).
func gateDelete(ctx context.Context, tx keystore.Tx, cid string, ev *Event) error {
	d := ev.Delete
	if d == nil || d.Action != inbound.DeleteForAll {
		return nil
	}
	for _, seq := range d.SequenceIDs {
		old, err := eventAt(ctx, tx, cid, seq)
		if err != nil || old == nil {
			if err != nil {
				return err
			}
			continue
		}
		old.Body.Zero()
		if old.Verified && old.SenderID != ev.SenderID {
			reject(ev, fmt.Errorf("%w: %s deletes for everyone message %s of %s", ErrNotAuthorized, ev.SenderID, seq, old.SenderID))
			return nil
		}
	}
	return nil
}

// gateReplay rejects (ErrReplayed) a signed event whose message id is
// already stored under another sequence id. The message id is bound into
// the signature, so a verified event under a new sequence id is an old
// event the server re-sequenced.
func gateReplay(ctx context.Context, tx keystore.Tx, cid string, ev *Event) error {
	if !ev.Kind.Signed() || !validMessageID(ev.MessageID) {
		return nil
	}
	old, err := tx.EventByMessageID(ctx, cid, ev.MessageID)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	old.Body.Zero()
	if old.SequenceID != ev.SequenceID {
		reject(ev, &replayedError{original: old.SequenceID})
	}
	return nil
}

// replayedError is the Event.Err of a replay: it matches ErrReplayed and
// names the sequence id the message id is stored under.
type replayedError struct{ original string }

func (e *replayedError) Error() string {
	return fmt.Sprintf("%v: message id already stored as sequence id %s", ErrReplayed, e.original)
}

func (e *replayedError) Unwrap() error { return ErrReplayed }
