package emulator

import (
	"testing"
)

func TestTokenRoundTrip(t *testing.T) {
	for _, cur := range []uint64{0, 1, 2124343582155341824, 1<<63 - 1} {
		tok := encodeToken(tokChatEvents, cur)
		if len(tok) != 16 {
			t.Fatalf("token %q has length %d", tok, len(tok))
		}
		got, ok := decodeToken(tokChatEvents, tok)
		if !ok || got != cur {
			t.Fatalf("round trip %d: %d %v", cur, got, ok)
		}
		if _, ok := decodeToken(tokDMEvents, tok); ok {
			t.Fatal("token accepted for another list")
		}
		b := []byte(tok)
		b[3] ^= 1
		if _, ok := decodeToken(tokChatEvents, string(b)); ok {
			t.Fatal("corrupted token accepted")
		}
	}
}

// FuzzDecodeToken checks the pagination token decoder never panics and only
// accepts what encodeToken produces.
func FuzzDecodeToken(f *testing.F) {
	f.Add(encodeToken(tokChatEvents, 42))
	f.Add(encodeToken(tokDMEvents, 1<<40))
	f.Add("")
	f.Add("0000000000000000")
	f.Fuzz(func(t *testing.T, s string) {
		for _, kind := range []byte{tokChatEvents, tokChatConvs, tokDMEvents} {
			if cur, ok := decodeToken(kind, s); ok && encodeToken(kind, cur) != s {
				t.Fatalf("accepted non-canonical token %q", s)
			}
		}
	})
}

// TestOneToOneKeyAndIDs checks the emulator's id rules: 1:1 keys sort
// numerically, ids are canonical decimals that fit in 63 bits (the
// comparison itself is internal/decimal's, tested there).
func TestOneToOneKeyAndIDs(t *testing.T) {
	if oneToOneKey("10", "9") != "9:10" || oneToOneKey("9", "10") != "9:10" {
		t.Fatal("1:1 ids must sort numerically")
	}
	for _, bad := range []string{"", "01", "-1", "12345678901234567890", "9223372036854775808", "1a"} {
		if isID(bad) {
			t.Errorf("isID(%q)", bad)
		}
	}
}
