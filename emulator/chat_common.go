package emulator

import (
	"slices"
	"strconv"
	"strings"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/b64"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// Limits on chat requests.
const (
	maxGroupMembers      = 256
	maxMembersPerAdd     = 100
	maxContentsBytes     = 256 << 10
	minContentsBytes     = 24 + 16 // secretbox nonce + tag
	minWrappedKeyBytes   = 65 + 16 // ECIES ephemeral point + GCM tag
	maxWrappedKeyBytes   = 4096
	maxDeleteSequenceIDs = 100
)

// resolveConv maps a REST conversation id to the canonical key for the
// caller. It accepts a bare recipient user id (1:1 with the caller),
// "A-B" (or the event form "A:B") containing the caller, and "g<digits>".
// conv is nil for a 1:1 that has no events yet.
func (s *Server) resolveConv(caller, raw string) (string, *convRec, *apiError) {
	if !reConvPath.MatchString(raw) {
		return "", nil, errInvalid("id", "The conversation id %q must be a user id, \"A-B\" or \"g<digits>\".", clip(raw))
	}
	if strings.HasPrefix(raw, "g") {
		if !isID(raw[1:]) {
			return "", nil, errInvalid("id", "The group id %q is not canonical.", clip(raw))
		}
		conv := s.st.convs[raw]
		if conv == nil || (conv.Pending && conv.CreatorID != caller) {
			return "", nil, errNotFound("conversation", raw)
		}
		if !conv.Pending && !conv.isMember(caller) {
			return "", nil, errForbidden("conversation", raw, "You are not a member of this conversation.")
		}
		return raw, conv, nil
	}
	var a, b string
	if i := strings.IndexAny(raw, "-:"); i >= 0 {
		a, b = raw[:i], raw[i+1:]
	} else {
		a, b = caller, raw
	}
	if !isID(a) || !isID(b) {
		return "", nil, errInvalid("id", "The conversation id %q is not canonical.", clip(raw))
	}
	if a != caller && b != caller {
		return "", nil, errForbidden("conversation", raw, "You are not a participant of this conversation.")
	}
	if a == b {
		return "", nil, errInvalid("id", "A one-to-one conversation needs two different users.")
	}
	other := a
	if a == caller {
		other = b
	}
	if s.st.users[other] == nil {
		return "", nil, errNotFound("user", other)
	}
	key := oneToOneKey(a, b)
	return key, s.st.convs[key], nil
}

// requireConv resolves and requires an existing, created conversation.
func (s *Server) requireConv(caller, raw string) (string, *convRec, *apiError) {
	key, conv, perr := s.resolveConv(caller, raw)
	if perr != nil {
		return "", nil, perr
	}
	if conv == nil || conv.Pending {
		return "", nil, errNotFound("conversation", raw)
	}
	return key, conv, nil
}

// chatTx accumulates the events one request appends to one conversation.
type chatTx struct {
	s      *Server
	conv   *convRec // a clone, installed on commit
	events []*eventRec
	b      batch
}

func (s *Server) beginTx(conv *convRec) *chatTx {
	return &chatTx{s: s, conv: conv.clone()}
}

// emit builds, encodes and queues one MessageEvent.
func (tx *chatTx) emit(kind, sender, messageID, keyVersion, token string, detail *event.MessageEventDetail, sig *event.MessageEventSignature) (*eventRec, error) {
	s := tx.s
	seq := s.nextID()
	now := s.nowMsec()
	h := wire.Envelope{
		SequenceID:        fmtID(seq),
		MessageID:         messageID,
		SenderID:          sender,
		ConversationID:    tx.conv.Key,
		ConversationToken: token,
		CreatedAtMsec:     strconv.FormatInt(now, 10),
		IsTrusted:         true,
	}
	if tx.conv.LastSeq != 0 {
		h.PreviousSequenceID = fmtID(tx.conv.LastSeq)
	}
	enc, err := h.Encode(detail, sig)
	if err != nil {
		return nil, err
	}
	e := &eventRec{Conv: tx.conv.Key, Seq: seq, PrevSeq: tx.conv.LastSeq, Kind: kind, SenderID: sender,
		MessageID: messageID, CreatedAt: now, KeyVersion: keyVersion, Token: token, Encoded: enc, SigJSON: sigToJSON(sig)}
	tx.conv.LastSeq = seq
	tx.conv.UpdatedAt = s.cfg.clock().UTC()
	tx.events = append(tx.events, e)
	return e, nil
}

// commit persists and installs the transaction.
func (tx *chatTx) commit() error {
	tx.b.conv(tx.conv)
	for _, e := range tx.events {
		tx.b.event(e)
	}
	if err := tx.s.commit(&tx.b); err != nil {
		return err
	}
	before := tx.s.st.convs[tx.conv.Key]
	tx.s.st.convs[tx.conv.Key] = tx.conv
	for _, e := range tx.events {
		tx.s.st.addEvent(e)
	}
	tx.s.publish(before, tx.conv, tx.events) // activity stream and webhooks
	return nil
}

func boolPtr(b bool) *bool { return &b }

// checkKeyVersion validates a new conversation key version: decimal and
// strictly newer than the conversation's latest.
func checkKeyVersion(conv *convRec, v string) *apiError {
	if !isVersion(v) {
		return errInvalid("conversation_key_version", "conversation_key_version must be a decimal string.")
	}
	if conv != nil && conv.KeyVersion != "" && decimal.Compare(v, conv.KeyVersion) <= 0 {
		e := errInvalid("conversation_key_version", "%s: conversation_key_version %s is not newer than the latest version %s.", failNonLatestKey, v, conv.KeyVersion)
		e.problem.Value = clip(v)
		return e
	}
	return nil
}

// checkParticipantKeys validates the wrapped conversation keys: exactly one
// per roster member, each wrapped to that member's latest registered public
// key. The server cannot check that the ciphertext wraps the right key; it
// checks what it can (base64, ECIES length bounds, key versions).
func (s *Server) checkParticipantKeys(keys []api.ConversationParticipantKey, roster []string) ([]*event.ConversationParticipantKey, *apiError) {
	const field = "conversation_participant_keys"
	if len(keys) == 0 {
		return nil, errInvalid(field, "conversation_participant_keys is required.")
	}
	seen := map[string]bool{}
	out := make([]*event.ConversationParticipantKey, 0, len(keys))
	for i, k := range keys {
		f := field + "[" + strconv.Itoa(i) + "]"
		if !slices.Contains(roster, k.UserID) {
			return nil, errInvalid(f+".user_id", "User %q is not a participant of the conversation.", clip(k.UserID))
		}
		if seen[k.UserID] {
			return nil, errInvalid(f+".user_id", "User %s has more than one key.", k.UserID)
		}
		seen[k.UserID] = true
		wrapped, ok := b64.DecodeAny(k.EncryptedConversationKey)
		if !ok || len(wrapped) < minWrappedKeyBytes || len(wrapped) > maxWrappedKeyBytes {
			return nil, errInvalid(f+".encrypted_conversation_key", "encrypted_conversation_key must be base64 ECIES ciphertext (%d..%d bytes).", minWrappedKeyBytes, maxWrappedKeyBytes)
		}
		latest := s.st.latestKey(k.UserID)
		if latest == nil {
			return nil, errInvalid(f+".user_id", "User %s has no registered public key.", k.UserID)
		}
		if k.PublicKeyVersion != latest.Version {
			if s.st.keyVersion(k.UserID, k.PublicKeyVersion) != nil {
				return nil, errInvalid(f+".public_key_version", "%s: user %s has a newer public key (version %s).", failKeyChanged, k.UserID, latest.Version)
			}
			return nil, errInvalid(f+".public_key_version", "public_key_version %q is not a registered key of user %s.", clip(k.PublicKeyVersion), k.UserID)
		}
		out = append(out, &event.ConversationParticipantKey{
			UserID: strPtr(k.UserID), EncryptedConversationKey: strPtr(k.EncryptedConversationKey), PublicKeyVersion: strPtr(k.PublicKeyVersion),
		})
	}
	for _, m := range roster {
		if !seen[m] {
			return nil, errInvalid(field, "No conversation key for participant %s.", m)
		}
	}
	return out, nil
}

// groupChangeAction returns the last action signature whose detail is the
// group change variant has selects (named variant in errors). It must exist
// and carry a message id distinct from the key change's: the backend
// validates the pair together.
func groupChangeAction(actions []*action, kc *action, variant string, has func(*event.GroupChange) bool) (*action, *apiError) {
	var found *action
	for _, a := range actions {
		if gce := a.detail.GroupChangeEvent; gce != nil && gce.GroupChange != nil && has(gce.GroupChange) {
			found = a
		}
	}
	if found == nil {
		return nil, errInvalid("action_signatures", "A GroupChangeEvent.%s action signature is required.", variant)
	}
	if found.messageID == kc.messageID {
		return nil, errInvalid("action_signatures", "The two action signatures must have distinct message ids.")
	}
	return found, nil
}

// keyChangeAction finds and checks the ConversationKeyChangeEvent action
// signature. The emulator cannot verify it: at signature version 6+ the
// signed payload embeds the plaintext conversation key, which only the
// participants hold. It checks what the server can: the signature is well
// formed, names a registered signing key of the sender at a supported
// signature version, and the signed detail agrees with the request.
func keyChangeAction(actions []*action, version string, keys []*event.ConversationParticipantKey) (*action, *apiError) {
	var found *action
	for _, a := range actions {
		if a.detail.ConversationKeyChangeEvent != nil {
			if found != nil {
				return nil, errInvalid("action_signatures", "More than one conversation key change signature.")
			}
			found = a
		}
	}
	if found == nil {
		return nil, errInvalid("action_signatures", "A ConversationKeyChangeEvent action signature is required.")
	}
	kc := found.detail.ConversationKeyChangeEvent
	if kc.ConversationKeyVersion != nil && kc.GetConversationKeyVersion() != version {
		return nil, errInvalid("action_signatures", "The signed key change is for version %s, not %s.", clip(kc.GetConversationKeyVersion()), version)
	}
	if len(kc.ConversationParticipantKeys) > 0 {
		want := map[string]string{}
		for _, k := range keys {
			want[k.GetUserID()] = k.GetEncryptedConversationKey()
		}
		if len(kc.ConversationParticipantKeys) != len(want) {
			return nil, errInvalid("action_signatures", "The signed key change lists other participants than the request.")
		}
		for _, k := range kc.ConversationParticipantKeys {
			if k == nil || want[k.GetUserID()] != k.GetEncryptedConversationKey() {
				return nil, errInvalid("action_signatures", "The signed key change carries other wrapped keys than the request.")
			}
		}
	}
	return found, nil
}

// parseActions parses every action signature of a request.
func (s *Server) parseActions(user string, sigs []api.ActionSignature) ([]*action, *apiError) {
	if len(sigs) == 0 {
		return nil, errInvalid("action_signatures", "action_signatures is required.")
	}
	if len(sigs) > 8 {
		return nil, errInvalid("action_signatures", "Too many action signatures.")
	}
	out := make([]*action, 0, len(sigs))
	for i, a := range sigs {
		act, perr := s.parseAction(user, i, a)
		if perr != nil {
			return nil, perr
		}
		out = append(out, act)
	}
	return out, nil
}

// keyChangeEvent builds the stored ConversationKeyChangeEvent from the
// request.
func keyChangeDetail(version string, keys []*event.ConversationParticipantKey, rotation *apiRotation, signed *event.ConversationKeyChangeEvent) *event.MessageEventDetail {
	kc := &event.ConversationKeyChangeEvent{
		ConversationKeyVersion:      strPtr(version),
		ConversationParticipantKeys: keys,
	}
	if rotation != nil {
		kc.RatchetTreeChange = rotation.op
	}
	if signed != nil && signed.ForKeyRotation != nil {
		kc.ForKeyRotation = boolPtr(signed.GetForKeyRotation())
	}
	return &event.MessageEventDetail{ConversationKeyChangeEvent: kc}
}

// existingAction returns the event a sender already stored under
// messageID in conv (idempotent retries), or nil.
func (s *Server) existingAction(conv, sender, messageID string) *eventRec {
	seq, ok := s.st.msgIndex[msgKey(conv, sender, messageID)]
	if !ok {
		return nil
	}
	return s.st.eventBySeq[seq]
}

// uniqueIDs validates a list of user ids: canonical, existing, no
// duplicates.
func (s *Server) uniqueIDs(field string, ids []string) *apiError {
	seen := map[string]bool{}
	for i, id := range ids {
		f := field + "[" + strconv.Itoa(i) + "]"
		if !isID(id) {
			return errInvalid(f, "%q is not a user id.", clip(id))
		}
		if seen[id] {
			return errInvalid(f, "User %s is listed twice.", id)
		}
		seen[id] = true
		if s.st.users[id] == nil {
			e := errInvalid(f, "User %s does not exist.", id)
			e.problem.Value = id
			return e
		}
	}
	return nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
