package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/xchat-go/xchat/internal/pgtest"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/pgstore"
	"github.com/xchat-go/xchat/keystore/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var testKey = [32]byte{9, 8, 7, 6, 5, 4, 3, 2, 1}

var schemas atomic.Int64

// openStore opens a store in a new schema of the shared cluster's test
// database.
func openStore(t *testing.T, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	opts = append([]pgstore.Option{pgstore.Keystore(keystore.WithKey(testKey)),
		pgstore.WithSchema(fmt.Sprintf("acct_%d", schemas.Add(1)))}, opts...)
	s, err := pgstore.Open(context.Background(), testDB(t), opts...)
	if err != nil {
		t.Fatalf("pgstore.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var dbURL string

func testDB(t *testing.T) string {
	if dbURL == "" {
		dbURL = pgtest.Shared(t).NewDatabase(t)
	}
	return dbURL
}

func TestContract(t *testing.T) {
	storetest.Contract(t, func(t *testing.T) keystore.Store { return openStore(t) })
}

func TestDifferential(t *testing.T) {
	storetest.Differential(t, openStore(t), 3000)
}

func TestUnreachable(t *testing.T) {
	_, err := pgstore.Open(context.Background(), "postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=2",
		pgstore.Keystore(keystore.WithKey(testKey)))
	if !errors.Is(err, pgstore.ErrUnreachable) {
		t.Fatalf("Open on a closed port: %v, want ErrUnreachable", err)
	}
}
