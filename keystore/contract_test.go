package keystore_test

import (
	"testing"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/storetest"
)

func openMemory(t *testing.T) keystore.Store {
	m := keystore.NewMemory()
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func TestContract(t *testing.T) {
	t.Run("memory", func(t *testing.T) { storetest.Contract(t, openMemory) })
}

// TestMemoryTxAfterEndEveryMethod checks that every method of a Memory
// transaction kept past its fn fails with ErrClosed.
func TestMemoryTxAfterEndEveryMethod(t *testing.T) {
	storetest.TxAfterEnd(t, openMemory(t))
}
