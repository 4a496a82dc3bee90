package inbound

import (
	"strings"
	"unicode/utf8"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// validatePreview checks a reply preview against the raw signed source
// event embedded in it, as validate_reply_preview (crates/core/src/core.rs;
// docs/CRYPTO.md §10 "Reply preview validation") does, from signed fields
// only: the sequence ids a preview carries (the claimed one, the embedded
// original's envelope) are written by the replier and signed by nobody, so
// they decide nothing here. Whether an embedded edit is of the quoted
// message is for the caller to decide from its own store
// (PreviewValidation.SourceMessageID and EditTargetSequenceID).
func validatePreview(keys Keys, mm memos, ov overlay, outer *event.MessageEvent, p *product.ReplyingToPreview) PreviewValidation {
	invalid := func(reason error) PreviewValidation {
		return PreviewValidation{Status: PreviewInvalid, Reason: reason}
	}
	raw := p.RawEventMessageCreate
	if raw == nil {
		return invalid(ErrPreviewSource)
	}
	// Same conversation, or words from elsewhere could be attributed.
	if raw.ConversationID == nil || outer.ConversationID == nil || *raw.ConversationID != *outer.ConversationID {
		return invalid(ErrPreviewSource)
	}
	if raw.Detail == nil || raw.Detail.MessageCreateEvent == nil || raw.SenderID == nil {
		return invalid(ErrPreviewSource)
	}
	// Pinned keys of the original's sender; embedded keys are never used.
	if verifyEvent(keys, mm, raw, raw.Detail, nil, nil) != nil {
		return invalid(ErrPreviewSignature)
	}
	plain, ok := rawContents(keys, mm, ov, raw, p.RawEventCkces)
	if !ok {
		return invalid(ErrPreviewDecrypt)
	}
	holder, err := wire.DecodeMessageEntryHolder(plain)
	if err != nil || holder.Contents == nil || holder.Contents.Message == nil {
		return invalid(ErrPreviewDecrypt)
	}
	original := holder.Contents.Message

	if p.SenderID != nil && formatInt(*p.SenderID) != *raw.SenderID {
		return invalid(ErrPreviewSender)
	}
	if p.ReplyingToMessageID != nil && (raw.MessageID == nil || *raw.MessageID != *p.ReplyingToMessageID) {
		return invalid(ErrPreviewMessageID)
	}

	quotedText := original.GetMessageText()
	quotedEntities := original.Entities
	editTarget := ""
	if edit := p.RawEventEditMessage; edit != nil {
		if edit.ConversationID == nil || *edit.ConversationID != *outer.ConversationID ||
			edit.SenderID == nil || *edit.SenderID != *raw.SenderID ||
			edit.Detail == nil || edit.Detail.MessageCreateEvent == nil {
			return invalid(ErrPreviewEdit)
		}
		if verifyEvent(keys, mm, edit, edit.Detail, nil, nil) != nil {
			return invalid(ErrPreviewEdit)
		}
		ep, ok := rawContents(keys, mm, ov, edit, p.RawEventCkces)
		if !ok {
			return invalid(ErrPreviewEdit)
		}
		eh, err := wire.DecodeMessageEntryHolder(ep)
		if err != nil || eh.Contents == nil || eh.Contents.MessageEdit == nil {
			return invalid(ErrPreviewEdit)
		}
		me := eh.Contents.MessageEdit
		// The edit must name its target (signed by the author); whether
		// that is the quoted message the caller decides (see above).
		if me.MessageSequenceID == nil || *me.MessageSequenceID == "" {
			return invalid(ErrPreviewEdit)
		}
		editTarget = *me.MessageSequenceID
		quotedText = me.GetUpdatedText()
		quotedEntities = me.Entities
	}

	if p.MessageText != nil && !prefixOnRuneBoundary(quotedText, *p.MessageText) {
		return invalid(ErrPreviewText)
	}
	for _, claimed := range p.Entities {
		if !containsEntity(quotedEntities, claimed) {
			return invalid(ErrPreviewEntities)
		}
	}
	for _, claimed := range p.Attachments {
		if !containsAttachment(original.Attachments, claimed) {
			return invalid(ErrPreviewAttachments)
		}
	}
	return PreviewValidation{Status: PreviewValid, SourceMessageID: *raw.MessageID, EditTargetSequenceID: editTarget}
}

// prefixOnRuneBoundary reports whether claimed is quoted truncated on a
// character boundary (previews may be shortened on the wire).
func prefixOnRuneBoundary(quoted, claimed string) bool {
	if !strings.HasPrefix(quoted, claimed) {
		return false
	}
	return len(claimed) == len(quoted) || utf8.RuneStart(quoted[len(claimed)])
}

func containsEntity(list []*product.RichTextEntity, e *product.RichTextEntity) bool {
	for _, x := range list {
		if x.Equals(e) {
			return true
		}
	}
	return false
}

func containsAttachment(list []*product.MessageAttachment, a *product.MessageAttachment) bool {
	for _, x := range list {
		if x.Equals(a) {
			return true
		}
	}
	return false
}

// rawContents returns the plaintext of an embedded raw message create,
// with the key from Keys, the batch, or an embedded key change addressed to
// this account. Embedded key changes need no signature check here: the raw
// event's ciphertext is signature-bound, so a wrong key cannot open it.
func rawContents(keys Keys, mm memos, ov overlay, raw *event.MessageEvent, ckces []*event.MessageEvent) ([]byte, bool) {
	mce := raw.Detail.MessageCreateEvent
	if mce.Contents == nil {
		return nil, false
	}
	if mce.ConversationKeyVersion == nil { // plaintext contents (signature verified)
		return mce.Contents, true
	}
	version := *mce.ConversationKeyVersion
	if k, ok := lookupKey(keys, ov, raw.GetConversationID(), version); ok {
		plain, err := crypto.Open(k, mce.Contents)
		return plain, err == nil
	}
	tried := 0
	for _, kev := range ckces {
		if kev == nil || kev.Detail == nil || kev.Detail.ConversationKeyChangeEvent == nil {
			continue
		}
		kce := kev.Detail.ConversationKeyChangeEvent
		if kce.GetConversationKeyVersion() != version {
			continue
		}
		if tried == maxUnwrapAttempts {
			break // an honest preview embeds one key change per version
		}
		tried++
		k, err := unwrapOwn(keys, kce, mm.unwraps)
		if err != nil {
			continue
		}
		plain, err := crypto.Open(k, mce.Contents)
		k.Zero()
		if err == nil {
			return plain, true
		}
	}
	return nil, false
}
