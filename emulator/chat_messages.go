package emulator

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// sendChatMessage stores an encrypted message.
//
// The server wraps the posted MessageCreateEvent and MessageEventSignature
// into a MessageEvent with a fresh sequence id, the conversation's previous
// sequence id, created_at_msec, sender, canonical conversation id and the
// client's message_id, and answers it base64 in encoded_message_event
// (201).
//
// Rejections, decided where the specification is silent: a failure is
// answered with a problem document (no state change) whose "data" carries
// encoded_message_event: a MessageEvent whose detail is a
// MessageFailureEvent with the Thrift failure type, so Thrift-aware clients
// get the typed reason as the real backend delivers it to the sender.
//   - stale (or unknown) conversation_key_version: 400, NON_LATEST_CKEY_VERSION
//   - sender not a group member: 403, SENDER_NOT_GROUP_MEMBER
//   - missing, malformed or non-verifying signature: 400,
//     INVALID_SENDER_SIGNATURE / SIGNATURE_FAILED_TO_VERIFY_AGAINST_PUBLIC_KEY
//   - contents over 256 KiB: 400, CONTENTS_TOO_LARGE
//
// A repeated POST with a message_id the sender already used in the
// conversation answers the original event (201) and stores nothing (unless
// WithoutMessageIDDedup: then it is stored again, as by a server that does
// not de-duplicate).
func (s *Server) sendChatMessage(c *call) *apiError {
	raw := c.r.PathValue("id")
	key, conv, perr := s.resolveConv(c.user.ID, raw)
	if perr != nil {
		if perr.status == http.StatusForbidden && isGroupKey(raw) {
			return s.withFailure(errForbidden("conversation", raw, failNotMember+": you are not a member of this group."),
				raw, c.user.ID, "", event.FailureType_SENDER_NOT_GROUP_MEMBER)
		}
		return perr
	}
	if conv == nil || conv.Pending || conv.KeyVersion == "" {
		return errInvalid("id", "The conversation has no conversation key yet: add one with POST /2/chat/conversations/{id}/keys.")
	}
	var req api.SendChatMessageRequest
	if perr := decodeJSON(c.body, &req, false); perr != nil {
		return perr
	}
	if perr := checkComponent("message_id", req.MessageID); perr != nil {
		return perr
	}
	if e := s.existingAction(key, c.user.ID, req.MessageID); e != nil && !s.cfg.noMessageDedup {
		if e.Kind != kindMessage {
			return errInvalid("message_id", "message_id %s is already used by another event.", clip(req.MessageID))
		}
		writeJSON(c.w, http.StatusCreated, api.SendChatMessageResponse{Data: &api.SendChatMessageData{EncodedMessageEvent: wire.EncodeB64(e.Encoded)}})
		return nil
	}
	fail := func(e *apiError, ft event.FailureType) *apiError {
		return s.withFailure(e, key, c.user.ID, req.MessageID, ft)
	}
	if !conv.isMember(c.user.ID) {
		return fail(errForbidden("conversation", raw, failNotMember+": you are not a member of this conversation."), event.FailureType_SENDER_NOT_GROUP_MEMBER)
	}
	if !conv.Group {
		for _, m := range conv.Members {
			if m != c.user.ID && slices.Contains(s.st.users[m].Blocked, c.user.ID) {
				return errForbidden("user", m, "You cannot message this user.")
			}
		}
	}
	if len(req.ConversationToken) > 1024 {
		return errInvalid("conversation_token", "conversation_token is too long.")
	}
	if req.EncodedMessageCreateEvent == "" {
		return errInvalid("encoded_message_create_event", "encoded_message_create_event is required.")
	}
	rawCreate, err := wire.DecodeB64(req.EncodedMessageCreateEvent)
	if err != nil {
		return errInvalid("encoded_message_create_event", "encoded_message_create_event must be standard base64.")
	}
	create, err := wire.DecodeMessageCreateEvent(rawCreate)
	if err != nil {
		return errInvalid("encoded_message_create_event", "encoded_message_create_event is not a valid Thrift MessageCreateEvent.")
	}
	if len(create.Contents) > maxContentsBytes {
		return fail(errInvalid("encoded_message_create_event", "%s: contents exceed %d bytes.", failTooLarge, maxContentsBytes), event.FailureType_CONTENTS_TOO_LARGE)
	}
	if len(create.Contents) < minContentsBytes {
		return errInvalid("encoded_message_create_event", "contents must be secretbox ciphertext (at least %d bytes).", minContentsBytes)
	}
	kv := create.GetConversationKeyVersion()
	if !isVersion(kv) {
		return errInvalid("encoded_message_create_event", "conversation_key_version must be a decimal string.")
	}
	if kv != conv.KeyVersion {
		e := errInvalid("conversation_key_version", "%s: the message uses conversation key version %s; the latest is %s.", failNonLatestKey, kv, conv.KeyVersion)
		e.problem.Value = kv
		return fail(e, event.FailureType_NON_LATEST_CKEY_VERSION)
	}
	if req.EncodedMessageEventSignature == "" {
		return fail(errInvalid("encoded_message_event_signature", "%s: encoded_message_event_signature is required.", failInvalidSignature), event.FailureType_INVALID_SENDER_SIGNATURE)
	}
	rawSig, err := wire.DecodeB64(req.EncodedMessageEventSignature)
	if err != nil {
		return fail(errInvalid("encoded_message_event_signature", "%s: encoded_message_event_signature must be standard base64.", failInvalidSignature), event.FailureType_INVALID_SENDER_SIGNATURE)
	}
	tsig, err := wire.DecodeMessageEventSignature(rawSig)
	if err != nil {
		return fail(errInvalid("encoded_message_event_signature", "%s: encoded_message_event_signature is not a Thrift MessageEventSignature.", failInvalidSignature), event.FailureType_INVALID_SENDER_SIGNATURE)
	}
	sg, perr := s.checkSignature("encoded_message_event_signature", c.user.ID, tsig)
	if perr != nil {
		return fail(perr, event.FailureType_INVALID_SENDER_SIGNATURE)
	}
	payload, ok := messageCreatePayload(sg.version, req.MessageID, c.user.ID, key, kv, create.Contents)
	if !ok {
		return errInvalid("message_id", "message_id must not contain commas.")
	}
	if perr := sg.verify("encoded_message_event_signature", payload); perr != nil {
		return fail(perr, event.FailureType_SIGNATURE_FAILED_TO_VERIFY_AGAINST_PUBLIC_KEY)
	}
	tx := s.beginTx(conv)
	e, err := tx.emit(kindMessage, c.user.ID, req.MessageID, kv, req.ConversationToken,
		&event.MessageEventDetail{MessageCreateEvent: create}, sg.sig)
	if err != nil {
		return errInternal()
	}
	if err := tx.commit(); err != nil {
		return errInternal()
	}
	writeJSON(c.w, http.StatusCreated, api.SendChatMessageResponse{Data: &api.SendChatMessageData{EncodedMessageEvent: wire.EncodeB64(e.Encoded)}})
	return nil
}

// deleteChatMessages deletes messages, verifying the MessageDeleteEvent
// action signature against the caller's signing key.
//
// delete_for_all: the caller must have sent every target message, or be a
// group admin; the targets stop being served to anyone and a
// MessageDeleteEvent (as signed) is appended so clients learn of it;
// media_hash_keys of the conversation are deleted with them.
// delete_for_self: the targets are hidden from the caller only; nothing is
// appended. Targets must be message events the caller can see.
func (s *Server) deleteChatMessages(c *call) *apiError {
	key, conv, perr := s.requireConv(c.user.ID, c.r.PathValue("id"))
	if perr != nil {
		return perr
	}
	var req api.DeleteChatMessagesRequest
	if perr := decodeJSON(c.body, &req, false); perr != nil {
		return perr
	}
	var delAction event.DeleteMessageAction
	switch req.DeleteMessageAction {
	case api.DeleteForAll:
		delAction = event.DeleteMessageAction_DELETE_FOR_ALL
	case api.DeleteForSelf:
		delAction = event.DeleteMessageAction_DELETE_FOR_SELF
	default:
		return errInvalid("delete_message_action", "delete_message_action must be %q or %q.", api.DeleteForAll, api.DeleteForSelf)
	}
	if len(req.SequenceIDs) == 0 || len(req.SequenceIDs) > maxDeleteSequenceIDs {
		return errInvalid("sequence_ids", "sequence_ids must list 1 to %d sequence ids.", maxDeleteSequenceIDs)
	}
	var targets []*eventRec
	seen := map[uint64]bool{}
	for i, sid := range req.SequenceIDs {
		seq, ok := parseID(sid)
		if !ok {
			return errInvalid("sequence_ids["+strconv.Itoa(i)+"]", "%q is not a sequence id.", clip(sid))
		}
		e := s.st.eventBySeq[seq]
		if e == nil || e.Conv != key || e.Kind != kindMessage || !e.visibleTo(conv, c.user.ID) {
			return errNotFound("message", sid)
		}
		if seen[seq] {
			return errInvalid("sequence_ids", "Sequence id %s is listed twice.", sid)
		}
		seen[seq] = true
		if delAction == event.DeleteMessageAction_DELETE_FOR_ALL && e.SenderID != c.user.ID && !(conv.Group && conv.isAdmin(c.user.ID)) {
			return errForbidden("message", sid, "You may only delete your own messages for everyone.")
		}
		targets = append(targets, e)
	}
	for i, h := range req.MediaHashKeys {
		if !reHashKey.MatchString(h) {
			return errInvalid("media_hash_keys["+strconv.Itoa(i)+"]", "%q is not a media hash key.", clip(h))
		}
	}
	actions, perr := s.parseActions(c.user.ID, req.ActionSignatures)
	if perr != nil {
		return perr
	}
	var del *action
	for _, a := range actions {
		if a.detail.MessageDeleteEvent != nil {
			del = a
		}
	}
	if del == nil {
		return errInvalid("action_signatures", "A MessageDeleteEvent action signature is required.")
	}
	d := del.detail.MessageDeleteEvent
	if d.GetDeleteMessageAction() != delAction || !slices.Equal(d.SequenceIds, req.SequenceIDs) {
		return errInvalid("action_signatures", "The signed MessageDeleteEvent does not match the request.")
	}
	payload, ok := messageDeletePayload(del.signer.version, del.messageID, c.user.ID, key, d)
	if !ok {
		return errInvalid("action_signatures", "A signed component contains a comma.")
	}
	if perr := del.signer.verify("action_signatures", payload); perr != nil {
		return perr
	}
	if s.existingAction(key, c.user.ID, del.messageID) != nil {
		return errInvalid("action_signatures", "message_id %s is already used in this conversation.", clip(del.messageID))
	}
	tx := s.beginTx(conv)
	var mediaDel []*mediaRec
	if delAction == event.DeleteMessageAction_DELETE_FOR_ALL {
		if _, err := tx.emit(kindDelete, c.user.ID, del.messageID, "", "",
			&event.MessageEventDetail{MessageDeleteEvent: d}, del.signer.sig); err != nil {
			return errInternal()
		}
		for _, h := range req.MediaHashKeys {
			if m := s.st.media[mediaKey(key, h)]; m != nil {
				mediaDel = append(mediaDel, m)
				tx.b.del(bucketMedia, mediaKey(key, h))
				tx.b.del(bucketBlobs, mediaKey(key, h))
			}
		}
	}
	updated := make([]*eventRec, 0, len(targets))
	for _, t := range targets {
		n := *t
		if delAction == event.DeleteMessageAction_DELETE_FOR_ALL {
			n.Deleted = true
		} else {
			n.HiddenFor = append(slices.Clone(t.HiddenFor), c.user.ID)
		}
		updated = append(updated, &n)
		tx.b.event(&n)
	}
	if err := tx.commit(); err != nil {
		return errInternal()
	}
	for i, t := range targets {
		*t = *updated[i]
	}
	for _, m := range mediaDel {
		delete(s.st.media, mediaKey(m.Conv, m.HashKey))
		s.deleteBlobInMemory(m.Conv, m.HashKey)
	}
	writeJSON(c.w, http.StatusOK, api.DeleteChatMessagesResponse{Data: &api.DeleteChatMessagesData{Deleted: true}})
	return nil
}

// markChatConversationRead records the caller's read position and appends
// a MarkConversationReadEvent (a read receipt other participants see).
// Marking an already-covered position again answers success without a new
// event.
func (s *Server) markChatConversationRead(c *call) *apiError {
	key, conv, perr := s.requireConv(c.user.ID, c.r.PathValue("id"))
	if perr != nil {
		return perr
	}
	var req api.MarkChatConversationReadRequest
	if perr := decodeJSON(c.body, &req, false); perr != nil {
		return perr
	}
	seq, ok := parseID(req.SeenUntilSequenceID)
	if !ok {
		return errInvalid("seen_until_sequence_id", "seen_until_sequence_id must be a sequence id.")
	}
	e := s.st.eventBySeq[seq]
	if e == nil || e.Conv != key || !e.visibleTo(conv, c.user.ID) {
		return errNotFound("event", req.SeenUntilSequenceID)
	}
	if conv.ReadUpTo[c.user.ID] >= seq {
		writeJSON(c.w, http.StatusOK, api.MarkChatConversationReadResponse{Data: &api.SuccessData{Success: true}})
		return nil
	}
	tx := s.beginTx(conv)
	if tx.conv.ReadUpTo == nil {
		tx.conv.ReadUpTo = map[string]uint64{}
	}
	tx.conv.ReadUpTo[c.user.ID] = seq
	now := s.nowMsec()
	detail := &event.MessageEventDetail{MarkConversationReadEvent: &event.MarkConversationReadEvent{
		SeenUntilSequenceID: strPtr(req.SeenUntilSequenceID), SeenAtMillis: &now}}
	if _, err := tx.emit(kindRead, c.user.ID, "", "", "", detail, nil); err != nil {
		return errInternal()
	}
	if err := tx.commit(); err != nil {
		return errInternal()
	}
	writeJSON(c.w, http.StatusOK, api.MarkChatConversationReadResponse{Data: &api.SuccessData{Success: true}})
	return nil
}

// sendChatTypingIndicator accepts a typing indicator. Typing events are
// ephemeral (pushed live by the real backend, never part of the history),
// so the emulator only validates the request.
func (s *Server) sendChatTypingIndicator(c *call) *apiError {
	if _, _, perr := s.requireConv(c.user.ID, c.r.PathValue("id")); perr != nil {
		return perr
	}
	writeJSON(c.w, http.StatusOK, api.SendChatTypingIndicatorResponse{Data: &api.SuccessData{Success: true}})
	return nil
}
