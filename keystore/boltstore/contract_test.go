package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/keystore/storetest"
)

func openBolt(t *testing.T) keystore.Store {
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "account.db"), keystore.WithPassphrase([]byte("correct horse")),
		keystore.WithArgon2Params(keystore.Argon2Params{Time: 1, MemoryKiB: 8, Threads: 1}))
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
