package wire

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

// validate enforces, on a decoded or to-be-encoded value, the rules the Go
// generator leaves out but the SDK's Rust code applies:
//
//   - a union has at most one known variant set (two different variants, or
//     one variant twice, are rejected as by the SDK);
//   - when decoding, an optional struct field holding a union with no known
//     variant (only variants this schema does not know) is cleared to nil, as
//     the live SDK reports such an event detail as absent ("unknown" type)
//     instead of failing; a top-level union, a list element or a map value
//     with no known variant is an error, and so is any such union on encode;
//   - Thrift strings are valid UTF-8 (Rust strings must be);
//   - required struct fields are set and list elements / map values are not
//     nil struct pointers (the generated writer would emit an empty struct).
//
// Map keys are not UTF-8 checked: the Go generator represents binary map
// keys (trees' map<binary, binary>) as Go strings, indistinguishable from
// string keys, so both pass through unchecked.
func validate(v any, decoding bool) error {
	w := walker{decoding: decoding}
	rv := reflect.ValueOf(v)
	if err := w.walk(rv); err != nil {
		return err
	}
	if rv.Kind() == reflect.Pointer && !rv.IsNil() && isEmptyUnion(rv.Elem()) {
		return fmt.Errorf("union %s has no known variant", rv.Elem().Type())
	}
	return nil
}

// walker carries the direction of a validate pass.
type walker struct {
	decoding bool // prune unions without a known variant instead of failing
}

// typeInfo caches what validate needs to know about one generated struct.
type typeInfo struct {
	union    bool  // the struct is a Thrift union
	variants []int // union: indices of the variant fields
	walk     []int // indices of fields that can hold structs or strings
	required []int // indices of required struct-pointer fields
}

var typeInfos sync.Map // reflect.Type (struct) -> *typeInfo

func infoFor(t reflect.Type) *typeInfo {
	if v, ok := typeInfos.Load(t); ok {
		return v.(*typeInfo)
	}
	info := &typeInfo{}
	// Generated unions, and only unions, have a CountSetFields<Name> method.
	_, info.union = reflect.PointerTo(t).MethodByName("CountSetFields" + t.Name())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("thrift")
		if !f.IsExported() || tag == "" {
			continue
		}
		if info.union {
			info.variants = append(info.variants, i)
		}
		if needsWalk(f.Type) {
			info.walk = append(info.walk, i)
		}
		if f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct &&
			strings.HasSuffix(tag, ",required") {
			info.required = append(info.required, i)
		}
	}
	v, _ := typeInfos.LoadOrStore(t, info)
	return v.(*typeInfo)
}

// needsWalk reports whether values of type t can contain structs or strings.
func needsWalk(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer:
		return needsWalk(t.Elem())
	case reflect.Struct, reflect.String:
		return true
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8 && needsWalk(t.Elem())
	case reflect.Map:
		return needsWalk(t.Elem())
	default:
		return false
	}
}

func (w walker) walk(v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			return fmt.Errorf("string field is not valid UTF-8")
		}
		return nil
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return w.walk(v.Elem())
	case reflect.Struct:
		return w.walkStruct(v)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil
		}
		for i := 0; i < v.Len(); i++ {
			if err := w.walkElem(v.Index(i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if !needsWalk(v.Type().Elem()) {
			return nil
		}
		it := v.MapRange()
		for it.Next() {
			if err := w.walkElem(it.Value()); err != nil {
				return err
			}
		}
		return nil
	default:
		return nil
	}
}

func (w walker) walkStruct(v reflect.Value) error {
	t := v.Type()
	info := infoFor(t)
	if info.union {
		set := 0
		for _, i := range info.variants {
			if !isUnset(v.Field(i)) {
				set++
			}
		}
		if set > 1 {
			return fmt.Errorf("union %s has %d known variants set, want one", t, set)
		}
	}
	for _, i := range info.required {
		if v.Field(i).IsNil() {
			return fmt.Errorf("required field %s.%s is not set", t, t.Field(i).Name)
		}
	}
	for _, i := range info.walk {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer && !f.IsNil() && isEmptyUnion(f.Elem()) {
			if !w.decoding {
				return fmt.Errorf("union %s.%s has no variant set", t, t.Field(i).Name)
			}
			f.SetZero()
			continue
		}
		if err := w.walk(f); err != nil {
			return err
		}
	}
	return nil
}

// isEmptyUnion reports whether v is a union struct with no known variant set.
func isEmptyUnion(v reflect.Value) bool {
	if v.Kind() != reflect.Struct {
		return false
	}
	info := infoFor(v.Type())
	if !info.union {
		return false
	}
	for _, i := range info.variants {
		if !isUnset(v.Field(i)) {
			return false
		}
	}
	return true
}

// walkElem checks a list element or map value, which cannot be absent.
func (w walker) walkElem(v reflect.Value) error {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return fmt.Errorf("nil %s element in a list or map", v.Type().Elem())
	}
	if v.Kind() == reflect.Pointer && isEmptyUnion(v.Elem()) {
		return fmt.Errorf("union %s element has no known variant", v.Type().Elem())
	}
	return w.walk(v)
}

// isUnset reports whether a union variant field is unset. Variants are
// pointers, slices or maps in generated code, all unset when nil.
func isUnset(f reflect.Value) bool {
	switch f.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return f.IsNil()
	default:
		return f.IsZero()
	}
}
