package session

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// TestNoteAppliedBounded: a member add records the late changes pending
// below it, at most maxApplied of them, the nearest; none above it, and
// nothing when none is pending below.
func TestNoteAppliedBounded(t *testing.T) {
	const cid = "g2001"
	add := func(seq string) *event.Event {
		return &event.Event{SequenceID: seq, Verified: true, GroupChange: &event.GroupChange{Kind: event.GroupMembersAdded, MemberIDs: []string{"1009"}}}
	}
	seqs := func(from, n int) []string {
		var out []string
		for i := range n {
			out = append(out, strconv.Itoa(from+i))
		}
		return out
	}
	cases := []struct {
		name    string
		pending []string
		at      string
		want    []string
	}{
		{"none pending", nil, "500", nil},
		{"all above", seqs(600, 3), "500", nil},
		{"a few below", append(seqs(100, 3), "700"), "500", seqs(100, 3)},
		{"more than the bound below", seqs(100, 3*maxApplied), "500", seqs(100+2*maxApplied, maxApplied)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := keystore.NewMemory()
			err := store.Update(ctx, func(tx keystore.Tx) error {
				if err := setLateChanges(ctx, tx, cid, tc.pending); err != nil {
					return err
				}
				if err := noteApplied(ctx, tx, cid, add(tc.at)); err != nil {
					return err
				}
				var got []string
				if err := readRecord(ctx, tx, appliedKey(cid, tc.at), &got); err != nil {
					return err
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("recorded %v, want %v", got, tc.want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
