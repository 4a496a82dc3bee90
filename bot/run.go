package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/session/realtime"
)

// readyEventType is the type of the marker event Run queues ahead of the
// source's events: the Follower reads events only after its first full
// reconciliation, so the marker's (ignored) delivery means that one is
// done.
const readyEventType = "xchat.bot.ready"

// Run follows the account's events from src and hands them to the
// handlers until ctx ends, then drains the handlers in flight (see
// WithDrain) and returns nil. It returns early with an error when the
// bot cannot start (configuration, keystore) or the source ends for good.
//
// Run reconciles every conversation with /events before the first push is
// handled, after reconnections and every WithReconcile period, so what
// the transport misses is fetched; until the first reconciliation
// succeeds it retries with back-off (Ready stays false).
func (b *Bot) Run(ctx context.Context, src Source) error {
	if src == nil {
		return fmt.Errorf("%w: no source", ErrConfig)
	}
	if err := b.cfg.validate(); err != nil {
		return err
	}
	if !b.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer b.running.Store(false)
	defer b.ready.Store(false)
	defer b.connected.Store(false)

	epoch, err := loadEpoch(ctx, b.e.Store(), b.cfg.now())
	if err != nil {
		return err
	}
	convs, err := b.e.Conversations(ctx)
	if err != nil {
		return fmt.Errorf("bot: listing conversations: %w", err)
	}
	r := newRun(ctx, b, epoch)
	r.start()
	defer b.shutdown(r)
	for _, c := range convs {
		r.wake(c.ID) // what a previous run left unhandled
	}
	b.cfg.logger.Info("bot: starting", "user_id", b.e.UserID(), "conversations", len(convs), "first_run", epoch)

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	marker := newMarker()
	f := b.follower(r, marker, src)
	var fatal atomic.Pointer[error]
	events, err := src.Open(sctx, b.e.UserID(), Hooks{
		Resync:    f.Resync,
		Missed:    f.Missed,
		Connected: b.connected.Store,
		Error:     b.reportError,
		Fatal: func(err error) {
			fatal.Store(&err)
			b.reportError(err)
		},
	})
	if err != nil {
		return err
	}
	feed, ended := withMarker(sctx, marker, events)
	for backoff := time.Second; ; backoff = min(2*backoff, 30*time.Second) {
		err := f.Run(sctx, feed)
		switch {
		case ctx.Err() != nil:
			return nil
		case ended.Load():
			if p := fatal.Load(); p != nil {
				return *p
			}
			return err
		case err == nil:
			return nil
		}
		b.reportError(fmt.Errorf("bot: reconciling with /events: %w (retrying in %v)", err, backoff))
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// shutdown stops the dispatch and drains the handlers in flight.
func (b *Bot) shutdown(r *run) {
	r.stop()
	if !r.drain(b.cfg.drain) {
		b.cfg.logger.Error("bot: handlers still running after the drain; giving up on them")
	}
	b.cfg.logger.Info("bot: stopped", "handled", b.m.handled.Load(), "failed", b.m.failed.Load())
}

func newMarker() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "xchat-bot-ready"
	}
	return "xchat-bot-ready-" + hex.EncodeToString(b[:])
}

// withMarker returns a channel carrying the marker event first, then
// events; ended is set when events closes.
func withMarker(ctx context.Context, marker string, events <-chan *api.ActivityEvent) (<-chan *api.ActivityEvent, *atomic.Bool) {
	out := make(chan *api.ActivityEvent, 1)
	out <- &api.ActivityEvent{EventUUID: api.StringOrNumber(marker), EventType: readyEventType}
	var ended atomic.Bool
	go func() {
		defer close(out)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					ended.Store(true)
					return
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, &ended
}

// follower builds the realtime.Follower feeding r.
func (b *Bot) follower(r *run, marker string, src Source) *realtime.Follower {
	kc := &keyChanges{b: b, ctx: r.storeCtx}
	f := &realtime.Follower{
		Engine:         func(context.Context) (*session.Engine, error) { return b.e, nil },
		Emit:           func(ev *event.Event, _ realtime.Via) error { r.emitted(ev); return nil },
		ReconcileEvery: b.cfg.reconcileEvery,
		ReconcileAfter: b.cfg.reconcileAfter,
		OnError:        b.reportError,
		OnSync: func(res *session.SyncResult) {
			b.anomalies(res.ConversationID, res.Anomalies)
			kc.report(res.KeyChanges)
			r.reconciled(res.ConversationID, res.NewestSequenceID)
		},
		OnDelivered: func(d *session.Delivered) {
			if d.EventUUID == marker && d.EventType == readyEventType {
				if !b.ready.Swap(true) {
					b.cfg.logger.Info("bot: ready")
				}
				return
			}
			b.anomalies(d.ConversationID, d.Anomalies)
			kc.report(d.KeyChanges)
			r.wake(d.ConversationID)
		},
	}
	if p, ok := src.(interface{ pollEvery() time.Duration }); ok {
		f.ReconcileEvery = p.pollEvery()
	}
	return f
}

// anomalies logs transcript findings (gaps, forks, conflicting copies).
func (b *Bot) anomalies(cid string, as []event.Anomaly) {
	for _, a := range as {
		b.cfg.logger.Warn("bot: transcript anomaly", "conversation", cid, "anomaly", a.String())
	}
}

// keyChanges hands peer key changes to OnKeyChange, each once: the same
// change comes back in the result of every conversation with that peer,
// so a change among the last few reported for its user is skipped. At
// most keyChangesPerUser per user, not every change ever seen: versions
// are the server's to invent, and a long-running bot must not keep them
// all.
type keyChanges struct {
	b    *Bot
	ctx  context.Context
	mu   sync.Mutex
	last map[string][]string // user id → the changes last reported, oldest first
}

// keyChangesPerUser is how many of a user's reported changes keyChanges
// remembers.
const keyChangesPerUser = 8

func (k *keyChanges) report(kcs []session.KeyChanged) {
	for _, kc := range kcs {
		id := string(kc.Kind)
		if kc.New != nil {
			id += "/" + kc.New.Version
		}
		k.mu.Lock()
		if k.last == nil {
			k.last = map[string][]string{}
		}
		recent := k.last[kc.UserID]
		dup := slices.Contains(recent, id)
		if !dup {
			if len(recent) == keyChangesPerUser {
				recent = recent[1:]
			}
			k.last[kc.UserID] = append(recent, id)
		}
		k.mu.Unlock()
		if dup {
			continue
		}
		k.b.m.keyChanges.Add(1)
		k.b.mu.RLock()
		fn := k.b.onKey
		k.b.mu.RUnlock()
		k.b.cfg.logger.Warn("bot: a peer's keys changed", "user_id", kc.UserID, "kind", string(kc.Kind), "pinned", kc.Pinned)
		if fn != nil {
			safeCall(k.b.cfg.logger, func() { fn(k.ctx, kc) })
		}
	}
}
