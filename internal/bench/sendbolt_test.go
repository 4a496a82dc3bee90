package bench

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/session"
)

// BenchmarkSendText1KiBBbolt is BenchmarkSendText1KiB with the account in
// a sealed bbolt store, as an application keeps it: the outbox record and
// the recorded echo are sealed and committed (each commit flushed to
// disk). It reports the process CPU time per send (cpu-us/send), which the
// flushes' waits do not inflate.
func BenchmarkSendText1KiBBbolt(b *testing.B) {
	ctx := context.Background()
	const self, peer = "1001", "1002"
	db, err := boltstore.Open(filepath.Join(b.TempDir(), "send.db"), keystore.WithKey([32]byte{1}))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := session.CreateAccount(ctx, db, self, nil); err != nil {
		b.Fatal(err)
	}
	stub := newStub(self)
	e, err := session.Open(ctx, db, stub)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Register(ctx); err != nil {
		b.Fatal(err)
	}
	keys, err := memberKeys(ctx, []string{peer})
	if err != nil {
		b.Fatal(err)
	}
	stub.addKeys(keys...)
	if _, err := e.EnsureConversationKey(ctx, peer); err != nil {
		b.Fatal(err)
	}
	r := &sendRig{ctx: ctx, e: e, stub: stub, peer: peer, keys: keys}
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
