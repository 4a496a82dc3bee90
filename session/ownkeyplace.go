package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// Placing the keys this account made. A key change's place in the
// transcript (where it is stored) is what keyHeldAt and keyAtPlace read to
// judge an event at its place: its key must have been distributed below
// it. For another member's key the record is its key change as first
// adopted (keyChangeIndexKey). A key this account made is held, verified,
// from the moment it is committed (commitKey), before the server has
// placed its key change; when the server serves that key change back,
// adoptKeyTx finds the key held and adopts nothing. So its place is
// recorded then, apart (ownKeyPlaceKey): from the key change as served
// back, only when it verifies, is signed by this account and carries the
// key committed (a different key fails as a conflict first), and only the
// first copy stored. The server's answer to the post that made it is
// unsigned and places nothing. The record is kept apart from
// keyChangeIndexKey because the participant list of the copy served back
// is the server's word: whom this account wrapped its key to is what it
// recorded at commit (convMeta.KeyRecipients), never that list.
//
// Where the copy served back sits is the server's word too (sequence ids
// are unsigned), but this account knows one bound of it: it made the key
// after everything it had stored then, so an honest server places the key
// change above that (the newest sequence id stored verified at commit,
// synced or pushed, recorded apart: ownKeyFloorKey; an event stored
// failed is the server's word and bounds nothing). A copy served at or below it is
// not taken as the key's place: placed there, the key would read as
// distributed before events this account had stored when it made it (a
// removal among them), and a key change the removed member signs later,
// placed below her removal and above that copy, would read as made before
// any key distributed after her removal (keyMadeBefore).

// ownKeyPlaceKey is where the key change of cid's key version that this
// account made is recorded as served back.
func ownKeyPlaceKey(cid, version string) string { return "session/kce-own/" + cid + "/" + version }

// ownKeyFloorKey is where the newest sequence id stored of cid is recorded
// as this account commits its key version: the key change of it lies
// above.
func ownKeyFloorKey(cid, version string) string {
	return "session/kce-own-floor/" + cid + "/" + version
}

// recordOwnKeyFloor records, as this account commits cid's key version
// (c its conversation record), the newest sequence id it had stored
// verified of cid (nothing when none). Only what verified counts: an
// event stored failed, pushed or served at any sequence id the server
// likes, would otherwise raise the floor above every place the server
// will give the key change, and keep the key unplaced for free. The scan
// starts at the sync position when the event stored there verified (the
// usual case), from the start of the conversation otherwise.
func recordOwnKeyFloor(ctx context.Context, tx keystore.Tx, c *keystore.Conversation, cid, version string) error {
	floor, from := "", ""
	if at := c.Sync.LastSequenceID; at != "" {
		ev, err := eventAt(ctx, tx, cid, at)
		if err != nil {
			return fmt.Errorf("session: reading where an own key was made: %w", err)
		}
		if ev != nil {
			ev.Body.Zero()
			if ev.Verified {
				floor, from = at, at
			}
		}
	}
	for {
		evs, err := tx.Events(ctx, cid, from, ownKeyFloorPage)
		if err != nil {
			return fmt.Errorf("session: reading where an own key was made: %w", err)
		}
		for i := range evs {
			evs[i].Body.Zero()
			if evs[i].Verified {
				floor = evs[i].SequenceID
			}
		}
		if len(evs) > 0 {
			from = evs[len(evs)-1].SequenceID
		}
		if len(evs) < ownKeyFloorPage {
			break
		}
	}
	if floor == "" {
		return nil
	}
	if err := tx.SetValue(ctx, ownKeyFloorKey(cid, version), []byte(floor)); err != nil {
		return fmt.Errorf("session: recording where an own key was made: %w", err)
	}
	return nil
}

// ownKeyFloorPage is how many stored events recordOwnKeyFloor reads at a
// time above the sync position.
const ownKeyFloorPage = 256

// aboveOwnKeyFloor reports whether seq lies above the newest sequence id
// stored when this account committed cid's key version (true when none
// is recorded).
func aboveOwnKeyFloor(ctx context.Context, tx keystore.Tx, cid, version, seq string) (bool, error) {
	floor, err := tx.Value(ctx, ownKeyFloorKey(cid, version))
	switch {
	case errors.Is(err, keystore.ErrNotFound) || err == nil && len(floor) == 0:
		return true, nil
	case err != nil:
		return false, fmt.Errorf("session: reading where an own key was made: %w", err)
	}
	return decimal.Less(string(floor), seq), nil
}

// placeOwnKey records ev, a key change of cid whose key this account holds
// verified and ev carries, as the place of a key this account made: when
// ev verified, is signed by self, lies above the newest event stored at
// commit (aboveOwnKeyFloor), and no key change of its version is recorded
// yet (as adopted or as placed).
func placeOwnKey(ctx context.Context, tx keystore.Tx, cid, self string, ev *event.Event) error {
	kc := ev.KeyChange
	if !ev.Verified || ev.Err != nil || ev.SenderID != self || len(ev.Raw) == 0 || kc == nil {
		return nil
	}
	if _, found, err := storedKeyChange(ctx, tx, cid, kc.Version); err != nil || found {
		return err
	}
	if above, err := aboveOwnKeyFloor(ctx, tx, cid, kc.Version, ev.SequenceID); err != nil || !above {
		return err
	}
	switch _, err := tx.Value(ctx, ownKeyPlaceKey(cid, kc.Version)); {
	case err == nil:
		return nil // the first copy served back holds the place
	case !errors.Is(err, keystore.ErrNotFound):
		return fmt.Errorf("session: reading the place of an own key: %w", err)
	}
	if err := tx.SetValue(ctx, ownKeyPlaceKey(cid, kc.Version), ev.Raw); err != nil {
		return fmt.Errorf("session: recording the place of an own key: %w", err)
	}
	return nil
}

// placedKeyChange returns the key change that placed cid's key version:
// as adopted (storedKeyChange) or, for a key this account made, as served
// back (placeOwnKey); nil when none is recorded or it does not decode.
func placedKeyChange(ctx context.Context, tx keystore.Tx, cid, version string) (*tevent.MessageEvent, error) {
	me, found, err := storedKeyChange(ctx, tx, cid, version)
	if err != nil || found {
		return me, err
	}
	raw, err := tx.Value(ctx, ownKeyPlaceKey(cid, version))
	switch {
	case errors.Is(err, keystore.ErrNotFound) || err == nil && len(raw) == 0:
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("session: reading the place of an own key: %w", err)
	}
	me, err = wire.DecodeMessageEvent(raw)
	if err != nil {
		return nil, nil
	}
	return me, nil
}
