package bench

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/session/inbound"
)

// childEnv names the environment variable that turns a re-executed bench
// binary into a measurement child. Its value is a JSON childSpec.
const childEnv = "XCHAT_BENCH_CHILD"

// childSpec tells a child what to measure.
type childSpec struct {
	// Kind is "history" (stream File through DecryptBatch) or "e2e"
	// (seed an in-process emulator with N messages and sync them).
	Kind    string `json:"kind"`
	File    string `json:"file,omitempty"`
	Workers int    `json:"workers,omitempty"`
	N       int    `json:"n,omitempty"`
	Dir     string `json:"dir,omitempty"`
}

// childResult is what a child prints on stdout as one JSON object.
type childResult struct {
	Events   int     `json:"events"`
	Ns       int64   `json:"ns"`
	SeedNs   int64   `json:"seedNs,omitempty"`
	Allocs   uint64  `json:"allocs"`
	PeakRSS  int64   `json:"peakRssKiB"` // VmHWM, -1 when unknown
	EventsPS float64 `json:"eventsPerSec"`
	Failed   int     `json:"failed,omitempty"`
}

// IsChild reports whether this process was started as a measurement child.
func IsChild() bool { return os.Getenv(childEnv) != "" }

// ChildMain runs the measurement named by the environment, prints its
// result as JSON on stdout and returns the exit code.
func ChildMain(stdout, stderr io.Writer) int {
	var spec childSpec
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &spec); err != nil {
		fmt.Fprintf(stderr, "bench child: bad spec: %v\n", err)
		return 2
	}
	var (
		res *childResult
		err error
	)
	switch spec.Kind {
	case "history":
		res, err = childHistory(spec)
	case "e2e":
		res, err = runE2E(spec.N, spec.Dir, stderr)
	default:
		err = fmt.Errorf("bench child: unknown kind %q", spec.Kind)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench child: %v\n", err)
		return 1
	}
	res.PeakRSS = peakRSS()
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

// runChild re-executes this binary as a child and decodes its result.
func runChild(spec childSpec) (*childResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	js, _ := json.Marshal(spec)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench: child %s: %w: %s", spec.Kind, err, strings.TrimSpace(errb.String()))
	}
	var res childResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("bench: child %s output: %w", spec.Kind, err)
	}
	return &res, nil
}

// peakRSS returns VmHWM from /proc/self/status in KiB, or -1.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if v, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return v
				}
			}
		}
	}
	return -1
}

// The history file: a header (bob's 64-byte backup, alice's 91-byte
// signing SPKI), then events, each a 4-byte big-endian length and the bytes.

func writeHistoryFile(path string, w *world, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	bw := bufio.NewWriter(f)
	bw.Write(w.bob.Backup())
	bw.Write(w.alice.Signing.PublicKey().SPKI())
	put := func(ev []byte) {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(ev)))
		bw.Write(l[:])
		bw.Write(ev)
	}
	kc, err := w.keyChangeEvent(1000)
	if err != nil {
		f.Close()
		return err
	}
	put(kc)
	for i := range n {
		ev, err := w.messageEvent(int64(1001+i), i+1, historyText(i))
		if err != nil {
			f.Close()
			return err
		}
		put(ev)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("bench: %w", err)
	}
	return f.Close()
}

// readEvents streams the events of a history file.
func readEvents(r *bufio.Reader) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		for {
			var l [4]byte
			if _, err := io.ReadFull(r, l[:]); err != nil {
				if !errors.Is(err, io.EOF) {
					yield(nil, err)
				}
				return
			}
			ev := make([]byte, binary.BigEndian.Uint32(l[:]))
			if _, err := io.ReadFull(r, ev); err != nil {
				yield(nil, err)
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

func childHistory(spec childSpec) (*childResult, error) {
	f, err := os.Open(spec.File)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	backup := make([]byte, 64)
	spki := make([]byte, 91)
	if _, err := io.ReadFull(r, backup); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(r, spki); err != nil {
		return nil, err
	}
	bob, err := crypto.ParseBackup(backup)
	if err != nil {
		return nil, err
	}
	alicePub, err := crypto.ParsePublicKey(spki)
	if err != nil {
		return nil, err
	}
	keys := &inbound.StaticKeys{IdentityKey: bob.Identity, UserID: bobID, KeyVersion: bobVersion}
	keys.AddSigningKey(aliceID, aliceVersion, alicePub)
	runtime.GOMAXPROCS(max(spec.Workers, 1))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.Mallocs
	start := time.Now()
	n, err := decryptAll(keys, readEvents(r), spec.Workers)
	if err != nil {
		return nil, err
	}
	ns := time.Since(start).Nanoseconds()
	runtime.ReadMemStats(&ms)
	return &childResult{Events: n, Ns: ns, Allocs: (ms.Mallocs - before) / uint64(max(n, 1)),
		EventsPS: float64(n) / (float64(ns) / 1e9)}, nil
}
