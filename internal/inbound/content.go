package inbound

import (
	"time"

	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
)

// messageFromHolder maps a decrypted MessageEntryHolder into m. It returns
// the wire preview (if any) for validation.
func messageFromHolder(m *Message, h *product.MessageEntryHolder) *product.ReplyingToPreview {
	c := h.GetContents()
	if c == nil {
		m.Kind = ContentUnknown
		return nil
	}
	switch {
	case c.Message != nil:
		mc := c.Message
		m.Kind = ContentText
		t := &TextMessage{
			Text:             mc.GetMessageText(),
			Entities:         mapEntities(mc.Entities),
			Attachments:      mapAttachments(mc.Attachments),
			SentFrom:         int32(mc.GetSentFrom()),
			AdditionalFields: mc.AdditionalFields,
		}
		if f := mc.ForwardedMessage; f != nil {
			t.Forwarded = &Forwarded{Text: f.GetMessageText(), Entities: mapEntities(f.Entities)}
		}
		if q := mc.QuickReply; q != nil {
			t.QuickReply = mapQuickReply(q)
		}
		for _, cta := range mc.Ctas {
			if cta != nil {
				t.CallsToAction = append(t.CallsToAction, CallToAction{Label: cta.GetLabel(), URL: cta.GetURL()})
			}
		}
		if p := mc.ReplyingToPreview; p != nil {
			t.ReplyPreview = mapPreview(p)
		}
		m.Text = t
		return mc.ReplyingToPreview
	case c.ReactionAdd != nil:
		m.Kind = ContentReactionAdd
		r := c.ReactionAdd
		m.Reaction = &Reaction{TargetSequenceID: r.GetMessageSequenceID(), Emoji: r.GetEmoji(), TargetAttachmentID: r.GetMessageAttachmentID()}
	case c.ReactionRemove != nil:
		m.Kind = ContentReactionRemove
		r := c.ReactionRemove
		m.Reaction = &Reaction{TargetSequenceID: r.GetMessageSequenceID(), Emoji: r.GetEmoji(), TargetAttachmentID: r.GetMessageAttachmentID()}
	case c.MessageEdit != nil:
		m.Kind = ContentEdit
		e := c.MessageEdit
		m.Edit = &Edit{TargetSequenceID: e.GetMessageSequenceID(), Text: e.GetUpdatedText(), Entities: mapEntities(e.Entities)}
	case c.MarkConversationRead != nil:
		m.Kind = ContentMarkRead
		m.ReadMarker = &ReadMarker{SeenUntilSequenceID: c.MarkConversationRead.GetSeenUntilSequenceID(), SeenAtMillis: c.MarkConversationRead.GetSeenAtMillis()}
	case c.MarkConversationUnread != nil:
		m.Kind = ContentMarkUnread
		m.ReadMarker = &ReadMarker{SeenUntilSequenceID: c.MarkConversationUnread.GetSeenUntilSequenceID()}
	case c.PinConversation != nil:
		m.Kind = ContentPin
		m.Pin = &Pin{ConversationID: c.PinConversation.GetConversationID()}
	case c.UnpinConversation != nil:
		m.Kind = ContentUnpin
		m.Pin = &Pin{ConversationID: c.UnpinConversation.GetConversationID()}
	case c.ScreenCaptureDetected != nil:
		m.Kind = ContentScreenCapture
		m.ScreenCapture = &ScreenCapture{Type: int32(c.ScreenCaptureDetected.GetType())}
	case c.AvCallEnded != nil:
		m.Kind = ContentCallEnded
		x := c.AvCallEnded
		m.Call = &Call{AudioOnly: x.GetIsAudioOnly(), BroadcastID: x.GetBroadcastID(), SentAtMillis: x.GetSentAtMillis(), DurationSeconds: x.GetDurationSeconds()}
	case c.AvCallMissed != nil:
		m.Kind = ContentCallMissed
		x := c.AvCallMissed
		m.Call = &Call{AudioOnly: x.GetIsAudioOnly(), SentAtMillis: x.GetSentAtMillis()}
	case c.AvCallStarted != nil:
		m.Kind = ContentCallStarted
		x := c.AvCallStarted
		m.Call = &Call{AudioOnly: x.GetIsAudioOnly(), BroadcastID: x.GetBroadcastID()}
	case c.DraftMessage != nil:
		m.Kind = ContentDraft
		m.Draft = &Draft{ConversationID: c.DraftMessage.GetConversationID(), Text: c.DraftMessage.GetDraftText()}
	case c.AcceptMessageRequest != nil:
		m.Kind = ContentAcceptMessageRequest
	case c.NicknameMessage != nil:
		m.Kind = ContentNickname
		m.Nickname = &Nickname{UserID: c.NicknameMessage.GetUserID(), Text: c.NicknameMessage.GetNicknameText()}
	case c.SetVerifiedStatus != nil:
		m.Kind = ContentSetVerifiedStatus
		m.VerifiedStatus = &VerifiedStatus{UserID: c.SetVerifiedStatus.GetUserID(), Verified: c.SetVerifiedStatus.GetVerifiedStatus()}
	default:
		m.Kind = ContentUnknown
	}
	return nil
}

func mapPreview(p *product.ReplyingToPreview) *ReplyPreview {
	rp := &ReplyPreview{
		Text:              p.GetMessageText(),
		HasText:           p.MessageText != nil,
		Entities:          mapEntities(p.Entities),
		Attachments:       mapAttachments(p.Attachments),
		SenderDisplayName: p.GetSenderDisplayName(),
		SequenceID:        p.GetReplyingToMessageSequenceID(),
		MessageID:         p.GetReplyingToMessageID(),
		AttachmentID:      p.GetReplyingToAttachmentID(),
		HasSourceEvent:    p.RawEventMessageCreate != nil,
		HasEditEvent:      p.RawEventEditMessage != nil,
	}
	if p.SenderID != nil {
		rp.SenderID = formatInt(*p.SenderID)
	}
	return rp
}

func mapEntities(in []*product.RichTextEntity) []Entity {
	if len(in) == 0 {
		return nil
	}
	out := make([]Entity, 0, len(in))
	for _, e := range in {
		if e == nil {
			continue
		}
		ent := Entity{Start: e.GetStartIndex(), End: e.GetEndIndex()}
		if c := e.Content; c != nil {
			switch {
			case c.Hashtag != nil:
				ent.Type = EntityHashtag
			case c.Cashtag != nil:
				ent.Type = EntityCashtag
			case c.Mention != nil:
				ent.Type = EntityMention
			case c.URL != nil:
				ent.Type = EntityURL
			case c.Email != nil:
				ent.Type = EntityEmail
			case c.Address != nil:
				ent.Type = EntityAddress
			case c.PhoneNumber != nil:
				ent.Type = EntityPhoneNumber
			}
		}
		out = append(out, ent)
	}
	return out
}

func mapAttachments(in []*product.MessageAttachment) []Attachment {
	if len(in) == 0 {
		return nil
	}
	out := make([]Attachment, 0, len(in))
	for _, a := range in {
		if a == nil {
			continue
		}
		var at Attachment
		switch {
		case a.Media != nil:
			x := a.Media
			at.Kind = AttachmentMedia
			at.Media = &MediaAttachment{
				MediaHashKey:          x.GetMediaHashKey(),
				Type:                  MediaType(x.GetType()),
				DurationMillis:        x.GetDurationMillis(),
				FilesizeBytes:         x.GetFilesizeBytes(),
				Filename:              x.GetFilename(),
				AttachmentID:          x.GetAttachmentID(),
				LegacyMediaURLHTTPS:   x.GetLegacyMediaURLHTTPS(),
				LegacyMediaPreviewURL: x.GetLegacyMediaPreviewURL(),
				GrokTag:               x.GetGrokTag(),
			}
			if d := x.Dimensions; d != nil {
				at.Media.Width, at.Media.Height = d.GetWidth(), d.GetHeight()
			}
		case a.Post != nil:
			at.Kind = AttachmentPost
			at.Post = &PostAttachment{RestID: a.Post.GetRestID(), PostURL: a.Post.GetPostURL(), AttachmentID: a.Post.GetAttachmentID()}
		case a.URL != nil:
			x := a.URL
			at.Kind = AttachmentURL
			at.URL = &URLAttachment{URL: x.GetURL(), DisplayTitle: x.GetDisplayTitle(), AttachmentID: x.GetAttachmentID(),
				Banner: mapURLImage(x.BannerImageMediaHashKey), Favicon: mapURLImage(x.FaviconImageMediaHashKey)}
		case a.UnifiedCard != nil:
			at.Kind = AttachmentUnifiedCard
			at.UnifiedCard = &UnifiedCardAttachment{URL: a.UnifiedCard.GetURL(), AttachmentID: a.UnifiedCard.GetAttachmentID()}
		case a.Money != nil:
			at.Kind = AttachmentMoney
			at.Money = &MoneyAttachment{FallbackText: a.Money.GetFallbackText(), Payload: a.Money.Payload}
		case a.Jetfuel != nil:
			at.Kind = AttachmentJetfuel
			at.Jetfuel = &JetfuelAttachment{Height: a.Jetfuel.GetHeight(), URL: a.Jetfuel.GetURL(), AttachmentID: a.Jetfuel.GetAttachmentID()}
		}
		out = append(out, at)
	}
	return out
}

func mapURLImage(x *product.UrlAttachmentImage) *URLImage {
	if x == nil {
		return nil
	}
	img := &URLImage{MediaHashKey: x.GetMediaHashKey(), FilesizeBytes: x.GetFilesizeBytes(), Filename: x.GetFilename()}
	if d := x.Dimensions; d != nil {
		img.Width, img.Height = d.GetWidth(), d.GetHeight()
	}
	return img
}

func mapQuickReply(q *product.QuickReply) *QuickReply {
	switch {
	case q.Request != nil && q.Request.Options != nil:
		o := q.Request.Options
		qr := &QuickReply{RequestID: o.GetID()}
		for _, opt := range o.Options {
			if opt != nil {
				qr.Options = append(qr.Options, QuickReplyOption{ID: opt.GetID(), Label: opt.GetLabel(), Metadata: opt.GetMetadata(), Description: opt.GetDescription()})
			}
		}
		return qr
	case q.Response != nil && q.Response.Options != nil:
		o := q.Response.Options
		return &QuickReply{IsResponse: true, RequestID: o.GetRequestID(), Metadata: o.GetMetadata(), SelectedOptionID: o.GetSelectedOptionID()}
	}
	return nil
}

func mapGroupChange(g *event.GroupChangeEvent, sigVersion int) *GroupChange {
	out := &GroupChange{ForKeyRotation: g.GetForKeyRotation()}
	gc := g.GroupChange
	if gc == nil {
		return out
	}
	switch {
	case gc.GroupCreate != nil:
		c := gc.GroupCreate
		out.Kind = GroupCreated
		out.MemberIDs, out.AdminIDs = c.MemberIds, c.AdminIds
		out.Title, out.AvatarURL, out.KeyVersion = c.GetTitle(), c.GetAvatarURL(), c.GetConversationKeyVersion()
		out.IsLegacyGroupUpgrade = c.GetIsLegacyGroupUpgrade()
		out.TTL = msec(c.GetTTLMsec())
		// Signed: ckv, member ids, and from v4 legacy flag, title, avatar.
		out.Unsigned = unsignedIf(out.Unsigned, c.AdminIds != nil, "AdminIDs")
		out.Unsigned = unsignedIf(out.Unsigned, c.TTLMsec != nil, "TTL")
		if sigVersion < 4 {
			out.Unsigned = unsignedIf(out.Unsigned, c.IsLegacyGroupUpgrade != nil, "IsLegacyGroupUpgrade")
			out.Unsigned = unsignedIf(out.Unsigned, c.Title != nil, "Title")
			out.Unsigned = unsignedIf(out.Unsigned, c.AvatarURL != nil, "AvatarURL")
		}
	case gc.GroupTitleChange != nil:
		out.Kind = GroupTitleChanged
		out.Title, out.KeyVersion = gc.GroupTitleChange.GetCustomTitle(), gc.GroupTitleChange.GetConversationKeyVersion()
	case gc.GroupAvatarChange != nil:
		out.Kind = GroupAvatarChanged
		out.AvatarURL, out.KeyVersion = gc.GroupAvatarChange.GetCustomAvatarURL(), gc.GroupAvatarChange.GetConversationKeyVersion()
	case gc.GroupAdminAdd != nil:
		out.Kind = GroupAdminsAdded
		out.AdminIDs = gc.GroupAdminAdd.AdminIds
	case gc.GroupAdminRemove != nil:
		out.Kind = GroupAdminsRemoved
		out.AdminIDs = gc.GroupAdminRemove.AdminIds
	case gc.GroupMemberAdd != nil:
		c := gc.GroupMemberAdd
		out.Kind = GroupMembersAdded
		out.MemberIDs = c.MemberIds
		out.CurrentMemberIDs, out.CurrentAdminIDs, out.CurrentPendingMemberIDs = c.CurrentMemberIds, c.CurrentAdminIds, c.CurrentPendingMemberIds
		out.Title, out.AvatarURL, out.KeyVersion = c.GetCurrentTitle(), c.GetCurrentAvatarURL(), c.GetConversationKeyVersion()
		out.TTL = msec(c.GetCurrentTTLMsec())
		out.ScreenCaptureBlocking = c.ScreenCaptureBlockingEnabled
		out.Invite = mapInvite(c.GroupInviteEnable)
		if s := c.AdminSettings; s != nil {
			out.AdminSettings = &GroupAdminSettings{s.EditGroupInfo, s.EditMessageTTL, s.BlockScreenCapture, s.AddMember, s.SendMessage, s.StartCall}
		}
		out.Unsigned = unsignedIf(out.Unsigned, c.AdminSettings != nil, "AdminSettings")
		out.Unsigned = unsignedIf(out.Unsigned, c.CurrentPendingMemberIds != nil && (sigVersion < 3 || sigVersion >= 7), "CurrentPendingMemberIDs")
		out.Unsigned = unsignedIf(out.Unsigned, c.ScreenCaptureBlockingEnabled != nil && sigVersion <= 4, "ScreenCaptureBlocking")
		out.Unsigned = unsignedIf(out.Unsigned, c.GroupInviteEnable != nil && sigVersion <= 6, "Invite")
	case gc.GroupMemberRemove != nil:
		out.Kind = GroupMembersRemoved
		out.MemberIDs = gc.GroupMemberRemove.MemberIds
	case gc.GroupInviteEnable != nil:
		out.Kind = GroupInviteEnabled
		out.Invite = mapInvite(gc.GroupInviteEnable)
	case gc.GroupInviteDisable != nil:
		out.Kind = GroupInviteDisabled
		out.DisabledBy = gc.GroupInviteDisable.GetDisabledByMemberID()
	case gc.GroupJoinRequest != nil:
		out.Kind = GroupJoinRequested
		out.RequestingUserID = gc.GroupJoinRequest.GetRequestingUserID()
	case gc.GroupJoinReject != nil:
		out.Kind = GroupJoinRejected
		out.RejectedUserIDs = gc.GroupJoinReject.RejectedUserIds
	case gc.GroupAdminSettingsChange != nil:
		s := gc.GroupAdminSettingsChange
		out.Kind = GroupAdminSettingsChanged
		out.AdminSettings = &GroupAdminSettings{s.EditGroupInfo, s.EditMessageTTL, s.BlockScreenCapture, s.AddMember, s.SendMessage, s.StartCall}
	}
	return out
}

func unsignedIf(list []string, cond bool, name string) []string {
	if cond {
		return append(list, name)
	}
	return list
}

func mapInvite(x *event.GroupInviteEnable) *GroupInvite {
	if x == nil {
		return nil
	}
	return &GroupInvite{URL: x.GetInviteURL(), AffiliateID: x.GetAffiliateID(), ExpiresAtMsec: x.GetExpiresAtMsec()}
}

func mapMetadata(m *event.ConversationMetadataChangeEvent) *MetadataChange {
	out := &MetadataChange{}
	c := m.ConversationMetadataChange
	if c == nil {
		return out
	}
	switch {
	case c.MessageDurationChange != nil:
		out.Kind = MetadataMessageDurationChanged
		out.TTL = msec(c.MessageDurationChange.GetTTLMsec())
		out.ApplyToAllMessages = c.MessageDurationChange.GetApplyToAllMessages()
	case c.MessageDurationRemove != nil:
		out.Kind = MetadataMessageDurationRemoved
		out.TTL = msec(c.MessageDurationRemove.GetCurrentTTLMsec())
	case c.MuteConversation != nil:
		out.Kind = MetadataMuted
		out.ConversationIDs = c.MuteConversation.MutedConversationIds
	case c.UnmuteConversation != nil:
		out.Kind = MetadataUnmuted
		out.ConversationIDs = c.UnmuteConversation.UnmutedConversationIds
	case c.EnableScreenCaptureDetection != nil:
		out.Kind = MetadataScreenCaptureDetectionEnabled
	case c.DisableScreenCaptureDetection != nil:
		out.Kind = MetadataScreenCaptureDetectionDisabled
	case c.EnableScreenCaptureBlocking != nil:
		out.Kind = MetadataScreenCaptureBlockingEnabled
	case c.DisableScreenCaptureBlocking != nil:
		out.Kind = MetadataScreenCaptureBlockingDisabled
	}
	return out
}

// msec converts milliseconds to a Duration, saturating instead of
// overflowing on hostile values.
func msec(ms int64) time.Duration {
	const max = int64(1<<63-1) / int64(time.Millisecond)
	switch {
	case ms > max:
		return time.Duration(1<<63 - 1)
	case ms < -max:
		return time.Duration(-1 << 63)
	}
	return time.Duration(ms) * time.Millisecond
}
