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
