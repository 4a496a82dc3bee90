package session

import (
	"context"
	"errors"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// Judging a backfilled key change at its place. A member's key change the
// server withheld and serves below her removal (stored since) is, on a
// fresh device served the transcript in order, a verified key change at a
// place where its author was a member: it keeps it, and the events sealed
// under its key. Judged against the roster held it fails
// (xchat.ErrNotMember), and the events under it stay failed for want of
// their key. So it is judged at its place as a content event is
// (memberAtPlace: the chain left its place open, the group changes stored
// below it admit its author), and one thing more: it was not made later
// than its place claims (keyMadeBefore: the newest key older than it was
// not distributed above its place). Standing, its key is adopted for
// decryption only (event.DecryptOnlyBackfilled): its author, who holds
// it, is no member now, so nothing is sealed under it, and it is never
// the key new content goes under. The screening decides it before the
// key is adopted (screenGroup runs judgeAtPlace), the storing gate
// decides it again the same way (gateRoster); the events stored failed
// for want of its key are opened as for any verified key change
// (reopen.go). Whom it was wrapped to is judged at its place too
// (participantsAtPlace): its author and whoever else was a member there
// are no finding (AnomalyKeyWrappedToNonMember), as on a fresh device;
// anyone else listed is.
//
// What the server can still do, as it can for a fresh device: place a key
// change the removed member signs after her removal below it, and seal her
// later messages under it there; its key never encrypts. keyMadeBefore
// refuses it only when its version is above a key distributed after her
// removal: nothing signed dates a key change but its version, which its
// author chooses, so one she gives a version just above the last key she
// held (below any key made since) reads as made before her removal, as a
// withheld key change she did make then reads.

// backfillableKey reports whether ev is a verified key change carrying its
// key that the roster step failed only because its author is no member
// now.
func backfillableKey(ev *event.Event, err error) bool {
	kc := ev.KeyChange
	return ev.Verified && errors.Is(err, xchat.ErrNotMember) && kc != nil && kc.Key != nil &&
		kc.DecryptOnly != event.DecryptOnlyUnverified && decimal.Valid(kc.Version)
}

// keyChangeAtPlace reports whether the key change ev's author was a member
// of group cid at its place (r the roster held; see memberAtPlace) and its
// key was not made after a key distributed above its place
// (keyMadeBefore).
func keyChangeAtPlace(ctx context.Context, tx keystore.Tx, cid string, r *rosterRec, ev *event.Event) (bool, error) {
	seqs, ok, err := placeOf(ctx, tx, cid, r, ev)
	if err != nil || !ok {
		return false, err
	}
	if admitted, err := admittedBelow(ctx, tx, cid, seqs, ev.SenderID); err != nil || !admitted {
		return false, err
	}
	return keyMadeBefore(ctx, tx, cid, ev.KeyChange.Version, ev.SequenceID)
}

// keyMadeBefore reports whether a key of version, distributed at seq,
// could have been made there: the newest key of cid held at a lower
// version (an honest member makes each key at a version above every one
// she holds) was distributed by a key change stored below seq (one with
// no recorded place decides against). Key
// versions are signed; an author who signs a key change after a key was
// distributed above her place gives it a higher version than that key's.
func keyMadeBefore(ctx context.Context, tx keystore.Tx, cid, version, seq string) (bool, error) {
	keys, err := tx.ConversationKeys(ctx, cid)
	if err != nil {
		if errors.Is(err, keystore.ErrNotFound) {
			return true, nil
		}
		return false, err
	}
	older := ""
	for i := range keys {
		if decimal.Less(keys[i].Version, version) && (older == "" || decimal.Less(older, keys[i].Version)) {
			older = keys[i].Version
		}
		keys[i].Key.Zero()
	}
	if older == "" {
		return true, nil
	}
	me, err := placedKeyChange(ctx, tx, cid, older)
	if err != nil || me == nil {
		return false, err // unplaced: when in doubt, exclude
	}
	return !decimal.Less(seq, me.GetSequenceID()), nil
}

// participantsAtPlace returns, of the users the backfilled key change ev
// lists as participants, those the group changes stored below its place
// admit there (admittedAtPlace): the members it may be wrapped to without
// a finding, as on a fresh device served the transcript in order. Where
// its place cannot be read (placeOf), it returns held, the roster held.
func participantsAtPlace(ctx context.Context, tx keystore.Tx, cid string, r *rosterRec, ev *event.Event, held []string) ([]string, error) {
	seqs, ok, err := placeOf(ctx, tx, cid, r, ev)
	if err != nil || !ok {
		return held, err
	}
	var users []string
	for _, p := range ev.KeyChange.Participants {
		users = append(users, p.UserID)
	}
	in, err := admittedAtPlace(ctx, tx, cid, seqs, users)
	if err != nil {
		return nil, err
	}
	var out []string
	for u, admitted := range in {
		if admitted {
			out = append(out, u)
		}
	}
	return out, nil
}
