package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/thriftgen/trees"
)

// Hand-assembled binary-protocol fragments, independent of the encoder.

func fh(t thrift.TType, id int16) []byte {
	return []byte{byte(t), byte(uint16(id) >> 8), byte(id)}
}

func be32(n int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }

func be64(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func bstr(s string) []byte { return append(be32(int32(len(s))), s...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var stop = []byte{0}

// strField is a STRING field id with value s.
func strField(id int16, s string) []byte { return cat(fh(thrift.STRING, id), bstr(s)) }

// detailWith wraps raw detail-union field bytes in MessageEvent field 7; the
// caller still has to close the envelope.
func detailWith(fields ...[]byte) []byte {
	return cat(fh(thrift.STRUCT, 7), cat(fields...), stop)
}

// typingVariant is MessageEventDetail variant 6 (an empty MessageTypingEvent).
var typingVariant = cat(fh(thrift.STRUCT, 6), stop)

func mustMalformed(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("decode succeeded, want an error")
	}
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v does not match ErrMalformed", err)
	}
}

func TestHostileLengthsFailFastWithoutAllocating(t *testing.T) {
	cases := map[string]struct {
		in    []byte
		limit bool
	}{
		"string length 2^31-1":   {cat(fh(thrift.STRING, 1), be32(0x7fffffff), []byte("x")), false},
		"string length negative": {cat(fh(thrift.STRING, 1), be32(-1)), false},
		"binary length 2^31-1": {cat(detailWith(cat(fh(thrift.STRUCT, 1),
			fh(thrift.STRING, 100), be32(0x7fffffff), []byte("abc")))), false},
		"list size 2^31-1": {cat(detailWith(cat(fh(thrift.STRUCT, 1),
			fh(thrift.LIST, 107), []byte{byte(thrift.I32)}, be32(0x7fffffff)))), true},
		"list size over per-container cap": {cat(detailWith(cat(fh(thrift.STRUCT, 1),
			fh(thrift.LIST, 107), []byte{byte(thrift.I32)}, be32(MaxContainerElements+1)))), true},
		"list size at cap but short input": {cat(detailWith(cat(fh(thrift.STRUCT, 1),
			fh(thrift.LIST, 107), []byte{byte(thrift.I32)}, be32(MaxContainerElements)))), false},
		"list size negative": {cat(detailWith(cat(fh(thrift.STRUCT, 1),
			fh(thrift.LIST, 107), []byte{byte(thrift.I32)}, be32(-5)))), false},
		"unknown map field size 2^31-1":  {cat(fh(thrift.MAP, 99), []byte{byte(thrift.STRING), byte(thrift.STRING)}, be32(0x7fffffff)), true},
		"unknown list of structs, short": {cat(fh(thrift.LIST, 99), []byte{byte(thrift.STRUCT)}, be32(5000), stop), false},
		"invalid element type":           {cat(fh(thrift.LIST, 99), []byte{0x42}, be32(1), stop), false},
		"invalid field type":             {cat([]byte{0x42, 0, 1}, stop), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var err error
			start := time.Now()
			n := testutil.AllocatedBytes(func() { _, err = DecodeMessageEvent(tc.in) })
			mustMalformed(t, err)
			if tc.limit != errors.Is(err, ErrLimit) {
				t.Errorf("errors.Is(err, ErrLimit) = %v, want %v (err: %v)", !tc.limit, tc.limit, err)
			}
			if n > 1<<20 {
				t.Errorf("allocated %d bytes for a %d-byte hostile input", n, len(tc.in))
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestCumulativeElementBudget(t *testing.T) {
	// Eleven unknown list<byte> fields of MaxContainerElements each: every
	// list is within the per-container cap, the eleventh crosses the total.
	var parts [][]byte
	for i := 0; i < 11; i++ {
		parts = append(parts, fh(thrift.LIST, int16(200+i)), []byte{byte(thrift.BYTE)},
			be32(MaxContainerElements), make([]byte, MaxContainerElements))
	}
	in := cat(cat(parts...), stop)
	_, err := DecodeMessageEvent(in)
	mustMalformed(t, err)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("want ErrLimit, got %v", err)
	}
	// Ten such lists are fine and skipped as unknown fields.
	ten := cat(cat(parts[:40]...), stop)
	ev, err := DecodeMessageEvent(ten)
	if err != nil {
		t.Fatalf("ten full lists: %v", err)
	}
	if ev.SequenceID != nil || ev.Detail != nil {
		t.Fatal("unknown fields leaked into known ones")
	}
}

// nestedUnknown returns an unknown struct field nested depth levels deep.
func nestedUnknown(depth int) []byte {
	var b []byte
	for i := 0; i < depth; i++ {
		b = append(b, fh(thrift.STRUCT, 77)...)
	}
	for i := 0; i < depth; i++ {
		b = append(b, 0)
	}
	return b
}

func TestDeepNesting(t *testing.T) {
	// Deep unknown nesting directly in the envelope.
	_, err := DecodeMessageEvent(cat(nestedUnknown(MaxSkipDepth+5), stop))
	mustMalformed(t, err)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("want ErrLimit, got %v", err)
	}
	// Moderate unknown nesting is skipped.
	if _, err := DecodeMessageEvent(cat(nestedUnknown(10), stop)); err != nil {
		t.Fatalf("depth 10: %v", err)
	}

	// Deep nesting behind the known path MessageEntryHolder -> contents ->
	// message -> replying_to_preview -> raw_event_message_create.
	wrap := func(inner []byte) []byte {
		return cat(
			fh(thrift.STRUCT, 1), // holder.contents
			fh(thrift.STRUCT, 1), // contents.message
			fh(thrift.STRUCT, 4), // message.replying_to_preview
			fh(thrift.STRUCT, 8), // preview.raw_event_message_create
			strField(1, "1"),
			inner,
			stop, stop, stop, stop, stop)
	}
	h, err := DecodeMessageEntryHolder(wrap(nil))
	if err != nil {
		t.Fatalf("shallow reply: %v", err)
	}
	if got := str(h.Contents.Message.ReplyingToPreview.RawEventMessageCreate.SequenceID); got != "1" {
		t.Fatalf("embedded sequence_id = %q", got)
	}
	for _, depth := range []int{MaxSkipDepth + 1, 10_000} {
		start := time.Now()
		_, err = DecodeMessageEntryHolder(wrap(nestedUnknown(depth)))
		mustMalformed(t, err)
		if !errors.Is(err, ErrLimit) {
			t.Fatalf("depth %d: want ErrLimit, got %v", depth, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("depth %d took %v", depth, d)
		}
	}
	// Deep nesting of unknown lists of lists.
	var lists []byte
	for i := 0; i < 200; i++ {
		lists = append(lists, byte(thrift.LIST))
		lists = append(lists, be32(1)...)
	}
	_, err = DecodeMessageEvent(cat(fh(thrift.LIST, 99), lists[:len(lists)-5], []byte{byte(thrift.I32)}, be32(1), be32(0), stop))
	mustMalformed(t, err)
}

func TestTruncatedInputs(t *testing.T) {
	full := cat(strField(1, "1"), strField(3, "1111"),
		detailWith(cat(fh(thrift.STRUCT, 1), fh(thrift.STRING, 100), bstr("ciphertext"), strField(101, "1001"), stop)))
	full = cat(full, stop)
	if _, err := DecodeMessageEvent(full); err != nil {
		t.Fatalf("full input: %v", err)
	}
	for n := 0; n < len(full); n++ {
		if _, err := DecodeMessageEvent(full[:n]); err == nil || !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix of %d/%d bytes: err = %v", n, len(full), err)
		}
	}
}

func TestVectorPrefixesFail(t *testing.T) {
	v := vectors(t)
	for _, key := range []string{"event_message_b64", "event_key_change_b64", "event_failure_b64", "event_reply_valid_b64"} {
		in := vectorBytes(t, v, key)
		for n := 0; n < len(in); n++ {
			if _, err := DecodeMessageEvent(in[:n]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s prefix %d/%d: err = %v", key, n, len(in), err)
			}
		}
	}
}

func TestUnionPolicy(t *testing.T) {
	unknownVariant := cat(fh(thrift.STRUCT, 11), stop) // retired RequestForEncryptedResendEvent
	const (
		typing = iota // decodes with the typing variant
		absent        // decodes with detail cleared (SDK: "unknown" event)
		fails
	)
	cases := []struct {
		name   string
		detail []byte
		want   int
	}{
		{"one variant", typingVariant, typing},
		{"known plus unknown variant", cat(unknownVariant, typingVariant), typing},
		{"only an unknown variant", unknownVariant, absent},
		{"known variant with wrong wire type only", cat(fh(thrift.I32, 6), be32(1)), absent},
		// The SDK rejects an empty union ("empty union"); the Go reader cannot
		// tell it from an unknown-only one, so it is cleared as well.
		{"empty union", nil, absent},
		{"two known variants", cat(typingVariant, fh(thrift.STRUCT, 10), stop), fails},
		{"same variant twice", cat(typingVariant, typingVariant), fails},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := DecodeMessageEvent(cat(strField(1, "5"), detailWith(tc.detail), stop))
			switch tc.want {
			case typing:
				if err != nil {
					t.Fatal(err)
				}
				if ev.Detail == nil || ev.Detail.MessageTypingEvent == nil {
					t.Fatal("typing variant lost")
				}
			case absent:
				if err != nil {
					t.Fatal(err)
				}
				if ev.Detail != nil || str(ev.SequenceID) != "5" {
					t.Fatalf("detail = %+v, sequence %q; want detail cleared, envelope kept", ev.Detail, str(ev.SequenceID))
				}
			default:
				mustMalformed(t, err)
			}
		})
	}

	// A top-level union needs a known variant.
	for _, in := range [][]byte{stop, cat(unknownVariant, stop)} {
		mustMalformed(t, func() error { _, err := DecodeMessageEventDetail(in); return err }())
	}
	if d, err := DecodeMessageEventDetail(cat(typingVariant, stop)); err != nil || d.MessageTypingEvent == nil {
		t.Fatalf("top-level detail: %v", err)
	}

	// Nested: an unknown-only RichTextContent in an optional field is cleared...
	entity := func(content []byte) []byte {
		return cat(fh(thrift.STRUCT, 1), fh(thrift.STRUCT, 1),
			fh(thrift.LIST, 2), []byte{byte(thrift.STRUCT)}, be32(1),
			fh(thrift.I32, 1), be32(3), fh(thrift.STRUCT, 3), content, stop, // entity
			stop, // end entity
			stop, stop, stop)
	}
	h, err := DecodeMessageEntryHolder(entity(cat(fh(thrift.STRUCT, 9), stop)))
	if err != nil {
		t.Fatal(err)
	}
	if e := h.Contents.Message.Entities[0]; e.Content != nil || e.StartIndex == nil || *e.StartIndex != 3 {
		t.Fatalf("entity = %+v", e)
	}
	// ...but a list element that is a union without a known variant fails.
	attachment := cat(fh(thrift.STRUCT, 1), fh(thrift.STRUCT, 1),
		fh(thrift.LIST, 3), []byte{byte(thrift.STRUCT)}, be32(1),
		fh(thrift.STRUCT, 42), stop, stop, // MessageAttachment with unknown variant 42
		stop, stop, stop)
	mustMalformed(t, DecodeMessageEntryHolderErr(attachment))

	// Encoding refuses unions without exactly one variant.
	if _, err := EncodeMessageEvent(&event.MessageEvent{Detail: &event.MessageEventDetail{}}); !errors.Is(err, ErrEncode) {
		t.Fatalf("encode empty union: %v", err)
	}
	two := &event.MessageEventDetail{MessageTypingEvent: &event.MessageTypingEvent{}, GrokSearchResponseEvent: &event.GrokSearchResponseEvent{}}
	if _, err := EncodeMessageEventDetail(two); !errors.Is(err, ErrEncode) {
		t.Fatalf("encode two-variant union: %v", err)
	}
	if _, err := EncodeMessageEventDetail(&event.MessageEventDetail{}); !errors.Is(err, ErrEncode) {
		t.Fatalf("encode empty top-level union: %v", err)
	}
}

// DecodeMessageEntryHolderErr returns only the error of DecodeMessageEntryHolder.
func DecodeMessageEntryHolderErr(b []byte) error {
	_, err := DecodeMessageEntryHolder(b)
	return err
}

func TestScalarStrictness(t *testing.T) {
	boolField := func(b byte) []byte {
		return cat(fh(thrift.BOOL, 11), []byte{b}, stop)
	}
	for _, b := range []byte{0, 1} {
		ev, err := DecodeMessageEvent(boolField(b))
		if err != nil || ev.IsTrusted == nil || *ev.IsTrusted != (b == 1) {
			t.Fatalf("bool %d: %v %v", b, ev, err)
		}
	}
	mustMalformed(t, func() error { _, err := DecodeMessageEvent(boolField(2)); return err }())

	// Strings must be UTF-8; binaries need not be.
	_, err := DecodeMessageEvent(cat(fh(thrift.STRING, 1), be32(2), []byte{0xff, 0xfe}, stop))
	mustMalformed(t, err)
	m, err := DecodeMessageCreateEvent(cat(fh(thrift.STRING, 100), be32(2), []byte{0xff, 0xfe}, stop))
	if err != nil || !bytes.Equal(m.Contents, []byte{0xff, 0xfe}) {
		t.Fatalf("binary contents: %v", err)
	}
	// Unknown fields may carry non-UTF-8 strings (skipped as bytes, as the SDK does).
	if _, err := DecodeMessageEvent(cat(fh(thrift.STRING, 50), be32(1), []byte{0xff}, stop)); err != nil {
		t.Fatalf("unknown non-UTF-8 string: %v", err)
	}
	// Unknown enum values are kept.
	f, err := DecodeMessageEvent(cat(detailWith(cat(fh(thrift.STRUCT, 5), fh(thrift.I32, 1), be32(999), stop)), stop))
	if err != nil || int64(*f.Detail.MessageFailureEvent.FailureType) != 999 {
		t.Fatalf("unknown enum: %v", err)
	}
	// Repeated field ids are rejected.
	mustMalformed(t, func() error {
		_, err := DecodeMessageEvent(cat(strField(1, "1"), strField(1, "2"), stop))
		return err
	}())
	// Required fields must be present.
	_, err = DecodeGroupOpData(cat(fh(thrift.STRUCT, 3), fh(thrift.I64, 1), be64(5), stop, stop))
	mustMalformed(t, err)
	g, err := DecodeGroupOpData(cat(fh(thrift.STRUCT, 3), fh(thrift.I64, 1), be64(5), fh(thrift.I64, 2), be64(6), stop, stop))
	if err != nil || g.ActionBy.UserId != 5 || g.ActionBy.KeyVersion != 6 {
		t.Fatalf("member: %v", err)
	}
}

func TestTrailingBytesPolicy(t *testing.T) {
	in := cat(strField(1, "7"), stop)
	withTail := cat(in, []byte("tail"))
	ev, err := DecodeMessageEvent(withTail)
	if err != nil || str(ev.SequenceID) != "7" {
		t.Fatalf("Unmarshal with trailing bytes: %v", err)
	}
	err = UnmarshalExact(withTail, event.NewMessageEvent())
	if !errors.Is(err, ErrTrailingData) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("UnmarshalExact: %v", err)
	}
	if err := UnmarshalExact(in, event.NewMessageEvent()); err != nil {
		t.Fatalf("UnmarshalExact exact input: %v", err)
	}
}

func TestUnknownFieldsSkipped(t *testing.T) {
	plain := cat(strField(1, "1"), strField(4, "1111:2222"), stop)
	noisy := cat(strField(1, "1"),
		fh(thrift.MAP, 300), []byte{byte(thrift.I32), byte(thrift.STRING)}, be32(1), be32(9), bstr("x"),
		fh(thrift.DOUBLE, 301), be64(0),
		fh(ttypeUUID, 302), make([]byte, 16),
		fh(thrift.SET, 303), []byte{byte(thrift.I16)}, be32(2), []byte{0, 1, 0, 2},
		strField(4, "1111:2222"), stop)
	a, err := DecodeMessageEvent(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeMessageEvent(noisy)
	if err != nil {
		t.Fatal(err)
	}
	ea := testutil.Must(EncodeMessageEvent(a))(t)
	eb := testutil.Must(EncodeMessageEvent(b))(t)
	if !bytes.Equal(ea, eb) || !bytes.Equal(ea, plain) {
		t.Fatalf("unknown fields changed the result:\n%x\n%x", ea, eb)
	}
}

func TestInputSizeCap(t *testing.T) {
	big := make([]byte, MaxMessageSize+1)
	_, err := DecodeMessageEvent(big)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("oversized input: %v", err)
	}
}

func TestNilAndEmpty(t *testing.T) {
	if _, err := Marshal(nil); !errors.Is(err, ErrEncode) {
		t.Fatalf("Marshal(nil): %v", err)
	}
	if _, err := Marshal((*event.MessageEvent)(nil)); !errors.Is(err, ErrEncode) {
		t.Fatalf("Marshal(typed nil): %v", err)
	}
	if err := Unmarshal([]byte{0}, (*event.MessageEvent)(nil)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Unmarshal into nil: %v", err)
	}
	// A nil element inside a list is a caller bug reported as an error.
	bad := &product.MessageEntryHolder{Contents: &product.MessageEntryContents{
		Message: &product.MessageContents{Entities: []*product.RichTextEntity{nil}}}}
	if _, err := EncodeMessageEntryHolder(bad); !errors.Is(err, ErrEncode) {
		t.Fatalf("nil list element: %v", err)
	}
	// Invalid UTF-8 is refused on encode.
	s := string([]byte{0xff})
	if _, err := EncodeMessageEvent(&event.MessageEvent{SequenceID: &s}); !errors.Is(err, ErrEncode) {
		t.Fatalf("invalid UTF-8 encode: %v", err)
	}
	// Empty input is truncated, not an empty struct.
	mustMalformed(t, func() error { _, err := DecodeMessageEvent(nil); return err }())
	// Present-but-empty binary survives a round trip.
	m, err := DecodeMessageCreateEvent(cat(fh(thrift.STRING, 100), be32(0), stop))
	if err != nil || m.Contents == nil || len(m.Contents) != 0 {
		t.Fatalf("empty contents: %#v %v", m, err)
	}
	out, err := EncodeMessageCreateEvent(m)
	if err != nil || !bytes.Equal(out, cat(fh(thrift.STRING, 100), be32(0), stop)) {
		t.Fatalf("empty contents re-encoded as %x, %v", out, err)
	}
}

func TestErrorsDoNotLeakContent(t *testing.T) {
	secret := "very-secret-plaintext"
	in := cat(strField(1, secret), strField(1, secret), stop)
	_, err := DecodeMessageEvent(in)
	mustMalformed(t, err)
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error leaks field content: %v", err)
	}
}

func TestManyUnknownFields(t *testing.T) {
	field := func(id int16) []byte { return cat(fh(thrift.BYTE, id), []byte{7}) }
	var distinct [][]byte
	for i := 0; i < 40; i++ {
		distinct = append(distinct, field(int16(1000+i)))
	}
	if _, err := DecodeMessageEvent(cat(cat(distinct...), stop)); err != nil {
		t.Fatalf("40 distinct unknown fields: %v", err)
	}
	for _, repeat := range []int{2, 15, 16, 17, 39} {
		in := cat(cat(distinct...), field(int16(1000+repeat)), stop)
		mustMalformed(t, func() error { _, err := DecodeMessageEvent(in); return err }())
	}
	// The full id space of distinct fields decodes in linear time.
	var all [][]byte
	for id := -32768; id <= 32767; id++ {
		if id >= 1 && id <= 11 {
			continue // known MessageEvent fields
		}
		all = append(all, field(int16(id)))
	}
	start := time.Now()
	if _, err := DecodeMessageEvent(cat(cat(all...), stop)); err != nil {
		t.Fatalf("all ids: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("65k unknown fields took %v", d)
	}
}

func TestUTF8Rules(t *testing.T) {
	// Binary map keys (Go strings in generated code) may hold any bytes.
	n := &trees.MaybeTreeNode{Node: &trees.TreeNode{NodeSecretKeyEncryptions: map[string][]byte{
		"\x04\xff\xfe": {1},
		"\x04\x80":     {2},
	}}}
	b, err := Marshal(n)
	if err != nil {
		t.Fatalf("binary map keys: %v", err)
	}
	back := trees.NewMaybeTreeNode()
	if err := UnmarshalExact(b, back); err != nil || string(back.Node.NodeSecretKeyEncryptions["\x04\xff\xfe"]) != "\x01" {
		t.Fatalf("binary map keys decode: %v", err)
	}

	bad := string([]byte{'a', 0xc0})
	// Invalid UTF-8 in a list<string> element, on decode and on encode.
	gc := cat(detailWith(cat(fh(thrift.STRUCT, 4), // groupChangeEvent
		fh(thrift.STRUCT, 1), // group_change
		fh(thrift.STRUCT, 1), // group_create
		fh(thrift.LIST, 1), []byte{byte(thrift.STRING)}, be32(1), bstr(bad),
		stop, stop, stop)), stop)
	mustMalformed(t, func() error { _, err := DecodeMessageEvent(gc); return err }())
	ev := &event.MessageEvent{Detail: &event.MessageEventDetail{GroupChangeEvent: &event.GroupChangeEvent{
		GroupChange: &event.GroupChange{GroupCreate: &event.GroupCreate{MemberIds: []string{bad}}}}}}
	if _, err := EncodeMessageEvent(ev); !errors.Is(err, ErrEncode) {
		t.Fatalf("encode invalid UTF-8 list element: %v", err)
	}
	// Invalid UTF-8 in a map<string, string> value.
	h := &product.MessageEntryHolder{Contents: &product.MessageEntryContents{
		Message: &product.MessageContents{AdditionalFields: map[string]string{"k": bad}}}}
	if _, err := EncodeMessageEntryHolder(h); !errors.Is(err, ErrEncode) {
		t.Fatalf("encode invalid UTF-8 map value: %v", err)
	}
	h.Contents.Message.AdditionalFields["k"] = "ok"
	enc, err := EncodeMessageEntryHolder(h)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(enc, []byte("ok"))
	enc[i] = 0xc0
	mustMalformed(t, func() error { _, err := DecodeMessageEntryHolder(enc); return err }())
}
