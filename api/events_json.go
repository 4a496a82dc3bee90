package api

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Decoding a page of conversation events. A sync reads every event of a
// history through GetConversationEvents, and encoding/json spends most of
// that reading the base64 of the events twice, a byte at a time (once to
// validate the document, once to decode it). decodeEventsPage reads the
// common shape of a page in one pass and hands everything else to
// encoding/json, so that the result is always what json.Unmarshal gives:
//
//   - Only the "data" array and, in its items, the string fields whose
//     values are plain strings (printable ASCII without escapes), the
//     is_trusted literals true and false, and the plain string fields of
//     message_event_signature are read here. Every other member, at every
//     level, is collected as written and decoded by json.Unmarshal into
//     the same value (which validates it and applies its own rules: null,
//     case-insensitive keys, unknown keys ignored).
//   - The page is declined (the caller then runs json.Unmarshal on the
//     whole body, errors included) on anything whose outcome could depend
//     on encoding/json's rules across members: a key with escapes or
//     outside printable ASCII, a key repeated, a key matching a field's
//     name only when case is ignored, any syntax error, or any error of
//     the members handed on.

// decodeEventsPage decodes body into a GetChatConversationEventsResponse as
// json.Unmarshal would, or reports false (declined, see above).
func decodeEventsPage(body []byte) (*GetChatConversationEventsResponse, bool) {
	p := &jsonPage{b: body}
	out := &GetChatConversationEventsResponse{}
	var rest []byte
	var keys keySet
	ok := p.object(func(raw []byte) bool {
		key := intern(raw, pageKeys)
		if !keys.fresh(key, pageKeys) {
			return false
		}
		if key == "data" && p.peek() == '[' {
			out.Data = make([]ChatMessageEvent, 0, itemsHint(p.b))
			return p.array(func() bool {
				out.Data = append(out.Data, ChatMessageEvent{})
				return p.event(&out.Data[len(out.Data)-1])
			})
		}
		var ok bool
		rest, ok = p.member(rest, key)
		return ok
	})
	if !ok || !p.end() || !decodeRest(rest, out) {
		return nil, false
	}
	return out, true
}

// pageKeys are the JSON names of GetChatConversationEventsResponse's
// fields.
var pageKeys = []string{"data", "errors", "meta"}

// itemsHint guesses how many items the data array starting b holds, to
// size it once: an item's "id" key, counted, at most as many as a page may
// hold (a guess off either way only costs a reallocation or spare room).
func itemsHint(b []byte) int {
	return min(bytes.Count(b, []byte(`"id"`)), ChatEventsMaxResultsMax)
}

// eventStrings are the plain string fields of ChatMessageEvent.
func eventStrings(ev *ChatMessageEvent, key string) *string {
	switch key {
	case "id":
		return &ev.ID
	case "encoded_event":
		return &ev.EncodedEvent
	case "conversation_id":
		return &ev.ConversationID
	case "conversation_token":
		return &ev.ConversationToken
	case "sequence_id":
		return &ev.SequenceID
	case "previous_sequence_id":
		return &ev.PreviousSequenceID
	case "previous_id":
		return &ev.PreviousID
	case "sender_id":
		return &ev.SenderID
	case "created_at":
		return &ev.CreatedAt
	case "created_at_msec":
		return &ev.CreatedAtMsec
	}
	return nil
}

// eventKeys are the JSON names of ChatMessageEvent's fields.
var eventKeys = []string{"id", "encoded_event", "conversation_id", "conversation_token", "sequence_id",
	"previous_sequence_id", "previous_id", "sender_id", "created_at", "created_at_msec", "is_trusted",
	"message_event_signature"}

// signatureStrings are the plain string fields of MessageEventSignature.
func signatureStrings(s *MessageEventSignature, key string) *string {
	switch key {
	case "public_key_version":
		return &s.PublicKeyVersion
	case "signature":
		return &s.Signature
	case "signature_version":
		return &s.SignatureVersion
	case "signing_public_key":
		return &s.SigningPublicKey
	}
	return nil
}

// signatureKeys are the JSON names of MessageEventSignature's fields.
var signatureKeys = []string{"message_signing_key_info_list", "public_key_version", "signature",
	"signature_version", "signing_public_key"}

// event reads one item of the data array into ev.
func (p *jsonPage) event(ev *ChatMessageEvent) bool {
	var rest []byte
	var keys keySet
	ok := p.object(func(raw []byte) bool {
		key := intern(raw, eventKeys)
		if !keys.fresh(key, eventKeys) {
			return false
		}
		if f := eventStrings(ev, key); f != nil {
			if s, ok := p.plain(); ok {
				*f = s
				return true
			}
		}
		switch {
		case key == "is_trusted" && (p.peek() == 't' || p.peek() == 'f'):
			if v, ok := p.boolean(); ok {
				ev.IsTrusted = &v
				return true
			}
		case key == "message_event_signature" && p.peek() == '{':
			ev.MessageEventSignature = &MessageEventSignature{}
			return p.signature(ev.MessageEventSignature)
		}
		var ok bool
		rest, ok = p.member(rest, key)
		return ok
	})
	return ok && decodeRest(rest, ev)
}

// signature reads a message_event_signature object into s.
func (p *jsonPage) signature(s *MessageEventSignature) bool {
	var rest []byte
	var keys keySet
	ok := p.object(func(raw []byte) bool {
		key := intern(raw, signatureKeys)
		if !keys.fresh(key, signatureKeys) {
			return false
		}
		if f := signatureStrings(s, key); f != nil {
			if v, ok := p.plain(); ok {
				*f = v
				return true
			}
		}
		var ok bool
		rest, ok = p.member(rest, key)
		return ok
	})
	return ok && decodeRest(rest, s)
}

// keySet tracks the keys of one object: those among its names (by
// index, a bit each) and the others.
type keySet struct {
	known uint32
	other []string
}

// fresh records key and reports whether decoding may go on: the key was
// not seen before in the object and, unless it is one of names, does not
// match one of them when case is ignored.
func (ks *keySet) fresh(key string, names []string) bool {
	for i, n := range names {
		if n == key {
			bit := uint32(1) << i
			if ks.known&bit != 0 {
				return false
			}
			ks.known |= bit
			return true
		}
	}
	for _, n := range names {
		if strings.EqualFold(n, key) {
			return false
		}
	}
	for _, k := range ks.other {
		if k == key {
			return false
		}
	}
	ks.other = append(ks.other, key)
	return true
}

// decodeRest decodes the members collected from an object (rest: each
// preceded by a comma) into v, as one object.
func decodeRest(rest []byte, v any) bool {
	if len(rest) == 0 {
		return true
	}
	rest[0] = '{'
	return json.Unmarshal(append(rest, '}'), v) == nil
}

// jsonPage reads a JSON document: b is what is left of it. made holds the
// last strings plain made or gave again, the most recent first.
type jsonPage struct {
	b    []byte
	made [16]string
}

// ws skips JSON whitespace.
func (p *jsonPage) ws() {
	for len(p.b) > 0 && (p.b[0] == ' ' || p.b[0] == '\t' || p.b[0] == '\n' || p.b[0] == '\r') {
		p.b = p.b[1:]
	}
}

// peek returns the next byte after whitespace (0 at the end).
func (p *jsonPage) peek() byte {
	p.ws()
	if len(p.b) == 0 {
		return 0
	}
	return p.b[0]
}

// end reports whether only whitespace is left.
func (p *jsonPage) end() bool {
	p.ws()
	return len(p.b) == 0
}

// take consumes c, the next byte after whitespace.
func (p *jsonPage) take(c byte) bool {
	if p.peek() != c {
		return false
	}
	p.b = p.b[1:]
	return true
}

// plain reads a string of printable ASCII without escapes; it consumes
// nothing and reports false for any other value.
func (p *jsonPage) plain() (string, bool) {
	if p.peek() != '"' {
		return "", false
	}
	b, ok := p.plainBytes()
	if !ok {
		return "", false
	}
	return p.str(b), true
}

// str returns b as a string: one of the last strings made when it holds
// the same bytes, otherwise a new one. The items of a page repeat most of
// their fields (the conversation, its token, the sender and its signing
// key, their versions; an id as the sequence id): each is made once a
// page, not once an item.
func (p *jsonPage) str(b []byte) string {
	i := 0
	for i < len(p.made)-1 && p.made[i] != string(b) {
		i++
	}
	s := p.made[i]
	if s != string(b) {
		s = string(b) // i is the last, least recent: dropped
	}
	copy(p.made[1:i+1], p.made[:i])
	p.made[0] = s
	return s
}

// plainBytes is plain, returning the string's bytes (in the document).
func (p *jsonPage) plainBytes() ([]byte, bool) {
	if p.peek() != '"' {
		return nil, false
	}
	i := 1
	for i < len(p.b) && plainByte[p.b[i]] {
		i++
	}
	if i == len(p.b) || p.b[i] != '"' {
		return nil, false
	}
	b := p.b[1:i]
	p.b = p.b[i+1:]
	return b, true
}

// intern returns key as a string: the one of names it equals, or a copy.
func intern(key []byte, names []string) string {
	for _, n := range names {
		if string(key) == n {
			return n
		}
	}
	return string(key)
}

// plainByte marks the bytes a plain string holds: printable ASCII but the
// quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// boolean reads the literal true or false.
func (p *jsonPage) boolean() (v, ok bool) {
	for _, lit := range []string{"true", "false"} {
		if len(p.b) >= len(lit) && string(p.b[:len(lit)]) == lit {
			if len(p.b) > len(lit) && !delimiter(p.b[len(lit)]) {
				return false, false
			}
			p.b = p.b[len(lit):]
			return lit == "true", true
		}
	}
	return false, false
}

// delimiter reports whether c may follow a literal.
func delimiter(c byte) bool {
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// object reads an object, calling member with each key (the bytes of a
// plain string) positioned at its value, which member must consume.
func (p *jsonPage) object(member func(key []byte) bool) bool {
	if !p.take('{') {
		return false
	}
	if p.take('}') {
		return true
	}
	for {
		key, ok := p.plainBytes()
		if !ok || !p.take(':') {
			return false
		}
		p.ws()
		if !member(key) {
			return false
		}
		if p.take('}') {
			return true
		}
		if !p.take(',') {
			return false
		}
	}
}

// array reads an array, calling elem positioned at each element, which
// elem must consume.
func (p *jsonPage) array(elem func() bool) bool {
	if !p.take('[') {
		return false
	}
	if p.take(']') {
		return true
	}
	for {
		p.ws()
		if !elem() {
			return false
		}
		if p.take(']') {
			return true
		}
		if !p.take(',') {
			return false
		}
	}
}

// member appends `,"key":value` to rest, value being the next value as
// written (see skip); encoding/json validates it when rest is decoded.
func (p *jsonPage) member(rest []byte, key string) ([]byte, bool) {
	start := p.b
	if !p.skip() {
		return rest, false
	}
	rest = append(rest, ",\""...)
	rest = append(rest, key...)
	rest = append(rest, "\":"...)
	return append(rest, start[:len(start)-len(p.b)]...), true
}

// skip consumes the next value: a string (to its closing quote, escapes
// skipped), an object or array (to the bracket closing it, strings
// skipped), or anything else up to the next delimiter. It only finds
// where the value ends; its bytes are validated where they are decoded.
func (p *jsonPage) skip() bool {
	depth := 0
	for i := 0; i < len(p.b); i++ {
		switch c := p.b[i]; c {
		case '"':
			n := stringEnd(p.b[i:])
			if n < 0 {
				return false
			}
			i += n - 1
			if depth == 0 {
				p.b = p.b[i+1:]
				return true
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				p.b = p.b[i:]
				return i > 0
			}
			if depth--; depth == 0 {
				p.b = p.b[i+1:]
				return true
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				p.b = p.b[i:]
				return i > 0
			}
		}
	}
	if depth != 0 {
		return false
	}
	p.b = p.b[len(p.b):]
	return true
}

// stringEnd returns the length of the string b starts with, quotes
// included, or -1 when it does not end.
func stringEnd(b []byte) int {
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}
