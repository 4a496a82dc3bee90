package proto

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// ErrDecode reports bytes that are not a valid encoding of the expected
// message. Decoders wrap it with the field at fault.
var ErrDecode = errors.New("juicebox/proto: malformed message")

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	// Definite lengths, minimal integers, struct fields in declaration
	// order: what ciborium (the SDK's serializer) emits.
	encMode, err = cbor.EncOptions{IndefLength: cbor.IndefLengthForbidden}.EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  12,
		MaxArrayElements: 64,
		MaxMapPairs:      64,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// CBOR major types.
const (
	majorUint  = 0
	majorBytes = 2
	majorText  = 3
	majorMap   = 5
)

func major(raw cbor.RawMessage) int {
	if len(raw) == 0 {
		return -1
	}
	return int(raw[0] >> 5)
}

func decodeErr(field string, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrDecode, field, fmt.Sprintf(format, args...))
}

// object is a decoded CBOR map with text keys. Unknown keys are ignored, as
// serde does; every field a reader asks for must be present.
type object struct {
	name   string
	fields map[string]cbor.RawMessage
}

func readObject(name string, raw []byte) (*object, error) {
	if major(raw) != majorMap {
		return nil, decodeErr(name, "not a map")
	}
	m := map[string]cbor.RawMessage{}
	if err := decMode.Unmarshal(raw, &m); err != nil {
		return nil, decodeErr(name, "%v", err)
	}
	return &object{name: name, fields: m}, nil
}

func (o *object) field(key string) (cbor.RawMessage, error) {
	raw, ok := o.fields[key]
	if !ok {
		return nil, decodeErr(o.name, "missing field %q", key)
	}
	return raw, nil
}

// bytes reads a byte string of exactly n bytes (any length when n < 0).
func (o *object) bytes(key string, n int) ([]byte, error) {
	raw, err := o.field(key)
	if err != nil {
		return nil, err
	}
	return decodeBytes(o.name+"."+key, raw, n)
}

func decodeBytes(name string, raw cbor.RawMessage, n int) ([]byte, error) {
	if major(raw) != majorBytes {
		return nil, decodeErr(name, "not a byte string")
	}
	var b []byte
	if err := decMode.Unmarshal(raw, &b); err != nil {
		return nil, decodeErr(name, "%v", err)
	}
	if n >= 0 && len(b) != n {
		return nil, decodeErr(name, "%d bytes, want %d", len(b), n)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// fixed reads a byte string into dst, which fixes its length.
func (o *object) fixed(key string, dst []byte) error {
	b, err := o.bytes(key, len(dst))
	if err != nil {
		return err
	}
	copy(dst, b)
	return nil
}

func (o *object) uint(key string, max uint64) (uint64, error) {
	raw, err := o.field(key)
	if err != nil {
		return 0, err
	}
	if major(raw) != majorUint {
		return 0, decodeErr(o.name+"."+key, "not an unsigned integer")
	}
	var v uint64
	if err := decMode.Unmarshal(raw, &v); err != nil {
		return 0, decodeErr(o.name+"."+key, "%v", err)
	}
	if v > max {
		return 0, decodeErr(o.name+"."+key, "%d out of range", v)
	}
	return v, nil
}

func (o *object) text(key string, max int) (string, error) {
	raw, err := o.field(key)
	if err != nil {
		return "", err
	}
	if major(raw) != majorText {
		return "", decodeErr(o.name+"."+key, "not a text string")
	}
	var s string
	if err := decMode.Unmarshal(raw, &s); err != nil {
		return "", decodeErr(o.name+"."+key, "%v", err)
	}
	if len(s) > max {
		return "", decodeErr(o.name+"."+key, "longer than %d bytes", max)
	}
	return s, nil
}

func (o *object) object(key string) (*object, error) {
	raw, err := o.field(key)
	if err != nil {
		return nil, err
	}
	return readObject(o.name+"."+key, raw)
}

// readVariant decodes a serde externally tagged enum value: a text string
// for a unit variant (body nil), or a map with exactly one entry
// {variant: body} otherwise.
func readVariant(name string, raw []byte) (string, cbor.RawMessage, error) {
	switch major(raw) {
	case majorText:
		var s string
		if err := decMode.Unmarshal(raw, &s); err != nil {
			return "", nil, decodeErr(name, "%v", err)
		}
		return s, nil, nil
	case majorMap:
		m := map[string]cbor.RawMessage{}
		if err := decMode.Unmarshal(raw, &m); err != nil {
			return "", nil, decodeErr(name, "%v", err)
		}
		if len(m) != 1 {
			return "", nil, decodeErr(name, "enum map with %d entries", len(m))
		}
		for k, v := range m {
			return k, v, nil
		}
	}
	return "", nil, decodeErr(name, "not an enum value")
}

// unitOnly decodes an enum value that must be one of the unit variants.
func unitOnly(name string, raw []byte, allowed ...string) (string, error) {
	v, body, err := readVariant(name, raw)
	if err != nil {
		return "", err
	}
	if body != nil {
		return "", decodeErr(name, "variant %q carries data", v)
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", decodeErr(name, "unknown variant %q", v)
}

// marshal encodes v with the canonical settings.
func marshal(v any) ([]byte, error) {
	return encMode.Marshal(v)
}

// variant encodes a data-carrying enum variant.
func variant(name string, body any) map[string]any {
	return map[string]any{name: body}
}
