package session

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// The failed-event allowance of a conversation. Which events fail is the
// server's choice: it can forge events without end, each under a fresh
// sequence id, by sync (bounded per sync only, see WithMaxSyncBytes) and
// by push (not bounded at all), and a failed event was stored with its
// bytes. So each conversation keeps failed events up to an allowance
// (WithMaxFailedEvents: 1,024 events and 16 MiB by default), counted in a
// record of its own; a failed event past it is passed to the callback
// but not stored, and reported (AnomalyFailedNotKept). Honest traffic
// does not fail, so it never meets the allowance; verified events are
// never charged to it.

// failedKeptKey names the record of cid's allowance.
func failedKeptKey(cid string) string { return "session/failed-kept/" + cid }

// failedKept is what a conversation's allowance has spent: the failed
// events kept and their encoded size.
type failedKept struct {
	Events int   `json:"events"`
	Bytes  int64 `json:"bytes"`
}

// errFailedNotKept is storeEvent's answer for a failed event past its
// conversation's allowance: it is not stored.
var errFailedNotKept = errors.New("session: failed event past the conversation's allowance: not kept")

// chargeFailed charges ev, when it failed, to cid's allowance, or returns
// errFailedNotKept when the allowance has no room for it. A record that
// does not read back counts as spent: when in doubt, keep no more.
func (e *Engine) chargeFailed(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	if ev.Err == nil {
		return nil
	}
	var spent failedKept
	raw, err := tx.Value(ctx, failedKeptKey(cid))
	switch {
	case errors.Is(err, keystore.ErrNotFound):
	case err != nil:
		return err
	case json.Unmarshal(raw, &spent) != nil || spent.Events < 0 || spent.Bytes < 0:
		return errFailedNotKept
	}
	size := int64(len(ev.Raw))
	if spent.Events >= e.cfg.maxFailedEvents || spent.Bytes+size > e.cfg.maxFailedBytes {
		return errFailedNotKept
	}
	spent.Events++
	spent.Bytes += size
	b, err := json.Marshal(spent)
	if err != nil {
		return err
	}
	return tx.SetValue(ctx, failedKeptKey(cid), b)
}

// reportNotKept reports the failed events of one storing step that were
// not kept (their sequence ids, as storeEventsTx recorded them in pass):
// one AnomalyFailedNotKept naming the first and, in Related, how many.
func (s *syncState) reportNotKept() {
	if n := len(s.pass.notKept); n > 0 {
		s.res.Anomalies = append(s.res.Anomalies, event.Anomaly{Kind: event.AnomalyFailedNotKept, ConversationID: s.cid,
			SequenceID: s.pass.notKept[0], Related: strconv.Itoa(n)})
	}
	s.pass.notKept = nil
}
