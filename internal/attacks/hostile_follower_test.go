package attacks

import (
	"context"
	"sync"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/session/realtime"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on session/realtime's Follower.

var followerAttacks = []attack{
	{"follower-foreign-event-claims-followed-conversation", func(w *world) (string, error) {
		return attackFollowerForeignClaim(w, false)
	}},
	{"follower-foreign-event-claims-no-conversation", func(w *world) (string, error) {
		return attackFollowerForeignClaim(w, true)
	}},
}

// attackFollowerForeignClaim: a Follower limited to one conversation
// (Follower.Conversation, 'xchat watch --conversation') passes Emit only
// that conversation's events, but it told them apart by the conversation
// id each event claims, an unsigned envelope field. Bob follows his
// conversation with carol; the server serves, in his conversation with
// alice (which a push made due for reconciliation), one of alice's
// events relabelled into the followed conversation (or into none), and
// Emit receives it as the followed conversation's.
func attackFollowerForeignClaim(w *world, blank bool) (string, error) {
	d := newDM(w)
	carol := w.newUser("carol", false)
	followed := carol.send(d.bob.id, "c1")[0].ConversationID
	claim := followed
	if blank {
		claim = ""
	}
	w.tamper("relabel", d.mid(1), func(me *tevent.MessageEvent) { me.ConversationID = &claim })
	var mu sync.Mutex
	var foreign []string
	events := make(chan *api.ActivityEvent, 1)
	f := &realtime.Follower{
		Engine:         func(context.Context) (*session.Engine, error) { return d.bob.e, nil },
		Conversation:   followed,
		ReconcileEvery: -1, ReconcileAfter: -1,
		Emit: func(ev *event.Event, _ realtime.Via) error {
			mu.Lock()
			defer mu.Unlock()
			stored, err := d.bob.e.History(w.ctx, followed, "", 0)
			if err != nil {
				return err
			}
			for _, en := range stored {
				if en.SequenceID == ev.SequenceID {
					return nil
				}
			}
			foreign = append(foreign, ev.SequenceID+" claiming "+ev.ConversationID)
			return nil
		},
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(w.ctx, events) }()
	m4 := d.alice.send(d.cid, "m4")[0]
	me, err := encodedOf(w, d.bob, d.cid, m4.MessageID)
	if err != nil {
		return "", err
	}
	push, err := pushOf(d.bob, "m4", me, "", nil)
	if err != nil {
		return "", err
	}
	events <- push
	close(events)
	if err := <-done; err != nil {
		return "", err
	}
	if w.proxy.Hits("relabel") == 0 {
		return "", errorf("setup: the relabelled event was never served")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(foreign) > 0 {
		return "", errorf("a Follower of %s emitted events of another conversation: %v", followed, foreign)
	}
	return "only the followed conversation's events are emitted", nil
}
