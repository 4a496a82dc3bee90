package wire

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/thriftgen/trees"
)

// Seeds come from the official SDK vectors (vendored); the committed corpus
// in testdata/fuzz holds inputs derived from the same vectors.

func vectorEventSeeds(f testing.TB) [][]byte {
	v := vectors(f)
	var out [][]byte
	for _, k := range []string{"event_message_b64", "event_key_change_b64", "event_failure_b64", "event_reply_valid_b64", "event_reply_forged_b64"} {
		out = append(out, vectorBytes(f, v, k))
	}
	return out
}

// checkReencode asserts that a successfully decoded value re-encodes, that the
// encoding decodes to an equal value and that encoding is stable.
func checkReencode(t *testing.T, v thrift.TStruct, fresh func() thrift.TStruct) {
	t.Helper()
	enc, err := Marshal(v)
	if err != nil {
		t.Fatalf("decoded value does not re-encode: %v", err)
	}
	back := fresh()
	if err := UnmarshalExact(enc, back); err != nil {
		t.Fatalf("re-encoding does not decode: %v", err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Fatalf("decode(encode(x)) != x")
	}
	enc2, err := Marshal(back)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("encoding not stable: %v", err)
	}
}

func FuzzDecodeMessageEvent(f *testing.F) {
	for _, s := range vectorEventSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte("!!!not-an-event!!!"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := DecodeMessageEvent(b)
		if err != nil {
			return
		}
		checkReencode(t, ev, func() thrift.TStruct { return event.NewMessageEvent() })
	})
}

func FuzzDecodeMessageEntryHolder(f *testing.F) {
	v := vectors(f)
	for _, k := range []string{"event_message_b64", "event_reply_valid_b64", "event_reply_forged_b64"} {
		ev, err := DecodeMessageEvent(vectorBytes(f, v, k))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(openContents(f, v, ev.Detail.MessageCreateEvent.Contents))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeMessageEntryHolder(b)
		if err != nil {
			return
		}
		checkReencode(t, h, func() thrift.TStruct { return product.NewMessageEntryHolder() })
	})
}

func FuzzDecodeGroupOpData(f *testing.F) {
	gid := "g1"
	seed, err := EncodeGroupOpData(&trees.GroupOpData{
		GroupId:  &gid,
		ActionBy: &trees.Member{UserId: 1111, KeyVersion: 1001},
		TypeData: &trees.TypeData{GenGroup: &trees.GenGroupOpData{
			UpdateMap:      map[int32]map[string][]byte{1: {"a": {1}, "b": {2}}},
			InitialMembers: []*trees.Member{{UserId: 1111, KeyVersion: 1}, {UserId: 2222, KeyVersion: 1}},
		}},
		MemberKeyInfo: map[int64]*trees.MemberKeyInfo{1111: {IdentityPublicKey: []byte{4}}},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := DecodeGroupOpData(b)
		if err != nil {
			return
		}
		checkReencode(t, g, func() thrift.TStruct { return trees.NewGroupOpData() })
	})
}

func FuzzDecodeB64(f *testing.F) {
	for k, s := range vectors(f) {
		if strings.HasSuffix(k, "_b64") {
			f.Add(s)
		}
	}
	f.Add("Zg=")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeB64(s)
		if err != nil {
			return
		}
		// Accepted input is exactly the canonical unpadded form plus at most
		// the canonical padding.
		if got := EncodeB64NoPad(b); got != strings.TrimRight(s, "=") {
			t.Fatalf("accepted non-canonical %q (canonical %q)", s, got)
		}
		back, err := DecodeB64(EncodeB64(b))
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("padded round trip failed: %v", err)
		}
	})
}
