package session

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/inbound"
)

// Types of the receive pipeline, re-exported so embedders need import only
// this package.
type (
	// Event is one decoded, verified and decrypted server event.
	Event = inbound.Event
	// EventKind names an event's detail variant.
	EventKind = inbound.Kind
	// Message is the decrypted content of a message event.
	Message = inbound.Message
	// ContentKind names a message's content variant.
	ContentKind = inbound.ContentKind
	// TextMessage is a chat message's text, entities and attachments.
	TextMessage = inbound.TextMessage
	// Entity is a rich-text span of a message.
	Entity = inbound.Entity
	// EntityType names an entity's kind.
	EntityType = inbound.EntityType
	// Attachment is a message attachment.
	Attachment = inbound.Attachment
	// MediaAttachment references encrypted media.
	MediaAttachment = inbound.MediaAttachment
	// MediaType is a media attachment's type code.
	MediaType = inbound.MediaType
	// ReplyPreview is the quoted message of a reply.
	ReplyPreview = inbound.ReplyPreview
	// KeyChange is a conversation key change event.
	KeyChange = inbound.KeyChange
	// GroupChange is a group change event.
	GroupChange = inbound.GroupChange
	// Anomaly is a transcript finding (gap, fork, duplicate, ...).
	Anomaly = inbound.Anomaly
	// AnomalyKind classifies an Anomaly.
	AnomalyKind = inbound.AnomalyKind
	// FailureType is why the server rejected a message.
	FailureType = inbound.FailureType
)

// Event kinds (see inbound.Kind).
const (
	KindMessageEvent   = inbound.KindMessage
	KindKeyChangeEvent = inbound.KindKeyChange
	KindGroupChange    = inbound.KindGroupChange
	KindFailure        = inbound.KindFailure
	KindTyping         = inbound.KindTyping
	KindDelete         = inbound.KindDelete
	KindMarkRead       = inbound.KindMarkRead
)

// Entity types (see inbound.EntityType).
const (
	EntityHashtag     = inbound.EntityHashtag
	EntityCashtag     = inbound.EntityCashtag
	EntityMention     = inbound.EntityMention
	EntityURL         = inbound.EntityURL
	EntityEmail       = inbound.EntityEmail
	EntityAddress     = inbound.EntityAddress
	EntityPhoneNumber = inbound.EntityPhoneNumber
)

// Media types (see inbound.MediaType).
const (
	MediaImage = inbound.MediaImage
	MediaGIF   = inbound.MediaGIF
	MediaVideo = inbound.MediaVideo
	MediaAudio = inbound.MediaAudio
	MediaFile  = inbound.MediaFile
)

// Transcript anomaly kinds (see inbound.AnomalyKind).
const (
	AnomalyGap        = inbound.AnomalyGap
	AnomalyDuplicate  = inbound.AnomalyDuplicate
	AnomalyConflict   = inbound.AnomalyConflict
	AnomalyFork       = inbound.AnomalyFork
	AnomalyReorder    = inbound.AnomalyReorder
	AnomalyMissingKey = inbound.AnomalyMissingKey
	// AnomalyRosterDivergence: a signed group change that does not fit the
	// roster held (see ErrRosterDivergence).
	AnomalyRosterDivergence = inbound.AnomalyRosterDivergence
	// AnomalyCreateRejected: a second group create, or one not bound to
	// the group by its paired key change.
	AnomalyCreateRejected = inbound.AnomalyCreateRejected
	// AnomalyCreateReplayed: a group create accepted in another group,
	// served again in this one.
	AnomalyCreateReplayed = inbound.AnomalyCreateReplayed
	// AnomalyUnconfirmedDelete: a chain break covered only by a delete
	// whose targets this account never saw (Related is the deleter).
	AnomalyUnconfirmedDelete = inbound.AnomalyUnconfirmedDelete
)

// Entry types (Entry.Type).
const (
	TypeMessage        = "message"
	TypeReactionAdd    = "reaction_add"
	TypeReactionRemove = "reaction_remove"
	TypeEdit           = "edit"
	TypeKeyChange      = "key_change"
	TypeGroupChange    = "group_change"
	TypeDelete         = "delete"
)

// Reply is the quoted message of a reply as stored in history.
type Reply struct {
	SequenceID string `json:"sequence_id,omitempty"`
	MessageID  string `json:"message_id,omitempty"`
	SenderID   string `json:"sender_id,omitempty"`
	Text       string `json:"text,omitempty"`
	// Validation is "valid", "invalid" or "none" (the preview embeds no
	// signed source event, so its claims are unchecked).
	Validation string `json:"validation"`
}

// Entry is one stored history item: an event of a conversation as this
// account decoded it. Only entries with Verified true are authentic.
type Entry struct {
	ConversationID string `json:"conversation_id"`
	SequenceID     string `json:"sequence_id"`
	// PreviousSequenceID is the sequence id the server claims precedes
	// this event (unsigned; "" when absent). Consumers that must see a
	// conversation's events in order use it to notice one not stored yet.
	PreviousSequenceID string    `json:"previous_sequence_id,omitempty"`
	MessageID          string    `json:"message_id,omitempty"`
	SenderID           string    `json:"sender_id,omitempty"`
	Type               string    `json:"type"`
	CreatedAt          time.Time `json:"created_at"`
	Verified           bool      `json:"verified"`
	// Error says why the event could not be verified or decrypted.
	Error string `json:"error,omitempty"`

	// Text is a message's text or an edit's new text.
	Text        string       `json:"text,omitempty"`
	Entities    []Entity     `json:"entities,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	ReplyTo     *Reply       `json:"reply_to,omitempty"`
	// Emoji is a reaction's emoji.
	Emoji string `json:"emoji,omitempty"`
	// TargetSequenceID is the message a reaction or edit applies to.
	TargetSequenceID string `json:"target_sequence_id,omitempty"`
	// KeyVersion is the conversation key version of a message or key
	// change.
	KeyVersion string `json:"key_version,omitempty"`
	// DecryptOnly, for a key change whose key this account holds, says why
	// that key may decrypt but never encrypt (see
	// inbound.DecryptOnlyReason): "unverified" (its signature failed or
	// could not be checked; the entry is not Verified), "pre_v6",
	// "superseded_signer" or "implausible_version". Empty otherwise.
	DecryptOnly string `json:"decrypt_only,omitempty"`
	// TTL is a message's disappearing lifetime.
	TTL time.Duration `json:"ttl,omitempty"`
	// Deleted lists the sequence ids a delete removes; DeleteForAll says
	// whether for everyone.
	Deleted      []string `json:"deleted,omitempty"`
	DeleteForAll bool     `json:"delete_for_all,omitempty"`
	// Group is a group change's detail.
	Group *GroupChange `json:"group,omitempty"`
	// Failure names the server's rejection reason of a failure event.
	Failure string `json:"failure,omitempty"`
	// Removed marks a message erased by a verified delete (by its author
	// for everyone, or by this account for itself): its content and raw
	// event are no longer stored.
	Removed bool `json:"removed,omitempty"`

	removedPrev string // a removed entry's previous sequence id (entryBody.Prev)
}

// entryBody is the part of an Entry sealed in keystore.StoredEvent.Body.
type entryBody struct {
	Text             string        `json:"text,omitempty"`
	Entities         []Entity      `json:"entities,omitempty"`
	Attachments      []Attachment  `json:"attachments,omitempty"`
	ReplyTo          *Reply        `json:"reply_to,omitempty"`
	Emoji            string        `json:"emoji,omitempty"`
	TargetSequenceID string        `json:"target_sequence_id,omitempty"`
	KeyVersion       string        `json:"key_version,omitempty"`
	DecryptOnly      string        `json:"decrypt_only,omitempty"`
	TTL              time.Duration `json:"ttl,omitempty"`
	Deleted          []string      `json:"deleted,omitempty"`
	DeleteForAll     bool          `json:"delete_for_all,omitempty"`
	Group            *GroupChange  `json:"group,omitempty"`
	Failure          string        `json:"failure,omitempty"`
	Removed          bool          `json:"removed,omitempty"`
	// Prev is a removed entry's previous sequence id (from the event's
	// bytes, dropped with its content), so a later sync can walk the
	// transcript chain across it (see resolveGaps).
	Prev string `json:"prev,omitempty"`
}

// EntryFromEvent converts a decoded event to its history form.
func EntryFromEvent(ev *Event) Entry {
	en := Entry{
		ConversationID:     ev.ConversationID,
		SequenceID:         ev.SequenceID,
		MessageID:          ev.MessageID,
		SenderID:           ev.SenderID,
		Type:               ev.Kind.String(),
		PreviousSequenceID: ev.PreviousSequenceID,
		CreatedAt:          ev.CreatedAt,
		Verified:           ev.Verified,
	}
	if ev.Err != nil {
		en.Error = ev.Err.Error()
	}
	switch {
	case ev.Message != nil:
		m := ev.Message
		en.KeyVersion = m.KeyVersion
		en.TTL = m.TTL
		switch m.Kind {
		case inbound.ContentText:
			en.Type = TypeMessage
			if t := m.Text; t != nil {
				en.Text, en.Entities, en.Attachments = t.Text, t.Entities, t.Attachments
				if p := t.ReplyPreview; p != nil {
					en.ReplyTo = &Reply{SequenceID: p.SequenceID, MessageID: p.MessageID,
						SenderID: p.SenderID, Text: p.Text, Validation: p.Validation.Status.String()}
				}
			}
		case inbound.ContentReactionAdd, inbound.ContentReactionRemove:
			en.Type = m.Kind.String()
			if r := m.Reaction; r != nil {
				en.Emoji, en.TargetSequenceID = r.Emoji, r.TargetSequenceID
			}
		case inbound.ContentEdit:
			en.Type = TypeEdit
			if ed := m.Edit; ed != nil {
				en.Text, en.Entities, en.TargetSequenceID = ed.Text, ed.Entities, ed.TargetSequenceID
			}
		default:
			en.Type = m.Kind.String()
		}
	case ev.Kind == inbound.KindMessage:
		en.Type = TypeMessage
	case ev.KeyChange != nil:
		en.KeyVersion = ev.KeyChange.Version
		if ev.KeyChange.Key != nil {
			en.DecryptOnly = string(ev.KeyChange.DecryptOnly)
		}
	case ev.GroupChange != nil:
		g := *ev.GroupChange
		en.Group = &g
		en.KeyVersion = g.KeyVersion
	case ev.Delete != nil:
		en.Deleted = ev.Delete.SequenceIDs
		en.DeleteForAll = ev.Delete.Action == inbound.DeleteForAll
	case ev.Failure != nil:
		en.Failure = ev.Failure.Type.String()
	}
	return en
}

func (en *Entry) stored(raw []byte) keystore.StoredEvent {
	body, _ := json.Marshal(entryBody{
		Text: en.Text, Entities: en.Entities, Attachments: en.Attachments, ReplyTo: en.ReplyTo,
		Emoji: en.Emoji, TargetSequenceID: en.TargetSequenceID, KeyVersion: en.KeyVersion, DecryptOnly: en.DecryptOnly, TTL: en.TTL,
		Deleted: en.Deleted, DeleteForAll: en.DeleteForAll, Group: en.Group, Failure: en.Failure, Removed: en.Removed,
		Prev: en.removedPrev,
	})
	return keystore.StoredEvent{
		SequenceID: en.SequenceID,
		MessageID:  en.MessageID,
		SenderID:   en.SenderID,
		Type:       en.Type,
		Body:       keystore.SecretBytes(body),
		Verified:   en.Verified,
		Error:      en.Error,
		Raw:        raw,
		CreatedAt:  en.CreatedAt,
	}
}

func entryFromStored(cid string, s *keystore.StoredEvent) Entry {
	en := Entry{
		ConversationID: cid,
		SequenceID:     s.SequenceID,
		MessageID:      s.MessageID,
		SenderID:       s.SenderID,
		Type:           s.Type,
		CreatedAt:      s.CreatedAt,
		Verified:       s.Verified,
		Error:          s.Error,
	}
	var b entryBody
	if len(s.Body) > 0 {
		if err := json.Unmarshal(s.Body, &b); err != nil {
			en.Verified = false
			en.Error = "session: stored body unreadable"
		}
	}
	en.Text, en.Entities, en.Attachments, en.ReplyTo = b.Text, b.Entities, b.Attachments, b.ReplyTo
	en.Emoji, en.TargetSequenceID, en.KeyVersion, en.DecryptOnly, en.TTL = b.Emoji, b.TargetSequenceID, b.KeyVersion, b.DecryptOnly, b.TTL
	en.Deleted, en.DeleteForAll, en.Group, en.Failure, en.Removed = b.Deleted, b.DeleteForAll, b.Group, b.Failure, b.Removed
	if en.PreviousSequenceID = previousOf(s.Raw); en.PreviousSequenceID == "" {
		en.PreviousSequenceID = b.Prev // a removed entry keeps it in its body
	}
	return en
}

// History returns up to limit stored entries of conversation id (all when
// limit <= 0) with a sequence id above afterSeq ("" = from the start), oldest
// first, without contacting the server. id may be in any form accepted by
// CanonicalID.
func (e *Engine) History(ctx context.Context, id, afterSeq string, limit int) ([]Entry, error) {
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return nil, err
	}
	evs, err := e.store.Events(ctx, cid, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("session: reading history: %w", err)
	}
	out := make([]Entry, len(evs))
	for i := range evs {
		out[i] = entryFromStored(cid, &evs[i])
		evs[i].Body.Zero()
	}
	return out, nil
}
