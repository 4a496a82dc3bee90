package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// reindexEdit gives the edit index of target back to the newest edit of
// it that stands, when the walk (rejudgeLate) fails the edit the index
// holds (stored at seq, by sender, its wire bytes raw). The index names
// one edit, the newest by sequence id as each was stored verified
// (indexEdit), so a failed edit there hid the author's honest earlier
// edit (a reply's preview then quoted the original text, where a fresh
// device quotes that edit) and kept a later honest one from being
// indexed. The edits of target below seq are read in transcript order,
// from the history's start: an edit's place is the server's word, so an
// honest edit may lie below its target (only when the failed edit is the
// one indexed: rare); none standing, the index is cleared.
func reindexEdit(ctx context.Context, tx keystore.Tx, cid, target, seq, sender string, raw []byte) error {
	key := editIndexKey(cid, target)
	cur, err := tx.Value(ctx, key)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("session: reading the edit index: %w", err)
	}
	if !bytes.Equal(cur, raw) {
		return nil // it holds another edit (a later one that stands)
	}
	newest, err := newestStandingEdit(ctx, tx, cid, "", target, seq, sender)
	if err != nil {
		return err
	}
	if err := tx.SetValue(ctx, key, newest); err != nil {
		return fmt.Errorf("session: storing the edit index: %w", err)
	}
	return nil
}

// newestStandingEdit returns the wire bytes of the newest stored verified
// edit of target by sender above from and below seq (nil for none).
func newestStandingEdit(ctx context.Context, tx keystore.Tx, cid, from, target, seq, sender string) ([]byte, error) {
	var newest []byte
	for after := from; ; {
		evs, err := tx.Events(ctx, cid, after, rejudgePage)
		if err != nil {
			return nil, fmt.Errorf("session: reading history: %w", err)
		}
		for i := range evs {
			ev := &evs[i]
			if !decimal.Less(ev.SequenceID, seq) {
				zeroStored(evs[i:])
				return newest, nil
			}
			if ev.Verified && ev.Type == event.TypeEdit && ev.SenderID == sender && entryFromStored(cid, ev).TargetSequenceID == target {
				newest = bytes.Clone(ev.Raw)
			}
			ev.Body.Zero()
		}
		if len(evs) < rejudgePage {
			return newest, nil
		}
		after = evs[len(evs)-1].SequenceID
	}
}

// zeroStored zeroes the bodies of evs.
func zeroStored(evs []keystore.StoredEvent) {
	for i := range evs {
		evs[i].Body.Zero()
	}
}
