package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// Real-time delivery. The Activity stream and webhooks push the same
// envelope (api.ActivityEvent); Deliver is the one entry point for both.
// A pushed event is exactly as untrusted as a fetched one: its payload's
// signing_public_key, ids, versions and every other unsigned field are
// server claims, so the encoded events go through the page step of Sync
// (syncState.pageIn: decrypt against pinned keys, fetch unknown signers,
// screen authors, adopt keys of verified key changes, gate and store), with
// the carried key change ahead of the event, as a page's key changes are.
//
// Push is never trusted for completeness: a delivery does not move the
// conversation's sync position, and Reconcile (naming every conversation
// after a reconnection: RefreshConversations, then Reconcile with their
// ids) reads /events from that position, which fills gaps and
// runs the transcript checks (links, forks, reorders) over pushed and
// fetched events alike. Events already stored are compared byte for byte,
// so a push that differs from what /events serves is reported
// (AnomalyConflict), and neither path hands an event to the application
// twice.

// DeliveryStatus is what became of one activity event. Its value is its
// name ("stored", "duplicate", "ignored" or "rejected").
type DeliveryStatus string

const (
	// DeliveryStored: new events were stored and passed to fn (they may
	// have failed verification: see Event.Err; a failed event past its
	// conversation's allowance, or of a one-to-one conversation not
	// recorded yet, is passed but not stored, see WithMaxFailedEvents and
	// AnomalyFailedNotKept).
	DeliveryStored DeliveryStatus = "stored"
	// DeliveryDuplicate: the event_uuid was seen before, or every event it
	// carried was already stored (backfill and replays repeat events).
	DeliveryDuplicate DeliveryStatus = "duplicate"
	// DeliveryIgnored: not an encrypted Chat event, or for another user
	// of the same app.
	DeliveryIgnored DeliveryStatus = "ignored"
	// DeliveryRejected: the payload is malformed or names a conversation
	// its event does not belong to, or it comes before any roster of its
	// group is held (xchat.ErrRosterUnknown: Reconcile reads it in its place);
	// nothing was stored (Err says why).
	// Reconcile (naming the conversation) learns what the server really
	// holds.
	DeliveryRejected DeliveryStatus = "rejected"
)

// Delivered is the outcome of Deliver.
type Delivered struct {
	Status DeliveryStatus
	// EventUUID and EventType are the delivery's, as the server sent them.
	EventUUID, EventType string
	// ConversationID is the canonical conversation of the event ("" when
	// it could not be read).
	ConversationID string
	// Events are the events stored by this delivery, as passed to fn,
	// then the messages stored before it that the key change it carried
	// opened (Event.Reopened set: see Engine.Sync).
	Events []*event.Event
	// Anomalies are findings of the delivery (a pushed event that differs
	// from the stored one at its sequence id, unknown key versions).
	Anomalies []event.Anomaly
	// KeyChanges are peer key changes seen while fetching unknown signers.
	KeyChanges []KeyChanged
	// Err explains DeliveryIgnored and DeliveryRejected.
	Err error
}

// maxSeenDeliveries bounds the event_uuid memory of an engine.
const maxSeenDeliveries = 8192

// liveState is the engine's real-time bookkeeping.
type liveState struct {
	mu      sync.Mutex
	seen    map[string]bool
	order   []string        // seen, oldest first, for eviction
	pending map[string]bool // conversations delivered to since the last reconcile
}

// firstSight records an event_uuid and reports whether it is new.
func (l *liveState) firstSight(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if l.seen[id] {
		return false
	}
	l.seen[id] = true
	l.order = append(l.order, id)
	if len(l.order) > maxSeenDeliveries {
		delete(l.seen, l.order[0])
		l.order = slices.Delete(l.order, 0, 1)
	}
	return true
}

func (l *liveState) markPending(cids ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = map[string]bool{}
	}
	for _, c := range cids {
		l.pending[c] = true
	}
}

func (l *liveState) takePending() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.pending))
	for c := range l.pending {
		out = append(out, c)
	}
	l.pending = nil
	slices.Sort(out)
	return out
}

// Deliver verifies, decrypts and stores one activity event delivered by
// the Activity stream or a webhook, and passes each newly stored event to
// fn (when not nil), the key change it carries first. A verified key
// change it stores opens the messages stored failed for want of its key,
// as a sync does: they are passed to fn after the pushed events, verified
// and marked Event.Reopened (see Engine.Sync; fn's first error is
// returned, once every one of them was passed). It is the engine's one
// entry point for pushed events.
//
// Events for other users of the app and non-chat events are ignored;
// deliveries are de-duplicated on event_uuid (in memory) and on what the
// store holds (sequence ids, and signed message ids replayed under new
// sequence ids, which fail with xchat.ErrReplayed). The conversation is routed by
// the encoded event itself; a payload whose conversation_id disagrees with
// it is rejected. Verification failures are stored as failed events and
// take no effect, exactly as in Sync (and as there, up to the
// conversation's allowance: WithMaxFailedEvents); a failed event of a
// one-to-one conversation not recorded yet is passed to fn but not kept,
// and the conversation is recorded only with an event of it stored (see
// Conversations). The conversation's sync position does
// not move: call Reconcile after deliveries (naming every conversation
// after a reconnection) so that /events fills any gap; session/realtime's
// Follower does both.
func (e *Engine) Deliver(ctx context.Context, ev *api.ActivityEvent, fn func(*event.Event) error) (*Delivered, error) {
	defer e.deliverChanges()
	if ev == nil {
		return nil, fmt.Errorf("%w: nil activity event", xchat.ErrInvalidArgument)
	}
	if _, err := e.srv(); err != nil {
		return nil, err
	}
	d := &Delivered{Status: DeliveryStored, EventUUID: string(ev.EventUUID), EventType: ev.EventType}
	switch {
	case !ev.IsChat():
		d.Status, d.Err = DeliveryIgnored, fmt.Errorf("session: %q is not an encrypted chat event", ev.EventType)
		return d, nil
	case ev.Filter.UserID != "" && ev.Filter.UserID != e.userID:
		d.Status, d.Err = DeliveryIgnored, fmt.Errorf("session: event for user %s, not %s", ev.Filter.UserID, e.userID)
		return d, nil
	case d.EventUUID != "" && !e.live.firstSight(d.EventUUID):
		d.Status = DeliveryDuplicate
		return d, nil
	}
	p, err := ev.ChatPayload()
	if err != nil {
		d.Status, d.Err = DeliveryRejected, fmt.Errorf("%w: %w", xchat.ErrDeliveryRejected, err)
		return d, nil
	}
	cid, err := e.routeDelivery(p)
	if err != nil {
		// Which conversation it was is a claim: reconcile them all (the
		// Follower does so for a rejection without ConversationID).
		d.Status, d.Err = DeliveryRejected, err
		return d, nil
	}
	d.ConversationID = cid
	if err := e.rosterFor(ctx, cid); err != nil {
		e.live.markPending(cid)
		d.Status, d.Err = DeliveryRejected, err
		return d, nil
	}
	if err := e.deliverPage(ctx, cid, p, d, fn); err != nil {
		return d, err
	}
	e.live.markPending(cid)
	if len(d.Events) == 0 {
		d.Status = DeliveryDuplicate
	}
	return d, nil
}

// routeDelivery returns the canonical conversation of a chat payload: the
// one its encoded event names, which must agree with the payload's
// conversation_id (in either the ':' or the '-' form) and, for a
// one-to-one conversation, include this account.
func (e *Engine) routeDelivery(p *api.ChatPayload) (string, error) {
	raw, err := wire.DecodeB64(p.EncodedEvent)
	if err != nil {
		return "", fmt.Errorf("%w: encoded_event is not base64: %w", xchat.ErrDeliveryRejected, err)
	}
	me, err := wire.DecodeMessageEvent(raw)
	if err != nil {
		return "", fmt.Errorf("%w: encoded_event: %w: %w", xchat.ErrDeliveryRejected, xchat.ErrMalformed, err)
	}
	named := me.GetConversationID()
	cid, err := CanonicalID(named, e.userID)
	if err != nil || cid != named {
		return "", fmt.Errorf("%w: event names conversation %q", xchat.ErrDeliveryRejected, clipID(named))
	}
	if p.ConversationID != "" {
		pc, err := CanonicalID(p.ConversationID, e.userID)
		if err != nil || pc != cid {
			return "", fmt.Errorf("%w: payload names conversation %q, its event %q", xchat.ErrDeliveryRejected, clipID(p.ConversationID), cid)
		}
	}
	if !IsGroup(cid) {
		if _, err := peerOf(cid, e.userID); err != nil {
			return "", fmt.Errorf("%w: %w", xchat.ErrDeliveryRejected, err)
		}
	}
	return cid, nil
}

func clipID(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// deliverPage runs the payload's events through Sync's page step: the
// carried key change as the page's key change metadata, the event as its
// data. The sync position is left where it was.
func (e *Engine) deliverPage(ctx context.Context, cid string, p *api.ChatPayload, d *Delivered, fn func(*event.Event) error) error {
	ctx, unlock, err := e.lockConv(ctx, cid)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := e.peekConversation(ctx, cid)
	if err != nil {
		return err
	}
	if !IsGroup(cid) && !slices.Contains(rec.Members, e.userID) {
		return fmt.Errorf("%w: %s", xchat.ErrNotMember, cid)
	}
	keys, err := e.keysFor(ctx)
	if err != nil {
		return err
	}
	res := &SyncResult{ConversationID: cid, Roster: RosterUnknown}
	st := &syncState{e: e, res: res, cid: cid, keys: keys, stored: rec.Sync.LastSequenceID, pass: newRosterPass(), unwraps: crypto.NewUnwrapMemo(0),
		fn: func(ev *event.Event) error {
			d.Events = append(d.Events, ev)
			if fn != nil {
				return fn(ev)
			}
			return nil
		}}
	page := &api.GetChatConversationEventsResponse{Data: []api.ChatMessageEvent{{EncodedEvent: p.EncodedEvent}}}
	if kc := p.ConversationKeyChangeEvent; kc != "" {
		page.Meta = &api.ChatEventsMeta{ConversationKeyEvents: []string{kc}}
	}
	st.pass.journal = &st.undo
	st.holdLate = true // a push is one page: fn sees it once any late change it brings is judged
	st.pushed = true
	defer st.unwraps.Close()
	defer st.zeroKeys()
	err = st.processPages(ctx, singlePage(decodePage(page)), false)
	if rerr := st.settleLate(ctx); rerr != nil { // a late removal pushed: re-judge above it now
		err = errors.Join(err, rerr)
	}
	if rerr := st.reopenAwaiting(ctx); rerr != nil { // a key change pushed: open what awaited it
		err = errors.Join(err, rerr)
	}
	d.Anomalies, d.KeyChanges = res.Anomalies, res.KeyChanges
	return err
}

// Reconcile syncs (see Sync) every conversation Deliver stored events
// in since the last Reconcile, and the conversations named in also,
// passing fn the events the pushes missed. A conversation whose sync fails
// stays pending for the next call, unless the server answered that it does
// not exist or is not this account's to read (HTTP 404 or 403): which
// conversation a push names is the server's claim, and a pushed id it then
// disowns is not asked for again in every later round.
func (e *Engine) Reconcile(ctx context.Context, fn func(*event.Event) error, also ...string) ([]*SyncResult, error) {
	e.live.markPending(also...)
	return e.reconcile(ctx, e.live.takePending(), fn)
}

func (e *Engine) reconcile(ctx context.Context, ids []string, fn func(*event.Event) error) ([]*SyncResult, error) {
	var out []*SyncResult
	var errs []error
	for i, id := range ids {
		res, err := e.syncEach(ctx, id, fn)
		if res != nil {
			out = append(out, res)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			if !disowned(err) {
				e.live.markPending(id)
			}
			if ctx.Err() != nil {
				e.live.markPending(ids[i+1:]...)
				break
			}
		}
	}
	return out, errors.Join(errs...)
}

// disowned reports a sync that failed because the server says the
// conversation does not exist or is not the account's to read.
func disowned(err error) bool {
	return errors.Is(err, api.ErrNotFound) || errors.Is(err, api.ErrForbidden)
}

// rosterFor refuses (xchat.ErrRosterUnknown) a pushed event for a group whose
// roster is not held yet. Its author's membership cannot be checked there
// (nor, for a key change it carries, the key change's author's), and once
// stored its verdict would stand when a sync later brings the group
// changes below it (a removal of its author, say): Reconcile reads it in
// its place in the transcript instead, the group's changes first.
func (e *Engine) rosterFor(ctx context.Context, cid string) error {
	if !IsGroup(cid) {
		return nil
	}
	r, err := loadRoster(ctx, e.store, cid)
	if err != nil {
		return err
	}
	if r.Base == "" {
		return fmt.Errorf("%w: %w: %s: pushed event held back until the group is synced (Reconcile)", xchat.ErrDeliveryRejected, xchat.ErrRosterUnknown, cid)
	}
	return nil
}
