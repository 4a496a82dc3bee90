package wire

import (
	"encoding/binary"

	"github.com/apache/thrift/lib/go/thrift"
)

// PeekSequenceID returns the sequence_id of an encoded MessageEvent when it
// is the struct's first field, where every encoder writes it (Thrift
// writes fields in id order, and sequence_id is field 1), without decoding
// the rest of the event; ok is false otherwise. Nothing else of the event
// is checked: it is for paging decisions, which are the server's to make
// anyway, never for a verdict on the event.
func PeekSequenceID(b []byte) (string, bool) {
	const head = 1 + 2 + 4 // field type, field id, string length
	if len(b) < head || thrift.TType(b[0]) != thrift.STRING || binary.BigEndian.Uint16(b[1:3]) != 1 {
		return "", false
	}
	n := binary.BigEndian.Uint32(b[3:head])
	if uint64(n) > uint64(len(b)-head) {
		return "", false
	}
	return string(b[head : head+int(n)]), true
}
