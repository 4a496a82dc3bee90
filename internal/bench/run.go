package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/session/inbound"
)

// SDK modes for Config.SDK.
const (
	SDKAuto    = "auto"    // time the SDK when node and interop/node_modules are present
	SDKOff     = "off"     // never run node
	SDKRequire = "require" // fail when the SDK cannot be run
)

// Config selects what Run measures.
type Config struct {
	// Quick shrinks every size (page 20, history 200, key changes 2/5/10,
	// streams 1 MiB, end-to-end 50 messages) and the benchmark time, for
	// smoke tests.
	Quick bool
	// SDK is SDKAuto, SDKOff or SDKRequire ("" means SDKAuto).
	SDK string
	// Root is the module root holding interop/ ("" finds it from the
	// working directory).
	Root string
	// BenchTime is the time of each testing.Benchmark run (0 means 400ms,
	// or 20ms when Quick); each operation takes the best of three runs (one
	// when Quick).
	BenchTime time.Duration
	// Log receives progress lines (nil discards them).
	Log io.Writer
}

// Sizes are the workload sizes of one run.
type Sizes struct {
	Page, History, RSSSmall, E2E int
	KeyChange                    []int
	Stream                       int
}

func sizesFor(quick bool) Sizes {
	if quick {
		return Sizes{Page: 20, History: 200, RSSSmall: 50, E2E: 50, KeyChange: []int{2, 5, 10}, Stream: 1 << 20}
	}
	return Sizes{Page: 100, History: 10000, RSSSmall: 1000, E2E: 10000, KeyChange: []int{2, 50, 500}, Stream: 64 << 20}
}

// Row is one line of the table. Times are nanoseconds per operation;
// zero means not measured.
type Row struct {
	Name   string
	Procs  int     // GOMAXPROCS (and DecryptBatch workers) used for Ours
	Ours   float64 // CPU ns/op on one core; wall ns/op for multi-core rows
	Wall   float64 // wall ns/op
	CPU    float64 // process CPU ns/op (decrypt rows; 0 = unknown)
	Allocs int64
	Floor  float64
	// FloorTarget is the largest acceptable Ours/Floor (0 = no target).
	FloorTarget float64
	SDKOp       string
	SDK         float64
	SDKNote     string
	RSSKiB      int64 // peak RSS of a child doing this operation (0 = none)
	Note        string
}

// Target is one reported (not asserted) performance goal.
type Target struct {
	Name string
	Met  bool
	// Skipped targets could not be evaluated (e.g. SDK not run).
	Skipped bool
	Detail  string
}

// Report is the outcome of Run.
type Report struct {
	Cores   int
	Sizes   Sizes
	SDK     string // SDK and node versions, or why the SDK was not run
	Rows    []Row
	Targets []Target
}

// errSDK reports that the SDK was required but could not be run.
var errSDK = errors.New("bench: official SDK unavailable")

// Run measures every operation and evaluates the targets.
func Run(cfg Config) (*Report, error) {
	logw := cfg.Log
	if logw == nil {
		logw = io.Discard
	}
	sz := sizesFor(cfg.Quick)
	bt, rounds := cfg.BenchTime, 3
	if cfg.Quick {
		rounds = 1
	}
	if bt == 0 {
		bt = 400 * time.Millisecond
		if cfg.Quick {
			bt = 20 * time.Millisecond
		}
	}
	testing.Init()
	if err := flag.Set("test.benchtime", bt.String()); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	root := cfg.Root
	if root == "" {
		var err error
		if root, err = findRoot(); err != nil {
			return nil, err
		}
	}
	if cfg.SDK == SDKRequire {
		if _, err := sdkAvailable(root); err != nil {
			return nil, err
		}
	}
	cores := runtime.NumCPU()
	rep := &Report{Cores: cores, Sizes: sz}
	m := &measurer{log: logw, rounds: rounds}

	w, err := newWorld()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "xchat-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(tmp)

	// Fixtures.
	text := sendText1KiB()
	page, err := w.history(sz.Page)
	if err != nil {
		return nil, err
	}
	hist, err := w.history(sz.History)
	if err != nil {
		return nil, err
	}
	maxKC := 0
	for _, n := range sz.KeyChange {
		maxKC = max(maxKC, n)
	}
	recips, err := w.recipients(maxKC)
	if err != nil {
		return nil, err
	}
	streamKey := w.ckey[:]
	streamPlain := randomBytes(sz.Stream)
	streamCT, err := streamEncrypt(streamKey, streamPlain)
	if err != nil {
		return nil, err
	}
	fl, err := m.floors(w, text)
	if err != nil {
		return nil, err
	}

	// Send.
	r := m.op(1, func() error { _, err := w.sendText(text); return err })
	rep.Rows = append(rep.Rows, Row{Name: "send text 1 KiB", Procs: 1, Ours: r.ns, Wall: r.wall, Allocs: r.allocs,
		Floor: fl.sign + fl.seal, FloorTarget: 1.25, SDKOp: "send_text_1k"})

	// Decrypt a page and a history.
	keys := w.receiverKeys(false)
	decRow := func(name, sdkOp string, evs [][]byte, procs int) Row {
		n := len(evs) - 1
		r := m.op(procs, func() error {
			got, err := decryptAll(keys, inbound.FromBytes(evs), procs)
			if err == nil && got != len(evs) {
				err = fmt.Errorf("bench: decrypted %d of %d events", got, len(evs))
			}
			return err
		})
		per := fl.verify + fl.open
		if procs > 1 {
			per = fl.verifyOpenPar
		}
		floor := float64(n)*per + fl.verify + fl.unwrap
		row := Row{Name: name, Procs: procs, Ours: r.ns, Wall: r.wall, CPU: r.cpu, Allocs: r.allocs, Floor: floor, SDKOp: sdkOp}
		if procs == 1 {
			row.FloorTarget = 1.25
		}
		return row
	}
	rep.Rows = append(rep.Rows, decRow(fmt.Sprintf("decrypt+verify page of %d", sz.Page), "decrypt_page", page, 1))
	histName := fmt.Sprintf("decrypt+verify history %s", count(sz.History))
	rep.Rows = append(rep.Rows, decRow(histName+", 1 core", "decrypt_history", hist, 1))
	if cores > 1 {
		rep.Rows = append(rep.Rows, decRow(fmt.Sprintf("%s, %d cores", histName, cores), "decrypt_history", hist, cores))
	}

	// Key changes.
	for _, n := range sz.KeyChange {
		cid := convID
		if n > 2 {
			cid = groupID
		}
		rs := recips[:n]
		r := m.op(1, func() error { _, err := w.prepareKeyChange(cid, rs); return err })
		rep.Rows = append(rep.Rows, Row{Name: fmt.Sprintf("prepare key change, %d participants", n), Procs: 1, Ours: r.ns, Wall: r.wall,
			Allocs: r.allocs, Floor: float64(n)*fl.wrap + fl.signKC, FloorTarget: 1.25, SDKOp: fmt.Sprintf("keychange_%d", n)})
	}

	// Streams.
	sf, err := m.streamFloors(streamKey, sz.Stream)
	if err != nil {
		return nil, err
	}
	oneShot := fmt.Sprintf("floor: 1 KiB frames; one-shot AEAD over the buffer %.0f ns", sf.oneShot)
	r = m.op(1, func() error { _, err := streamEncrypt(streamKey, streamPlain); return err })
	rep.Rows = append(rep.Rows, Row{Name: "secretstream encrypt " + mib(sz.Stream), Procs: 1, Ours: r.ns, Wall: r.wall, Allocs: r.allocs,
		Floor: sf.seal, FloorTarget: 1.25, SDKOp: "stream_encrypt", Note: oneShot})
	r = m.op(1, func() error { _, err := streamDecrypt(streamKey, streamCT); return err })
	rep.Rows = append(rep.Rows, Row{Name: "secretstream decrypt " + mib(sz.Stream), Procs: 1, Ours: r.ns, Wall: r.wall, Allocs: r.allocs,
		Floor: sf.open, FloorTarget: 1.25, SDKOp: "stream_decrypt"})

	// Peak RSS of the history decrypt, small and large, in children.
	var rssSmall, rssLarge *childResult
	for _, n := range []int{sz.RSSSmall, sz.History} {
		file := filepath.Join(tmp, fmt.Sprintf("history-%d.bin", n))
		if err := writeHistoryFile(file, w, n); err != nil {
			return nil, err
		}
		fmt.Fprintf(logw, "child: history %d (peak RSS)\n", n)
		res, err := runChild(childSpec{Kind: "history", File: file, Workers: cores})
		if err != nil {
			return nil, err
		}
		if n == sz.RSSSmall {
			rssSmall = res
		} else {
			rssLarge = res
		}
	}
	rep.Rows = append(rep.Rows, Row{Name: fmt.Sprintf("history %s streamed (child, %d cores)", count(sz.RSSSmall), cores), Procs: cores,
		Ours: float64(rssSmall.Ns), Wall: float64(rssSmall.Ns), Allocs: int64(rssSmall.Allocs), RSSKiB: rssSmall.PeakRSS,
		Note: fmt.Sprintf("%.0f events/s", rssSmall.EventsPS)})
	rep.Rows = append(rep.Rows, Row{Name: fmt.Sprintf("history %s streamed (child, %d cores)", count(sz.History), cores), Procs: cores,
		Ours: float64(rssLarge.Ns), Wall: float64(rssLarge.Ns), Allocs: int64(rssLarge.Allocs), RSSKiB: rssLarge.PeakRSS,
		Note: fmt.Sprintf("%.0f events/s", rssLarge.EventsPS)})

	// End to end.
	fmt.Fprintf(logw, "child: end-to-end sync of %d messages\n", sz.E2E)
	e2e, err := runChild(childSpec{Kind: "e2e", N: sz.E2E, Dir: tmp})
	if err != nil {
		return nil, err
	}
	rep.Rows = append(rep.Rows, Row{Name: fmt.Sprintf("e2e sync %s events (emulator, loopback, bbolt)", count(sz.E2E)), Procs: cores,
		Ours: float64(e2e.Ns), Wall: float64(e2e.Ns), Allocs: int64(e2e.Allocs), RSSKiB: e2e.PeakRSS,
		Note: fmt.Sprintf("%.0f events/s; seeding took %v", e2e.EventsPS, time.Duration(e2e.SeedNs).Round(time.Millisecond))})

	// Replicas of one account on bbolt and PostgreSQL (replicas.go).
	replicaRows, err := runReplicas(cfg.Quick, tmp, logw)
	if err != nil {
		return nil, err
	}
	rep.Rows = append(rep.Rows, replicaRows...)

	// Send-to-display latency, stream vs polling (realtime.go).
	lrows, err := latencyRows(cfg.Quick, logw)
	if err != nil {
		return nil, err
	}
	rep.Rows = append(rep.Rows, lrows...)

	// The official SDK.
	sdk, err := runSDK(cfg.SDK, root, tmp, logw, w, text, page, hist, recips, sz)
	if err != nil {
		return nil, err
	}
	rep.SDK = sdk.version
	for i := range rep.Rows {
		row := &rep.Rows[i]
		if row.SDKOp == "" {
			continue
		}
		if res, ok := sdk.results[row.SDKOp]; ok {
			if res.Error != "" {
				row.SDKNote = "error: " + res.Error
			} else {
				row.SDK, row.SDKNote = res.NsPerOp, res.Note
				if row.Procs == 1 && res.CPUNsPerOp > 0 {
					row.SDK = res.CPUNsPerOp
				}
			}
		}
	}
	rep.Targets = evaluate(rep, rssSmall, rssLarge, (fl.verify+fl.open)/max(fl.verifyOpenPar, 1))
	return rep, nil
}

// groupID is the group conversation id used for key changes of more than
// two participants.
const groupID = "g1795000000000000123"

// sendText1KiB returns 1024 bytes of ordinary text.
func sendText1KiB() string {
	const s = "The quick brown fox jumps over the lazy dog. "
	return strings.Repeat(s, 1024/len(s)+1)[:1024]
}

func count(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func mib(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// findRoot walks up from the working directory to the directory holding
// go.mod and interop/.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bench: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// measurer runs testing.Benchmark with a fixed GOMAXPROCS.
type measurer struct {
	log    io.Writer
	rounds int
	err    error
}

type measured struct {
	ns, wall float64
	cpu      float64 // process CPU ns/op, whatever procs was (0 = unknown)
	allocs   int64
}

// op measures fn at procs GOMAXPROCS with testing.Benchmark, best of
// m.rounds runs. ns is the process CPU time (user + system, so garbage
// collection counts) per call when procs is 1, which stays meaningful when
// other work competes for the machine; wall is the wall time per call.
// An error from fn is kept in m.err.
func (m *measurer) op(procs int, fn func() error) measured {
	return m.run(procs, false, func(b *testing.B, ferr *error) {
		for i := 0; i < b.N; i++ {
			if err := fn(); err != nil {
				*ferr = err
				return
			}
		}
	})
}

// opParallel is op with fn called from procs goroutines at once
// (b.RunParallel); ns is the wall time per call of the whole machine.
func (m *measurer) opParallel(procs int, fn func() error) measured {
	return m.run(procs, true, func(b *testing.B, ferr *error) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := fn(); err != nil {
					*ferr = err
					return
				}
			}
		})
	})
}

func (m *measurer) run(procs int, parallel bool, body func(*testing.B, *error)) measured {
	prev := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(prev)
	best := measured{}
	for range max(m.rounds, 1) {
		runtime.GC()
		var (
			ferr error
			cpu  time.Duration
		)
		res := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			c0 := cpuTime()
			body(b, &ferr)
			cpu = cpuTime() - c0 // the last call is the one reported
		})
		if ferr != nil {
			if m.err == nil {
				m.err = ferr
			}
			return measured{}
		}
		if res.N == 0 {
			continue
		}
		wall := float64(res.T.Nanoseconds()) / float64(res.N)
		ns := wall
		if procs == 1 && !parallel && cpu > 0 {
			ns = float64(cpu.Nanoseconds()) / float64(res.N)
		}
		if best.ns == 0 || ns < best.ns {
			best = measured{ns: ns, wall: wall, cpu: float64(cpu.Nanoseconds()) / float64(res.N), allocs: res.AllocsPerOp()}
		}
	}
	return best
}

// floorTimes are the primitive costs, each on one core.
type floorTimes struct {
	sign, seal           float64 // 1 KiB message: ECDSA sign of its payload, secretbox seal
	verify, open         float64 // history message: ECDSA verify, secretbox open
	verifyOpenPar        float64 // verify + open on every core at once, per message
	unwrap, wrap, signKC float64
}

func (m *measurer) floors(w *world, text string) (*floorTimes, error) {
	var f floorTimes
	// A 1 KiB message's plaintext and signed payload.
	plain, contents, payload, err := w.sample(text)
	if err != nil {
		return nil, err
	}
	f.sign = m.op(1, func() error { _, err := crypto.Sign(w.alice.Signing, payload); return err }).ns
	f.seal = m.op(1, func() error { _, err := crypto.Seal(nil, w.ckey, plain); return err }).ns
	// A history message.
	_, contents, payload, err = w.sample(historyText(0))
	if err != nil {
		return nil, err
	}
	sig, err := crypto.Sign(w.alice.Signing, payload)
	if err != nil {
		return nil, err
	}
	pub := w.alice.Signing.PublicKey()
	f.verify = m.op(1, func() error { return crypto.Verify(pub, payload, sig) }).ns
	f.open = m.op(1, func() error { _, err := crypto.Open(w.ckey, contents); return err }).ns
	if cores := runtime.NumCPU(); cores > 1 {
		f.verifyOpenPar = m.opParallel(cores, func() error {
			if err := crypto.Verify(pub, payload, sig); err != nil {
				return err
			}
			_, err := crypto.Open(w.ckey, contents)
			return err
		}).ns
	}
	wrapped, err := crypto.WrapConversationKey(nil, w.bob.Identity.PublicKey(), w.ckey)
	if err != nil {
		return nil, err
	}
	f.unwrap = m.op(1, func() error { _, err := crypto.UnwrapConversationKey(w.bob.Identity, wrapped); return err }).ns
	bobPub := w.bob.Identity.PublicKey()
	f.wrap = m.op(1, func() error { _, err := crypto.WrapConversationKey(nil, bobPub, w.ckey); return err }).ns
	kcPayload, err := crypto.KeyChangePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: messageID(0), SenderID: aliceID, ConversationID: groupID},
		crypto.KeyChange{ConversationKeyVersion: ckeyVersion, Key: w.ckey})
	if err != nil {
		return nil, err
	}
	kcBytes, err := kcPayload.Bytes()
	if err != nil {
		return nil, err
	}
	f.signKC = m.op(1, func() error { _, err := crypto.Sign(w.alice.Signing, kcBytes); return err }).ns
	if m.err != nil {
		return nil, m.err
	}
	return &f, nil
}
