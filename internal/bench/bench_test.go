package bench

import (
	"os"
	"testing"

	"github.com/xchat-go/xchat/session/inbound"
)

// TestMain lets the test binary serve as a measurement child, as the
// xchat-bench binary does.
func TestMain(m *testing.M) {
	if IsChild() {
		os.Exit(ChildMain(os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func newTestWorld(tb testing.TB) *world {
	tb.Helper()
	w, err := newWorld()
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func BenchmarkSendText1KiB(b *testing.B) {
	w := newTestWorld(b)
	text := sendText1KiB()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.sendText(text); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptPage100(b *testing.B) {
	w := newTestWorld(b)
	evs, err := w.history(100)
	if err != nil {
		b.Fatal(err)
	}
	keys := w.receiverKeys(false)
	b.ReportAllocs()
	for b.Loop() {
		if n, err := decryptAll(keys, inbound.FromBytes(evs), 1); err != nil || n != len(evs) {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkKeyChange50(b *testing.B) {
	w := newTestWorld(b)
	rs, err := w.recipients(50)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.prepareKeyChange(groupID, rs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStreamEncrypt1MiB(b *testing.B) {
	w := newTestWorld(b)
	plain := randomBytes(1 << 20)
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := streamEncrypt(w.ckey[:], plain); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStreamDecrypt1MiB(b *testing.B) {
	w := newTestWorld(b)
	ct, err := streamEncrypt(w.ckey[:], randomBytes(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := streamDecrypt(w.ckey[:], ct); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecryptPage1000Parallel decrypts 1000 events with one worker
// per GOMAXPROCS (run with -cpu 1,2 to see the scaling).
func BenchmarkDecryptPage1000Parallel(b *testing.B) {
	w := newTestWorld(b)
	evs, err := w.history(1000)
	if err != nil {
		b.Fatal(err)
	}
	keys := w.receiverKeys(false)
	b.ReportAllocs()
	for b.Loop() {
		if n, err := decryptAll(keys, inbound.FromBytes(evs), 0); err != nil || n != len(evs) {
			b.Fatal(n, err)
		}
	}
}
