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
// but not stored, and reported (AnomalyFailedNotKept). Verified events
// are never charged to it (every other event is: one of a kind no sender
// signs, a Grok notification say, is the server's word as much as a failed
// one); each one stored renews it instead: it gives one
// failed event and failedCredit bytes back to its conversation's allowance
// and to the engine's (never below nothing spent). So an account whose
// peers honestly fail now and then (a broken client) keeps storing their
// failed events for ever, while what a server alone can make fail is
// bounded: the failed events kept are at most the allowance plus one event
// (and maxFailedBytes/maxFailedEvents bytes: 16 KiB by default) per
// verified event stored — and a verified event is itself stored, so the
// server gains no more than a constant factor over what it could already
// store by serving fabricated peers' verified events.

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

// errCreateNotKept is storeEvent's answer for a group create its paired
// key change does not bind yet (errCreateUnbound): it is not stored.
var errCreateNotKept = errors.New("session: group create before its key change: not kept")

// chargeFailed charges ev, when it is not verified, to cid's allowance and
// the engine's, or returns errFailedNotKept when either has no room for
// it: an event of a kind no sender signs (a Grok notification, say; typing
// indicators are never stored) is the server's word as much as a failed
// one, and is charged as one. A verified event renews the allowances
// (renewFailed): it is counted in renew, and the renewals counted are
// given back before an event is charged (so it finds the room they made,
// as if each had been given back at once) and by the storing step once
// its events are stored (see storeEventsTx), with one read of each record
// however many there are.
func (e *Engine) chargeFailed(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event, renew *int) error {
	if ev.Verified && ev.Err == nil {
		*renew++
		return nil
	}
	if err := e.renewFailed(ctx, tx, cid, renew); err != nil {
		return err
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

// failedCredit is the bytes one verified event gives back to an
// allowance: its bytes per event.
func (e *Engine) failedCredit() int64 {
	return max(1, e.cfg.maxFailedBytes/int64(e.cfg.maxFailedEvents))
}

// renewFailed gives *renew failed events and failedCredit bytes each back
// to cid's allowance and the engine's, for as many verified events stored
// in cid (never below nothing spent: as giving them back one at a time
// would), and sets *renew to zero. An allowance with nothing spent is only
// read.
func (e *Engine) renewFailed(ctx context.Context, tx keystore.Tx, cid string, renew *int) error {
	n := *renew
	if n == 0 {
		return nil
	}
	for _, name := range []string{failedKeptKey(cid), failedKeptAll} {
		k, err := readFailedKept(ctx, tx, name)
		if err != nil {
			return err
		}
		if k.Events == 0 && k.Bytes == 0 {
			continue
		}
		k.Events = max(0, k.Events-n)
		if credit := e.failedCredit(); int64(n) > k.Bytes/credit {
			k.Bytes = 0 // n credits cover what is spent (n*credit may not fit)
		} else {
			k.Bytes -= int64(n) * credit
		}
		if err := k.write(ctx, tx, name); err != nil {
			return err
		}
	}
	*renew = 0
	return nil
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
	return k.write(ctx, tx, name)
}

// write stores k under name.
func (k failedKept) write(ctx context.Context, tx keystore.Tx, name string) error {
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
