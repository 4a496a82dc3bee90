package bench

import (
	"context"
	"io"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
)

// TestMain lets the test binary serve as a measurement child, as the
// xchat-bench binary does.
func TestMain(m *testing.M) {
	if IsChild() {
		os.Exit(ChildMain(os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// The Go benchmarks below time the same engine operations as the
// xchat-bench rows of the same name (see the package documentation).

func newSend(tb testing.TB) *sendRig {
	tb.Helper()
	r, err := newSendRig(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// BenchmarkSendText1KiB is Engine.Send of 1 KiB of text against the stub
// server (the echoed event verified and recorded), memory keystore. It
// reports the process CPU time per send (cpu-us/send, the collector's
// work included), which other processes on a shared machine inflate less
// than the wall time.
func BenchmarkSendText1KiB(b *testing.B) {
	r := newSend(b)
	text := sendText1KiB()
	b.ReportAllocs()
	c0 := cpuTime()
	for b.Loop() {
		if err := r.send(text); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/1e3/float64(b.N), "cpu-us/send")
}

func benchRotate(b *testing.B, n int) {
	ctx := context.Background()
	f, err := newRotateFixture(ctx, n)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		r, err := f.rig(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := r.rotate(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRotate2 is Engine.Rotate of a one-to-one conversation (keyed
// once before) against the stub server.
func BenchmarkRotate2(b *testing.B) { benchRotate(b, 2) }

// BenchmarkRotateGroup50 is Engine.Rotate of a 50-member group (created,
// so keyed once, before) against the stub server: the roster sync, the
// key checks, 50 wraps, the signature.
func BenchmarkRotateGroup50(b *testing.B) { benchRotate(b, 50) }

func benchMedia(b *testing.B, op string) {
	r, err := newMediaRig(newSend(b), randomBytes(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		switch op {
		case "download":
			_, err = r.download()
		case "downloadTo":
			err = r.downloadTo(io.Discard)
		default:
			err = r.upload()
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendMedia1MiB is Engine.Send of 1 MiB of media against the stub.
func BenchmarkSendMedia1MiB(b *testing.B) { benchMedia(b, "upload") }

// BenchmarkDownloadMedia1MiB is Engine.DownloadMedia of 1 MiB from the stub.
func BenchmarkDownloadMedia1MiB(b *testing.B) { benchMedia(b, "download") }

// BenchmarkDownloadMediaTo1MiB is Engine.DownloadMediaTo of 1 MiB from
// the stub into io.Discard.
func BenchmarkDownloadMediaTo1MiB(b *testing.B) { benchMedia(b, "downloadTo") }

// recordedConv seeds (once per process) a conversation of n messages on an
// emulator and records it.
var (
	recMu sync.Mutex
	recFx = map[int]*fixtures{}
)

func recordedConv(tb testing.TB, n int) *fixtures {
	tb.Helper()
	recMu.Lock()
	defer recMu.Unlock()
	if fx := recFx[n]; fx != nil {
		return fx
	}
	w, err := newWorld(context.Background(), io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	defer w.close()
	keys, err := w.publicKeys(w.alice)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := w.recorded(keystore.NewMemory(), n)
	if err != nil {
		tb.Fatal(err)
	}
	fx := &fixtures{alice: w.alice.id, aliceKeys: keys, page: c, hist: c}
	if fx.aliceSPKI, err = decodeSPKI(keys); err != nil {
		tb.Fatal(err)
	}
	recFx[n] = fx
	return fx
}

func benchSync(b *testing.B, n int) {
	fx := recordedConv(b, n)
	r, err := newSyncRig(context.Background(), fx.page, fx.alice, fx.aliceKeys)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		run, err := r.fresh(runtime.GOMAXPROCS(0))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSyncPage100 is Engine.Sync of a conversation of 100 messages
// (one page) from the stub into a fresh memory keystore.
func BenchmarkSyncPage100(b *testing.B) { benchSync(b, 100) }

// BenchmarkSyncHistory10k is Engine.Sync of 10,000 messages (100 pages)
// from the stub into a fresh memory keystore (run with -cpu 1,2 to see the
// scaling).
func BenchmarkSyncHistory10k(b *testing.B) { benchSync(b, 10000) }

// BenchmarkDecryptPipeline10k is the bare receive pipeline
// (inbound.DecryptBatch, GOMAXPROCS workers) over the same 10,000 events.
func BenchmarkDecryptPipeline10k(b *testing.B) {
	fx := recordedConv(b, 10000)
	keys, err := pipelineKeys(fx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if n, err := decryptAll(keys, inbound.FromBytes(fx.hist.events), 0); err != nil || n != len(fx.hist.events) {
			b.Fatal(n, err)
		}
	}
}
