package keystore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// recordCases are event records over fields of every kind: empty, plain,
// escaped in JSON, non-UTF-8, and odd times.
func recordCases(n int) []eventRecord {
	strs := []string{"", "1795000000000000001", "msg-42", "message", "user<script>", "a\"b", "back\\slash",
		"tab\tnew\nline", "ünïcode", "\u2028sep", "amp&", "bad\xffutf8", "\x00nul"}
	times := []time.Time{{}, time.Unix(1795000000, 123456789).UTC(), time.Unix(0, 0).UTC(),
		time.Date(2026, 12, 6, 23, 50, 0, 0, time.FixedZone("x", 5*3600+1800)),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("odd", 3600+7))}
	bins := [][]byte{nil, {0}, []byte("raw thrift bytes \x00\xff"), bytes.Repeat([]byte{0xa5}, 1000)}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(n int) int { return rng.IntN(n) }
	out := make([]eventRecord, n)
	for i := range out {
		out[i] = eventRecord{MessageID: strs[pick(len(strs))], SenderID: strs[pick(len(strs))], Type: strs[pick(len(strs))],
			Body: bins[pick(len(bins))], Verified: pick(2) == 1, Error: strs[pick(len(strs))], Raw: bins[pick(len(bins))],
			CreatedAt: times[pick(len(times))]}
	}
	return out
}

// sameRecord reports whether two records hold the same values (times
// compared as instants with the same zone offset).
func sameRecord(a, b *eventRecord) bool {
	_, ao := a.CreatedAt.Zone()
	_, bo := b.CreatedAt.Zone()
	return a.MessageID == b.MessageID && a.SenderID == b.SenderID && a.Type == b.Type && bytes.Equal(a.Body, b.Body) &&
		a.Verified == b.Verified && a.Error == b.Error && bytes.Equal(a.Raw, b.Raw) && a.CreatedAt.Equal(b.CreatedAt) && ao == bo &&
		(a.Body == nil) == (b.Body == nil) && (a.Raw == nil) == (b.Raw == nil)
}

// TestEventRecordBinary: every record decodes from its binary encoding to
// what was encoded (its time's offset to the second, which JSON's RFC 3339
// rounds to the minute), within the size eventRecordSize makes for it; and
// the JSON records stores written before format 3 hold (json.Marshal of
// eventRecord, byte for byte what format 2 wrote) decode as
// json.Unmarshal decodes them.
func TestEventRecordBinary(t *testing.T) {
	for i, r := range recordCases(4000) {
		b, err := encodeEventRecord(&r)
		if err != nil {
			t.Fatalf("case %d %+v: %v", i, r, err)
		}
		if len(b) > eventRecordSize(&r) || b[0] != eventRecordBinary {
			t.Fatalf("case %d: %d bytes, format %d, room made %d", i, len(b), b[0], eventRecordSize(&r))
		}
		var got eventRecord
		if err := decodeEventRecord(b, &got); err != nil || !sameRecord(&got, &r) {
			t.Fatalf("case %d: got %+v, %v, want %+v", i, got, err, r)
		}
		js, err := json.Marshal(&r)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		var want, old eventRecord
		if err := json.Unmarshal(js, &want); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if err := decodeEventRecord(bytes.Clone(js), &old); err != nil || !sameRecord(&old, &want) {
			t.Fatalf("case %d: JSON record %s: got %+v, %v", i, js, old, err)
		}
	}
}

// TestEventRecordBinaryStrict: a binary record cut short, with a byte too
// many, an unknown format or flag, or a length past its end is refused.
func TestEventRecordBinaryStrict(t *testing.T) {
	r := eventRecord{MessageID: "m1", SenderID: "42", Type: "message", Body: []byte("body"), Verified: true, Raw: []byte("raw"),
		CreatedAt: time.Unix(1795000000, 0).UTC()}
	b, err := encodeEventRecord(&r)
	if err != nil {
		t.Fatal(err)
	}
	bad := [][]byte{nil, {}, b[:len(b)-1], append(bytes.Clone(b), 0), {eventRecordBinary}}
	for _, edit := range []func(c []byte){
		func(c []byte) { c[0] = 2 },
		func(c []byte) { c[1] |= 2 },
		func(c []byte) { c[2] = 0xff },              // the time's length past the end
		func(c []byte) { c[2] = maxTimeBinary + 1 }, // longer than any time
		func(c []byte) { c[3] = 0 },                 // the time's own version byte
		func(c []byte) { c[len(c)-4] = 0x7f },       // raw's length past the end
	} {
		c := bytes.Clone(b)
		edit(c)
		bad = append(bad, c)
	}
	for i, c := range bad {
		var got eventRecord
		if err := decodeEventRecord(c, &got); err == nil {
			t.Errorf("case %d (%x): decoded %+v", i, c, got)
		}
	}
}

// TestNotFoundMessage holds the cheap not-found errors to what
// fmt.Errorf("%w: ...") said, and to errors.Is.
func TestNotFoundMessage(t *testing.T) {
	err := error(&notFound{"value", "session/x"})
	if want := fmt.Errorf("%w: value %s", ErrNotFound, "session/x").Error(); err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
	if !errors.Is(err, ErrNotFound) {
		t.Fatal("not ErrNotFound")
	}
}

func BenchmarkEncodeEventRecord(b *testing.B) {
	r := eventRecord{MessageID: "m1795000000000000001", SenderID: "42", Type: "message", Body: bytes.Repeat([]byte("b"), 60),
		Verified: true, Raw: make([]byte, 300), CreatedAt: time.Unix(1795000000, 0).UTC()}
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeEventRecord(&r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzEventRecordBinary: whatever the bytes, decoding never panics, and a
// record that decodes encodes back to the same bytes.
func FuzzEventRecordBinary(f *testing.F) {
	for _, r := range recordCases(8) {
		b, err := encodeEventRecord(&r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"message_id":"m"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r eventRecord
		if decodeEventRecord(bytes.Clone(b), &r) != nil || len(b) == 0 || b[0] == '{' {
			return
		}
		again, err := encodeEventRecord(&r)
		if err != nil {
			t.Fatalf("%+v decoded from %x does not encode: %v", r, b, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("%x decoded to %+v, which encodes as %x", b, r, again)
		}
	})
}
