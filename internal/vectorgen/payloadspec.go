package vectorgen

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/xchat-go/xchat/crypto"
)

// ErrBadInput reports a vector whose inputs cannot be interpreted.
var ErrBadInput = errors.New("testvectors: bad case input")

// Field returns the string input or output named k, and whether it is
// present. It fails for a value of another type.
func Field(m map[string]any, k string) (string, bool, error) {
	v, ok := m[k]
	if !ok {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", false, fmt.Errorf("%w: %s is %T, want a string", ErrBadInput, k, v)
	}
	return s, true, nil
}

// listField returns the string-list input or output named k (nil when
// absent). It accepts both []string (as generated) and []any (as decoded
// from JSON).
func listField(m map[string]any, k string) ([]string, error) {
	switch v := m[k].(type) {
	case nil:
		return nil, nil
	case []string:
		return v, nil
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%w: %s[%d] is %T", ErrBadInput, k, i, e)
			}
			out[i] = s
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%w: %s is %T, want a list", ErrBadInput, k, v)
	}
}

// BuildPayload builds the signed payload a KindPayload case describes. Its
// inputs are: payload_kind (a crypto.Kind* string), signature_version,
// message_id, sender_id, conversation_id, and the kind's own fields (see
// xchat.json). Optional values absent from the inputs are absent (null) in
// the payload.
func BuildPayload(in map[string]any) (crypto.Payload, error) {
	var firstErr error
	get := func(k string) string {
		s, _, err := Field(in, k)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return s
	}
	opt := func(k string) *string {
		s, ok, err := Field(in, k)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if !ok {
			return nil
		}
		return &s
	}
	optBool := func(k string) *bool {
		s := opt(k)
		if s == nil {
			return nil
		}
		b, err := strconv.ParseBool(*s)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%w: %s: %w", ErrBadInput, k, err)
		}
		return &b
	}
	optInt := func(k string) *int64 {
		s := opt(k)
		if s == nil {
			return nil
		}
		n, err := strconv.ParseInt(*s, 10, 64)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%w: %s: %w", ErrBadInput, k, err)
		}
		return &n
	}
	list := func(k string) []string {
		l, err := listField(in, k)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return l
	}
	version, err := strconv.Atoi(get("signature_version"))
	if err != nil {
		return crypto.Payload{}, fmt.Errorf("%w: signature_version: %w", ErrBadInput, err)
	}
	h := crypto.Header{MessageID: get("message_id"), SenderID: get("sender_id"), ConversationID: get("conversation_id")}
	ckv := get("conversation_key_version")

	var p crypto.Payload
	switch kind := get("payload_kind"); kind {
	case crypto.KindMessageCreate:
		contents, derr := hex.DecodeString(get("contents_hex"))
		if derr != nil {
			return crypto.Payload{}, fmt.Errorf("%w: contents_hex: %w", ErrBadInput, derr)
		}
		p, err = crypto.MessageCreatePayload(version, h, ckv, contents)
	case crypto.KindConversationKey:
		kc := crypto.KeyChange{ConversationKeyVersion: ckv}
		if s := opt("conversation_key_hex"); s != nil {
			kb, derr := hex.DecodeString(*s)
			if derr != nil || len(kb) != crypto.ConversationKeySize {
				return crypto.Payload{}, fmt.Errorf("%w: conversation_key_hex", ErrBadInput)
			}
			kc.Key = (*crypto.ConversationKey)(kb)
		}
		ids, keys, vers := list("participant_user_ids"), list("participant_encrypted_keys_b64"), list("participant_key_versions")
		if len(ids) != len(keys) || len(ids) != len(vers) {
			return crypto.Payload{}, fmt.Errorf("%w: participant lists differ in length", ErrBadInput)
		}
		for i := range ids {
			kc.Participants = append(kc.Participants, crypto.ParticipantKey{UserID: ids[i], EncryptedConversationKey: keys[i], PublicKeyVersion: vers[i]})
		}
		p, err = crypto.KeyChangePayload(version, h, kc)
	case crypto.KindGroupCreate:
		p, err = crypto.GroupCreatePayload(version, h, crypto.GroupCreate{
			ConversationKeyVersion: ckv, MemberIDs: list("member_ids"),
			IsLegacyGroupUpgrade: optBool("is_legacy_group_upgrade"), Title: opt("title"), AvatarURL: opt("avatar_url"),
		})
	case crypto.KindGroupMemberAdd:
		ma := crypto.GroupMemberAdd{
			NewMemberIDs: list("new_member_ids"), CurrentMemberIDs: list("current_member_ids"),
			CurrentAdminIDs: list("current_admin_ids"), CurrentPendingMemberIDs: list("current_pending_member_ids"),
			CurrentTitle: opt("current_title"), CurrentAvatarURL: opt("current_avatar_url"),
			CurrentTTLMsec: optInt("current_ttl_msec"), ConversationKeyVersion: ckv,
			ScreenCaptureBlockingEnabled: optBool("screen_capture_blocking_enabled"),
		}
		if u := opt("invite_url"); u != nil {
			ma.Invite = &crypto.GroupInvite{InviteURL: u, AffiliateID: opt("invite_affiliate_id"), ExpiresAtMsec: optInt("invite_expires_at_msec")}
		}
		p, err = crypto.GroupMemberAddPayload(version, h, ma)
	case crypto.KindMessageDelete:
		action, aerr := strconv.ParseInt(get("delete_action"), 10, 32)
		if aerr != nil {
			return crypto.Payload{}, fmt.Errorf("%w: delete_action: %w", ErrBadInput, aerr)
		}
		p, err = crypto.MessageDeletePayload(version, h, int32(action), list("sequence_ids"))
	default:
		return crypto.Payload{}, fmt.Errorf("%w: payload_kind %q", ErrBadInput, kind)
	}
	if firstErr != nil {
		return crypto.Payload{}, firstErr
	}
	return p, err
}
