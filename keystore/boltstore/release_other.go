//go:build !linux

package boltstore

// releaseMapped does nothing where the store does not release mapped pages
// (see release_linux.go).
func releaseMapped(data uintptr, size int64) {}
