package storeurl_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/internal/pgtest"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/keystore/pgstore"
	"github.com/xchat-go/xchat/keystore/storeurl"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var protect = []keystore.Option{keystore.WithKey([32]byte{4, 2})}

func TestOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	s, err := storeurl.Open(context.Background(), path, protect)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*boltstore.DB); !ok {
		t.Fatalf("a path opened %T, want *boltstore.DB", s)
	}
}

func TestOpenPostgres(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Shared(t).NewDatabase(t)
	spec := dsn + "&xchat_schema=bot_a&xchat_lease_ttl=5s"
	s, err := storeurl.Open(ctx, spec, protect)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pg, ok := s.(*pgstore.Store)
	if !ok || pg.Schema() != "bot_a" {
		t.Fatalf("opened %T (schema %v)", s, s)
	}
	if _, err := storeurl.Open(ctx, dsn+"&xchat_lease_ttl=soon", protect); !errors.Is(err, keystore.ErrInvalid) {
		t.Fatalf("bad lease ttl: %v", err)
	}
}

func TestDescribeHidesPassword(t *testing.T) {
	d := storeurl.Describe("postgres://bot:hunter2@db/x?xchat_schema=a")
	if strings.Contains(d, "hunter2") || !strings.Contains(d, "db/x") {
		t.Fatalf("Describe = %q", d)
	}
}
