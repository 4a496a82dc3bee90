package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"sync"

	"github.com/apache/thrift/lib/go/thrift"
)

// Decoding limits. The container limits are those of the official SDK's
// BoundedProtocol (crates/core/src/protocol/safe_reader.rs).
const (
	// MaxMessageSize is the largest input Unmarshal accepts, in bytes.
	MaxMessageSize = 16 << 20
	// MaxContainerElements is the largest element count of one list, set or map.
	MaxContainerElements = 10_000
	// MaxTotalElements caps the declared elements of all containers in one decode.
	MaxTotalElements = 100_000
	// MaxDepth caps struct and container nesting while decoding.
	MaxDepth = 128
	// MaxSkipDepth caps the nesting of a skipped unknown field (Thrift's default).
	MaxSkipDepth = 64
)

// ttypeUUID is the binary-protocol type id of a UUID (16 raw bytes). Thrift
// 0.17 for Go predates it; the SDK's Rust runtime can skip it, so we can too.
const ttypeUUID thrift.TType = 16

// errReaderOnly is returned by the write methods of binReader.
var errReaderOnly = errors.New("wire: decoder protocol is read-only")

// binReader is a bounded implementation of the read half of thrift.TProtocol
// for the binary protocol, over an in-memory slice. It records the first
// error it produced so the caller can report it with its sentinel kinds even
// after generated code has re-wrapped it.
type binReader struct {
	// The embedded protocol supplies ReadByte (declaring it here would trip
	// go vet's stdmethods check) and the write half, which fails: it works on
	// a sliceTransport sharing this reader's buffer and offset.
	thrift.TProtocol

	buf    []byte
	off    int
	depth  int
	total  int
	err    error
	fields []fieldSet
}

// fieldSet tracks the field ids seen in one struct to reject duplicates. The
// first smallFieldSet ids live inline; structs with more fields (only
// possible with unknown fields) switch to a map to stay linear.
type fieldSet struct {
	small [smallFieldSet]int16
	n     int
	many  map[int16]struct{}
}

// smallFieldSet is how many ids are scanned linearly before switching to a map.
const smallFieldSet = 16

func (s *fieldSet) add(id int16) bool {
	if s.many != nil {
		if _, dup := s.many[id]; dup {
			return false
		}
		s.many[id] = struct{}{}
		return true
	}
	for _, seen := range s.small[:s.n] {
		if seen == id {
			return false
		}
	}
	if s.n < smallFieldSet {
		s.small[s.n] = id
		s.n++
		return true
	}
	s.many = make(map[int16]struct{}, 2*smallFieldSet)
	for _, seen := range s.small {
		s.many[seen] = struct{}{}
	}
	s.many[id] = struct{}{}
	return true
}

func newBinReader(b []byte) *binReader {
	r := &binReader{buf: b, fields: make([]fieldSet, 0, 8)}
	r.TProtocol = thrift.NewTBinaryProtocolConf(&sliceTransport{r: r}, &thrift.TConfiguration{})
	return r
}

// Every event a sync receives is decoded more than once (envelope, then
// contents), so the readers are reused: a binReader with its protocol and
// transport is most of a small event's decoding garbage.
var binReaders = sync.Pool{New: func() any { return newBinReader(nil) }}

// getBinReader returns a reader over b, reused when one is free; give it
// back with putBinReader once nothing decoded still needs it.
func getBinReader(b []byte) *binReader {
	r := binReaders.Get().(*binReader)
	r.buf = b
	return r
}

// putBinReader resets r (keeping nothing of its input) and pools it.
func putBinReader(r *binReader) {
	clear(r.fields[:cap(r.fields)])
	if cap(r.fields) > 64 {
		return // grown by deep nesting: let it go
	}
	r.buf, r.off, r.depth, r.total, r.err, r.fields = nil, 0, 0, 0, nil, r.fields[:0]
	binReaders.Put(r)
}

// fail records the first error and returns it.
func (r *binReader) fail(err error) error {
	if r.err == nil {
		r.err = err
	}
	return err
}

func (r *binReader) remaining() int { return len(r.buf) - r.off }

func (r *binReader) take(n int) ([]byte, error) {
	if n < 0 || n > r.remaining() {
		return nil, r.fail(malformed("truncated input: need %d bytes at offset %d, have %d", n, r.off, r.remaining()))
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b, nil
}

// minWireSize is the smallest number of bytes a value of type t occupies.
func minWireSize(t thrift.TType) (int, bool) {
	switch t {
	case thrift.BOOL, thrift.BYTE, thrift.STRUCT:
		return 1, true
	case thrift.I16:
		return 2, true
	case thrift.I32, thrift.STRING:
		return 4, true
	case thrift.I64, thrift.DOUBLE:
		return 8, true
	case thrift.SET, thrift.LIST:
		return 5, true
	case thrift.MAP:
		return 6, true
	case ttypeUUID:
		return 16, true
	default:
		return 0, false
	}
}

func (r *binReader) enter() error {
	r.depth++
	if r.depth > MaxDepth {
		return r.fail(limit("nesting deeper than %d", MaxDepth))
	}
	return nil
}

func (r *binReader) leave() {
	if r.depth > 0 {
		r.depth--
	}
}

// containerSize validates a declared element count against the per-container
// and cumulative caps and against the bytes left in the input.
func (r *binReader) containerSize(kind string, size int32, elemMin int) (int, error) {
	if size < 0 {
		return 0, r.fail(malformed("negative %s size %d", kind, size))
	}
	if size > MaxContainerElements {
		return 0, r.fail(limit("%s size %d exceeds %d", kind, size, MaxContainerElements))
	}
	r.total += int(size)
	if r.total > MaxTotalElements {
		return 0, r.fail(limit("more than %d container elements in total", MaxTotalElements))
	}
	if int64(size)*int64(elemMin) > int64(r.remaining()) {
		return 0, r.fail(malformed("%s of %d elements cannot fit in %d remaining bytes", kind, size, r.remaining()))
	}
	return int(size), nil
}

func (r *binReader) elemType(kind string, b byte) (thrift.TType, int, error) {
	t := thrift.TType(b)
	n, ok := minWireSize(t)
	if !ok {
		return 0, 0, r.fail(malformed("invalid %s element type %d", kind, b))
	}
	return t, n, nil
}

// ReadMessageBegin is not supported: XChat blobs are bare structs.
func (r *binReader) ReadMessageBegin(context.Context) (string, thrift.TMessageType, int32, error) {
	return "", 0, 0, r.fail(malformed("unexpected message envelope read"))
}

// ReadMessageEnd is not supported.
func (r *binReader) ReadMessageEnd(context.Context) error {
	return r.fail(malformed("unexpected message envelope read"))
}

// ReadStructBegin enters a struct.
func (r *binReader) ReadStructBegin(context.Context) (string, error) {
	if err := r.enter(); err != nil {
		return "", err
	}
	r.fields = append(r.fields, fieldSet{})
	return "", nil
}

// ReadStructEnd leaves a struct.
func (r *binReader) ReadStructEnd(context.Context) error {
	if n := len(r.fields); n > 0 {
		r.fields[n-1] = fieldSet{}
		r.fields = r.fields[:n-1]
	}
	r.leave()
	return nil
}

// ReadFieldBegin reads a field header, rejecting unknown wire types and ids
// repeated within the current struct.
func (r *binReader) ReadFieldBegin(context.Context) (string, thrift.TType, int16, error) {
	b, err := r.take(1)
	if err != nil {
		return "", 0, 0, err
	}
	t := thrift.TType(b[0])
	if t == thrift.STOP {
		return "", thrift.STOP, 0, nil
	}
	if _, ok := minWireSize(t); !ok {
		return "", 0, 0, r.fail(malformed("invalid field type %d at offset %d", b[0], r.off-1))
	}
	idb, err := r.take(2)
	if err != nil {
		return "", 0, 0, err
	}
	id := int16(binary.BigEndian.Uint16(idb))
	if n := len(r.fields); n > 0 && !r.fields[n-1].add(id) {
		return "", 0, 0, r.fail(malformed("field id %d repeated in one struct", id))
	}
	return "", t, id, nil
}

// ReadFieldEnd is a no-op in the binary protocol.
func (r *binReader) ReadFieldEnd(context.Context) error { return nil }

// ReadMapBegin reads and validates a map header.
func (r *binReader) ReadMapBegin(context.Context) (thrift.TType, thrift.TType, int, error) {
	h, err := r.take(6)
	if err != nil {
		return 0, 0, 0, err
	}
	kt, kmin, err := r.elemType("map key", h[0])
	if err != nil {
		return 0, 0, 0, err
	}
	vt, vmin, err := r.elemType("map value", h[1])
	if err != nil {
		return 0, 0, 0, err
	}
	size, err := r.containerSize("map", int32(binary.BigEndian.Uint32(h[2:])), kmin+vmin)
	if err != nil {
		return 0, 0, 0, err
	}
	if err := r.enter(); err != nil {
		return 0, 0, 0, err
	}
	return kt, vt, size, nil
}

// ReadMapEnd leaves a map.
func (r *binReader) ReadMapEnd(context.Context) error { r.leave(); return nil }

func (r *binReader) readSeqBegin(kind string) (thrift.TType, int, error) {
	h, err := r.take(5)
	if err != nil {
		return 0, 0, err
	}
	et, emin, err := r.elemType(kind, h[0])
	if err != nil {
		return 0, 0, err
	}
	size, err := r.containerSize(kind, int32(binary.BigEndian.Uint32(h[1:])), emin)
	if err != nil {
		return 0, 0, err
	}
	if err := r.enter(); err != nil {
		return 0, 0, err
	}
	return et, size, nil
}

// ReadListBegin reads and validates a list header.
func (r *binReader) ReadListBegin(context.Context) (thrift.TType, int, error) {
	return r.readSeqBegin("list")
}

// ReadListEnd leaves a list.
func (r *binReader) ReadListEnd(context.Context) error { r.leave(); return nil }

// ReadSetBegin reads and validates a set header.
func (r *binReader) ReadSetBegin(context.Context) (thrift.TType, int, error) {
	return r.readSeqBegin("set")
}

// ReadSetEnd leaves a set.
func (r *binReader) ReadSetEnd(context.Context) error { r.leave(); return nil }

// ReadBool reads a boolean, accepting only 0 and 1.
func (r *binReader) ReadBool(context.Context) (bool, error) {
	b, err := r.take(1)
	if err != nil {
		return false, err
	}
	switch b[0] {
	case 0:
		return false, nil
	case 1:
		return true, nil
	default:
		return false, r.fail(malformed("invalid bool byte %d", b[0]))
	}
}

// ReadI16 reads a big-endian int16.
func (r *binReader) ReadI16(context.Context) (int16, error) {
	b, err := r.take(2)
	if err != nil {
		return 0, err
	}
	return int16(binary.BigEndian.Uint16(b)), nil
}

// ReadI32 reads a big-endian int32.
func (r *binReader) ReadI32(context.Context) (int32, error) {
	b, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(b)), nil
}

// ReadI64 reads a big-endian int64.
func (r *binReader) ReadI64(context.Context) (int64, error) {
	b, err := r.take(8)
	if err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// ReadDouble reads a big-endian IEEE 754 double.
func (r *binReader) ReadDouble(context.Context) (float64, error) {
	b, err := r.take(8)
	if err != nil {
		return 0, err
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

// readBytes returns a view of the next length-prefixed byte string.
func (r *binReader) readBytes() ([]byte, error) {
	n, err := r.ReadI32(context.Background())
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, r.fail(malformed("negative string length %d", n))
	}
	if int(n) > r.remaining() {
		return nil, r.fail(malformed("string length %d exceeds %d remaining bytes", n, r.remaining()))
	}
	return r.take(int(n))
}

// ReadString reads a length-prefixed string. UTF-8 validity is checked after
// decoding (validate.go): the Go generator also reads binary map keys with
// ReadString, so the check cannot live here.
func (r *binReader) ReadString(context.Context) (string, error) {
	b, err := r.readBytes()
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ReadBinary reads a length-prefixed byte string into a fresh slice. An empty
// value yields a non-nil empty slice so that "present but empty" survives a
// decode/encode round trip.
func (r *binReader) ReadBinary(context.Context) ([]byte, error) {
	b, err := r.readBytes()
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(b))
	copy(out, b)
	return out, nil
}

// Skip skips a value of type t (an unknown or mistyped field), checking every
// nested length like the typed reads and bounding the nesting.
func (r *binReader) Skip(_ context.Context, t thrift.TType) error {
	return r.skip(t, MaxSkipDepth)
}

func (r *binReader) skip(t thrift.TType, depth int) error {
	if depth <= 0 {
		return r.fail(limit("skipped value nested deeper than %d", MaxSkipDepth))
	}
	ctx := context.Background()
	switch t {
	case thrift.BOOL:
		_, err := r.ReadBool(ctx)
		return err
	case thrift.BYTE:
		_, err := r.take(1)
		return err
	case thrift.I16:
		_, err := r.take(2)
		return err
	case thrift.I32:
		_, err := r.take(4)
		return err
	case thrift.I64, thrift.DOUBLE:
		_, err := r.take(8)
		return err
	case ttypeUUID:
		_, err := r.take(16)
		return err
	case thrift.STRING:
		// Skipped strings are not UTF-8 checked: the SDK skips them as bytes.
		_, err := r.readBytes()
		return err
	case thrift.STRUCT:
		if _, err := r.ReadStructBegin(ctx); err != nil {
			return err
		}
		for {
			_, ft, _, err := r.ReadFieldBegin(ctx)
			if err != nil {
				return err
			}
			if ft == thrift.STOP {
				break
			}
			if err := r.skip(ft, depth-1); err != nil {
				return err
			}
		}
		return r.ReadStructEnd(ctx)
	case thrift.MAP:
		kt, vt, n, err := r.ReadMapBegin(ctx)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := r.skip(kt, depth-1); err != nil {
				return err
			}
			if err := r.skip(vt, depth-1); err != nil {
				return err
			}
		}
		return r.ReadMapEnd(ctx)
	case thrift.LIST, thrift.SET:
		kind := "list"
		if t == thrift.SET {
			kind = "set"
		}
		et, n, err := r.readSeqBegin(kind)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := r.skip(et, depth-1); err != nil {
				return err
			}
		}
		r.leave()
		return nil
	default:
		return r.fail(malformed("cannot skip value of type %d", t))
	}
}

// Flush is a no-op.
func (r *binReader) Flush(context.Context) error { return nil }

var _ thrift.TProtocol = (*binReader)(nil)

// sliceTransport exposes the unread part of a binReader's buffer as a
// read-only thrift transport, for the methods binReader delegates.
type sliceTransport struct {
	r *binReader
}

func (t *sliceTransport) Read(p []byte) (int, error) {
	if t.r.remaining() == 0 {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, t.r.buf[t.r.off:])
	t.r.off += n
	return n, nil
}

func (t *sliceTransport) ReadByte() (byte, error) {
	b, err := t.r.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (t *sliceTransport) Write([]byte) (int, error)       { return 0, errReaderOnly }
func (t *sliceTransport) WriteByte(byte) error            { return errReaderOnly }
func (t *sliceTransport) WriteString(string) (int, error) { return 0, errReaderOnly }
func (t *sliceTransport) Flush(context.Context) error     { return nil }
func (t *sliceTransport) RemainingBytes() uint64          { return uint64(t.r.remaining()) }
func (t *sliceTransport) IsOpen() bool                    { return true }
func (t *sliceTransport) Open() error                     { return nil }
func (t *sliceTransport) Close() error                    { return nil }

var _ thrift.TRichTransport = (*sliceTransport)(nil)
