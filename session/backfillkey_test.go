package session

import (
	"context"
	"slices"
	"testing"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// keyChangeRaw is the wire form of a key change of version by sender at
// seq (no key material: only its place is read).
func keyChangeRaw(t *testing.T, seq, sender, version string) []byte {
	t.Helper()
	raw, err := wire.EncodeMessageEvent(&tevent.MessageEvent{SequenceID: &seq, SenderID: &sender,
		Detail: &tevent.MessageEventDetail{ConversationKeyChangeEvent: &tevent.ConversationKeyChangeEvent{ConversationKeyVersion: &version}}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestKeyMadeBefore: a key change judged at seq 50 stands only when the
// newest key held at a lower version was distributed by a key change
// placed below 50 (as adopted, or as this account's own served back); one
// placed above, or not placed at all, decides against it.
func TestKeyMadeBefore(t *testing.T) {
	const cid, self = "g2001", "1002"
	cases := []struct {
		name    string
		version string
		adopted map[string]string // version → sequence id of its key change (kce)
		own     map[string]string // version → sequence id (own, served back)
		want    bool
	}{
		{"older key placed below", "250", map[string]string{"100": "10", "200": "40"}, nil, true},
		{"older key placed above", "250", map[string]string{"100": "10", "200": "60"}, nil, false},
		{"only an older one placed above", "250", map[string]string{"100": "70", "200": "40"}, nil, true},
		{"older key not placed", "250", map[string]string{"100": "10"}, nil, false},
		{"no older key", "50", map[string]string{"100": "10", "200": "40"}, nil, true},
		{"own older key placed below", "250", map[string]string{"100": "10"}, map[string]string{"200": "40"}, true},
		{"own older key placed above", "250", map[string]string{"100": "10"}, map[string]string{"200": "60"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := keystore.NewMemory()
			err := store.Update(ctx, func(tx keystore.Tx) error {
				for _, v := range []string{"100", "200", "300"} {
					if err := tx.PutConversationKey(ctx, keystore.ConversationKey{ConversationID: cid, Version: v, Key: keystore.SecretKey{1}, Verified: true}); err != nil {
						return err
					}
				}
				for v, seq := range tc.adopted {
					if err := tx.SetValue(ctx, keyChangeIndexKey(cid, v), keyChangeRaw(t, seq, "1001", v)); err != nil {
						return err
					}
				}
				for v, seq := range tc.own {
					if err := tx.SetValue(ctx, ownKeyPlaceKey(cid, v), keyChangeRaw(t, seq, self, v)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var got bool
			err = store.View(ctx, func(tx keystore.Tx) error {
				var err error
				got, err = keyMadeBefore(ctx, tx, cid, tc.version, "50")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("keyMadeBefore(%s at 50) = %v, want %v", tc.version, got, tc.want)
			}
		})
	}
}

// TestPlaceOwnKey: the place of a key this account made is recorded from
// its key change served back only when that verified and is signed by this
// account, only while no key change of its version is recorded, only
// above the newest event stored verified at commit (one stored failed
// bounds nothing), and only the first copy.
func TestPlaceOwnKey(t *testing.T) {
	const cid, self, v = "g2001", "1002", "200"
	kc := func(seq, sender string, verified bool) *event.Event {
		return &event.Event{SequenceID: seq, SenderID: sender, Verified: verified, Raw: keyChangeRaw(t, seq, sender, v),
			KeyChange: &event.KeyChange{Version: v}}
	}
	cases := []struct {
		name    string
		adopted string // sequence id of an adopted key change's record ("": none)
		floor   string // sync position when the key was committed ("": none), an event stored verified there
		pushed  string // an event stored verified above it then ("": none)
		junk    string // an event stored failed then ("": none)
		served  []*event.Event
		want    string // sequence id placedKeyChange finds ("": none)
	}{
		{"own, verified", "", "", "", "", []*event.Event{kc("40", self, true)}, "40"},
		{"the first copy holds", "", "", "", "", []*event.Event{kc("40", self, true), kc("10", self, true)}, "40"},
		{"another sender's", "", "", "", "", []*event.Event{kc("40", "1001", true)}, ""},
		{"unverified", "", "", "", "", []*event.Event{kc("40", self, false)}, ""},
		{"a record held already", "60", "", "", "", []*event.Event{kc("40", self, true)}, "60"},
		{"above the sync position at commit", "", "30", "", "", []*event.Event{kc("40", self, true)}, "40"},
		{"at the sync position at commit", "", "40", "", "", []*event.Event{kc("40", self, true)}, ""},
		{"below the sync position at commit, then above", "", "30", "", "", []*event.Event{kc("20", self, true), kc("40", self, true)}, "40"},
		{"below an event pushed above the sync position at commit", "", "30", "50", "", []*event.Event{kc("40", self, true)}, ""},
		{"above an event pushed above the sync position at commit", "", "30", "50", "", []*event.Event{kc("60", self, true)}, "60"},
		{"below an event stored failed above the sync position at commit", "", "30", "", "50", []*event.Event{kc("40", self, true)}, "40"},
		{"below a failed event at the sync position at commit", "", "", "", "50", []*event.Event{kc("40", self, true)}, "40"},
		{"below the verified sync position at commit, a failed event above it", "", "30", "", "50", []*event.Event{kc("20", self, true), kc("40", self, true)}, "40"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := keystore.NewMemory()
			var got string
			err := store.Update(ctx, func(tx keystore.Tx) error {
				if tc.adopted != "" {
					if err := tx.SetValue(ctx, keyChangeIndexKey(cid, v), keyChangeRaw(t, tc.adopted, "1001", v)); err != nil {
						return err
					}
				}
				for _, st := range []struct {
					seq      string
					verified bool
				}{{tc.floor, true}, {tc.pushed, true}, {tc.junk, false}} {
					if st.seq == "" {
						continue
					}
					if err := tx.PutEvents(ctx, cid, []keystore.StoredEvent{{SequenceID: st.seq, MessageID: "m" + st.seq, SenderID: "1001", Type: "message", Verified: st.verified}}); err != nil {
						return err
					}
				}
				if tc.floor != "" || tc.junk != "" {
					// The sync position: the floor's event, or the junk
					// event (served in a sync page) when there is none.
					at := tc.floor
					if at == "" {
						at = tc.junk
					}
					c := &keystore.Conversation{ID: cid, Sync: keystore.SyncState{LastSequenceID: at}}
					if err := recordOwnKeyFloor(ctx, tx, c, cid, v); err != nil {
						return err
					}
				}
				for _, ev := range tc.served {
					if err := placeOwnKey(ctx, tx, cid, self, ev); err != nil {
						return err
					}
				}
				me, err := placedKeyChange(ctx, tx, cid, v)
				if me != nil {
					got = me.GetSequenceID()
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("placed at %q, want %q", got, tc.want)
			}
		})
	}
}

// TestParticipantsAtPlace: whom a backfilled key change at 10 may list
// without an exposure finding are the users the group changes below its
// place admit there, each read as admittedBelow reads her alone; where
// the place cannot be read, the roster held.
func TestParticipantsAtPlace(t *testing.T) {
	const alice, bob, carol, dave, erin = "1001", "1002", "1003", "1004", "1005"
	create := &tevent.GroupChange{GroupCreate: &tevent.GroupCreate{MemberIds: []string{bob, carol}}}
	addDave := &tevent.GroupChange{GroupMemberAdd: &tevent.GroupMemberAddChange{MemberIds: []string{dave},
		CurrentMemberIds: []string{alice, bob, carol}, CurrentAdminIds: []string{alice}}}
	removeCarol := &tevent.GroupChange{GroupMemberRemove: &tevent.GroupMemberRemoveChange{MemberIds: []string{carol}}}
	removeBob := &tevent.GroupChange{GroupMemberRemove: &tevent.GroupMemberRemoveChange{MemberIds: []string{bob}}}
	above := placedChange{"20", "15", alice, true, removeBob}
	everyone := []string{alice, bob, carol, dave, erin}
	held := []string{alice}
	cases := []struct {
		name    string
		changes []placedChange
		want    []string
	}{
		{"the create", []placedChange{{"1", "", alice, true, create}, above}, []string{alice, bob, carol}},
		{"an add, then a removal", []placedChange{{"1", "", alice, true, create}, {"3", "1", alice, true, addDave}, {"5", "3", alice, true, removeCarol}, above},
			[]string{alice, bob, dave}},
		{"a removal that failed", []placedChange{{"1", "", alice, true, create}, {"5", "1", alice, false, removeCarol}, above}, []string{alice, bob}},
		{"an add that failed", []placedChange{{"1", "", alice, true, create}, {"3", "1", alice, false, addDave}, above}, nil},
		{"chain closed: the roster held", []placedChange{{"1", "", alice, true, create}, {"20", "1", alice, true, removeBob}}, held},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := keystore.NewMemory()
			const cid = "g2001"
			storePlaced(t, store, cid, tc.changes, true)
			r := &rosterRec{Base: baseCreate}
			ev := &event.Event{SequenceID: "10", SenderID: carol, Verified: true, KeyChange: &event.KeyChange{Version: "300"}}
			for _, u := range everyone {
				ev.KeyChange.Participants = append(ev.KeyChange.Participants, event.ParticipantKey{UserID: u})
			}
			err := store.View(ctx, func(tx keystore.Tx) error {
				got, err := participantsAtPlace(ctx, tx, cid, r, ev, held)
				if err != nil {
					return err
				}
				slices.Sort(got)
				if !slices.Equal(got, tc.want) {
					t.Errorf("participantsAtPlace = %v, want %v", got, tc.want)
				}
				seqs, ok, err := placeOf(ctx, tx, cid, r, ev)
				if err != nil || !ok {
					return err
				}
				for _, u := range everyone {
					alone, err := admittedBelow(ctx, tx, cid, seqs, u)
					if err != nil {
						return err
					}
					if alone != slices.Contains(got, u) {
						t.Errorf("admittedBelow(%s) = %v, read with the others %v", u, alone, slices.Contains(got, u))
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
