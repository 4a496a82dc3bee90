package session

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/session/event"
)

// outboxBodyCases are bodies the outbox stores: plain ones (written by
// hand) and ones with entities, a delete or strings JSON escapes (left to
// json.Marshal).
func outboxBodyCases() map[string]outboxBody {
	msg := func() *api.SendChatMessageRequest {
		return &api.SendChatMessageRequest{MessageID: "00000000-0000-4000-8000-000000000001",
			EncodedMessageCreateEvent: "CwBkAAAAEGFiYw+/=", EncodedMessageEventSignature: "c2ln"}
	}
	return map[string]outboxBody{
		"text": {Path: "1001-1002", Message: msg(), Content: &outboxContent{Type: event.TypeMessage, Text: "hello"}},
		"every plain": {Path: "g1795000000000000123", Message: &api.SendChatMessageRequest{MessageID: "m", EncodedMessageCreateEvent: "e",
			EncodedMessageEventSignature: "s", ConversationToken: "tok"}, Content: &outboxContent{Type: event.TypeReactionAdd, Text: "t",
			ReplyTo: "5", Target: "6", Emoji: "👍", TTL: 90 * time.Second, Silent: true, Media: "f.bin", Audience: []string{"1001", "1002", "1003"}},
			Unsent: true, Stale: true},
		"no content":     {Path: "p", Message: msg()},
		"empty content":  {Path: "p", Message: msg(), Content: &outboxContent{}},
		"empty message":  {Message: &api.SendChatMessageRequest{}},
		"one audience":   {Path: "p", Message: msg(), Content: &outboxContent{Type: "message", Audience: []string{"7"}}},
		"empty audience": {Path: "p", Message: msg(), Content: &outboxContent{Type: "message", Audience: []string{}}},
		"negative ttl":   {Path: "p", Message: msg(), Content: &outboxContent{TTL: -1}},
		"utf8":           {Path: "p", Message: msg(), Content: &outboxContent{Text: "héllo wörld \x7f ☃ 𝄞"}},
		"quote":          {Path: "p", Message: msg(), Content: &outboxContent{Text: `say "hi"`}},
		"html":           {Path: "p", Message: msg(), Content: &outboxContent{Text: "<b>&</b>"}},
		"control":        {Path: "p", Message: msg(), Content: &outboxContent{Text: "line\nbreak"}},
		"separators":     {Path: "p", Message: msg(), Content: &outboxContent{Text: "a\u2028b"}},
		"invalid utf8":   {Path: "p", Message: msg(), Content: &outboxContent{Text: "bad \xff"}},
		"audience quote": {Path: "p", Message: msg(), Content: &outboxContent{Audience: []string{`"`}}},
		"entities":       {Path: "p", Message: msg(), Content: &outboxContent{Text: "x", Entities: []event.Entity{{Start: 0, End: 1}}}},
		"empty entities": {Path: "p", Message: msg(), Content: &outboxContent{Text: "x", Entities: []event.Entity{}}},
		"delete":         {Path: "p", Delete: &api.DeleteChatMessagesRequest{SequenceIDs: []string{"1"}}, Content: &outboxContent{Type: event.TypeDelete}},
		"nothing":        {},
	}
}

// TestOutboxBodyMatchesJSON: every body is stored byte for byte as
// json.Marshal writes it, and reads back as it was.
func TestOutboxBodyMatchesJSON(t *testing.T) {
	plain := 0
	for name, b := range outboxBodyCases() {
		want, err := json.Marshal(&b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := encodeOutboxBody(&b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: encoded %s, json.Marshal %s", name, got, want)
		}
		if plainOutboxBody(&b) {
			plain++
			if n := plainOutboxBodySize(&b); n != len(got) || cap(got) != n {
				t.Errorf("%s: size %d for %d bytes (capacity %d)", name, n, len(got), cap(got))
			}
		}
	}
	if plain < 8 {
		t.Fatalf("only %d cases take the hand-written path", plain)
	}
}

// TestOutboxBodyFields: the hand-written encoder knows every field of the
// body; a field added to these types must be added to it (or the body
// left to json.Marshal).
func TestOutboxBodyFields(t *testing.T) {
	for _, c := range []struct {
		v    any
		want int
	}{{outboxBody{}, 6}, {outboxContent{}, 10}, {api.SendChatMessageRequest{}, 4}} {
		if n := reflect.TypeOf(c.v).NumField(); n != c.want {
			t.Errorf("%T has %d fields, encodeOutboxBody knows %d", c.v, n, c.want)
		}
	}
}

// FuzzOutboxBody: for any strings and flags, the body is encoded as
// json.Marshal encodes it.
func FuzzOutboxBody(f *testing.F) {
	for _, b := range outboxBodyCases() {
		if b.Message != nil && b.Content != nil {
			f.Add(b.Path, b.Message.EncodedMessageCreateEvent, b.Content.Text, b.Content.Emoji, int64(b.Content.TTL), b.Content.Silent, b.Unsent)
		}
	}
	f.Fuzz(func(t *testing.T, path, enc, text, emoji string, ttl int64, silent, unsent bool) {
		b := outboxBody{Path: path, Message: &api.SendChatMessageRequest{MessageID: emoji, EncodedMessageCreateEvent: enc, EncodedMessageEventSignature: path},
			Content: &outboxContent{Type: emoji, Text: text, ReplyTo: path, Target: enc, Emoji: emoji, TTL: time.Duration(ttl), Silent: silent,
				Media: text, Audience: []string{emoji, path}}, Unsent: unsent, Stale: silent}
		want, err := json.Marshal(&b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeOutboxBody(&b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("encoded %q, json.Marshal %q", got, want)
		}
	})
}

// TestPlainJSON: plainJSON answers as plainString, whatever the bytes.
func TestPlainJSON(t *testing.T) {
	for _, s := range []string{"", "abc", `a"b`, `a\b`, "a<b", "a>b", "a&b", "a\x1fb", "a\x7fb", "é", "a\u2028", "a\u2029b", "\u2027",
		"ok \xe2\x80", "bad \xff", "CwBkAAAAEGFiYw+/=", "abc\xe2\x80\xa8",
		"abcdefghijklmnop", "abcdefgh\x1fjklmnop", "abcdefghijklmno\x80", "abcdefgh>jklmnop&", "abcdefgh\\", "abcdefg\x7f~ !#$%'()*+,-./"} {
		if got, want := plainJSON(s), plainString(s); got != want {
			t.Errorf("%q: plainJSON %v, plainString %v", s, got, want)
		}
	}
}

// FuzzPlainJSON: plainJSON answers as plainString for any string.
func FuzzPlainJSON(f *testing.F) {
	for _, s := range []string{"", "CwBkAAAAEGFiYw+/CwBkAAAAEGFiYw+/", "abcdefg\"", "abcdefgh<ijklmno", "abcdefgh\u2028", "\x7f\x80abcdefgh"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := plainJSON(s), plainString(s); got != want {
			t.Fatalf("%q: plainJSON %v, plainString %v", s, got, want)
		}
	})
}
