package pgstore_test

import (
	"context"
	"fmt"
	"log"

	"github.com/xchat-go/xchat/internal/pgtest"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/pgstore"
)

// exampleDSN is a throwaway database for the examples; use your server's
// URL instead.
func exampleDSN() string {
	c, err := pgtest.SharedCluster()
	if err != nil {
		log.Fatal(err)
	}
	dsn, err := c.CreateDatabase()
	if err != nil {
		log.Fatal(err)
	}
	return dsn
}

// Two replicas of one account: each process opens the same schema with the
// same key (or passphrase); they share its records and take turns on a
// conversation through a lease.
func Example() {
	ctx := context.Background()
	dsn := exampleDSN()
	var key [32]byte // from your secret store
	open := func(replica string) *pgstore.Store {
		s, err := pgstore.Open(ctx, dsn, pgstore.Keystore(keystore.WithKey(key)),
			pgstore.WithSchema("alice"), pgstore.WithHolder(replica))
		if err != nil {
			log.Fatal(err)
		}
		return s
	}
	a, b := open("replica-a"), open("replica-b")
	defer a.Close()
	defer b.Close()

	if err := a.SetValue(ctx, "greeting", []byte("hello from a")); err != nil {
		log.Fatal(err)
	}
	v, err := b.Value(ctx, "greeting")
	fmt.Println(string(v), err)

	release, ok, err := a.TryLease(ctx, "bot/conversation-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("a holds the conversation:", ok)
	_, ok, err = b.TryLease(ctx, "bot/conversation-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("b holds it too:", ok)
	release()
	releaseB, ok, err := b.TryLease(ctx, "bot/conversation-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after a released, b holds it:", ok)
	releaseB()
	// Output:
	// hello from a <nil>
	// a holds the conversation: true
	// b holds it too: false
	// after a released, b holds it: true
}
