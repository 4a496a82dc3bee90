package session

import "testing"

// TestHistoryPreviousSequenceID: History and Sync give each entry the
// predecessor its event names, so a consumer can follow the chain (the bot
// package holds an event back until its predecessor is stored).
func TestHistoryPreviousSequenceID(t *testing.T) {
	n := newNet(t)
	ctx := ctxT(t)
	alice, bob := n.user("alice"), n.user("bob")
	for _, text := range []string{"one", "two", "three"} {
		if _, err := alice.e.SendText(ctx, bob.id, text); err != nil {
			t.Fatal(err)
		}
	}
	res, err := bob.e.Sync(ctx, alice.id, nil)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := bob.e.History(ctx, alice.id, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != len(res.Entries) || len(hist) < 4 {
		t.Fatalf("history %d entries, sync %d (want the key change and three messages)", len(hist), len(res.Entries))
	}
	for i, en := range hist {
		if en.PreviousSequenceID != res.Entries[i].PreviousSequenceID {
			t.Errorf("entry %s: history says previous %q, sync %q", en.SequenceID, en.PreviousSequenceID, res.Entries[i].PreviousSequenceID)
		}
		if i > 0 && en.PreviousSequenceID != hist[i-1].SequenceID {
			t.Errorf("entry %s: previous %q, want %s", en.SequenceID, en.PreviousSequenceID, hist[i-1].SequenceID)
		}
	}
}
