package realtime

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// Via tells how a followed event reached the application.
type Via int

const (
	// ViaPush: delivered by the stream or a webhook (session.Engine.Deliver).
	ViaPush Via = iota
	// ViaReconcile: fetched from /events by a reconciliation (the push
	// missed it, or it was not pushed at all).
	ViaReconcile
)

// String names the path.
func (v Via) String() string {
	if v == ViaReconcile {
		return "reconcile"
	}
	return "push"
}

// Defaults of Follower: the period of the safety-net reconciliation, and
// the delay between a delivery and the reconciliation of its
// conversation.
const (
	DefaultReconcileEvery = 30 * time.Second
	DefaultReconcileAfter = 500 * time.Millisecond
)

// Follower turns a transport's activity events into application events,
// each exactly once: it passes every event to session.Engine.Deliver,
// reconciles the touched conversations with /events after each burst of
// deliveries, and reconciles everything at start, after Resync (a
// reconnection), after the first Missed of each ReconcileEvery period (a
// skipped line, a delivery rejected without a conversation or before its
// group's roster: that group is reconciled in any case), and every
// ReconcileEvery. Configure the fields, then call Run.
type Follower struct {
	// Engine returns the engine to use (it may open it). Required.
	Engine func(ctx context.Context) (*session.Engine, error)
	// Release, when set, is called after IdleRelease without work, so the
	// caller can close the engine (and its keystore) meanwhile; Engine is
	// called again when work comes.
	Release     func()
	IdleRelease time.Duration
	// Emit receives every new event once, with the path it came by, and
	// a message stored failed for want of its key again once its key
	// change opens it (Event.Reopened set: see session.Engine.Sync).
	// An error stops Run, once Emit has seen the rest of the events
	// stored with the failing one (a stored event is not emitted again,
	// so none is skipped).
	Emit func(ev *event.Event, via Via) error
	// Conversation, when set, limits Emit and the full reconciliations to
	// one conversation (deliveries to others are still stored).
	Conversation string
	// ReconcileEvery is the safety-net period (0: DefaultReconcileEvery;
	// negative: never).
	ReconcileEvery time.Duration
	// ReconcileAfter is how long after a delivery the conversations it
	// touched are reconciled (0: DefaultReconcileAfter; negative: at once,
	// after each burst). Deliveries meanwhile join the same round, so a
	// busy conversation costs one /events read per ReconcileAfter, not one
	// per message.
	ReconcileAfter time.Duration
	// OnError, when set, receives failures Run carries on after: a failed
	// reconciliation (retried later), a rejected delivery.
	OnError func(error)
	// OnSync, when set, receives the result of every conversation a
	// reconciliation synced (its Anomalies are the transcript findings),
	// and OnDelivered the outcome of every delivery.
	OnSync      func(*session.SyncResult)
	OnDelivered func(*session.Delivered)

	once   sync.Once
	resync chan struct{}
	// missed: a rejected delivery or Missed asked for a full
	// reconciliation since the last periodic one.
	missed atomic.Bool
	mu     sync.Mutex
	stats  Stats
}

// Stats counts a Follower's work.
type Stats struct {
	// Delivered counts activity events handed to Deliver, by outcome.
	Delivered, Stored, Duplicates, Ignored, Rejected int
	// Pushed and Reconciled count the events emitted by each path.
	Pushed, Reconciled int
	// Reconciles and FullReconciles count reconciliation rounds.
	Reconciles, FullReconciles int
}

func (f *Follower) init() {
	f.once.Do(func() { f.resync = make(chan struct{}, 1) })
}

// Resync asks for a full reconciliation as soon as possible. It never
// blocks; call it when the transport reconnects or skipped a line.
func (f *Follower) Resync() {
	f.init()
	select {
	case f.resync <- struct{}{}:
	default:
	}
}

// Missed reports that something delivered could not be read (a
// transport's skipped line; Run calls it for a rejected delivery): it asks
// for a full reconciliation like Resync, but once per ReconcileEvery
// period (once for good when ReconcileEvery is negative), so that a
// server sending junk cannot buy a full reconciliation — the
// conversation listing and every conversation's /events — with each line.
// It never blocks.
func (f *Follower) Missed() {
	if f.missed.CompareAndSwap(false, true) {
		f.Resync()
	}
}

// Stats returns the counters.
func (f *Follower) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

func (f *Follower) count(fn func(*Stats)) {
	f.mu.Lock()
	fn(&f.stats)
	f.mu.Unlock()
}

// Run follows events until ctx ends or events is closed (a final
// reconciliation then runs). It starts with a full reconciliation, whose
// failure is returned.
func (f *Follower) Run(ctx context.Context, events <-chan *api.ActivityEvent) error {
	f.init()
	if f.Engine == nil {
		return errors.New("session: Follower needs Engine")
	}
	every := f.ReconcileEvery
	if every == 0 {
		every = DefaultReconcileEvery
	}
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	after := f.ReconcileAfter
	if after == 0 {
		after = DefaultReconcileAfter
	}
	idle := stoppedTimer()
	defer idle.Stop()
	due := stoppedTimer() // the pending reconciliation of delivered-to conversations
	defer due.Stop()
	dueSet := false
	defer f.release()
	if err := f.full(ctx); err != nil {
		return unwrapEmit(err)
	}
	f.armIdle(idle)
	for {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return unwrapEmit(f.full(ctx))
			}
			if err = f.burst(ctx, ev, events); err == nil {
				switch {
				case after < 0:
					err = f.reconcilePending(ctx)
				case !dueSet:
					due.Reset(after)
					dueSet = true
				}
			}
		case <-due.C:
			dueSet = false
			err = f.reconcilePending(ctx)
		case <-f.resync:
			err = f.fullSoft(ctx)
		case <-tick:
			f.missed.Store(false)
			err = f.fullSoft(ctx)
		case <-idle.C:
			if dueSet {
				continue // reconcile before letting the engine go
			}
			f.release()
			continue
		}
		if err != nil {
			return err
		}
		f.armIdle(idle)
	}
}

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

func (f *Follower) armIdle(t *time.Timer) {
	if f.Release != nil && f.IdleRelease > 0 {
		t.Reset(f.IdleRelease)
	}
}

func (f *Follower) release() {
	if f.Release != nil {
		f.Release()
	}
}

func (f *Follower) report(err error) {
	if err != nil && f.OnError != nil {
		f.OnError(err)
	}
}

// emitter returns the fn given to Deliver and Sync.
func (f *Follower) emitter(via Via) func(*event.Event) error {
	return func(ev *event.Event) error {
		// The engine hands every event over under the conversation it is
		// stored in; one naming none is not the followed conversation's.
		if f.Conversation != "" && ev.ConversationID != f.Conversation {
			return nil
		}
		f.count(func(s *Stats) {
			if via == ViaPush {
				s.Pushed++
			} else {
				s.Reconciled++
			}
		})
		if f.Emit == nil {
			return nil
		}
		return f.Emit(ev, via)
	}
}

// emitError tells an error returned by Emit (which stops Run) from the
// engine's own.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }
func (e *emitError) Unwrap() error { return e.err }

func (f *Follower) wrappedEmitter(via Via) func(*event.Event) error {
	emit := f.emitter(via)
	return func(ev *event.Event) error {
		if err := emit(ev); err != nil {
			return &emitError{err}
		}
		return nil
	}
}

// burst delivers ev and every event already waiting.
func (f *Follower) burst(ctx context.Context, ev *api.ActivityEvent, events <-chan *api.ActivityEvent) error {
	e, err := f.Engine(ctx)
	if err != nil {
		f.report(err)
		f.Resync()
		return nil
	}
	const maxBurst = 256
	for n := 0; ; n++ {
		if err := f.deliver(ctx, e, ev); err != nil {
			return err
		}
		if n+1 >= maxBurst {
			break
		}
		var ok bool
		select {
		case ev, ok = <-events:
			if !ok {
				return nil // Run's next receive sees the close
			}
			continue
		default:
		}
		break
	}
	return nil
}

// reconcilePending reconciles the conversations delivered to since the
// last round.
func (f *Follower) reconcilePending(ctx context.Context) error {
	e, err := f.Engine(ctx)
	if err != nil {
		f.report(err)
		f.Resync()
		return nil
	}
	f.count(func(s *Stats) { s.Reconciles++ })
	res, err := e.Reconcile(ctx, f.wrappedEmitter(ViaReconcile))
	f.results(res)
	return f.settle(ctx, err)
}

func (f *Follower) results(res []*session.SyncResult) {
	if f.OnSync == nil {
		return
	}
	for _, r := range res {
		f.OnSync(r)
	}
}

func (f *Follower) deliver(ctx context.Context, e *session.Engine, ev *api.ActivityEvent) error {
	d, err := e.Deliver(ctx, ev, f.wrappedEmitter(ViaPush))
	defer func() {
		if d != nil && f.OnDelivered != nil {
			f.OnDelivered(d)
		}
	}()
	f.count(func(s *Stats) {
		s.Delivered++
		if d == nil {
			return
		}
		switch d.Status {
		case session.DeliveryStored:
			s.Stored++
		case session.DeliveryDuplicate:
			s.Duplicates++
		case session.DeliveryIgnored:
			s.Ignored++
		case session.DeliveryRejected:
			s.Rejected++
		}
	})
	if d != nil && d.Status == session.DeliveryRejected {
		f.report(d.Err)
		if d.ConversationID == "" || errors.Is(d.Err, xchat.ErrRosterUnknown) {
			// The conversation is unknown (look everywhere), or its
			// push waits for a sync of the group (it is also pending).
			f.Missed()
		}
	}
	return f.settle(ctx, err)
}

// settle turns an engine error into a report (and a later full
// reconciliation); Emit's errors and the context's end stop Run.
func (f *Follower) settle(ctx context.Context, err error) error {
	var ee *emitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return ee.err
	case ctx.Err() != nil:
		return nil
	}
	f.report(err)
	f.Resync()
	return nil
}

// full reconciles everything (or the followed conversation); Emit's errors
// come back wrapped (see unwrapEmit).
func (f *Follower) full(ctx context.Context) error {
	e, err := f.Engine(ctx)
	if err != nil {
		return err
	}
	f.count(func(s *Stats) { s.FullReconciles++ })
	var res []*session.SyncResult
	if f.Conversation != "" {
		res, err = e.Reconcile(ctx, f.wrappedEmitter(ViaReconcile), f.Conversation)
	} else {
		res, err = reconcileAll(ctx, e, f.wrappedEmitter(ViaReconcile))
	}
	f.results(res)
	return err
}

// reconcileAll refreshes the conversation list and reconciles every
// conversation (and any still pending), passing fn the events not stored
// before: what a transport may have missed while it was disconnected,
// whichever conversation it was in. A listing past the engine's bound
// (session.ErrListingNotKept) still reconciles the conversations stored.
func reconcileAll(ctx context.Context, e *session.Engine, fn func(*event.Event) error) ([]*session.SyncResult, error) {
	convs, lerr := e.RefreshConversations(ctx)
	if lerr != nil && !errors.Is(lerr, session.ErrListingNotKept) {
		return nil, lerr
	}
	ids := make([]string, len(convs))
	for i, c := range convs {
		ids[i] = c.ID
	}
	res, err := e.Reconcile(ctx, fn, ids...)
	return res, errors.Join(lerr, err)
}

// unwrapEmit returns Emit's own error when err carries one.
func unwrapEmit(err error) error {
	var ee *emitError
	if errors.As(err, &ee) {
		return ee.err
	}
	return err
}

// fullSoft is full with failures reported instead of returned.
func (f *Follower) fullSoft(ctx context.Context) error {
	err := f.full(ctx)
	var ee *emitError
	if errors.As(err, &ee) {
		return ee.err
	}
	if err != nil && ctx.Err() == nil {
		f.report(err)
	}
	return nil
}
