package crypto

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
)

// TestAppendMessageCreatePayload checks the append-style builder against
// MessageCreatePayload(...).Bytes for every base64 tail length, with and
// without a conversation id, and that errors leave dst alone.
func TestAppendMessageCreatePayload(t *testing.T) {
	for _, conv := range []string{"1111:2222", ""} {
		h := Header{MessageID: "m-1", SenderID: "1111", ConversationID: conv}
		for n := range 7 {
			contents := bytes.Repeat([]byte{0xfb, 0xff, 0x01}, 3)[:n]
			p, err := MessageCreatePayload(SignatureVersion, h, "170", contents)
			if err != nil {
				t.Fatal(err)
			}
			want := testutil.Must(p.Bytes())(t)
			prefix := []byte("prefix|")
			got, err := AppendMessageCreatePayload(bytes.Clone(prefix), SignatureVersion, h, "170", contents)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, append(prefix, want...)) {
				t.Fatalf("conv %q, %d bytes: got %q, want %q", conv, n, got, want)
			}
			if ab, err := p.AppendBytes([]byte("x")); err != nil || !bytes.Equal(ab, append([]byte("x"), want...)) {
				t.Fatalf("AppendBytes: %q, %v", ab, err)
			}
		}
	}
	dst := []byte("keep")
	for _, tc := range []struct {
		version int
		h       Header
		ckv     string
	}{
		{SignatureVersion, Header{MessageID: "m", SenderID: "s", ConversationID: "a,b"}, "1"},
		{SignatureVersion, Header{MessageID: "m", SenderID: "s"}, "1,2"},
		{SignatureVersion, Header{SenderID: "s"}, "1"},
		{1, Header{MessageID: "m", SenderID: "s"}, "1"},
	} {
		got, err := AppendMessageCreatePayload(dst, tc.version, tc.h, tc.ckv, []byte{1})
		if err == nil || !bytes.Equal(got, []byte("keep")) {
			t.Fatalf("%+v: got %q, %v; want an error and dst unchanged", tc, got, err)
		}
		_, perr := MessageCreatePayload(tc.version, tc.h, tc.ckv, []byte{1})
		if !errors.Is(err, perr) && err.Error() != perr.Error() {
			t.Fatalf("%+v: error %v differs from MessageCreatePayload's %v", tc, err, perr)
		}
	}
	p := Payload{Kind: KindMessageCreate, MessageID: "m", SenderID: "s", Extra: []string{"a,b"}}
	if got, err := p.AppendBytes([]byte("keep")); !errors.Is(err, ErrInvalidPayload) || string(got) != "keep" {
		t.Fatalf("AppendBytes with a comma: %q, %v", got, err)
	}
}

// TestPayloadSignMatchesSign checks that Payload.Sign and Payload.Verify,
// which hash the components without joining them, agree with Sign and
// Verify over Bytes (signatures are deterministic).
func TestPayloadSignMatchesSign(t *testing.T) {
	k := mustKey(t, 9)
	payloads := []Payload{
		{Kind: KindMessageCreate, MessageID: "m", SenderID: "s", ConversationID: "1:2", Extra: []string{"7", "AAEC"}},
		{Kind: KindGroupCreate, MessageID: "m", SenderID: "s", Extra: []string{"7", "1", "2", "null", "", "null"}},
		{Kind: KindDurationRemove, MessageID: "m", SenderID: "s", ConversationID: "g"},
	}
	// Long components cross the hashing buffer's boundaries in every way.
	for _, n := range []int{470, 471, 472, 473, 983, 984, 985, 1500, 4000} {
		payloads = append(payloads, Payload{Kind: KindMessageCreate, MessageID: "2c2a1d32-988b", SenderID: "1111",
			ConversationID: "1111:2222", Extra: []string{"1700000000001", strings.Repeat("Ab+/", n)[:n]}})
	}
	for _, p := range payloads {
		b, err := p.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		want, err := Sign(k, b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Sign(k)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: Payload.Sign differs from Sign(Bytes): %v", b, err)
		}
		if err := p.Verify(k.PublicKey(), want); err != nil {
			t.Fatalf("%s: Payload.Verify: %v", b, err)
		}
		q := p
		q.MessageID += "x"
		if err := q.Verify(k.PublicKey(), want); !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("%s: Verify of a changed payload: %v", b, err)
		}
	}
	bad := Payload{Kind: KindMessageCreate, MessageID: "m,", SenderID: "s"}
	if _, err := bad.Sign(k); !errors.Is(err, ErrInvalidPayload) {
		t.Fatalf("Sign with a comma: %v", err)
	}
	if err := bad.Verify(k.PublicKey(), make([]byte, SignatureSize)); !errors.Is(err, ErrInvalidPayload) {
		t.Fatalf("Verify with a comma: %v", err)
	}
	if _, err := (Payload{Kind: KindMarkRead, MessageID: "m", SenderID: "s"}).Sign(nil); !errors.Is(err, ErrInvalidPrivateKey) {
		t.Fatalf("Sign with a nil key: %v", err)
	}
}

// BenchmarkMessageCreateSign1KiB builds and signs the payload of a message
// with ~1 KiB of contents, through Payload and through the append builder.
func BenchmarkMessageCreateSign1KiB(b *testing.B) {
	k := mustKey(b, 9)
	h := Header{MessageID: "2c2a1d32-988b-4b0e-9e63-c3baab3003fd", SenderID: "1111", ConversationID: "1111:2222"}
	contents := make([]byte, 1100)
	b.Run("payload", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := MessageCreatePayload(SignatureVersion, h, "1700000000001", contents)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Sign(k); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = AppendMessageCreatePayload(buf[:0], SignatureVersion, h, "1700000000001", contents); err != nil {
				b.Fatal(err)
			}
			if _, err := Sign(k, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
