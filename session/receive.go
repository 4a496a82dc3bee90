package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// receive verifies, decrypts and stores one event given alone, in base64
// as the API returns events (for tests and fuzzing: pushed events go
// through Deliver). A key change's key is adopted under the same rules as Sync. The returned
// event carries any verification or decryption problem in Event.Err; the
// error return is for malformed input and storage failures. Transcript
// checks need the surrounding events: run Sync for them. A group create
// received before the key change that binds it to the group is returned
// (failed, with a warning) but not stored, so that a later Sync applies it.
func (e *Engine) receive(ctx context.Context, encoded string) (*event.Event, error) {
	defer e.deliverChanges()
	raw, err := wire.DecodeB64(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: event is not base64: %w", xchat.ErrInvalidArgument, err)
	}
	me, err := wire.DecodeMessageEvent(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", xchat.ErrMalformed, err)
	}
	cid, err := CanonicalID(me.GetConversationID(), e.userID)
	if err != nil || cid != me.GetConversationID() {
		return nil, fmt.Errorf("%w: event names conversation %q", xchat.ErrInvalidArgument, me.GetConversationID())
	}
	if !IsGroup(cid) {
		if _, err := peerOf(cid, e.userID); err != nil {
			return nil, err
		}
	}
	ctx, unlock, err := e.lockConv(ctx, cid)
	if err != nil {
		return nil, err
	}
	defer unlock()
	keys, err := e.keysFor(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { keys.zero() }() // the last cache (the first one is zeroed as it is replaced)
	opts := &inbound.Options{ConversationID: cid}
	ev := inbound.Decrypt(keys, raw, opts)
	if missing := keys.missingSigners(); len(missing) > 0 && e.server != nil {
		if _, rerr := e.refreshPeers(ctx, missing...); rerr == nil || errors.Is(rerr, xchat.ErrNoPeerKeys) || errors.Is(rerr, xchat.ErrKeyBinding) {
			again, err := e.keysFor(ctx)
			if err != nil {
				return nil, err
			}
			keys.zero()
			keys = again
			ev = inbound.Decrypt(keys, raw, opts)
		}
	}
	pass := newRosterPass()
	pass.pairs.add([]*event.Event{ev})
	if _, err := e.screenSenders(ctx, e.store, cid, []*event.Event{ev}, pass); err != nil {
		return nil, err
	}
	if errors.Is(ev.Err, errCreateUnbound) {
		// A create delivered before its paired key change: storing it as
		// failed would keep it from ever establishing the roster. Sync
		// reads it again with its pair.
		ev.Warnings = append(ev.Warnings, fmt.Errorf("%w: group create not stored: its key change has not been seen yet; run Sync", xchat.ErrRosterUnknown))
		return ev, nil
	}
	if err := e.store.Update(ctx, func(tx keystore.Tx) error {
		return e.receiveTx(ctx, tx, cid, keys, ev, pass)
	}); err != nil {
		return nil, err
	}
	return ev, nil
}

// receiveTx adopts the key of a received key change and stores the event
// in one transaction, so that a key adopted as usable whose key change the
// storing gates refuse (or the store holds other bytes for) is never
// committed (keysAgree).
func (e *Engine) receiveTx(ctx context.Context, tx keystore.Tx, cid string, keys *storeKeys, ev *event.Event, pass *rosterPass) error {
	if _, err := e.conversationRecord(ctx, tx, cid); err != nil {
		return err
	}
	usable, err := e.adoptKeysTx(ctx, tx, cid, keys, []*event.Event{ev})
	if err != nil {
		return err
	}
	_, conflicts, err := e.storeEventsTx(ctx, tx, cid, []*event.Event{ev}, pass)
	if err != nil {
		return err
	}
	found, causes, err := e.rejudgeLate(ctx, tx, cid)
	if err != nil {
		return err
	}
	if cause := causes[ev.SequenceID]; cause != nil && ev.Verified {
		// Judged before the late change it lies above was read: what
		// Receive returns is the verdict the store now holds.
		ev.Verified, ev.Err = false, cause
	}
	for _, a := range found {
		ev.Warnings = append(ev.Warnings, fmt.Errorf("%w: %s", xchat.ErrNotMember, a))
	}
	if len(conflicts) > 0 {
		ev.Warnings = append(ev.Warnings, fmt.Errorf("%w: sequence id %s already stored with other bytes", xchat.ErrServerResponse, ev.SequenceID))
	}
	return keysAgree(ctx, tx, cid, usable)
}
