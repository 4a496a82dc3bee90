package session

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/xchat-go/xchat/session/event"
)

// entryBodyCases are bodies the store writes: plain ones (written by
// hand) and ones with lists, nested values or strings JSON escapes (left
// to json.Marshal).
func entryBodyCases() map[string]entryBody {
	return map[string]entryBody{
		"empty":          {},
		"text":           {Text: "hello", KeyVersion: "1700000000000"},
		"every plain":    {Text: "t", Emoji: "👍", TargetSequenceID: "12", KeyVersion: "3", DecryptOnly: "pre_v6", TTL: 90 * time.Second, DeleteForAll: true, Failure: "f", Removed: true, Prev: "11"},
		"negative ttl":   {TTL: -1},
		"utf8 and del":   {Text: "héllo wörld \x7f ☃ 𝄞"},
		"quote":          {Text: `say "hi"`},
		"backslash":      {Text: `a\b`},
		"html":           {Text: "<b>&</b>"},
		"ampersand":      {Text: "a & b"},
		"greater":        {Text: "a > b"},
		"control":        {Text: "line\nbreak\ttab\x00"},
		"separators":     {Text: "a\u2028b\u2029c"},
		"near separator": {Text: "\u2027\u202a\xe2\x80"},
		"invalid utf8":   {Text: "bad \xff\xfe byte"},
		"escaped emoji":  {Emoji: "<3"},
		"entities":       {Text: "x", Entities: []event.Entity{{Start: 0, End: 1}}},
		"empty lists":    {Text: "x", Entities: []event.Entity{}, Deleted: []string{}},
		"reply":          {Text: "x", ReplyTo: &event.Reply{SequenceID: "5", Text: "quoted"}},
		"deleted":        {Deleted: []string{"1", "2"}, DeleteForAll: true},
		"group":          {Group: &event.GroupChange{Title: "t"}},
	}
}

// TestEntryBodyMatchesJSON: every body is stored byte for byte as
// json.Marshal writes it.
func TestEntryBodyMatchesJSON(t *testing.T) {
	plain := 0
	for name, b := range entryBodyCases() {
		want, err := json.Marshal(&b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := encodeEntryBody(&b)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: encoded %s, json.Marshal %s", name, got, want)
		}
		if plainBody(&b) {
			plain++
			if n := plainBodySize(&b); n != len(got) || cap(got) != n {
				t.Errorf("%s: size %d for %d bytes (capacity %d)", name, n, len(got), cap(got))
			}
		}
	}
	if plain < 5 {
		t.Fatalf("only %d cases take the hand-written path", plain)
	}
}

// FuzzEntryBody: for any strings and flags, the body is encoded as
// json.Marshal encodes it.
func FuzzEntryBody(f *testing.F) {
	for _, b := range entryBodyCases() {
		f.Add(b.Text, b.Emoji, b.KeyVersion, b.Prev, int64(b.TTL), b.DeleteForAll, b.Removed)
	}
	f.Fuzz(func(t *testing.T, text, emoji, version, prev string, ttl int64, forAll, removed bool) {
		b := entryBody{Text: text, Emoji: emoji, TargetSequenceID: prev, KeyVersion: version, DecryptOnly: emoji,
			TTL: time.Duration(ttl), DeleteForAll: forAll, Failure: text, Removed: removed, Prev: prev}
		want, err := json.Marshal(&b)
		if err != nil {
			t.Fatal(err)
		}
		got := encodeEntryBody(&b)
		if !bytes.Equal(got, want) {
			t.Fatalf("encoded %q, json.Marshal %q", got, want)
		}
		if plainBody(&b) && cap(got) != len(got) {
			t.Fatalf("%d bytes in a buffer of %d", len(got), cap(got))
		}
	})
}

// TestEntryBodyEncoderKnowsEveryField: each field of entryBody, set alone
// to a value that is not its zero (a scalar, a list of one, a pointer to a
// zero value), is stored as json.Marshal stores it. A field added to
// entryBody that encodeEntryBody does not know (a scalar it does not
// write, a list or pointer plainBody does not send to json.Marshal) fails
// here rather than being dropped from what the store keeps.
func TestEntryBodyEncoderKnowsEveryField(t *testing.T) {
	typ := reflect.TypeFor[entryBody]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		var b entryBody
		v := reflect.ValueOf(&b).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Int64:
			v.SetInt(7)
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		case reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
		default:
			t.Fatalf("entryBody.%s is a %s: teach this test and encodeEntryBody about it", f.Name, v.Kind())
		}
		want, err := json.Marshal(&b)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if got := encodeEntryBody(&b); !bytes.Equal(got, want) {
			t.Errorf("entryBody.%s set alone: stored %s, json.Marshal writes %s", f.Name, got, want)
		}
	}
}
