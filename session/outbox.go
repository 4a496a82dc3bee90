package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// The outbox holds every send that is prepared (encrypted and signed) but
// not yet acknowledged by the server. Its rules:
//
//   - An item is stored before its first attempt and removed only when the
//     server acknowledged it, when the conversation shows it arrived, or
//     when the server refused it for good (a definite, content-related
//     rejection, reported as a *xchat.RejectedError with the message's text).
//     Authentication failures (401, 403), rate limits, 5xx answers and
//     network failures keep it.
//   - An attempt that may have reached the server (a reset or timeout after
//     the request left, a 5xx answer, a process killed mid-request) is never
//     simply repeated: before resending, the engine syncs the conversation
//     and looks for the item's message id (the spec does not promise that
//     the server de-duplicates a repeated message_id). A retried delete
//     answered 404 after such an attempt has taken effect.
//   - Items of one conversation are delivered in order: every send first
//     delivers the older pending items of its conversation; while one of
//     them cannot be delivered, later sends queue behind it. A send
//     identical to a pending one (a resend by hand) delivers the pending
//     one instead of a second copy.

// Outbox item kinds.
const (
	outboxMessage = "message"
	outboxDelete  = "delete"
)

// outboxBody is the prepared request stored (sealed) in an outbox item.
type outboxBody struct {
	Path    string                         `json:"path"`
	Message *api.SendChatMessageRequest    `json:"message,omitempty"`
	Delete  *api.DeleteChatMessagesRequest `json:"delete,omitempty"`
	// Content is what the user asked to send (sealed at rest with the rest
	// of the body): it names a rejected send to the user, recognises a
	// resend by hand, and lets a send rejected for a stale key be sealed
	// again under the current key.
	Content *outboxContent `json:"content,omitempty"`
	// Unsent is set while every attempt so far is known not to have
	// reached the server (a refused connection; a 401, 403 or 429 answer):
	// it can be resent without looking for it first. A new item is not
	// Unsent: the process may die while its request is in flight.
	Unsent bool `json:"unsent,omitempty"`
	// Stale is set when the server refused the item because another key
	// version became current: it is sealed again (a new message id) under
	// the current key when next delivered.
	Stale bool `json:"stale,omitempty"`
}

// outboxContent describes a queued send in the user's terms.
type outboxContent struct {
	// Type is TypeMessage, TypeReactionAdd, TypeReactionRemove, TypeEdit
	// or TypeDelete.
	Type     string         `json:"type"`
	Text     string         `json:"text,omitempty"`
	Entities []event.Entity `json:"entities,omitempty"`
	ReplyTo  string         `json:"reply_to,omitempty"`
	Target   string         `json:"target,omitempty"`
	Emoji    string         `json:"emoji,omitempty"`
	TTL      time.Duration  `json:"ttl,omitempty"`
	Silent   bool           `json:"silent,omitempty"`
	// Media is the file name of a media message. Its attachment belongs to
	// one upload and key version: it is never sealed again nor matched as
	// a resend.
	Media string `json:"media,omitempty"`
	// Audience is, for a group, the signed roster (this account's own
	// pending adds included) when the send was first sealed: whom it was
	// written for. A reseal never reaches anyone outside it.
	Audience []string `json:"audience,omitempty"`
}

// sameAs reports whether c and o ask for the same send (whoever they were
// written for).
func (c *outboxContent) sameAs(o *outboxContent) bool {
	if c == nil || o == nil || c.Media != "" || o.Media != "" {
		return false
	}
	a, b := *c, *o
	a.Audience, b.Audience = nil, nil
	return reflect.DeepEqual(a, b)
}

// resealable reports whether a send of c rejected for a stale key can be
// built again under the current key.
func (c *outboxContent) resealable() bool {
	return c != nil && c.Media == "" && c.Type != event.TypeDelete
}

// describe names the content for the user ("message \"hi\"").
func (c *outboxContent) describe(kind string) string {
	if c == nil {
		return kind
	}
	switch c.Type {
	case event.TypeMessage:
		if c.Media != "" {
			return fmt.Sprintf("file %q", c.Media)
		}
		return fmt.Sprintf("message %q", c.Text)
	case event.TypeReactionAdd:
		return fmt.Sprintf("reaction %s to #%s", c.Emoji, c.Target)
	case event.TypeReactionRemove:
		return fmt.Sprintf("removal of reaction %s from #%s", c.Emoji, c.Target)
	case event.TypeEdit:
		return fmt.Sprintf("edit of #%s to %q", c.Target, c.Text)
	case event.TypeDelete:
		return fmt.Sprintf("delete of #%s", c.Target)
	}
	return kind
}

// newPending builds a new outbox item for req (not stored yet).
func newPending(mid, cid, kind string, req any, content *outboxContent, now time.Time) (*pending, error) {
	p := &pending{item: keystore.OutboxItem{MessageID: mid, ConversationID: cid, Kind: kind, CreatedAt: now},
		body: outboxBody{Path: api.ConversationPathID(cid), Content: content}}
	switch r := req.(type) {
	case *api.SendChatMessageRequest:
		p.body.Message = r
	case *api.DeleteChatMessagesRequest:
		p.body.Delete = r
	default:
		return nil, fmt.Errorf("%w: unknown outbox request %T", xchat.ErrInvalidArgument, req)
	}
	if err := p.encode(); err != nil {
		return nil, err
	}
	return p, nil
}

// pending is one outbox item with its decoded body.
type pending struct {
	item keystore.OutboxItem
	body outboxBody
	// version is the key version a newly prepared message is sealed
	// under ("" for items read back from the store).
	version string
	// unsentBefore is body.Unsent before the attempt in flight (see
	// markInFlight).
	unsentBefore bool
	// own describes a newly prepared message as signed and sealed (nil
	// for items read back from the store), so that the server's echo of
	// exactly those bytes is neither verified nor opened again (see
	// ackMessage). Its plaintext and key are wiped once it is delivered
	// or left queued.
	own *inbound.Own
}

func decodePending(it keystore.OutboxItem) (*pending, error) {
	p := &pending{item: it}
	if err := json.Unmarshal(it.Body, &p.body); err != nil {
		return nil, fmt.Errorf("session: outbox item %s unreadable: %w", it.MessageID, err)
	}
	return p, nil
}

// what names the item for messages.
func (p *pending) what() string { return p.body.Content.describe(p.item.Kind) }

func (p *pending) queued(cause error) *xchat.QueuedError {
	return &xchat.QueuedError{MessageID: p.item.MessageID, ConversationID: p.item.ConversationID,
		Kind: p.item.Kind, What: p.what(), Err: cause}
}

// encode re-encodes p.body into the item.
func (p *pending) encode() error {
	b, err := encodeOutboxBody(&p.body)
	if err != nil {
		return fmt.Errorf("session: encoding outbox item: %w", err)
	}
	p.item.Body = keystore.SecretBytes(b)
	return nil
}

// claimPending claims the outbox items of cid this engine may deliver (see
// pendingOutbox), oldest first; busy counts those another replica holds.
// The caller releases the claims (releasePending).
func (e *Engine) claimPending(ctx context.Context, cid string) ([]*pending, int, error) {
	items, busy, err := e.pendingOutbox(ctx, cid)
	if err != nil {
		return nil, 0, fmt.Errorf("session: reading outbox: %w", err)
	}
	out, err := decodeFor(items, cid)
	if err != nil {
		e.releaseOutboxItems(ctx, items)
		return nil, 0, err
	}
	return out, busy, nil
}

// releasePending gives back the claims on items (delivered ones have none
// left) and zeroes their bodies.
func (e *Engine) releasePending(ctx context.Context, items []*pending) {
	for _, p := range items {
		e.releaseOutbox(ctx, p.item.MessageID)
		p.item.Body.Zero()
	}
}

// decodeFor decodes the items of cid, zeroing the others.
func decodeFor(items []keystore.OutboxItem, cid string) ([]*pending, error) {
	var out []*pending
	for _, it := range items {
		if it.ConversationID != cid {
			it.Body.Zero()
			continue
		}
		p, err := decodePending(it)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// lockOutbox serialises the delivery of one conversation's outbox items
// (and new sends to it), so they reach the server in order and no item is
// sent by two callers at once. It is taken before, never while holding,
// the conversation lock. Work done under the lock uses locked (see
// lockConv).
func (e *Engine) lockOutbox(ctx context.Context, cid string) (locked context.Context, unlock func(), err error) {
	return e.lockConv(ctx, "outbox/"+cid)
}

// flushResult is what delivering a conversation's pending items did.
type flushResult struct {
	sent     []Sent
	rejected []*xchat.RejectedError
	// stuck is why the first item that stays pending did (nil when all
	// went), behind the number of items left after it.
	stuck  *xchat.QueuedError
	behind int
	// dup is set when a pending item is identical to the new send:
	// delivered (dupSent) or still pending (stuck is set).
	dup     bool
	dupSent *Sent
	// freshSent and freshErr are the outcome of the caller's new item.
	freshSent *Sent
	freshErr  error
}

// dropped lists the rejected items.
func (r *flushResult) dropped() []xchat.Rejected {
	var out []xchat.Rejected
	for _, rej := range r.rejected {
		out = append(out, rej.Rejected)
	}
	return out
}

// with joins err with the rejections of older items, so none goes
// unreported.
func (r *flushResult) with(err error) error {
	if len(r.rejected) == 0 {
		return err
	}
	errs := []error{err}
	for _, rej := range r.rejected {
		errs = append(errs, rej)
	}
	return errors.Join(errs...)
}

// duplicate answers a send identical to a pending item: that item's
// delivery, or why it is still pending. No second copy is made.
func (r *flushResult) duplicate(cid string, c *outboxContent) (*Sent, error) {
	if r.dupSent != nil {
		s := *r.dupSent
		s.Duplicate, s.Flushed, s.Dropped = true, r.sent, r.dropped()
		return &s, nil
	}
	q := &xchat.QueuedError{ConversationID: cid, Kind: outboxMessage, What: c.describe(outboxMessage), Duplicate: true, Err: r.stuck}
	return nil, r.with(q)
}

// flushConversation delivers the pending items of cid in order, stopping at
// the first one that stays pending. With like set, the first pending item
// identical to it is delivered as the new send and the flush stops there.
// fresh, when set, is a new item the caller has just stored: it goes last,
// after every older item (res.freshSent, res.freshErr), or stays queued
// behind the first one that cannot be delivered. The caller holds
// lockOutbox(cid). The returned error is a local failure (reading or
// writing the store).
func (e *Engine) flushConversation(ctx context.Context, cid string, like *outboxContent, fresh *pending) (*flushResult, error) {
	items, busy, err := e.claimPending(ctx, cid)
	if err != nil {
		return nil, err
	}
	return e.flushClaimed(ctx, cid, items, busy, like, fresh)
}

// flushClaimed is flushConversation with the pending items of cid already
// claimed (claimPending: items, and busy held by another replica); it
// releases them.
func (e *Engine) flushClaimed(ctx context.Context, cid string, items []*pending, busy int, like *outboxContent, fresh *pending) (*flushResult, error) {
	defer e.releasePending(ctx, items)
	if fresh != nil {
		// Its plaintext and key kept for the echo are wiped however the
		// delivery ends, also when it cannot be queued.
		defer fresh.own.Zero()
		// Stored (and claimed) before anything goes out: a crash from here
		// on leaves it for FlushOutbox.
		if err := e.queueOutbox(ctx, fresh.item); err != nil {
			return nil, fmt.Errorf("session: queueing send: %w", err)
		}
		defer e.releaseOutbox(ctx, fresh.item.MessageID)
	}
	res := &flushResult{}
	if busy > 0 {
		// Another replica is delivering older sends: wait behind them.
		res.stuck = &xchat.QueuedError{ConversationID: cid, Kind: outboxMessage,
			What: fmt.Sprintf("%d older send(s) of %s", busy, cid), Err: fmt.Errorf("%w: %d in %s", xchat.ErrOutboxBusy, busy, cid)}
		res.behind = len(items)
		res.dup = like != nil && containsSame(items, like)
	} else if err := e.flushItems(ctx, cid, items, like, res); err != nil {
		return res, err
	}
	if res.dup {
		return res, nil
	}
	if fresh != nil {
		res.freshSent, res.freshErr = e.deliverFresh(ctx, fresh, res)
	}
	return res, nil
}

// flushItems delivers items (older pending items, in order) into res.
func (e *Engine) flushItems(ctx context.Context, cid string, items []*pending, like *outboxContent, res *flushResult) error {
	if len(items) == 0 {
		return nil
	}
	if err := e.checkLanded(ctx, cid, items); err != nil {
		res.stuck, res.behind = items[0].queued(err), len(items)-1
		res.dup = like != nil && containsSame(items, like)
		return nil
	}
	for i, p := range items {
		isDup := like != nil && p.body.Content.sameAs(like)
		s, err := e.redeliver(ctx, p)
		var rej *xchat.RejectedError
		var qe *xchat.QueuedError
		switch {
		case errors.As(err, &rej):
			res.rejected = append(res.rejected, rej)
		case errors.As(err, &qe):
			res.stuck, res.behind = qe, len(items)-1-i
			res.dup = isDup || (like != nil && containsSame(items[i+1:], like))
			return nil
		case err != nil && s == nil:
			return err
		case isDup:
			res.dup, res.dupSent = true, s
			return nil
		default:
			res.sent = append(res.sent, *s)
		}
	}
	return nil
}

// deliverFresh delivers a new item the caller stored, sealing it again once
// if the key moved on meanwhile, or, when older items of its conversation
// stay pending, leaves it queued behind them.
func (e *Engine) deliverFresh(ctx context.Context, p *pending, older *flushResult) (*Sent, error) {
	if older.stuck != nil {
		// Never attempted: it can be sent without looking for it first.
		p.body.Unsent = true
		if err := p.encode(); err != nil {
			return nil, err
		}
		p.item.LastError = "waiting behind older pending sends: " + older.stuck.Error()
		if err := e.store.PutOutbox(ctx, p.item); err != nil {
			return nil, fmt.Errorf("session: queueing send: %w", err)
		}
		q := p.queued(older.stuck)
		q.Behind = older.behind + 1
		return nil, q
	}
	s, err := e.deliver(ctx, p, false)
	if refusedStale(err) {
		return e.reseal(ctx, p)
	}
	return s, err
}

func containsSame(items []*pending, like *outboxContent) bool {
	for _, p := range items {
		if p.body.Content.sameAs(like) {
			return true
		}
	}
	return false
}

// submitClaimed is submit with the older pending items of p's
// conversation already claimed (see flushClaimed); it releases them.
func (e *Engine) submitClaimed(ctx context.Context, p *pending, items []*pending, busy int) (*Sent, *flushResult, error) {
	res, err := e.flushClaimed(ctx, p.item.ConversationID, items, busy, nil, p)
	if err != nil {
		return nil, nil, err
	}
	if res.freshSent != nil {
		res.freshSent.Flushed, res.freshSent.Dropped = res.sent, res.dropped()
	}
	return res.freshSent, res, res.freshErr
}

// submit stores a new item (so a crash from then on leaves it for
// FlushOutbox), delivers the older pending items of its conversation and
// then it. The caller holds lockOutbox.
func (e *Engine) submit(ctx context.Context, p *pending) (*Sent, *flushResult, error) {
	items, busy, err := e.claimPending(ctx, p.item.ConversationID)
	if err != nil {
		return nil, nil, err
	}
	return e.submitClaimed(ctx, p, items, busy)
}

// checkLanded syncs the conversation when a message item may have reached
// the server in an earlier attempt, so redeliver can find it by message id
// instead of sending it twice. An error means the check could not be made
// (the items stay pending).
func (e *Engine) checkLanded(ctx context.Context, cid string, items []*pending) error {
	for _, p := range items {
		if p.item.Kind == outboxMessage && !p.body.Unsent {
			if _, err := e.Sync(ctx, cid, nil); err != nil {
				return fmt.Errorf("cannot check whether an earlier attempt arrived: %w", err)
			}
			return nil
		}
	}
	return nil
}

// redeliver delivers one pending item: a message the conversation already
// holds (an earlier attempt arrived) is acknowledged without resending, a
// stale one is sealed again under the current key.
func (e *Engine) redeliver(ctx context.Context, p *pending) (*Sent, error) {
	if p.body.Stale {
		return e.reseal(ctx, p)
	}
	if p.item.Kind == outboxMessage && !p.body.Unsent {
		if s, err := e.landed(ctx, p); s != nil || err != nil {
			return s, err
		}
	}
	if p.body.Unsent {
		// This attempt may arrive: until it is answered, the item must not
		// be taken for one that never left (the process may die now).
		if err := e.markInFlight(ctx, p); err != nil {
			return nil, err
		}
	}
	s, err := e.deliver(ctx, p, true)
	if refusedStale(err) {
		return e.reseal(ctx, p)
	}
	return s, err
}

// markInFlight clears Unsent in the stored item before an attempt, keeping
// the earlier value for failOutbox.
func (e *Engine) markInFlight(ctx context.Context, p *pending) error {
	p.unsentBefore, p.body.Unsent = true, false
	if err := p.encode(); err != nil {
		return err
	}
	if err := e.store.PutOutbox(ctx, p.item); err != nil {
		return fmt.Errorf("session: updating outbox: %w", err)
	}
	return nil
}

// landed acknowledges a message item whose message id the (synced)
// conversation already holds verified, under this account's sender id,
// returning nil, nil when it does not (the item is delivered again). An
// unverified event under our message id is not our message: its ids are
// the server's word, and taking it for delivered would drop a send that
// never arrived.
func (e *Engine) landed(ctx context.Context, p *pending) (*Sent, error) {
	cid, mid := p.item.ConversationID, p.item.MessageID
	ev, err := e.store.EventByMessageID(ctx, cid, mid)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session: reading history: %w", err)
	}
	defer ev.Body.Zero()
	if ev.SenderID != e.userID || !ev.Verified {
		// Message ids are client-minted and signed: another sender's event
		// under ours, or one that does not verify, is the server's doing.
		// Do not take it for ours.
		return nil, nil
	}
	if err := e.store.AckOutbox(ctx, mid); err != nil {
		return nil, fmt.Errorf("session: acknowledging send: %w", err)
	}
	en := entryFromStored(cid, ev)
	return &Sent{MessageID: mid, ConversationID: cid, SequenceID: ev.SequenceID, KeyVersion: en.KeyVersion, Entry: &en}, nil
}

// maxReseals bounds the reseals of one delivery: each refusal for a stale
// key means the conversation was re-keyed meanwhile, so a few more tries
// ride out rotations racing the send, and the bound keeps a server that
// calls every key stale from looping (the item then stays pending).
const maxReseals = 4

// reseal seals a message the server refused for a stale key again, under
// the current key and with a new message id (the refused request was not
// stored), replaces the pending item with it and delivers it, again while
// the server still refuses the key as stale (up to maxReseals). It syncs
// first to learn the current key; until that works the item stays pending.
func (e *Engine) reseal(ctx context.Context, p *pending) (*Sent, error) {
	for range maxReseals - 1 {
		s, np, err := e.resealOnce(ctx, p)
		if np == nil || !refusedStale(err) {
			return s, err
		}
		p = np // refused as stale again: the item now pending
	}
	s, _, err := e.resealOnce(ctx, p)
	return s, err
}

// resealOnce is one reseal and delivery; np is the item it made.
func (e *Engine) resealOnce(ctx context.Context, p *pending) (s *Sent, np *pending, err error) {
	sg, err := e.signer()
	if err != nil {
		return nil, nil, err
	}
	c, cid := p.body.Content, p.item.ConversationID
	if _, err := e.Sync(ctx, cid, nil); err != nil {
		q := p.queued(fmt.Errorf("sealed under a key that is no longer current; cannot fetch the current one: %w", err))
		return nil, nil, q
	}
	if err := e.checkAudience(ctx, p); err != nil {
		return nil, nil, err
	}
	np, err = e.prepare(ctx, sg, cid, "", c, e.builder(ctx, c, nil))
	if err != nil {
		return nil, nil, err
	}
	// Its kept plaintext and key are wiped however it ends, also when it
	// cannot be queued.
	defer np.own.Zero()
	np.item.CreatedAt = p.item.CreatedAt // keeps its place in the queue
	err = e.store.Update(ctx, func(tx keystore.Tx) error {
		if err := tx.AckOutbox(ctx, p.item.MessageID); err != nil {
			return err
		}
		return tx.PutOutbox(ctx, np.item)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("session: re-queueing send: %w", err)
	}
	s, err = e.deliver(ctx, np, false)
	return s, np, err
}

// checkAudience refuses to seal a queued group send again once the group
// has gained members since it was first sealed: the current key is wrapped
// to them, and the server, which decides when a key is stale and can fail
// a send so that it waits in the outbox, could hold it until an add and so
// choose who reads it. The item is removed and its text given back
// (*xchat.RejectedError, cause xchat.ErrAudienceGrew).
//
// A send refused within the call that made it (p newly prepared) is sealed
// again for the group as it is now, as group messengers do when a send
// crosses a member change it had not synced: the author sends now, to
// the group it is now, and the transcript shows the add before the message.
func (e *Engine) checkAudience(ctx context.Context, p *pending) error {
	c, cid := p.body.Content, p.item.ConversationID
	if !IsGroup(cid) || c.Audience == nil || p.version != "" {
		return nil // a one-to-one's two, an item queued before audiences were kept, or a live send
	}
	r, err := loadRoster(ctx, e.store, cid)
	if err != nil {
		return p.queued(err)
	}
	added := without(r.effective(), c.Audience)
	if len(added) == 0 {
		return nil
	}
	cause := fmt.Errorf("%w: it was refused for a key that is no longer current, and sealing it again would show it to %v, added after it was written; send it again if they should read it",
		xchat.ErrAudienceGrew, added)
	if err := e.store.AckOutbox(context.WithoutCancel(ctx), p.item.MessageID); err != nil {
		return errors.Join(cause, err)
	}
	return &xchat.RejectedError{Err: cause, Rejected: xchat.Rejected{MessageID: p.item.MessageID, ConversationID: cid,
		Kind: p.item.Kind, What: p.what(), Text: c.Text, Reason: cause.Error()}}
}

// deliver sends a stored item and acknowledges it, or records the failed
// attempt (failOutbox). retry marks an item read back from the outbox,
// whose earlier attempts may have taken effect.
func (e *Engine) deliver(ctx context.Context, p *pending, retry bool) (*Sent, error) {
	srv, err := e.srv()
	if err != nil {
		return nil, err
	}
	if err := e.checkLeases(ctx); err != nil {
		return nil, err // another replica delivers it now
	}
	item, body := p.item, &p.body
	sent := &Sent{MessageID: item.MessageID, ConversationID: item.ConversationID, KeyVersion: p.version}
	switch {
	case item.Kind == outboxMessage && body.Message != nil:
		resp, err := srv.SendMessage(ctx, body.Path, body.Message)
		if err == nil && resp.Data == nil {
			err = problems("send message", resp.Errors)
		}
		if err != nil {
			return nil, e.failOutbox(ctx, p, err)
		}
		return e.ackMessage(ctx, item, sent, resp.Data.EncodedMessageEvent, p.own)
	case item.Kind == outboxDelete && body.Delete != nil:
		resp, err := srv.DeleteMessages(ctx, body.Path, body.Delete)
		if err == nil && resp.Data == nil {
			err = problems("delete messages", resp.Errors)
		}
		// A 404 after an earlier attempt that may have arrived: that
		// attempt deleted the messages. (Not after attempts that all
		// failed before reaching the server: then the messages are
		// unknown.)
		gone := retry && !body.Unsent && !p.unsentBefore && errors.Is(err, api.ErrNotFound)
		if err != nil && !gone {
			return nil, e.failOutbox(ctx, p, err)
		}
		if err := e.ackDelete(ctx, item, body.Delete); err != nil {
			return nil, err
		}
		return sent, nil
	}
	_ = e.store.AckOutbox(ctx, item.MessageID)
	return nil, fmt.Errorf("%w: outbox item %s of unknown kind %q dropped", xchat.ErrInvalidArgument, item.MessageID, item.Kind)
}

// failOutbox records a failed attempt. A definite, content-related
// rejection removes the item (*xchat.RejectedError), except a refusal for a
// stale key of a send that can be sealed again; anything else keeps it
// (*xchat.QueuedError), remembering whether it may have reached the server.
func (e *Engine) failOutbox(ctx context.Context, p *pending, cause error) error {
	ctx = context.WithoutCancel(ctx)
	kind := classify(p.item.Kind, cause)
	stale := kind == attemptRejected && p.body.Content.resealable() &&
		rejectedFor(cause, failNonLatestKey, "conversation_key_version")
	if kind == attemptRejected && !stale {
		if err := e.store.AckOutbox(ctx, p.item.MessageID); err != nil {
			return errors.Join(cause, err)
		}
		rej := &xchat.RejectedError{Err: cause, Rejected: xchat.Rejected{MessageID: p.item.MessageID, ConversationID: p.item.ConversationID,
			Kind: p.item.Kind, What: p.what(), Reason: cause.Error()}}
		if c := p.body.Content; c != nil {
			rej.Text = c.Text
		}
		return rej
	}
	first := p.item.Attempts == 0
	p.item.Attempts++
	p.item.LastError = cause.Error()
	// Unsent holds only while every attempt was refused before acting.
	p.body.Unsent = stale || (kind == attemptRefused && (first || p.unsentBefore))
	p.body.Stale = stale
	if err := p.encode(); err != nil {
		return errors.Join(cause, err)
	}
	if err := e.store.PutOutbox(ctx, p.item); err != nil {
		return errors.Join(cause, err)
	}
	if stale {
		cause = staleKey{cause}
	}
	return p.queued(cause)
}

// staleKey marks the cause of a *xchat.QueuedError whose send the server
// refused for a stale key: it is sealed again under the current key (see
// reseal). Its text is the cause's.
type staleKey struct{ error }

func (s staleKey) Unwrap() error { return s.error }

// refusedStale reports whether err is a queued send refused for a stale
// key (its own cause, not one of an older send it waits behind).
func refusedStale(err error) bool {
	q := (*xchat.QueuedError)(nil)
	if !errors.As(err, &q) {
		return false
	}
	_, stale := q.Err.(staleKey)
	return stale
}

// ackDelete applies a delete the server accepted to the local history (the
// server serves neither the removed messages nor, for a delete for self,
// the delete event itself) and acknowledges the outbox item, in one
// transaction. As on receipt, a delete for everyone removes only this
// account's own messages.
func (e *Engine) ackDelete(ctx context.Context, item keystore.OutboxItem, req *api.DeleteChatMessagesRequest) error {
	action := event.DeleteForSelf
	if req.DeleteMessageAction == api.DeleteForAll {
		action = event.DeleteForAll
	}
	ev := &event.Event{SenderID: e.userID, Delete: &event.Delete{SequenceIDs: req.SequenceIDs, Action: action}}
	err := e.store.Update(ctx, func(tx keystore.Tx) error {
		if err := e.applyDelete(ctx, tx, item.ConversationID, ev); err != nil {
			return err
		}
		// Messages deleted before this account stored them: remember the
		// removal, so the break their absence leaves in the transcript
		// chain is not reported (see resolveGaps).
		for _, seq := range req.SequenceIDs {
			old, err := eventAt(ctx, tx, item.ConversationID, seq)
			if err != nil {
				return err
			}
			if old != nil {
				old.Body.Zero()
				continue
			}
			if err := tx.SetValue(ctx, removalKey(item.ConversationID, seq), []byte(e.userID)); err != nil {
				return err
			}
		}
		return tx.AckOutbox(ctx, item.MessageID)
	})
	if err != nil {
		return fmt.Errorf("session: acknowledging delete: %w", err)
	}
	return nil
}

// ackMessage verifies the server's copy of a sent message and records it,
// acknowledging the outbox item in the same transaction. own, the message
// as this engine signed and sealed it, spares the ECDSA verification of an
// echo that carries exactly the bytes signed, the decryption of contents
// that are exactly the ones sealed (under an equal key), and the read of
// the key they were sealed under (see inbound.Own); any other echo is
// verified and opened in full.
func (e *Engine) ackMessage(ctx context.Context, item keystore.OutboxItem, sent *Sent, encoded string, own *inbound.Own) (*Sent, error) {
	if encoded == "" {
		if err := e.store.AckOutbox(ctx, item.MessageID); err != nil {
			return nil, fmt.Errorf("session: acknowledging send: %w", err)
		}
		return sent, nil
	}
	raw, err := wire.DecodeB64(encoded)
	if err != nil {
		_ = e.store.AckOutbox(ctx, item.MessageID) // accepted by the server: never resend
		return sent, fmt.Errorf("%w: returned event is not base64", xchat.ErrServerResponse)
	}
	keys, err := e.keysFor(ctx)
	if err != nil {
		return nil, err
	}
	if own != nil && own.ConversationKey != nil {
		// The key the message was sealed under is the one the store
		// holds for its version: a stored version's key is never
		// replaced (keystore.ConversationKeyStore: a different key for a
		// stored version is refused with ErrConflict) nor removed, and
		// the key a send seals under is a stored, verified one
		// (encryptionKey). So it is not read again.
		keys.addConversationKey(item.ConversationID, own.KeyVersion, own.ConversationKey, true)
	}
	ev := inbound.Decrypt(keys, raw, &inbound.Options{ConversationID: item.ConversationID, Own: own})
	keys.zero()
	if ev.MessageID != item.MessageID || ev.SenderID != e.userID || !ev.Verified || !decimal.Valid(ev.SequenceID) {
		_ = e.store.AckOutbox(ctx, item.MessageID)
		return sent, fmt.Errorf("%w: returned event is not the message sent (%v)", xchat.ErrServerResponse, ev.Err)
	}
	en := ev.Entry()
	err = e.store.Update(ctx, func(tx keystore.Tx) error {
		// The server places the echo: below the top, into a place the
		// chain closed, it must not reopen that place (see noteInserted).
		if err := noteInserted(ctx, tx, item.ConversationID, ev.SequenceID); err != nil {
			return err
		}
		// The echo may be the conversation's first stored event (who
		// starts a conversation by sending): its settle count starts
		// here, at zero, as a sync's first storing step starts it.
		if _, err := startSettleCount(ctx, tx, item.ConversationID); err != nil {
			return err
		}
		if err := tx.PutEvents(ctx, item.ConversationID, []keystore.StoredEvent{storeEntry(&en, raw, "")}); err != nil {
			return err
		}
		return tx.AckOutbox(ctx, item.MessageID)
	})
	if err != nil {
		return nil, fmt.Errorf("session: recording sent message: %w", err)
	}
	sent.SequenceID = ev.SequenceID
	sent.Entry = &en
	if sent.KeyVersion == "" {
		sent.KeyVersion = en.KeyVersion
	}
	return sent, nil
}

// Pending describes a send waiting in the outbox.
type Pending struct {
	MessageID      string    `json:"message_id"`
	ConversationID string    `json:"conversation_id"`
	Kind           string    `json:"kind"`
	CreatedAt      time.Time `json:"created_at"`
	Attempts       int       `json:"attempts"`
	LastError      string    `json:"last_error,omitempty"`
	// What names the send in the user's terms, e.g. `message "hello"`.
	What string `json:"what"`
	// Text is the message text, when the send carries one.
	Text string `json:"text,omitempty"`
}

// Outbox lists the sends waiting to be delivered, oldest first.
func (e *Engine) Outbox(ctx context.Context) ([]Pending, error) {
	items, err := e.store.Outbox(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: reading outbox: %w", err)
	}
	out := make([]Pending, len(items))
	for i, it := range items {
		out[i] = Pending{MessageID: it.MessageID, ConversationID: it.ConversationID, Kind: it.Kind,
			CreatedAt: it.CreatedAt, Attempts: it.Attempts, LastError: it.LastError, What: it.Kind}
		if p, err := decodePending(it); err == nil {
			out[i].What = p.what()
			if c := p.body.Content; c != nil {
				out[i].Text = c.Text
			}
		}
		it.Body.Zero()
	}
	return out, nil
}

// FlushOutbox delivers the pending sends of the conversations named in
// ids, or of every conversation when none is named: each conversation's
// in order, with its original message id, stopping at the first send that
// stays pending so the order holds. A send that may have arrived in an
// earlier attempt is first looked for in the conversation and not sent
// twice. It returns the sends delivered and, joined, a *xchat.QueuedError for
// each conversation whose sends are still pending (xchat.ErrOutboxBusy, sending
// nothing there, while another replica is delivering one of them) and a
// *xchat.RejectedError for each send the server refused for good (removed from
// the outbox). A replica taking over a conversation flushes it before
// sending anything new there.
func (e *Engine) FlushOutbox(ctx context.Context, ids ...string) ([]Sent, error) {
	convs, err := e.outboxConversations(ctx, ids)
	if err != nil {
		return nil, err
	}
	var done []Sent
	var errs []error
	for _, cid := range convs {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		res, err := e.flushLocked(ctx, cid)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, res.sent...)
		for _, r := range res.rejected {
			errs = append(errs, r)
		}
		if res.stuck != nil {
			res.stuck.Behind = res.behind
			errs = append(errs, res.stuck)
		}
	}
	return done, errors.Join(errs...)
}

// outboxConversations returns the canonical ids of the conversations
// named, or else of those with pending sends, in outbox order.
func (e *Engine) outboxConversations(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) > 0 {
		convs := make([]string, 0, len(ids))
		for _, id := range ids {
			cid, err := CanonicalID(id, e.userID)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(convs, cid) {
				convs = append(convs, cid)
			}
		}
		return convs, nil
	}
	items, err := e.store.Outbox(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: reading outbox: %w", err)
	}
	var convs []string
	for _, it := range items {
		if !slices.Contains(convs, it.ConversationID) {
			convs = append(convs, it.ConversationID)
		}
		it.Body.Zero()
	}
	return convs, nil
}

func (e *Engine) flushLocked(ctx context.Context, cid string) (*flushResult, error) {
	ctx, unlock, err := e.lockOutbox(ctx, cid)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return e.flushConversation(ctx, cid, nil, nil)
}

// DropOutbox removes a pending send without delivering it (for a send the
// user gives up on). Dropping an absent item is not an error.
func (e *Engine) DropOutbox(ctx context.Context, messageID string) error {
	if err := e.store.AckOutbox(ctx, messageID); err != nil {
		return fmt.Errorf("session: dropping outbox item: %w", err)
	}
	return nil
}
