package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// decodeJSON strictly decodes a JSON object body into v. strict rejects
// unknown fields (the specification's additionalProperties: false).
func decodeJSON(body []byte, v any, strict bool) *apiError {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return errInvalid("body", "The request body is required.")
	}
	if trimmed[0] != '{' {
		return errInvalid("body", "The request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errInvalid("body", "The request body must hold exactly one JSON object.")
	}
	return nil
}

func jsonProblem(err error) *apiError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return errInvalid(field, "The field %q has the wrong type: got JSON %s, want %s.", field, te.Value, jsonKind(te.Type.Kind().String()))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errInvalid("body", "The request body is not valid JSON (offset %d).", se.Offset)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return errInvalid(strings.Trim(f, `"`), "The field %s is not allowed in this request.", f)
	}
	if strings.Contains(msg, "illegal base64") {
		return errInvalid("media", "The field is not valid base64.")
	}
	return errInvalid("body", "The request body could not be decoded as JSON.")
}

func jsonKind(k string) string {
	switch k {
	case "slice":
		return "array"
	case "struct", "map":
		return "object"
	case "int", "int64", "int32", "uint64", "float64":
		return "number"
	}
	return k
}
