package bench

import (
	"bufio"
	"bytes"
	"context"
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
	"github.com/xchat-go/xchat/internal/inbound"
)

// childEnv names the environment variable that turns a re-executed bench
// binary into a measurement child. Its value is a JSON childSpec.
const childEnv = "XCHAT_BENCH_CHILD"

// childSpec tells a child what to measure.
type childSpec struct {
	// Kind is "history" (stream File through inbound.DecryptBatch: the
	// streamed decrypt pipeline) or "e2e" (sync an account over loopback
	// HTTP into its bbolt store, see childE2E).
	Kind string `json:"kind"`

	// The reader (history: the file's receiver; e2e: the syncing account)
	// and the sender whose signing key the history file carries.
	UserID      string `json:"userId"`
	KeyVersion  string `json:"keyVersion,omitempty"`
	PeerID      string `json:"peerId"`
	PeerVersion string `json:"peerVersion,omitempty"`

	// history
	File    string `json:"file,omitempty"`
	Workers int    `json:"workers,omitempty"`

	// e2e
	URL        string `json:"url,omitempty"`
	Token      string `json:"token,omitempty"`
	DB         string `json:"db,omitempty"`
	DBKey      string `json:"dbKey,omitempty"` // hex
	N          int    `json:"n,omitempty"`     // messages the first sync must store
	CPUProfile string `json:"cpuProfile,omitempty"`
	MemProfile string `json:"memProfile,omitempty"`
}

// childResult is what a child prints on stdout as one JSON object.
type childResult struct {
	Events   int     `json:"events"`
	Ns       int64   `json:"ns"`
	Allocs   uint64  `json:"allocs"` // per event
	Bytes    uint64  `json:"bytes"`  // allocated per event
	PeakRSS  int64   `json:"peakRssKiB"`
	EventsPS float64 `json:"eventsPerSec"`
	CPUNs    int64   `json:"cpuNs,omitempty"`

	// e2e: opening the store and engine, a second sync with no new events,
	// and closing, re-opening and syncing again.
	OpenNs       int64 `json:"openNs,omitempty"`
	FetchNs      int64 `json:"fetchNs,omitempty"` // fetching the pages (HTTP, server, JSON)
	Pages        int   `json:"pages,omitempty"`
	UpdateNs     int64 `json:"updateNs,omitempty"` // the engine's Update transactions
	CommitNs     int64 `json:"commitNs,omitempty"` // of UpdateNs, after the engine's function: committing
	Updates      int   `json:"updates,omitempty"`
	ViewNs       int64 `json:"viewNs,omitempty"`
	PeakHeap     int64 `json:"peakHeapKiB,omitempty"` // largest HeapInuse seen
	PeakAnon     int64 `json:"peakAnonKiB,omitempty"` // largest RssAnon seen
	RSSFile      int64 `json:"rssFileKiB,omitempty"`  // after the run: file-backed pages (binary, mmap)
	ResyncNs     int64 `json:"resyncNs,omitempty"`
	ReopenNs     int64 `json:"reopenNs,omitempty"`
	ResyncEvents int   `json:"resyncEvents,omitempty"`
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
		res, err = childE2E(spec)
	default:
		err = fmt.Errorf("bench child: unknown kind %q", spec.Kind)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench child: %v\n", err)
		return 1
	}
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
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
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
func peakRSS() int64 { return procStatus("VmHWM") }

// procStatus returns a KiB figure of /proc/self/status, or -1.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
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

// The history file: a header (the reader's 64-byte backup, the sender's
// 91-byte signing SPKI), then events, each a 4-byte big-endian length and
// the bytes.

func writeHistoryFile(path string, backup, senderSPKI []byte, events [][]byte) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	bw := bufio.NewWriter(f)
	bw.Write(backup)
	bw.Write(senderSPKI)
	for _, ev := range events {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(ev)))
		bw.Write(l[:])
		bw.Write(ev)
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

// errUnverified reports a benchmark event that did not verify.
var errUnverified = errors.New("bench: event did not verify")

// decryptAll runs events through inbound.DecryptBatch with workers workers
// and checks that every event verified; it returns the number of events.
func decryptAll(keys inbound.Keys, events iter.Seq2[[]byte, error], workers int) (int, error) {
	n := 0
	for ev, err := range inbound.DecryptBatch(context.Background(), keys, events, &inbound.Options{Workers: workers}) {
		if err != nil {
			return n, err
		}
		if ev.Err != nil || !ev.Verified {
			return n, fmt.Errorf("%w: event %d: %v", errUnverified, n, ev.Err)
		}
		n++
	}
	return n, nil
}

// childHistory streams a history file through the decrypt pipeline.
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
	reader, err := crypto.ParseBackup(backup)
	if err != nil {
		return nil, err
	}
	senderPub, err := crypto.ParsePublicKey(spki)
	if err != nil {
		return nil, err
	}
	keys := &inbound.StaticKeys{IdentityKey: reader.Identity, UserID: spec.UserID, KeyVersion: spec.KeyVersion}
	keys.AddSigningKey(spec.PeerID, spec.PeerVersion, senderPub)
	runtime.GOMAXPROCS(max(spec.Workers, 1))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before, beforeB := ms.Mallocs, ms.TotalAlloc
	stopProfile, err := startCPUProfile(spec.CPUProfile)
	if err != nil {
		return nil, err
	}
	heap := sampleHeap()
	c0, start := cpuTime(), time.Now()
	n, err := decryptAll(keys, readEvents(r), spec.Workers)
	heap.stop()
	stopProfile()
	if err != nil {
		return nil, err
	}
	ns := time.Since(start).Nanoseconds()
	cpu := cpuTime() - c0
	runtime.ReadMemStats(&ms)
	peakHeap, peakAnon := heap.peaks()
	per := uint64(max(n, 1))
	return &childResult{Events: n, Ns: ns, CPUNs: cpu.Nanoseconds(), Allocs: (ms.Mallocs - before) / per,
		Bytes: (ms.TotalAlloc - beforeB) / per, PeakRSS: peakRSS(), EventsPS: float64(n) / (float64(ns) / 1e9), PeakHeap: peakHeap,
		PeakAnon: peakAnon, RSSFile: procStatus("RssFile")}, nil
}
