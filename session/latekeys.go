package session

import (
	"context"
	"errors"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
)

// distrustedKey is a conversation key version a late change's walk no
// longer trusts (distrustKey), and who made it.
type distrustedKey struct{ version, maker string }

// rerecordRecipients records, after a walk distrusted keys (distrusted),
// whom the key now current was wrapped to. The recipients a send checks
// (convMeta.KeyRecipients, see keyStaleIn) are those of the newest key
// adopted, which may be one the walk distrusted: its list, unsigned and
// chosen by a member the walk found removed, may leave out someone who
// holds the key now current (she herself, who held it as a member) — and
// a send under it would be sealed to her, where a fresh device served the
// same events, having recorded the current key's own list, makes a new
// key first. So the current key's list is read from its stored key change
// (keyChangeIndexKey), as a fresh device recorded it; without one (a key
// this account made, whose list was overwritten, or an unreadable record)
// the makers of the distrusted keys are counted among its recipients:
// when in doubt, exclude (off the roster, they make the key stale).
func (e *Engine) rerecordRecipients(ctx context.Context, tx keystore.Tx, cid string, distrusted []distrustedKey) error {
	if len(distrusted) == 0 {
		return nil
	}
	current, err := e.currentVersion(ctx, tx, cid)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(distrusted, func(d distrustedKey) bool { return current == "" || decimal.Less(current, d.version) }) {
		return nil // the recipients recorded are of a key above them all
	}
	c, err := e.conversationRecord(ctx, tx, cid)
	if err != nil {
		return err
	}
	m := loadMeta(c)
	listed, err := listedRecipients(ctx, tx, cid, current)
	if err != nil {
		return err
	}
	if listed == nil {
		listed = map[string]string{}
		for u, v := range m.KeyRecipients {
			listed[u] = v
		}
		for _, d := range distrusted {
			if _, ok := listed[d.maker]; !ok && d.maker != e.userID {
				listed[d.maker] = ""
			}
		}
	}
	m.KeyRecipients = listed
	c.Meta = m.encode()
	return tx.PutConversation(ctx, c)
}

// currentVersion returns the version of cid's key heldKey chooses now
// (the newest verified, plausible one), "" for none.
func (e *Engine) currentVersion(ctx context.Context, tx keystore.Tx, cid string) (string, error) {
	key, version, _, err := e.heldKeyIn(ctx, tx, cid)
	switch {
	case errors.Is(err, xchat.ErrNoConversationKey):
		return "", nil
	case err != nil:
		return "", err
	}
	key.Zero()
	return version, nil
}

// listedRecipients returns the participant list of the stored key change
// of cid's key version (nil: none stored, or unreadable).
func listedRecipients(ctx context.Context, tx keystore.Tx, cid, version string) (map[string]string, error) {
	if version == "" {
		return nil, nil
	}
	me, _, err := storedKeyChange(ctx, tx, cid, version)
	if err != nil || me == nil {
		return nil, err
	}
	kc := me.GetDetail().GetConversationKeyChangeEvent()
	if kc == nil || kc.GetConversationKeyVersion() != version {
		return nil, nil
	}
	out := map[string]string{}
	for _, p := range kc.GetConversationParticipantKeys() {
		out[p.GetUserID()] = p.GetPublicKeyVersion()
	}
	return out, nil
}

// settleLatePending runs the walk (rejudgeLate) that late changes of group
// cid still wait for, before a key is chosen or wrapped for it. A sync
// runs its walk in a transaction of its own after the batches that stored
// the changes: a process that dies between them (or a sync whose context
// ends there) leaves the changes recorded and what lies above them judged
// as it was stored — members a failed add let in still on the roster. A
// send or key change made then would wrap a key to them or seal under a
// key a removed member made; so they run the walk first. What it finds
// is not reported (the next sync of the conversation reports nothing more
// either: the verdicts are stored). Its callers hold the conversation's
// lock (lockConv), as Sync and Deliver do: it never takes a walk from a
// sync that holds events for it (see syncState.holdIfLate), whose fn
// learns the verdicts from that walk.
func (e *Engine) settleLatePending(ctx context.Context, cid string) error {
	if !IsGroup(cid) {
		return nil
	}
	pending, err := lateChanges(ctx, e.store, cid)
	if err != nil || len(pending) == 0 {
		return err
	}
	return e.store.Update(ctx, func(tx keystore.Tx) error {
		_, _, err := e.rejudgeLate(ctx, tx, cid)
		return err
	})
}
