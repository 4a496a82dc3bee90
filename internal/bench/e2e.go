package bench

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// childE2E is the end-to-end sync child: the account spec.UserID, whose
// keys are in the bbolt store spec.DB and who has never synced, syncs its
// conversation with spec.PeerID from the emulator at spec.URL (served by
// the parent over loopback HTTP) through api.Client and session.Engine.
// The sync gives Sync a function, which streams events to its callback (here
// counting them) instead of collecting them, as an application syncing a
// long history would. Peak RSS is read right after that first sync. Then
// it syncs again (no new events), closes, re-opens store and engine and
// syncs once more, timing each.
func childE2E(spec childSpec) (*childResult, error) {
	ctx := context.Background()
	var dbKey [32]byte
	if k, err := hex.DecodeString(spec.DBKey); err != nil || len(k) != 32 {
		return nil, fmt.Errorf("bench: bad store key")
	} else {
		copy(dbKey[:], k)
	}
	c, err := api.New(api.WithBaseURL(spec.URL), api.WithBearerToken(spec.Token))
	if err != nil {
		return nil, err
	}
	srv := &timedServer{Server: session.NewAPIServer(c)}
	var store *timedStore
	open := func() (*boltstore.DB, *session.Engine, error) {
		db, err := boltstore.Open(spec.DB, keystore.WithKey(dbKey))
		if err != nil {
			return nil, nil, err
		}
		store = &timedStore{DB: db}
		e, err := session.Open(ctx, store, srv)
		if err != nil {
			db.Close()
			return nil, nil, err
		}
		return db, e, nil
	}
	sync := func(e *session.Engine) (msgs int, res *session.SyncResult, err error) {
		res, err = e.Sync(ctx, spec.PeerID, func(ev *event.Event) error {
			if ev.Message != nil && ev.Verified && ev.Err == nil {
				msgs++
			}
			return nil
		})

		return msgs, res, err
	}

	t0 := time.Now()
	db, e, err := open()
	if err != nil {
		return nil, err
	}
	openNs := time.Since(t0).Nanoseconds()
	stopProfile, err := startCPUProfile(spec.CPUProfile)
	if err != nil {
		return nil, err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before, beforeB := ms.Mallocs, ms.TotalAlloc
	heap := sampleHeap()
	c0, start := cpuTime(), time.Now()
	msgs, res, err := sync(e)
	ns := time.Since(start).Nanoseconds()
	cpu := cpuTime() - c0
	heap.stop()
	stopProfile()
	if err != nil {
		return nil, fmt.Errorf("bench: sync: %w", err)
	}
	runtime.ReadMemStats(&ms)
	peak, file := peakRSS(), procStatus("RssFile")
	peakHeap, peakAnon := heap.peaks()
	if err := writeHeapProfile(spec.MemProfile); err != nil {
		return nil, err
	}
	if msgs != spec.N || res.Failed != 0 {
		return nil, fmt.Errorf("bench: sync stored %d verified messages (want %d), %d failed", msgs, spec.N, res.Failed)
	}
	per := uint64(max(res.Events, 1))
	out := &childResult{Events: res.Events, Ns: ns, CPUNs: cpu.Nanoseconds(), Allocs: (ms.Mallocs - before) / per,
		Bytes: (ms.TotalAlloc - beforeB) / per, PeakRSS: peak, EventsPS: float64(res.Events) / (float64(ns) / 1e9), OpenNs: openNs,
		FetchNs: srv.d.Nanoseconds(), Pages: srv.n, UpdateNs: store.update.Nanoseconds(), CommitNs: store.commit.Nanoseconds(), Updates: store.updates,
		ViewNs: store.view.Nanoseconds(), PeakHeap: peakHeap, PeakAnon: peakAnon, RSSFile: file}

	start = time.Now()
	again, _, err := sync(e)
	out.ResyncNs = time.Since(start).Nanoseconds()
	if err != nil {
		return nil, fmt.Errorf("bench: re-sync: %w", err)
	}
	out.ResyncEvents = again
	e.Close()
	if err := db.Close(); err != nil {
		return nil, err
	}

	start = time.Now()
	db, e, err = open()
	if err != nil {
		return nil, err
	}
	again, _, err = sync(e)
	out.ReopenNs = time.Since(start).Nanoseconds()
	e.Close()
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("bench: sync after re-open: %w", err)
	}
	out.ResyncEvents += again
	return out, nil
}

// startCPUProfile writes a CPU profile to path until the returned function
// is called ("" profiles nothing).
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeHeapProfile writes a heap profile to path ("" writes nothing).
func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

// timedServer sums the wall time of the event page fetches (HTTP, the
// server's work, JSON decoding).
type timedServer struct {
	session.Server
	d time.Duration
	n int
}

// GetConversationEvents implements session.Server.
func (t *timedServer) GetConversationEvents(ctx context.Context, id string, max int, token string) (*api.GetChatConversationEventsResponse, error) {
	start := time.Now()
	r, err := t.Server.GetConversationEvents(ctx, id, max, token)
	t.d += time.Since(start)
	t.n++
	return r, err
}

// timedStore sums the wall time of the transactions the engine runs with
// Update, SetValue (writes: commits and their fsyncs included), View and
// Value (reads); the store's other single-call methods are not counted.
// Of Update's time, commit is what follows the engine's function: the
// store finishing the transaction and committing it (bbolt writes the
// pages and flushes them to disk).
type timedStore struct {
	*boltstore.DB
	update, commit, view time.Duration
	updates              int
}

// Update implements keystore.Store.
func (t *timedStore) Update(ctx context.Context, fn func(keystore.Tx) error) error {
	var end time.Time
	start := time.Now()
	err := t.DB.Update(ctx, func(tx keystore.Tx) error {
		err := fn(tx)
		end = time.Now()
		return err
	})
	t.update += time.Since(start)
	if !end.IsZero() {
		t.commit += time.Since(end)
	}
	t.updates++
	return err
}

// SetValue implements keystore.Store (a write transaction of its own).
func (t *timedStore) SetValue(ctx context.Context, name string, value []byte) error {
	start := time.Now()
	err := t.DB.SetValue(ctx, name, value)
	t.update += time.Since(start)
	t.updates++
	return err
}

// Value implements keystore.Store (a read transaction of its own).
func (t *timedStore) Value(ctx context.Context, name string) ([]byte, error) {
	start := time.Now()
	v, err := t.DB.Value(ctx, name)
	t.view += time.Since(start)
	return v, err
}

// View implements keystore.Store.
func (t *timedStore) View(ctx context.Context, fn func(keystore.Tx) error) error {
	start := time.Now()
	err := t.DB.View(ctx, fn)
	t.view += time.Since(start)
	return err
}

// heapSampler records, every 10 ms, the largest live heap (HeapInuse) and
// the largest anonymous RSS (RssAnon: VmHWM also counts file-backed pages,
// such as the keystore's mmap).
type heapSampler struct {
	done chan struct{}
	max  chan [2]int64
}

func sampleHeap() *heapSampler {
	h := &heapSampler{done: make(chan struct{}), max: make(chan [2]int64, 1)}
	go func() {
		var peak [2]int64
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak[0] = max(peak[0], int64(ms.HeapInuse>>10))
			peak[1] = max(peak[1], procStatus("RssAnon"))
			select {
			case <-h.done:
				h.max <- peak
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) stop() { close(h.done) }

// peaks returns the largest HeapInuse and RssAnon in KiB (after stop).
func (h *heapSampler) peaks() (heap, anon int64) {
	p := <-h.max
	return p[0], p[1]
}
