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
	if b := reindexBatchOf(ctx, tx, cid); b != nil {
		b.add(target, seq, sender, raw)
		return nil
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

// reindexBatch collects the edit indexes a walk (rejudgeLate) gives back
// (see reindexEdit), so that one read of the history serves them all:
// read once per failed indexed edit, a walk failing many (a member's edits
// of her messages, above a late removal of her) read the history as many
// times. Nothing the walk judges reads an edit index, so giving them back
// at its end changes nothing else.
type reindexBatch struct {
	tx      keystore.Tx
	cid     string
	targets map[string]reindexAt
}

// reindexAt is the failed edit an index of a batch names.
type reindexAt struct {
	seq, sender string
	raw         []byte
}

type reindexBatchKey struct{}

// withReindexBatch returns ctx carrying a new batch for cid in tx.
func withReindexBatch(ctx context.Context, tx keystore.Tx, cid string) (context.Context, *reindexBatch) {
	b := &reindexBatch{tx: tx, cid: cid, targets: map[string]reindexAt{}}
	return context.WithValue(ctx, reindexBatchKey{}, b), b
}

// reindexBatchOf returns the batch ctx carries for tx and cid, if any.
func reindexBatchOf(ctx context.Context, tx keystore.Tx, cid string) *reindexBatch {
	b, _ := ctx.Value(reindexBatchKey{}).(*reindexBatch)
	if b == nil || b.tx != tx || b.cid != cid {
		return nil
	}
	return b
}

// add records that the index of target names the failed edit at seq.
func (b *reindexBatch) add(target, seq, sender string, raw []byte) {
	b.targets[target] = reindexAt{seq: seq, sender: sender, raw: bytes.Clone(raw)}
}

// flush gives each index of b back to the newest standing edit of its
// target by the failed edit's author below it (none: the index is
// cleared), reading the history once, from its start up to the highest
// failed edit.
func (b *reindexBatch) flush(ctx context.Context) error {
	if len(b.targets) == 0 {
		return nil
	}
	top := ""
	for _, at := range b.targets {
		if top == "" || decimal.Less(top, at.seq) {
			top = at.seq
		}
	}
	newest := map[string][]byte{}
	err := func() error {
		for after := ""; ; {
			evs, err := b.tx.Events(ctx, b.cid, after, rejudgePage)
			if err != nil {
				return fmt.Errorf("session: reading history: %w", err)
			}
			for i := range evs {
				ev := &evs[i]
				if !decimal.Less(ev.SequenceID, top) {
					zeroStored(evs[i:])
					return nil
				}
				if ev.Verified && ev.Type == event.TypeEdit {
					target := entryFromStored(b.cid, ev).TargetSequenceID
					if at, ok := b.targets[target]; ok && ev.SenderID == at.sender && decimal.Less(ev.SequenceID, at.seq) {
						newest[target] = bytes.Clone(ev.Raw)
					}
				}
				ev.Body.Zero()
			}
			if len(evs) < rejudgePage {
				return nil
			}
			after = evs[len(evs)-1].SequenceID
		}
	}()
	if err != nil {
		return err
	}
	for target, at := range b.targets {
		key := editIndexKey(b.cid, target)
		cur, err := b.tx.Value(ctx, key)
		switch {
		case errors.Is(err, keystore.ErrNotFound):
			continue
		case err != nil:
			return fmt.Errorf("session: reading the edit index: %w", err)
		}
		if !bytes.Equal(cur, at.raw) {
			continue // it holds another edit since
		}
		if err := b.tx.SetValue(ctx, key, newest[target]); err != nil {
			return fmt.Errorf("session: storing the edit index: %w", err)
		}
	}
	clear(b.targets)
	return nil
}
