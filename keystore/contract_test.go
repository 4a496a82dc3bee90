package keystore_test

import (
	"path/filepath"
	"testing"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/storetest"
)

func openMemory(t *testing.T) keystore.Store {
	m := keystore.NewMemory()
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func openBolt(t *testing.T) keystore.Store {
	db, err := keystore.Open(filepath.Join(t.TempDir(), "account.db"), keystore.WithPassphrase([]byte("correct horse")),
		keystore.WithArgon2Params(keystore.Argon2Params{Time: 1, MemoryKiB: 8, Threads: 1}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestContract(t *testing.T) {
	t.Run("memory", func(t *testing.T) { storetest.Contract(t, openMemory) })
	t.Run("bolt", func(t *testing.T) { storetest.Contract(t, openBolt) })
}

// TestDifferential drives Memory (the model) and DB with the same random
// operation sequence and requires identical results.
func TestDifferential(t *testing.T) {
	storetest.Differential(t, openBolt(t), 3000)
}
