package keystore

import (
	"context"
	"testing"
	"time"
)

// testParams are the cheapest Argon2id parameters, so tests stay fast.
var testParams = Argon2Params{Time: 1, MemoryKiB: 8, Threads: 1}

var testKey = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

func seqBlob(seed byte) []byte {
	b := make([]byte, BackupSize)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

var t0 = time.Date(2026, 11, 22, 3, 0, 0, 123456789, time.UTC)

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func bg() context.Context { return context.Background() }
