package api

import (
	"bytes"
	"encoding/json"
	"testing"
)

// shapeOf counts the objects of a decoded JSON value, and its values as
// jsonShape does: one for each container, and one for each separator
// between its elements.
func shapeOf(v any) (objects, values int) {
	var elems []any
	switch v := v.(type) {
	case map[string]any:
		objects++
		for _, e := range v {
			elems = append(elems, e)
		}
	case []any:
		elems = v
	default:
		return 0, 0
	}
	values = 1 + max(len(elems)-1, 0)
	for _, e := range elems {
		o, n := shapeOf(e)
		objects, values = objects+o, values+n
	}
	return objects, values
}

// FuzzJSONShape: on every valid JSON text jsonShape counts at least what decoding
// it yields (strings holding braces, commas, quotes and escapes
// included), and on any input it returns without panicking.
func FuzzJSONShape(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `[{},{},{}]`, `{"a":"{,[\"\\","b":[1,[2,{}],"\\\\"]}`,
		`{"errors":[{"title":"operational-disconnect"}]}`, `"unterminated`, `{"a":"\\"}`,
		`{"data":{"event_uuid":"1","event_type":"chat.received","payload":{"encoded_event":"AAAA"}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		objects, values := jsonShape(b)
		if !json.Valid(b) {
			return
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("valid JSON %q: %v", b, err)
		}
		wo, wv := shapeOf(v)
		if objects < wo || values < wv { // repeated keys decode into one
			t.Fatalf("%q: jsonShape %d objects %d values, decoded %d objects %d values", b, objects, values, wo, wv)
		}
	})
}
