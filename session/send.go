package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/inbound"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// Outgoing is a message to send.
type Outgoing struct {
	// Text is the message text (UTF-8). It may be empty only when the
	// message carries attachments.
	Text string
	// Entities mark rich-text spans of Text (byte offsets).
	Entities []Entity
	// ReplyTo is the sequence id of the message replied to. The reply
	// embeds the original's raw signed event (and, when it was encrypted
	// under another key version, the key change needed to read it) so
	// recipients can validate the quoted preview, as the XDK does.
	ReplyTo string
	// TTL makes the message disappear after this long (0 = never).
	TTL time.Duration
	// Silent asks recipients' clients not to notify (should_notify false).
	Silent bool

	// attachments and keyVersion are set by SendMedia: the message must be
	// sealed under the key version the media was encrypted with.
	attachments []*product.MessageAttachment
	keyVersion  string
}

// Sent describes a message accepted by the server.
type Sent struct {
	// MessageID is the client-minted id (stable across retries).
	MessageID      string `json:"message_id"`
	ConversationID string `json:"conversation_id"`
	// SequenceID is the server-assigned position ("" when the server did
	// not return the stored event).
	SequenceID string `json:"sequence_id,omitempty"`
	// KeyVersion is the conversation key version the message was sealed
	// under.
	KeyVersion string `json:"key_version,omitempty"`
	// Entry is the stored history entry of the message, when the server
	// returned it.
	Entry *Entry `json:"entry,omitempty"`
}

// SendText sends a text message to conversation id (any form accepted by
// CanonicalID; a bare user id names the one-to-one conversation with that
// user, which is keyed first if needed).
func (e *Engine) SendText(ctx context.Context, id, text string) (*Sent, error) {
	return e.Send(ctx, id, Outgoing{Text: text})
}

// Reply sends text as a reply to the message with sequence id replyTo.
func (e *Engine) Reply(ctx context.Context, id, replyTo, text string) (*Sent, error) {
	return e.Send(ctx, id, Outgoing{Text: text, ReplyTo: replyTo})
}

// Send encrypts, signs and sends a message. The prepared request is stored
// in the outbox (keyed by its message id) before it is sent; a transient
// failure leaves it there and returns an error wrapping ErrQueued, and
// FlushOutbox resends it with the same message id. On success the outbox
// entry is removed in the same store transaction that records the server's
// copy of the message.
func (e *Engine) Send(ctx context.Context, id string, m Outgoing) (*Sent, error) {
	if m.Text == "" && len(m.attachments) == 0 {
		return nil, fmt.Errorf("%w: empty message", ErrInvalidArgument)
	}
	if !utf8.ValidString(m.Text) {
		return nil, fmt.Errorf("%w: text is not valid UTF-8", ErrInvalidArgument)
	}
	for _, en := range m.Entities {
		if en.Start < 0 || en.End < en.Start || int(en.End) > len(m.Text) {
			return nil, fmt.Errorf("%w: entity [%d,%d) outside the text", ErrInvalidArgument, en.Start, en.End)
		}
	}
	if m.TTL < 0 {
		return nil, fmt.Errorf("%w: negative TTL", ErrInvalidArgument)
	}
	return e.sendContent(ctx, id, m.keyVersion, m.TTL, m.Silent, func(cid, keyVersion string, key *crypto.ConversationKey) (*product.MessageEntryHolder, error) {
		h, mc := m.holder()
		if m.ReplyTo != "" {
			p, err := e.replyPreview(ctx, cid, m.ReplyTo, keyVersion)
			if err != nil {
				return nil, err
			}
			mc.ReplyingToPreview = p
		}
		return h, nil
	})
}

// holder builds the plaintext entry of a text message.
func (m *Outgoing) holder() (*product.MessageEntryHolder, *product.MessageContents) {
	text := m.Text
	mc := &product.MessageContents{
		MessageText: &text,
		Entities:    thriftEntities(m.Entities),
		Attachments: m.attachments,
	}
	return &product.MessageEntryHolder{Contents: &product.MessageEntryContents{Message: mc}}, mc
}

// React adds an emoji reaction to the message with sequence id target.
func (e *Engine) React(ctx context.Context, id, target, emoji string) (*Sent, error) {
	return e.reaction(ctx, id, target, emoji, true)
}

// Unreact removes an emoji reaction from the message with sequence id
// target.
func (e *Engine) Unreact(ctx context.Context, id, target, emoji string) (*Sent, error) {
	return e.reaction(ctx, id, target, emoji, false)
}

func (e *Engine) reaction(ctx context.Context, id, target, emoji string, add bool) (*Sent, error) {
	if !decimal.Valid(target) {
		return nil, fmt.Errorf("%w: target sequence id %q", ErrInvalidArgument, target)
	}
	if emoji == "" || !utf8.ValidString(emoji) {
		return nil, fmt.Errorf("%w: emoji", ErrInvalidArgument)
	}
	return e.sendContent(ctx, id, "", 0, false, func(string, string, *crypto.ConversationKey) (*product.MessageEntryHolder, error) {
		c := &product.MessageEntryContents{}
		if add {
			c.ReactionAdd = &product.MessageReactionAdd{MessageSequenceID: &target, Emoji: &emoji}
		} else {
			c.ReactionRemove = &product.MessageReactionRemove{MessageSequenceID: &target, Emoji: &emoji}
		}
		return &product.MessageEntryHolder{Contents: c}, nil
	})
}

// Edit replaces the text of the message with sequence id target; entities
// describe the new text (omitting them clears the original's). Only a
// message's author may edit it: target must be a stored message of this
// account (ErrNotAuthorized otherwise; sync first for a message not yet
// stored).
func (e *Engine) Edit(ctx context.Context, id, target, text string, entities ...Entity) (*Sent, error) {
	if !decimal.Valid(target) {
		return nil, fmt.Errorf("%w: target sequence id %q", ErrInvalidArgument, target)
	}
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("%w: text is not valid UTF-8", ErrInvalidArgument)
	}
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return nil, err
	}
	orig, err := e.storedEvent(ctx, cid, target)
	if err != nil {
		return nil, err
	}
	if orig.SenderID != e.userID || orig.Type != TypeMessage {
		return nil, fmt.Errorf("%w: %s %s is by %s; only its author may edit it", ErrNotAuthorized, orig.Type, target, orig.SenderID)
	}
	return e.sendContent(ctx, id, "", 0, false, func(string, string, *crypto.ConversationKey) (*product.MessageEntryHolder, error) {
		var ents []*product.RichTextEntity
		if entities != nil {
			ents = thriftEntities(entities)
		}
		return &product.MessageEntryHolder{Contents: &product.MessageEntryContents{
			MessageEdit: &product.MessageEdit{MessageSequenceID: &target, UpdatedText: &text, Entities: ents},
		}}, nil
	})
}

// contentBuilder builds the plaintext of a message under the chosen key.
type contentBuilder func(cid, keyVersion string, key *crypto.ConversationKey) (*product.MessageEntryHolder, error)

// sendContent resolves the conversation and its encryption key, builds,
// encrypts and signs the MessageCreateEvent and delivers it via the outbox.
func (e *Engine) sendContent(ctx context.Context, id, pinned string, ttl time.Duration, silent bool, build contentBuilder) (*Sent, error) {
	defer e.deliverChanges()
	sg, err := e.signer()
	if err != nil {
		return nil, err
	}
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return nil, err
	}
	if err := e.ensureConversation(ctx, cid); err != nil {
		return nil, err
	}
	sent, err := e.sendOnce(ctx, sg, cid, pinned, ttl, silent, build)
	if pinned == "" && rejectedFor(err, failNonLatestKey, "conversation_key_version") {
		// Somebody rotated the key since the last sync: catch up and send
		// again, sealed under the newest key (a new message: the rejected
		// one was not stored).
		if _, serr := e.Sync(ctx, cid); serr == nil {
			return e.sendOnce(ctx, sg, cid, pinned, ttl, silent, build)
		}
	}
	return sent, err
}

// Failure names the server puts at the start of a problem's detail.
const (
	failNonLatestKey = "NON_LATEST_CKEY_VERSION"
	failKeyChanged   = "RECIPIENT_KEY_HAS_CHANGED"
)

// rejectedFor reports a 4xx answer naming failure (at the start of the
// problem detail) or, failing that, blaming parameter.
func rejectedFor(err error, failure, parameter string) bool {
	var ae *api.Error
	if !errors.As(err, &ae) || ae.StatusCode < 400 || ae.StatusCode >= 500 {
		return false
	}
	if strings.HasPrefix(ae.Problem.Detail, failure) {
		return true
	}
	return parameter != "" && strings.HasPrefix(ae.Problem.Parameter, parameter)
}

// sendOnce seals one message under the conversation's key and delivers it.
func (e *Engine) sendOnce(ctx context.Context, sg *signer, cid, pinned string, ttl time.Duration, silent bool, build contentBuilder) (*Sent, error) {
	item, version, err := func() (keystore.OutboxItem, string, error) {
		unlock := e.lockConv(cid)
		defer unlock()
		var key *crypto.ConversationKey
		var version string
		if pinned != "" {
			k, err := e.store.ConversationKey(ctx, cid, pinned)
			if err != nil {
				return keystore.OutboxItem{}, "", fmt.Errorf("%w: version %s of %s", ErrNoConversationKey, pinned, cid)
			}
			ck := crypto.ConversationKey(k.Key)
			k.Key.Zero()
			key, version = &ck, pinned
		} else {
			var err error
			if key, version, err = e.freshKey(ctx, cid); err != nil {
				return keystore.OutboxItem{}, "", err
			}
		}
		defer key.Zero()
		holder, err := build(cid, version, key)
		if err != nil {
			return keystore.OutboxItem{}, "", err
		}
		req, mid, err := e.sealMessage(sg, cid, version, key, holder, ttl, silent)
		if err != nil {
			return keystore.OutboxItem{}, "", err
		}
		item, err := newOutboxItem(mid, cid, outboxMessage, req, e.now())
		return item, version, err
	}()
	if err != nil {
		return nil, err
	}
	sent, err := e.deliver(ctx, item)
	if sent != nil {
		sent.KeyVersion = version
	}
	return sent, err
}

// ensureConversation makes sure cid can be sent to: a one-to-one
// conversation is keyed if needed, a group unknown locally is synced.
func (e *Engine) ensureConversation(ctx context.Context, cid string) error {
	if IsGroup(cid) {
		return e.ensureKnown(ctx, cid)
	}
	peer, err := peerOf(cid, e.userID)
	if err != nil {
		return err
	}
	_, err = e.EnsureConversationKey(ctx, peer)
	return err
}

// sealMessage encrypts holder under key and signs the MessageCreateEvent
// exactly as the XDK's encrypt_and_sign does.
func (e *Engine) sealMessage(sg *signer, cid, version string, key *crypto.ConversationKey, holder *product.MessageEntryHolder, ttl time.Duration, silent bool) (*api.SendChatMessageRequest, string, error) {
	plain, err := wire.EncodeMessageEntryHolder(holder)
	if err != nil {
		return nil, "", fmt.Errorf("session: encoding message: %w", err)
	}
	contents, err := crypto.Seal(e.rand, key, plain)
	clear(plain)
	if err != nil {
		return nil, "", fmt.Errorf("session: encrypting message: %w", err)
	}
	notify := !silent
	mce := &event.MessageCreateEvent{
		Contents:               contents,
		ConversationKeyVersion: &version,
		ShouldNotify:           &notify,
	}
	if ttl > 0 {
		t := ttl.Milliseconds()
		mce.TTLMsec = &t
	}
	enc, err := wire.EncodeMessageCreateEvent(mce)
	if err != nil {
		return nil, "", fmt.Errorf("session: encoding message: %w", err)
	}
	mid, err := newMessageID(e.rand)
	if err != nil {
		return nil, "", err
	}
	sig, err := sg.messageSignature(mid, cid, version, contents)
	if err != nil {
		return nil, "", err
	}
	return &api.SendChatMessageRequest{
		MessageID:                    mid,
		EncodedMessageCreateEvent:    wire.EncodeB64(enc),
		EncodedMessageEventSignature: sig,
	}, mid, nil
}

// ensureFreshKey rotates the conversation key when a participant's pinned
// keys are newer than the keys the current conversation key was wrapped
// to (under TrustStrict the rotation refuses unverified keys), and in a
// group when the newest key was made by a user the signed roster does not
// vouch for (see encryptionKey). The
// participants are the conversation's two users or the group's roster
// held from signed changes (see wrapTargets): a rotation that is needed
// but whose roster is unknown, or under TrustStrict unconfirmed, fails. The
// caller holds the conversation lock.
func (e *Engine) ensureFreshKey(ctx context.Context, cid string) error {
	rec, err := e.store.Conversation(ctx, cid)
	if errors.Is(err, keystore.ErrNotFound) {
		if IsGroup(cid) {
			return fmt.Errorf("%w: %s", ErrUnknownConversation, cid)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("session: reading conversation: %w", err)
	}
	if IsGroup(cid) {
		// A group key must come from someone the signed roster vouches
		// for (see encryptionKey); otherwise make one for the roster.
		switch k, _, err := e.encryptionKey(ctx, cid); {
		case err == nil:
			k.Zero()
		case errors.Is(err, errUnvouchedKey):
			return e.rekeyForRoster(ctx, cid)
		case !errors.Is(err, ErrNoConversationKey):
			return err
		}
	}
	meta := loadMeta(rec)
	if len(meta.KeyRecipients) == 0 {
		return nil
	}
	members := rec.Members
	if IsGroup(cid) {
		r, err := loadRoster(ctx, e.store, cid)
		if err != nil {
			return err
		}
		members = r.effective()
	}
	stale := false
	for _, m := range members {
		if m == e.userID {
			continue
		}
		peer, err := e.Peer(ctx, m)
		if err != nil {
			return err
		}
		if peer.Current == nil {
			continue
		}
		if v, ok := meta.KeyRecipients[m]; !ok || v != peer.Current.Version {
			stale = true
			break
		}
	}
	if !stale {
		return nil
	}
	return e.rekeyForRoster(ctx, cid)
}

// freshKey returns the key to encrypt new content of cid under, rotating
// first when ensureFreshKey finds it stale. The caller holds the
// conversation lock.
func (e *Engine) freshKey(ctx context.Context, cid string) (*crypto.ConversationKey, string, error) {
	if err := e.ensureFreshKey(ctx, cid); err != nil {
		return nil, "", err
	}
	return e.encryptionKey(ctx, cid)
}

// rekeyForRoster distributes a new key of cid to whom wrapTargets allows.
func (e *Engine) rekeyForRoster(ctx context.Context, cid string) error {
	targets, err := e.wrapTargets(ctx, cid)
	if err != nil {
		return err
	}
	_, err = e.distributeKey(ctx, cid, targets)
	return err
}

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
}

func newOutboxItem(mid, cid, kind string, req any, now time.Time) (keystore.OutboxItem, error) {
	body := outboxBody{Path: PathID(cid)}
	switch r := req.(type) {
	case *api.SendChatMessageRequest:
		body.Message = r
	case *api.DeleteChatMessagesRequest:
		body.Delete = r
	default:
		return keystore.OutboxItem{}, fmt.Errorf("%w: unknown outbox request %T", ErrInvalidArgument, req)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return keystore.OutboxItem{}, fmt.Errorf("session: encoding outbox item: %w", err)
	}
	return keystore.OutboxItem{
		MessageID: mid, ConversationID: cid, Kind: kind,
		Body: keystore.SecretBytes(b), CreatedAt: now,
	}, nil
}

// deliver stores item in the outbox, sends it and acknowledges it.
func (e *Engine) deliver(ctx context.Context, item keystore.OutboxItem) (*Sent, error) {
	srv, err := e.srv()
	if err != nil {
		return nil, err
	}
	var body outboxBody
	if err := json.Unmarshal(item.Body, &body); err != nil {
		return nil, fmt.Errorf("session: outbox item %s unreadable: %w", item.MessageID, err)
	}
	if err := e.queueOutbox(ctx, item); err != nil {
		return nil, fmt.Errorf("session: queueing send: %w", err)
	}
	defer e.releaseOutbox(ctx, item.MessageID)
	sent := &Sent{MessageID: item.MessageID, ConversationID: item.ConversationID}
	switch {
	case item.Kind == outboxMessage && body.Message != nil:
		resp, err := srv.SendMessage(ctx, body.Path, body.Message)
		if err == nil && resp.Data == nil {
			err = problems("send message", resp.Errors)
		}
		if err != nil {
			return nil, e.failOutbox(ctx, item, err)
		}
		return e.ackMessage(ctx, item, sent, resp.Data.EncodedMessageEvent)
	case item.Kind == outboxDelete && body.Delete != nil:
		resp, err := srv.DeleteMessages(ctx, body.Path, body.Delete)
		if err == nil && resp.Data == nil {
			err = problems("delete messages", resp.Errors)
		}
		if err != nil {
			return nil, e.failOutbox(ctx, item, err)
		}
		if err := e.ackDelete(ctx, item, body.Delete); err != nil {
			return nil, err
		}
		return sent, nil
	}
	_ = e.store.AckOutbox(ctx, item.MessageID)
	return nil, fmt.Errorf("%w: outbox item %s of unknown kind %q dropped", ErrInvalidArgument, item.MessageID, item.Kind)
}

// ackDelete applies a delete the server accepted to the local history (the
// server serves neither the removed messages nor, for a delete for self,
// the delete event itself) and acknowledges the outbox item, in one
// transaction. As on receipt, a delete for everyone removes only this
// account's own messages.
func (e *Engine) ackDelete(ctx context.Context, item keystore.OutboxItem, req *api.DeleteChatMessagesRequest) error {
	action := inbound.DeleteForSelf
	if req.DeleteMessageAction == api.DeleteForAll {
		action = inbound.DeleteForAll
	}
	ev := &Event{SenderID: e.userID, Delete: &inbound.Delete{SequenceIDs: req.SequenceIDs, Action: action}}
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
// acknowledging the outbox item in the same transaction.
func (e *Engine) ackMessage(ctx context.Context, item keystore.OutboxItem, sent *Sent, encoded string) (*Sent, error) {
	if encoded == "" {
		if err := e.store.AckOutbox(ctx, item.MessageID); err != nil {
			return nil, fmt.Errorf("session: acknowledging send: %w", err)
		}
		return sent, nil
	}
	raw, err := wire.DecodeB64(encoded)
	if err != nil {
		_ = e.store.AckOutbox(ctx, item.MessageID) // accepted by the server: never resend
		return sent, fmt.Errorf("%w: returned event is not base64", ErrServerResponse)
	}
	keys, err := e.keysFor(ctx)
	if err != nil {
		return nil, err
	}
	ev := inbound.Decrypt(keys, raw, &inbound.Options{ConversationID: item.ConversationID})
	if ev.MessageID != item.MessageID || ev.SenderID != e.userID || !ev.Verified || !decimal.Valid(ev.SequenceID) {
		_ = e.store.AckOutbox(ctx, item.MessageID)
		return sent, fmt.Errorf("%w: returned event is not the message sent (%v)", ErrServerResponse, ev.Err)
	}
	en := EntryFromEvent(ev)
	err = e.store.Update(ctx, func(tx keystore.Tx) error {
		if err := tx.PutEvents(ctx, item.ConversationID, []keystore.StoredEvent{en.stored(raw)}); err != nil {
			return err
		}
		return tx.AckOutbox(ctx, item.MessageID)
	})
	if err != nil {
		return nil, fmt.Errorf("session: recording sent message: %w", err)
	}
	sent.SequenceID = ev.SequenceID
	sent.Entry = &en
	return sent, nil
}

// failOutbox records a failed attempt. A permanent rejection removes the
// item (resending the same request cannot succeed); anything else keeps it
// for FlushOutbox and returns an error wrapping ErrQueued.
func (e *Engine) failOutbox(ctx context.Context, item keystore.OutboxItem, cause error) error {
	var ae *api.Error
	var pe *PartialError
	if (errors.As(cause, &ae) && !ae.Temporary()) || errors.As(cause, &pe) {
		if err := e.store.AckOutbox(ctx, item.MessageID); err != nil {
			return errors.Join(cause, err)
		}
		return fmt.Errorf("session: server rejected %s %s: %w", item.Kind, item.MessageID, cause)
	}
	item.Attempts++
	item.LastError = cause.Error()
	if err := e.store.PutOutbox(context.WithoutCancel(ctx), item); err != nil {
		return errors.Join(cause, err)
	}
	return fmt.Errorf("%w: %s %s: %w", ErrQueued, item.Kind, item.MessageID, cause)
}

// Pending describes a send waiting in the outbox.
type Pending struct {
	MessageID      string    `json:"message_id"`
	ConversationID string    `json:"conversation_id"`
	Kind           string    `json:"kind"`
	CreatedAt      time.Time `json:"created_at"`
	Attempts       int       `json:"attempts"`
	LastError      string    `json:"last_error,omitempty"`
}

// Outbox lists the sends waiting to be retried.
func (e *Engine) Outbox(ctx context.Context) ([]Pending, error) {
	items, err := e.store.Outbox(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: reading outbox: %w", err)
	}
	out := make([]Pending, len(items))
	for i, it := range items {
		out[i] = Pending{MessageID: it.MessageID, ConversationID: it.ConversationID, Kind: it.Kind,
			CreatedAt: it.CreatedAt, Attempts: it.Attempts, LastError: it.LastError}
		it.Body.Zero()
	}
	return out, nil
}

// FlushOutbox resends every pending send, oldest first, each with its
// original message id (so the server can deduplicate a send that did
// arrive). It returns the sends that succeeded and the errors of the others.
// Sends another replica is delivering are left to it (see
// FlushConversation).
func (e *Engine) FlushOutbox(ctx context.Context) ([]Sent, error) {
	items, _, err := e.pendingOutbox(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("session: reading outbox: %w", err)
	}
	defer e.releaseOutboxItems(ctx, items)
	var done []Sent
	var errs []error
	for _, it := range items {
		s, err := e.deliver(ctx, it)
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		done = append(done, *s)
	}
	return done, errors.Join(errs...)
}

// MarkRead tells the server the conversation has been read up to
// sequence id seq.
func (e *Engine) MarkRead(ctx context.Context, id, seq string) error {
	srv, err := e.srv()
	if err != nil {
		return err
	}
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return err
	}
	if !decimal.Valid(seq) {
		return fmt.Errorf("%w: sequence id %q", ErrInvalidArgument, seq)
	}
	resp, err := srv.MarkRead(ctx, PathID(cid), &api.MarkChatConversationReadRequest{SeenUntilSequenceID: seq})
	if err != nil {
		return fmt.Errorf("session: marking read: %w", err)
	}
	if resp.Data == nil {
		return problems("mark read", resp.Errors)
	}
	return nil
}

// Typing sends a typing indicator to the conversation.
func (e *Engine) Typing(ctx context.Context, id string) error {
	srv, err := e.srv()
	if err != nil {
		return err
	}
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return err
	}
	resp, err := srv.SendTyping(ctx, PathID(cid))
	if err != nil {
		return fmt.Errorf("session: sending typing indicator: %w", err)
	}
	if resp.Data == nil {
		return problems("typing", resp.Errors)
	}
	return nil
}

// thriftEntities converts entities to the wire form (nil for none).
// Entities of unknown type are dropped, as the XDK drops unknown tokens.
func thriftEntities(in []Entity) []*product.RichTextEntity {
	var out []*product.RichTextEntity
	for _, en := range in {
		c := &product.RichTextContent{}
		switch en.Type {
		case inbound.EntityURL:
			c.URL = product.NewUrlRichTextContent()
		case inbound.EntityMention:
			c.Mention = product.NewMentionRichTextContent()
		case inbound.EntityHashtag:
			c.Hashtag = product.NewHashtagRichTextContent()
		case inbound.EntityCashtag:
			c.Cashtag = product.NewCashtagRichTextContent()
		case inbound.EntityEmail:
			c.Email = product.NewEmailRichTextContent()
		case inbound.EntityAddress:
			c.Address = product.NewAddressRichTextContent()
		case inbound.EntityPhoneNumber:
			c.PhoneNumber = product.NewPhoneNumberRichTextContent()
		default:
			continue
		}
		s, e := en.Start, en.End
		out = append(out, &product.RichTextEntity{StartIndex: &s, EndIndex: &e, Content: c})
	}
	return out
}

// replyPreview builds the ReplyingToPreview for a reply to the message with
// sequence id seq of cid, as the XDK's build_reply_preview does with
// reply_to_event: the preview quotes the original (or its latest edit), and
// embeds the original's raw signed event, the raw edit event if any, and the
// raw key change of the original's key version when it differs from the
// reply's.
func (e *Engine) replyPreview(ctx context.Context, cid, seq, outerVersion string) (*product.ReplyingToPreview, error) {
	orig, err := e.storedEvent(ctx, cid, seq)
	if err != nil {
		return nil, err
	}
	raw, err := wire.DecodeMessageEvent(orig.Raw)
	if err != nil || raw.Detail == nil || raw.Detail.MessageCreateEvent == nil {
		return nil, fmt.Errorf("%w: message %s is not a stored message", ErrInvalidArgument, seq)
	}
	mc, version, err := e.openStoredMessage(ctx, cid, raw)
	if err != nil {
		return nil, err
	}
	if mc.Message == nil {
		return nil, fmt.Errorf("%w: message %s is not a text message", ErrInvalidArgument, seq)
	}
	p := &product.ReplyingToPreview{
		MessageText:                 mc.Message.MessageText,
		Entities:                    mc.Message.Entities,
		Attachments:                 mc.Message.Attachments,
		ReplyingToMessageSequenceID: &seq,
		ReplyingToMessageID:         raw.MessageID,
		RawEventMessageCreate:       raw,
	}
	if s, err := strconv.ParseInt(raw.GetSenderID(), 10, 64); err == nil {
		p.SenderID = &s
	}
	// The latest edit, only if its author is the original's and it names
	// this message (the index holds nothing else; checked again here).
	if editRaw, err := e.store.Value(ctx, editIndexKey(cid, seq)); err == nil {
		if edit, err := wire.DecodeMessageEvent(editRaw); err == nil && edit.Detail != nil && edit.Detail.MessageCreateEvent != nil &&
			edit.GetSenderID() == raw.GetSenderID() {
			if ec, _, err := e.openStoredMessage(ctx, cid, edit); err == nil && ec.MessageEdit != nil && ec.MessageEdit.GetMessageSequenceID() == seq {
				p.RawEventEditMessage = edit
				p.MessageText = ec.MessageEdit.UpdatedText
				p.Entities = ec.MessageEdit.Entities
			}
		}
	}
	if version != outerVersion {
		if kc, err := e.store.Value(ctx, keyChangeIndexKey(cid, version)); err == nil {
			if ev, err := wire.DecodeMessageEvent(kc); err == nil {
				p.RawEventCkces = []*event.MessageEvent{ev}
			}
		}
	}
	return p, nil
}

// storedEvent returns the stored event with sequence id seq of cid.
func (e *Engine) storedEvent(ctx context.Context, cid, seq string) (*keystore.StoredEvent, error) {
	if !decimal.Valid(seq) {
		return nil, fmt.Errorf("%w: sequence id %q", ErrInvalidArgument, seq)
	}
	ev, err := eventAt(ctx, e.store, cid, seq)
	if err != nil {
		return nil, fmt.Errorf("session: reading history: %w", err)
	}
	if ev == nil || len(ev.Raw) == 0 {
		return nil, fmt.Errorf("%w: no stored event %s in %s (sync first)", ErrInvalidArgument, seq, cid)
	}
	ev.Body.Zero()
	return ev, nil
}

// openStoredMessage decrypts a stored raw message event with the key of its
// version and returns its contents.
func (e *Engine) openStoredMessage(ctx context.Context, cid string, me *event.MessageEvent) (*product.MessageEntryContents, string, error) {
	mce := me.Detail.MessageCreateEvent
	version := mce.GetConversationKeyVersion()
	k, err := e.store.ConversationKey(ctx, cid, version)
	if err != nil {
		return nil, "", fmt.Errorf("%w: key version %s of %s", ErrNoConversationKey, version, cid)
	}
	key := crypto.ConversationKey(k.Key)
	k.Key.Zero()
	defer key.Zero()
	plain, err := crypto.Open(&key, mce.Contents)
	if err != nil {
		return nil, "", fmt.Errorf("session: stored message: %w", err)
	}
	defer clear(plain)
	h, err := wire.DecodeMessageEntryHolder(plain)
	if err != nil || h.Contents == nil {
		return nil, "", fmt.Errorf("%w: stored message undecodable", ErrInvalidArgument)
	}
	return h.Contents, version, nil
}

func editIndexKey(cid, seq string) string { return "session/edit/" + cid + "/" + seq }

// ownKeyChangeKey records the sequence id of a key change this account
// posted.
func ownKeyChangeKey(cid, seq string) string { return "session/ownkc/" + cid + "/" + seq }

// removalKey marks sequence id seq of cid as removed by this account's own
// delete before it was ever stored.
func removalKey(cid, seq string) string { return "session/removed/" + cid + "/" + seq }

func keyChangeIndexKey(cid, version string) string { return "session/kce/" + cid + "/" + version }
