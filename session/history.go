package session

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// entryBody is the part of an Entry sealed in keystore.StoredEvent.Body.
type entryBody struct {
	Text             string             `json:"text,omitempty"`
	Entities         []event.Entity     `json:"entities,omitempty"`
	Attachments      []event.Attachment `json:"attachments,omitempty"`
	ReplyTo          *event.Reply       `json:"reply_to,omitempty"`
	Emoji            string             `json:"emoji,omitempty"`
	TargetSequenceID string             `json:"target_sequence_id,omitempty"`
	KeyVersion       string             `json:"key_version,omitempty"`
	DecryptOnly      string             `json:"decrypt_only,omitempty"`
	TTL              time.Duration      `json:"ttl,omitempty"`
	Deleted          []string           `json:"deleted,omitempty"`
	DeleteForAll     bool               `json:"delete_for_all,omitempty"`
	Group            *event.GroupChange `json:"group,omitempty"`
	Failure          string             `json:"failure,omitempty"`
	Removed          bool               `json:"removed,omitempty"`
	// Prev is a removed entry's previous sequence id (from the event's
	// bytes, dropped with its content), so a later sync can walk the
	// transcript chain across it (see resolveGaps).
	Prev string `json:"prev,omitempty"`
}

// storeEntry returns the stored form of en with its raw event; removedPrev
// is a removed entry's previous sequence id (kept in its body, see
// entryBody.Prev), "" otherwise.
func storeEntry(en *event.Entry, raw []byte, removedPrev string) keystore.StoredEvent {
	body := encodeEntryBody(&entryBody{
		Text: en.Text, Entities: en.Entities, Attachments: en.Attachments, ReplyTo: en.ReplyTo,
		Emoji: en.Emoji, TargetSequenceID: en.TargetSequenceID, KeyVersion: en.KeyVersion, DecryptOnly: en.DecryptOnly, TTL: en.TTL,
		Deleted: en.Deleted, DeleteForAll: en.DeleteForAll, Group: en.Group, Failure: en.Failure, Removed: en.Removed,
		Prev: removedPrev,
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

func entryFromStored(cid string, s *keystore.StoredEvent) event.Entry {
	en := event.Entry{
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
func (e *Engine) History(ctx context.Context, id, afterSeq string, limit int) ([]event.Entry, error) {
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return nil, err
	}
	evs, err := e.store.Events(ctx, cid, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("session: reading history: %w", err)
	}
	out := make([]event.Entry, len(evs))
	for i := range evs {
		out[i] = entryFromStored(cid, &evs[i])
		evs[i].Body.Zero()
	}
	return out, nil
}
