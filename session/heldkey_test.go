package session

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/xchat-go/xchat/keystore"
)

// TestHeldKeySkipsUnusableHighVersions: the key new content is encrypted
// under is the highest version whose distribution was verified and that
// is not implausibly far in the future, however many higher versions are
// unverified or implausible; the highest version is used as soon as it
// is usable.
func TestHeldKeySkipsUnusableHighVersions(t *testing.T) {
	c := ctxT(t)
	store := keystore.NewMemory()
	if err := CreateAccount(c, store, "1001", nil); err != nil {
		t.Fatal(err)
	}
	e, err := Open(c, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	const cid = "1001:1002"
	if _, _, _, err := e.heldKey(c, cid); !errors.Is(err, ErrNoConversationKey) {
		t.Fatalf("no key stored: %v", err)
	}
	now := time.Now().UnixMilli()
	version := func(ms int64) string { return strconv.FormatInt(ms, 10) }
	put := func(v string, verified bool, fill byte) {
		t.Helper()
		var k keystore.SecretKey
		for i := range k {
			k[i] = fill
		}
		if err := store.PutConversationKey(c, keystore.ConversationKey{ConversationID: cid, Version: v, Key: k,
			Verified: verified, CreatedBy: "1002", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	want := func(v string, fill byte) {
		t.Helper()
		key, got, maker, err := e.heldKey(c, cid)
		if err != nil || got != v || maker != "1002" || key[0] != fill {
			t.Fatalf("held key: version %s by %s (%v), want %s", got, maker, err, v)
		}
	}
	put(version(now-3000), true, 1)
	want(version(now-3000), 1)
	put(version(now-2000), false, 2)                                    // not verified
	put(version(now+int64(2*maxVersionLead/time.Millisecond)), true, 3) // implausible
	want(version(now-3000), 1)
	put(version(now-1000), true, 4)
	want(version(now-1000), 4)
}
