package emulator

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/trees"
	"github.com/xchat-go/xchat/wire"
)

type apiRotation struct{ op *trees.GroupOpData }

// parseRotation decodes base64_encoded_key_rotation (a Thrift
// trees.GroupOpData), stored as the key change's ratchet_tree_change.
func parseRotation(s string) (*apiRotation, *apiError) {
	if s == "" {
		return nil, nil
	}
	raw, err := wire.DecodeB64(s)
	if err != nil {
		return nil, errInvalid("base64_encoded_key_rotation", "base64_encoded_key_rotation must be base64.")
	}
	op, err := wire.DecodeGroupOpData(raw)
	if err != nil {
		return nil, errInvalid("base64_encoded_key_rotation", "base64_encoded_key_rotation is not a Thrift GroupOpData.")
	}
	return &apiRotation{op: op}, nil
}

// keyChange is the checked key distribution of a request that sets a new
// conversation key (group create, key change, member add): the
// participants' wrapped keys, the optional key rotation, the signed
// actions and the key change among them.
type keyChange struct {
	version  string
	keys     []*event.ConversationParticipantKey
	rotation *apiRotation
	actions  []*action
	signed   *action // the key change action
}

// checkKeyChange checks, in this order, the participant keys against
// roster, the key rotation ("" for none), user's action signatures and the
// key change action for version among them.
func (s *Server) checkKeyChange(user, version string, roster []string, keys []api.ConversationParticipantKey,
	rotation string, sigs []api.ActionSignature) (*keyChange, *apiError) {
	k := &keyChange{version: version}
	var perr *apiError
	if k.keys, perr = s.checkParticipantKeys(keys, roster); perr != nil {
		return nil, perr
	}
	if k.rotation, perr = parseRotation(rotation); perr != nil {
		return nil, perr
	}
	if k.actions, perr = s.parseActions(user, sigs); perr != nil {
		return nil, perr
	}
	if k.signed, perr = keyChangeAction(k.actions, version, k.keys); perr != nil {
		return nil, perr
	}
	return k, nil
}

// emit emits the key change event, as user signed it, with the request's
// keys and rotation, and makes its version the conversation's current key.
func (k *keyChange) emit(tx *chatTx, user string) (*eventRec, error) {
	e, err := tx.emit(kindKeyChange, user, k.signed.messageID, k.version, "",
		keyChangeDetail(k.version, k.keys, k.rotation, k.signed.detail.ConversationKeyChangeEvent), k.signed.signer.sig)
	if err != nil {
		return nil, err
	}
	tx.conv.KeyVersion, tx.conv.KeySeq = k.version, e.Seq
	return e, nil
}

// initializeChatGroup mints a fresh "g<digits>" id reserved for the caller.
// The group exists (for its creator only) once created with
// POST /2/chat/conversations/group. The request body, if any, is ignored
// as long as it is empty or a JSON object.
func (s *Server) initializeChatGroup(c *call) *apiError {
	if len(bytes.TrimSpace(c.body)) > 0 {
		var ignored map[string]any
		if perr := decodeJSON(c.body, &ignored, false); perr != nil {
			return perr
		}
	}
	now := s.cfg.clock().UTC()
	conv := &convRec{Key: "g" + s.newID(), Group: true, Pending: true, CreatorID: c.user.ID, CreatedAt: now, UpdatedAt: now}
	var b batch
	b.conv(conv)
	if err := s.commit(&b); err != nil {
		return errInternal()
	}
	s.st.convs[conv.Key] = conv
	writeJSON(c.w, http.StatusOK, api.InitializeChatGroupResponse{Data: &api.InitializeChatGroupData{ConversationID: conv.Key}})
	return nil
}

// createChatConversation creates an initialized group. It requires the two
// action signatures the XDK produces: the ConversationKeyChangeEvent (shape
// checked, see keyChangeAction) and the GroupChangeEvent.GroupCreate,
// verified against the creator's registered signing key. The signed member
// list must equal group_members. The creator is always a member; admins
// default to the creator. Events: the GroupCreate (as signed), then the
// key change (built from the request).
func (s *Server) createChatConversation(c *call) *apiError {
	var req api.CreateChatConversationRequest
	if perr := decodeJSON(c.body, &req, false); perr != nil {
		return perr
	}
	if req.ConversationID == "" {
		return errInvalid("conversation_id", "conversation_id is required (from POST /2/chat/conversations/group/initialize).")
	}
	if !reConvPath.MatchString(req.ConversationID) || req.ConversationID[0] != 'g' {
		return errInvalid("conversation_id", "conversation_id must be a group id \"g<digits>\".")
	}
	conv := s.st.convs[req.ConversationID]
	if conv == nil || !conv.Group {
		return errNotFound("conversation", req.ConversationID)
	}
	if conv.CreatorID != c.user.ID {
		if conv.Pending || !conv.isMember(c.user.ID) {
			return errNotFound("conversation", req.ConversationID)
		}
		return errForbidden("conversation", req.ConversationID, "Only the creator may create this group.")
	}
	// Idempotent retry of a completed create.
	if !conv.Pending {
		for _, a := range req.ActionSignatures {
			if e := s.existingAction(conv.Key, c.user.ID, a.MessageID); e != nil && e.Kind == kindKeyChange {
				writeJSON(c.w, http.StatusCreated, api.CreateChatConversationResponse{Data: &api.CreateChatConversationData{
					ConversationID: conv.Key, ConversationKeyChangeSequenceID: fmtID(e.Seq)}})
				return nil
			}
		}
		return errInvalid("conversation_id", "The group %s has already been created.", conv.Key)
	}
	if len(req.GroupMembers) == 0 {
		return errInvalid("group_members", "group_members is required.")
	}
	if len(req.GroupMembers) > maxGroupMembers {
		return errInvalid("group_members", "A group has at most %d members.", maxGroupMembers)
	}
	if perr := s.uniqueIDs("group_members", req.GroupMembers); perr != nil {
		return perr
	}
	members := slices.Clone(req.GroupMembers)
	if !slices.Contains(members, c.user.ID) {
		members = append(members, c.user.ID)
	}
	if len(members) < 2 {
		return errInvalid("group_members", "A group needs at least one member besides the creator.")
	}
	admins := req.GroupAdmins
	if len(admins) == 0 {
		admins = []string{c.user.ID}
	}
	if perr := s.uniqueIDs("group_admins", admins); perr != nil {
		return perr
	}
	for _, a := range admins {
		if !slices.Contains(members, a) {
			return errInvalid("group_admins", "Admin %s is not a group member.", a)
		}
	}
	var ttl int64
	if req.TTLMsec != "" {
		v, err := strconv.ParseInt(req.TTLMsec, 10, 64)
		if err != nil || v < 0 {
			return errInvalid("ttl_msec", "ttl_msec must be a non-negative decimal string.")
		}
		ttl = v
	}
	if perr := checkKeyVersion(nil, req.ConversationKeyVersion); perr != nil {
		return perr
	}
	kc, perr := s.checkKeyChange(c.user.ID, req.ConversationKeyVersion, members, req.ConversationParticipantKeys,
		req.Base64EncodedKeyRotation, req.ActionSignatures)
	if perr != nil {
		return perr
	}
	gcAction, perr := groupChangeAction(kc.actions, kc.signed, "GroupCreate", func(g *event.GroupChange) bool { return g.GroupCreate != nil })
	if perr != nil {
		return perr
	}
	gc := gcAction.detail.GroupChangeEvent.GroupChange.GroupCreate
	if !sameSet(gc.MemberIds, req.GroupMembers) {
		return errInvalid("action_signatures", "The signed GroupCreate lists other members than group_members.")
	}
	if gc.GetConversationKeyVersion() != req.ConversationKeyVersion {
		return errInvalid("action_signatures", "The signed GroupCreate is for key version %s, not %s.", clip(gc.GetConversationKeyVersion()), req.ConversationKeyVersion)
	}
	payload, ok := groupCreatePayload(gcAction.signer.version, gcAction.messageID, c.user.ID, gc)
	if !ok {
		return errInvalid("action_signatures", "A signed GroupCreate component contains a comma.")
	}
	if perr := gcAction.signer.verify("action_signatures", payload); perr != nil {
		return perr
	}

	tx := s.beginTx(conv)
	tx.conv.Pending = false
	tx.conv.Members = members
	tx.conv.Admins = slices.Clone(admins)
	tx.conv.JoinedAt = map[string]uint64{}
	for _, m := range members {
		tx.conv.JoinedAt[m] = 0
	}
	tx.conv.Name, tx.conv.AvatarURL, tx.conv.Description, tx.conv.TTLMsec = req.GroupName, req.GroupAvatarURL, req.GroupDescription, ttl
	if _, err := tx.emit(kindGroupChange, c.user.ID, gcAction.messageID, req.ConversationKeyVersion, "",
		&event.MessageEventDetail{GroupChangeEvent: gcAction.detail.GroupChangeEvent}, gcAction.signer.sig); err != nil {
		return errInternal()
	}
	kcEvent, err := kc.emit(tx, c.user.ID)
	if err != nil {
		return errInternal()
	}
	if err := tx.commit(); err != nil {
		return errInternal()
	}
	writeJSON(c.w, http.StatusCreated, api.CreateChatConversationResponse{Data: &api.CreateChatConversationData{
		ConversationID: conv.Key, ConversationKeyChangeSequenceID: fmtID(kcEvent.Seq)}})
	return nil
}

// addConversationKeys initializes (1:1) or rotates a conversation key. For
// a 1:1 the conversation comes into existence with its first key. Any
// member may rotate a group key. The version must be newer than the
// latest; every participant needs a key wrapped to their latest public
// key. A retry with the same action message id answers the original
// sequence id.
func (s *Server) addConversationKeys(c *call) *apiError {
	key, conv, perr := s.resolveConv(c.user.ID, c.r.PathValue("id"))
	if perr != nil {
		return perr
	}
	if conv != nil && conv.Pending {
		return errInvalid("id", "The group %s has not been created yet.", key)
	}
	var req api.AddConversationKeysRequest
	if perr := decodeJSON(c.body, &req, false); perr != nil {
		return perr
	}
	for _, a := range req.ActionSignatures {
		if conv == nil {
			break
		}
		if e := s.existingAction(key, c.user.ID, a.MessageID); e != nil && e.Kind == kindKeyChange {
			writeJSON(c.w, http.StatusOK, api.AddConversationKeysResponse{Data: &api.AddConversationKeysData{
				ConversationID: restConvID(key), SequenceID: fmtID(e.Seq)}})
			return nil
		}
	}
	if perr := checkKeyVersion(conv, req.ConversationKeyVersion); perr != nil {
		return perr
	}
	var roster []string
	if conv != nil {
		roster = conv.Members
	} else {
		a, b := oneToOneMembers(key)
		roster = []string{a, b}
	}
	if !isGroupKey(key) && conv == nil {
		// First contact: honour DM blocks.
		other := roster[0]
		if other == c.user.ID {
			other = roster[1]
		}
		if slices.Contains(s.st.users[other].Blocked, c.user.ID) {
			return errForbidden("user", other, "You cannot message this user.")
		}
	}
	kc, perr := s.checkKeyChange(c.user.ID, req.ConversationKeyVersion, roster, req.ConversationParticipantKeys,
		req.Base64EncodedKeyRotation, req.ActionSignatures)
	if perr != nil {
		return perr
	}
	if e := s.existingAction(key, c.user.ID, kc.signed.messageID); e != nil {
		return errInvalid("action_signatures", "message_id %s is already used in this conversation.", clip(kc.signed.messageID))
	}
	if conv == nil {
		now := s.cfg.clock().UTC()
		a, b := oneToOneMembers(key)
		conv = &convRec{Key: key, Members: []string{a, b}, CreatorID: c.user.ID, CreatedAt: now, UpdatedAt: now}
	}
	tx := s.beginTx(conv)
	e, err := kc.emit(tx, c.user.ID)
	if err != nil {
		return errInternal()
	}
	if err := tx.commit(); err != nil {
		return errInternal()
	}
	writeJSON(c.w, http.StatusOK, api.AddConversationKeysResponse{Data: &api.AddConversationKeysData{
		ConversationID: restConvID(key), SequenceID: fmtID(e.Seq)}})
	return nil
}

// addChatGroupMembers adds members to a group and rotates its key. Only
// admins may add members (REQUESTER_NOT_ADMIN otherwise). It requires the
// key change signature (shape checked) and the
// GroupChangeEvent.GroupMemberAddChange signature, verified against the
// admin's signing key; the signed new-member list must equal user_ids.
// Events: the member add (as signed), then the key change; new members see
// the conversation from the member add on.
func (s *Server) addChatGroupMembers(c *call) *apiError {
	key, conv, perr := s.requireConv(c.user.ID, c.r.PathValue("id"))
	if perr != nil {
		return perr
	}
	if !conv.Group {
		return errInvalid("id", "Members can only be added to group conversations.")
	}
	var req api.AddChatGroupMembersRequest
	if perr := decodeJSON(c.body, &req, false); perr != nil {
		return perr
	}
	if !conv.isAdmin(c.user.ID) {
		return errForbidden("conversation", key, failNotAdmin+": only group admins may add members.")
	}
	for _, a := range req.ActionSignatures {
		if e := s.existingAction(key, c.user.ID, a.MessageID); e != nil && e.Kind == kindKeyChange {
			writeJSON(c.w, http.StatusOK, addMembersResponse(e.Seq))
			return nil
		}
	}
	if len(req.UserIDs) == 0 {
		return errInvalid("user_ids", "user_ids is required.")
	}
	if len(req.UserIDs) > maxMembersPerAdd || len(conv.Members)+len(req.UserIDs) > maxGroupMembers {
		return errInvalid("user_ids", "Too many members (a group has at most %d).", maxGroupMembers)
	}
	if perr := s.uniqueIDs("user_ids", req.UserIDs); perr != nil {
		return perr
	}
	for _, u := range req.UserIDs {
		if conv.isMember(u) {
			return errInvalid("user_ids", "User %s is already a member.", u)
		}
	}
	if req.ConversationKeyVersion == "" {
		return errInvalid("conversation_key_version", "conversation_key_version is required: adding members rotates the key.")
	}
	if perr := checkKeyVersion(conv, req.ConversationKeyVersion); perr != nil {
		return perr
	}
	roster := append(slices.Clone(conv.Members), req.UserIDs...)
	kc, perr := s.checkKeyChange(c.user.ID, req.ConversationKeyVersion, roster, req.ConversationParticipantKeys, "", req.ActionSignatures)
	if perr != nil {
		return perr
	}
	maAction, perr := groupChangeAction(kc.actions, kc.signed, "GroupMemberAddChange", func(g *event.GroupChange) bool { return g.GroupMemberAdd != nil })
	if perr != nil {
		return perr
	}
	for _, a := range []*action{kc.signed, maAction} {
		if s.existingAction(key, c.user.ID, a.messageID) != nil {
			return errInvalid("action_signatures", "message_id %s is already used in this conversation.", clip(a.messageID))
		}
	}
	ma := maAction.detail.GroupChangeEvent.GroupChange.GroupMemberAdd
	if !sameSet(ma.MemberIds, req.UserIDs) {
		return errInvalid("action_signatures", "The signed GroupMemberAddChange lists other new members than user_ids.")
	}
	if ma.GetConversationKeyVersion() != req.ConversationKeyVersion {
		return errInvalid("action_signatures", "The signed GroupMemberAddChange is for key version %s, not %s.", clip(ma.GetConversationKeyVersion()), req.ConversationKeyVersion)
	}
	payload, ok := groupMemberAddPayload(maAction.signer.version, maAction.messageID, c.user.ID, key, ma)
	if !ok {
		return errInvalid("action_signatures", "A signed GroupMemberAddChange component contains a comma.")
	}
	if perr := maAction.signer.verify("action_signatures", payload); perr != nil {
		return perr
	}
	tx := s.beginTx(conv)
	gcEvent, err := tx.emit(kindGroupChange, c.user.ID, maAction.messageID, req.ConversationKeyVersion, "",
		&event.MessageEventDetail{GroupChangeEvent: maAction.detail.GroupChangeEvent}, maAction.signer.sig)
	if err != nil {
		return errInternal()
	}
	kcEvent, err := kc.emit(tx, c.user.ID)
	if err != nil {
		return errInternal()
	}
	tx.conv.Members = roster
	if tx.conv.JoinedAt == nil {
		tx.conv.JoinedAt = map[string]uint64{}
	}
	for _, u := range req.UserIDs {
		tx.conv.JoinedAt[u] = gcEvent.Seq
	}
	if req.EncryptedTitle != "" {
		tx.conv.Name = req.EncryptedTitle
	}
	if req.EncryptedAvatarURL != "" {
		tx.conv.AvatarURL = req.EncryptedAvatarURL
	}
	if err := tx.commit(); err != nil {
		return errInternal()
	}
	writeJSON(c.w, http.StatusOK, addMembersResponse(kcEvent.Seq))
	return nil
}

// addMembersResponse is the answer of addChatGroupMembers. The
// specification types its data as a Post; the emulator answers a Post whose
// id is the key change's sequence id (X's documents do not say what the
// real backend puts there).
func addMembersResponse(seq uint64) api.AddChatGroupMembersResponse {
	return api.AddChatGroupMembersResponse{Data: &api.AddChatGroupMembersData{ID: fmtID(seq)}}
}
