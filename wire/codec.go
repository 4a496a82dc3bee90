package wire

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/apache/thrift/lib/go/thrift"
)

// encoder is a reusable binary-protocol writer over a memory buffer.
type encoder struct {
	buf   *thrift.TMemoryBuffer
	proto *thrift.TBinaryProtocol
}

// maxPooledEncoder is the largest buffer kept for reuse; a rare huge
// message does not pin its buffer.
const maxPooledEncoder = 64 << 10

var encoders = sync.Pool{New: func() any {
	buf := thrift.NewTMemoryBufferLen(4 << 10)
	return &encoder{buf: buf, proto: thrift.NewTBinaryProtocolConf(buf, &thrift.TConfiguration{})}
}}

// release wipes the encoder's buffer (it held the encoded value, possibly a
// plaintext message) and returns it to the pool.
func (e *encoder) release() {
	b := e.buf.Bytes()
	clear(b[:cap(b)])
	e.buf.Reset()
	if e.buf.Cap() <= maxPooledEncoder {
		encoders.Put(e)
	}
}

// Marshal encodes s with the Thrift binary protocol. Map entries are written
// in ascending key order, so equal values always encode to equal bytes.
// Strings must be valid UTF-8 and every union must have exactly one variant
// set; otherwise the error matches ErrEncode.
func Marshal(s thrift.TStruct) (out []byte, err error) {
	err = marshal(s, func(enc []byte, pooled bool) {
		out = enc
		if pooled {
			out = bytes.Clone(enc) // exact size; the pooled buffer is reused
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MarshalB64 is EncodeB64 of Marshal's encoding, made from the encoder's
// buffer without first copying the encoding out of it.
func MarshalB64(s thrift.TStruct) (out string, err error) {
	err = marshal(s, func(enc []byte, _ bool) { out = EncodeB64(enc) })
	if err != nil {
		return "", err
	}
	return out, nil
}

// marshal encodes s (see Marshal) and hands the encoding to keep before
// the pooled encoder is reused: pooled reports that enc is the encoder's
// buffer, valid only during the call.
func marshal(s thrift.TStruct, keep func(enc []byte, pooled bool)) (err error) {
	if isNil(s) {
		return fmt.Errorf("%w: nil struct", ErrEncode)
	}
	// Generated Write code dereferences nested pointers (for example a nil
	// element in a list of structs); turn such caller bugs into errors.
	// An encoder that saw a panic is wiped and dropped rather than reused.
	var e *encoder
	defer func() {
		if p := recover(); p != nil {
			if e != nil {
				b := e.buf.Bytes()
				clear(b[:cap(b)])
			}
			err = fmt.Errorf("%w: %T contains a nil element", ErrEncode, s)
		}
	}()
	if err := validate(s, false); err != nil {
		return fmt.Errorf("%w: %T: %v", ErrEncode, s, err)
	}
	e = encoders.Get().(*encoder)
	if err := s.Write(context.Background(), e.proto); err != nil {
		e.release()
		return fmt.Errorf("%w: %T: %v", ErrEncode, s, err)
	}
	enc := e.buf.Bytes()
	out, err := canonicalMaps(enc)
	if err == nil {
		keep(out, len(out) > 0 && &out[0] == &enc[0])
	}
	e.release()
	if err != nil {
		return fmt.Errorf("%w: %T: %v", ErrEncode, s, err)
	}
	return nil
}

// Unmarshal decodes one binary-protocol struct from the start of b into s,
// which must be a freshly allocated generated struct (fields already set are
// not cleared). Bytes after the struct are ignored, as in the official SDK;
// use UnmarshalExact to reject them. Every error matches ErrMalformed.
func Unmarshal(b []byte, s thrift.TStruct) error {
	_, err := unmarshal(b, s)
	return err
}

// UnmarshalExact is Unmarshal but fails with ErrTrailingData (which also
// matches ErrMalformed) unless the struct ends exactly at the end of b.
func UnmarshalExact(b []byte, s thrift.TStruct) error {
	n, err := unmarshal(b, s)
	if err != nil {
		return err
	}
	if n != len(b) {
		return &wireError{
			kinds: []error{ErrTrailingData, ErrMalformed},
			msg:   fmt.Sprintf("wire: trailing data: %d bytes after %s", len(b)-n, typeName(s)),
		}
	}
	return nil
}

// unmarshal decodes s from b and returns how many bytes it consumed.
func unmarshal(b []byte, s thrift.TStruct) (int, error) {
	if isNil(s) {
		return 0, malformed("nil target struct")
	}
	what := typeName(s)
	if len(b) > MaxMessageSize {
		return 0, withContext(limit("input of %d bytes exceeds %d", len(b), MaxMessageSize), what)
	}
	r := getBinReader(b)
	defer putBinReader(r)
	if err := s.Read(context.Background(), r); err != nil {
		if r.err != nil {
			return 0, withContext(r.err, what)
		}
		return 0, withContext(err, what)
	}
	if err := validate(s, true); err != nil {
		return 0, withContext(err, what)
	}
	return r.off, nil
}

func typeName(s thrift.TStruct) string {
	t := reflect.TypeOf(s)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.String()
}

func isNil(s thrift.TStruct) bool {
	if s == nil {
		return true
	}
	v := reflect.ValueOf(s)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
