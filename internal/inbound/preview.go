package inbound

import (
	"strings"
	"unicode/utf8"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
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
func validatePreview(keys Keys, mm memos, ov overlay, outer *tevent.MessageEvent, p *product.ReplyingToPreview) event.PreviewValidation {
	invalid := func(reason error) event.PreviewValidation {
		return event.PreviewValidation{Status: event.PreviewInvalid, Reason: reason}
	}
	raw, original, err := previewSource(keys, mm, ov, outer, p)
	if err != nil {
		return invalid(err)
	}
	if p.SenderID != nil && formatInt(*p.SenderID) != *raw.SenderID {
		return invalid(ErrPreviewSender)
	}
	if p.ReplyingToMessageID != nil && (raw.MessageID == nil || *raw.MessageID != *p.ReplyingToMessageID) {
		return invalid(ErrPreviewMessageID)
	}
	quotedText, quotedEntities, editTarget := original.GetMessageText(), original.Entities, ""
	if p.RawEventEditMessage != nil {
		edit, err := previewEdit(keys, mm, ov, outer, raw, p)
		if err != nil {
			return invalid(err)
		}
		editTarget, quotedText, quotedEntities = *edit.MessageSequenceID, edit.GetUpdatedText(), edit.Entities
	}
	if err := checkQuote(p, quotedText, quotedEntities, original.Attachments); err != nil {
		return invalid(err)
	}
	return event.PreviewValidation{Status: event.PreviewValid, SourceMessageID: *raw.MessageID, EditTargetSequenceID: editTarget}
}

// previewSource returns the quoted message embedded in a preview (its raw
// event and decrypted contents) once it is known to be a message create of
// the same conversation, signed by its sender's pinned key.
func previewSource(keys Keys, mm memos, ov overlay, outer *tevent.MessageEvent, p *product.ReplyingToPreview) (*tevent.MessageEvent, *product.MessageContents, error) {
	raw := p.RawEventMessageCreate
	if raw == nil {
		return nil, nil, ErrPreviewSource
	}
	// Same conversation, or words from elsewhere could be attributed.
	if raw.ConversationID == nil || outer.ConversationID == nil || *raw.ConversationID != *outer.ConversationID {
		return nil, nil, ErrPreviewSource
	}
	if raw.Detail == nil || raw.Detail.MessageCreateEvent == nil || raw.SenderID == nil {
		return nil, nil, ErrPreviewSource
	}
	// Pinned keys of the original's sender; embedded keys are never used.
	if verifyEvent(keys, mm, raw, raw.Detail, nil, nil) != nil {
		return nil, nil, ErrPreviewSignature
	}
	plain, ok := rawContents(keys, mm, ov, raw, p.RawEventCkces)
	if !ok {
		return nil, nil, ErrPreviewDecrypt
	}
	holder, err := wire.DecodeMessageEntryHolder(plain)
	if err != nil || holder.Contents == nil || holder.Contents.Message == nil {
		return nil, nil, ErrPreviewDecrypt
	}
	return raw, holder.Contents.Message, nil
}

// previewEdit returns the edit embedded in a preview once it is known to
// be a verified edit by the quoted message's author in this conversation,
// naming its target (signed by the author); whether that target is the
// quoted message the caller decides.
func previewEdit(keys Keys, mm memos, ov overlay, outer, raw *tevent.MessageEvent, p *product.ReplyingToPreview) (*product.MessageEdit, error) {
	edit := p.RawEventEditMessage
	if edit.ConversationID == nil || *edit.ConversationID != *outer.ConversationID ||
		edit.SenderID == nil || *edit.SenderID != *raw.SenderID ||
		edit.Detail == nil || edit.Detail.MessageCreateEvent == nil {
		return nil, ErrPreviewEdit
	}
	if verifyEvent(keys, mm, edit, edit.Detail, nil, nil) != nil {
		return nil, ErrPreviewEdit
	}
	ep, ok := rawContents(keys, mm, ov, edit, p.RawEventCkces)
	if !ok {
		return nil, ErrPreviewEdit
	}
	eh, err := wire.DecodeMessageEntryHolder(ep)
	if err != nil || eh.Contents == nil || eh.Contents.MessageEdit == nil {
		return nil, ErrPreviewEdit
	}
	me := eh.Contents.MessageEdit
	if me.MessageSequenceID == nil || *me.MessageSequenceID == "" {
		return nil, ErrPreviewEdit
	}
	return me, nil
}

// checkQuote compares what the preview quotes with the original (or its
// edit): the text a prefix on a character boundary, every entity and
// attachment one of the original's.
func checkQuote(p *product.ReplyingToPreview, text string, entities []*product.RichTextEntity, attachments []*product.MessageAttachment) error {
	if p.MessageText != nil && !prefixOnRuneBoundary(text, *p.MessageText) {
		return ErrPreviewText
	}
	for _, claimed := range p.Entities {
		if !containsEntity(entities, claimed) {
			return ErrPreviewEntities
		}
	}
	for _, claimed := range p.Attachments {
		if !containsAttachment(attachments, claimed) {
			return ErrPreviewAttachments
		}
	}
	return nil
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
func rawContents(keys Keys, mm memos, ov overlay, raw *tevent.MessageEvent, ckces []*tevent.MessageEvent) ([]byte, bool) {
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
