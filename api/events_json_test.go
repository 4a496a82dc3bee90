package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// eventsPageItem is one item of a page as the emulator serves it, every
// field answered.
const eventsPageItem = `{"id":"1875","sequence_id":"1875","encoded_event":"CgQxODc1EgExGgQxOjI=","conversation_id":"1:2",` +
	`"previous_id":"1874","previous_sequence_id":"1874","sender_id":"1","conversation_token":"tok",` +
	`"created_at":"2026-01-01T00:00:00.000Z","created_at_msec":"1767225600000","is_trusted":true,` +
	`"message_event_signature":{"signature":"c2ln","public_key_version":"1","signature_version":"1",` +
	`"signing_public_key":"cGs=","message_signing_key_info_list":[{"public_key_version":"2"}]}}`

// eventsPage is a page of two items and its meta.
const eventsPage = `{"data":[` + eventsPageItem + `,{"id":"1874","encoded_event":"QUJD","is_trusted":false}],` +
	`"meta":{"has_more":true,"next_token":"t","result_count":2,"conversation_key_events":["a2M="]}}`

// eventsPageCases are documents decodeEventsPage must decode as
// json.Unmarshal does, and whether it reads them itself (fast) or
// declines them.
var eventsPageCases = []struct {
	name string
	doc  string
	fast bool
}{
	{"page", eventsPage, true},
	{"page with whitespace", " {\n\t\"data\" : [ " + eventsPageItem + " ] ,\r\n\"meta\":{ } } \n", true},
	{"empty data", `{"data":[]}`, true},
	{"empty object", `{}`, true},
	{"no data", `{"meta":{"result_count":0},"errors":[{"title":"x","detail":"d"}]}`, true},
	{"null data", `{"data":null}`, true},
	{"null fields", `{"data":[{"id":null,"encoded_event":null,"is_trusted":null,"message_event_signature":null}]}`, true},
	{"escaped strings", `{"data":[{"id":"1\u0038","encoded_event":"QU\/JD","sender_id":"\"x\""}]}`, true},
	{"non-ASCII value", `{"data":[{"sender_id":"café","encoded_event":"\u00e9"}]}`, true},
	{"invalid UTF-8 value", "{\"data\":[{\"sender_id\":\"a\xffb\"}]}", true},
	{"unknown keys", `{"x":[1,{"y":"}"}],"data":[{"z":{"a":[]},"id":"1","message_event_signature":{"w":1,"signature":"s"}}],"v":-1.5e3}`, true},
	{"is_trusted false", `{"data":[{"is_trusted":false}]}`, true},
	{"number for a string", `{"data":[{"id":7}]}`, false},
	{"string for a bool", `{"data":[{"is_trusted":"true"}]}`, false},
	{"case-variant data", `{"Data":[{"id":"1"}]}`, false},
	{"case-variant item key", `{"data":[{"id":"1","ID":"2"}]}`, false},
	{"case-variant signature key", `{"data":[{"message_event_signature":{"Signature":"s"}}]}`, false},
	{"duplicate data", `{"data":[{"id":"1"}],"data":[{"id":"2"}]}`, false},
	{"duplicate item key", `{"data":[{"id":"1","id":"2"}]}`, false},
	{"duplicate meta", `{"meta":{"next_token":"a"},"meta":{"has_more":true}}`, false},
	{"escaped key", `{"d\u0061ta":[{"id":"1"}]}`, false},
	{"null item", `{"data":[null]}`, false},
	{"data not an array", `{"data":{"id":"1"}}`, false},
	{"trailing garbage", `{"data":[]} x`, false},
	{"two documents", `{"data":[]}{}`, false},
	{"trailing comma in data", `{"data":[{"id":"1"},]}`, false},
	{"trailing comma in item", `{"data":[{"id":"1",}]}`, false},
	{"missing colon", `{"data" []}`, false},
	{"truncated", eventsPage[:len(eventsPage)/2], false},
	{"bad literal", `{"data":[{"is_trusted":tru}]}`, false},
	{"literal run on", `{"data":[{"is_trusted":truex}]}`, false},
	{"bad unknown value", `{"data":[],"x":[1,,2]}`, false},
	{"control byte in a string", "{\"data\":[{\"id\":\"a\x01b\"}]}", false},
	{"not an object", `[]`, false},
	{"null document", `null`, false},
	{"empty", ``, false},
}

// TestDecodeEventsPageMatchesEncodingJSON: every case decodes through
// decodeJSON to what json.Unmarshal gives (the same value, or an error
// both ways), and the fast path reads the cases it should and declines
// the others.
func TestDecodeEventsPageMatchesEncodingJSON(t *testing.T) {
	for _, tc := range eventsPageCases {
		t.Run(tc.name, func(t *testing.T) {
			_, fast := decodeEventsPage([]byte(tc.doc))
			if fast != tc.fast {
				t.Errorf("read by the fast path: %v, want %v", fast, tc.fast)
			}
			sameAsEncodingJSON(t, []byte(tc.doc))
		})
	}
}

// TestDecodeEventsPageFields: the page's fields are all read (a check of
// the test's own page: decoding it must leave no field of an item empty).
func TestDecodeEventsPageFields(t *testing.T) {
	got, ok := decodeEventsPage([]byte(eventsPage))
	if !ok {
		t.Fatal("the page was declined")
	}
	ev := got.Data[0]
	v := reflect.ValueOf(ev)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("field %s not read", v.Type().Field(i).Name)
		}
	}
	if s := ev.MessageEventSignature; len(s.MessageSigningKeyInfoList) != 1 || s.Signature != "c2ln" || s.SigningPublicKey != "cGs=" {
		t.Errorf("signature = %+v", s)
	}
	if got.Data[1].IsTrusted == nil || *got.Data[1].IsTrusted || got.Meta == nil || got.Meta.NextToken != "t" || len(got.Meta.ConversationKeyEvents) != 1 {
		t.Errorf("page = %+v, meta %+v", got.Data[1], got.Meta)
	}
	if len(eventKeys) != reflect.TypeFor[ChatMessageEvent]().NumField() || len(signatureKeys) != reflect.TypeFor[MessageEventSignature]().NumField() ||
		len(pageKeys) != reflect.TypeFor[GetChatConversationEventsResponse]().NumField() {
		t.Error("the key lists do not name every field")
	}
	for _, keys := range [][]string{eventKeys, signatureKeys} {
		for _, k := range keys {
			if !strings.Contains(eventsPage, `"`+k+`"`) {
				t.Errorf("key %q is not in the test page", k)
			}
		}
	}
}

// sameAsEncodingJSON fails t unless decodeJSON decodes doc as
// json.Unmarshal does.
func sameAsEncodingJSON(t *testing.T, doc []byte) {
	t.Helper()
	var want, got GetChatConversationEventsResponse
	werr := json.Unmarshal(doc, &want)
	gerr := decodeJSON(doc, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("error %v, encoding/json: %v", gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v, encoding/json %+v", got, want)
	}
	if werr != nil && gerr.Error() != werr.Error() {
		t.Fatalf("error %q, encoding/json %q", gerr, werr)
	}
}

// FuzzDecodeEventsPage: whatever the document, decodeJSON decodes a page
// as json.Unmarshal does.
func FuzzDecodeEventsPage(f *testing.F) {
	for _, tc := range eventsPageCases {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		sameAsEncodingJSON(t, doc)
	})
}

// TestDecodeEventsPageSharesRepeatedStrings: the fields a page's items
// repeat (conversation, token, sender, signing key and versions, an id as
// the sequence id) are made into strings once per page, not once an item.
func TestDecodeEventsPageSharesRepeatedStrings(t *testing.T) {
	const n = 100
	var b strings.Builder
	b.WriteString(`{"data":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		id := fmt.Sprint(1_000_000 + n - i)
		prev := fmt.Sprint(1_000_000 + n - i - 1)
		fmt.Fprintf(&b, `{"id":%q,"encoded_event":"QUJD%04d","conversation_id":"1:2","conversation_token":"tok","sequence_id":%q,`+
			`"previous_sequence_id":%q,"previous_id":%q,"sender_id":"1","created_at":"2026-01-01T00:00:%02d.000Z","created_at_msec":"17672256%05d",`+
			`"is_trusted":true,"message_event_signature":{"public_key_version":"1","signature":"c2ln%04d","signature_version":"1","signing_public_key":"cGtwa3Br"}}`,
			id, i, id, prev, prev, i%60, i, i)
	}
	b.WriteString(`]}`)
	doc := []byte(b.String())
	sameAsEncodingJSON(t, doc)
	page, ok := decodeEventsPage(doc)
	if !ok || len(page.Data) != n {
		t.Fatalf("page not read: %v", ok)
	}
	first, last := page.Data[0], page.Data[n-1]
	if unsafe.StringData(first.ConversationID) != unsafe.StringData(last.ConversationID) ||
		unsafe.StringData(first.MessageEventSignature.SigningPublicKey) != unsafe.StringData(last.MessageEventSignature.SigningPublicKey) ||
		unsafe.StringData(last.SequenceID) != unsafe.StringData(last.ID) {
		t.Error("repeated fields are not shared")
	}
	allocs := testing.AllocsPerRun(20, func() { decodeEventsPage(doc) })
	t.Logf("%.1f allocations per item", allocs/n)
	// Per item: the strings of its encoded_event, previous_sequence_id
	// (its previous_id is the same string, and so is the next item's id),
	// created_at, created_at_msec and signature, its signature struct and
	// its is_trusted; the page's few. Before the strings were shared: 13.
	if allocs > 7.5*n {
		t.Errorf("%.1f allocations per item (want at most 7.5)", allocs/n)
	}
}
