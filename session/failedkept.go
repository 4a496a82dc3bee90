package session

import (
	"context"
	"encoding/json"
	"errors"
	"math"
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
// record of its own, and the engine keeps failedTotalFactor times that
// across all conversations; a failed event past either is passed to the callback
// but not stored, and reported (AnomalyFailedNotKept). Honest traffic
// does not fail, so it never meets the allowance; verified events are
// never charged to it.

// failedKeptKey names the record of cid's allowance; failedKeptAll that
// of the engine's.
func failedKeptKey(cid string) string { return "session/failed-kept/" + cid }

const failedKeptAll = "session/failed-kept-all"

// failedTotalFactor is how many conversations' allowances the engine's
// own allowance holds: a server can make conversations without end (a
// conversation is recorded once something of it is stored, and the
// server can fabricate peers whose events verify: it serves their keys),
// so the failed events kept across all of them are bounded too — by
// 16,384 events and 256 MiB by default. A failed event of a one-to-one
// conversation not recorded yet is not kept at all (see storeEvent).
const failedTotalFactor = 16

// failedKept is what an allowance has spent: the failed events kept and
// their encoded size.
type failedKept struct {
	Events int   `json:"events"`
	Bytes  int64 `json:"bytes"`
}

// errFailedNotKept is storeEvent's answer for a failed event past its
// conversation's allowance (or the engine's): it is not stored.
var errFailedNotKept = errors.New("session: failed event past the allowance of kept failed events: not kept")

// chargeFailed charges ev, when it failed, to cid's allowance and the
// engine's, or returns errFailedNotKept when either has no room for it.
func (e *Engine) chargeFailed(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) error {
	if ev.Err == nil {
		return nil
	}
	size := int64(len(ev.Raw))
	conv, err := readFailedKept(ctx, tx, failedKeptKey(cid))
	if err != nil {
		return err
	}
	all, err := readFailedKept(ctx, tx, failedKeptAll)
	if err != nil {
		return err
	}
	if !conv.room(size, e.cfg.maxFailedEvents, e.cfg.maxFailedBytes) ||
		!all.room(size, failedTotalFactor*e.cfg.maxFailedEvents, failedTotalFactor*e.cfg.maxFailedBytes) {
		return errFailedNotKept
	}
	if err := conv.spend(ctx, tx, failedKeptKey(cid), size); err != nil {
		return err
	}
	return all.spend(ctx, tx, failedKeptAll, size)
}

// readFailedKept reads an allowance record. One that does not read back
// counts as spent: when in doubt, keep no more.
func readFailedKept(ctx context.Context, tx keystore.Tx, name string) (failedKept, error) {
	var k failedKept
	raw, err := tx.Value(ctx, name)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return k, nil
	case err != nil:
		return k, err
	case json.Unmarshal(raw, &k) != nil || k.Events < 0 || k.Bytes < 0:
		return failedKept{Events: math.MaxInt, Bytes: math.MaxInt64}, nil
	}
	return k, nil
}

// room reports whether one more failed event of size bytes fits.
func (k failedKept) room(size int64, events int, bytes int64) bool {
	return k.Events < events && k.Bytes <= bytes-size
}

// spend records one more failed event of size bytes under name.
func (k failedKept) spend(ctx context.Context, tx keystore.Tx, name string, size int64) error {
	k.Events++
	k.Bytes += size
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	return tx.SetValue(ctx, name, b)
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
