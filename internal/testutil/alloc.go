package testutil

import "runtime"

// AllocatedBytes returns the bytes the process allocated while fn ran
// (runtime.MemStats.TotalAlloc), for tests that bound an allocation.
func AllocatedBytes(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// LeastAllocatedBytes returns the least of runs AllocatedBytes(fn): an
// allocation of another goroutine of the process (one an earlier test left
// running) made while fn runs counts in TotalAlloc, and is unlikely to
// recur in every run.
func LeastAllocatedBytes(runs int, fn func()) uint64 {
	least := AllocatedBytes(fn)
	for range runs - 1 {
		least = min(least, AllocatedBytes(fn))
	}
	return least
}
