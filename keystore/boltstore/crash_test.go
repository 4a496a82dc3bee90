package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	bolt "go.etcd.io/bbolt"
)

// The crash test re-executes the test binary as a writer process
// (TestHelperProcess), kills it with SIGKILL at a random moment, reopens the
// store and checks that every write the child acknowledged (printed after
// its transaction committed) is present and decrypts, and that the one write
// that may have been in flight is either entirely present or entirely absent.
//
// A write that committed but whose acknowledgement was cut off by the kill is
// found by the recovery check (the counter is one past the last ack); from
// then on it counts as committed, so the next round's window of one in-flight
// write starts after it and not after the last printed ack.

const (
	crashEnv     = "KEYSTORE_CRASH_HELPER"
	crashPathEnv = "KEYSTORE_CRASH_PATH"
	crashPass    = "crash passphrase"
)

var crashOpts = []keystore.Option{keystore.WithPassphrase([]byte(crashPass)), keystore.WithArgon2Params(testParams)}

// crashWrite performs write number i as one transaction. The kinds cycle so
// every record type and the ack-plus-event pattern are exercised.
func crashWrite(s keystore.Store, i int) error {
	ctx := bg()
	return s.Update(ctx, func(tx keystore.Tx) error {
		switch i % 4 {
		case 0: // a batch of three events plus the sync position
			conv := fmt.Sprintf("c%d", i%3)
			var evs []keystore.StoredEvent
			for j := 1; j <= 3; j++ {
				seq := strconv.Itoa(3*i + j)
				evs = append(evs, keystore.StoredEvent{SequenceID: seq, MessageID: "m" + seq, Body: []byte("body " + seq + strings.Repeat("x", 200))})
			}
			if err := tx.PutEvents(ctx, conv, evs); err != nil {
				return err
			}
			if err := tx.PutConversation(ctx, &keystore.Conversation{ID: conv, Sync: keystore.SyncState{LastSequenceID: strconv.Itoa(3*i + 3)}}); err != nil {
				return err
			}
		case 1:
			var k keystore.SecretKey
			copy(k[:], fmt.Sprintf("key-%028d", i))
			if err := tx.PutConversationKey(ctx, keystore.ConversationKey{ConversationID: "k", Version: strconv.Itoa(i), Key: k}); err != nil {
				return err
			}
		case 2:
			if err := tx.PutOutbox(ctx, keystore.OutboxItem{MessageID: fmt.Sprintf("o%d", i), ConversationID: "sent", Body: []byte(fmt.Sprintf("prepared %d", i))}); err != nil {
				return err
			}
		case 3: // acknowledge the previous send and store the server's event
			if err := tx.AckOutbox(ctx, fmt.Sprintf("o%d", i-1)); err != nil {
				return err
			}
			if err := tx.PutEvents(ctx, "sent", []keystore.StoredEvent{{SequenceID: strconv.Itoa(i), MessageID: fmt.Sprintf("o%d", i-1), Body: []byte("sent")}}); err != nil {
				return err
			}
		}
		return tx.SetValue(ctx, "counter", []byte(strconv.Itoa(i)))
	})
}

// crashCheck reports whether write i is visible, and fails on partial
// writes or undecryptable records.
func crashCheck(s keystore.Store, i int) (present bool, err error) {
	ctx := bg()
	switch i % 4 {
	case 0:
		conv := fmt.Sprintf("c%d", i%3)
		evs, err := s.Events(ctx, conv, strconv.Itoa(3*i), 3)
		if err != nil {
			return false, err
		}
		n := 0
		for _, e := range evs {
			seq, err := strconv.Atoi(e.SequenceID)
			if err != nil {
				return false, fmt.Errorf("write %d: sequence id %q: %w", i, e.SequenceID, err)
			}
			if seq > 3*i && seq <= 3*i+3 {
				if !strings.HasPrefix(string(e.Body), "body "+e.SequenceID) {
					return false, fmt.Errorf("write %d: event %s has body %.20q", i, e.SequenceID, e.Body)
				}
				n++
			}
		}
		if n != 0 && n != 3 {
			return false, fmt.Errorf("write %d: partial batch, %d of 3 events", i, n)
		}
		return n == 3, nil
	case 1:
		k, err := s.ConversationKey(ctx, "k", strconv.Itoa(i))
		if errors.Is(err, keystore.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if string(k.Key[:]) != fmt.Sprintf("key-%028d", i) {
			return false, fmt.Errorf("write %d: wrong key bytes", i)
		}
		return true, nil
	case 2: // the item is either still queued or already acknowledged
		items, err := s.Outbox(ctx)
		if err != nil {
			return false, err
		}
		for _, it := range items {
			if it.MessageID == fmt.Sprintf("o%d", i) {
				return string(it.Body) == fmt.Sprintf("prepared %d", i), nil
			}
		}
		_, err = s.EventByMessageID(ctx, "sent", fmt.Sprintf("o%d", i))
		if errors.Is(err, keystore.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	default:
		e, err := s.EventByMessageID(ctx, "sent", fmt.Sprintf("o%d", i-1))
		if errors.Is(err, keystore.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		items, err := s.Outbox(ctx)
		if err != nil {
			return false, err
		}
		for _, it := range items {
			if it.MessageID == fmt.Sprintf("o%d", i-1) {
				return false, fmt.Errorf("write %d: event stored but outbox item not acknowledged", i)
			}
		}
		return e.SequenceID == strconv.Itoa(i), nil
	}
}

// TestHelperProcess is the crash test's writer child; it does nothing in a
// normal test run.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(crashEnv) != "1" {
		t.Skip("helper process for TestCrashRecovery")
	}
	db, err := Open(os.Getenv(crashPathEnv), crashOpts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	next := 0
	if v, err := db.Value(bg(), "counter"); err == nil {
		n := testutil.Must(strconv.Atoi(string(v)))(t)
		next = n + 1
	}
	for i := next; ; i++ {
		if err := crashWrite(db, i); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(3)
		}
		// Acknowledged only now that the transaction has committed.
		fmt.Fprintf(os.Stdout, "ack %d\n", i)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func TestCrashRecovery(t *testing.T) {
	if os.Getenv(crashEnv) == "1" {
		t.Skip("inside the helper")
	}
	rounds := 100
	if testing.Short() {
		rounds = 30
	}
	rng := rand.New(rand.NewPCG(20261122, 1))
	path := filepath.Join(t.TempDir(), "crash.db")
	lastAcked := -1
	kills, acks, early, unacked := 0, 0, 0, 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), crashEnv+"=1", crashPathEnv+"="+path)
		var stdout, stderr lockedBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill anywhere from during process start-up and Open to deep in
		// the write loop.
		time.Sleep(time.Duration(rng.IntN(120_000)) * time.Microsecond)
		_ = cmd.Process.Kill() // SIGKILL
		err := cmd.Wait()
		if err == nil {
			t.Fatalf("round %d: child exited cleanly", round)
		}
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.Exited() {
			t.Fatalf("round %d: child failed on its own (%v): %s", round, err, stderr.b.String())
		}
		kills++
		roundAcks := 0
		for _, line := range strings.Split(stdout.b.String(), "\n") {
			if n, ok := strings.CutPrefix(line, "ack "); ok {
				i, err := strconv.Atoi(n)
				if err != nil {
					continue // a torn final line
				}
				if i <= lastAcked {
					t.Fatalf("round %d: child re-acknowledged write %d (last %d)", round, i, lastAcked)
				}
				roundAcks++
				lastAcked = i
				acks++
			}
		}
		if roundAcks == 0 {
			early++
		}
		// The recovered counter may be one past the last ack (committed,
		// killed before printing): that write is durable from now on.
		committed := verifyCrashStore(t, path, round, lastAcked)
		if committed > lastAcked {
			unacked++
		}
		lastAcked = committed
	}
	t.Logf("crash test: %d rounds, %d SIGKILLs (%d before the first acknowledgement of the round, %d between a commit and its ack), %d acknowledged writes, all present after recovery",
		rounds, kills, early, unacked, acks)
	if acks == 0 {
		t.Fatal("no write was ever acknowledged; the test proved nothing")
	}
}

// verifyCrashStore checks the store after a kill and returns the index of
// the last committed write (the recovered counter, -1 for none): at least
// lastAcked, at most one more.
func verifyCrashStore(t *testing.T, path string, round, lastAcked int) int {
	t.Helper()
	if _, err := os.Stat(path); os.IsNotExist(err) {
		if lastAcked >= 0 {
			t.Fatalf("round %d: store file missing after %d acks", round, lastAcked+1)
		}
		return lastAcked
	}
	// Structural check of the B+tree first.
	raw, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("round %d: bbolt open: %v", round, err)
	}
	err = raw.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	_ = raw.Close()
	if err != nil {
		t.Fatalf("round %d: bbolt consistency: %v", round, err)
	}

	db, err := Open(path, crashOpts...)
	if err != nil {
		t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
	}
	defer db.Close()
	counter := -1
	if v, err := db.Value(bg(), "counter"); err == nil {
		counter = testutil.Must(strconv.Atoi(string(v)))(t)
	} else if !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("round %d: counter: %v", round, err)
	}
	if counter < lastAcked || counter > lastAcked+1 {
		t.Fatalf("round %d: counter %d, last acknowledged %d", round, counter, lastAcked)
	}
	for i := 0; i <= counter; i++ {
		present, err := crashCheck(db, i)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !present {
			t.Fatalf("round %d: committed write %d (last acknowledged %d) is missing", round, i, lastAcked)
		}
	}
	// The write after the counter must not be visible at all.
	if present, err := crashCheck(db, counter+1); err != nil || present {
		t.Fatalf("round %d: write %d beyond the counter: present=%v err=%v", round, counter+1, present, err)
	}
	return counter
}
