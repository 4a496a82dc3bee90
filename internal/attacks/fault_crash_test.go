package attacks

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/session"
)

// crashChildEnv marks a re-executed test binary as the crash child.
const crashChildEnv = "XCHAT_ATTACKS_CRASH_CHILD"

// crashKey protects the crash test's keystore file.
var crashKey = [32]byte{0xc7, 0xa5, 0x4}

// crashChild is the body of the child process: it reopens the keystore,
// flushes the outbox left by its killed predecessor, then sends texts
// crash-NNNN from XCHAT_CRASH_START on, announcing each attempt ("TRY n")
// before the call and each acknowledged send ("ACK n message_id") after it,
// until it is killed.
func crashChild() {
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "crash child: "+format+"\n", args...)
		os.Exit(3)
	}
	start, err := strconv.Atoi(os.Getenv("XCHAT_CRASH_START"))
	if err != nil {
		fail("start: %v", err)
	}
	ctx := context.Background()
	st, err := boltstore.Open(os.Getenv("XCHAT_CRASH_STORE"), keystore.WithKey(crashKey), keystore.WithLockTimeout(5*time.Second))
	if err != nil {
		fail("open keystore: %v", err)
	}
	c, err := api.New(api.WithBaseURL(os.Getenv("XCHAT_CRASH_URL")), api.WithBearerToken(os.Getenv("XCHAT_CRASH_TOKEN")))
	if err != nil {
		fail("api: %v", err)
	}
	e, err := session.Open(ctx, st, session.NewAPIServer(c))
	if err != nil {
		fail("session: %v", err)
	}
	if _, err := e.FlushOutbox(ctx); err != nil {
		fail("flush: %v", err)
	}
	fmt.Println("READY")
	cid := os.Getenv("XCHAT_CRASH_CONVERSATION")
	for i := start; ; i++ {
		fmt.Printf("TRY %d\n", i)
		s, err := e.SendText(ctx, cid, fmt.Sprintf("crash-%04d", i))
		if err != nil {
			fail("send %d: %v", i, err)
		}
		fmt.Printf("ACK %d %s\n", i, s.MessageID)
	}
}

// TestEngineCrash kills (SIGKILL) a child process sending messages at
// random moments, 20 times (half of them counted from the child's start,
// half from its first acknowledged send). After every kill the keystore file must open
// cleanly and hold every send the child saw acknowledged; at the end, after
// a last flush, every acknowledged message is on the server exactly once
// and no message is duplicated.
func TestEngineCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary 20 times")
	}
	const kills = 20
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	emu := emulator.New()
	srv := httptest.NewServer(emu)
	defer func() { srv.Close(); _ = emu.Close() }()
	w := &world{t: t, ctx: ctx, honest: srv, emu: emu}
	bob := w.newUser("bob", false)
	aliceID, aliceToken := w.provision("alice")
	path := filepath.Join(t.TempDir(), "alice.db")

	openAlice := func() (*boltstore.DB, *session.Engine) {
		t.Helper()
		st, err := boltstore.Open(path, keystore.WithKey(crashKey))
		if err != nil {
			t.Fatalf("keystore does not open after a kill: %v", err)
		}
		e, err := session.Open(ctx, st, session.NewAPIServer(apiClient(t, srv.URL, aliceToken)))
		if err != nil {
			t.Fatalf("engine does not open after a kill: %v", err)
		}
		return st, e
	}
	st, err := boltstore.Open(path, keystore.WithKey(crashKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := session.CreateAccount(ctx, st, aliceID, nil); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	st, e := openAlice()
	if _, err := e.Register(ctx); err != nil {
		t.Fatal(err)
	}
	setup, err := e.SendText(ctx, bob.id, "setup")
	if err != nil {
		t.Fatal(err)
	}
	cid := setup.ConversationID
	_ = e.Close()
	_ = st.Close()

	rng := rand.New(rand.NewPCG(faultSeed, 20))
	acked := map[int]string{} // index -> message id
	next, totalAcks := 0, 0
	for k := range kills {
		cmd, lines, stderr := startChild(ctx, t, crashChildEnv+"=1",
			"XCHAT_CRASH_START="+strconv.Itoa(next), "XCHAT_CRASH_STORE="+path, "XCHAT_CRASH_URL="+srv.URL,
			"XCHAT_CRASH_TOKEN="+aliceToken, "XCHAT_CRASH_CONVERSATION="+cid)
		// Even rounds kill at a random moment from the start: while the
		// child opens the store, flushes its predecessor's outbox or sends.
		// Odd rounds arm the same random delay only once the child's first
		// send was acknowledged, so the kill lands mid-send however slow
		// the machine is (a loaded -race run may need longer than the
		// whole delay to open the store); the context bounds the wait.
		delay := time.Duration(10+rng.IntN(90)) * time.Millisecond
		kill := func() { _ = cmd.Process.Kill() }
		var killer *time.Timer
		if k%2 == 0 {
			killer = time.AfterFunc(delay, kill)
		}
		lastTry := next - 1
		for line := range lines {
			f := strings.Fields(line)
			if len(f) >= 2 {
				i := testutil.Must(strconv.Atoi(f[1]))(t)
				switch f[0] {
				case "TRY":
					lastTry = i
				case "ACK":
					if len(f) < 3 {
						t.Fatalf("child %d: malformed line %q", k, line)
					}
					acked[i] = f[2]
					totalAcks++
					if killer == nil {
						killer = time.AfterFunc(delay, kill)
					}
				}
			}
		}
		_ = cmd.Wait()
		if killer == nil {
			t.Fatalf("child %d ended without acknowledging a send (%v): %s", k, ctx.Err(), stderr.String())
		}
		killer.Stop()
		if strings.Contains(stderr.String(), "crash child:") {
			t.Fatalf("child %d failed: %s", k, stderr.String())
		}
		next = lastTry + 1

		// Restart: the file opens and holds every acknowledged send.
		st, e := openAlice()
		h, err := e.History(ctx, cid, "", 0)
		if err != nil {
			t.Fatalf("history after kill %d: %v", k, err)
		}
		have := map[string]bool{}
		for _, en := range h {
			have[en.MessageID] = true
		}
		for i, mid := range acked {
			if !have[mid] {
				t.Fatalf("after kill %d: acknowledged send crash-%04d (%s) missing from the keystore", k, i, mid)
			}
		}
		_ = e.Close()
		_ = st.Close()
	}

	// Final recovery: flush what the last child left, then count.
	st, e = openAlice()
	if _, err := e.FlushOutbox(ctx); err != nil {
		t.Fatalf("final flush: %v", err)
	}
	pending := testutil.Must(e.Outbox(ctx))(t)
	_ = e.Close()
	_ = st.Close()
	if r := bob.sync(cid); r.err != nil {
		t.Fatal(r.err)
	}
	byText := map[string]int{}
	for _, s := range bob.verifiedTexts(cid) {
		byText[s]++
	}
	lost, dups := 0, 0
	for i := range next {
		c := byText[fmt.Sprintf("crash-%04d", i)]
		if _, ok := acked[i]; ok && c == 0 {
			lost++
		}
		if c > 1 {
			dups += c - 1
		}
	}
	t.Logf("crash: kills=%d sends_attempted=%d acked=%d lost=%d duplicates=%d outbox=%d", kills, next, totalAcks, lost, dups, len(pending))
	addSummary(fmt.Sprintf("crash: kills=%d acked=%d lost=%d duplicates=%d outbox=%d", kills, totalAcks, lost, dups, len(pending)))
	if lost != 0 || dups != 0 || len(pending) != 0 {
		t.Errorf("lost %d, duplicated %d, outbox %d", lost, dups, len(pending))
	}
	if totalAcks == 0 {
		t.Errorf("no send was acknowledged before the kills: the test exercised nothing")
	}
}

// startChild starts this test binary again as a child that runs no test,
// env added to its environment, and returns it, the lines of its standard
// output (the channel closed when the output ends) and its standard error
// (read it once the child is waited for).
func startChild(ctx context.Context, t *testing.T, env ...string) (*exec.Cmd, <-chan string, *strings.Builder) {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	stderr := new(strings.Builder)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return cmd, lines, stderr
}
