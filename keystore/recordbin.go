package keystore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// The event record is written for every event a sync stores, so it has a
// binary encoding of its own (store format 3): no base64 of the body and
// the raw event, no JSON. Layout of the plaintext, before sealing:
//
//	format (1) = eventRecordBinary ‖ flags (1) ‖
//	created_at: uvarint length ‖ time.Time.AppendBinary ‖
//	message_id, sender_id, type, error, body, raw: each uvarint length ‖ bytes
//
// with flags bit 0 set for a verified event and every other bit zero. A
// record written before format 3 is the JSON of eventRecord, which starts
// with '{': it is still read (decodeEventRecord tells them apart by their
// first byte), and never written.

// eventRecordBinary is the first byte of a binary event record.
const eventRecordBinary = 1

// eventRecordVerified is the flags bit of a verified event.
const eventRecordVerified = 1

// maxTimeBinary is the longest time.Time.AppendBinary encoding (version 2:
// with the zone offset's seconds).
const maxTimeBinary = 16

// eventRecordSize is the size of r's binary encoding, give or take the
// time's (enough for every record).
func eventRecordSize(r *eventRecord) int {
	n := 2 + 1 + maxTimeBinary
	for _, l := range [...]int{len(r.MessageID), len(r.SenderID), len(r.Type), len(r.Error), len(r.Body), len(r.Raw)} {
		n += uvarintLen(l) + l
	}
	return n
}

func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// appendEventRecord appends the binary encoding of r to b. On an error b's
// appended bytes are cleared (they may hold part of the body).
func appendEventRecord(b []byte, r *eventRecord) ([]byte, error) {
	start := len(b)
	var flags byte
	if r.Verified {
		flags |= eventRecordVerified
	}
	b = append(b, eventRecordBinary, flags, 0)
	b, err := r.CreatedAt.AppendBinary(b)
	if err != nil {
		clear(b[start:])
		return b[:start], fmt.Errorf("keystore: encoding record: %w", err)
	}
	b[start+2] = byte(len(b) - start - 3) // at most maxTimeBinary: one byte of uvarint
	b = appendLenString(b, r.MessageID)
	b = appendLenString(b, r.SenderID)
	b = appendLenString(b, r.Type)
	b = appendLenString(b, r.Error)
	b = appendLenBytes(b, r.Body)
	return appendLenBytes(b, r.Raw), nil
}

func appendLenString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendLenBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

// encodeEventRecord returns the binary encoding of r.
func encodeEventRecord(r *eventRecord) ([]byte, error) {
	return appendEventRecord(make([]byte, 0, eventRecordSize(r)), r)
}

// decodeEventRecord decodes an event record of either encoding into r. A
// binary record's body and raw event are pt's own bytes (each capped at its
// length), so pt must not be reused; a JSON record's are copies, and pt is
// cleared.
func decodeEventRecord(pt []byte, r *eventRecord) error {
	if len(pt) > 0 && pt[0] == '{' {
		defer clear(pt)
		return json.Unmarshal(pt, r)
	}
	return decodeBinaryEventRecord(pt, r)
}

// errBadRecord is what a malformed binary event record fails with (the
// caller names the record).
var errBadRecord = errors.New("malformed binary event record")

// decodeBinaryEventRecord strictly decodes a binary event record.
func decodeBinaryEventRecord(pt []byte, r *eventRecord) error {
	if len(pt) < 3 || pt[0] != eventRecordBinary || pt[1]&^eventRecordVerified != 0 {
		return errBadRecord
	}
	*r = eventRecord{Verified: pt[1]&eventRecordVerified != 0}
	rest := pt[2:]
	field := func() ([]byte, bool) {
		n, l := binary.Uvarint(rest)
		if l <= 0 || l != uvarintLen(int(min(n, 1<<62))) || n > uint64(len(rest)-l) { // nor an overlong length
			return nil, false
		}
		v := rest[l : l+int(n) : l+int(n)]
		rest = rest[l+int(n):]
		return v, true
	}
	ts, ok := field()
	if !ok || len(ts) > maxTimeBinary {
		return errBadRecord
	}
	var canon [maxTimeBinary]byte
	if err := r.CreatedAt.UnmarshalBinary(ts); err != nil {
		return errBadRecord
	} else if c, err := r.CreatedAt.AppendBinary(canon[:0]); err != nil || !bytes.Equal(c, ts) {
		return errBadRecord // time.Time reads a few forms it never writes
	}
	for _, s := range [...]*string{&r.MessageID, &r.SenderID, &r.Type, &r.Error} {
		v, ok := field()
		if !ok {
			return errBadRecord
		}
		*s = string(v)
	}
	var okBody, okRaw bool
	r.Body, okBody = field()
	r.Raw, okRaw = field()
	if !okBody || !okRaw || len(rest) != 0 {
		clear(pt)
		*r = eventRecord{}
		return errBadRecord
	}
	if len(r.Body) == 0 {
		r.Body = nil
	}
	if len(r.Raw) == 0 {
		r.Raw = nil
	}
	return nil
}
