package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/api"
)

// jsonObjects returns every top-level JSON object embedded in text.
func jsonObjects(text string) []string {
	var out []string
	for i := 0; i < len(text); i++ {
		if text[i] != '{' {
			continue
		}
		depth, inStr, esc := 0, false, false
		for j := i; j < len(text); j++ {
			c := text[j]
			switch {
			case esc:
				esc = false
			case inStr && c == '\\':
				esc = true
			case c == '"':
				inStr = !inStr
			case inStr:
			case c == '{':
				depth++
			case c == '}':
				depth--
			}
			if depth == 0 {
				if cand := text[i : j+1]; json.Valid([]byte(cand)) {
					out = append(out, cand)
					i = j
				}
				break
			}
		}
	}
	return out
}

// decodeLossless decodes doc strictly (no unknown field) into a new T and
// checks that encoding it again gives back the same JSON value.
func decodeLossless[T any](doc string) (*T, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	v := new(T)
	if err := dec.Decode(v); err != nil {
		return nil, fmt.Errorf("strict decode: %w", err)
	}
	again, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var a, b any
	if err := json.Unmarshal([]byte(doc), &a); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(again, &b); err != nil {
		return nil, err
	}
	if !reflect.DeepEqual(a, b) {
		return nil, fmt.Errorf("lossy: %s\n re-encoded as %s", doc, again)
	}
	return v, nil
}

// TestSeedExamplesDecodeLosslessly decodes every example payload of X's
// documentation pages (testdata/reference/seeds) with the client's types: nothing
// unknown, nothing dropped.
func TestSeedExamplesDecodeLosslessly(t *testing.T) {
	type check struct {
		seed, marker string // the example is the object containing marker
		decode       func(string) error
	}
	lossless := func(f func(string) error) func(string) error { return f }
	checks := []check{
		{"000_", `"conversation_participant_keys"`, lossless(func(d string) error { _, err := decodeLossless[api.AddConversationKeysRequest](d); return err })},
		{"000_", `"sequence_id"`, lossless(func(d string) error { _, err := decodeLossless[api.AddConversationKeysResponse](d); return err })},
		{"001_", `"encoded_message_create_event"`, lossless(func(d string) error { _, err := decodeLossless[api.SendChatMessageRequest](d); return err })},
		{"001_", `"encoded_message_event"`, lossless(func(d string) error { _, err := decodeLossless[api.SendChatMessageResponse](d); return err })},
		{"003_", `"missing_conversation_key_change_events"`, func(d string) error {
			r, err := decodeLossless[api.GetChatConversationEventsResponse](d)
			if err == nil && (r.Data[0].IsTrusted == nil || !*r.Data[0].IsTrusted || r.Data[0].SequenceID == "" || len(r.Meta.KeyChangeEvents()) != 1) {
				err = fmt.Errorf("decoded %+v", r)
			}
			return err
		}},
		{"004_", `"conversation_type":`, lossless(func(d string) error {
			_, err := decodeLossless[api.CreateDirectMessagesConversationRequest](d)
			return err
		})},
		{"004_", `"referenced_tweets"`, func(d string) error {
			e, err := decodeLossless[api.DmEvent](d)
			if err == nil && (len(e.References()) != 1 || e.References()[0].ID != "1580559079470145536") {
				err = fmt.Errorf("references %+v", e.References())
			}
			return err
		}},
		{"004_", `"media_keys"`, lossless(func(d string) error { _, err := decodeLossless[api.DmEvent](d); return err })},
		{"004_", `"data"`, lossless(func(d string) error { _, err := decodeLossless[api.DmCreateResponse](d); return err })},
	}
	for _, c := range checks {
		raw, err := ReadSeed(c.seed)
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, doc := range jsonObjects(string(raw)) {
			if !strings.Contains(doc, c.marker) || (c.marker == `"conversation_type":` && !strings.Contains(doc, `"participant_ids"`)) {
				continue // parameter fragments are not whole bodies
			}
			found++
			if err := c.decode(doc); err != nil {
				t.Errorf("seed %s example with %s: %v", c.seed, c.marker, err)
			}
		}
		if found == 0 {
			t.Errorf("seed %s: no example with %s", c.seed, c.marker)
		}
	}
	// Seed 004's reference pages answer the DM ids unwrapped.
	raw, err := ReadSeed("004_")
	if err != nil {
		t.Fatal(err)
	}
	unwrapped := 0
	for _, doc := range jsonObjects(string(raw)) {
		if !strings.HasPrefix(strings.TrimSpace(doc[1:]), `"dm_conversation_id"`) {
			continue
		}
		unwrapped++
		var r api.DmCreateResponse
		if err := json.Unmarshal([]byte(doc), &r); err != nil || r.Data == nil || r.Data.DmEventID == "" {
			t.Errorf("unwrapped DM answer %s: %+v, %v", doc, r.Data, err)
		}
		var flat map[string]string
		if err := json.NewDecoder(bytes.NewReader([]byte(doc))).Decode(&flat); err != nil || flat["dm_event_id"] != r.Data.DmEventID {
			t.Errorf("unwrapped DM answer lost dm_event_id: %v", err)
		}
	}
	if unwrapped == 0 {
		t.Error("seed 004: no unwrapped DM answer")
	}
}
