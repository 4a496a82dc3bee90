package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// Outgoing is what Send sends: a message (Text, with Entities, ReplyTo,
// TTL and Silent), a message carrying a file (Media, with Text as its
// caption; like any message it may carry Entities on the caption, reply,
// disappear and be silent, which the official SDK reads as meant), an edit
// of one of this account's messages (Edit), or a reaction (React or
// Unreact, with Emoji). Fields that do not belong to what is sent make Send
// fail with xchat.ErrInvalidArgument: Media, Edit, React and Unreact
// exclude one another; an edit carries only Text and Entities, a reaction
// only Emoji. A media message is refused before any of its file is
// uploaded when its message fields cannot be sent.
type Outgoing struct {
	// Text is the message text (UTF-8), the caption of Media, or the new
	// text of an edit. A message may be empty only when it carries Media.
	Text string
	// Entities mark rich-text spans of Text (byte offsets). An edit
	// without them clears the original's.
	Entities []event.Entity
	// ReplyTo is the sequence id of the message replied to. The reply
	// embeds the original's raw signed event (and, when it was encrypted
	// under another key version, the key change needed to read it) so
	// recipients can validate the quoted preview, as the XDK does. It must
	// name a stored message that verified (xchat.ErrInvalidArgument
	// otherwise); the preview quotes its latest edit only while that edit
	// stands verified.
	ReplyTo string
	// TTL makes the message disappear after this long (0 = never).
	TTL time.Duration
	// Silent asks recipients' clients not to notify (should_notify false).
	Silent bool

	// Media is a file to send as an encrypted attachment of the message
	// (see Media).
	Media *Media
	// Edit is the sequence id of a message of this account whose text the
	// send replaces with Text and Entities. Only a message's author may
	// edit it: Edit must name a stored message of this account that
	// verified (xchat.ErrNotAuthorized otherwise: one that failed may be
	// a forgery under this account's name; sync first for a message not
	// yet stored).
	Edit string
	// React is the sequence id of a message to react to with Emoji.
	React string
	// Unreact is the sequence id of a message whose reaction Emoji (by
	// this account) the send removes.
	Unreact string
	// Emoji is the reaction of React or Unreact.
	Emoji string

	// attachments and keyVersion are set by sendMedia: the message must be
	// sealed under the key version the media was encrypted with.
	attachments []*product.MessageAttachment
	keyVersion  string
}

// check refuses an Outgoing whose fields do not fit what it sends.
func (m *Outgoing) check() error {
	n := 0
	for _, set := range []bool{m.Media != nil, m.Edit != "", m.React != "", m.Unreact != ""} {
		if set {
			n++
		}
	}
	message := m.ReplyTo != "" || m.TTL != 0 || m.Silent
	switch {
	case n > 1:
		return fmt.Errorf("%w: Media, Edit, React and Unreact exclude one another", xchat.ErrInvalidArgument)
	case m.Edit != "" && (message || m.Emoji != ""):
		return fmt.Errorf("%w: an edit carries only Text and Entities", xchat.ErrInvalidArgument)
	case (m.React != "" || m.Unreact != "") && (message || m.Text != "" || len(m.Entities) > 0):
		return fmt.Errorf("%w: a reaction carries only Emoji", xchat.ErrInvalidArgument)
	case m.Emoji != "" && m.React == "" && m.Unreact == "":
		return fmt.Errorf("%w: Emoji without React or Unreact", xchat.ErrInvalidArgument)
	}
	return nil
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
	Entry *event.Entry `json:"entry,omitempty"`
	// Duplicate reports a send identical to one already waiting in the
	// outbox (a resend by hand): that one was delivered, and no second
	// copy was made.
	Duplicate bool `json:"duplicate,omitempty"`
	// Flushed lists the older pending sends of the conversation delivered
	// first, in order.
	Flushed []Sent `json:"flushed,omitempty"`
	// Dropped lists older pending sends of the conversation the server
	// refused for good while they were retried; they are no longer queued.
	Dropped []xchat.Rejected `json:"dropped,omitempty"`
}

// SendText sends a text message to conversation id: Send with
// Outgoing{Text: text}.
func (e *Engine) SendText(ctx context.Context, id, text string) (*Sent, error) {
	return e.Send(ctx, id, Outgoing{Text: text})
}

// Send encrypts, signs and sends m to conversation id (any form accepted
// by CanonicalID; a bare user id names the one-to-one conversation with
// that user, which is keyed first if needed): a message, a file (see
// Media), an edit or a reaction (see Outgoing). Everything goes through
// the outbox (see FlushOutbox for its rules). The older pending sends of
// the conversation are delivered first, in order (Sent.Flushed); a message
// identical to a pending one delivers that one instead (Sent.Duplicate). A
// send that is not delivered but kept for a retry with the same message id
// returns a *xchat.QueuedError (xchat.ErrQueued); one the server refused
// for good a *xchat.RejectedError (xchat.ErrRejected). On success the
// outbox entry is removed in the same store transaction that records the
// server's copy. A send that needs a new conversation key first (the
// first message of a conversation, or one whose key must change: a member
// left, a peer's keys changed, the key was said to be exposed) distributes
// it before the message is sealed and queued: when that fails, nothing is
// queued and the error is returned as it is (neither of the two types):
// send m again.
func (e *Engine) Send(ctx context.Context, id string, m Outgoing) (*Sent, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	switch {
	case m.Media != nil:
		return e.sendMedia(ctx, id, m)
	case m.Edit != "":
		return e.edit(ctx, id, m.Edit, m.Text, m.Entities)
	case m.React != "":
		return e.reaction(ctx, id, m.React, m.Emoji, true)
	case m.Unreact != "":
		return e.reaction(ctx, id, m.Unreact, m.Emoji, false)
	}
	return e.sendMessage(ctx, id, m)
}

// sendMessage sends a message (with its attachments, when sendMedia made
// them).
func (e *Engine) sendMessage(ctx context.Context, id string, m Outgoing) (*Sent, error) {
	if m.Text == "" && len(m.attachments) == 0 {
		return nil, fmt.Errorf("%w: empty message", xchat.ErrInvalidArgument)
	}
	if err := m.checkMessage(); err != nil {
		return nil, err
	}
	c := &outboxContent{Type: event.TypeMessage, Text: m.Text, Entities: m.Entities, ReplyTo: m.ReplyTo, TTL: m.TTL, Silent: m.Silent}
	for _, a := range m.attachments {
		c.Media = "attachment"
		if a.Media != nil && a.Media.GetFilename() != "" {
			c.Media = a.Media.GetFilename()
		}
	}
	return e.sendContent(ctx, id, m.keyVersion, c, e.builder(ctx, c, m.attachments))
}

// checkMessage refuses the message fields of m that cannot be sent: text
// that is not UTF-8, entities outside it, a negative TTL.
func (m *Outgoing) checkMessage() error {
	if !utf8.ValidString(m.Text) {
		return fmt.Errorf("%w: text is not valid UTF-8", xchat.ErrInvalidArgument)
	}
	for _, en := range m.Entities {
		if en.Start < 0 || en.End < en.Start || int(en.End) > len(m.Text) {
			return fmt.Errorf("%w: entity [%d,%d) outside the text", xchat.ErrInvalidArgument, en.Start, en.End)
		}
	}
	if m.TTL < 0 {
		return fmt.Errorf("%w: negative TTL", xchat.ErrInvalidArgument)
	}
	return nil
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

// reaction adds (or removes) the reaction emoji to the message with
// sequence id target.
func (e *Engine) reaction(ctx context.Context, id, target, emoji string, add bool) (*Sent, error) {
	if !decimal.Valid(target) {
		return nil, fmt.Errorf("%w: target sequence id %q", xchat.ErrInvalidArgument, target)
	}
	if emoji == "" || !utf8.ValidString(emoji) {
		return nil, fmt.Errorf("%w: emoji", xchat.ErrInvalidArgument)
	}
	c := &outboxContent{Type: event.TypeReactionRemove, Target: target, Emoji: emoji}
	if add {
		c.Type = event.TypeReactionAdd
	}
	return e.sendContent(ctx, id, "", c, e.builder(ctx, c, nil))
}

// edit replaces the text of this account's message with sequence id
// target (see Outgoing.Edit).
func (e *Engine) edit(ctx context.Context, id, target, text string, entities []event.Entity) (*Sent, error) {
	if !decimal.Valid(target) {
		return nil, fmt.Errorf("%w: target sequence id %q", xchat.ErrInvalidArgument, target)
	}
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("%w: text is not valid UTF-8", xchat.ErrInvalidArgument)
	}
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return nil, err
	}
	orig, err := e.storedEvent(ctx, cid, target)
	if err != nil {
		return nil, err
	}
	if orig.SenderID != e.userID || orig.Type != event.TypeMessage {
		return nil, fmt.Errorf("%w: %s %s is by %s; only its author may edit it", xchat.ErrNotAuthorized, orig.Type, target, orig.SenderID)
	}
	if !orig.Verified {
		// It names this account but did not verify: someone else's
		// words (a forgery under its name), never to be signed over.
		return nil, fmt.Errorf("%w: message %s did not verify: it is not this account's to edit", xchat.ErrNotAuthorized, target)
	}
	c := &outboxContent{Type: event.TypeEdit, Target: target, Text: text, Entities: entities}
	return e.sendContent(ctx, id, "", c, e.builder(ctx, c, nil))
}

// contentBuilder builds the plaintext of a message under the chosen key.
type contentBuilder func(cid, keyVersion string, key *crypto.ConversationKey) (*product.MessageEntryHolder, error)

// builder returns the contentBuilder of c (with attachments for a media
// message).
func (e *Engine) builder(ctx context.Context, c *outboxContent, attachments []*product.MessageAttachment) contentBuilder {
	return func(cid, keyVersion string, _ *crypto.ConversationKey) (*product.MessageEntryHolder, error) {
		switch c.Type {
		case event.TypeReactionAdd, event.TypeReactionRemove:
			target, emoji := c.Target, c.Emoji
			mc := &product.MessageEntryContents{}
			if c.Type == event.TypeReactionAdd {
				mc.ReactionAdd = &product.MessageReactionAdd{MessageSequenceID: &target, Emoji: &emoji}
			} else {
				mc.ReactionRemove = &product.MessageReactionRemove{MessageSequenceID: &target, Emoji: &emoji}
			}
			return &product.MessageEntryHolder{Contents: mc}, nil
		case event.TypeEdit:
			target, text := c.Target, c.Text
			return &product.MessageEntryHolder{Contents: &product.MessageEntryContents{
				MessageEdit: &product.MessageEdit{MessageSequenceID: &target, UpdatedText: &text, Entities: thriftEntities(c.Entities)},
			}}, nil
		}
		m := Outgoing{Text: c.Text, Entities: c.Entities, attachments: attachments}
		h, mc := m.holder()
		if c.ReplyTo != "" {
			p, err := e.replyPreview(ctx, cid, c.ReplyTo, keyVersion)
			if err != nil {
				return nil, err
			}
			mc.ReplyingToPreview = p
		}
		return h, nil
	}
}

// sendContent resolves the conversation and its encryption key, builds,
// encrypts and signs the MessageCreateEvent of c, stores it in the outbox,
// delivers the conversation's older pending sends and then it (or leaves it
// queued behind an older send that stays pending). A send identical to a
// pending one delivers that one instead. pinned, when set, is the key
// version the message must be sealed under (media).
func (e *Engine) sendContent(ctx context.Context, id, pinned string, c *outboxContent, build contentBuilder) (*Sent, error) {
	defer e.deliverChanges()
	sg, err := e.signer()
	if err != nil {
		return nil, err
	}
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return nil, err
	}
	ctx, unlock, err := e.lockOutbox(ctx, cid)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// The conversation's pending items are read (and claimed) once: to
	// find one identical to c, then to deliver before the new item.
	// Under lockOutbox no other send of this engine changes them; the
	// claims (released on every way out) keep other replicas from
	// delivering them meanwhile.
	items, busy, err := e.claimPending(ctx, cid)
	if err != nil {
		return nil, err
	}
	defer func() { e.releasePending(ctx, items) }()
	prior := &flushResult{}
	if containsSame(items, c) {
		// A resend by hand of a pending send: deliver that one instead.
		claimed := items
		items = nil // flushClaimed releases them
		if prior, err = e.flushClaimed(ctx, cid, claimed, busy, c, nil); err != nil {
			return nil, err
		}
		if prior.dup {
			return prior.duplicate(cid, c)
		}
		// The pending copy was refused for good meanwhile: send anew,
		// reporting the refusal.
		if items, busy, err = e.claimPending(ctx, cid); err != nil {
			return nil, prior.with(err)
		}
	}
	if err := e.ensureConversation(ctx, cid); err != nil {
		return nil, prior.with(err)
	}
	p, err := e.prepare(ctx, sg, cid, pinned, c, build)
	if err != nil {
		return nil, prior.with(err)
	}
	claimed := items
	items = nil // submitClaimed releases them
	sent, res, err := e.submitClaimed(ctx, p, claimed, busy)
	if res != nil {
		res.rejected = append(prior.rejected, res.rejected...)
		res.sent = append(prior.sent, res.sent...)
		if sent != nil {
			sent.Flushed, sent.Dropped = res.sent, res.dropped()
		}
	}
	if sent == nil && res != nil {
		return nil, res.with(err)
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

// prepare seals one message under the conversation's key (the pinned
// version, or the current one after any due rotation) as a new outbox
// item, not yet stored.
func (e *Engine) prepare(ctx context.Context, sg *signer, cid, pinned string, c *outboxContent, build contentBuilder) (*pending, error) {
	ctx, unlock, err := e.lockConv(ctx, cid)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var key *crypto.ConversationKey
	var version string
	if key, version, err = e.freshKey(ctx, cid); err != nil {
		return nil, err
	}
	if pinned != "" && version != pinned {
		// The media was encrypted under pinned before it uploaded; the
		// key has been replaced since (a participant re-keyed, the key
		// was exposed, a newer one is current). Sealing its message under
		// the old key would show it to whoever holds what that key was
		// wrapped to.
		key.Zero()
		return nil, fmt.Errorf("%w: conversation %s: the file was encrypted under key version %s, now %s",
			xchat.ErrKeyReplaced, cid, pinned, version)
	}
	defer key.Zero()
	if err := e.noteAudience(ctx, cid, c); err != nil {
		return nil, err
	}
	holder, err := build(cid, version, key)
	if err != nil {
		return nil, err
	}
	req, own, err := e.sealMessage(sg, cid, version, key, holder, c.TTL, c.Silent)
	if err != nil {
		return nil, err
	}
	p, err := newPending(req.MessageID, cid, outboxMessage, req, c, e.now())
	if p == nil {
		own.Zero()
		return nil, err
	}
	p.version, p.own = version, own
	return p, err
}

// noteAudience records in c, on its first sealing to group cid, the
// group's roster: whom it is written for (see checkAudience).
func (e *Engine) noteAudience(ctx context.Context, cid string, c *outboxContent) error {
	if !IsGroup(cid) || c == nil || c.Audience != nil {
		return nil
	}
	r, err := loadRoster(ctx, e.store, cid)
	if err != nil {
		return err
	}
	c.Audience = r.effective()
	return nil
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
// exactly as the XDK's encrypt_and_sign does. own describes the message
// signed, for the check of the server's echo (see inbound.Own).
func (e *Engine) sealMessage(sg *signer, cid, version string, key *crypto.ConversationKey, holder *product.MessageEntryHolder, ttl time.Duration, silent bool) (req *api.SendChatMessageRequest, own *inbound.Own, err error) {
	plain, err := wire.EncodeMessageEntryHolder(holder)
	if err != nil {
		return nil, nil, fmt.Errorf("session: encoding message: %w", err)
	}
	contents, err := crypto.Seal(e.rand, key, plain)
	if err != nil {
		clear(plain)
		return nil, nil, fmt.Errorf("session: encrypting message: %w", err)
	}
	// Kept in own (until the delivery wipes it) for the server's echo:
	// its contents, when they are exactly these, are not opened again.
	defer func() {
		if own == nil {
			clear(plain)
			return
		}
		k := *key
		own.Plain, own.ConversationKey = plain, &k
	}()
	notify := !silent
	mce := &tevent.MessageCreateEvent{
		Contents:               contents,
		ConversationKeyVersion: &version,
		ShouldNotify:           &notify,
	}
	if ttl > 0 {
		t := ttl.Milliseconds()
		mce.TTLMsec = &t
	}
	enc, err := wire.MarshalB64(mce)
	if err != nil {
		return nil, nil, fmt.Errorf("session: encoding message: %w", err)
	}
	mid, err := newMessageID(e.rand)
	if err != nil {
		return nil, nil, err
	}
	sig, own, err := sg.messageSignature(mid, cid, version, contents)
	if err != nil {
		return nil, nil, err
	}
	return &api.SendChatMessageRequest{
		MessageID:                    mid,
		EncodedMessageCreateEvent:    enc,
		EncodedMessageEventSignature: sig,
	}, own, nil
}

// freshKey returns the key to encrypt new content of cid under (see
// encryptionKey), rotating first when the current key is stale: when a
// participant's pinned keys are newer than the keys it was wrapped to
// (under TrustStrict the rotation refuses unverified keys), when it is
// said to be wrapped to anyone outside the conversation (rule 5, see
// keyexposure.go: the server's word is taken as exposure), and in a group
// when it was made by a user the signed roster does not vouch for. The
// participants are the conversation's two users or the group's roster
// held from signed changes (see wrapTargets): a rotation that is needed
// but whose roster is unknown, or under TrustStrict unconfirmed, fails.
// The caller holds the conversation lock.
func (e *Engine) freshKey(ctx context.Context, cid string) (*crypto.ConversationKey, string, error) {
	if err := e.settleLatePending(ctx, cid); err != nil {
		return nil, "", err
	}
	if err := e.strictAudience(ctx, cid); err != nil {
		return nil, "", err
	}
	key, version, stale, err := e.ensureFreshKey(ctx, cid)
	if err != nil || !stale {
		return key, version, err
	}
	if err := e.rekeyForRoster(ctx, cid); err != nil {
		return nil, "", err
	}
	return e.encryptionKey(ctx, cid)
}

// strictAudience refuses, under TrustStrict, to encrypt content for cid
// while a member other than this account has keys the user has not
// verified, or changed since (wrapTarget's check: xchat.ErrUnverifiedPeer,
// xchat.ErrKeyChanged). Encrypting under a key someone else made discloses the
// content to whomever that key was wrapped to: a key change signed with
// a peer's pinned but unverified key may be the server's own (keys
// substituted before first contact), wrapped to the server. The members
// are the conversation's two users or the group's signed roster (a group
// whose roster is unknown fails later, with xchat.ErrRosterUnknown).
func (e *Engine) strictAudience(ctx context.Context, cid string) error {
	if !e.cfg.policy.strict() {
		return nil
	}
	var members []string
	if IsGroup(cid) {
		r, err := loadRoster(ctx, e.store, cid)
		if err != nil {
			return err
		}
		members = r.effective()
	} else {
		a, b, ok := cutPair(cid)
		if !ok {
			return fmt.Errorf("%w: conversation id %q", xchat.ErrInvalidArgument, cid)
		}
		members = []string{a, b}
	}
	for _, m := range members {
		if m == e.userID {
			continue
		}
		if _, err := e.wrapTarget(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// ensureFreshKey returns the encryption key of cid (see encryptionKey)
// when it is fresh, or reports it stale (see freshKey: exposed, older than
// a member's pinned keys, or made by a user the roster does not vouch
// for), returning no key, so that freshKey rotates first. What it reads
// (the conversation record, a group's roster, the key, the members' pins,
// the key's own key change and its maker's keys) is read in one
// transaction: a send made four before.
func (e *Engine) ensureFreshKey(ctx context.Context, cid string) (key *crypto.ConversationKey, version string, stale bool, err error) {
	unrecorded := false
	err = e.store.View(ctx, func(tx keystore.Tx) error {
		var verr error
		key, version, stale, unrecorded, verr = e.freshKeyIn(ctx, tx, cid)
		return verr
	})
	if err != nil {
		if key != nil {
			key.Zero()
		}
		return nil, "", false, err
	}
	if unrecorded {
		key, version, err = e.encryptionKey(ctx, cid)
		return key, version, false, err
	}
	return key, version, stale, nil
}

// freshKeyIn is ensureFreshKey reading tx; unrecorded reports a one-to-one
// conversation without a record (its key is read the ordinary way).
func (e *Engine) freshKeyIn(ctx context.Context, tx keystore.Tx, cid string) (key *crypto.ConversationKey, version string, stale, unrecorded bool, err error) {
	rec, err := tx.Conversation(ctx, cid)
	switch {
	case errors.Is(err, keystore.ErrNotFound) && IsGroup(cid):
		return nil, "", false, false, fmt.Errorf("%w: %s", xchat.ErrUnknownConversation, cid)
	case errors.Is(err, keystore.ErrNotFound):
		return nil, "", false, true, nil
	case err != nil:
		return nil, "", false, false, fmt.Errorf("session: reading conversation: %w", err)
	}
	var roster *rosterRec
	members := rec.Members
	if IsGroup(cid) {
		r, err := loadRoster(ctx, tx, cid)
		if err != nil {
			return nil, "", false, false, err
		}
		roster, members = &r, r.effective()
	}
	key, version, keyErr := e.encryptionKeyIn(ctx, tx, cid, roster)
	switch {
	case errors.Is(keyErr, errUnvouchedKey):
		// A group key must come from someone the signed roster vouches
		// for; otherwise make one for the roster.
		return nil, "", true, false, nil
	case keyErr != nil && !errors.Is(keyErr, xchat.ErrNoConversationKey):
		return nil, "", false, false, keyErr
	}
	stale, err = e.keyStaleIn(ctx, tx, cid, e.recipients.keyRecipients(cid, rec), members)
	if err == nil && !stale && key != nil {
		stale, err = e.makerSupersededIn(ctx, tx, cid, version)
	}
	if err != nil || stale {
		if key != nil {
			key.Zero()
		}
		return nil, "", stale, false, err
	}
	return key, version, false, false, keyErr
}

// keyStaleIn reports, reading tx, whether the current key of cid, wrapped
// to recipients (none recorded: not stale), is exposed to someone outside
// members or older than a member's pinned keys.
func (e *Engine) keyStaleIn(ctx context.Context, tx keystore.Tx, cid string, recipients map[string]string, members []string) (bool, error) {
	if len(recipients) == 0 || exposedKey(cid, recipients, members) {
		return len(recipients) > 0, nil
	}
	return e.peersRekeyedIn(ctx, tx, recipients, members)
}

// peersRekeyedIn reports whether a member other than this account is missing
// from recipients (whom the current key was wrapped to) or now has a newer
// pinned key than the one it was wrapped to.
func (e *Engine) peersRekeyedIn(ctx context.Context, tx keystore.Tx, recipients map[string]string, members []string) (bool, error) {
	for _, m := range members {
		if m == e.userID {
			continue
		}
		pinned, err := pinnedVersionIn(ctx, tx, m)
		if err != nil {
			return false, err
		}
		if pinned == "" {
			continue
		}
		if v, ok := recipients[m]; !ok || v != pinned {
			return true, nil
		}
	}
	return false, nil
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
		return fmt.Errorf("%w: sequence id %q", xchat.ErrInvalidArgument, seq)
	}
	resp, err := srv.MarkRead(ctx, api.ConversationPathID(cid), &api.MarkChatConversationReadRequest{SeenUntilSequenceID: seq})
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
	resp, err := srv.SendTyping(ctx, api.ConversationPathID(cid))
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
func thriftEntities(in []event.Entity) []*product.RichTextEntity {
	var out []*product.RichTextEntity
	for _, en := range in {
		c := &product.RichTextContent{}
		switch en.Type {
		case event.EntityURL:
			c.URL = product.NewUrlRichTextContent()
		case event.EntityMention:
			c.Mention = product.NewMentionRichTextContent()
		case event.EntityHashtag:
			c.Hashtag = product.NewHashtagRichTextContent()
		case event.EntityCashtag:
			c.Cashtag = product.NewCashtagRichTextContent()
		case event.EntityEmail:
			c.Email = product.NewEmailRichTextContent()
		case event.EntityAddress:
			c.Address = product.NewAddressRichTextContent()
		case event.EntityPhoneNumber:
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
	if !orig.Verified {
		return nil, fmt.Errorf("%w: message %s did not verify: a reply does not quote it", xchat.ErrInvalidArgument, seq)
	}
	raw, err := wire.DecodeMessageEvent(orig.Raw)
	if err != nil || raw.Detail == nil || raw.Detail.MessageCreateEvent == nil {
		return nil, fmt.Errorf("%w: message %s is not a stored message", xchat.ErrInvalidArgument, seq)
	}
	mc, version, err := e.openStoredMessage(ctx, cid, raw)
	if err != nil {
		return nil, err
	}
	if mc.Message == nil {
		return nil, fmt.Errorf("%w: message %s is not a text message", xchat.ErrInvalidArgument, seq)
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
	// The latest edit, only if its author is the original's, it names
	// this message (the index holds nothing else; checked again here) and
	// it is stored verified still (re-judging may have failed it since).
	if edit := e.verifiedEdit(ctx, cid, seq); edit != nil {
		if edit.Detail != nil && edit.Detail.MessageCreateEvent != nil && edit.GetSenderID() == raw.GetSenderID() {
			if ec, _, err := e.openStoredMessage(ctx, cid, edit); err == nil && ec.MessageEdit != nil && ec.MessageEdit.GetMessageSequenceID() == seq {
				p.RawEventEditMessage = edit
				p.MessageText = ec.MessageEdit.UpdatedText
				p.Entities = ec.MessageEdit.Entities
			}
		}
	}
	if version != outerVersion {
		if kc, _, err := storedKeyChange(ctx, e.store, cid, version); err == nil && kc != nil {
			p.RawEventCkces = []*tevent.MessageEvent{kc}
		}
	}
	return p, nil
}

// storedEvent returns the stored event with sequence id seq of cid.
func (e *Engine) storedEvent(ctx context.Context, cid, seq string) (*keystore.StoredEvent, error) {
	if !decimal.Valid(seq) {
		return nil, fmt.Errorf("%w: sequence id %q", xchat.ErrInvalidArgument, seq)
	}
	ev, err := eventAt(ctx, e.store, cid, seq)
	if err != nil {
		return nil, fmt.Errorf("session: reading history: %w", err)
	}
	if ev == nil || len(ev.Raw) == 0 {
		return nil, fmt.Errorf("%w: no stored event %s in %s (sync first)", xchat.ErrInvalidArgument, seq, cid)
	}
	ev.Body.Zero()
	return ev, nil
}

// openStoredMessage decrypts a stored raw message event with the key of its
// version and returns its contents.
func (e *Engine) openStoredMessage(ctx context.Context, cid string, me *tevent.MessageEvent) (*product.MessageEntryContents, string, error) {
	mce := me.Detail.MessageCreateEvent
	version := mce.GetConversationKeyVersion()
	k, err := e.store.ConversationKey(ctx, cid, version)
	if err != nil {
		return nil, "", fmt.Errorf("%w: key version %s of %s", xchat.ErrNoConversationKey, version, cid)
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
		return nil, "", fmt.Errorf("%w: stored message undecodable", xchat.ErrInvalidArgument)
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

// storedKeyChange returns the key change of cid's key version as stored
// (keyChangeIndexKey): found reports whether one is stored, me is nil when
// its bytes do not decode (each caller decides what an unreadable record
// means for it).
func storedKeyChange(ctx context.Context, v valueReader, cid, version string) (me *tevent.MessageEvent, found bool, err error) {
	raw, err := v.Value(ctx, keyChangeIndexKey(cid, version))
	switch {
	case errors.Is(err, keystore.ErrNotFound) || err == nil && len(raw) == 0:
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("session: reading the key change of %s version %s: %w", cid, version, err)
	}
	me, err = wire.DecodeMessageEvent(raw)
	if err != nil {
		return nil, true, nil
	}
	return me, true, nil
}
