package inbound

import (
	"bytes"
	"sync/atomic"

	"github.com/xchat-go/xchat/crypto"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Decoded keeps what a VerifyOnly DecryptBatch decoded of its events, so
// that one later DecryptBatch over the same events starts from it instead
// of decoding them again (see Options.Decoded). What it keeps depends on
// the event's bytes alone, never on keys or on earlier events: the Thrift
// decode and, for a message, the hash of the payload its signature
// covers (a pure function of the decoded message). The later batch still
// looks its keys up, consults its memo with them and makes every check it
// makes without Decoded; only the decoding and hashing are not redone.
//
// Each entry is handed out once, to an event at the same input position
// with bytes equal to those decoded (the later batch owns the decoded
// values and may change them); any other event is decoded as without
// Decoded. A Decoded holds the decoded form of its events: keep it only
// as long as the events themselves are kept in memory.
type Decoded struct {
	at []atomic.Pointer[decodedEvent]
}

// NewDecoded returns an empty Decoded for a batch of n events.
func NewDecoded(n int) *Decoded {
	return &Decoded{at: make([]atomic.Pointer[decodedEvent], max(n, 0))}
}

// Len returns how many entries d holds (that are not yet handed out).
func (d *Decoded) Len() int {
	if d == nil {
		return 0
	}
	n := 0
	for i := range d.at {
		if d.at[i].Load() != nil {
			n++
		}
	}
	return n
}

// decodedEvent is one event's entry.
type decodedEvent struct {
	raw    []byte
	me     *tevent.MessageEvent
	digest payloadDigest
}

// payloadDigest is the hash of a message's signed payload, once made.
type payloadDigest struct {
	h  crypto.Prehashed
	ok bool
}

// put records the entry for input position i (kept only when d has
// room for it and no entry is there).
func (d *Decoded) put(i int, e *decodedEvent) {
	if d == nil || i < 0 || i >= len(d.at) {
		return
	}
	d.at[i].CompareAndSwap(nil, e)
}

// take hands out the entry of input position i when it was decoded from
// bytes equal to raw, removing it; or nil.
func (d *Decoded) take(i int, raw []byte) *decodedEvent {
	if d == nil || i < 0 || i >= len(d.at) {
		return nil
	}
	e := d.at[i].Swap(nil)
	if e == nil || !bytes.Equal(e.raw, raw) {
		return nil
	}
	return e
}
