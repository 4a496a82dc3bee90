package inbound

import (
	"time"

	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
)

// messageFromHolder maps a decrypted MessageEntryHolder into m. It returns
// the wire preview (if any) for validation.
func messageFromHolder(m *event.Message, h *product.MessageEntryHolder) *product.ReplyingToPreview {
	switch c := h.GetContents(); {
	case c == nil:
		m.Kind = event.ContentUnknown
	case c.Message != nil:
		m.Kind, m.Text = event.ContentText, mapText(c.Message)
		return c.Message.ReplyingToPreview
	default:
		mapContents(m, c)
	}
	return nil
}

// mapText maps a chat message.
func mapText(mc *product.MessageContents) *event.TextMessage {
	t := &event.TextMessage{
		Text:             mc.GetMessageText(),
		Entities:         mapEntities(mc.Entities),
		Attachments:      mapAttachments(mc.Attachments),
		SentFrom:         int32(mc.GetSentFrom()),
		AdditionalFields: mc.AdditionalFields,
	}
	if f := mc.ForwardedMessage; f != nil {
		t.Forwarded = &event.Forwarded{Text: f.GetMessageText(), Entities: mapEntities(f.Entities)}
	}
	if q := mc.QuickReply; q != nil {
		t.QuickReply = mapQuickReply(q)
	}
	for _, cta := range mc.Ctas {
		if cta != nil {
			t.CallsToAction = append(t.CallsToAction, event.CallToAction{Label: cta.GetLabel(), URL: cta.GetURL()})
		}
	}
	if p := mc.ReplyingToPreview; p != nil {
		t.ReplyPreview = mapPreview(p)
	}
	return t
}

// mapContents maps the entry contents other than a chat message.
func mapContents(m *event.Message, c *product.MessageEntryContents) {
	switch {
	case c.ReactionAdd != nil:
		m.Kind = event.ContentReactionAdd
		r := c.ReactionAdd
		m.Reaction = &event.Reaction{TargetSequenceID: r.GetMessageSequenceID(), Emoji: r.GetEmoji(), TargetAttachmentID: r.GetMessageAttachmentID()}
	case c.ReactionRemove != nil:
		m.Kind = event.ContentReactionRemove
		r := c.ReactionRemove
		m.Reaction = &event.Reaction{TargetSequenceID: r.GetMessageSequenceID(), Emoji: r.GetEmoji(), TargetAttachmentID: r.GetMessageAttachmentID()}
	case c.MessageEdit != nil:
		m.Kind = event.ContentEdit
		e := c.MessageEdit
		m.Edit = &event.Edit{TargetSequenceID: e.GetMessageSequenceID(), Text: e.GetUpdatedText(), Entities: mapEntities(e.Entities)}
	case c.MarkConversationRead != nil:
		m.Kind = event.ContentMarkRead
		m.ReadMarker = &event.ReadMarker{SeenUntilSequenceID: c.MarkConversationRead.GetSeenUntilSequenceID(), SeenAtMillis: c.MarkConversationRead.GetSeenAtMillis()}
	case c.MarkConversationUnread != nil:
		m.Kind = event.ContentMarkUnread
		m.ReadMarker = &event.ReadMarker{SeenUntilSequenceID: c.MarkConversationUnread.GetSeenUntilSequenceID()}
	case c.PinConversation != nil:
		m.Kind = event.ContentPin
		m.Pin = &event.Pin{ConversationID: c.PinConversation.GetConversationID()}
	case c.UnpinConversation != nil:
		m.Kind = event.ContentUnpin
		m.Pin = &event.Pin{ConversationID: c.UnpinConversation.GetConversationID()}
	case c.ScreenCaptureDetected != nil:
		m.Kind = event.ContentScreenCapture
		m.ScreenCapture = &event.ScreenCapture{Type: int32(c.ScreenCaptureDetected.GetType())}
	case c.AvCallEnded != nil:
		m.Kind = event.ContentCallEnded
		x := c.AvCallEnded
		m.Call = &event.Call{AudioOnly: x.GetIsAudioOnly(), BroadcastID: x.GetBroadcastID(), SentAtMillis: x.GetSentAtMillis(), DurationSeconds: x.GetDurationSeconds()}
	case c.AvCallMissed != nil:
		m.Kind = event.ContentCallMissed
		x := c.AvCallMissed
		m.Call = &event.Call{AudioOnly: x.GetIsAudioOnly(), SentAtMillis: x.GetSentAtMillis()}
	case c.AvCallStarted != nil:
		m.Kind = event.ContentCallStarted
		x := c.AvCallStarted
		m.Call = &event.Call{AudioOnly: x.GetIsAudioOnly(), BroadcastID: x.GetBroadcastID()}
	case c.DraftMessage != nil:
		m.Kind = event.ContentDraft
		m.Draft = &event.Draft{ConversationID: c.DraftMessage.GetConversationID(), Text: c.DraftMessage.GetDraftText()}
	case c.AcceptMessageRequest != nil:
		m.Kind = event.ContentAcceptMessageRequest
	case c.NicknameMessage != nil:
		m.Kind = event.ContentNickname
		m.Nickname = &event.Nickname{UserID: c.NicknameMessage.GetUserID(), Text: c.NicknameMessage.GetNicknameText()}
	case c.SetVerifiedStatus != nil:
		m.Kind = event.ContentSetVerifiedStatus
		m.VerifiedStatus = &event.VerifiedStatus{UserID: c.SetVerifiedStatus.GetUserID(), Verified: c.SetVerifiedStatus.GetVerifiedStatus()}
	default:
		m.Kind = event.ContentUnknown
	}
}

func mapPreview(p *product.ReplyingToPreview) *event.ReplyPreview {
	rp := &event.ReplyPreview{
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

// mapEach maps the non-nil elements of in with f; an empty in gives nil.
func mapEach[T, U any](in []*T, f func(*T) U) []U {
	if len(in) == 0 {
		return nil
	}
	out := make([]U, 0, len(in))
	for _, x := range in {
		if x != nil {
			out = append(out, f(x))
		}
	}
	return out
}

func mapEntities(in []*product.RichTextEntity) []event.Entity { return mapEach(in, mapEntity) }

func mapEntity(e *product.RichTextEntity) event.Entity {
	ent := event.Entity{Start: e.GetStartIndex(), End: e.GetEndIndex()}
	if c := e.Content; c != nil {
		switch {
		case c.Hashtag != nil:
			ent.Type = event.EntityHashtag
		case c.Cashtag != nil:
			ent.Type = event.EntityCashtag
		case c.Mention != nil:
			ent.Type = event.EntityMention
		case c.URL != nil:
			ent.Type = event.EntityURL
		case c.Email != nil:
			ent.Type = event.EntityEmail
		case c.Address != nil:
			ent.Type = event.EntityAddress
		case c.PhoneNumber != nil:
			ent.Type = event.EntityPhoneNumber
		}
	}
	return ent
}

func mapAttachments(in []*product.MessageAttachment) []event.Attachment {
	return mapEach(in, mapAttachment)
}

func mapAttachment(a *product.MessageAttachment) event.Attachment {
	var at event.Attachment
	switch {
	case a.Media != nil:
		x := a.Media
		at.Kind = event.AttachmentMedia
		at.Media = &event.MediaAttachment{
			MediaHashKey:          x.GetMediaHashKey(),
			Type:                  event.MediaType(x.GetType()),
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
		at.Kind = event.AttachmentPost
		at.Post = &event.PostAttachment{RestID: a.Post.GetRestID(), PostURL: a.Post.GetPostURL(), AttachmentID: a.Post.GetAttachmentID()}
	case a.URL != nil:
		x := a.URL
		at.Kind = event.AttachmentURL
		at.URL = &event.URLAttachment{URL: x.GetURL(), DisplayTitle: x.GetDisplayTitle(), AttachmentID: x.GetAttachmentID(),
			Banner: mapURLImage(x.BannerImageMediaHashKey), Favicon: mapURLImage(x.FaviconImageMediaHashKey)}
	case a.UnifiedCard != nil:
		at.Kind = event.AttachmentUnifiedCard
		at.UnifiedCard = &event.UnifiedCardAttachment{URL: a.UnifiedCard.GetURL(), AttachmentID: a.UnifiedCard.GetAttachmentID()}
	case a.Money != nil:
		at.Kind = event.AttachmentMoney
		at.Money = &event.MoneyAttachment{FallbackText: a.Money.GetFallbackText(), Payload: a.Money.Payload}
	case a.Jetfuel != nil:
		at.Kind = event.AttachmentJetfuel
		at.Jetfuel = &event.JetfuelAttachment{Height: a.Jetfuel.GetHeight(), URL: a.Jetfuel.GetURL(), AttachmentID: a.Jetfuel.GetAttachmentID()}
	}
	return at
}

func mapURLImage(x *product.UrlAttachmentImage) *event.URLImage {
	if x == nil {
		return nil
	}
	img := &event.URLImage{MediaHashKey: x.GetMediaHashKey(), FilesizeBytes: x.GetFilesizeBytes(), Filename: x.GetFilename()}
	if d := x.Dimensions; d != nil {
		img.Width, img.Height = d.GetWidth(), d.GetHeight()
	}
	return img
}

func mapQuickReply(q *product.QuickReply) *event.QuickReply {
	switch {
	case q.Request != nil && q.Request.Options != nil:
		o := q.Request.Options
		qr := &event.QuickReply{RequestID: o.GetID()}
		for _, opt := range o.Options {
			if opt != nil {
				qr.Options = append(qr.Options, event.QuickReplyOption{ID: opt.GetID(), Label: opt.GetLabel(), Metadata: opt.GetMetadata(), Description: opt.GetDescription()})
			}
		}
		return qr
	case q.Response != nil && q.Response.Options != nil:
		o := q.Response.Options
		return &event.QuickReply{IsResponse: true, RequestID: o.GetRequestID(), Metadata: o.GetMetadata(), SelectedOptionID: o.GetSelectedOptionID()}
	}
	return nil
}

func mapGroupChange(g *tevent.GroupChangeEvent, sigVersion int) *event.GroupChange {
	out := &event.GroupChange{ForKeyRotation: g.GetForKeyRotation()}
	gc := g.GroupChange
	if gc == nil {
		return out
	}
	switch {
	case gc.GroupCreate != nil:
		c := gc.GroupCreate
		out.Kind = event.GroupCreated
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
		} else {
			out.Unsigned = unsignedIf(out.Unsigned, signedAsAbsent(c.Title), "Title")
			out.Unsigned = unsignedIf(out.Unsigned, signedAsAbsent(c.AvatarURL), "AvatarURL")
		}
	case gc.GroupTitleChange != nil:
		out.Kind = event.GroupTitleChanged
		out.Title, out.KeyVersion = gc.GroupTitleChange.GetCustomTitle(), gc.GroupTitleChange.GetConversationKeyVersion()
	case gc.GroupAvatarChange != nil:
		out.Kind = event.GroupAvatarChanged
		out.AvatarURL, out.KeyVersion = gc.GroupAvatarChange.GetCustomAvatarURL(), gc.GroupAvatarChange.GetConversationKeyVersion()
	case gc.GroupAdminAdd != nil:
		out.Kind = event.GroupAdminsAdded
		out.AdminIDs = gc.GroupAdminAdd.AdminIds
	case gc.GroupAdminRemove != nil:
		out.Kind = event.GroupAdminsRemoved
		out.AdminIDs = gc.GroupAdminRemove.AdminIds
	case gc.GroupMemberAdd != nil:
		c := gc.GroupMemberAdd
		out.Kind = event.GroupMembersAdded
		out.MemberIDs = c.MemberIds
		out.CurrentMemberIDs, out.CurrentAdminIDs, out.CurrentPendingMemberIDs = c.CurrentMemberIds, c.CurrentAdminIds, c.CurrentPendingMemberIds
		out.Title, out.AvatarURL, out.KeyVersion = c.GetCurrentTitle(), c.GetCurrentAvatarURL(), c.GetConversationKeyVersion()
		out.TTL = msec(c.GetCurrentTTLMsec())
		out.ScreenCaptureBlocking = c.ScreenCaptureBlockingEnabled
		out.Invite = mapInvite(c.GroupInviteEnable)
		if s := c.AdminSettings; s != nil {
			out.AdminSettings = &event.GroupAdminSettings{EditGroupInfo: s.EditGroupInfo, EditMessageTTL: s.EditMessageTTL, BlockScreenCapture: s.BlockScreenCapture, AddMember: s.AddMember, SendMessage: s.SendMessage, StartCall: s.StartCall}
		}
		out.Unsigned = unsignedIf(out.Unsigned, c.AdminSettings != nil, "AdminSettings")
		out.Unsigned = unsignedIf(out.Unsigned, signedAsAbsent(c.CurrentTitle), "Title")
		out.Unsigned = unsignedIf(out.Unsigned, signedAsAbsent(c.CurrentAvatarURL), "AvatarURL")
		out.Unsigned = unsignedIf(out.Unsigned, c.CurrentPendingMemberIds != nil && (sigVersion < 3 || sigVersion >= 7), "CurrentPendingMemberIDs")
		out.Unsigned = unsignedIf(out.Unsigned, c.ScreenCaptureBlockingEnabled != nil && sigVersion <= 4, "ScreenCaptureBlocking")
		out.Unsigned = unsignedIf(out.Unsigned, c.GroupInviteEnable != nil && sigVersion <= 6, "Invite")
	case gc.GroupMemberRemove != nil:
		out.Kind = event.GroupMembersRemoved
		out.MemberIDs = gc.GroupMemberRemove.MemberIds
	case gc.GroupInviteEnable != nil:
		out.Kind = event.GroupInviteEnabled
		out.Invite = mapInvite(gc.GroupInviteEnable)
	case gc.GroupInviteDisable != nil:
		out.Kind = event.GroupInviteDisabled
		out.DisabledBy = gc.GroupInviteDisable.GetDisabledByMemberID()
	case gc.GroupJoinRequest != nil:
		out.Kind = event.GroupJoinRequested
		out.RequestingUserID = gc.GroupJoinRequest.GetRequestingUserID()
	case gc.GroupJoinReject != nil:
		out.Kind = event.GroupJoinRejected
		out.RejectedUserIDs = gc.GroupJoinReject.RejectedUserIds
	case gc.GroupAdminSettingsChange != nil:
		s := gc.GroupAdminSettingsChange
		out.Kind = event.GroupAdminSettingsChanged
		out.AdminSettings = &event.GroupAdminSettings{EditGroupInfo: s.EditGroupInfo, EditMessageTTL: s.EditMessageTTL, BlockScreenCapture: s.BlockScreenCapture, AddMember: s.AddMember, SendMessage: s.SendMessage, StartCall: s.StartCall}
	}
	return out
}

// signedAsAbsent reports whether an optional string a payload renders as
// "null" when absent holds that very string: the signature reads the same
// either way, so the value is the server's choice (it may write "null"
// where the signer left the field out).
func signedAsAbsent(s *string) bool {
	return s != nil && *s == "null"
}

func unsignedIf(list []string, cond bool, name string) []string {
	if cond {
		return append(list, name)
	}
	return list
}

func mapInvite(x *tevent.GroupInviteEnable) *event.GroupInvite {
	if x == nil {
		return nil
	}
	return &event.GroupInvite{URL: x.GetInviteURL(), AffiliateID: x.GetAffiliateID(), ExpiresAtMsec: x.GetExpiresAtMsec()}
}

func mapMetadata(m *tevent.ConversationMetadataChangeEvent) *event.MetadataChange {
	out := &event.MetadataChange{}
	c := m.ConversationMetadataChange
	if c == nil {
		return out
	}
	switch {
	case c.MessageDurationChange != nil:
		out.Kind = event.MetadataMessageDurationChanged
		out.TTL = msec(c.MessageDurationChange.GetTTLMsec())
		out.ApplyToAllMessages = c.MessageDurationChange.GetApplyToAllMessages()
	case c.MessageDurationRemove != nil:
		out.Kind = event.MetadataMessageDurationRemoved
		out.TTL = msec(c.MessageDurationRemove.GetCurrentTTLMsec())
	case c.MuteConversation != nil:
		out.Kind = event.MetadataMuted
		out.ConversationIDs = c.MuteConversation.MutedConversationIds
	case c.UnmuteConversation != nil:
		out.Kind = event.MetadataUnmuted
		out.ConversationIDs = c.UnmuteConversation.UnmutedConversationIds
	case c.EnableScreenCaptureDetection != nil:
		out.Kind = event.MetadataScreenCaptureDetectionEnabled
	case c.DisableScreenCaptureDetection != nil:
		out.Kind = event.MetadataScreenCaptureDetectionDisabled
	case c.EnableScreenCaptureBlocking != nil:
		out.Kind = event.MetadataScreenCaptureBlockingEnabled
	case c.DisableScreenCaptureBlocking != nil:
		out.Kind = event.MetadataScreenCaptureBlockingDisabled
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
