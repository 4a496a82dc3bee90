package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/xchat-go/xchat/keystore"
)

// The bot's durable state lives in the account's keystore (sealed like
// every value there), under these names.
const (
	// epochKey holds the time of the bot's first run in the keystore.
	epochKey = "xchat.bot.v1.epoch"
	// cursorPrefix + conversation id holds that conversation's cursor.
	cursorPrefix = "xchat.bot.v1.cursor."
	// recentIDs is how many settled message ids a cursor remembers.
	recentIDs = 256
	// awaitingIDs is how many messages refused for want of their key a
	// cursor remembers (see handleReopened).
	awaitingIDs = 256
)

// cursor is how far the bot got in one conversation: every stored event up
// to Seq has been settled (handled, or refused, or skipped by rule), and
// Recent are the signed message ids of the last verified ones settled (the
// duplicate check). Awaiting are the sequence ids of the last messages
// settled unverified for want of their key (session.AwaitsKey), oldest
// first: the engine may open them later (see handleReopened). Caught is
// set once a pass has read everything stored in the conversation (with
// something stored): from then on every event is new to the bot, whatever
// date the server gives it, and the backlog rule no longer applies there.
type cursor struct {
	Seq      string   `json:"seq,omitempty"`
	Recent   []string `json:"recent,omitempty"`
	Awaiting []string `json:"awaiting,omitempty"`
	Caught   bool     `json:"caught,omitempty"`
}

// await remembers seq as refused for want of its key (the oldest gives
// way past awaitingIDs).
func (c *cursor) await(seq string) {
	if slices.Contains(c.Awaiting, seq) {
		return
	}
	c.Awaiting = append(c.Awaiting, seq)
	if n := len(c.Awaiting) - awaitingIDs; n > 0 {
		c.Awaiting = slices.Delete(c.Awaiting, 0, n)
	}
}

// unawait forgets seq (opened, or failed for good).
func (c *cursor) unawait(seq string) {
	c.Awaiting = slices.DeleteFunc(c.Awaiting, func(s string) bool { return s == seq })
}

func (c *cursor) seen(mid string) bool { return mid != "" && slices.Contains(c.Recent, mid) }

func (c *cursor) remember(mid string) {
	if mid == "" || c.seen(mid) {
		return
	}
	c.Recent = append(c.Recent, mid)
	if n := len(c.Recent) - recentIDs; n > 0 {
		c.Recent = slices.Delete(c.Recent, 0, n)
	}
}

// mergeCursors returns the cursor of a conversation two replicas moved
// on apart (stored, as written by another, and own, not written): the
// further of the two, remembering the message ids either settled. Its
// awaited messages are the further one's: that replica read everything
// the other did (from the cursor stored before both), and one it no
// longer awaits was opened and settled.
func mergeCursors(stored, own cursor) cursor {
	m := cursor{Seq: stored.Seq, Recent: slices.Clone(stored.Recent), Awaiting: slices.Clone(stored.Awaiting)}
	if m.Seq == "" || (own.Seq != "" && less(m.Seq, own.Seq)) {
		m.Seq, m.Awaiting = own.Seq, slices.Clone(own.Awaiting)
	}
	for _, mid := range own.Recent {
		m.remember(mid)
	}
	return m
}

func loadCursor(ctx context.Context, st keystore.ValueStore, cid string) (cursor, error) {
	var c cursor
	b, err := st.Value(ctx, cursorPrefix+cid)
	if errors.Is(err, keystore.ErrNotFound) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("bot: reading the cursor of %s: %w", cid, err)
	}
	if err := json.Unmarshal(b, &c); err != nil || (c.Seq != "" && !keystore.ValidVersion(c.Seq)) ||
		len(c.Awaiting) > awaitingIDs || slices.ContainsFunc(c.Awaiting, func(s string) bool { return !keystore.ValidVersion(s) }) {
		return cursor{}, fmt.Errorf("bot: the cursor of %s is unreadable: %w", cid, keystore.ErrCorrupt)
	}
	return c, nil
}

func saveCursor(ctx context.Context, st keystore.ValueStore, cid string, c cursor) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := st.SetValue(ctx, cursorPrefix+cid, b); err != nil {
		return fmt.Errorf("bot: saving the cursor of %s: %w", cid, err)
	}
	return nil
}

// loadEpoch returns the time of the bot's first run in the keystore,
// recording now when there is none.
func loadEpoch(ctx context.Context, st keystore.ValueStore, now time.Time) (time.Time, error) {
	b, err := st.Value(ctx, epochKey)
	if errors.Is(err, keystore.ErrNotFound) {
		t := now.UTC().Truncate(time.Millisecond)
		if err := st.SetValue(ctx, epochKey, []byte(t.Format(time.RFC3339Nano))); err != nil {
			return time.Time{}, fmt.Errorf("bot: recording the first run: %w", err)
		}
		return t, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("bot: reading the first run: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, fmt.Errorf("bot: the first run's time is unreadable: %w", keystore.ErrCorrupt)
	}
	return t, nil
}
