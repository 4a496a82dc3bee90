// Package replicas is a small reply bot run as several replicas of one
// account on a shared PostgreSQL keystore: the workload of the multi-replica
// tests and benchmarks of issue #19. Each replica walks the account's
// conversations; a conversation is worked on by whichever replica takes its
// lease, which first finishes the conversation's pending sends (a dead
// replica's among them), then syncs it and answers every "ask:N" message
// with "re:N", exactly once and in order.
package replicas

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
)

// Ask and Reply are the texts the bot answers and answers with.
const (
	AskPrefix   = "ask:"
	ReplyPrefix = "re:"
)

// Stats counts what one replica did.
type Stats struct {
	Synced   int64 `json:"synced"`   // events received by its syncs
	Replies  int64 `json:"replies"`  // replies it sent
	Flushed  int64 `json:"flushed"`  // pending sends it delivered for others or itself
	Busy     int64 `json:"busy"`     // conversations skipped because another replica had them
	Failures int64 `json:"failures"` // passes over a conversation that failed (server or database away)
}

// Worker is one replica's bot.
type Worker struct {
	// Engine is the replica's engine; its store must be a keystore.Leaser.
	Engine *session.Engine
	// Conversations are the canonical ids the bot serves.
	Conversations []string
	// Log receives one line per failure (nil: discarded).
	Log func(format string, args ...any)

	synced, replies, flushed, busy, failures, passes atomic.Int64
}

// Stats returns the counts so far.
func (w *Worker) Stats() Stats {
	return Stats{Synced: w.synced.Load(), Replies: w.replies.Load(), Flushed: w.flushed.Load(),
		Busy: w.busy.Load(), Failures: w.failures.Load()}
}

// workLease names the bot's lease on a conversation.
func workLease(cid string) string { return "bot/" + cid }

// handledKey is where the bot keeps, per conversation, the sequence id of
// the last message it has dealt with.
func handledKey(cid string) string { return "bot/handled/" + cid }

// Pass is what one walk over the conversations did.
type Pass struct {
	// Progress reports that something was received, replied or flushed.
	Progress bool
	// Unserved counts the conversations left alone: another replica had
	// them (or part of their outbox), or serving them failed.
	Unserved int
}

// Pass walks every conversation once, starting at a different one each
// time so replicas meet less.
func (w *Worker) Pass(ctx context.Context) (Pass, error) {
	var p Pass
	leaser, ok := w.Engine.Store().(keystore.Leaser)
	if !ok {
		return p, fmt.Errorf("replicas: store %T cannot lease", w.Engine.Store())
	}
	start := int(w.passes.Add(1))
	for i := range w.Conversations {
		cid := w.Conversations[(start+i)%len(w.Conversations)]
		if ctx.Err() != nil {
			return p, ctx.Err()
		}
		release, ok, err := leaser.TryLease(ctx, workLease(cid))
		if err != nil || !ok {
			if err != nil {
				w.fail("lease %s: %v", cid, err)
			} else {
				w.busy.Add(1)
			}
			p.Unserved++
			continue
		}
		did, busy, err := w.serve(ctx, cid)
		release()
		p.Progress = p.Progress || did
		if err != nil {
			w.fail("%s: %v", cid, err)
		}
		if busy || err != nil {
			p.Unserved++
		}
	}
	return p, nil
}

func (w *Worker) fail(format string, args ...any) {
	w.failures.Add(1)
	if w.Log != nil {
		w.Log(format, args...)
	}
}

// serve works on one conversation while holding its lease; busy reports
// that another replica still holds part of its outbox.
func (w *Worker) serve(ctx context.Context, cid string) (progress, busy bool, err error) {
	e := w.Engine
	flushed, err := e.FlushOutbox(ctx, cid)
	w.flushed.Add(int64(len(flushed)))
	if errors.Is(err, xchat.ErrOutboxBusy) {
		w.busy.Add(1)
		return len(flushed) > 0, true, nil
	}
	if err != nil {
		return len(flushed) > 0, false, fmt.Errorf("flushing: %w", err)
	}
	res, err := e.Sync(ctx, cid, nil)
	if err != nil {
		return len(flushed) > 0, false, fmt.Errorf("syncing: %w", err)
	}
	w.synced.Add(int64(len(res.Entries)))
	n, err := w.answer(ctx, cid)
	return len(flushed) > 0 || len(res.Entries) > 0 || n > 0, false, err
}

// answer replies to the asks after the conversation's handled mark. A
// reply already in the history after the mark (sent by a replica that died
// before moving the mark) is not sent again.
func (w *Worker) answer(ctx context.Context, cid string) (int, error) {
	e := w.Engine
	handled, err := e.Store().Value(ctx, handledKey(cid))
	if err != nil && !errors.Is(err, keystore.ErrNotFound) {
		return 0, err
	}
	hist, err := e.History(ctx, cid, string(handled), 0)
	if err != nil {
		return 0, err
	}
	replied := map[string]bool{}
	for _, en := range hist {
		if en.SenderID == e.UserID() && strings.HasPrefix(en.Text, ReplyPrefix) {
			replied[strings.TrimPrefix(en.Text, ReplyPrefix)] = true
		}
	}
	sent := 0
	for _, en := range hist {
		if en.SenderID == e.UserID() {
			continue
		}
		if n, ok := strings.CutPrefix(en.Text, AskPrefix); ok && en.Verified && !replied[n] {
			if _, err := e.SendText(ctx, cid, ReplyPrefix+n); err != nil {
				return sent, fmt.Errorf("replying to %s: %w", en.SequenceID, err)
			}
			w.replies.Add(1)
			sent++
		}
		if err := e.Store().SetValue(ctx, handledKey(cid), []byte(en.SequenceID)); err != nil {
			return sent, err
		}
	}
	return sent, nil
}
