package inbound

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/xchat-go/xchat/thriftgen/event"
)

// Signature versions (docs/CRYPTO.md §7, crates/core/src/signatures.rs).
const (
	currentSignatureVersion = 7 // stamped by current senders; assumed when absent
	minSignatureVersion     = 2 // older payloads omit the kind and key version
	ckeyPlaintextVersion    = 6 // key change payload signs the plaintext key
)

// signedPayload rebuilds the comma-joined string the sender signed for the
// event's detail, mirroring build_event_signature_payload
// (crates/core/src/core.rs). ckeyB64 is the unpadded base64 of the plaintext
// conversation key, needed only for key changes at v6+. It returns false for
// unsigned kinds, for absent signed fields and when a component contains a
// comma.
func signedPayload(me *event.MessageEvent, d *event.MessageEventDetail, sigVersion int, ckeyB64 string) ([]byte, bool) {
	if me.MessageID == nil || me.SenderID == nil || d == nil {
		return nil, false
	}
	msgID, sender := *me.MessageID, *me.SenderID
	conv := me.ConversationID // optional component: omitted when absent
	build := func(name string, withConv bool, extra ...string) ([]byte, bool) {
		parts := make([]string, 0, 4+len(extra))
		parts = append(parts, name, msgID, sender)
		if withConv && conv != nil {
			parts = append(parts, *conv)
		}
		parts = append(parts, extra...)
		n := len(parts) - 1
		for _, p := range parts {
			if strings.IndexByte(p, ',') >= 0 {
				return nil, false
			}
			n += len(p)
		}
		var b strings.Builder
		b.Grow(n)
		for i, p := range parts {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(p)
		}
		return []byte(b.String()), true
	}

	switch {
	case d.MessageCreateEvent != nil:
		mce := d.MessageCreateEvent
		if sigVersion < minSignatureVersion || mce.Contents == nil {
			return nil, false
		}
		return build("MessageCreateEvent", true, mce.GetConversationKeyVersion(),
			base64.RawStdEncoding.EncodeToString(mce.Contents))

	case d.ConversationKeyChangeEvent != nil:
		kce := d.ConversationKeyChangeEvent
		if kce.ConversationKeyVersion == nil {
			return nil, false
		}
		if sigVersion >= ckeyPlaintextVersion {
			if ckeyB64 == "" {
				return nil, false
			}
			return build("ConversationKeyChangeEvent", true, *kce.ConversationKeyVersion, ckeyB64)
		}
		if kce.ConversationParticipantKeys == nil {
			return nil, false
		}
		extra := []string{*kce.ConversationKeyVersion}
		for _, pk := range kce.ConversationParticipantKeys {
			if pk == nil {
				return nil, false
			}
			extra = append(extra, pk.GetUserID(), pk.GetEncryptedConversationKey(), pk.GetPublicKeyVersion())
		}
		return build("ConversationKeyChangeEvent", true, extra...)

	case d.MessageDeleteEvent != nil:
		del := d.MessageDeleteEvent
		if del.DeleteMessageAction == nil || del.SequenceIds == nil {
			return nil, false
		}
		extra := append([]string{strconv.FormatInt(int64(*del.DeleteMessageAction), 10)}, del.SequenceIds...)
		return build("MessageDeleteEvent", true, extra...)

	case d.ConversationDeleteEvent != nil:
		var extra []string
		if o := d.ConversationDeleteEvent.ClearConversationOptions; o != nil {
			if o.ClearAllMessages != nil {
				extra = append(extra, strconv.FormatBool(*o.ClearAllMessages))
			}
			if o.SortOrderMsec != nil {
				extra = append(extra, strconv.FormatInt(*o.SortOrderMsec, 10))
			}
		}
		return build("ConversationDeleteEvent", true, extra...)

	case d.MarkConversationReadEvent != nil:
		r := d.MarkConversationReadEvent
		if r.SeenUntilSequenceID == nil {
			return nil, false
		}
		extra := []string{*r.SeenUntilSequenceID}
		if r.SeenAtMillis != nil {
			extra = append(extra, strconv.FormatInt(*r.SeenAtMillis, 10))
		}
		return build("MarkConversationReadEvent", true, extra...)

	case d.MarkConversationUnreadEvent != nil:
		var extra []string
		if s := d.MarkConversationUnreadEvent.SeenUntilSequenceID; s != nil {
			extra = append(extra, *s)
		}
		return build("MarkConversationUnreadEvent", true, extra...)

	case d.GroupChangeEvent != nil:
		return groupChangePayload(d.GroupChangeEvent.GroupChange, sigVersion, build)

	case d.ConversationMetadataChangeEvent != nil:
		c := d.ConversationMetadataChangeEvent.ConversationMetadataChange
		if c == nil {
			return nil, false
		}
		const p = "ConversationMetadataChangeEvent."
		switch {
		case c.MessageDurationChange != nil:
			if c.MessageDurationChange.TTLMsec == nil {
				return nil, false
			}
			return build(p+"MessageDurationChange", true, strconv.FormatInt(*c.MessageDurationChange.TTLMsec, 10))
		case c.MessageDurationRemove != nil:
			return build(p+"MessageDurationRemove", true)
		case c.MuteConversation != nil:
			return build(p+"MuteConversation", true, c.MuteConversation.MutedConversationIds...)
		case c.UnmuteConversation != nil:
			return build(p+"UnmuteConversation", true, c.UnmuteConversation.UnmutedConversationIds...)
		case c.EnableScreenCaptureDetection != nil:
			return build(p+"EnableScreenCaptureDetection", true)
		case c.DisableScreenCaptureDetection != nil:
			return build(p+"DisableScreenCaptureDetection", true)
		case c.EnableScreenCaptureBlocking != nil:
			return build(p+"EnableScreenCaptureBlocking", true)
		case c.DisableScreenCaptureBlocking != nil:
			return build(p+"DisableScreenCaptureBlocking", true)
		}
	}
	return nil, false
}

func groupChangePayload(gc *event.GroupChange, sigVersion int, build func(string, bool, ...string) ([]byte, bool)) ([]byte, bool) {
	if gc == nil {
		return nil, false
	}
	const p = "GroupChangeEvent."
	switch {
	case gc.GroupMemberAdd != nil:
		c := gc.GroupMemberAdd
		if c.MemberIds == nil || c.CurrentMemberIds == nil || c.CurrentAdminIds == nil || c.ConversationKeyVersion == nil {
			return nil, false
		}
		var extra []string
		extra = append(extra, c.MemberIds...)
		extra = append(extra, c.CurrentMemberIds...)
		extra = append(extra, c.CurrentAdminIds...)
		if sigVersion >= 3 && sigVersion < 7 { // pending members signed at v3–v6 only
			extra = append(extra, c.CurrentPendingMemberIds...)
		}
		extra = append(extra, nullStr(c.CurrentTitle), nullStr(c.CurrentAvatarURL), nullInt(c.CurrentTTLMsec),
			*c.ConversationKeyVersion)
		if sigVersion > 4 {
			extra = append(extra, nullBool(c.ScreenCaptureBlockingEnabled))
		}
		if sigVersion > 6 && c.GroupInviteEnable != nil {
			inv := c.GroupInviteEnable
			extra = append(extra, nullStr(inv.InviteURL), nullStr(inv.AffiliateID), nullInt(inv.ExpiresAtMsec))
		}
		return build(p+"GroupMemberAddChange", true, extra...)
	case gc.GroupMemberRemove != nil:
		if gc.GroupMemberRemove.MemberIds == nil {
			return nil, false
		}
		return build(p+"GroupMemberRemoveChange", true, gc.GroupMemberRemove.MemberIds...)
	case gc.GroupAdminAdd != nil:
		if gc.GroupAdminAdd.AdminIds == nil {
			return nil, false
		}
		return build(p+"GroupAdminAddChange", true, gc.GroupAdminAdd.AdminIds...)
	case gc.GroupAdminRemove != nil:
		if gc.GroupAdminRemove.AdminIds == nil {
			return nil, false
		}
		return build(p+"GroupAdminRemoveChange", true, gc.GroupAdminRemove.AdminIds...)
	case gc.GroupTitleChange != nil:
		c := gc.GroupTitleChange
		if c.ConversationKeyVersion == nil {
			return nil, false
		}
		return build(p+"GroupTitleChange", true, *c.ConversationKeyVersion, c.GetCustomTitle())
	case gc.GroupAvatarChange != nil:
		c := gc.GroupAvatarChange
		if c.ConversationKeyVersion == nil {
			return nil, false
		}
		return build(p+"GroupAvatarUrlChange", true, *c.ConversationKeyVersion, c.GetCustomAvatarURL())
	case gc.GroupCreate != nil:
		c := gc.GroupCreate
		if c.MemberIds == nil || c.ConversationKeyVersion == nil {
			return nil, false
		}
		extra := append([]string{*c.ConversationKeyVersion}, c.MemberIds...)
		if sigVersion >= 4 {
			extra = append(extra, nullBool(c.IsLegacyGroupUpgrade), nullStr(c.Title), nullStr(c.AvatarURL))
		}
		// The group create payload carries no conversation id.
		return build(p+"GroupCreate", false, extra...)
	case gc.GroupInviteEnable != nil:
		c := gc.GroupInviteEnable
		if c.InviteURL == nil {
			return nil, false
		}
		return build(p+"GroupInviteEnable", true, *c.InviteURL, nullInt(c.ExpiresAtMsec), nullStr(c.AffiliateID))
	case gc.GroupInviteDisable != nil:
		if gc.GroupInviteDisable.DisabledByMemberID == nil {
			return nil, false
		}
		return build(p+"GroupInviteDisable", true, *gc.GroupInviteDisable.DisabledByMemberID)
	case gc.GroupJoinRequest != nil:
		if gc.GroupJoinRequest.RequestingUserID == nil {
			return nil, false
		}
		return build(p+"GroupJoinRequest", true, *gc.GroupJoinRequest.RequestingUserID)
	case gc.GroupJoinReject != nil:
		if gc.GroupJoinReject.RejectedUserIds == nil {
			return nil, false
		}
		return build(p+"GroupJoinReject", true, gc.GroupJoinReject.RejectedUserIds...)
	}
	// GroupAdminSettingsChange has no signed payload (the XDK cannot verify
	// it either).
	return nil, false
}

func nullStr(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

func nullInt(v *int64) string {
	if v == nil {
		return "null"
	}
	return strconv.FormatInt(*v, 10)
}

func nullBool(v *bool) string {
	if v == nil {
		return "null"
	}
	return strconv.FormatBool(*v)
}
