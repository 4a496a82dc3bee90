package session

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
)

// hostileJSONPieces are the pieces of the strings TestOutboxBodyHostile
// builds: what JSON escapes or replaces (control characters, the quote,
// the backslash, the HTML characters, U+2028 and U+2029, invalid UTF-8:
// lone continuation bytes, truncated and overlong sequences, encoded
// surrogates, bytes past U+10FFFF) beside what it writes as it is (ASCII,
// DEL, multi-byte characters next to the separators), at word boundaries
// of plainJSON's eight-byte scan or not.
var hostileJSONPieces = []string{
	"a", "abcdefg", "abcdefgh", "CwBkAAAAEGFiYw+/=", " ", "~", "\x7f", "\x00", "\x01", "\x1f", "\t", "\n", "\r",
	`"`, `\`, "<", ">", "&", "/", "\u2028", "\u2029", "\u2027", "\u202a", "\xe2\x80", "\xe2", "\xe2\x80\xa8\xa8",
	"\x80", "\xbf", "\xc0\xaf", "\xc2", "\xc2\xa0", "\xed\xa0\x80", "\xef\xbf\xbd", "\xef\xbb\xbf", "\xf4\x8f\xbf\xbf",
	"\xf4\x90\x80\x80", "\xf5", "\xff", "é", "☃", "𝄞", "\U0010ffff",
}

// plainJSONPieces are the pieces JSON writes as they are.
var plainJSONPieces = []string{"a", "abcdefg", "abcdefgh", "CwBkAAAAEGFiYw+/=", " ", "~", "\x7f", "/", "\u2027", "\u202a",
	"\xc2\xa0", "\xef\xbf\xbd", "\xef\xbb\xbf", "\xf4\x8f\xbf\xbf", "é", "☃", "𝄞", "\U0010ffff"}

// hostileJSONString joins up to 12 pieces drawn by r: one string in
// twenty from every piece, the others from the plain ones only (so that
// whole bodies still take the hand-written path).
func hostileJSONString(r *rand.Rand) string {
	pieces := plainJSONPieces
	if r.IntN(20) == 0 {
		pieces = hostileJSONPieces
	}
	var b []byte
	for range r.IntN(13) {
		b = append(b, pieces[r.IntN(len(pieces))]...)
	}
	return string(b)
}

// TestOutboxBodyHostile: bodies whose every string is built from pieces
// JSON escapes, replaces or writes as it is are encoded byte for byte as
// json.Marshal encodes them (a fixed seed: the same bodies every run),
// and plainJSON answers as plainString for each string.
func TestOutboxBodyHostile(t *testing.T) {
	r := rand.New(rand.NewPCG(0x68313162, 0x65))
	s := func() string { return hostileJSONString(r) }
	plain := 0
	for i := range 15000 {
		var b outboxBody
		b.Path = s()
		if r.IntN(8) != 0 {
			b.Message = &api.SendChatMessageRequest{MessageID: s(), EncodedMessageCreateEvent: s(), EncodedMessageEventSignature: s(), ConversationToken: s()}
		}
		if r.IntN(8) != 0 {
			c := &outboxContent{Type: s(), Text: s(), ReplyTo: s(), Target: s(), Emoji: s(), Media: s(),
				TTL: time.Duration(r.Int64() >> r.IntN(64)), Silent: r.IntN(2) == 0}
			if r.IntN(2) == 0 {
				c.TTL = -c.TTL
			}
			for range r.IntN(4) {
				c.Audience = append(c.Audience, s())
			}
			if r.IntN(4) == 0 {
				c.Audience = []string{}
			}
			b.Content = c
		}
		b.Unsent, b.Stale = r.IntN(2) == 0, r.IntN(2) == 0
		want, err := json.Marshal(&b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeOutboxBody(&b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("body %d: encoded %q, json.Marshal %q", i, got, want)
		}
		if plainOutboxBody(&b) {
			plain++
		}
		for _, v := range []string{b.Path, s()} {
			if plainJSON(v) != plainString(v) {
				t.Fatalf("%q: plainJSON %v, plainString %v", v, plainJSON(v), plainString(v))
			}
		}
	}
	if plain < 100 {
		t.Fatalf("only %d bodies took the hand-written path", plain)
	}
	t.Logf("%d bodies took the hand-written path", plain)
}
