package session

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Encoding an entry's stored body. A sync stores every event's body, and
// most are plain: a text, a key version, perhaps a lifetime, no lists or
// nested values. encodeEntryBody writes such a body straight into one
// buffer of its size, byte for byte as json.Marshal writes it (the stored
// format does not change: TestEntryBodyMatchesJSON, FuzzEntryBody), which
// spares a sync json.Marshal's reflection and its pooled buffer, where a
// copy of each text would stay behind. Any other body goes through
// json.Marshal.

// encodeEntryBody returns the JSON of b, exactly as json.Marshal(b).
func encodeEntryBody(b *entryBody) []byte {
	if !plainBody(b) {
		out, _ := json.Marshal(b) // entryBody holds nothing json cannot encode
		return out
	}
	out := make([]byte, 0, plainBodySize(b))
	out = append(out, '{')
	out = appendPlainField(out, "text", b.Text)
	out = appendPlainField(out, "emoji", b.Emoji)
	out = appendPlainField(out, "target_sequence_id", b.TargetSequenceID)
	out = appendPlainField(out, "key_version", b.KeyVersion)
	out = appendPlainField(out, "decrypt_only", b.DecryptOnly)
	if b.TTL != 0 {
		out = strconv.AppendInt(appendName(out, "ttl"), int64(b.TTL), 10)
	}
	if b.DeleteForAll {
		out = append(appendName(out, "delete_for_all"), "true"...)
	}
	out = appendPlainField(out, "failure", b.Failure)
	if b.Removed {
		out = append(appendName(out, "removed"), "true"...)
	}
	out = appendPlainField(out, "prev", b.Prev)
	return append(out, '}') // within the size made for it: no copy of the text is left behind
}

// plainBody reports whether b has no list or nested value to encode and
// every string of it is one JSON writes as it is.
func plainBody(b *entryBody) bool {
	return len(b.Entities) == 0 && len(b.Attachments) == 0 && b.ReplyTo == nil && len(b.Deleted) == 0 && b.Group == nil &&
		plainString(b.Text) && plainString(b.Emoji) && plainString(b.TargetSequenceID) && plainString(b.KeyVersion) &&
		plainString(b.DecryptOnly) && plainString(b.Failure) && plainString(b.Prev)
}

// plainString reports whether json.Marshal writes s between quotes as it
// is: valid UTF-8 with no control character, quote, backslash, HTML
// character (<, >, &) or line or paragraph separator (U+2028, U+2029), all
// of which it escapes.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		case c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9):
			return false
		}
	}
	return utf8.ValidString(s)
}

// plainBodySize is the encoded size of a plain body.
func plainBodySize(b *entryBody) int {
	n, fields := 2, 0 // the braces, and a comma between fields
	str := func(name, v string) {
		if v != "" {
			n, fields = n+len(name)+len(v)+5, fields+1 // "name":"v"
		}
	}
	flag := func(name string, set bool) {
		if set {
			n, fields = n+len(name)+7, fields+1 // "name":true
		}
	}
	str("text", b.Text)
	str("emoji", b.Emoji)
	str("target_sequence_id", b.TargetSequenceID)
	str("key_version", b.KeyVersion)
	str("decrypt_only", b.DecryptOnly)
	if b.TTL != 0 {
		var digits [20]byte
		n, fields = n+len("ttl")+3+len(strconv.AppendInt(digits[:0], int64(b.TTL), 10)), fields+1
	}
	flag("delete_for_all", b.DeleteForAll)
	str("failure", b.Failure)
	flag("removed", b.Removed)
	str("prev", b.Prev)
	return n + max(fields-1, 0)
}

// appendName appends a field's name, after a comma unless it is the first.
func appendName(out []byte, name string) []byte {
	if len(out) > 1 {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, name...)
	return append(out, '"', ':')
}

// appendPlainField appends a plain string field, omitted when empty.
func appendPlainField(out []byte, name, v string) []byte {
	if v == "" {
		return out
	}
	out = append(appendName(out, name), '"')
	out = append(out, v...)
	return append(out, '"')
}
