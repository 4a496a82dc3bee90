package inbound

import (
	"context"
	"errors"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/session/event"
)

func decryptAllWith(t *testing.T, keys Keys, raw [][]byte, o *Options) []*event.Event {
	t.Helper()
	var out []*event.Event
	for ev, err := range DecryptBatch(context.Background(), keys, FromBytes(raw), o) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// TestSignatureMemo: a memo filled by one run gives a second run the same
// events; it remembers each signature once; and it vouches for nothing
// under another pinned key: with mallory's key pinned for alice, every
// event fails as without the memo.
func TestSignatureMemo(t *testing.T) {
	f := newFixture(t)
	raw := history(t, f, 2, 5)
	memo := crypto.NewVerifyMemo(0)
	unwraps := crypto.NewUnwrapMemo(0)
	defer unwraps.Close()
	first := decryptAllWith(t, keysFor(f.bob, f.alice), raw, &Options{Signatures: memo, Unwraps: unwraps})
	if memo.Len() != len(raw) {
		t.Fatalf("memo holds %d signatures of %d events", memo.Len(), len(raw))
	}
	second := decryptAllWith(t, keysFor(f.bob, f.alice), raw, &Options{Signatures: memo, Unwraps: unwraps})
	for i := range first {
		if first[i].Err != nil || !second[i].Verified || second[i].Err != nil || first[i].Text() != second[i].Text() {
			t.Fatalf("event %d: %v / %v, %q / %q", i, first[i].Err, second[i].Err, first[i].Text(), second[i].Text())
		}
	}
	if memo.Len() != len(raw) {
		t.Fatalf("a second run added signatures: %d", memo.Len())
	}
	mallory := newUser(t, f.alice.id, f.alice.ver) // alice's ids, other keys
	forged := keysFor(f.bob, mallory)
	for i, ev := range decryptAllWith(t, forged, raw, &Options{Signatures: memo, Unwraps: unwraps}) {
		if ev.Verified || !errors.Is(ev.Err, ErrBadSignature) {
			t.Fatalf("event %d under another pinned key: verified %v, %v", i, ev.Verified, ev.Err)
		}
	}
}

// TestVerifyOnly: messages are checked but not decrypted; a bad signature
// still fails; key changes are processed in full.
func TestVerifyOnly(t *testing.T) {
	f := newFixture(t)
	raw := history(t, f, 1, 3)
	bad := append([]byte(nil), raw[2]...)
	bad[len(bad)-20] ^= 1 // inside the signature or the contents
	raw = append(raw, bad)
	memo := crypto.NewVerifyMemo(0)
	evs := decryptAllWith(t, keysFor(f.bob, f.alice), raw, &Options{VerifyOnly: true, Signatures: memo})
	if kc := evs[0].KeyChange; !evs[0].Verified || kc == nil || kc.Key == nil {
		t.Fatalf("key change: verified %v, %+v", evs[0].Verified, kc)
	}
	for i, ev := range evs[1:4] {
		if ev.Message != nil || ev.Verified || ev.Err != nil {
			t.Fatalf("message %d: message %v, verified %v, err %v", i, ev.Message != nil, ev.Verified, ev.Err)
		}
	}
	if last := evs[4]; last.Err == nil {
		t.Fatal("altered message passed")
	}
	if memo.Len() != 4 {
		t.Fatalf("memo holds %d signatures, want the 4 that verified", memo.Len())
	}
	for i, ev := range decryptAllWith(t, keysFor(f.bob, f.alice), raw[:4], &Options{Signatures: memo}) {
		if !ev.Verified || ev.Err != nil {
			t.Fatalf("event %d after VerifyOnly: %v", i, ev.Err)
		}
	}
}
