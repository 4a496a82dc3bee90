package wire

import (
	"testing"

	"github.com/xchat-go/xchat/thriftgen/event"
)

// TestPeekSequenceID: the peeked sequence id is the decoded one for events
// the encoder wrote, and absent when field 1 is not first.
func TestPeekSequenceID(t *testing.T) {
	for _, b := range vectorEventSeeds(t) {
		me, err := DecodeMessageEvent(b)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := PeekSequenceID(b)
		if !ok || got != me.GetSequenceID() {
			t.Fatalf("peek %q %v, decoded %q", got, ok, me.GetSequenceID())
		}
	}
	seq, mid := "1795000000000000123", "m"
	enc, err := EncodeMessageEvent(&event.MessageEvent{SequenceID: &seq, MessageID: &mid})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := PeekSequenceID(enc); !ok || got != seq {
		t.Fatalf("peek %q %v", got, ok)
	}
	noSeq, err := EncodeMessageEvent(&event.MessageEvent{MessageID: &mid})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{noSeq, nil, enc[:6], append(enc[:3:3], 0xff, 0xff, 0xff, 0xff)} {
		if got, ok := PeekSequenceID(b); ok {
			t.Fatalf("peek of %x: %q", b, got)
		}
	}
}

// FuzzPeekSequenceID: never panics, and agrees with the decoder whenever
// both read a sequence id written first.
func FuzzPeekSequenceID(f *testing.F) {
	for _, s := range vectorEventSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte{11, 0, 1, 0, 0, 0, 1, '7', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := PeekSequenceID(b)
		me, err := DecodeMessageEvent(b)
		if ok && err == nil && me.SequenceID != nil && got != *me.SequenceID {
			t.Fatalf("peek %q, decoded %q", got, *me.SequenceID)
		}
		if err == nil && me.SequenceID != nil && len(b) > 0 && b[0] == 11 && b[1] == 0 && b[2] == 1 && !ok {
			t.Fatalf("decoded %q written first, not peeked", *me.SequenceID)
		}
	})
}
