package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// An activity event is delivered the same way by the stream (one JSON
// object per line) and by webhooks (one JSON object per POST):
//
//	{"data": {"event_uuid": "…", "event_type": "chat.received",
//	          "filter": {"user_id": "…"}, "tag": "…", "payload": {…}}}
//
// Every field is a claim of the server that sent it. The chat payload's
// encoded events are verified by the engine against pinned keys; the other
// fields (ids, versions, the signing key it names) may route or be shown,
// never be trusted.

// Limits of the activity message parser.
const (
	// DefaultMaxActivityMessageBytes bounds one stream line or webhook
	// body. A chat message's contents are at most 256 KiB before base64.
	DefaultMaxActivityMessageBytes = 1 << 20
	// MaxEventUUIDLength bounds event_uuid (the docs show 19-digit
	// numbers, negative numbers and UUIDs).
	MaxEventUUIDLength = 64
	// maxEventTypeLength bounds event_type.
	maxEventTypeLength = 128
)

// Errors of ParseActivityMessage, matched with errors.Is.
var (
	// ErrActivityMessage matches every malformed stream line or webhook body.
	ErrActivityMessage = errors.New("api: malformed activity message")
	// ErrActivityTooLarge matches a message over the size limit.
	ErrActivityTooLarge = errors.New("api: activity message too large")
)

// StringOrNumber is a string field that also accepts a JSON number (kept
// as its literal text): the docs show ids and times both quoted and not.
type StringOrNumber string

// UnmarshalJSON accepts a JSON string, number or null.
func (s *StringOrNumber) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errors.New("empty value")
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = StringOrNumber(v)
	case string(b) == "null":
		*s = ""
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string or a number: %w", err)
		}
		*s = StringOrNumber(n.String())
	}
	return nil
}

// ActivityEvent is the "data" object of a delivered activity event.
type ActivityEvent struct {
	// EventUUID identifies the delivery; backfill and replays repeat it.
	EventUUID StringOrNumber             `json:"event_uuid"`
	EventType string                     `json:"event_type"`
	Filter    ActivitySubscriptionFilter `json:"filter"`
	Tag       string                     `json:"tag,omitempty"`
	// Payload is event specific; ChatPayload decodes a chat event's.
	Payload  json.RawMessage `json:"payload,omitempty"`
	Includes json.RawMessage `json:"includes,omitempty"`
}

// ActivityMessage is one stream line or webhook body: an event, or the
// problems a stream reports before it disconnects. A message with neither
// ("{}") is a keep-alive.
type ActivityMessage struct {
	Data   *ActivityEvent `json:"data,omitempty"`
	Errors []Problem      `json:"errors,omitempty"`
}

// KeepAlive reports whether m carries nothing (a "{}" heartbeat).
func (m *ActivityMessage) KeepAlive() bool { return m.Data == nil && len(m.Errors) == 0 }

// ActivitySignature is the message_event_signature of a chat payload, as
// the server describes it. Its signing_public_key is the server's claim:
// the engine verifies against the sender's pinned keys, never this one.
type ActivitySignature struct {
	PublicKeyVersion StringOrNumber `json:"public_key_version,omitempty"`
	Signature        string         `json:"signature,omitempty"`
	SignatureVersion StringOrNumber `json:"signature_version,omitempty"`
	SigningPublicKey string         `json:"signing_public_key,omitempty"`
}

// ChatPayload is the payload of chat.* events.
type ChatPayload struct {
	ConversationToken      string         `json:"conversation_token,omitempty"`
	ID                     string         `json:"id,omitempty"`
	CreatedAtMsec          StringOrNumber `json:"created_at_msec,omitempty"`
	SenderID               StringOrNumber `json:"sender_id,omitempty"`
	ConversationID         string         `json:"conversation_id,omitempty"`
	ConversationKeyVersion StringOrNumber `json:"conversation_key_version,omitempty"`
	// EncodedEvent is the base64 Thrift MessageEvent.
	EncodedEvent string `json:"encoded_event"`
	// ConversationKeyChangeEvent is the base64 Thrift MessageEvent of the
	// key change the event's key version comes from, when sent along.
	ConversationKeyChangeEvent string `json:"conversation_key_change_event,omitempty"`
	// EncryptedConversationKey is read by the official bot when present.
	EncryptedConversationKey string             `json:"encrypted_conversation_key,omitempty"`
	MessageEventSignature    *ActivitySignature `json:"message_event_signature,omitempty"`
}

// ParseActivityMessage decodes one stream line or webhook body of at most
// DefaultMaxActivityMessageBytes. Blank input is not a message (the
// stream's keep-alive newlines are dropped before parsing). It checks the
// shape only: a JSON object, an event_uuid of 1..64 printable characters,
// a bounded event_type and an object payload.
func ParseActivityMessage(b []byte) (*ActivityMessage, error) {
	return parseActivityMessage(b, DefaultMaxActivityMessageBytes)
}

func parseActivityMessage(b []byte, limit int) (*ActivityMessage, error) {
	if len(b) > limit {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrActivityTooLarge, len(b), limit)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrActivityMessage)
	}
	if err := checkShape(b, maxActivityObjects, maxActivityValues); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrActivityMessage, err)
	}
	var m ActivityMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrActivityMessage, err)
	}
	if m.Data == nil {
		return &m, nil
	}
	if err := m.Data.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (e *ActivityEvent) check() error {
	id := string(e.EventUUID)
	if id == "" || len(id) > MaxEventUUIDLength || !printable(id) {
		return fmt.Errorf("%w: event_uuid must be 1..%d printable ASCII characters", ErrActivityMessage, MaxEventUUIDLength)
	}
	if e.EventType == "" || len(e.EventType) > maxEventTypeLength || !printable(e.EventType) {
		return fmt.Errorf("%w: event_type must be 1..%d printable ASCII characters", ErrActivityMessage, maxEventTypeLength)
	}
	if p := bytes.TrimSpace(e.Payload); len(p) > 0 && p[0] != '{' && string(p) != "null" {
		return fmt.Errorf("%w: payload is not an object", ErrActivityMessage)
	}
	return nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// IsChat reports whether e is an encrypted Chat event.
func (e *ActivityEvent) IsChat() bool { return IsChatEventType(e.EventType) }

// ChatPayload decodes the payload of a chat event. It requires an
// encoded_event.
func (e *ActivityEvent) ChatPayload() (*ChatPayload, error) {
	if !e.IsChat() {
		return nil, fmt.Errorf("%w: %q is not a chat event", ErrActivityMessage, e.EventType)
	}
	var p ChatPayload
	if len(e.Payload) == 0 {
		return nil, fmt.Errorf("%w: chat event without payload", ErrActivityMessage)
	}
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return nil, fmt.Errorf("%w: chat payload: %w", ErrActivityMessage, err)
	}
	if strings.TrimSpace(p.EncodedEvent) == "" {
		return nil, fmt.Errorf("%w: chat payload without encoded_event", ErrActivityMessage)
	}
	return &p, nil
}

// MaxStreamProblems bounds the problems a StreamProblemError keeps: X
// reports one or two before it disconnects.
const MaxStreamProblems = 16

// StreamProblemError carries the problems a stream line reported (for
// example "operational-disconnect" before X closes the connection): the
// first MaxStreamProblems of them, and how many more the line held.
type StreamProblemError struct {
	Problems []Problem
	// More counts the problems of the line past MaxStreamProblems.
	More int
}

// newStreamProblemError keeps the first MaxStreamProblems of ps.
func newStreamProblemError(ps []Problem) *StreamProblemError {
	if len(ps) <= MaxStreamProblems {
		return &StreamProblemError{Problems: ps}
	}
	return &StreamProblemError{Problems: ps[:MaxStreamProblems:MaxStreamProblems], More: len(ps) - MaxStreamProblems}
}

// Error implements error.
func (e *StreamProblemError) Error() string {
	var parts []string
	for _, p := range e.Problems[:min(len(e.Problems), MaxStreamProblems)] {
		s := strings.TrimSpace(serverText(p.Title) + ": " + serverText(p.Detail))
		if p.Type != "" {
			s += " (" + serverText(p.Type) + ")"
		}
		parts = append(parts, strings.Trim(s, ": "))
	}
	more := ""
	if n := e.More + max(len(e.Problems)-MaxStreamProblems, 0); n > 0 {
		more = fmt.Sprintf(" (and %d more)", n)
	}
	return "api: activity stream: " + strings.Join(parts, "; ") + more
}
