package bot_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/bot"
	"github.com/xchat-go/xchat/emulator"
)

// soakSize is the number of messages and conversations of TestSoak:
// XCHAT_BOT_EVENTS (default 1000, 200 with -short) across
// XCHAT_BOT_CONVERSATIONS (default 50, 20 with -short).
func soakSize(t *testing.T) (events, convs int) {
	events, convs = 1000, 50
	if testing.Short() {
		events, convs = 200, 20
	}
	for _, v := range []struct {
		env string
		p   *int
	}{{"XCHAT_BOT_EVENTS", &events}, {"XCHAT_BOT_CONVERSATIONS", &convs}} {
		if s := os.Getenv(v.env); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				t.Fatalf("%s=%q: want a positive number", v.env, s)
			}
			*v.p = n
		}
	}
	if events < convs {
		t.Fatalf("%d events across %d conversations", events, convs)
	}
	return events, convs
}

// soakLog is what the soak's handler saw.
type soakLog struct {
	mu          sync.Mutex
	seen        map[string]int  // message id -> calls
	next        map[string]int  // conversation -> next expected index
	inflight    map[string]bool // conversation -> a handler runs
	violations  []string        // order and overlap violations
	active, max int             // handlers running, and the most at once
	handled     int
	changed     chan struct{}
	// full is closed when workers handlers run at once: until then each
	// conversation's first handler waits, so the pool must fill up.
	full    chan struct{}
	workers int
}

// TestSoak: 1,000 messages from 50 senders, each in its own conversation
// with the bot, sent concurrently while the Activity stream drops,
// duplicates and reorders deliveries. Every message reaches the handler
// exactly once, each conversation's in the order sent, one at a time, in
// WithConcurrency conversations at once and never more (each
// conversation's first handler waits until the pool is full). Prints the
// "bot:" line.
func TestSoak(t *testing.T) {
	total, nconv := soakSize(t)
	n := newNet(t)
	ctx := ctxT(t)
	echobot := n.user("echobot")
	senders := make([]*account, nconv)
	for i := range senders {
		senders[i] = n.user(fmt.Sprintf("sender%02d", i))
	}
	workers := min(8, nconv)
	log := &soakLog{seen: map[string]int{}, next: map[string]int{}, inflight: map[string]bool{}, changed: make(chan struct{}, 1),
		full: make(chan struct{}), workers: workers}
	// Reconciliation every 50 ms fills each gap the stream leaves; the
	// hold is long so that a loaded machine, where a reconciliation can
	// take seconds, never reaches the give-up path (a wall-clock race,
	// tested on its own in TestGapGivenUp): the order asserted here is
	// the one reconciliation restores.
	b := bot.New(echobot.e, bot.WithLogger(quiet()), bot.WithConcurrency(workers), bot.WithReconcile(0, 50*time.Millisecond),
		bot.WithMaxHold(time.Hour))
	var herrs []error
	var hmu sync.Mutex
	b.OnHandlerError(func(_ *bot.Context, err error) { hmu.Lock(); herrs = append(herrs, err); hmu.Unlock() })
	b.Command("n", func(c *bot.Context) error { return log.handle(c) })
	r := start(ctx, b, n.stream(echobot))
	r.waitReady(t, ctx)
	n.emu.SetStreamFaults(emulator.StreamFaults{DropEvery: 7, DuplicateEvery: 5, ReorderEvery: 11})

	per := total / nconv
	var wg sync.WaitGroup
	sent := 0
	for i, s := range senders {
		count := per
		if i < total%nconv {
			count++
		}
		sent += count
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range count {
				if _, err := s.e.SendText(ctx, echobot.id, fmt.Sprintf("!n %d", j)); err != nil {
					t.Errorf("%s sends %d: %v", s.name, j, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if sent != total {
		t.Fatalf("sent %d", sent)
	}
	log.wait(t, ctx, total)
	faults := n.emu.RealtimeStats()
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	log.mu.Lock()
	defer log.mu.Unlock()
	lost, dups := 0, 0
	for _, c := range log.seen {
		if c > 1 {
			dups += c - 1
		}
	}
	lost = total - len(log.seen)
	st := b.Stats()
	line := fmt.Sprintf("bot: %d events, lost %d, duplicates %d, order violations %d", log.handled, lost, dups, len(log.violations))
	t.Log(line)
	t.Logf("%d conversations, at most %d handlers at once (bound %d); stream dropped %d, duplicated %d, reordered %d; gaps given up %d, late %d; handler latency p50 ≤ %gs p99 ≤ %gs, lag p50 ≤ %gs p99 ≤ %gs",
		nconv, log.max, workers, faults.Dropped, faults.Duplicated, faults.Reordered, st.GapsReleased, st.Late,
		st.Latency.Quantile(0.5), st.Latency.Quantile(0.99), st.Lag.Quantile(0.5), st.Lag.Quantile(0.99))
	addSummary(line)
	if lost != 0 || dups != 0 || len(log.violations) != 0 || log.max != workers || st.Unverified != 0 || len(herrs) != 0 {
		t.Fatalf("lost %d, duplicates %d, max parallel %d, unverified %d, handler errors %v, violations %v",
			lost, dups, log.max, st.Unverified, herrs, log.violations)
	}
	if faults.Dropped == 0 || faults.Reordered == 0 || faults.Duplicated == 0 {
		t.Fatalf("the stream faults never fired: %+v", faults)
	}
}

// handle checks order and overlap, then records the message.
func (l *soakLog) handle(c *bot.Context) error {
	idx, err := strconv.Atoi(c.RawArgs())
	if err != nil {
		return err
	}
	conv := c.Conversation()
	l.mu.Lock()
	if l.inflight[conv] {
		l.violations = append(l.violations, "two handlers at once in "+conv)
	}
	l.inflight[conv] = true
	l.active++
	l.max = max(l.max, l.active)
	if want := l.next[conv]; idx != want {
		l.violations = append(l.violations, fmt.Sprintf("%s: message %d after %d", conv, idx, want-1))
	}
	l.next[conv] = idx + 1
	if l.active == l.workers && l.max == l.workers && !closed(l.full) {
		close(l.full)
	}
	l.mu.Unlock()
	if idx == 0 {
		select {
		case <-l.full:
		case <-c.Done():
			return c.Err()
		}
	}

	var reply error
	if idx%10 == 9 { // the bot's own messages join the transcript
		_, reply = c.Reply("ok " + c.RawArgs())
	}

	l.mu.Lock()
	l.inflight[conv] = false
	l.active--
	l.seen[c.MessageID()]++
	l.handled++
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return reply
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// wait waits until total messages were handled.
func (l *soakLog) wait(t *testing.T, ctx context.Context, total int) {
	t.Helper()
	for {
		l.mu.Lock()
		n := len(l.seen)
		l.mu.Unlock()
		if n >= total {
			return
		}
		select {
		case <-l.changed:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("handled %d of %d messages", n, total)
		}
	}
}
