package emulator

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/xchat-go/xchat/api"
)

// pageEventsCase is one events page: its events, the field list asked for
// and its meta.
type pageEventsCase struct {
	events []*eventRec
	fields []string
	meta   *api.ChatEventsMeta
}

// eventsPageCases are pages whose events and meta use every field, empty
// and present, and strings encoding/json escapes.
func eventsPageCases() []pageEventsCase {
	sig := &sigJSON{Signature: "c2ln", PublicKeyVersion: "17", SignatureVersion: "1"}
	plain := &eventRec{Conv: "11:22", Seq: 1900000000000000001, PrevSeq: 1900000000000000000, Kind: kindMessage,
		SenderID: "11", CreatedAt: 1760000000123, Token: "tok", Encoded: []byte{1, 2, 3, 0xff}, SigJSON: sig}
	first := &eventRec{Conv: "g123", Seq: 5, Kind: kindGroupChange, SenderID: "22", CreatedAt: 1, Encoded: []byte("x")}
	odd := &eventRec{Conv: "g<&>", Seq: 7, PrevSeq: 6, Kind: kindMessage, SenderID: "a\"b\\c\u2028<&>\x01",
		Token: "t\xff\xfe\u00e9", Encoded: nil}
	all := []string{"id", "encoded_event", "conversation_id", "sender_id", "previous_id", "created_at", "is_trusted",
		"message_event_signature", "conversation_token"}
	return []pageEventsCase{
		{meta: &api.ChatEventsMeta{}},
		{events: []*eventRec{plain}, meta: &api.ChatEventsMeta{ResultCount: 1}},
		{events: []*eventRec{plain, first, odd}, fields: all, meta: &api.ChatEventsMeta{HasMore: true, NextToken: "n<x>", ResultCount: 3,
			ConversationKeyEvents: []string{"a2V5", "&"}}},
		{events: []*eventRec{odd, plain}, fields: []string{"sender_id", "conversation_token"}, meta: &api.ChatEventsMeta{ResultCount: 2}},
		{events: []*eventRec{first}, fields: []string{"id"}, meta: &api.ChatEventsMeta{ResultCount: 1}},
	}
}

// TestEventsPageAsMarshalled checks that an events page spliced from the
// events' kept JSON is, byte for byte and header for header, what
// writeJSON writes for the response built whole; and that an event's kept
// JSON follows the field list asked for (the cases share events and ask
// for different lists).
func TestEventsPageAsMarshalled(t *testing.T) {
	for round := range 2 { // the second round is served from kept JSON
		for i, c := range eventsPageCases() {
			want := httptest.NewRecorder()
			resp := api.GetChatConversationEventsResponse{Meta: c.meta}
			for _, e := range c.events {
				resp.Data = append(resp.Data, chatEventJSON(e, c.fields))
			}
			writeJSON(want, 200, resp)

			got := httptest.NewRecorder()
			var data [][]byte
			for _, e := range c.events {
				b, err := pageEventJSON(e, c.fields)
				if err != nil {
					t.Fatalf("round %d case %d: %v", round, i, err)
				}
				data = append(data, b)
			}
			writeEventsPage(got, data, c.meta)
			if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
				t.Fatalf("round %d case %d: spliced page\n%s\nwant\n%s", round, i, got.Body.Bytes(), want.Body.Bytes())
			}
			for _, h := range []string{"Content-Type", "Content-Length", "X-Content-Type-Options"} {
				if got.Header().Get(h) != want.Header().Get(h) {
					t.Fatalf("round %d case %d: %s %q, want %q", round, i, h, got.Header().Get(h), want.Header().Get(h))
				}
			}
			if got.Code != want.Code {
				t.Fatalf("round %d case %d: status %d, want %d", round, i, got.Code, want.Code)
			}
		}
	}
}

// FuzzEventsPageJSON checks the spliced page against writeJSON for events
// whose strings are arbitrary.
func FuzzEventsPageJSON(f *testing.F) {
	f.Add("11", "tok", "n", []byte{1, 2}, uint64(5), uint64(4), false)
	f.Add("a\"<&>\u2028", "t\xff", "", []byte(nil), uint64(1), uint64(0), true)
	f.Fuzz(func(t *testing.T, sender, token, next string, enc []byte, seq, prev uint64, fields bool) {
		e := &eventRec{Conv: "g1", Seq: seq, PrevSeq: prev, Kind: kindMessage, SenderID: sender, Token: token, Encoded: enc}
		var fl []string
		if fields {
			fl = []string{"sender_id", "conversation_token", "encoded_event", "previous_id"}
		}
		meta := &api.ChatEventsMeta{HasMore: next != "", NextToken: next, ResultCount: 2, ConversationKeyEvents: []string{token}}
		want := httptest.NewRecorder()
		writeJSON(want, 200, api.GetChatConversationEventsResponse{
			Data: []api.ChatMessageEvent{chatEventJSON(e, fl), chatEventJSON(e, fl)}, Meta: meta})
		b, err := pageEventJSON(e, fl)
		if err != nil {
			t.Fatal(err)
		}
		got := httptest.NewRecorder()
		writeEventsPage(got, [][]byte{b, b}, meta)
		if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Fatalf("spliced page\n%s\nwant\n%s", got.Body.Bytes(), want.Body.Bytes())
		}
	})
}
