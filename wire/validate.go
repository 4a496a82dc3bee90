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
	if !rv.IsValid() {
		return nil
	}
	n := nodeFor(rv.Type())
	if err := w.walk(rv, n); err != nil {
		return err
	}
	if n.kind == reflect.Pointer && !rv.IsNil() && isEmptyUnion(rv.Elem(), n.elem) {
		return fmt.Errorf("union %s has no known variant", rv.Elem().Type())
	}
	return nil
}

// walker carries the direction of a validate pass.
type walker struct {
	decoding bool // prune unions without a known variant instead of failing
}

// A node is what validate needs to know about one type, built once per
// type and linked to the nodes of the types it holds, so that a pass looks
// up only the type it starts from (a lookup per struct visited was a third
// of its time).
type node struct {
	kind reflect.Kind
	elem *node     // pointer, slice, map: the element (map: value) type's node
	walk bool      // map: whether its values can hold structs or strings
	st   *typeInfo // struct
}

// typeInfo is what validate needs to know about one generated struct.
type typeInfo struct {
	t        reflect.Type
	union    bool        // the struct is a Thrift union
	variants []int       // union: indices of the variant fields
	walk     []fieldNode // fields that can hold structs or strings
	required []int       // indices of required struct-pointer fields
}

// fieldNode is a field to walk: its index and its type's node.
type fieldNode struct {
	index int
	n     *node
}

var (
	nodesMu sync.Mutex
	nodes   sync.Map // reflect.Type -> *node, complete (its linked nodes too)
)

// nodeFor returns the node of t.
func nodeFor(t reflect.Type) *node {
	if n, ok := nodes.Load(t); ok {
		return n.(*node)
	}
	nodesMu.Lock()
	defer nodesMu.Unlock()
	if n, ok := nodes.Load(t); ok {
		return n.(*node)
	}
	building := map[reflect.Type]*node{}
	n := buildNode(t, building)
	// Published only once complete: a node another goroutine loads is
	// never one still being built.
	for bt, bn := range building {
		nodes.LoadOrStore(bt, bn)
	}
	return n
}

// buildNode builds the node of t and those it links to, taking those
// already built (published, or in building: a type may hold itself).
func buildNode(t reflect.Type, building map[reflect.Type]*node) *node {
	if n, ok := nodes.Load(t); ok {
		return n.(*node)
	}
	if n, ok := building[t]; ok {
		return n
	}
	n := &node{kind: t.Kind()}
	building[t] = n
	switch n.kind {
	case reflect.Pointer, reflect.Slice:
		n.elem = buildNode(t.Elem(), building)
	case reflect.Map:
		n.elem = buildNode(t.Elem(), building)
		n.walk = needsWalk(t.Elem())
	case reflect.Struct:
		n.st = buildInfo(t, building)
	}
	return n
}

// buildInfo builds the typeInfo of struct type t.
func buildInfo(t reflect.Type, building map[reflect.Type]*node) *typeInfo {
	info := &typeInfo{t: t}
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
			info.walk = append(info.walk, fieldNode{index: i, n: buildNode(f.Type, building)})
		}
		if f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct &&
			strings.HasSuffix(tag, ",required") {
			info.required = append(info.required, i)
		}
	}
	return info
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

// walk checks v, whose type's node is n.
func (w walker) walk(v reflect.Value, n *node) error {
	switch n.kind {
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			return fmt.Errorf("string field is not valid UTF-8")
		}
		return nil
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return w.walk(v.Elem(), n.elem)
	case reflect.Struct:
		return w.walkStruct(v, n.st)
	case reflect.Slice:
		if n.elem.kind == reflect.Uint8 {
			return nil
		}
		for i := 0; i < v.Len(); i++ {
			if err := w.walkElem(v.Index(i), n.elem); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if !n.walk {
			return nil
		}
		it := v.MapRange()
		for it.Next() {
			if err := w.walkElem(it.Value(), n.elem); err != nil {
				return err
			}
		}
		return nil
	default:
		return nil
	}
}

func (w walker) walkStruct(v reflect.Value, info *typeInfo) error {
	t := info.t
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
	for _, fw := range info.walk {
		f := v.Field(fw.index)
		if fw.n.kind == reflect.Pointer {
			if f.IsNil() {
				continue
			}
			if e := f.Elem(); isEmptyUnion(e, fw.n.elem) {
				if !w.decoding {
					return fmt.Errorf("union %s.%s has no variant set", t, t.Field(fw.index).Name)
				}
				f.SetZero()
				continue
			}
		}
		if err := w.walk(f, fw.n); err != nil {
			return err
		}
	}
	return nil
}

// isEmptyUnion reports whether v, whose type's node is n, is a union
// struct with no known variant set.
func isEmptyUnion(v reflect.Value, n *node) bool {
	if n.kind != reflect.Struct || !n.st.union {
		return false
	}
	for _, i := range n.st.variants {
		if !isUnset(v.Field(i)) {
			return false
		}
	}
	return true
}

// walkElem checks a list element or map value (of node n), which cannot
// be absent.
func (w walker) walkElem(v reflect.Value, n *node) error {
	if n.kind == reflect.Pointer && v.IsNil() {
		return fmt.Errorf("nil %s element in a list or map", v.Type().Elem())
	}
	if n.kind == reflect.Pointer && isEmptyUnion(v.Elem(), n.elem) {
		return fmt.Errorf("union %s element has no known variant", v.Type().Elem())
	}
	return w.walk(v, n)
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
