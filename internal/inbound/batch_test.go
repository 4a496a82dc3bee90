package inbound

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"testing"
	"time"

	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/thriftgen/product"
)

// history builds n messages per key, each key announced by a key change
// before its messages, as a linear chain.
func history(t testing.TB, f *fixture, keys int, perKey int) [][]byte {
	t.Helper()
	var out [][]byte
	seq := 0
	next := func() env {
		seq++
		e := env{seq: fmt.Sprint(seq), conv: f.conv}
		if seq > 1 {
			e.prev = fmt.Sprint(seq - 1)
		}
		return e
	}
	for k := range keys {
		ver := fmt.Sprint(1000 * (k + 1))
		key := newCKey(t)
		out = append(out, encode(t, keyChangeEvent(t, f.alice, next(), ver, key, f.alice, f.bob)))
		for i := range perKey {
			out = append(out, encode(t, messageEvent(t, f.alice, next(), ver, key, textHolder(fmt.Sprintf("m%d-%d", k, i)))))
		}
	}
	return out
}

func TestDecryptBatchOrderAndKeys(t *testing.T) {
	f := newFixture(t)
	raw := history(t, f, 3, 20)
	for _, o := range []*Options{nil, {Workers: 1, Window: 1}, {Workers: 4, Window: 3}, {Workers: 16}} {
		keys := keysFor(f.bob, f.alice) // no conversation keys up front
		i := 0
		chain := NewChain()
		for ev, err := range DecryptBatch(context.Background(), keys, FromBytes(raw), o) {
			if err != nil {
				t.Fatal(err)
			}
			if ev.SequenceID != fmt.Sprint(i+1) {
				t.Fatalf("order: got seq %s at %d", ev.SequenceID, i)
			}
			if ev.Err != nil || !ev.Verified {
				t.Fatalf("event %d: %v", i, ev.Err)
			}
			if k, m := i/21, i%21; m > 0 && ev.Text() != fmt.Sprintf("m%d-%d", k, m-1) {
				t.Fatalf("event %d text %q", i, ev.Text())
			}
			if a := chain.Observe(ev); len(a) != 0 {
				t.Fatalf("anomalies on a clean history: %v", a)
			}
			i++
		}
		if i != len(raw) {
			t.Fatalf("got %d of %d events", i, len(raw))
		}
	}
}

func TestDecryptBatchKeyAppliesOnlyForward(t *testing.T) {
	f := newFixture(t)
	raw := history(t, f, 1, 2)
	raw[0], raw[1] = raw[1], raw[0] // a message before its key change
	keys := keysFor(f.bob, f.alice)
	var evs []*event.Event
	for ev, err := range DecryptBatch(context.Background(), keys, FromBytes(raw), nil) {
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if !errors.Is(evs[0].Err, ErrUnknownKeyVersion) || evs[1].Err != nil || evs[2].Err != nil {
		t.Fatalf("%v / %v / %v", evs[0].Err, evs[1].Err, evs[2].Err)
	}
	// The chain tracker names the key change that was missing at the time.
	c := NewChain()
	c.Observe(evs[0])
	if got := c.MissingKeyVersions(f.conv); len(got) != 1 || got[0] != "1000" {
		t.Fatalf("missing %v", got)
	}
	c.Observe(evs[1])
	if got := c.MissingKeyVersions(f.conv); len(got) != 0 {
		t.Fatalf("still missing %v", got)
	}
}

func TestDecryptBatchConflictingKeyChange(t *testing.T) {
	f := newFixture(t)
	keys := keysFor(f.bob, f.alice)
	k1, k2 := newCKey(t), newCKey(t)
	raw := [][]byte{
		encode(t, keyChangeEvent(t, f.alice, env{seq: "1", conv: f.conv}, "1000", k1, f.alice, f.bob)),
		encode(t, keyChangeEvent(t, f.alice, env{seq: "2", conv: f.conv}, "1000", k2, f.alice, f.bob)),
		encode(t, messageEvent(t, f.alice, env{seq: "3", conv: f.conv}, "1000", k1, textHolder("ok"))),
	}
	var evs []*event.Event
	for ev, err := range DecryptBatch(context.Background(), keys, FromBytes(raw), nil) {
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if evs[0].Err != nil || !errors.Is(evs[1].Err, ErrKeyConflict) || evs[2].Text() != "ok" {
		t.Fatalf("%v / %v / %q", evs[0].Err, evs[1].Err, evs[2].Text())
	}
}

func TestDecryptBatchInputErrors(t *testing.T) {
	f := newFixture(t)
	good := history(t, f, 1, 1)
	var evs []*event.Event
	for ev, err := range DecryptBatch(context.Background(), keysFor(f.bob, f.alice), FromBase64([]string{"%%%", "AAAA"}), nil) {
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if len(evs) != 2 || !errors.Is(evs[0].Err, ErrMalformed) || !errors.Is(evs[1].Err, ErrMalformed) {
		t.Fatalf("%v", evs)
	}
	boom := errors.New("network down")
	src := func(yield func([]byte, error) bool) {
		if yield(good[0], nil) {
			yield(nil, boom)
		}
	}
	var got []error
	n := 0
	for ev, err := range DecryptBatch(context.Background(), keysFor(f.bob, f.alice), src, nil) {
		if ev != nil {
			n++
		}
		got = append(got, err)
	}
	if n != 1 || len(got) != 2 || !errors.Is(got[1], boom) {
		t.Fatalf("events %d errs %v", n, got)
	}
}

// endless yields the same event forever.
func endless(raw []byte) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		for yield(raw, nil) {
		}
	}
}

func TestDecryptBatchStopsCleanly(t *testing.T) {
	f := newFixture(t)
	raw := history(t, f, 1, 1)[1]
	before := runtime.NumGoroutine()
	keys := keysFor(f.bob, f.alice)
	n := 0
	for range DecryptBatch(context.Background(), keys, endless(raw), &Options{Workers: 4}) {
		if n++; n == 100 {
			break
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var last error
	m := 0
	for ev, err := range DecryptBatch(ctx, keys, endless(raw), &Options{Workers: 4}) {
		if err != nil {
			last = err
			continue
		}
		if ev != nil {
			if m++; m == 50 {
				cancel()
			}
		}
	}
	if !errors.Is(last, context.Canceled) {
		t.Fatalf("cancel: %v", last)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Fatalf("goroutines leaked: %d > %d", g, before)
	}
}

// TestDecryptBatchMemoryIsFlat streams thousands of fresh events and checks
// the live heap does not grow with the history length.
func TestDecryptBatchMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 4000 events")
	}
	f := newFixture(t)
	raw := encode(t, f.msg(t, env{seq: "1"}, string(make([]byte, 512))))
	const n = 4000
	src := func(yield func([]byte, error) bool) {
		for range n {
			if !yield(append([]byte(nil), raw...), nil) { // fresh bytes each time
				return
			}
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := heap()
	var peak uint64
	i := 0
	for ev, err := range DecryptBatch(context.Background(), f.bobKeys, src, &Options{Window: 16}) {
		if err != nil || ev.Err != nil {
			t.Fatal(err, ev.Err)
		}
		if i++; i%500 == 0 {
			peak = max(peak, heap())
		}
	}
	// Retaining every event would cost well over 4 MB here.
	if peak > base+2<<20 {
		t.Fatalf("heap grew from %d to %d bytes over %d events", base, peak, n)
	}
}

// A reply decrypted early (its key is in Keys) whose quoted source is under
// a key learnt earlier in the same batch still validates.
func TestDecryptBatchPreviewUsesBatchKeys(t *testing.T) {
	f := newFixture(t) // bob holds key v1000 up front
	oldKey := newCKey(t)
	kce := keyChangeEvent(t, f.alice, env{seq: "1", conv: f.conv}, "500", oldKey, f.alice, f.bob)
	orig := messageEvent(t, f.alice, env{seq: "2", prev: "1", conv: f.conv}, "500", oldKey, textHolder("original"))
	reply := &product.MessageEntryHolder{Contents: &product.MessageEntryContents{Message: &product.MessageContents{
		MessageText: ptr("reply"), ReplyingToPreview: &product.ReplyingToPreview{
			MessageText: ptr("original"), ReplyingToMessageID: orig.MessageID, RawEventMessageCreate: orig}}}}
	rep := messageEvent(t, f.bob, env{seq: "3", prev: "2", conv: f.conv}, "1000", f.key, reply)
	raw := [][]byte{encode(t, kce), encode(t, orig), encode(t, rep)}
	for _, o := range []*Options{{Workers: 1}, {Workers: 4}} {
		var last *event.Event
		for ev, err := range DecryptBatch(context.Background(), f.bobKeys, FromBytes(raw), o) {
			if err != nil || ev.Err != nil {
				t.Fatal(err, ev.Err)
			}
			last = ev
		}
		if v := last.Message.Text.ReplyPreview.Validation; v.Status != event.PreviewValid {
			t.Fatalf("preview: %v %v", v.Status, v.Reason)
		}
	}
	// Alone, the same reply cannot authenticate its source.
	ev := Decrypt(f.bobKeys, raw[2], nil)
	if v := ev.Message.Text.ReplyPreview.Validation; !errors.Is(v.Reason, ErrPreviewDecrypt) {
		t.Fatalf("alone: %v %v", v.Status, v.Reason)
	}
}

// TestLearntKeysOpenInParallel: a message under a key a finished key change
// taught the batch is decrypted by the worker that verifies it (prepare),
// not left to the sequential stage; an unverified batch key is never
// published; published keys are copies, wiped when the batch ends.
func TestLearntKeysOpenInParallel(t *testing.T) {
	f := newFixture(t)
	key := newCKey(t)
	raw := encode(t, messageEvent(t, f.alice, env{seq: "2", conv: f.conv}, "1000", key, textHolder("hi")))
	keys := keysFor(f.bob, f.alice) // no conversation key held

	w := prepare(keys, raw, nil, nil)
	if !w.opened || w.ev.Message != nil {
		t.Fatalf("no key at hand: opened=%v message=%v", w.opened, w.ev.Message)
	}
	var l learntKeys
	ov := overlay{}
	ov.put(f.conv, "1000", key, false) // unverified: not published
	l.publish(ov)
	if w := prepare(keys, raw, nil, &l); !w.opened || w.ev.Message != nil {
		t.Fatal("opened with an unverified batch key")
	}
	ov.put(f.conv, "1000", key, true)
	l.publish(ov)
	w = prepare(keys, raw, nil, &l)
	if w.opened || !w.ev.Verified || w.ev.Text() != "hi" {
		t.Fatalf("published key: opened=%v verified=%v text=%q err=%v", w.opened, w.ev.Verified, w.ev.Text(), w.ev.Err)
	}
	finish(w, keys, ov) // the sequential stage leaves it as it is
	if w.ev.Err != nil || w.ev.Text() != "hi" {
		t.Fatalf("after finish: %v %q", w.ev.Err, w.ev.Text())
	}
	pub := l.key(f.conv, "1000")
	if pub == nil || pub == key || !pub.Equal(key) {
		t.Fatal("published key is not a copy of the batch key")
	}
	l.zero()
	if l.key(f.conv, "1000") != nil || pub.Equal(key) {
		t.Fatal("published keys not wiped")
	}
}

// TestLearntKeysCopiedOnce: publishing after each key change keeps the
// copy of a key already published, byte for byte; a different key under
// the same version gets a copy of its own.
func TestLearntKeysCopiedOnce(t *testing.T) {
	f := newFixture(t)
	key, other := newCKey(t), newCKey(t)
	var l learntKeys
	defer l.zero()
	ov := overlay{}
	ov.put(f.conv, "1000", key, true)
	for range 5 {
		l.publish(ov)
	}
	if len(l.copies) != 1 || !l.key(f.conv, "1000").Equal(key) {
		t.Fatalf("%d copies after five publishes of one key", len(l.copies))
	}
	ov.put(f.conv, "1000", other, true)
	l.publish(ov)
	if len(l.copies) != 2 || !l.key(f.conv, "1000").Equal(other) {
		t.Fatalf("%d copies; the changed key is not the one published", len(l.copies))
	}
}
