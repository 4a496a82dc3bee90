package session

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
)

// Encoding an outbox item's body. Every send stores one before its first
// attempt: the path, the prepared request (a message id and two base64
// strings of about 1.4 times the message's size) and what the user asked
// to send, the text included. A message's body is almost always plain:
// strings JSON writes as they are, no entities. encodeOutboxBody writes
// such a body straight into one buffer of its size, byte for byte as
// json.Marshal writes it (the stored format does not change:
// TestOutboxBodyMatchesJSON, FuzzOutboxBody), which spares each send
// json.Marshal's reflection and escaping scan and leaves no copy of the
// text in json.Marshal's pooled buffer. Any other body goes through
// json.Marshal.

// encodeOutboxBody returns the JSON of b, exactly as json.Marshal(b).
func encodeOutboxBody(b *outboxBody) ([]byte, error) {
	if !plainOutboxBody(b) {
		return json.Marshal(b)
	}
	m, c := b.Message, b.Content
	out := make([]byte, 0, plainOutboxBodySize(b))
	out = append(out, `{"path":"`...)
	out = append(out, b.Path...)
	out = append(out, `","message":{"message_id":"`...)
	out = append(out, m.MessageID...)
	out = append(out, `","encoded_message_create_event":"`...)
	out = append(out, m.EncodedMessageCreateEvent...)
	out = append(out, '"')
	out = appendPlainMember(out, "encoded_message_event_signature", m.EncodedMessageEventSignature)
	out = appendPlainMember(out, "conversation_token", m.ConversationToken)
	out = append(out, '}')
	if c != nil {
		out = append(out, `,"content":{"type":"`...)
		out = append(out, c.Type...)
		out = append(out, '"')
		out = appendPlainMember(out, "text", c.Text)
		out = appendPlainMember(out, "reply_to", c.ReplyTo)
		out = appendPlainMember(out, "target", c.Target)
		out = appendPlainMember(out, "emoji", c.Emoji)
		if c.TTL != 0 {
			out = strconv.AppendInt(append(out, `,"ttl":`...), int64(c.TTL), 10)
		}
		if c.Silent {
			out = append(out, `,"silent":true`...)
		}
		out = appendPlainMember(out, "media", c.Media)
		if len(c.Audience) > 0 {
			out = append(out, `,"audience":[`...)
			for i, id := range c.Audience {
				if i > 0 {
					out = append(out, ',')
				}
				out = append(out, '"')
				out = append(out, id...)
				out = append(out, '"')
			}
			out = append(out, ']')
		}
		out = append(out, '}')
	}
	if b.Unsent {
		out = append(out, `,"unsent":true`...)
	}
	if b.Stale {
		out = append(out, `,"stale":true`...)
	}
	return append(out, '}'), nil // within the size made for it: no copy of the text is left behind
}

// jsonAsIs marks the ASCII bytes json.Marshal writes as they are: printable
// ones but the quote, the backslash and the HTML characters <, > and &.
var jsonAsIs = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// plainJSON is plainString, quicker on the long ASCII strings of an outbox
// body (base64, most texts): eight bytes at a time up to the first word
// holding a byte that is not plain ASCII (jsonAsIs), plainString from
// there (an ASCII prefix ends on a character boundary, so it decides
// alone for the rest).
func plainJSON(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if !plainWord(binary.LittleEndian.Uint64([]byte(s[i : i+8]))) {
			break
		}
	}
	for ; i < len(s); i++ {
		if !jsonAsIs[s[i]] {
			return plainString(s[i:])
		}
	}
	return true
}

// plainWord reports whether the eight bytes of w are all jsonAsIs: none
// with the high bit set, none below 0x20, none of " \ < > &.
func plainWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	has := func(v uint64) uint64 { return (v - ones) & ^v & highs } // a zero byte in v
	bad := w&highs | (w-0x20*ones)&^w&highs |
		has(w^'"'*ones) | has(w^'\\'*ones) | has(w^'<'*ones) | has(w^'>'*ones) | has(w^'&'*ones)
	return bad == 0
}

// plainOutboxBody reports whether b is a message's body with no list but
// its audience and every string one JSON writes as it is.
func plainOutboxBody(b *outboxBody) bool {
	m, c := b.Message, b.Content
	if m == nil || b.Delete != nil || !plainJSON(b.Path) || !plainJSON(m.MessageID) ||
		!plainJSON(m.EncodedMessageCreateEvent) || !plainJSON(m.EncodedMessageEventSignature) || !plainJSON(m.ConversationToken) {
		return false
	}
	if c == nil {
		return true
	}
	if c.Entities != nil || !plainJSON(c.Type) || !plainJSON(c.Text) || !plainJSON(c.ReplyTo) ||
		!plainJSON(c.Target) || !plainJSON(c.Emoji) || !plainJSON(c.Media) {
		return false
	}
	for _, id := range c.Audience {
		if !plainJSON(id) {
			return false
		}
	}
	return true
}

// plainOutboxBodySize is the encoded size of a plain outbox body.
func plainOutboxBodySize(b *outboxBody) int {
	m, c := b.Message, b.Content
	str := func(name, v string) int {
		if v == "" {
			return 0
		}
		return len(name) + len(v) + 6 // ,"name":"v"
	}
	flag := func(name string, set bool) int {
		if !set {
			return 0
		}
		return len(name) + 8 // ,"name":true
	}
	n := len(`{"path":"","message":{"message_id":"","encoded_message_create_event":""}}`) +
		len(b.Path) + len(m.MessageID) + len(m.EncodedMessageCreateEvent) +
		str("encoded_message_event_signature", m.EncodedMessageEventSignature) + str("conversation_token", m.ConversationToken) +
		flag("unsent", b.Unsent) + flag("stale", b.Stale)
	if c == nil {
		return n
	}
	n += len(`,"content":{"type":""}`) + len(c.Type) +
		str("text", c.Text) + str("reply_to", c.ReplyTo) + str("target", c.Target) + str("emoji", c.Emoji) +
		flag("silent", c.Silent) + str("media", c.Media)
	if c.TTL != 0 {
		var digits [20]byte
		n += len(`,"ttl":`) + len(strconv.AppendInt(digits[:0], int64(c.TTL), 10))
	}
	if len(c.Audience) > 0 {
		n += len(`,"audience":[]`) + len(c.Audience) - 1
		for _, id := range c.Audience {
			n += len(id) + 2
		}
	}
	return n
}

// appendPlainMember appends a plain string member after others, omitted
// when empty.
func appendPlainMember(out []byte, name, v string) []byte {
	if v == "" {
		return out
	}
	out = append(out, ',', '"')
	out = append(out, name...)
	out = append(out, '"', ':', '"')
	out = append(out, v...)
	return append(out, '"')
}
