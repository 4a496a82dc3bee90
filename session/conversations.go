package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// Conversation kinds stored in keystore.Conversation.Type.
const (
	// kindOneToOne is a conversation between two users.
	kindOneToOne = "one_to_one"
	// kindGroup is a group conversation.
	kindGroup = "group"
)

// Conversation is a conversation as the engine knows it.
type Conversation struct {
	// ID is the canonical id ("A:B" or "g<digits>").
	ID string `json:"id"`
	// Kind is "one_to_one" or "group" (the id tells it too: see IsGroup).
	Kind string `json:"kind"`
	// Members are the participants' user ids (including this account). For
	// a group, the roster the engine follows from signed group changes
	// (empty while Roster is RosterUnknown); the keys this account
	// distributes are wrapped to these members only.
	Members []string `json:"members"`
	// Admins are the group admins whose authority signed changes confirm.
	Admins []string `json:"admins,omitempty"`
	// Roster says how far Members and Admins rest on signed group changes
	// (RosterConfirmed for a one-to-one conversation).
	Roster RosterState `json:"roster"`
	// RosterSince is, for a roster that starts after the group's creation
	// (this account joined later, or the group's create could not be bound
	// to it), the sequence id of the signed member add it starts from:
	// what came before is taken on trust.
	RosterSince string `json:"roster_since,omitempty"`
	// ClaimedAdmins are admins whose authority rests on unsigned data (a
	// group create's admin list) or on another claimed admin: their changes
	// are applied, and the members they add are unconfirmed.
	ClaimedAdmins []string `json:"claimed_admins,omitempty"`
	// UnconfirmedMembers are members whose place rests on trust on first
	// use (all of them for a roster with RosterSince set). Under
	// TrustStrict no key is wrapped to them.
	UnconfirmedMembers []string `json:"unconfirmed_members,omitempty"`
	// ServerMembers and ServerAdmins are the group's members and admins as
	// the server lists them: unsigned claims, shown, never obeyed.
	ServerMembers []string `json:"server_members,omitempty"`
	ServerAdmins  []string `json:"server_admins,omitempty"`
	// Title is the group title when known (plaintext).
	Title string `json:"title,omitempty"`
	// KeyVersion is the newest conversation key version usable for
	// encryption ("" if none).
	KeyVersion string `json:"key_version,omitempty"`
	// LastSequenceID is the newest event stored by Sync.
	LastSequenceID string    `json:"last_sequence_id,omitempty"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// convMeta is the engine's per-conversation bookkeeping, stored (sealed) in
// keystore.Conversation.Meta.
type convMeta struct {
	// ServerMembers and ServerAdmins are the server's (unsigned) listing
	// of a group, kept for display only.
	ServerMembers []string `json:"server_members,omitempty"`
	ServerAdmins  []string `json:"server_admins,omitempty"`
	// Title is the plaintext title; TitleCipher the encrypted form the
	// server holds and group signatures cover.
	Title       string `json:"title,omitempty"`
	TitleCipher string `json:"title_cipher,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
	TTLMsec     *int64 `json:"ttl_msec,omitempty"`
	// ScreenCaptureBlocking is the group's blocking flag when set.
	ScreenCaptureBlocking *bool `json:"screen_capture_blocking,omitempty"`
	// KeyRecipients maps each participant to the public key version the
	// newest conversation key was wrapped to (keys this account
	// distributed).
	KeyRecipients map[string]string `json:"key_recipients,omitempty"`
	// Listed marks a conversation recorded from the server's listing that
	// holds no verified event yet (see WithMaxListedConversations).
	Listed bool `json:"listed,omitempty"`
}

func loadMeta(c *keystore.Conversation) convMeta {
	var m convMeta
	if c != nil && len(c.Meta) > 0 {
		_ = json.Unmarshal(c.Meta, &m) // sealed by the store; a bad blob only loses bookkeeping
	}
	return m
}

func (m convMeta) encode() []byte {
	b, _ := json.Marshal(m) // plain struct: cannot fail
	return b
}

// Conversations returns the conversations stored for this account, ordered
// by id, without contacting the server (see RefreshConversations). A
// conversation is stored once the server answered a sync of it, or an
// event of it (a verified one, for a one-to-one conversation not stored
// yet) was stored: an id named by a push or a sync the server refuses is
// not.
func (e *Engine) Conversations(ctx context.Context) ([]Conversation, error) {
	list, err := e.store.Conversations(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: listing conversations: %w", err)
	}
	out := make([]Conversation, 0, len(list))
	for i := range list {
		c, err := e.describe(ctx, &list[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

// Conversation returns one stored conversation, or xchat.ErrUnknownConversation.
// id may be in any form accepted by CanonicalID.
func (e *Engine) Conversation(ctx context.Context, id string) (*Conversation, error) {
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return nil, err
	}
	c, err := e.store.Conversation(ctx, cid)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", xchat.ErrUnknownConversation, cid)
	}
	if err != nil {
		return nil, fmt.Errorf("session: reading conversation: %w", err)
	}
	return e.describe(ctx, c)
}

func (e *Engine) describe(ctx context.Context, c *keystore.Conversation) (*Conversation, error) {
	m := loadMeta(c)
	out := &Conversation{
		ID:             c.ID,
		Kind:           c.Type,
		Members:        slices.Clone(c.Members),
		Roster:         RosterConfirmed,
		Title:          m.Title,
		LastSequenceID: c.Sync.LastSequenceID,
		UpdatedAt:      c.UpdatedAt,
	}
	if IsGroup(c.ID) {
		r, err := loadRoster(ctx, e.store, c.ID)
		if err != nil {
			return nil, err
		}
		out.Members, out.Admins, out.ClaimedAdmins = r.effective(), slices.Clone(r.Admins), slices.Clone(r.Claimed)
		out.Roster, out.RosterSince, out.UnconfirmedMembers = r.state(), r.Since, r.unconfirmed(without(r.effective(), []string{e.userID}))
		out.ServerMembers, out.ServerAdmins = slices.Clone(m.ServerMembers), slices.Clone(m.ServerAdmins)
	}
	k, v, _, err := e.heldKey(ctx, c.ID)
	switch {
	case err == nil:
		out.KeyVersion = v
		k.Zero()
	case !errors.Is(err, xchat.ErrNoConversationKey):
		return nil, err
	}
	return out, nil
}

// RefreshConversations lists the account's conversations on the server and
// records any not yet stored (members and admins as the server reports
// them, for display). It returns the stored conversations afterwards. A
// listed one-to-one conversation of two other users is ignored; a listing
// that repeats a pagination token, or claims more for two pages in a row
// that name no conversation not listed before, fails with xchat.ErrServerResponse.
// A listed conversation is recorded only while fewer than
// WithMaxListedConversations recorded ones hold nothing verified; past it
// the listing is read to its end and RefreshConversations returns the
// stored conversations with an error wrapping ErrListingNotKept.
func (e *Engine) RefreshConversations(ctx context.Context) ([]Conversation, error) {
	srv, err := e.srv()
	if err != nil {
		return nil, err
	}
	room, err := e.listedRoom(ctx)
	if err != nil {
		return nil, err
	}
	notKept := 0
	token, tokens, listed, idle := "", map[string]bool{}, map[string]bool{}, 0
	for pages := 1; ; pages++ {
		resp, err := srv.GetConversations(ctx, e.cfg.pageSize, token)
		if err != nil {
			return nil, fmt.Errorf("session: listing conversations: %w", err)
		}
		// Every listed conversation is stored (and synced by real-time
		// reconciliation): a page over max_results is refused whole.
		if len(resp.Data) > e.cfg.pageSize {
			return nil, fmt.Errorf("session: listing conversations: %w: a page of %d conversations (max_results %d)", xchat.ErrServerResponse, len(resp.Data), e.cfg.pageSize)
		}
		fresh := false
		for _, c := range resp.Data {
			fresh = fresh || !listed[c.ID]
			listed[c.ID] = true
			if err := e.recordServerConversation(ctx, c, &room); errors.Is(err, errListedNotKept) {
				notKept++
			} else if err != nil {
				return nil, err
			}
		}
		if resp.Meta == nil || resp.Meta.NextToken == "" {
			break
		}
		if err := pagingFault(resp.Meta.NextToken, tokens, !fresh, &idle, pages); err != nil {
			return nil, fmt.Errorf("session: listing conversations: %w", err)
		}
		token = resp.Meta.NextToken
	}
	convs, err := e.Conversations(ctx)
	if err == nil && notKept > 0 {
		err = fmt.Errorf("session: listing conversations: %w: %d listed conversations not recorded (%d recorded hold nothing verified)", ErrListingNotKept, notKept, e.cfg.maxListed)
	}
	return convs, err
}

// recordServerConversation stores a listed conversation the engine did not
// know, and the server's (unsigned) member and admin lists of a group for
// display: they never decide whose message verifies or whom a key is
// wrapped to (the roster follows signed group changes during Sync). A new
// conversation is recorded listed, spending one of room, and not at all
// (errListedNotKept) when room is spent.
func (e *Engine) recordServerConversation(ctx context.Context, c api.ChatConversation, room *int) error {
	cid, err := CanonicalID(c.ID, e.userID)
	if err != nil {
		return nil // ignore ids we cannot interpret
	}
	if !IsGroup(cid) {
		if _, err := peerOf(cid, e.userID); err != nil {
			return nil // another pair's conversation: not this account's
		}
	}
	ctx, unlock, err := e.lockConv(ctx, cid)
	if err != nil {
		return err
	}
	defer unlock()
	if old, err := e.store.Conversation(ctx, cid); err == nil {
		if !IsGroup(cid) {
			return nil
		}
		m := loadMeta(old)
		m.ServerMembers, m.ServerAdmins = serverListIDs(c.MemberIDs, c.ParticipantIDs), serverListIDs(c.AdminIDs)
		old.Meta = m.encode()
		return e.store.PutConversation(ctx, old)
	} else if !errors.Is(err, keystore.ErrNotFound) {
		return fmt.Errorf("session: reading conversation: %w", err)
	}
	if *room <= 0 {
		return errListedNotKept
	}
	*room--
	rec := &keystore.Conversation{ID: cid, UpdatedAt: e.now()}
	m := convMeta{Listed: true}
	if IsGroup(cid) {
		rec.Type = kindGroup
		m.ServerMembers = serverListIDs(c.MemberIDs, c.ParticipantIDs)
		m.ServerAdmins = serverListIDs(c.AdminIDs)
	} else {
		rec.Type = kindOneToOne
		a, b, _ := cutPair(cid)
		rec.Members = []string{a, b}
	}
	rec.Meta = m.encode()
	if err := e.store.PutConversation(ctx, rec); err != nil {
		return fmt.Errorf("session: storing conversation: %w", err)
	}
	return nil
}

// EnsureConversationKey makes sure a conversation key exists for the
// one-to-one conversation with peerID and returns the conversation's
// canonical id. When no key is held it first syncs the conversation (the
// peer may have started it), and otherwise distributes a fresh key with a
// signed key change (ECIES-wrapped to both participants' pinned identity
// keys).
func (e *Engine) EnsureConversationKey(ctx context.Context, peerID string) (string, error) {
	defer e.deliverChanges()
	cid, err := oneToOneID(e.userID, peerID)
	if err != nil {
		return "", err
	}
	// The key and the conversation record, read in one transaction: a
	// send asks for both every time, and both are almost always there.
	ok, recorded := false, false
	err = e.store.View(ctx, func(tx keystore.Tx) error {
		k, _, _, err := e.heldKeyIn(ctx, tx, cid)
		switch {
		case errors.Is(err, xchat.ErrNoConversationKey):
			return nil
		case err != nil:
			return err
		}
		k.Zero()
		ok = true
		_, err = tx.Conversation(ctx, cid)
		recorded = err == nil
		return nil // a record not read is looked at again below
	})
	switch {
	case err != nil:
		return "", err
	case ok && recorded:
		return cid, nil
	case ok:
		return cid, e.ensureConversationRecord(ctx, cid)
	}
	// The peer may already have keyed the conversation.
	if _, err := e.Sync(ctx, cid, nil); err == nil {
		if ok, err := e.hasKey(ctx, cid); err != nil || ok {
			return cid, err
		}
	}
	ctx, unlock, err := e.lockConv(ctx, cid)
	if err != nil {
		return "", err
	}
	defer unlock()
	if ok, err := e.hasKey(ctx, cid); err != nil || ok {
		return cid, err
	}
	if _, err := e.distributeKey(ctx, cid, []string{e.userID, peerID}); err != nil {
		return "", err
	}
	return cid, nil
}

func (e *Engine) ensureConversationRecord(ctx context.Context, cid string) error {
	if _, err := e.store.Conversation(ctx, cid); err == nil {
		return nil
	} else if !errors.Is(err, keystore.ErrNotFound) {
		return fmt.Errorf("session: reading conversation: %w", err)
	}
	ctx, unlock, err := e.lockConv(ctx, cid)
	if err != nil {
		return err
	}
	defer unlock()
	return e.store.Update(ctx, func(tx keystore.Tx) error {
		_, err := e.conversationRecord(ctx, tx, cid)
		return err
	})
}

// peekConversation returns the stored record of cid, or, when none is
// stored, the record conversationRecord would make, without storing it.
// Sync and Deliver start from it: a conversation is recorded once the
// server answered a sync of it (syncState.finish) or something of it is
// stored (storeEventsTx), never because an id was named — a server (or a
// push) can name one-to-one conversations without end.
func (e *Engine) peekConversation(ctx context.Context, cid string) (*keystore.Conversation, error) {
	c, err := e.store.Conversation(ctx, cid)
	switch {
	case err == nil:
		return c, nil
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, fmt.Errorf("session: reading conversation: %w", err)
	case IsGroup(cid):
		return &keystore.Conversation{ID: cid, Type: kindGroup, UpdatedAt: e.now()}, nil
	}
	a, b, _ := cutPair(cid)
	return &keystore.Conversation{ID: cid, Type: kindOneToOne, Members: []string{a, b}, UpdatedAt: e.now()}, nil
}

// conversationUnheld reports whether cid is a one-to-one conversation not
// recorded yet (see peekConversation).
func conversationUnheld(ctx context.Context, tx keystore.Tx, cid string) (bool, error) {
	if IsGroup(cid) {
		return false, nil
	}
	_, err := tx.Conversation(ctx, cid)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("session: reading conversation: %w", err)
	}
	return false, nil
}

// recordConversation stores the record of one-to-one conversation cid
// when none is stored (see peekConversation).
func (e *Engine) recordConversation(ctx context.Context, cid string) error {
	if unheld, err := conversationUnheld(ctx, e.store, cid); err != nil || !unheld {
		return err
	}
	return e.store.Update(ctx, func(tx keystore.Tx) error {
		_, err := e.conversationRecord(ctx, tx, cid)
		return err
	})
}

// conversationRecord returns the stored record of cid, or makes one: a
// one-to-one conversation's is stored at once, a group's when the caller
// puts it.
func (e *Engine) conversationRecord(ctx context.Context, tx keystore.Tx, cid string) (*keystore.Conversation, error) {
	c, err := tx.Conversation(ctx, cid)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, keystore.ErrNotFound) {
		return nil, fmt.Errorf("session: reading conversation: %w", err)
	}
	if IsGroup(cid) {
		return &keystore.Conversation{ID: cid, Type: kindGroup, UpdatedAt: e.now()}, nil
	}
	a, b, _ := cutPair(cid)
	c = &keystore.Conversation{ID: cid, Type: kindOneToOne, Members: []string{a, b}, UpdatedAt: e.now()}
	if err := tx.PutConversation(ctx, c); err != nil {
		return nil, fmt.Errorf("session: storing conversation: %w", err)
	}
	return c, nil
}

// Rotate distributes a fresh conversation key to the current participants
// of conversation id and returns its version. Every later message is
// encrypted under it. A group's participants are its roster held from
// signed group changes (synced first); Rotate fails with xchat.ErrRosterUnknown
// when no signed change establishes it, and under TrustStrict with
// xchat.ErrRosterUnconfirmed when it has members it does not confirm.
func (e *Engine) Rotate(ctx context.Context, id string) (string, error) {
	defer e.deliverChanges()
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return "", err
	}
	var version string
	err = e.withSyncedRoster(ctx, cid, func() error {
		ctx, unlock, err := e.lockConv(ctx, cid)
		if err != nil {
			return err
		}
		defer unlock()
		if err := e.knownGroup(ctx, cid); err != nil {
			return err
		}
		members, err := e.wrapTargets(ctx, cid)
		if err != nil {
			return err
		}
		version, err = e.distributeKey(ctx, cid, members)
		return err
	})
	return version, err
}

// ensureKnown syncs a group conversation this account holds no key for
// (for example one it was added to by someone else).
func (e *Engine) ensureKnown(ctx context.Context, cid string) error {
	if !IsGroup(cid) {
		return nil
	}
	if ok, err := e.hasKey(ctx, cid); err != nil || ok {
		return err
	}
	if e.server == nil {
		return nil
	}
	_, err := e.Sync(ctx, cid, nil)
	return err
}

// failMissingParticipant starts the detail of the 400 a server answers when
// a key change leaves out a participant of its (newer) roster.
const failMissingParticipant = "No conversation key for participant"

// withSyncedRoster runs op, which wraps a new key to the roster of group
// cid as stored, after bringing that roster up to date: the group is synced
// first (rosters only follow signed, verified group changes; the server's
// own member list is never trusted for wrapping keys). If the server still
// names a participant the key change left out, or holds a newer key version
// (someone changed the group between the sync and the post), the group is
// synced once more and op retried once. A one-to-one conversation's roster
// is fixed by its id: it is not synced first, but a newer key version held
// by the server is caught up with and op retried once the same way.
func (e *Engine) withSyncedRoster(ctx context.Context, cid string, op func() error) error {
	if e.server == nil {
		return op()
	}
	if IsGroup(cid) {
		if _, err := e.Sync(ctx, cid, nil); err != nil {
			return fmt.Errorf("session: syncing the roster of %s: %w", cid, err)
		}
	}
	err := op()
	if !rejectedFor(err, failMissingParticipant, "") && !rejectedFor(err, failNonLatestKey, "") {
		return err
	}
	if _, serr := e.Sync(ctx, cid, nil); serr != nil {
		return errors.Join(err, fmt.Errorf("session: syncing the roster of %s: %w", cid, serr))
	}
	return op()
}

// knownGroup returns xchat.ErrUnknownConversation for a group the engine holds no
// record of (nil for a one-to-one conversation, whose id fixes it).
func (e *Engine) knownGroup(ctx context.Context, cid string) error {
	if !IsGroup(cid) {
		return nil
	}
	_, err := e.store.Conversation(ctx, cid)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return fmt.Errorf("%w: %s", xchat.ErrUnknownConversation, cid)
	case err != nil:
		return fmt.Errorf("session: reading conversation: %w", err)
	}
	return nil
}

// preparedKey is a freshly generated, wrapped and signed conversation key.
type preparedKey struct {
	convID       string
	version      string
	key          *crypto.ConversationKey
	participants []api.ConversationParticipantKey
	recipients   map[string]string
	action       api.ActionSignature
	messageID    string // of the key change action
}

func (p *preparedKey) zero() {
	if p != nil && p.key != nil {
		p.key.Zero()
	}
}

// prepareKey generates a conversation key for cid at a version above every
// version held, wraps it to each member's pinned identity key and signs the
// v7 key change. The caller holds the conversation lock.
func (e *Engine) prepareKey(ctx context.Context, cid string, members []string) (*preparedKey, error) {
	sg, err := e.signer()
	if err != nil {
		return nil, err
	}
	members = normaliseIDs(append(members, e.userID))
	recips := make([]recipient, 0, len(members))
	for _, m := range members {
		r, err := e.wrapTarget(ctx, m)
		if err != nil {
			return nil, err
		}
		recips = append(recips, r)
	}
	version, err := e.nextKeyVersion(ctx, cid)
	if err != nil {
		return nil, err
	}
	key, err := crypto.NewConversationKey(e.rand)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	p := &preparedKey{convID: cid, version: version, key: key, recipients: map[string]string{}}
	thriftParts := make([]*tevent.ConversationParticipantKey, 0, len(recips))
	for _, r := range recips {
		wrapped, err := crypto.WrapConversationKey(e.rand, r.identity, key)
		if err != nil {
			p.zero()
			return nil, fmt.Errorf("session: wrapping key for %s: %w", r.userID, err)
		}
		pk := api.ConversationParticipantKey{
			UserID:                   r.userID,
			EncryptedConversationKey: wire.EncodeB64(wrapped),
			PublicKeyVersion:         r.version,
		}
		p.participants = append(p.participants, pk)
		p.recipients[r.userID] = r.version
		thriftParts = append(thriftParts, &tevent.ConversationParticipantKey{
			UserID:                   &pk.UserID,
			EncryptedConversationKey: &pk.EncryptedConversationKey,
			PublicKeyVersion:         &pk.PublicKeyVersion,
		})
	}
	mid, err := newMessageID(e.rand)
	if err != nil {
		p.zero()
		return nil, err
	}
	p.messageID = mid
	p.action, err = sg.keyChangeAction(mid, cid, version, key, thriftParts)
	if err != nil {
		p.zero()
		return nil, err
	}
	return p, nil
}

// nextKeyVersion returns the version of a new conversation key of cid: a
// millisecond timestamp from the engine's clock, raised to one above the
// highest version held when that is higher. Versions held only as
// unverified keys do not count (they are not stored as conversation keys),
// and neither do versions more than maxVersionLead ahead of the clock, even
// verified ones: a member who signed version 18446744073709551615 would
// otherwise leave no version to rotate to. The version returned is never
// one already held.
func (e *Engine) nextKeyVersion(ctx context.Context, cid string) (string, error) {
	now := e.now()
	v := uint64(max(now.UnixMilli(), 1))
	// When the highest version held is plausible, no version lies above
	// it: the scan of every version below can be skipped.
	latest, err := e.store.LatestConversationKey(ctx, cid)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return strconv.FormatUint(v, 10), nil
	case err != nil:
		return "", fmt.Errorf("session: reading conversation keys: %w", err)
	}
	latest.Key.Zero()
	if n, perr := strconv.ParseUint(latest.Version, 10, 64); perr == nil && plausibleVersion(latest.Version, now) {
		return strconv.FormatUint(max(v, n+1), 10), nil
	}
	keys, err := e.store.ConversationKeys(ctx, cid)
	if err != nil {
		return "", fmt.Errorf("session: reading conversation keys: %w", err)
	}
	held := make(map[uint64]bool, len(keys))
	for i := range keys {
		keys[i].Key.Zero()
		n, perr := strconv.ParseUint(keys[i].Version, 10, 64)
		if perr != nil {
			continue // too long for uint64: implausible
		}
		held[n] = true
		if plausibleVersion(keys[i].Version, now) && n >= v {
			v = n + 1
		}
	}
	for held[v] {
		v++
	}
	return strconv.FormatUint(v, 10), nil
}

// distributeKey posts a key change for cid to members and, on success,
// stores the key as the conversation's newest. The caller holds the
// conversation lock.
func (e *Engine) distributeKey(ctx context.Context, cid string, members []string) (string, error) {
	srv, err := e.srv()
	if err != nil {
		return "", err
	}
	var p *preparedKey
	var resp *api.AddConversationKeysResponse
	for attempt := 0; ; attempt++ {
		if p, err = e.prepareKey(ctx, cid, members); err != nil {
			return "", err
		}
		defer p.zero()
		resp, err = e.postKeyChange(ctx, srv, cid, p)
		if err == nil {
			break
		}
		if attempt == 0 && rejectedFor(err, failKeyChanged, "") {
			// A participant published new keys: fetch them (the trust
			// policy decides whether they may be used) and try again.
			if _, rerr := e.refreshPeers(ctx, members...); rerr == nil {
				continue
			}
		}
		return "", fmt.Errorf("session: posting key change: %w", err)
	}
	if resp.Data == nil {
		if err := problems("add conversation keys", resp.Errors); err != nil {
			return "", err
		}
	}
	if err := e.commitKey(ctx, p, nil); err != nil {
		return "", err
	}
	if resp.Data != nil && decimal.ValidID(resp.Data.SequenceID) {
		// Remember where the key change sits in the transcript: the
		// server serves it only while a message uses its version, and its
		// absence must not read as a withheld event (see resolveGaps).
		// Best effort: the key is committed already.
		_ = e.store.SetValue(ctx, ownKeyChangeKey(cid, resp.Data.SequenceID), []byte(p.version))
	}
	return p.version, nil
}

// commitKey stores a distributed key and updates the conversation record;
// update, if not nil, edits the record (and what else it needs) in the
// same transaction.
func (e *Engine) commitKey(ctx context.Context, p *preparedKey, update func(keystore.Tx, *keystore.Conversation, *convMeta) error) error {
	return e.store.Update(ctx, func(tx keystore.Tx) error {
		if err := tx.PutConversationKey(ctx, keystore.ConversationKey{
			ConversationID: p.convID,
			Version:        p.version,
			Key:            keystore.SecretKey(*p.key),
			Verified:       true,
			CreatedBy:      e.userID,
			CreatedAt:      e.now(),
		}); err != nil {
			return fmt.Errorf("session: storing conversation key: %w", err)
		}
		c, err := e.conversationRecord(ctx, tx, p.convID)
		if err != nil {
			return err
		}
		if err := recordOwnKeyFloor(ctx, tx, c, p.convID, p.version); err != nil {
			return err
		}
		m := loadMeta(c)
		m.KeyRecipients = p.recipients
		if update != nil {
			if err := update(tx, c, &m); err != nil {
				return err
			}
		}
		c.Meta = m.encode()
		c.UpdatedAt = e.now()
		if err := tx.PutConversation(ctx, c); err != nil {
			return fmt.Errorf("session: storing conversation: %w", err)
		}
		return nil
	})
}

// DeleteMessages deletes messages by sequence id. forAll deletes them for
// every participant (own messages only, never a group change, key change
// or delete: xchat.ErrNotAuthorized); otherwise only from this account's view. Like a message, the signed MessageDeleteEvent goes through the
// outbox (see FlushOutbox): older pending sends of the conversation go
// first, and a delete that is not delivered stays queued (*xchat.QueuedError) for
// a retry with the same message id.
func (e *Engine) DeleteMessages(ctx context.Context, id string, sequenceIDs []string, forAll bool) error {
	sg, err := e.signer()
	if err != nil {
		return err
	}
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return err
	}
	if len(sequenceIDs) == 0 {
		return fmt.Errorf("%w: no sequence ids", xchat.ErrInvalidArgument)
	}
	for _, s := range sequenceIDs {
		if !decimal.Valid(s) {
			return fmt.Errorf("%w: sequence id %q", xchat.ErrInvalidArgument, s)
		}
		if !forAll {
			continue
		}
		old, err := eventAt(ctx, e.store, cid, s)
		if err != nil {
			return fmt.Errorf("session: reading history: %w", err)
		}
		if old != nil {
			old.Body.Zero()
			if old.SenderID != e.userID {
				return fmt.Errorf("%w: message %s is by %s; only its author may delete it for everyone", xchat.ErrNotAuthorized, s, old.SenderID)
			}
			if !deletableType(old.Type) {
				return fmt.Errorf("%w: %s is a %s; only messages may be deleted for everyone", xchat.ErrNotAuthorized, s, old.Type)
			}
		}
	}
	action, restAction := tevent.DeleteMessageAction_DELETE_FOR_SELF, api.DeleteForSelf
	if forAll {
		action, restAction = tevent.DeleteMessageAction_DELETE_FOR_ALL, api.DeleteForAll
	}
	mid, err := newMessageID(e.rand)
	if err != nil {
		return err
	}
	payload, err := crypto.MessageDeletePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: mid, SenderID: e.userID, ConversationID: cid}, int32(action), sequenceIDs)
	if err != nil {
		return fmt.Errorf("%w: %w", xchat.ErrInvalidArgument, err)
	}
	detail := &tevent.MessageEventDetail{MessageDeleteEvent: &tevent.MessageDeleteEvent{
		SequenceIds:         slices.Clone(sequenceIDs),
		DeleteMessageAction: &action,
	}}
	sig, err := sg.action(mid, detail, payload, true)
	if err != nil {
		return err
	}
	req := &api.DeleteChatMessagesRequest{
		SequenceIDs:         slices.Clone(sequenceIDs),
		DeleteMessageAction: restAction,
		ActionSignatures:    []api.ActionSignature{sig},
	}
	p, err := newPending(mid, cid, outboxDelete, req,
		&outboxContent{Type: event.TypeDelete, Target: strings.Join(sequenceIDs, ", #")}, e.now())
	if err != nil {
		return err
	}
	ctx, unlock, err := e.lockOutbox(ctx, cid)
	if err != nil {
		return err
	}
	defer unlock()
	_, res, err := e.submit(ctx, p)
	if res != nil {
		return res.with(err)
	}
	return err
}

// normaliseIDs returns the distinct ids in numeric order.
func normaliseIDs(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	out := slices.Clone(ids)
	sort.Slice(out, func(i, j int) bool { return decimal.Less(out[i], out[j]) })
	return slices.Compact(out)
}

// maxServerListIDs bounds a group's member or admin list as the server
// lists it (for display only): the bound on a group's size a key change
// may name (inbound.MaxKeyChangeParticipants; XChat groups hold at most
// 481 members).
const maxServerListIDs = inbound.MaxKeyChangeParticipants

// serverListIDs returns the valid user ids of a server's (unsigned,
// display-only) list, sorted and without repeats, at most
// maxServerListIDs of them.
func serverListIDs(ids ...[]string) []string {
	var out []string
	for _, list := range ids {
		for _, id := range list {
			if decimal.ValidID(id) {
				out = append(out, id)
			}
		}
	}
	out = normaliseIDs(out)
	return out[:min(len(out), maxServerListIDs)]
}

func cutPair(cid string) (string, string, bool) {
	for i := 0; i < len(cid); i++ {
		if cid[i] == ':' {
			return cid[:i], cid[i+1:], true
		}
	}
	return "", "", false
}
