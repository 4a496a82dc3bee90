package session

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// BenchmarkSendText1KiBLoopback measures a full send of 1 KiB of text:
// encrypt, sign, outbox, POST over loopback HTTP to the emulator (which
// verifies it too), verify the returned event, record it. The same send
// against an in-process stub server, without HTTP or the server's work, is
// internal/bench's BenchmarkSendText1KiB.
func BenchmarkSendText1KiBLoopback(b *testing.B) {
	ctx := context.Background()
	n := newNet(b)
	alice, bob := n.user("alice"), n.user("bob")
	text := strings.Repeat("x", 1024)
	if _, err := alice.e.SendText(ctx, bob.id, text); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1024)
	b.ResetTimer()
	for b.Loop() {
		if _, err := alice.e.SendText(ctx, bob.id, text); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealMessage1KiB measures the local part of a send only:
// content encoding, secretbox, Thrift and the ECDSA signature.
func BenchmarkSealMessage1KiB(b *testing.B) {
	ctx := context.Background()
	store := keystore.NewMemory()
	if err := ImportBackup(ctx, store, "111", make32x2(), "1"); err != nil {
		b.Fatal(err)
	}
	e, err := Open(ctx, store, nil)
	if err != nil {
		b.Fatal(err)
	}
	sg := testutil.Must(e.signer())(b)
	key := testutil.Must(crypto.NewConversationKey(nil))(b)
	text := strings.Repeat("x", 1024)
	b.SetBytes(1024)
	for b.Loop() {
		h, _ := (&Outgoing{Text: text}).holder()
		if _, _, err := e.sealMessage(sg, "111:222", "1795000000000", key, h, 0, false); err != nil {
			b.Fatal(err)
		}
	}
}

// make32x2 returns a valid 64-byte backup (scalars 1 and 2).
func make32x2() []byte {
	b := make([]byte, 64)
	b[31], b[63] = 1, 2
	return b
}

// BenchmarkPrepareKeyChange50 measures preparing a group key change for 50
// members (prepareKey): a fresh key, 50 ECIES wraps to pinned identity keys
// and the v7 signature, without posting or storing it. The whole rotation
// (roster sync, post, commit) is internal/bench's BenchmarkRotateGroup50.
func BenchmarkPrepareKeyChange50(b *testing.B) {
	ctx := context.Background()
	store := keystore.NewMemory()
	if err := ImportBackup(ctx, store, "1000", make32x2(), "1"); err != nil {
		b.Fatal(err)
	}
	members := []string{"1000"}
	for i := range 49 {
		kp, err := crypto.GenerateKeyPair(nil)
		if err != nil {
			b.Fatal(err)
		}
		uid := strconv.Itoa(2000 + i)
		members = append(members, uid)
		if err := store.PutPeerKey(ctx, keystore.PeerKey{UserID: uid, Version: "1",
			IdentityPublicKey: kp.Identity.PublicKey().SPKI(), SigningPublicKey: kp.Signing.PublicKey().SPKI(),
			Pinned: true, FirstSeen: time.Now(), LastSeen: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	e, err := Open(ctx, store, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		p, err := e.prepareKey(ctx, "g1", members)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.participants) != 50 {
			b.Fatal(len(p.participants))
		}
		p.zero()
	}
}

// BenchmarkHistory10k measures reading 10 000 stored entries back.
func BenchmarkHistory10k(b *testing.B) {
	ctx := context.Background()
	store := keystore.NewMemory()
	if err := ImportBackup(ctx, store, "111", make32x2(), "1"); err != nil {
		b.Fatal(err)
	}
	e, err := Open(ctx, store, nil)
	if err != nil {
		b.Fatal(err)
	}
	var evs []keystore.StoredEvent
	for i := range 10000 {
		en := event.Entry{SequenceID: strconv.Itoa(1000000 + i), MessageID: fmt.Sprint(i), SenderID: "222",
			Type: event.TypeMessage, Text: fmt.Sprintf("message number %d", i), Verified: true, CreatedAt: time.Now()}
		evs = append(evs, storeEntry(&en, []byte("raw"), ""))
	}
	if err := store.PutEvents(ctx, "111:222", evs); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		h, err := e.History(ctx, "111:222", "", 0)
		if err != nil || len(h) != 10000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkResync measures a sync with no new events after 100 messages
// (one page, every message stored before), with the stored verdicts of
// re-served messages reused (stubs) and with every message verified and
// decrypted again: what reserved saves.
func BenchmarkResync(b *testing.B) {
	ctx := context.Background()
	n := newNet(b)
	alice, bob := n.user("alice"), n.user("bob")
	for i := range 100 {
		if _, err := alice.e.SendText(ctx, bob.id, fmt.Sprintf("m%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := bob.e.Sync(ctx, alice.id, nil); err != nil {
		b.Fatal(err)
	}
	for _, reuse := range []bool{true, false} {
		b.Run(fmt.Sprintf("stubs=%v", reuse), func(b *testing.B) {
			defer func(v bool) { reuseStoredVerdicts = v }(reuseStoredVerdicts)
			reuseStoredVerdicts = reuse
			for b.Loop() {
				res, err := bob.e.Sync(ctx, alice.id, nil)
				if err != nil || len(res.Entries) != 0 || res.Failed != 0 {
					b.Fatalf("re-sync: %v, %d new, %d failed", err, len(res.Entries), res.Failed)
				}
			}
		})
	}
}

// BenchmarkSyncPaged measures a first sync of 1,000 messages in pages of
// 100 from the emulator over loopback (a fresh device of the reader each
// time), as it runs, without the memo of unwrapped keys (the key change
// served with every page unwrapped every time), and without verifying
// pages while the next is fetched.
func BenchmarkSyncPaged(b *testing.B) {
	ctx := context.Background()
	n := newNet(b)
	alice, bob := n.user("alice"), n.user("bob")
	for i := range 1000 {
		if _, err := alice.e.SendText(ctx, bob.id, fmt.Sprintf("m%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	backup, err := bob.e.ExportBackup()
	if err != nil {
		b.Fatal(err)
	}
	type variant struct {
		name              string
		unwraps, preverif bool
	}
	for _, v := range []variant{{"as-is", true, true}, {"no-unwrap-memo", false, true}, {"no-verify-while-fetching", true, false}} {
		b.Run(v.name, func(b *testing.B) {
			defer func(u, p bool) { memoUnwraps, verifyWhileFetching = u, p }(memoUnwraps, verifyWhileFetching)
			memoUnwraps, verifyWhileFetching = v.unwraps, v.preverif
			for b.Loop() {
				b.StopTimer()
				store := keystore.NewMemory()
				if err := ImportBackup(ctx, store, bob.id, backup, bob.e.PublicKeyVersion()); err != nil {
					b.Fatal(err)
				}
				e, err := Open(ctx, store, bob.server)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := e.Sync(ctx, alice.id, nil)
				if err != nil || len(texts(res.Entries)) != 1000 || res.Failed != 0 {
					b.Fatalf("sync: %v, %d stored, %d failed", err, len(res.Entries), res.Failed)
				}
				e.Close()
			}
		})
	}
}
