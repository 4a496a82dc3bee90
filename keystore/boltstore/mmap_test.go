package boltstore

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/xchat-go/xchat/keystore"
	bolt "go.etcd.io/bbolt"
)

// TestGrowingStoreIsNotRemapped writes a history of several MiB, in
// transactions as large as a sync's, and checks that bbolt never had to
// re-map the file: a re-map inside a write transaction first copies out
// every node the transaction holds (NodeDeref counts them), which a sync of
// 10k events paid about ten times over. It also re-opens the grown store.
func TestGrowingStoreIsNotRemapped(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the initial mapping is left to bbolt on Windows (it would grow the file)")
	}
	ctx := context.Background()
	db, path := tempDB(t)
	// The file grows as bbolt grew it before: doubling, from 32 KiB, up
	// to 16 MiB steps; the mapping, not the file, is large.
	fileSize := func() (file, data int64) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.bolt.View(func(tx *bolt.Tx) error { data = tx.Size(); return nil }); err != nil {
			t.Fatal(err)
		}
		return fi.Size(), data
	}
	// As much again as the data, give or take the page a commit adds.
	const slack = 64 << 10
	if file, data := fileSize(); file > 2*data+slack {
		t.Fatalf("a new store's file is %d bytes for %d bytes of data", file, data)
	}
	body := make([]byte, 700)
	for batch := range 8 {
		err := db.Update(ctx, func(tx keystore.Tx) error {
			evs := make([]keystore.StoredEvent, 1000)
			for i := range evs {
				seq := fmt.Sprint(1_000_000 + batch*len(evs) + i)
				evs[i] = keystore.StoredEvent{SequenceID: seq, MessageID: "m" + seq, SenderID: "1", Type: "message", Raw: body, Verified: true}
			}
			return tx.PutEvents(ctx, "1:2", evs)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	file, data := fileSize()
	if data < 4<<20 {
		t.Fatalf("the store grew to %d bytes only: the test does not reach a re-map", data)
	}
	if file > 2*data+slack {
		t.Fatalf("the file is %d bytes for %d bytes of data", file, data)
	}
	st := db.bolt.Stats()
	if n := st.TxStats.GetNodeDeref(); n != 0 {
		t.Fatalf("bbolt re-mapped the store while it grew to %d bytes: %d nodes copied out", data, n)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, path)
	defer db.Close()
	evs, err := db.Events(ctx, "1:2", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 8000 {
		t.Fatalf("re-opened store holds %d events, want 8000", len(evs))
	}
}
