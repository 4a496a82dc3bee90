package session

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/keystore"
)

// keyStoreRig is an offline engine with a fixed clock over a memory store
// the test fills with conversation keys of cid.
type keyStoreRig struct {
	t     *testing.T
	ctx   context.Context
	store keystore.Store
	e     *Engine
	now   int64 // the clock, in Unix milliseconds
}

const keyRigConv = "1001:1002"

func newKeyStoreRig(t *testing.T) *keyStoreRig {
	t.Helper()
	c := ctxT(t)
	store := keystore.NewMemory()
	if err := CreateAccount(c, store, "1001", nil); err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1795000000000)
	e, err := Open(c, store, nil, WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return &keyStoreRig{t: t, ctx: c, store: store, e: e, now: now.UnixMilli()}
}

// at is the version ms milliseconds from the clock.
func (r *keyStoreRig) at(ms int64) string { return strconv.FormatInt(r.now+ms, 10) }

// put stores version v, its key filled with fill.
func (r *keyStoreRig) put(v string, verified bool, fill byte) {
	r.t.Helper()
	var k keystore.SecretKey
	for i := range k {
		k[i] = fill
	}
	if err := r.store.PutConversationKey(r.ctx, keystore.ConversationKey{ConversationID: keyRigConv, Version: v, Key: k,
		Verified: verified, CreatedBy: "1002", CreatedAt: time.UnixMilli(r.now)}); err != nil {
		r.t.Fatal(err)
	}
}

// TestHeldKeySkipsUnusableHighVersions: the key new content is encrypted
// under is the highest version whose distribution was verified and that
// is not implausibly far in the future, however many higher versions are
// unverified or implausible; the highest version is used as soon as it
// is usable.
func TestHeldKeySkipsUnusableHighVersions(t *testing.T) {
	r := newKeyStoreRig(t)
	if _, _, _, err := r.e.heldKey(r.ctx, keyRigConv); !errors.Is(err, xchat.ErrNoConversationKey) {
		t.Fatalf("no key stored: %v", err)
	}
	want := func(v string, fill byte) {
		t.Helper()
		key, got, maker, err := r.e.heldKey(r.ctx, keyRigConv)
		if err != nil || got != v || maker != "1002" || key[0] != fill {
			t.Fatalf("held key: version %s by %s (%v), want %s", got, maker, err, v)
		}
	}
	r.put(r.at(-3000), true, 1)
	want(r.at(-3000), 1)
	r.put(r.at(-2000), false, 2)                                   // not verified
	r.put(r.at(2*int64(maxVersionLead/time.Millisecond)), true, 3) // implausible
	want(r.at(-3000), 1)
	r.put(r.at(-1000), true, 4)
	want(r.at(-1000), 4)
}

// TestNextKeyVersion: a new key's version is the clock, raised above the
// highest plausible version held, never one already held, and never
// raised by an implausible version.
func TestNextKeyVersion(t *testing.T) {
	r := newKeyStoreRig(t)
	next := func(want string) {
		t.Helper()
		if got, err := r.e.nextKeyVersion(r.ctx, keyRigConv); err != nil || got != want {
			t.Fatalf("next version %s (%v), want %s", got, err, want)
		}
	}
	lead := int64(maxVersionLead / time.Millisecond)
	next(r.at(0))
	r.put(r.at(-5), true, 1)
	next(r.at(0))
	r.put(r.at(7), false, 2) // ahead of the clock: one above it
	next(r.at(8))
	r.put(r.at(lead+1), true, 3) // implausible: does not count
	next(r.at(8))
	r.put(r.at(8), true, 4) // held: taken
	r.put(r.at(9), true, 5)
	next(r.at(10))
	r.put(r.at(lead), true, 6) // the last plausible version
	next(r.at(lead + 2))       // lead+1 is held, though implausible
}
