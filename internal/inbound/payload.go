package inbound

import (
	"errors"

	"github.com/xchat-go/xchat/crypto"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// errNotSigned reports a detail that has no signed payload: an unsigned
// kind, or a signed kind missing a field its payload needs.
var errNotSigned = errors.New("inbound: no signed payload")

// signedPayload rebuilds, with crypto's builders, the payload the sender
// signed for the event's detail, mirroring build_event_signature_payload
// (crates/core/src/core.rs). ckey is the plaintext conversation key, needed
// only for key changes at v6+. sigVersion must lie in
// [crypto.MinSignatureVersion, crypto.SignatureVersion]. It returns false
// for unsigned kinds, for absent signed fields and when a component
// contains a comma.
//
// The conversation component is the event's conversation_id, omitted when
// absent (and always for GroupCreate). Empty message, sender or conversation
// ids make the event unsignable, so it never verifies.
func signedPayload(me *tevent.MessageEvent, d *tevent.MessageEventDetail, sigVersion int, ckey *crypto.ConversationKey) (crypto.Payload, bool) {
	if me.MessageID == nil || me.SenderID == nil || d == nil {
		return crypto.Payload{}, false
	}
	if *me.MessageID == "" || *me.SenderID == "" || (me.ConversationID != nil && *me.ConversationID == "") {
		// No honest sender signs an empty id; such an event is malformed.
		return crypto.Payload{}, false
	}
	h := crypto.Header{MessageID: *me.MessageID, SenderID: *me.SenderID, ConversationID: me.GetConversationID()}
	p, err := detailPayload(d, sigVersion, h, ckey)
	if err != nil {
		return crypto.Payload{}, false
	}
	return p, true
}

// detailPayload maps the decoded detail onto the crypto builder for its
// kind.
func detailPayload(d *tevent.MessageEventDetail, v int, h crypto.Header, ckey *crypto.ConversationKey) (crypto.Payload, error) {
	switch {
	case d.MessageCreateEvent != nil:
		mce := d.MessageCreateEvent
		if mce.Contents == nil {
			return crypto.Payload{}, errNotSigned
		}
		return crypto.MessageCreatePayload(v, h, mce.GetConversationKeyVersion(), mce.Contents)

	case d.ConversationKeyChangeEvent != nil:
		kce := d.ConversationKeyChangeEvent
		if kce.ConversationKeyVersion == nil {
			return crypto.Payload{}, errNotSigned
		}
		kc := crypto.KeyChange{ConversationKeyVersion: *kce.ConversationKeyVersion}
		if v >= crypto.CKeyPlaintextSignatureVersion {
			if ckey == nil {
				return crypto.Payload{}, errNotSigned
			}
			kc.Key = ckey
			return crypto.KeyChangePayload(v, h, kc)
		}
		if kce.ConversationParticipantKeys == nil {
			return crypto.Payload{}, errNotSigned
		}
		kc.Participants = make([]crypto.ParticipantKey, 0, len(kce.ConversationParticipantKeys))
		for _, pk := range kce.ConversationParticipantKeys {
			if pk == nil {
				return crypto.Payload{}, errNotSigned
			}
			kc.Participants = append(kc.Participants, crypto.ParticipantKey{
				UserID: pk.GetUserID(), EncryptedConversationKey: pk.GetEncryptedConversationKey(), PublicKeyVersion: pk.GetPublicKeyVersion(),
			})
		}
		return crypto.KeyChangePayload(v, h, kc)

	case d.MessageDeleteEvent != nil:
		del := d.MessageDeleteEvent
		if del.DeleteMessageAction == nil || del.SequenceIds == nil {
			return crypto.Payload{}, errNotSigned
		}
		action := int64(*del.DeleteMessageAction)
		if action != int64(int32(action)) { // Thrift enums are i32 on the wire
			return crypto.Payload{}, errNotSigned
		}
		return crypto.MessageDeletePayload(v, h, int32(action), del.SequenceIds)

	case d.ConversationDeleteEvent != nil:
		var clearAll *bool
		var sortOrder *int64
		if o := d.ConversationDeleteEvent.ClearConversationOptions; o != nil {
			clearAll, sortOrder = o.ClearAllMessages, o.SortOrderMsec
		}
		return crypto.ConversationDeletePayload(v, h, clearAll, sortOrder)

	case d.MarkConversationReadEvent != nil:
		r := d.MarkConversationReadEvent
		if r.SeenUntilSequenceID == nil {
			return crypto.Payload{}, errNotSigned
		}
		return crypto.MarkReadPayload(v, h, *r.SeenUntilSequenceID, r.SeenAtMillis)

	case d.MarkConversationUnreadEvent != nil:
		return crypto.MarkUnreadPayload(v, h, d.MarkConversationUnreadEvent.SeenUntilSequenceID)

	case d.GroupChangeEvent != nil:
		return groupChangePayload(d.GroupChangeEvent.GroupChange, v, h)

	case d.ConversationMetadataChangeEvent != nil:
		return metadataChangePayload(d.ConversationMetadataChangeEvent.ConversationMetadataChange, v, h)
	}
	return crypto.Payload{}, errNotSigned
}

func groupChangePayload(gc *tevent.GroupChange, v int, h crypto.Header) (crypto.Payload, error) {
	if gc == nil {
		return crypto.Payload{}, errNotSigned
	}
	switch {
	case gc.GroupMemberAdd != nil:
		c := gc.GroupMemberAdd
		if c.MemberIds == nil || c.CurrentMemberIds == nil || c.CurrentAdminIds == nil || c.ConversationKeyVersion == nil {
			return crypto.Payload{}, errNotSigned
		}
		ma := crypto.GroupMemberAdd{
			NewMemberIDs:                 c.MemberIds,
			CurrentMemberIDs:             c.CurrentMemberIds,
			CurrentAdminIDs:              c.CurrentAdminIds,
			CurrentPendingMemberIDs:      c.CurrentPendingMemberIds,
			CurrentTitle:                 c.CurrentTitle,
			CurrentAvatarURL:             c.CurrentAvatarURL,
			CurrentTTLMsec:               c.CurrentTTLMsec,
			ConversationKeyVersion:       *c.ConversationKeyVersion,
			ScreenCaptureBlockingEnabled: c.ScreenCaptureBlockingEnabled,
		}
		if inv := c.GroupInviteEnable; inv != nil {
			ma.Invite = &crypto.GroupInvite{InviteURL: inv.InviteURL, AffiliateID: inv.AffiliateID, ExpiresAtMsec: inv.ExpiresAtMsec}
		}
		return crypto.GroupMemberAddPayload(v, h, ma)
	case gc.GroupMemberRemove != nil:
		return idListPayload(v, h, crypto.KindGroupMemberRemove, gc.GroupMemberRemove.MemberIds)
	case gc.GroupAdminAdd != nil:
		return idListPayload(v, h, crypto.KindGroupAdminAdd, gc.GroupAdminAdd.AdminIds)
	case gc.GroupAdminRemove != nil:
		return idListPayload(v, h, crypto.KindGroupAdminRemove, gc.GroupAdminRemove.AdminIds)
	case gc.GroupTitleChange != nil:
		c := gc.GroupTitleChange
		if c.ConversationKeyVersion == nil {
			return crypto.Payload{}, errNotSigned
		}
		return crypto.GroupTitleChangePayload(v, h, *c.ConversationKeyVersion, c.CustomTitle)
	case gc.GroupAvatarChange != nil:
		c := gc.GroupAvatarChange
		if c.ConversationKeyVersion == nil {
			return crypto.Payload{}, errNotSigned
		}
		return crypto.GroupAvatarChangePayload(v, h, *c.ConversationKeyVersion, c.CustomAvatarURL)
	case gc.GroupCreate != nil:
		c := gc.GroupCreate
		if c.MemberIds == nil || c.ConversationKeyVersion == nil {
			return crypto.Payload{}, errNotSigned
		}
		// GroupCreatePayload never signs the conversation id.
		return crypto.GroupCreatePayload(v, h, crypto.GroupCreate{
			ConversationKeyVersion: *c.ConversationKeyVersion,
			MemberIDs:              c.MemberIds,
			IsLegacyGroupUpgrade:   c.IsLegacyGroupUpgrade,
			Title:                  c.Title,
			AvatarURL:              c.AvatarURL,
		})
	case gc.GroupInviteEnable != nil:
		c := gc.GroupInviteEnable
		if c.InviteURL == nil {
			return crypto.Payload{}, errNotSigned
		}
		return crypto.GroupInviteEnablePayload(v, h, *c.InviteURL, c.ExpiresAtMsec, c.AffiliateID)
	case gc.GroupInviteDisable != nil:
		if gc.GroupInviteDisable.DisabledByMemberID == nil {
			return crypto.Payload{}, errNotSigned
		}
		return crypto.GroupInviteDisablePayload(v, h, *gc.GroupInviteDisable.DisabledByMemberID)
	case gc.GroupJoinRequest != nil:
		if gc.GroupJoinRequest.RequestingUserID == nil {
			return crypto.Payload{}, errNotSigned
		}
		return crypto.GroupJoinRequestPayload(v, h, *gc.GroupJoinRequest.RequestingUserID)
	case gc.GroupJoinReject != nil:
		return idListPayload(v, h, crypto.KindGroupJoinReject, gc.GroupJoinReject.RejectedUserIds)
	}
	// GroupAdminSettingsChange has no signed payload (the XDK cannot verify
	// it either).
	return crypto.Payload{}, errNotSigned
}

// idListPayload builds a group id-list payload; the list must be present.
func idListPayload(v int, h crypto.Header, kind string, ids []string) (crypto.Payload, error) {
	if ids == nil {
		return crypto.Payload{}, errNotSigned
	}
	return crypto.GroupIDListPayload(v, h, kind, ids)
}

func metadataChangePayload(c *tevent.ConversationMetadataChange, v int, h crypto.Header) (crypto.Payload, error) {
	if c == nil {
		return crypto.Payload{}, errNotSigned
	}
	switch {
	case c.MessageDurationChange != nil:
		if c.MessageDurationChange.TTLMsec == nil {
			return crypto.Payload{}, errNotSigned
		}
		return crypto.DurationChangePayload(v, h, *c.MessageDurationChange.TTLMsec)
	case c.MessageDurationRemove != nil:
		return crypto.FlagPayload(v, h, crypto.KindDurationRemove)
	case c.MuteConversation != nil:
		// The id list is signed even when absent (as no ids).
		return crypto.GroupIDListPayload(v, h, crypto.KindMuteConversation, c.MuteConversation.MutedConversationIds)
	case c.UnmuteConversation != nil:
		return crypto.GroupIDListPayload(v, h, crypto.KindUnmuteConversation, c.UnmuteConversation.UnmutedConversationIds)
	case c.EnableScreenCaptureDetection != nil:
		return crypto.FlagPayload(v, h, crypto.KindEnableCaptureDetect)
	case c.DisableScreenCaptureDetection != nil:
		return crypto.FlagPayload(v, h, crypto.KindDisableCaptureDetect)
	case c.EnableScreenCaptureBlocking != nil:
		return crypto.FlagPayload(v, h, crypto.KindEnableCaptureBlock)
	case c.DisableScreenCaptureBlocking != nil:
		return crypto.FlagPayload(v, h, crypto.KindDisableCaptureBlock)
	}
	return crypto.Payload{}, errNotSigned
}
