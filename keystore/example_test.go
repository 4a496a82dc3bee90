package keystore_test

import (
	"context"
	"fmt"
	"log"

	"github.com/xchat-go/xchat/keystore"
)

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
	var s keystore.Store = keystore.NewMemory() // same contract as *boltstore.DB
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
