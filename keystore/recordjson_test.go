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

// TestEventRecordJSON holds encodeEventRecord to encoding/json's output for
// eventRecord, byte for byte, over fields that take the fast path and
// fields that must fall back (escapes, non-ASCII, odd times).
func TestEventRecordJSON(t *testing.T) {
	strs := []string{"", "1795000000000000001", "msg-42", "message", "user<script>", "a\"b", "back\\slash",
		"tab\tnew\nline", "ünïcode", "\u2028sep", "amp&", "bad\xffutf8", "\x00nul"}
	times := []time.Time{{}, time.Unix(1795000000, 123456789).UTC(), time.Unix(0, 0).UTC(),
		time.Date(2026, 12, 6, 23, 50, 0, 0, time.FixedZone("x", 5*3600+1800)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 25*3600))}
	bins := [][]byte{nil, {}, {0}, []byte("raw thrift bytes \x00\xff"), bytes.Repeat([]byte{0xa5}, 1000)}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(n int) int { return rng.IntN(n) }
	for i := range 4000 {
		r := eventRecord{MessageID: strs[pick(len(strs))], SenderID: strs[pick(len(strs))], Type: strs[pick(len(strs))],
			Body: bins[pick(len(bins))], Verified: pick(2) == 1, Error: strs[pick(len(strs))], Raw: bins[pick(len(bins))],
			CreatedAt: times[pick(len(times))]}
		want, werr := json.Marshal(&r)
		got, gerr := encodeEventRecord(&r)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("case %d %+v: error %v, json.Marshal %v", i, r, gerr, werr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: got\n%s\nwant\n%s", i, got, want)
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
	b.Run("fast", func(b *testing.B) {
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

// FuzzEventRecordJSON holds encodeEventRecord to encoding/json on arbitrary
// strings, bytes and times.
func FuzzEventRecordJSON(f *testing.F) {
	f.Add("1795000000000000001", "42", "message", []byte("body"), true, "", []byte("raw"), int64(1795000000123), int64(0))
	f.Add("a\"b<&>", "\u2028", "bad\xff", []byte{}, false, "\x00", []byte(nil), int64(-62135596800000), int64(19800))
	f.Fuzz(func(t *testing.T, mid, sender, typ string, body []byte, verified bool, errText string, raw []byte, ms, offset int64) {
		r := eventRecord{MessageID: mid, SenderID: sender, Type: typ, Body: body, Verified: verified, Error: errText, Raw: raw,
			CreatedAt: time.UnixMilli(ms).In(time.FixedZone("z", int(offset%(30*3600))))}
		want, werr := json.Marshal(&r)
		got, gerr := encodeEventRecord(&r)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("%+v: error %v, json.Marshal %v", r, gerr, werr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got\n%s\nwant\n%s", got, want)
		}
	})
}
