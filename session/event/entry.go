package event

import (
	"time"
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
	// Reopened is Event.Reopened: set in the entries a sync returns
	// (session.SyncResult.Entries) for a message it opened once its key
	// arrived, or a group change once the group's create was bound late,
	// which replace the failed ones handed over before. History never
	// sets it.
	Reopened bool `json:"reopened,omitempty"`

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
	// DecryptOnlyReason): "unverified" (its signature failed or
	// could not be checked; the entry is not Verified), "pre_v6",
	// "superseded_signer", "implausible_version" or "backfilled". Empty
	// otherwise.
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
}

// Entry returns the event in its history form (as History returns it).
func (ev *Event) Entry() Entry {
	en := Entry{
		ConversationID:     ev.ConversationID,
		SequenceID:         ev.SequenceID,
		MessageID:          ev.MessageID,
		SenderID:           ev.SenderID,
		Type:               ev.Kind.String(),
		PreviousSequenceID: ev.PreviousSequenceID,
		CreatedAt:          ev.CreatedAt,
		Verified:           ev.Verified,
		Reopened:           ev.Reopened,
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
		case ContentText:
			en.Type = TypeMessage
			if t := m.Text; t != nil {
				en.Text, en.Entities, en.Attachments = t.Text, t.Entities, t.Attachments
				if p := t.ReplyPreview; p != nil {
					en.ReplyTo = &Reply{SequenceID: p.SequenceID, MessageID: p.MessageID,
						SenderID: p.SenderID, Text: p.Text, Validation: p.Validation.Status.String()}
				}
			}
		case ContentReactionAdd, ContentReactionRemove:
			en.Type = m.Kind.String()
			if r := m.Reaction; r != nil {
				en.Emoji, en.TargetSequenceID = r.Emoji, r.TargetSequenceID
			}
		case ContentEdit:
			en.Type = TypeEdit
			if ed := m.Edit; ed != nil {
				en.Text, en.Entities, en.TargetSequenceID = ed.Text, ed.Entities, ed.TargetSequenceID
			}
		default:
			en.Type = m.Kind.String()
		}
	case ev.Kind == KindMessage:
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
		en.DeleteForAll = ev.Delete.Action == DeleteForAll
	case ev.Failure != nil:
		en.Failure = ev.Failure.Type.String()
	}
	return en
}
