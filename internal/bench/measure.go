package bench

import (
	"io"
	"runtime"
	"testing"
	"time"
)

// measurer times operations at a fixed GOMAXPROCS.
type measurer struct {
	log       io.Writer
	rounds    int
	benchtime time.Duration
	err       error
}

// measured is one operation's figures per call.
type measured struct {
	ns, wall float64
	cpu      float64 // process CPU ns/op, whatever procs was (0 = unknown)
	allocs   int64
	bytes    int64
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
			best = measured{ns: ns, wall: wall, cpu: float64(cpu.Nanoseconds()) / float64(res.N),
				allocs: res.AllocsPerOp(), bytes: res.AllocedBytesPerOp()}
		}
	}
	return best
}

// opFresh measures calls of a function that setup makes fresh for each
// call (setup itself is not timed) at procs GOMAXPROCS: calls repeat until
// m.benchtime of timed wall time has passed (at least one), best of
// m.rounds rounds. ns is as in op.
//
// Calls run in batches, as testing.B runs its loop: the calls of a batch
// are set up first, then the heap is collected once and the calls are
// timed one after another (each alone: setups are never timed). A
// collection before every call would time each on cold caches and an
// emptied allocator, a handicap the floors, timed in a loop, do not
// have: for a call of a few hundred microseconds that made a rotation
// look 1.5–2× slower than the same rig under testing.B. Batches hold up
// to maxFreshBatch calls, fewer for calls long enough that a batch would
// outlast a tenth of m.benchtime (the first call of a round tells).
func (m *measurer) opFresh(procs int, setup func() (func() error, error)) measured {
	prev := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(prev)
	best := measured{}
	for range max(m.rounds, 1) {
		var f freshRun
		for f.n == 0 || f.wall < m.benchtime {
			size := 1
			if f.n > 0 {
				per := f.wall / time.Duration(f.n)
				size = int(min(maxFreshBatch, max(1, m.benchtime/10/max(per, 1))))
			}
			if err := f.batch(setup, size); err != nil {
				if m.err == nil {
					m.err = err
				}
				return measured{}
			}
		}
		per := float64(f.n)
		r := measured{wall: float64(f.wall.Nanoseconds()) / per, cpu: float64(f.cpu.Nanoseconds()) / per,
			allocs: int64(f.allocs) / int64(f.n), bytes: int64(f.bytes) / int64(f.n)}
		r.ns = r.wall
		if procs == 1 && f.cpu > 0 {
			r.ns = r.cpu
		}
		if best.ns == 0 || r.ns < best.ns {
			best = r
		}
	}
	return best
}

// maxFreshBatch bounds how many fresh calls opFresh sets up at once.
const maxFreshBatch = 64

// freshRun sums the timed calls of one opFresh round.
type freshRun struct {
	n             int
	wall, cpu     time.Duration
	allocs, bytes uint64
}

// batch sets up size calls, collects the heap once, then times each call.
// Allocations are counted over the calls of the batch alone.
func (f *freshRun) batch(setup func() (func() error, error), size int) error {
	runs := make([]func() error, 0, size)
	for range size {
		run, err := setup()
		if err != nil {
			return err
		}
		runs = append(runs, run)
	}
	runtime.GC()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for i, run := range runs {
		c0, t0 := cpuTime(), time.Now()
		err := run()
		f.wall += time.Since(t0)
		f.cpu += cpuTime() - c0
		runs[i] = nil // what the call leaves behind may go
		if err != nil {
			return err
		}
		f.n++
	}
	runtime.ReadMemStats(&ms1)
	f.allocs += ms1.Mallocs - ms0.Mallocs
	f.bytes += ms1.TotalAlloc - ms0.TotalAlloc
	return nil
}
