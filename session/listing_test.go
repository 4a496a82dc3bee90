package session

import (
	"errors"
	"testing"
)

// TestListedConversationsBound: a listing records conversations holding
// nothing verified up to WithMaxListedConversations, reports the rest
// (ErrListingNotKept) without recording them, and a listed conversation
// whose verified event is stored no longer counts, so the next listing
// records the one left out; SyncAll syncs what is stored meanwhile.
func TestListedConversationsBound(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, carol := n.user("alice"), n.user("carol")
	bob := n.userWith("bob", nil, WithMaxListedConversations(1))
	for _, u := range []*testUser{alice, carol} {
		if _, err := u.e.SendText(ctx, bob.id, "hi bob"); err != nil {
			t.Fatal(err)
		}
	}
	convs, err := bob.e.RefreshConversations(ctx)
	if !errors.Is(err, ErrListingNotKept) || len(convs) != 1 {
		t.Fatalf("a listing of 2 conversations under a bound of 1: %d recorded, %v", len(convs), err)
	}
	t.Logf("first listing: %d recorded: %v", len(convs), err)
	if _, err := bob.e.Sync(ctx, convs[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	convs, err = bob.e.RefreshConversations(ctx)
	if err != nil || len(convs) != 2 {
		t.Fatalf("after a verified event of the first was stored, the listing recorded %d: %v", len(convs), err)
	}
	res, err := bob.e.SyncAll(ctx)
	if err != nil || len(res) != 2 {
		t.Fatalf("SyncAll: %d results, %v", len(res), err)
	}
	convs, err = bob.e.RefreshConversations(ctx)
	if err != nil || len(convs) != 2 {
		t.Fatalf("a listing after SyncAll: %d, %v", len(convs), err)
	}
}
