// Package storetest is the behaviour every keystore.Store implementation
// must share, as tests any backend runs against itself: Contract (one case
// per rule of the Store contract, plus the Leaser and OutboxClaimer
// coordination a shared store offers) and Differential (a random operation
// sequence whose results must match the Memory model's).
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/xchat-go/xchat/keystore"
)

func seqBlob(seed byte) []byte {
	b := make([]byte, keystore.BackupSize)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

func keyOf(seed byte) keystore.SecretKey {
	var k keystore.SecretKey
	for i := range k {
		k[i] = seed ^ byte(i*7+1)
	}
	return k
}

var t0 = time.Date(2026, 11, 22, 3, 0, 0, 123456789, time.UTC)

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func bg() context.Context { return context.Background() }
