package session

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/keystore"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// Group changes this account makes: a create and a member add. Each posts
// two action signatures, the key change wrapping a new conversation key to
// every member (prepareKey) and the group change itself (signGroupChange).

// GroupOptions describes a group to create.
type GroupOptions struct {
	// Members are the other members (this account is added automatically).
	Members []string
	// Admins default to this account.
	Admins []string
	// Title is an optional group title. It is encrypted under the group's
	// conversation key before it leaves the engine and must not contain a
	// comma.
	Title string
	// AvatarURL is an optional avatar URL (sent as is; must not contain a
	// comma).
	AvatarURL string
	// TTL is an optional default message lifetime.
	TTL time.Duration
}

// CreateGroup creates a group conversation: it obtains a group id from the
// server, generates the group's first conversation key, wraps it to every
// member's pinned identity key and posts the create with its two action
// signatures (the key change and the GroupCreate). It returns the group id.
func (e *Engine) CreateGroup(ctx context.Context, opts GroupOptions) (string, error) {
	defer e.deliverChanges()
	srv, err := e.srv()
	if err != nil {
		return "", err
	}
	sg, err := e.signer()
	if err != nil {
		return "", err
	}
	members, admins, err := e.groupRoster(opts)
	if err != nil {
		return "", err
	}
	if err := checkGroupSettings(opts); err != nil {
		return "", err
	}
	// Resolve every member's keys before minting an id on the server.
	if err := e.checkWrapTargets(ctx, members); err != nil {
		return "", err
	}
	gid, err := initializeGroup(ctx, srv)
	if err != nil {
		return "", err
	}
	ctx, unlock, err := e.lockConv(ctx, gid)
	if err != nil {
		return "", err
	}
	defer unlock()
	if err := e.unusedGroupID(ctx, gid); err != nil {
		return "", err
	}
	p, err := e.prepareKey(ctx, gid, members)
	if err != nil {
		return "", err
	}
	defer p.zero()
	create, err := e.groupCreate(opts, p, members, admins)
	if err != nil {
		return "", err
	}
	mid, sig, err := e.signGroupChange(sg, gid, &tevent.GroupChange{GroupCreate: create})
	if err != nil {
		return "", err
	}
	if err := postCreate(ctx, srv, gid, p, create, sig); err != nil {
		return "", err
	}
	return gid, e.commitCreate(ctx, p, gid, opts, create, mid)
}

// groupRoster returns the sorted members (this account included) and
// admins (this account by default) of a group to create.
func (e *Engine) groupRoster(opts GroupOptions) (members, admins []string, err error) {
	for _, m := range opts.Members {
		if err := checkUserID(m); err != nil {
			return nil, nil, err
		}
	}
	members = normaliseIDs(append(slices.Clone(opts.Members), e.userID))
	if len(members) < 2 {
		return nil, nil, fmt.Errorf("%w: a group needs at least one other member", xchat.ErrInvalidArgument)
	}
	admins = normaliseIDs(opts.Admins)
	if len(admins) == 0 {
		admins = []string{e.userID}
	}
	for _, a := range admins {
		if !slices.Contains(members, a) {
			return nil, nil, fmt.Errorf("%w: admin %s is not a member", xchat.ErrInvalidArgument, a)
		}
	}
	return members, admins, nil
}

// checkWrapTargets fetches the members' keys and checks that a key may be
// wrapped to each (pinned, and verified under TrustStrict).
func (e *Engine) checkWrapTargets(ctx context.Context, members []string) error {
	if _, err := e.refreshPeers(ctx, members...); err != nil {
		return err
	}
	for _, m := range members {
		if _, err := e.wrapTarget(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// initializeGroup mints a group id on the server.
func initializeGroup(ctx context.Context, srv Server) (string, error) {
	ini, err := srv.InitializeGroup(ctx)
	if err != nil {
		return "", fmt.Errorf("session: initializing group: %w", err)
	}
	if ini.Data == nil || !IsGroup(ini.Data.ConversationID) {
		return "", fmt.Errorf("%w: initialize returned no valid group id", xchat.ErrServerResponse)
	}
	return ini.Data.ConversationID, nil
}

// unusedGroupID fails with xchat.ErrServerResponse when the engine already holds
// anything of the group id the server minted (a record, a key, a roster):
// a server that re-mints a known group's id would have the create replace
// that group's roster with the new group's members, and the next message to
// the old group wrapped to them. The caller holds the conversation lock.
func (e *Engine) unusedGroupID(ctx context.Context, gid string) error {
	_, err := e.store.Conversation(ctx, gid)
	switch {
	case err == nil:
		return fmt.Errorf("%w: initialize returned %s, a group this account already holds", xchat.ErrServerResponse, gid)
	case !errors.Is(err, keystore.ErrNotFound):
		return fmt.Errorf("session: reading conversation: %w", err)
	}
	k, err := e.store.LatestConversationKey(ctx, gid)
	switch {
	case err == nil:
		k.Key.Zero()
		return fmt.Errorf("%w: initialize returned %s, a group this account holds keys of", xchat.ErrServerResponse, gid)
	case !errors.Is(err, keystore.ErrNotFound):
		return fmt.Errorf("session: reading conversation keys: %w", err)
	}
	return nil
}

// groupCreate is the GroupCreate of a new group under p's key: the title
// sealed under that key, the optional values nil when unset.
func (e *Engine) groupCreate(opts GroupOptions, p *preparedKey, members, admins []string) (*tevent.GroupCreate, error) {
	title, err := e.sealTitle(p.key, opts.Title)
	if err != nil {
		return nil, err
	}
	c := &tevent.GroupCreate{MemberIds: members, AdminIds: admins, Title: title, ConversationKeyVersion: &p.version}
	if opts.AvatarURL != "" {
		c.AvatarURL = &opts.AvatarURL
	}
	if opts.TTL > 0 {
		ttl := opts.TTL.Milliseconds()
		c.TTLMsec = &ttl
	}
	return c, nil
}

// checkGroupSettings refuses a title that sealed, or an avatar URL, would
// pass maxGroupSettingBytes: every member's engine would refuse the group
// create as malformed.
func checkGroupSettings(opts GroupOptions) error {
	sealed := 0
	if opts.Title != "" {
		sealed = base64.StdEncoding.EncodedLen(len(opts.Title) + crypto.SecretboxOverhead)
	}
	if n := max(sealed, len(opts.AvatarURL)); n > maxGroupSettingBytes {
		return fmt.Errorf("%w: a group title (sealed) or avatar URL of %d bytes (at most %d)", xchat.ErrInvalidArgument, n, maxGroupSettingBytes)
	}
	return nil
}

// sealTitle encrypts a group title under the group's key, the SDK's
// encrypt(text, key) form its documentation prescribes for group_name
// (nil for no title).
func (e *Engine) sealTitle(key *crypto.ConversationKey, title string) (*string, error) {
	if title == "" {
		return nil, nil
	}
	ct, err := crypto.Seal(e.rand, key, []byte(title))
	if err != nil {
		return nil, fmt.Errorf("session: encrypting title: %w", err)
	}
	s := wire.EncodeB64(ct)
	return &s, nil
}

// signGroupChange signs a group change as the second action signature of a
// create or member add: a fresh message id, the signed string built from
// the very values of the event detail (groupChangePayload), the detail not
// for a key rotation.
func (e *Engine) signGroupChange(sg *signer, cid string, change *tevent.GroupChange) (string, api.ActionSignature, error) {
	mid, err := newMessageID(e.rand)
	if err != nil {
		return "", api.ActionSignature{}, err
	}
	payload, err := groupChangePayload(crypto.Header{MessageID: mid, SenderID: e.userID, ConversationID: cid}, change)
	if err != nil {
		return "", api.ActionSignature{}, fmt.Errorf("%w: %w", xchat.ErrInvalidArgument, err)
	}
	f := false
	detail := &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: change, ForKeyRotation: &f}}
	sig, err := sg.action(mid, detail, payload, true)
	return mid, sig, err
}

// groupChangePayload is the signed string of a group create or member add
// (the changes this account makes), at the current signature version. A
// create never signs the conversation id, its admin ids or its TTL;
// is_legacy_group_upgrade is absent and signs as "null".
func groupChangePayload(h crypto.Header, change *tevent.GroupChange) (crypto.Payload, error) {
	switch {
	case change.GroupCreate != nil:
		c := change.GroupCreate
		return crypto.GroupCreatePayload(crypto.SignatureVersion, h, crypto.GroupCreate{
			ConversationKeyVersion: c.GetConversationKeyVersion(), MemberIDs: c.MemberIds,
			IsLegacyGroupUpgrade: c.IsLegacyGroupUpgrade, Title: c.Title, AvatarURL: c.AvatarURL})
	case change.GroupMemberAdd != nil:
		a := change.GroupMemberAdd
		return crypto.GroupMemberAddPayload(crypto.SignatureVersion, h, crypto.GroupMemberAdd{
			NewMemberIDs: a.MemberIds, CurrentMemberIDs: a.CurrentMemberIds, CurrentAdminIDs: a.CurrentAdminIds,
			CurrentPendingMemberIDs: a.CurrentPendingMemberIds, CurrentTitle: a.CurrentTitle,
			CurrentAvatarURL: a.CurrentAvatarURL, CurrentTTLMsec: a.CurrentTTLMsec,
			ConversationKeyVersion: a.GetConversationKeyVersion(), ScreenCaptureBlockingEnabled: a.ScreenCaptureBlockingEnabled})
	}
	return crypto.Payload{}, errors.New("session: not a group change this account makes")
}

// postCreate posts the group create with its two action signatures.
func postCreate(ctx context.Context, srv Server, gid string, p *preparedKey, c *tevent.GroupCreate, sig api.ActionSignature) error {
	req := &api.CreateChatConversationRequest{
		ConversationID:              gid,
		ConversationKeyVersion:      p.version,
		ConversationParticipantKeys: p.participants,
		GroupMembers:                c.MemberIds,
		GroupAdmins:                 c.AdminIds,
		GroupName:                   c.GetTitle(),
		GroupAvatarURL:              c.GetAvatarURL(),
		ActionSignatures:            []api.ActionSignature{p.action, sig},
	}
	if c.TTLMsec != nil {
		req.TTLMsec = strconv.FormatInt(*c.TTLMsec, 10)
	}
	resp, err := srv.CreateGroup(ctx, req)
	if err != nil {
		return fmt.Errorf("session: creating group: %w", err)
	}
	if resp.Data == nil {
		return problems("create group", resp.Errors)
	}
	return nil
}

// commitCreate stores the new group's key, its details and the roster
// this account chose (confirmed: it picked every member and admin), and
// indexes the create's message id so the create read back is recognised.
func (e *Engine) commitCreate(ctx context.Context, p *preparedKey, gid string, opts GroupOptions, c *tevent.GroupCreate, mid string) error {
	return e.commitKey(ctx, p, func(tx keystore.Tx, rec *keystore.Conversation, m *convMeta) error {
		rec.Type = kindGroup
		rec.Members = c.MemberIds
		if c.Title != nil {
			m.Title, m.TitleCipher = opts.Title, *c.Title
		}
		m.AvatarURL = opts.AvatarURL
		m.TTLMsec = c.TTLMsec
		r := rosterRec{Base: baseCreate, Members: c.MemberIds, Admins: c.AdminIds, Creator: e.userID, CreateMID: mid}
		if err := r.save(ctx, tx, gid); err != nil {
			return err
		}
		return tx.SetValue(ctx, createIndexKey(mid), []byte(gid))
	})
}

// AddMembers adds users to group id and rotates the group key: the new key
// is wrapped to every member (old and new) and the request carries the two
// action signatures (the key change and the GroupMemberAddChange over the
// current roster, held from signed group changes). Only admins add members
// (xchat.ErrNotAuthorized otherwise); the roster must be known (xchat.ErrRosterUnknown)
// and, under TrustStrict, confirmed (xchat.ErrRosterUnconfirmed).
func (e *Engine) AddMembers(ctx context.Context, id string, userIDs ...string) error {
	defer e.deliverChanges()
	srv, err := e.srv()
	if err != nil {
		return err
	}
	sg, err := e.signer()
	if err != nil {
		return err
	}
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return err
	}
	if !IsGroup(cid) {
		return fmt.Errorf("%w: %s is not a group", xchat.ErrInvalidArgument, cid)
	}
	for _, u := range userIDs {
		if err := checkUserID(u); err != nil {
			return err
		}
	}
	return e.withSyncedRoster(ctx, cid, func() error {
		return e.addMembers(ctx, srv, sg, cid, userIDs)
	})
}

// addMembers posts the member addition of AddMembers against the stored
// roster of group cid.
func (e *Engine) addMembers(ctx context.Context, srv Server, sg *signer, cid string, userIDs []string) error {
	ctx, unlock, err := e.lockConv(ctx, cid)
	if err != nil {
		return err
	}
	defer unlock()
	// The roster, title and settings the add signs are read after any
	// walk late changes wait for (AddMembers syncs first, which runs it;
	// this keeps addMembers right on its own).
	if err := e.settleLatePending(ctx, cid); err != nil {
		return err
	}
	rec, err := e.store.Conversation(ctx, cid)
	if errors.Is(err, keystore.ErrNotFound) {
		return fmt.Errorf("%w: %s", xchat.ErrUnknownConversation, cid)
	}
	if err != nil {
		return fmt.Errorf("session: reading conversation: %w", err)
	}
	current, added, admins, err := e.addLists(ctx, cid, userIDs)
	if err != nil {
		return err
	}
	all := normaliseIDs(append(slices.Clone(current), added...))
	if _, err := e.refreshPeers(ctx, all...); err != nil {
		return err
	}
	p, err := e.prepareKey(ctx, cid, all)
	if err != nil {
		return err
	}
	defer p.zero()
	meta := loadMeta(rec)
	add := memberAdd(&meta, p, current, added, admins)
	mid, sig, err := e.signGroupChange(sg, cid, &tevent.GroupChange{GroupMemberAdd: add})
	if err != nil {
		return err
	}
	title, err := e.sealTitle(p.key, meta.Title) // the title again, under the new key
	if err != nil {
		return err
	}
	if err := e.checkLeases(ctx); err != nil {
		return err
	}
	if err := postMemberAdd(ctx, srv, cid, p, add, sig, title); err != nil {
		return err
	}
	return e.commitMemberAdd(ctx, p, cid, mid, added, title)
}

// addLists returns the lists a member add of userIDs to group cid signs:
// the current members and admins are the roster held from signed changes
// (never the server's listing), the new ones those of userIDs not in it.
func (e *Engine) addLists(ctx context.Context, cid string, userIDs []string) (current, added, admins []string, err error) {
	if current, err = e.wrapTargets(ctx, cid); err != nil {
		return nil, nil, nil, err
	}
	roster, err := loadRoster(ctx, e.store, cid)
	if err != nil {
		return nil, nil, nil, err
	}
	if !roster.admin(e.userID) {
		return nil, nil, nil, fmt.Errorf("%w: only group admins may add members, and this account is not one in the roster held", xchat.ErrNotAuthorized)
	}
	for _, u := range normaliseIDs(userIDs) {
		if !slices.Contains(current, u) {
			added = append(added, u)
		}
	}
	if len(added) == 0 {
		return nil, nil, nil, fmt.Errorf("%w: every user is already a member", xchat.ErrInvalidArgument)
	}
	admins = normaliseIDs(slices.Concat(roster.Admins, roster.Claimed))
	if admins == nil {
		admins = []string{}
	}
	return current, added, admins, nil
}

// memberAdd is the GroupMemberAddChange of added under p's key, with the
// group's current state as held: its roster lists, its title as the
// ciphertext held, avatar, TTL and screen-capture setting.
func memberAdd(meta *convMeta, p *preparedKey, current, added, admins []string) *tevent.GroupMemberAddChange {
	a := &tevent.GroupMemberAddChange{
		MemberIds:                    added,
		CurrentMemberIds:             current,
		CurrentAdminIds:              admins,
		ConversationKeyVersion:       &p.version,
		CurrentTTLMsec:               meta.TTLMsec,
		CurrentPendingMemberIds:      []string{},
		ScreenCaptureBlockingEnabled: meta.ScreenCaptureBlocking,
	}
	if meta.TitleCipher != "" {
		s := meta.TitleCipher
		a.CurrentTitle = &s
	}
	if meta.AvatarURL != "" {
		s := meta.AvatarURL
		a.CurrentAvatarURL = &s
	}
	return a
}

// postMemberAdd posts the member add with its two action signatures and
// the title sealed under the new key (nil: no title).
func postMemberAdd(ctx context.Context, srv Server, cid string, p *preparedKey, a *tevent.GroupMemberAddChange, sig api.ActionSignature, title *string) error {
	req := &api.AddChatGroupMembersRequest{
		UserIDs:                     a.MemberIds,
		ConversationKeyVersion:      p.version,
		ConversationParticipantKeys: p.participants,
		ActionSignatures:            []api.ActionSignature{p.action, sig},
	}
	if title != nil {
		req.EncryptedTitle = *title
	}
	resp, err := srv.AddGroupMembers(ctx, api.ConversationPathID(cid), req)
	if err != nil {
		return fmt.Errorf("session: adding members: %w", err)
	}
	if resp.Data == nil {
		return problems("add members", resp.Errors)
	}
	return nil
}

// commitMemberAdd stores the new key and the title sealed under it, and
// applies the add on top of the roster until the server serves it back
// (see rosterRec.Pending).
func (e *Engine) commitMemberAdd(ctx context.Context, p *preparedKey, cid, mid string, added []string, title *string) error {
	return e.commitKey(ctx, p, func(tx keystore.Tx, c *keystore.Conversation, m *convMeta) error {
		if title != nil {
			m.TitleCipher = *title
		}
		r, err := loadRoster(ctx, tx, cid)
		if err != nil {
			return err
		}
		r.Pending = append(r.Pending, pendingAdd{MID: mid, Added: added})
		c.Members = r.effective()
		return r.save(ctx, tx, cid)
	})
}
