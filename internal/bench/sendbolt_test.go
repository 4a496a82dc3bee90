package bench

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkSendText1KiBBbolt is BenchmarkSendText1KiB with the account in
// a sealed bbolt store, as an application keeps it: the outbox record and
// the recorded echo are sealed and committed (each commit flushed to
// disk). It reports the process CPU time per send (cpu-us/send), which the
// flushes' waits do not inflate.
func BenchmarkSendText1KiBBbolt(b *testing.B) {
	r, closeRig, err := newBoltSendRig(context.Background(), filepath.Join(b.TempDir(), "send.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer closeRig()
	text := sendText1KiB()
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		c0 := cpuTime()
		if err := r.send(text); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-us/send")
}
