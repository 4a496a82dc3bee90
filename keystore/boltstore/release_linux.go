package boltstore

import "syscall"

// releaseMapped drops this process's mapping of the pages of the size
// bytes mapped at data (MADV_DONTNEED), which must be bbolt's map of the
// file: read-only and shared, so every page of it is a clean copy of the
// file, and the next access maps the same bytes again from the page cache
// or the disk. Only the process's resident set shrinks: no data is lost or
// changed. It is a hint; an error changes nothing and is ignored.
func releaseMapped(data uintptr, size int64) {
	if data == 0 || size <= 0 {
		return
	}
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, data, uintptr(size), syscall.MADV_DONTNEED)
}
