package session

import (
	"context"
	"testing"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// placedChange is one stored group change of TestAdminAtPlace.
type placedChange struct {
	seq, prev, sender string
	verified          bool
	gc                *tevent.GroupChange
}

// storePlaced stores changes in cid (Raw their wire form) and, when
// complete, a complete change index listing them.
func storePlaced(t *testing.T, store keystore.Store, cid string, changes []placedChange, complete bool) {
	t.Helper()
	ctx := context.Background()
	err := store.Update(ctx, func(tx keystore.Tx) error {
		idx := changeIndex{Complete: complete}
		for _, c := range changes {
			seq, prev := c.seq, c.prev
			raw, err := wire.EncodeMessageEvent(&tevent.MessageEvent{SequenceID: &seq, PreviousSequenceID: &prev, SenderID: &c.sender,
				Detail: &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: c.gc}}})
			if err != nil {
				return err
			}
			ev := keystore.StoredEvent{SequenceID: seq, SenderID: c.sender, Type: event.TypeGroupChange, Verified: c.verified, Raw: raw}
			if err := tx.PutEvents(ctx, cid, []keystore.StoredEvent{ev}); err != nil {
				return err
			}
			if complete {
				idx.Seqs = append(idx.Seqs, seq)
			}
		}
		return idx.save(ctx, tx, cid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAdminAtPlace: a removal carol signed, served at 10 below alice's
// revocation of her rights at 20, stands at its place only when the
// stored chain left 10 open, the change index is complete, carol is no
// tombstone, and the nearest change below 10 deciding her rights grants
// them (verified); anything else judges it as stored.
func TestAdminAtPlace(t *testing.T) {
	const alice, bob, carol = "1001", "1002", "1003"
	create := &tevent.GroupChange{GroupCreate: &tevent.GroupCreate{MemberIds: []string{bob, carol}}}
	grant := &tevent.GroupChange{GroupAdminAdd: &tevent.GroupAdminAddChange{AdminIds: []string{carol}}}
	revoke := &tevent.GroupChange{GroupAdminRemove: &tevent.GroupAdminRemoveChange{AdminIds: []string{carol}}}
	removeCarol := &tevent.GroupChange{GroupMemberRemove: &tevent.GroupMemberRemoveChange{MemberIds: []string{carol}}}
	addNaming := func(admins ...string) *tevent.GroupChange {
		return &tevent.GroupChange{GroupMemberAdd: &tevent.GroupMemberAddChange{MemberIds: []string{"1009"},
			CurrentMemberIds: []string{alice, bob, carol}, CurrentAdminIds: admins}}
	}
	base := func(mid ...placedChange) []placedChange {
		out := []placedChange{{"1", "", alice, true, create}}
		out = append(out, mid...)
		return append(out, placedChange{"20", "15", alice, true, revoke})
	}
	granted := placedChange{"2", "1", alice, true, grant}
	cases := []struct {
		name     string
		changes  []placedChange
		complete bool
		sender   string
		removed  []string
		want     bool
	}{
		{"granted by an admin add", base(granted), true, carol, nil, true},
		{"granted by a member add's admin tail", base(placedChange{"2", "1", alice, true, addNaming(alice, carol)}), true, carol, nil, true},
		{"the creator", base(), true, alice, nil, true},
		{"never granted", base(granted), true, bob, nil, false},
		{"index incomplete", base(granted), false, carol, nil, false},
		{"a tombstone", base(granted), true, carol, []string{carol}, false},
		{"chain closed", append(base(granted)[:2], placedChange{"20", "2", alice, true, revoke}), true, carol, nil, false},
		{"grant unverified", base(placedChange{"2", "1", alice, false, grant}), true, carol, nil, false},
		{"removed above the grant", base(granted, placedChange{"5", "2", alice, true, removeCarol}), true, carol, nil, false},
		{"revoked above the grant", base(granted, placedChange{"5", "2", alice, true, revoke}), true, carol, nil, false},
		{"left out of a member add's tail", base(granted, placedChange{"5", "2", alice, true, addNaming(alice)}), true, carol, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := keystore.NewMemory()
			const cid = "g2001"
			storePlaced(t, store, cid, tc.changes, tc.complete)
			r := &rosterRec{Base: baseCreate, Removed: tc.removed}
			ev := &event.Event{SequenceID: "10", SenderID: tc.sender, Verified: true,
				GroupChange: &event.GroupChange{Kind: event.GroupMembersRemoved, MemberIDs: []string{bob}}}
			var got bool
			err := store.View(ctx, func(tx keystore.Tx) error {
				var err error
				got, err = adminAtPlace(ctx, tx, cid, r, ev)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("adminAtPlace = %v, want %v", got, tc.want)
			}
		})
	}
}
