package inbound

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

var (
	benchOnce    sync.Once
	benchFix     *fixture
	benchHistory [][]byte
)

// benchData is a 10,000-event history: 10 key changes, 999 messages each.
func benchData(b *testing.B) (*fixture, [][]byte) {
	benchOnce.Do(func() {
		t := &testing.T{}
		benchFix = newFixture(t)
		benchHistory = history(b, benchFix, 10, 999)
	})
	return benchFix, benchHistory
}

func runBatch(b *testing.B, raw [][]byte, workers int) {
	f, _ := benchData(b)
	var bytes int64
	for _, r := range raw {
		bytes += int64(len(r))
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		keys := keysFor(f.bob, f.alice)
		n := 0
		for ev, err := range DecryptBatch(context.Background(), keys, FromBytes(raw), &Options{Workers: workers}) {
			if err != nil || ev.Err != nil {
				b.Fatal(err, ev.Err)
			}
			n++
		}
		if n != len(raw) {
			b.Fatal(n)
		}
	}
	b.ReportMetric(float64(len(raw))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func benchWorkers() []int {
	if n := runtime.GOMAXPROCS(0); n > 1 {
		return []int{1, n}
	}
	return []int{1}
}

// BenchmarkDecryptBatch100 decrypts 100 events (one key change, 99
// messages).
func BenchmarkDecryptBatch100(b *testing.B) {
	_, h := benchData(b)
	for _, w := range benchWorkers() {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) { runBatch(b, h[:100], w) })
	}
}

// BenchmarkDecryptHistory10k decrypts a 10,000-event history.
func BenchmarkDecryptHistory10k(b *testing.B) {
	_, h := benchData(b)
	for _, w := range benchWorkers() {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) { runBatch(b, h, w) })
	}
}

// BenchmarkDecryptSingle is one message through Decrypt.
func BenchmarkDecryptSingle(b *testing.B) {
	f, h := benchData(b)
	keys := keysFor(f.bob, f.alice)
	kc := Decrypt(keys, h[0], nil)
	keys.AddConversationKey(f.conv, kc.KeyChange.Version, kc.KeyChange.Key)
	b.ReportAllocs()
	for b.Loop() {
		if ev := Decrypt(keys, h[1], nil); ev.Err != nil {
			b.Fatal(ev.Err)
		}
	}
}
