package boltstore_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/keystore/storetest"
)

func openBolt(t *testing.T) keystore.Store { return openBoltWith(t) }

func openBoltWith(t *testing.T, opts ...keystore.Option) keystore.Store {
	opts = append([]keystore.Option{keystore.WithPassphrase([]byte("correct horse")),
		keystore.WithArgon2Params(keystore.Argon2Params{Time: 1, MemoryKiB: 8, Threads: 1})}, opts...)
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "account.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestContract(t *testing.T) {
	storetest.Contract(t, openBolt)
}

// TestDifferential drives Memory (the model) and DB with the same random
// operation sequence and requires identical results.
func TestDifferential(t *testing.T) {
	storetest.Differential(t, openBolt(t), 3000)
}

// TestDifferentialSmallIndex is TestDifferential with a message-id index
// whose recent part holds 3 entries, so lookups cross many segments.
func TestDifferentialSmallIndex(t *testing.T) {
	storetest.Differential(t, openBoltWith(t, keystore.WithMessageIndexRecent(3)), 3000)
}

// TestMessageIndex checks lookups across the index's segment boundaries.
func TestMessageIndex(t *testing.T) {
	for _, r := range []int{1, 2, 5, 16} {
		t.Run(fmt.Sprint("R=", r), func(t *testing.T) {
			storetest.MessageIndex(t, openBoltWith(t, keystore.WithMessageIndexRecent(r)), r)
		})
	}
}

// TestTxAfterEnd: a Tx kept past its fn fails with ErrClosed (its index
// state was written when fn returned).
func TestTxAfterEnd(t *testing.T) {
	storetest.TxAfterEnd(t, openBolt(t))
}
