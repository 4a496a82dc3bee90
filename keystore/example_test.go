package keystore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/xchat-go/xchat/keystore"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "xchat-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// Real applications keep DefaultArgon2Params; the example uses the
	// cheapest parameters so it runs instantly.
	cheap := keystore.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}
	path := filepath.Join(dir, "alice", "keystore.db")
	db, err := keystore.Open(path, keystore.WithPassphrase([]byte("correct horse")), keystore.WithArgon2Params(cheap))
	if err != nil {
		log.Fatal(err)
	}

	// Acknowledge a send and store the server's copy in one transaction.
	err = db.PutOutbox(ctx, keystore.OutboxItem{MessageID: "m-1", ConversationID: "1-2", Kind: "message", Body: []byte("prepared")})
	if err != nil {
		log.Fatal(err)
	}
	err = db.Update(ctx, func(tx keystore.Tx) error {
		if err := tx.AckOutbox(ctx, "m-1"); err != nil {
			return err
		}
		return tx.PutEvents(ctx, "1-2", []keystore.StoredEvent{
			{SequenceID: "1700000000010", MessageID: "m-1", SenderID: "1", Type: "message", Body: []byte("hi"), Verified: true},
			{SequenceID: "999", MessageID: "m-0", SenderID: "2", Type: "message", Body: []byte("earlier"), Verified: true},
		})
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}

	if _, err := keystore.Open(path, keystore.WithPassphrase([]byte("wrong"))); err != nil {
		fmt.Println(err)
	}
	db, err = keystore.Open(path, keystore.WithPassphrase([]byte("correct horse")))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	events, err := db.Events(ctx, "1-2", "", 0)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		fmt.Println(e.SequenceID, string(e.Body), e.Verified)
	}
	pending, err := db.Outbox(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pending sends:", len(pending))
	// Output:
	// keystore: wrong passphrase
	// 999 earlier true
	// 1700000000010 hi true
	// pending sends: 0
}

func ExampleSealBackupFile() {
	blob := make([]byte, keystore.BackupSize) // identity‖signing private keys
	file, err := keystore.SealBackupFileWithParams(blob, []byte("backup pass"), keystore.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}, nil)
	if err != nil {
		log.Fatal(err)
	}
	back, err := keystore.OpenBackupFile(file, []byte("backup pass"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(file), len(back))
	fmt.Println(back) // secrets print redacted
	// Output:
	// 134 64
	// SecretBytes([REDACTED], 64 bytes)
}

func ExampleNewMemory() {
	ctx := context.Background()
	var s keystore.Store = keystore.NewMemory() // same contract as *keystore.DB
	defer s.Close()

	for _, v := range []string{"9", "10", "2"} {
		var k keystore.SecretKey
		k[0] = byte(len(v)) + 1
		if err := s.PutConversationKey(ctx, keystore.ConversationKey{ConversationID: "g", Version: v, Key: k}); err != nil {
			log.Fatal(err)
		}
	}
	latest, err := s.LatestConversationKey(ctx, "g")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("latest version:", latest.Version) // numeric, not string, order
	fmt.Printf("%v\n", latest.Key)
	// Output:
	// latest version: 10
	// SecretKey([REDACTED])
}
