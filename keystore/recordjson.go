package keystore

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// The event record is the one written for every event a sync stores, so
// it has an encoder of its own: byte for byte what encoding/json writes
// for eventRecord (same field order, omitempty, base64 and RFC 3339
// forms), without reflection. Strings that encoding/json would escape
// (quotes, backslashes, control characters, <, >, &, non-ASCII) and times
// it formats specially go through json.Marshal instead, so the file format
// cannot drift (TestEventRecordJSON compares the two).

// encodeEventRecord returns the JSON encoding of r.
func encodeEventRecord(r *eventRecord) ([]byte, error) {
	return appendEventRecord(make([]byte, 0, eventRecordSize(r)), r)
}

// eventRecordSize is about the size of r's JSON encoding (enough for the
// common record; a guess off only costs a reallocation).
func eventRecordSize(r *eventRecord) int {
	return 160 + len(r.MessageID) + len(r.SenderID) + len(r.Type) + len(r.Error) +
		base64.StdEncoding.EncodedLen(len(r.Body)) + base64.StdEncoding.EncodedLen(len(r.Raw))
}

// appendEventRecord appends the JSON encoding of r to b. On an error b's
// appended bytes are cleared (they may hold part of the body).
func appendEventRecord(b []byte, r *eventRecord) ([]byte, error) {
	if !plainJSON(r.MessageID) || !plainJSON(r.SenderID) || !plainJSON(r.Type) || !plainJSON(r.Error) {
		return appendMarshalled(b, r)
	}
	start := len(b)
	b = append(b, '{')
	b = appendStringField(b, start, `"message_id":`, r.MessageID)
	b = appendStringField(b, start, `"sender_id":`, r.SenderID)
	b = appendStringField(b, start, `"type":`, r.Type)
	b = appendBytesField(b, start, `"body":`, r.Body)
	if r.Verified {
		b = appendSep(b, start)
		b = append(b, `"verified":true`...)
	}
	b = appendStringField(b, start, `"error":`, r.Error)
	b = appendBytesField(b, start, `"raw":`, r.Raw)
	b = appendSep(b, start)
	b = append(b, `"created_at":"`...)
	b, err := r.CreatedAt.AppendText(b) // what Time.MarshalJSON writes, unquoted
	if err != nil {
		clear(b[start:])
		return appendMarshalled(b[:start], r) // and its error
	}
	return append(b, '"', '}'), nil
}

// appendMarshalled appends json.Marshal's encoding of r to b.
func appendMarshalled(b []byte, r *eventRecord) ([]byte, error) {
	m, err := marshalRecord(r)
	if err != nil {
		return b, err
	}
	b = append(b, m...)
	clear(m)
	return b, nil
}

func marshalRecord(r *eventRecord) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("keystore: encoding record: %w", err)
	}
	return b, nil
}

// plainJSON reports whether encoding/json writes s as it is, between
// quotes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendSep appends a comma unless the object that starts at b[start] has
// no member yet.
func appendSep(b []byte, start int) []byte {
	if len(b) > start+1 {
		b = append(b, ',')
	}
	return b
}

func appendStringField(b []byte, start int, name, v string) []byte {
	if v == "" {
		return b
	}
	b = appendSep(b, start)
	b = append(b, name...)
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}

func appendBytesField(b []byte, start int, name string, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = appendSep(b, start)
	b = append(b, name...)
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}
