package bench

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/wire"
)

// convFixture is one conversation alice seeded on the emulator, seen from
// its other participant (the reader).
type convFixture struct {
	n                  int // messages
	id, token, version string
	backup             []byte
	// e2e conversations: the reader's bbolt store (closed, never synced)
	// and its key in hex; the history file of the streamed pipeline.
	db, dbKey, file string
	// The page and history conversations: the pages as the emulator
	// serves them and their raw events (key changes first, then messages
	// oldest first).
	pages  []*api.GetChatConversationEventsResponse
	events [][]byte
}

// fixtures are the conversations the rows read.
type fixtures struct {
	alice     string
	aliceKeys []api.PublicKey // as published
	aliceSPKI []byte          // signing key
	page      *convFixture
	hist      *convFixture
	e2e       []*convFixture // ascending lengths; hist is one of them
}

// buildFixtures seeds a conversation of sz.Page messages (reader keys in
// memory) and one of each sz.E2E length (reader keys in a bbolt store in
// dir, closed afterwards so a child can open it).
func buildFixtures(w *world, sz Sizes, dir string) (*fixtures, error) {
	keys, err := w.publicKeys(w.alice)
	if err != nil {
		return nil, err
	}
	spki, err := decodeSPKI(keys)
	if err != nil {
		return nil, err
	}
	fx := &fixtures{alice: w.alice.id, aliceKeys: keys, aliceSPKI: spki}
	if fx.page, err = w.recorded(keystore.NewMemory(), sz.Page); err != nil {
		return nil, err
	}
	for _, n := range sz.E2E {
		c, err := w.e2eConversation(n, dir, spki)
		if err != nil {
			return nil, err
		}
		if n == sz.History {
			fx.hist = c
		} else {
			c.pages, c.events = nil, nil
		}
		fx.e2e = append(fx.e2e, c)
	}
	if fx.hist == nil {
		return nil, fmt.Errorf("bench: history length %d is not an end-to-end length", sz.History)
	}
	return fx, nil
}

// decodeSPKI returns the signing key of the newest published key set.
func decodeSPKI(keys []api.PublicKey) ([]byte, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("bench: no published keys")
	}
	return wire.DecodeB64(keys[len(keys)-1].SigningPublicKey)
}

// recorded seeds a conversation of n messages whose reader keeps its keys
// in store, and records its pages and events.
func (w *world) recorded(store keystore.Store, n int) (*convFixture, error) {
	a, err := w.conversation(store, n)
	if err != nil {
		return nil, err
	}
	defer a.e.Close()
	backup, err := a.e.ExportBackup()
	if err != nil {
		return nil, err
	}
	c := &convFixture{n: n, id: a.id, token: a.token, version: a.e.PublicKeyVersion(), backup: backup}
	start := time.Now()
	if c.pages, err = w.pages(a); err != nil {
		return nil, err
	}
	if c.events, err = history(c.pages); err != nil {
		return nil, err
	}
	fmt.Fprintf(w.log, "world: recorded %d pages in %v\n", len(c.pages), time.Since(start).Round(time.Millisecond))
	return c, nil
}

// e2eConversation seeds a conversation of n messages whose reader keeps
// its keys in a new bbolt store and writes its history file.
func (w *world) e2eConversation(n int, dir string, senderSPKI []byte) (*convFixture, error) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, fmt.Sprintf("reader-%d.db", n))
	db, err := boltstore.Open(path, keystore.WithKey(key))
	if err != nil {
		return nil, err
	}
	c, err := w.recorded(db, n)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	c.db, c.dbKey = path, hex.EncodeToString(key[:])
	c.file = filepath.Join(dir, fmt.Sprintf("history-%d.bin", n))
	if err := writeHistoryFile(c.file, c.backup, senderSPKI, c.events); err != nil {
		return nil, err
	}
	return c, nil
}
