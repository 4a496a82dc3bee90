package session

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/wire"
)

// A reading again given up, remembered. Engine.bindLateCreate runs after
// every batch of a sync that holds its events from fn while a create may
// bind (no roster held, or one a join started: latejoin.go); a reading
// given up (a group change stored verified does not stand on the roster
// the create starts) changes nothing, so the next batch, and every later
// sync, would decrypt the group's changes and walk its whole history
// again to give it up again: a server that keeps such a create stored
// (one a member signs, naming whom it likes) makes every sync cost the
// length of the history, however little it serves.
//
// So the inputs a reading decides on are digested (rereadInputs) and the
// digest of the last one given up is kept; a reading on the same inputs
// is not tried again. They are what the create step and the group
// change steps read: the roster held, the create chosen and the event
// stored at its place, the group changes the reading steps (stored
// verified, or failed as read before any roster) with their verdicts,
// the group's keys (each version's maker and whether verified: their
// pairs bind a create, their keys open a sealed title; the key held under
// a version never changes) and the group a create's message id was
// accepted in.
// Content events and group changes failed otherwise are not among them:
// a reading is given up only for a create or a group change stored
// verified that does not stand, whatever content the history holds.
// Not among them either are the peers' signing keys the changes are
// verified with again: a change stored verified that no longer verifies
// for a key since fetched is not read again until something else changes.

// rereadDroppedKey names the record of the inputs of the last reading
// again of cid given up.
func rereadDroppedKey(cid string) string {
	h := sha256.Sum256([]byte(cid))
	return "session/reread-dropped/" + hex.EncodeToString(h[:])
}

// rereadInputs digests what a reading again of cid from the create c
// decides on (see the top of this file): r is the roster held, changes
// the group changes it steps (storedGroupChanges).
func rereadInputs(ctx context.Context, tx keystore.Tx, cid string, r rosterRec, c *unboundCreate, changes []awaited) ([]byte, error) {
	d := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		d.Write(n[:])
		d.Write(b)
	}
	rb, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("session: encoding roster: %w", err)
	}
	field(rb)
	field([]byte(c.Seq))
	field([]byte(c.Sender))
	field([]byte(c.Version))
	field(c.Raw)
	if me, err := wire.DecodeMessageEvent(c.Raw); err == nil && validMessageID(me.GetMessageID()) {
		in, err := tx.Value(ctx, createIndexKey(me.GetMessageID()))
		if err != nil && !errors.Is(err, keystore.ErrNotFound) {
			return nil, err
		}
		field(in)
	}
	if err := digestStored(ctx, tx, field, cid, c.Seq); err != nil {
		return nil, err
	}
	for _, ch := range changes {
		field([]byte(ch.seq))
		field(ch.raw)
		if err := digestStored(ctx, tx, field, cid, ch.seq); err != nil {
			return nil, err
		}
	}
	keys, err := tx.ConversationKeys(ctx, cid)
	if err != nil && !errors.Is(err, keystore.ErrNotFound) {
		return nil, err
	}
	for i := range keys {
		k := &keys[i]
		field([]byte(k.Version))
		field([]byte(k.CreatedBy))
		field([]byte(fmt.Sprint(k.Verified)))
		k.Key.Zero() // a key held under a version never changes (keystore.ErrConflict)
	}
	return d.Sum(nil), nil
}

// digestStored adds with field the verdict and wire bytes of
// the event stored in cid at seq (an empty field when none).
func digestStored(ctx context.Context, tx keystore.Tx, field func([]byte), cid, seq string) error {
	s, err := eventAt(ctx, tx, cid, seq)
	if err != nil {
		return err
	}
	if s == nil {
		field(nil)
		return nil
	}
	field([]byte(fmt.Sprint(s.Verified)))
	field([]byte(entryFromStored(cid, s).Error))
	field(s.Raw)
	s.Body.Zero()
	return nil
}

// rereadDropped reports whether the last reading again of cid given up
// decided on inputs (rereadInputs).
func rereadDropped(ctx context.Context, v valueReader, cid string, inputs []byte) (bool, error) {
	b, err := v.Value(ctx, rereadDroppedKey(cid))
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("session: reading the reading again given up: %w", err)
	}
	return subtle.ConstantTimeCompare(b, inputs) == 1, nil
}

// noteRereadDropped remembers that the reading again of cid deciding on
// inputs was given up.
func (e *Engine) noteRereadDropped(ctx context.Context, cid string, inputs []byte) error {
	return e.store.Update(ctx, func(tx keystore.Tx) error {
		return tx.SetValue(ctx, rereadDroppedKey(cid), inputs)
	})
}
