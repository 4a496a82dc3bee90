package attacks

import (
	"fmt"
	"slices"

	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Red team round 40: key changes served as events of a page's data now
// distribute their keys (session/syncpage.go:withDataKeyChanges).

var round40Attacks = []attack{
	{"removed-key-as-page-event-opens-message-below-removal", attackKeyEventBelowRemoval},
	{"removed-key-in-metadata-opens-message-below-removal", attackKeyMetaBelowRemoval},
}

// belowRemovalScene is removedMemberScene with mallory's key change made
// after her removal (above it) and her message under that key placed
// below the removal, where she was a member: no signature covers a
// sequence id. It returns the key change and the message.
func belowRemovalScene(w *world) (*history, *tevent.MessageEvent, *tevent.MessageEvent, error) {
	h, _, err := removedMemberScene(w, "unused")
	if err != nil {
		return nil, nil, nil, err
	}
	kc, err := h.lateKeyChange(300)
	if err != nil {
		return nil, nil, nil, err
	}
	i := slices.IndexFunc(h.items, func(it *mutItem) bool { return it.seq() == h.removal })
	if i < 1 {
		return nil, nil, nil, errorf("setup: the removal is not in the history")
	}
	v := kc.GetDetail().GetConversationKeyChangeEvent().GetConversationKeyVersion()
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(h.items[i-1].seq(), 7)
	msg, err := h.mallory.forger().Message(e, v, h.malloryKeys[len(h.malloryKeys)-1], text("mallory's later key, below her removal"))
	if err != nil {
		return nil, nil, nil, err
	}
	return h, kc, msg, nil
}

// attackKeyEventBelowRemoval: mallory, removed, makes a key change (above
// the removal) and a message under it that the server places below the
// removal; both served in one page, the key change as an event of its
// data, read before the message (newest first). The key change fails
// (ErrNotMember): the message, decrypted only by its key, must not stand.
func attackKeyEventBelowRemoval(w *world) (string, error) {
	h, kc, msg, err := belowRemovalScene(w)
	if err != nil {
		return "", err
	}
	all := func(string) bool { return true }
	page, err := pageKeyAsEvent(h, []*tevent.MessageEvent{kc, msg}, all, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	return keyBelowRemovalVerdict(w, h, kc, msg, page)
}

// attackKeyMetaBelowRemoval is attackKeyEventBelowRemoval with the key
// change in the page's metadata.
func attackKeyMetaBelowRemoval(w *world) (string, error) {
	h, kc, msg, err := belowRemovalScene(w)
	if err != nil {
		return "", err
	}
	page, err := pageOf(h, []*tevent.MessageEvent{kc, msg}, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	return keyBelowRemovalVerdict(w, h, kc, msg, page)
}

func keyBelowRemovalVerdict(w *world, h *history, kc, msg *tevent.MessageEvent, page mutPage) (string, error) {
	hs := startHarness(w.t, h)
	o := hs.run(w.t, oneRound(page))
	switch {
	case len(o.violations) > 0:
		return "", errorf("mallory's key below her removal: %v", o.violations)
	case o.verified[kc.GetMessageID()]:
		return "", errorf("mallory's key change, made after her removal, verified")
	case o.verified[msg.GetMessageID()] || o.handed[msg.GetMessageID()]:
		return "", errorf("mallory's message under the key change she made after her removal, placed below the removal, verified")
	}
	return fmt.Sprintf("mallory's message under her rejected key stays failed (%v)", o.failed[msg.GetMessageID()]), nil
}
