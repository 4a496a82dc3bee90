package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/crypto/secretstream"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/wire"
)

// TestSendIsVerifiedAndRecorded checks that the timed send posts a message
// the peer can open and that the engine verified and recorded the stub's
// echo of it.
func TestSendIsVerifiedAndRecorded(t *testing.T) {
	checkSendRecorded(t, newSend(t))
}

// TestBoltSendIsVerifiedAndRecorded is TestSendIsVerifiedAndRecorded for
// the rig of the bbolt send row.
func TestBoltSendIsVerifiedAndRecorded(t *testing.T) {
	r, closeRig, err := newBoltSendRig(context.Background(), filepath.Join(t.TempDir(), "send.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer closeRig()
	checkSendRecorded(t, r)
}

// checkSendRecorded sends once with r and checks the history holds the
// text, verified.
func checkSendRecorded(t *testing.T, r *sendRig) {
	t.Helper()
	if err := r.send(sendText1KiB()); err != nil {
		t.Fatal(err)
	}
	h, err := r.e.History(context.Background(), r.peer, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, en := range h {
		if en.Text != "" && en.Verified {
			texts = append(texts, en.Text)
		}
	}
	if len(texts) != 1 || texts[0] != sendText1KiB() {
		t.Fatalf("history holds %d verified texts", len(texts))
	}
}

// TestRotateWrapsToEveryone checks that each timed rotation posts a fresh
// key version wrapped to every participant.
func TestRotateWrapsToEveryone(t *testing.T) {
	for _, n := range []int{2, 7} {
		f, err := newRotateFixture(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		r, err := f.rig(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var versions []string
		for range 2 {
			if err := r.rotate(); err != nil {
				t.Fatal(err)
			}
			req := r.stubReq(t)
			if len(req.ConversationParticipantKeys) != n || len(req.ActionSignatures) != 1 {
				t.Fatalf("n=%d: %d wrapped keys, %d signatures", n, len(req.ConversationParticipantKeys), len(req.ActionSignatures))
			}
			versions = append(versions, req.ConversationKeyVersion)
		}
		if !(len(versions[0]) <= len(versions[1]) && versions[0] < versions[1]) {
			t.Fatalf("n=%d: versions %v do not increase", n, versions)
		}
	}
}

func (r *rotateRig) stubReq(t *testing.T) *api.AddConversationKeysRequest {
	t.Helper()
	r.stub.mu.Lock()
	defer r.stub.mu.Unlock()
	if r.stub.lastKeys == nil {
		t.Fatal("no key change posted")
	}
	return r.stub.lastKeys
}

// TestSyncRigChecks checks that the timed sync stores every message
// verified, and that its check fails when the server tampers with one.
func TestSyncRigChecks(t *testing.T) {
	fx := recordedConv(t, 30)
	r, err := newSyncRig(context.Background(), fx.page, fx.alice, fx.aliceKeys)
	if err != nil {
		t.Fatal(err)
	}
	run, err := r.fresh(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := run(); err != nil {
		t.Fatal(err)
	}
	// Flip a byte inside the contents of one message: it must fail.
	page := *fx.page.pages[0]
	page.Data = append([]api.ChatMessageEvent(nil), page.Data...)
	raw, err := wire.DecodeB64(page.Data[3].EncodedEvent)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 1
	page.Data[3].EncodedEvent = wire.EncodeB64(raw)
	r.stub.servePages([]*api.GetChatConversationEventsResponse{&page})
	if run, err = r.fresh(2); err != nil {
		t.Fatal(err)
	}
	err = run()
	if err == nil || !strings.Contains(err.Error(), "1 failed") {
		t.Fatalf("a tampered history: %v", err)
	}
}

// TestMediaRoundTrip checks the media rig against a different payload
// size than the rows.
func TestMediaRoundTrip(t *testing.T) {
	m, err := newMediaRig(newSend(t), randomBytes(3000))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.upload(); err != nil {
		t.Fatal(err)
	}
}

// TestHistoryChild runs the streamed pipeline child on a recorded history
// file.
func TestHistoryChild(t *testing.T) {
	fx := recordedConv(t, 30)
	file := filepath.Join(t.TempDir(), "h.bin")
	if err := writeHistoryFile(file, fx.hist.backup, fx.aliceSPKI, fx.hist.events); err != nil {
		t.Fatal(err)
	}
	t.Setenv(childEnv, `{"kind":"history","file":"`+file+`","workers":2,"userId":"`+fx.hist.id+`","keyVersion":"`+fx.hist.version+
		`","peerId":"`+fx.alice+`","peerVersion":"`+fx.aliceKeys[0].PublicKeyVersion+`"}`)
	var out, errb bytes.Buffer
	if code := ChildMain(&out, &errb); code != 0 {
		t.Fatalf("child exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `"events":31,`) {
		t.Fatalf("child output %s", out.String())
	}
	// A file whose sender key is wrong must fail.
	if err := writeHistoryFile(file, fx.hist.backup, otherSPKI(t), fx.hist.events); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := ChildMain(&out, &errb); code == 0 || !strings.Contains(errb.String(), errUnverified.Error()) {
		t.Fatalf("child exit %d with a wrong sender key: %s", code, errb.String())
	}
}

func otherSPKI(t *testing.T) []byte {
	t.Helper()
	kp, err := crypto.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	return kp.Signing.PublicKey().SPKI()
}

// TestSmoke runs the whole table with tiny sizes. The SDK rows run when
// node and interop/node_modules are present and are skipped otherwise.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke run takes a few seconds")
	}
	root := mustRoot(t)
	_, sdkErr := sdkAvailable(root)
	if sdkErr != nil {
		t.Logf("SDK rows skipped: %v", sdkErr)
	}
	rep, err := Run(Config{Quick: true, SDK: SDKAuto, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	rep.Print(&buf)
	t.Log("\n" + buf.String())
	if len(rep.Rows) < 15 {
		t.Fatalf("%d rows", len(rep.Rows))
	}
	rss := 0
	for _, r := range rep.Rows {
		if r.Ours <= 0 || r.Wall <= 0 {
			t.Errorf("%s: ours %v wall %v", r.Name, r.Ours, r.Wall)
		}
		if (r.Floor > 0 || r.RSSKiB != 0) && r.Allocs <= 0 {
			t.Errorf("%s: allocs %d", r.Name, r.Allocs)
		}
		if r.FloorTarget > 0 && r.Floor <= 0 {
			t.Errorf("%s: no floor", r.Name)
		}
		if r.SDKOp != "" && sdkErr == nil && r.SDK <= 0 {
			t.Errorf("%s: no SDK time (%s)", r.Name, r.SDKNote)
		}
		if !strings.Contains(buf.String(), r.Name) {
			t.Errorf("%s missing from the table", r.Name)
		}
		if r.RSSKiB > 0 {
			rss++
		}
	}
	if _, err := os.Stat("/proc/self/status"); err == nil && rss != 2*len(rep.Sizes.E2E) {
		t.Errorf("%d rows with peak RSS, want %d", rss, 2*len(rep.Sizes.E2E))
	}
	if len(rep.Targets) == 0 || !strings.Contains(buf.String(), " met, ") {
		t.Error("no targets reported")
	}
}

// TestSDKRequired checks that -sdk=require fails cleanly without the SDK.
func TestSDKRequired(t *testing.T) {
	if _, err := exec.LookPath("node"); err == nil {
		if _, err := sdkAvailable(mustRoot(t)); err == nil {
			t.Skip("SDK present")
		}
	}
	_, err := runSDK(SDKRequire, mustRoot(t), t.TempDir(), nil, nil)
	if !errors.Is(err, errSDK) {
		t.Fatalf("err = %v, want errSDK", err)
	}
}

func mustRoot(t *testing.T) string {
	t.Helper()
	r, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRatioText: a ratio that rounds to its limit is printed with a third
// decimal, so a near miss does not read as the limit.
func TestRatioText(t *testing.T) {
	for _, c := range []struct {
		ratio, limit float64
		want         string
	}{{1.2534, 1.25, "1.253×"}, {1.2466, 1.25, "1.247×"}, {1.25, 1.25, "1.25×"}, {1.58, 1.25, "1.58×"}} {
		if got := ratioText(c.ratio, c.limit); got != c.want {
			t.Errorf("ratioText(%v, %v) = %q, want %q", c.ratio, c.limit, got, c.want)
		}
	}
}

// TestPullStreamFloorDecrypts checks that the download rows' floor runs
// the secretstream decryption of the whole stream: it returns the
// plaintext, and refuses a stream with a flipped byte or without its
// last frame.
func TestPullStreamFloorDecrypts(t *testing.T) {
	key, plain := randomBytes(32), randomBytes(5*1024+17)
	ct, err := secretstream.Encrypt(nil, key, plain)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pullStream(make([]byte, 0, len(plain)+pullSlack), key, ct)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatal("the floor did not return the plaintext")
	}
	bad := bytes.Clone(ct)
	bad[len(bad)/2] ^= 1
	if _, err := pullStream(nil, key, bad); !errors.Is(err, secretstream.ErrDecrypt) {
		t.Fatalf("flipped byte: %v, want secretstream.ErrDecrypt", err)
	}
	cut := ct[:secretstream.HeaderSize+2*secretstream.EncryptedChunkSize]
	if _, err := pullStream(make([]byte, 0, len(plain)+pullSlack), key, cut); !errors.Is(err, secretstream.ErrTruncated) {
		t.Fatalf("without the last frame: %v, want secretstream.ErrTruncated", err)
	}
}

// TestTimedStoreSplitsCommit checks that the e2e child's store counts a
// write transaction's commit apart from the engine's work inside it, and
// that the commit is part of the transaction's time.
func TestTimedStoreSplitsCommit(t *testing.T) {
	var key [32]byte
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "store.db"), keystore.WithKey(key))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ts := &timedStore{DB: db}
	ctx := context.Background()
	if err := ts.Update(ctx, func(tx keystore.Tx) error { return tx.SetValue(ctx, "bench/x", []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if ts.updates != 1 || ts.commit <= 0 || ts.commit > ts.update {
		t.Fatalf("%d updates, %v of them committing, of %v", ts.updates, ts.commit, ts.update)
	}
	got, err := db.Value(ctx, "bench/x")
	if err != nil || string(got) != "v" {
		t.Fatalf("value %q, %v: the timed transaction did not commit", got, err)
	}
}
