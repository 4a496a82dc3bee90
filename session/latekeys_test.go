package session

import (
	"strconv"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/keystore"
)

// TestRerecordRecipientsOwnKey: the fallback of rerecordRecipients. Bob
// made the group's current key himself (wrapped to mallory, a member
// then): no key change of another's records its recipients. Mallory's
// newer key, whose list left her out, replaced the recipients bob records;
// a late removal's walk distrusts it. Bob's own list is gone, so the
// maker of the distrusted key is counted among the current key's
// recipients: with mallory off the roster the key is exposed, and the next
// send makes a new one instead of sealing under a key she holds.
func TestRerecordRecipientsOwnKey(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob, mallory := n.user("alice"), n.user("bob"), n.user("mallory")
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, mallory.id}})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, bob, g)
	own, err := bob.e.Rotate(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	ownV, err := strconv.ParseUint(own, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	hers := strconv.FormatUint(ownV+1, 10)
	unlisted := map[string]string{alice.id: "1", bob.id: "1"}
	members := []string{alice.id, bob.id} // mallory removed
	var recorded map[string]string
	err = bob.store.Update(ctx, func(tx keystore.Tx) error {
		key, err := crypto.NewConversationKey(nil)
		if err != nil {
			return err
		}
		defer key.Zero()
		// Mallory's key as the walk leaves it: distrusted.
		if err := tx.PutConversationKey(ctx, keystore.ConversationKey{ConversationID: g, Version: hers, Key: keystore.SecretKey(*key), CreatedBy: mallory.id}); err != nil {
			return err
		}
		c, err := bob.e.conversationRecord(ctx, tx, g)
		if err != nil {
			return err
		}
		m := loadMeta(c)
		m.KeyRecipients = unlisted
		c.Meta = m.encode()
		if err := tx.PutConversation(ctx, c); err != nil {
			return err
		}
		current, err := bob.e.currentVersion(ctx, tx, g)
		if err != nil {
			return err
		}
		if current != own {
			t.Errorf("setup: current key %s, want bob's %s", current, own)
		}
		if exposedKey(g, unlisted, members) {
			t.Errorf("setup: mallory's list already makes the key exposed")
		}
		if err := bob.e.rerecordRecipients(ctx, tx, g, []distrustedKey{{version: hers, maker: mallory.id}}); err != nil {
			return err
		}
		c, err = bob.e.conversationRecord(ctx, tx, g)
		if err != nil {
			return err
		}
		recorded = loadMeta(c).KeyRecipients
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := recorded[mallory.id]; !ok || !exposedKey(g, recorded, members) {
		t.Errorf("recipients after the walk %v: bob's own key, which mallory holds, is not stale with her removed", recorded)
	}
}
