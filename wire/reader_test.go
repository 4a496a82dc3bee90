package wire

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
)

// The XChat schema has no i8, i16, double or set fields, so the generated
// code never calls these reader methods; exercise them directly.
func TestReaderScalarsAndSets(t *testing.T) {
	ctx := context.Background()
	in := cat(
		[]byte{0x80},                       // byte -128
		[]byte{0xff, 0xfe},                 // i16 -2
		be64(int64(math.Float64bits(1.5))), // double
		[]byte{byte(thrift.I16)}, be32(2),  // set header
	)
	r := newBinReader(in)
	if v, err := r.ReadByte(ctx); err != nil || v != -128 {
		t.Fatalf("ReadByte = %d, %v", v, err)
	}
	if v, err := r.ReadI16(ctx); err != nil || v != -2 {
		t.Fatalf("ReadI16 = %d, %v", v, err)
	}
	if v, err := r.ReadDouble(ctx); err != nil || v != 1.5 {
		t.Fatalf("ReadDouble = %v, %v", v, err)
	}
	// Two i16 elements need 4 bytes; none remain.
	if _, _, err := r.ReadSetBegin(ctx); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short set: %v", err)
	}
	r = newBinReader(cat([]byte{byte(thrift.I16)}, be32(2), []byte{0, 1, 0, 2}))
	et, n, err := r.ReadSetBegin(ctx)
	if err != nil || et != thrift.I16 || n != 2 {
		t.Fatalf("set = %v %d %v", et, n, err)
	}
	for want := int16(1); want <= 2; want++ {
		if v, err := r.ReadI16(ctx); err != nil || v != want {
			t.Fatalf("element = %d, %v", v, err)
		}
	}
	if err := r.ReadSetEnd(ctx); err != nil || r.depth != 0 {
		t.Fatalf("set end: %v depth %d", err, r.depth)
	}
	if _, err := r.ReadByte(ctx); err == nil {
		t.Fatal("ReadByte past the end succeeded")
	}
	if _, _, _, err := r.ReadMessageBegin(ctx); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ReadMessageBegin: %v", err)
	}
	if err := r.ReadMessageEnd(ctx); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ReadMessageEnd: %v", err)
	}
	if err := r.WriteI32(ctx, 1); err == nil {
		t.Fatal("write on the decoder succeeded")
	}
	if err := r.WriteByte(ctx, 1); err == nil {
		t.Fatal("WriteByte on the decoder succeeded")
	}
}
