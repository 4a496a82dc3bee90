package boltstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
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
	db, err := boltstore.Open(path, keystore.WithPassphrase([]byte("correct horse")), keystore.WithArgon2Params(cheap))
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

	if _, err := boltstore.Open(path, keystore.WithPassphrase([]byte("wrong"))); err != nil {
		fmt.Println(err)
	}
	db, err = boltstore.Open(path, keystore.WithPassphrase([]byte("correct horse")))
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
