package bench

import (
	"context"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// BenchmarkSyncBbolt1k is the e2e sync's work on this side of the wire:
// Engine.Sync of 1,000 messages (10 pages) from the stub into a fresh
// sealed bbolt store, streaming the events to a callback as the e2e child
// does (no HTTP, no emulator). BenchmarkDecryptPipeline1k is the bare
// pipeline over the same events. Both report the process CPU time per
// event (cpu-us/event), which a busy machine disturbs less than their
// wall times: run together, their difference is the cost of storing.
func BenchmarkSyncBbolt1k(b *testing.B) {
	const n = 1000
	fx := recordedConv(b, n)
	r, err := newSyncRig(context.Background(), fx.page, fx.alice, fx.aliceKeys)
	if err != nil {
		b.Fatal(err)
	}
	ctx, dir := context.Background(), b.TempDir()
	key := [32]byte{1}
	b.ReportAllocs()
	var cpu time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		db, err := boltstore.Open(filepath.Join(dir, strconv.Itoa(i)+".db"), keystore.WithKey(key))
		if err != nil {
			b.Fatal(err)
		}
		if err := session.ImportBackup(ctx, db, r.id, r.backup, r.version); err != nil {
			b.Fatal(err)
		}
		e, err := session.Open(ctx, db, r.stub, session.WithWorkers(runtime.GOMAXPROCS(0)))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0, msgs := cpuTime(), 0
		res, err := e.Sync(ctx, r.peer, func(ev *event.Event) error {
			if ev.Message != nil && ev.Verified && ev.Err == nil {
				msgs++
			}
			return nil
		})
		cpu += cpuTime() - c0
		if err != nil || msgs != n || res.Failed != 0 {
			b.Fatalf("sync: %v, %d verified messages of %d", err, msgs, n)
		}
		b.StopTimer()
		e.Close()
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(n*b.N), "cpu-us/event")
}

// BenchmarkDecryptPipeline1k is the bare receive pipeline over the events
// BenchmarkSyncBbolt1k syncs (see there).
func BenchmarkDecryptPipeline1k(b *testing.B) {
	fx := recordedConv(b, 1000)
	keys, err := pipelineKeys(fx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		c0 := cpuTime()
		n, err := decryptAll(keys, inbound.FromBytes(fx.hist.events), 0)
		cpu += cpuTime() - c0
		if err != nil || n != len(fx.hist.events) {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(len(fx.hist.events)*b.N), "cpu-us/event")
}
