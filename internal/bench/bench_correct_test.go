package bench

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/session/inbound"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// rebuild wraps a prepared send or key change into the envelope the server
// would deliver, so the receive pipeline can check it.
func rebuild(t *testing.T, p prepared, keyChange bool) []byte {
	t.Helper()
	raw, err := wire.DecodeB64(p.Detail)
	if err != nil {
		t.Fatal(err)
	}
	var (
		detail *event.MessageEventDetail
		sig    []byte
	)
	if keyChange {
		if detail, err = wire.DecodeMessageEventDetail(raw); err != nil {
			t.Fatal(err)
		}
		if sig, err = crypto.DecodeSignature(p.Signature); err != nil {
			t.Fatal(err)
		}
	} else {
		mce, err := wire.DecodeMessageCreateEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		detail = &event.MessageEventDetail{MessageCreateEvent: mce}
		sraw, err := wire.DecodeB64(p.Signature)
		if err != nil {
			t.Fatal(err)
		}
		mes, err := wire.DecodeMessageEventSignature(sraw)
		if err != nil {
			t.Fatal(err)
		}
		if mes.GetPublicKeyVersion() != aliceVersion || mes.GetSignatureVersion() != "7" {
			t.Fatalf("signature info %q/%q", mes.GetPublicKeyVersion(), mes.GetSignatureVersion())
		}
		if sig, err = crypto.DecodeSignature(mes.GetSignature()); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := envelope(5000, p.MessageID, detail, sig)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestSendTextVerifies checks that the timed send produces a message bob's
// receive pipeline verifies and decrypts to the text sent.
func TestSendTextVerifies(t *testing.T) {
	w := newTestWorld(t)
	text := sendText1KiB()
	if len(text) != 1024 {
		t.Fatalf("text is %d bytes", len(text))
	}
	p, err := w.sendText(text)
	if err != nil {
		t.Fatal(err)
	}
	ev := inbound.Decrypt(w.receiverKeys(true), rebuild(t, p, false), nil)
	if ev.Err != nil || !ev.Verified || ev.Text() != text {
		t.Fatalf("verified=%v err=%v text %d bytes", ev.Verified, ev.Err, len(ev.Text()))
	}
	// Another key must not open it: the benchmark really encrypts.
	other := newTestWorld(t)
	other.alice = w.alice
	if ev := inbound.Decrypt(other.receiverKeys(true), rebuild(t, p, false), nil); ev.Err == nil {
		t.Fatal("message opened under a different conversation key")
	}
}

// TestKeyChangeVerifies checks that the timed key change gives every
// recipient the same key and verifies for bob.
func TestKeyChangeVerifies(t *testing.T) {
	w := newTestWorld(t)
	rs, err := w.recipients(5)
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.prepareKeyChange(groupID, rs)
	if err != nil {
		t.Fatal(err)
	}
	env := rebuild(t, p, true)
	// envelope names the one-to-one conversation; the key change was
	// signed for the group, so deliver it there.
	me, err := wire.DecodeMessageEvent(env)
	if err != nil {
		t.Fatal(err)
	}
	gid := groupID
	me.ConversationID = &gid
	env, err = wire.EncodeMessageEvent(me)
	if err != nil {
		t.Fatal(err)
	}
	ev := inbound.Decrypt(w.receiverKeys(false), env, nil)
	if ev.Err != nil || !ev.Verified || ev.KeyChange == nil || ev.KeyChange.Key == nil {
		t.Fatalf("verified=%v err=%v", ev.Verified, ev.Err)
	}
	if got := len(ev.KeyChange.Participants); got != 5 {
		t.Fatalf("%d participants, want 5", got)
	}
	for _, pk := range ev.KeyChange.Participants[:1] { // alice's copy
		wrapped, err := wire.DecodeB64(pk.EncryptedKey)
		if err != nil {
			t.Fatal(err)
		}
		k, err := crypto.UnwrapConversationKey(w.alice.Identity, wrapped)
		if err != nil || !k.Equal(ev.KeyChange.Key) {
			t.Fatalf("alice's copy: %v", err)
		}
	}
}

// TestHistoryFileRoundTrip checks the child's event stream against the
// in-memory history.
func TestHistoryFileRoundTrip(t *testing.T) {
	w := newTestWorld(t)
	file := filepath.Join(t.TempDir(), "h.bin")
	if err := writeHistoryFile(file, w, 7); err != nil {
		t.Fatal(err)
	}
	t.Setenv(childEnv, `{"kind":"history","file":"`+file+`","workers":2}`)
	var out, errb bytes.Buffer
	if code := ChildMain(&out, &errb); code != 0 {
		t.Fatalf("child exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `"events":8`) {
		t.Fatalf("child output %s", out.String())
	}
}

// TestSmoke runs the whole table with tiny sizes. The SDK rows run when
// node and interop/node_modules are present and are skipped otherwise.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke run takes a few seconds")
	}
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
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
	if len(rep.Rows) < 10 {
		t.Fatalf("%d rows", len(rep.Rows))
	}
	for _, r := range rep.Rows {
		if r.Ours <= 0 || r.Wall <= 0 || r.Allocs <= 0 {
			t.Errorf("%s: ours %v wall %v allocs %d", r.Name, r.Ours, r.Wall, r.Allocs)
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
	}
	if _, err := os.Stat("/proc/self/status"); err == nil {
		n := 0
		for _, r := range rep.Rows {
			if r.RSSKiB > 0 {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%d rows with peak RSS, want 3", n)
		}
	}
	if len(rep.Targets) == 0 || !strings.Contains(buf.String(), "targets") {
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
	_, err := runSDK(SDKRequire, mustRoot(t), t.TempDir(), nil, nil, "", nil, nil, nil, Sizes{})
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
