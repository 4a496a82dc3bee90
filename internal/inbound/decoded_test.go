package inbound

import (
	"errors"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/session/event"
)

// verifyAhead runs a VerifyOnly batch over raw recording into a fresh
// Decoded, and checks that every event was recorded.
func verifyAhead(t *testing.T, keys Keys, raw [][]byte, memo *crypto.VerifyMemo) *Decoded {
	t.Helper()
	d := NewDecoded(len(raw))
	decryptAllWith(t, keys, raw, &Options{VerifyOnly: true, Signatures: memo, Decoded: d})
	if d.Len() != len(raw) {
		t.Fatalf("Decoded holds %d of %d events", d.Len(), len(raw))
	}
	return d
}

// sameEvents fails unless got and want are the same verdicts and contents.
func sameEvents(t *testing.T, got, want []*event.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Verified != w.Verified || (g.Err == nil) != (w.Err == nil) || g.Kind != w.Kind ||
			g.SequenceID != w.SequenceID || g.Text() != w.Text() || len(g.Warnings) != len(w.Warnings) {
			t.Fatalf("event %d: verified %v/%v, err %v/%v, kind %v/%v, seq %s/%s, text %q/%q",
				i, g.Verified, w.Verified, g.Err, w.Err, g.Kind, w.Kind, g.SequenceID, w.SequenceID, g.Text(), w.Text())
		}
	}
}

// TestDecodedReusedOnce: a batch starting from what a VerifyOnly batch
// decoded gives the events a batch without it gives, and takes every
// entry; a second batch over the same Decoded decodes afresh (the first
// owned the decoded values) and still gives the same events.
func TestDecodedReusedOnce(t *testing.T) {
	f := newFixture(t)
	raw := history(t, f, 2, 5)
	keys := keysFor(f.bob, f.alice)
	want := decryptAllWith(t, keysFor(f.bob, f.alice), raw, nil)
	d := verifyAhead(t, keys, raw, crypto.NewVerifyMemo(0))
	sameEvents(t, decryptAllWith(t, keys, raw, &Options{Decoded: d}), want)
	if d.Len() != 0 {
		t.Fatalf("%d entries left after the turn", d.Len())
	}
	sameEvents(t, decryptAllWith(t, keys, raw, &Options{Decoded: d}), want)
}

// TestDecodedJudgedWithTurnKeys: what was decoded and hashed ahead vouches
// for nothing. With mallory's key pinned for alice at the turn, every
// signed event fails, memo or not; and a signature the memo does not hold
// is verified in full (an altered event at the same position is decoded
// afresh and fails).
func TestDecodedJudgedWithTurnKeys(t *testing.T) {
	f := newFixture(t)
	raw := history(t, f, 1, 4)
	memo := crypto.NewVerifyMemo(0)
	d := verifyAhead(t, keysFor(f.bob, f.alice), raw, memo)
	mallory := newUser(t, f.alice.id, f.alice.ver) // alice's ids, other keys
	for i, ev := range decryptAllWith(t, keysFor(f.bob, mallory), raw, &Options{Signatures: memo, Decoded: d}) {
		if ev.Verified || ev.Err == nil {
			t.Fatalf("event %d under another pinned key: verified %v, %v", i, ev.Verified, ev.Err)
		}
	}

	d = verifyAhead(t, keysFor(f.bob, f.alice), raw, nil)
	for i, ev := range decryptAllWith(t, keysFor(f.bob, mallory), raw, &Options{Decoded: d}) {
		if ev.Verified || ev.Err == nil {
			t.Fatalf("event %d under another pinned key, no memo: verified %v, %v", i, ev.Verified, ev.Err)
		}
	}

	d = verifyAhead(t, keysFor(f.bob, f.alice), raw, nil)
	altered := append([][]byte(nil), raw...)
	bad := append([]byte(nil), raw[2]...)
	bad[len(bad)-20] ^= 1 // inside the signature or the contents
	altered[2] = bad
	evs := decryptAllWith(t, keysFor(f.bob, f.alice), altered, &Options{Decoded: d})
	if evs[2].Verified || evs[2].Err == nil {
		t.Fatalf("altered event at a decoded position: verified %v, %v", evs[2].Verified, evs[2].Err)
	}
	for i, ev := range evs {
		if i != 2 && (!ev.Verified || ev.Err != nil) {
			t.Fatalf("event %d: verified %v, %v", i, ev.Verified, ev.Err)
		}
	}
}

// TestDecodedNotRecordedByFullBatch: only a VerifyOnly batch records (a
// full batch owns and changes what it decoded), and a failed decode
// records nothing.
func TestDecodedNotRecordedByFullBatch(t *testing.T) {
	f := newFixture(t)
	raw := append(history(t, f, 1, 2), []byte("not thrift"))
	d := NewDecoded(len(raw))
	decryptAllWith(t, keysFor(f.bob, f.alice), raw, &Options{Decoded: d})
	if d.Len() != 0 {
		t.Fatalf("a full batch recorded %d entries", d.Len())
	}
	evs := decryptAllWith(t, keysFor(f.bob, f.alice), raw, &Options{VerifyOnly: true, Decoded: d})
	if d.Len() != len(raw)-1 || !errors.Is(evs[len(raw)-1].Err, ErrMalformed) {
		t.Fatalf("recorded %d entries of %d decodable; last: %v", d.Len(), len(raw)-1, evs[len(raw)-1].Err)
	}
}
