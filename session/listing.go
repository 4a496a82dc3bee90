package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/keystore"
)

// ErrListingNotKept reports a listing of conversations that named more
// conversations holding nothing verified than the engine records (see
// WithMaxListedConversations): those past the bound were not recorded. It
// wraps xchat.ErrServerResponse.
var ErrListingNotKept = fmt.Errorf("%w: the listing names more conversations holding nothing verified than are recorded (see WithMaxListedConversations)", xchat.ErrServerResponse)

// The bound on listed conversations. A conversation recorded from the
// server's listing is marked listed (convMeta.Listed) until a verified
// event of it is stored (storeEventsTx); at most WithMaxListedConversations
// records are so marked, so what a listing alone can make the engine keep
// and sync is bounded: each other record holds a verified event, which a
// server cannot make without a signing key (or a peer it fabricated, whose
// events are stored anyway).

// errListedNotKept is recordServerConversation's answer for a new
// conversation past the bound: it is not recorded.
var errListedNotKept = fmt.Errorf("%w: not recorded", ErrListingNotKept)

// listedRoom returns how many more listed conversations may be recorded.
func (e *Engine) listedRoom(ctx context.Context) (int, error) {
	convs, err := e.store.Conversations(ctx)
	if err != nil {
		return 0, fmt.Errorf("session: reading conversations: %w", err)
	}
	room := e.cfg.maxListed
	for i := range convs {
		if loadMeta(&convs[i]).Listed {
			room--
		}
	}
	return room, nil
}

// clearListed marks cid, a verified event of which was stored in tx, as
// no longer only listed.
func clearListed(ctx context.Context, tx keystore.Tx, cid string) error {
	c, err := tx.Conversation(ctx, cid)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("session: reading conversation: %w", err)
	}
	m := loadMeta(c)
	if !m.Listed {
		return nil
	}
	m.Listed = false
	c.Meta = m.encode()
	return tx.PutConversation(ctx, c)
}
