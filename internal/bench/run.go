package bench

import (
	"context"
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
)

// SDK modes for Config.SDK.
const (
	SDKAuto    = "auto"    // time the SDK when node and interop/node_modules are present
	SDKOff     = "off"     // never run node
	SDKRequire = "require" // fail when the SDK cannot be run
)

// ShortEnv names the environment variable that, set to 1, leaves out the
// 100k-event rows as Config.Short does.
const ShortEnv = "XCHAT_BENCH_SHORT"

// Config selects what Run measures.
type Config struct {
	// Quick shrinks every size (page 20, history 200, key changes 2/5/10,
	// media 1 MiB, end-to-end 50 and 200 events) and the benchmark time,
	// for smoke tests.
	Quick bool
	// Short leaves out the 100k-event rows of a full run.
	Short bool
	// SDK is SDKAuto, SDKOff or SDKRequire ("" means SDKAuto).
	SDK string
	// Root is the module root holding interop/ ("" finds it from the
	// working directory).
	Root string
	// BenchTime is the time of each testing.Benchmark run (0 means 400ms,
	// or 20ms when Quick); each operation takes the best of three runs (one
	// when Quick).
	BenchTime time.Duration
	// ProfileDir, when set, receives CPU and allocation profiles
	// (e2e-<n>.cpu.pprof, e2e-<n>.allocs.pprof) of every end-to-end sync.
	ProfileDir string
	// Log receives progress lines (nil discards them).
	Log io.Writer
}

// Sizes are the workload sizes of one run.
type Sizes struct {
	Page, History int
	// E2E are the end-to-end sync lengths, ascending; History is one of
	// them.
	E2E       []int
	KeyChange []int
	Stream    int
}

func sizesFor(quick, short bool) Sizes {
	if quick {
		return Sizes{Page: 20, History: 200, E2E: []int{50, 200}, KeyChange: []int{2, 5, 10}, Stream: 1 << 20}
	}
	s := Sizes{Page: 100, History: 10000, E2E: []int{1000, 10000, 100000}, KeyChange: []int{2, 50, 500}, Stream: 64 << 20}
	if short {
		s.E2E = s.E2E[:2]
	}
	return s
}

// Row is one line of the table. Times are nanoseconds per operation;
// zero means not measured.
type Row struct {
	Name   string
	Procs  int     // GOMAXPROCS (and decrypt workers) used for Ours
	Ours   float64 // CPU ns/op on one core; wall ns/op for multi-core rows
	Wall   float64 // wall ns/op
	CPU    float64 // process CPU ns/op (0 = unknown)
	Allocs int64   // per op (per event on child rows)
	Bytes  int64   // allocated bytes per op (per event on child rows)
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
	ctx := context.Background()
	logw := cfg.Log
	if logw == nil {
		logw = io.Discard
	}
	short := cfg.Short || os.Getenv(ShortEnv) == "1"
	sz := sizesFor(cfg.Quick, short)
	m, err := newMeasurer(cfg, logw)
	if err != nil {
		return nil, err
	}
	root := cfg.Root
	if root == "" {
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
	tmp, err := os.MkdirTemp("", "xchat-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(tmp)

	text := sendText1KiB()
	fmt.Fprintln(logw, "floors")
	fl, err := m.floors(text)
	if err != nil {
		return nil, err
	}
	w, err := newWorld(ctx, logw)
	if err != nil {
		return nil, err
	}
	defer w.close()
	fx, err := buildFixtures(w, sz, tmp)
	if err != nil {
		return nil, err
	}
	sdkIn, err := engineRows(ctx, m, rep, fl, fx, text, tmp)
	if err != nil {
		return nil, err
	}
	e2e, err := childRows(rep, w, fx, cfg.ProfileDir, logw)
	if err != nil {
		return nil, err
	}
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
	sdk, err := runSDK(cfg.SDK, root, tmp, logw, sdkIn)
	if err != nil {
		return nil, err
	}
	rep.SDK = sdk.version
	sdk.fill(rep.Rows)
	rep.Targets = evaluate(rep, fl, e2e)
	return rep, nil
}

// newMeasurer sets the benchmark time and rounds of cfg.
func newMeasurer(cfg Config, logw io.Writer) (*measurer, error) {
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
	return &measurer{log: logw, rounds: rounds, benchtime: bt}, nil
}

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

func cores(n int) string {
	if n == 1 {
		return "1 core"
	}
	return fmt.Sprintf("%d cores", n)
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
