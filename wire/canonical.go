package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/apache/thrift/lib/go/thrift"
)

// The Go generator writes map entries in Go's randomised iteration order. The
// SDK's Rust structs hold maps in BTreeMaps and therefore write them sorted by
// key: numerically for integer keys, bytewise for string and binary keys.
// canonicalMaps rewrites an encoded struct so that every map is in that order,
// making Marshal deterministic and byte-identical to the SDK's encoder.

var errCanon = errors.New("encoded struct is not well formed")

// canonicalMaps returns b with every map's entries sorted by key. When b has
// no map with two or more entries it is returned unchanged.
func canonicalMaps(b []byte) ([]byte, error) {
	end, multi, err := scanValue(b, 0, thrift.STRUCT)
	if err != nil {
		return nil, err
	}
	if end != len(b) {
		return nil, errCanon
	}
	if !multi {
		return b, nil
	}
	out, end, err := canonValue(make([]byte, 0, len(b)), b, 0, thrift.STRUCT)
	if err != nil {
		return nil, err
	}
	if end != len(b) {
		return nil, errCanon
	}
	return out, nil
}

func need(b []byte, off, n int) error {
	if n < 0 || off > len(b) || n > len(b)-off {
		return errCanon
	}
	return nil
}

// scanValue returns the end offset of the value of type t at off, and whether
// it contains a map with at least two entries.
func scanValue(b []byte, off int, t thrift.TType) (int, bool, error) {
	if fixed, ok := fixedSize(t); ok {
		if err := need(b, off, fixed); err != nil {
			return 0, false, err
		}
		return off + fixed, false, nil
	}
	switch t {
	case thrift.STRING:
		if err := need(b, off, 4); err != nil {
			return 0, false, err
		}
		n := int(int32(binary.BigEndian.Uint32(b[off:])))
		if err := need(b, off+4, n); err != nil {
			return 0, false, err
		}
		return off + 4 + n, false, nil
	case thrift.STRUCT:
		multi := false
		for {
			if err := need(b, off, 1); err != nil {
				return 0, false, err
			}
			ft := thrift.TType(b[off])
			off++
			if ft == thrift.STOP {
				return off, multi, nil
			}
			if err := need(b, off, 2); err != nil {
				return 0, false, err
			}
			end, m, err := scanValue(b, off+2, ft)
			if err != nil {
				return 0, false, err
			}
			off, multi = end, multi || m
		}
	case thrift.LIST, thrift.SET:
		if err := need(b, off, 5); err != nil {
			return 0, false, err
		}
		et := thrift.TType(b[off])
		n := int(int32(binary.BigEndian.Uint32(b[off+1:])))
		if n < 0 {
			return 0, false, errCanon
		}
		off += 5
		multi := false
		for i := 0; i < n; i++ {
			end, m, err := scanValue(b, off, et)
			if err != nil {
				return 0, false, err
			}
			off, multi = end, multi || m
		}
		return off, multi, nil
	case thrift.MAP:
		if err := need(b, off, 6); err != nil {
			return 0, false, err
		}
		kt, vt := thrift.TType(b[off]), thrift.TType(b[off+1])
		n := int(int32(binary.BigEndian.Uint32(b[off+2:])))
		if n < 0 {
			return 0, false, errCanon
		}
		off += 6
		multi := n > 1
		for i := 0; i < n; i++ {
			end, m, err := scanValue(b, off, kt)
			if err != nil {
				return 0, false, err
			}
			end, m2, err := scanValue(b, end, vt)
			if err != nil {
				return 0, false, err
			}
			off, multi = end, multi || m || m2
		}
		return off, multi, nil
	default:
		return 0, false, errCanon
	}
}

// fixedSize is the encoded size of fixed-width types.
func fixedSize(t thrift.TType) (int, bool) {
	switch t {
	case thrift.BOOL, thrift.BYTE:
		return 1, true
	case thrift.I16:
		return 2, true
	case thrift.I32:
		return 4, true
	case thrift.I64, thrift.DOUBLE:
		return 8, true
	case ttypeUUID:
		return 16, true
	default:
		return 0, false
	}
}

// canonValue appends the canonical form of the value of type t at off to dst.
func canonValue(dst, b []byte, off int, t thrift.TType) ([]byte, int, error) {
	switch t {
	case thrift.STRUCT:
		for {
			if err := need(b, off, 1); err != nil {
				return nil, 0, err
			}
			ft := thrift.TType(b[off])
			if ft == thrift.STOP {
				return append(dst, b[off]), off + 1, nil
			}
			if err := need(b, off, 3); err != nil {
				return nil, 0, err
			}
			dst = append(dst, b[off:off+3]...)
			var err error
			dst, off, err = canonValue(dst, b, off+3, ft)
			if err != nil {
				return nil, 0, err
			}
		}
	case thrift.LIST, thrift.SET:
		if err := need(b, off, 5); err != nil {
			return nil, 0, err
		}
		et := thrift.TType(b[off])
		n := int(int32(binary.BigEndian.Uint32(b[off+1:])))
		dst = append(dst, b[off:off+5]...)
		off += 5
		for i := 0; i < n; i++ {
			var err error
			dst, off, err = canonValue(dst, b, off, et)
			if err != nil {
				return nil, 0, err
			}
		}
		return dst, off, nil
	case thrift.MAP:
		if err := need(b, off, 6); err != nil {
			return nil, 0, err
		}
		kt, vt := thrift.TType(b[off]), thrift.TType(b[off+1])
		n := int(int32(binary.BigEndian.Uint32(b[off+2:])))
		dst = append(dst, b[off:off+6]...)
		off += 6
		type entry struct{ key, val []byte }
		entries := make([]entry, 0, n)
		for i := 0; i < n; i++ {
			kend, _, err := scanValue(b, off, kt)
			if err != nil {
				return nil, 0, err
			}
			val, vend, err := canonValue(nil, b, kend, vt)
			if err != nil {
				return nil, 0, err
			}
			entries = append(entries, entry{key: b[off:kend], val: val})
			off = vend
		}
		slices.SortStableFunc(entries, func(x, y entry) int { return compareKeys(kt, x.key, y.key) })
		for _, e := range entries {
			dst = append(dst, e.key...)
			dst = append(dst, e.val...)
		}
		return dst, off, nil
	default:
		end, _, err := scanValue(b, off, t)
		if err != nil {
			return nil, 0, err
		}
		return append(dst, b[off:end]...), end, nil
	}
}

// compareKeys orders two encoded map keys as Rust's Ord does for the decoded
// key type: signed for integers, bytewise for strings and binaries.
func compareKeys(t thrift.TType, x, y []byte) int {
	switch t {
	case thrift.BYTE:
		return cmpInt(int64(int8(x[0])), int64(int8(y[0])))
	case thrift.I16:
		return cmpInt(int64(int16(binary.BigEndian.Uint16(x))), int64(int16(binary.BigEndian.Uint16(y))))
	case thrift.I32:
		return cmpInt(int64(int32(binary.BigEndian.Uint32(x))), int64(int32(binary.BigEndian.Uint32(y))))
	case thrift.I64:
		return cmpInt(int64(binary.BigEndian.Uint64(x)), int64(binary.BigEndian.Uint64(y)))
	case thrift.STRING:
		return bytes.Compare(x[4:], y[4:])
	default:
		return bytes.Compare(x, y)
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	default:
		return 0
	}
}
