package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/session/event"
)

// stepEnv is a roster environment for account self where every create is
// bound unless unbound is set.
func stepEnv(self string, unbound bool) rosterEnv {
	return rosterEnv{self: self, cid: "g1",
		paired:    func(string, string) bool { return !unbound },
		createdIn: func(mid string) string { return map[string]string{"g2-create": "g2"}[mid] }}
}

func groupEvent(seq, mid, sender string, g event.GroupChange) *event.Event {
	return &event.Event{SequenceID: seq, MessageID: mid, SenderID: sender, Verified: true, Kind: event.KindGroupChange, GroupChange: &g}
}

func add(added, current, admins []string) event.GroupChange {
	return event.GroupChange{Kind: event.GroupMembersAdded, MemberIDs: added, CurrentMemberIDs: current, CurrentAdminIDs: admins}
}

// TestFlatSplit pins the structural reading of a member add's signed list:
// the admin tail starts at the first repeated id, whatever the event's own
// split says.
func TestFlatSplit(t *testing.T) {
	for _, tc := range []struct {
		flat         []string
		head, admins []string
		ok           bool
	}{
		{[]string{"4", "1", "2", "3", "1"}, []string{"4", "1", "2", "3"}, []string{"1"}, true},
		{[]string{"4", "1", "2", "3", "3", "1"}, []string{"4", "1", "2", "3"}, []string{"3", "1"}, true},
		{[]string{"4", "1", "2"}, []string{"4", "1", "2"}, []string{}, true},
		{[]string{"4", "1", "2", "1", "1"}, nil, nil, false}, // repeated admin
		{[]string{"4", "1", "2", "1", "9"}, nil, nil, false}, // admin never named before
		{[]string{"4", "x1", "2", "x1"}, nil, nil, false},    // not a user id
		{[]string{}, []string{}, []string{}, true},
	} {
		head, admins, ok := flatSplit(tc.flat)
		if ok != tc.ok || (ok && (!slices.Equal(head, tc.head) || !slices.Equal(admins, tc.admins))) {
			t.Errorf("flatSplit(%v) = %v %v %v, want %v %v %v", tc.flat, head, admins, ok, tc.head, tc.admins, tc.ok)
		}
	}
}

// TestRosterStepCreate covers the create rules: bound by its pair, once,
// the creator alone confirmed, a replay from another group reported.
func TestRosterStepCreate(t *testing.T) {
	create := event.GroupChange{Kind: event.GroupCreated, MemberIDs: []string{"2", "3"}, AdminIDs: []string{"1", "2", "9"}, KeyVersion: "100"}
	var r rosterRec
	if res := r.step(stepEnv("2", true), groupEvent("10", "c", "1", create)); !errors.Is(res.err, xchat.ErrRosterDivergence) || !errors.Is(res.err, errCreateUnbound) ||
		res.anomaly == nil || res.anomaly.Kind != event.AnomalyCreateRejected || r.Base != "" {
		t.Fatalf("unbound create: %+v, roster %+v", res, r)
	}
	if res := r.step(stepEnv("2", false), groupEvent("10", "g2-create", "1", create)); !errors.Is(res.err, xchat.ErrRosterDivergence) ||
		res.anomaly == nil || res.anomaly.Kind != event.AnomalyCreateReplayed || res.anomaly.Related != "g2" {
		t.Fatalf("replayed create: %+v", res)
	}
	if res := r.step(stepEnv("2", false), groupEvent("10", "c", "1", create)); res.err != nil || !res.changed {
		t.Fatalf("bound create: %+v", res)
	}
	if !slices.Equal(r.Members, []string{"1", "2", "3"}) || !slices.Equal(r.Admins, []string{"1"}) || !slices.Equal(r.Claimed, []string{"2"}) ||
		r.state() != RosterUnconfirmed || r.Seq != "10" {
		t.Fatalf("roster after create %+v (state %s)", r, r.state())
	}
	if res := r.step(stepEnv("2", false), groupEvent("20", "c2", "1", create)); !errors.Is(res.err, xchat.ErrRosterDivergence) || res.anomaly.Kind != event.AnomalyCreateRejected {
		t.Fatalf("second create: %+v", res)
	}
}

// TestRosterStepMemberAdd covers the reading of member adds against the
// roster held and how far they confirm it.
func TestRosterStepMemberAdd(t *testing.T) {
	held := rosterRec{Base: baseCreate, Members: []string{"1", "2", "3"}, Admins: []string{"1"}, Claimed: []string{"2"}, Seq: "10", Creator: "1", CreateMID: "c"}
	for _, tc := range []struct {
		name        string
		sender      string
		g           event.GroupChange
		want        error
		members     []string
		admins      []string
		claimed     []string
		unconfirmed []string
	}{
		{"confirmed admin confirms all", "1", add([]string{"4"}, []string{"1", "2", "3"}, []string{"1", "2"}), nil,
			[]string{"1", "2", "3", "4"}, []string{"1", "2"}, nil, nil},
		{"claimed admin adds unconfirmed", "2", add([]string{"4"}, []string{"3", "2", "1"}, []string{"2", "1"}), nil,
			[]string{"1", "2", "3", "4"}, []string{"1"}, []string{"2"}, []string{"4"}},
		{"re-split is read structurally", "1", add([]string{"4", "1", "2"}, nil, []string{"3", "1"}), nil,
			[]string{"1", "2", "3", "4"}, []string{"1"}, nil, nil},
		{"admin tail drops a claimed admin", "1", add([]string{"4"}, []string{"1", "2", "3"}, []string{"1"}), nil,
			[]string{"1", "2", "3", "4"}, []string{"1"}, nil, nil},
		{"non-admin", "3", add([]string{"4"}, []string{"1", "2", "3"}, []string{"1"}), xchat.ErrNotAuthorized,
			[]string{"1", "2", "3"}, []string{"1"}, []string{"2"}, nil},
		{"outsider", "9", add([]string{"9"}, []string{"1", "2", "3"}, []string{"1"}), xchat.ErrNotMember,
			[]string{"1", "2", "3"}, []string{"1"}, []string{"2"}, nil},
		{"stale current list excludes", "1", add([]string{"4"}, []string{"1", "2"}, []string{"1"}), xchat.ErrRosterDivergence,
			[]string{"1", "2"}, []string{"1"}, nil, nil},
		{"stale current list never adds", "1", add([]string{"4"}, []string{"1", "2", "3", "5"}, []string{"1"}), xchat.ErrRosterDivergence,
			[]string{"1", "2", "3"}, []string{"1"}, nil, nil},
		{"promotes a non-admin", "1", add([]string{"4"}, []string{"1", "2", "3"}, []string{"3", "1"}), xchat.ErrRosterDivergence,
			[]string{"1", "2", "3"}, []string{"1"}, nil, nil},
		{"leaves out a confirmed admin", "2", add([]string{"4"}, []string{"1", "2", "3"}, []string{"2"}), xchat.ErrRosterDivergence,
			[]string{"1", "2", "3"}, nil, []string{"2"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := held.clone()
			ev := groupEvent("11", "a", tc.sender, tc.g)
			res := r.step(stepEnv("3", false), ev)
			if (tc.want == nil) != (res.err == nil) || (tc.want != nil && !errors.Is(res.err, tc.want)) {
				t.Fatalf("step: %v, want %v", res.err, tc.want)
			}
			if !slices.Equal(r.Members, tc.members) || !slices.Equal(r.Admins, tc.admins) || !slices.Equal(r.Claimed, tc.claimed) || !slices.Equal(r.Unconfirmed, tc.unconfirmed) {
				t.Fatalf("roster %+v, want members %v admins %v claimed %v unconfirmed %v", r, tc.members, tc.admins, tc.claimed, tc.unconfirmed)
			}
			if res.err == nil && !slices.Equal(ev.GroupChange.MemberIDs, []string{"4"}) {
				t.Fatalf("accepted add shown as adding %v", ev.GroupChange.MemberIDs)
			}
		})
	}
}

// TestRosterStepJoin starts a roster from the member add naming this
// account (none whom a removal read before named), and refuses every
// other change before one is held.
func TestRosterStepJoin(t *testing.T) {
	// A removal before any roster is refused, and whom it names (this
	// account aside) may not start one: the add naming them may be older.
	var pre rosterRec
	if res := pre.step(stepEnv("4", false), groupEvent("20", "rm", "1", event.GroupChange{Kind: event.GroupMembersRemoved, MemberIDs: []string{"2", "4"}})); !errors.Is(res.err, xchat.ErrRosterUnknown) ||
		!res.changed || !slices.Equal(pre.Removed, []string{"2"}) {
		t.Fatalf("removal before any roster: %v, roster %+v", res.err, pre)
	}
	if res := pre.step(stepEnv("4", false), groupEvent("21", "a2", "1", add([]string{"4", "1", "2"}, nil, []string{"3", "1"}))); !errors.Is(res.err, xchat.ErrRosterDivergence) || pre.Base != "" {
		t.Fatalf("join naming an id removed before: %v, roster %+v", res.err, pre)
	}
	var r rosterRec
	if res := r.step(stepEnv("4", false), groupEvent("20", "a0", "1", add([]string{"5"}, []string{"1", "2"}, []string{"1"}))); !errors.Is(res.err, xchat.ErrRosterUnknown) {
		t.Fatalf("add not naming this account: %v", res.err)
	}
	if res := r.step(stepEnv("4", false), groupEvent("20", "a1", "2", add([]string{"4"}, []string{"1", "2", "3"}, []string{"1"}))); !errors.Is(res.err, xchat.ErrNotAuthorized) {
		t.Fatalf("add by someone its own admin list leaves out: %v", res.err)
	}
	// The server re-splits the add that named this account: the admin
	// tail is read from the signed list, not from the event.
	if res := r.step(stepEnv("4", false), groupEvent("21", "a2", "1", add([]string{"4", "1", "2"}, nil, []string{"3", "1"}))); res.err != nil {
		t.Fatalf("join: %v", res.err)
	}
	if r.Base != baseJoin || r.Since != "21" || !slices.Equal(r.Members, []string{"1", "2", "3", "4"}) || !slices.Equal(r.Claimed, []string{"1"}) ||
		len(r.Admins) != 0 || r.state() != RosterUnconfirmed || len(r.unconfirmed(r.Members)) != 4 {
		t.Fatalf("joined roster %+v", r)
	}
}

// TestRosterStepRemoveAndAdmins covers removals (final until re-added),
// leaving, and admin changes by confirmed and claimed admins.
func TestRosterStepRemoveAndAdmins(t *testing.T) {
	r := rosterRec{Base: baseCreate, Members: []string{"1", "2", "3", "4"}, Admins: []string{"1"}, Claimed: []string{"2"}, Seq: "10"}
	steps := []struct {
		sender string
		g      event.GroupChange
		want   error
	}{
		{"2", event.GroupChange{Kind: event.GroupAdminsAdded, AdminIDs: []string{"3"}}, nil},                       // claimed makes a claimed admin
		{"1", event.GroupChange{Kind: event.GroupAdminsAdded, AdminIDs: []string{"9"}}, xchat.ErrRosterDivergence}, // not a member
		{"1", event.GroupChange{Kind: event.GroupAdminsAdded, AdminIDs: []string{"2"}}, nil},                       // confirmed confirms
		{"4", event.GroupChange{Kind: event.GroupMembersRemoved, MemberIDs: []string{"4"}}, nil},                   // leaves
		{"4", event.GroupChange{Kind: event.GroupMembersRemoved, MemberIDs: []string{"1"}}, xchat.ErrNotMember},
		{"3", event.GroupChange{Kind: event.GroupMembersRemoved, MemberIDs: []string{"2"}}, nil}, // claimed admin removes
		{"1", event.GroupChange{Kind: event.GroupAdminsRemoved, AdminIDs: []string{"3"}}, nil},
		{"3", event.GroupChange{Kind: event.GroupTitleChanged, Title: "t"}, nil},
		{"2", event.GroupChange{Kind: event.GroupTitleChanged, Title: "t"}, xchat.ErrNotMember},
	}
	for i, s := range steps {
		res := r.step(stepEnv("1", false), groupEvent("2"+string(rune('0'+i)), "m", s.sender, s.g))
		if (s.want == nil) != (res.err == nil) || (s.want != nil && !errors.Is(res.err, s.want)) {
			t.Fatalf("step %d (%s by %s): %v, want %v", i, s.g.Kind, s.sender, res.err, s.want)
		}
	}
	if !slices.Equal(r.Members, []string{"1", "3"}) || !slices.Equal(r.Admins, []string{"1"}) || len(r.Claimed) != 0 {
		t.Fatalf("roster %+v", r)
	}
	// A message by a removed member is refused; by a member accepted.
	if res := r.step(stepEnv("1", false), &event.Event{SequenceID: "40", SenderID: "2", Verified: true, Kind: event.KindMessage}); !errors.Is(res.err, xchat.ErrNotMember) {
		t.Fatalf("removed member's message: %v", res.err)
	}
	if res := r.step(stepEnv("1", false), &event.Event{SequenceID: "41", SenderID: "3", Verified: true, Kind: event.KindMessage}); res.err != nil {
		t.Fatalf("member's message: %v", res.err)
	}
}

// TestRosterPendingOwnAdd: this account's own add is wrapped to at once,
// read back as any other add, and forgotten once read back.
func TestRosterPendingOwnAdd(t *testing.T) {
	r := rosterRec{Base: baseCreate, Members: []string{"1", "2"}, Admins: []string{"1"}, Seq: "10",
		Pending: []pendingAdd{{MID: "own", Added: []string{"5"}}}}
	if !slices.Equal(r.effective(), []string{"1", "2", "5"}) {
		t.Fatalf("effective %v", r.effective())
	}
	// Another admin's add lands first: ours no longer fits and is dropped.
	r.Admins = []string{"1", "2"}
	if res := r.step(stepEnv("1", false), groupEvent("11", "theirs", "2", add([]string{"6"}, []string{"1", "2"}, []string{"1", "2"}))); res.err != nil {
		t.Fatal(res.err)
	}
	if res := r.step(stepEnv("1", false), groupEvent("12", "own", "1", add([]string{"5"}, []string{"1", "2"}, []string{"1", "2"}))); !errors.Is(res.err, xchat.ErrRosterDivergence) {
		t.Fatalf("own stale add: %v", res.err)
	}
	if len(r.Pending) != 0 || !slices.Equal(r.effective(), []string{"1", "2", "6"}) {
		t.Fatalf("roster after own stale add %+v", r)
	}
}

// TestRosterStateString: a roster state's value is its name, which is
// also its JSON form in a Conversation.
func TestRosterStateString(t *testing.T) {
	for s, want := range map[RosterState]string{RosterUnknown: "unknown", RosterUnconfirmed: "unconfirmed", RosterConfirmed: "confirmed"} {
		b, err := json.Marshal(Conversation{Roster: s})
		if err != nil || string(s) != want || !strings.Contains(string(b), `"roster":"`+want+`"`) {
			t.Errorf("%q: %s %v, want %q", s, b, err, want)
		}
	}
}

// FuzzRosterStep drives the roster state machine with arbitrary sequences
// of group changes over a few ids. It must never panic, keep its lists
// consistent, and never let a rejected change or one by a non-admin add a
// member.
func FuzzRosterStep(f *testing.F) {
	f.Add([]byte{0, 1, 3, 1, 2, 3, 0, 0, 1, 1, 1, 4, 3, 1, 2, 3, 1, 1})
	f.Add([]byte{1, 1, 1, 4, 3, 1, 2, 3, 2, 1, 5, 2, 3, 1, 2, 3, 1, 2, 1, 2})
	f.Add([]byte{0, 1, 2, 2, 3, 2, 1, 2, 1, 2, 1, 4, 3, 1, 2, 3, 2, 2, 1, 2, 2, 3, 1, 2, 2})
	ids := []string{"1", "2", "3", "4", "5", "6"}
	f.Fuzz(func(t *testing.T, b []byte) {
		next := func() int {
			if len(b) == 0 {
				return 0
			}
			v := int(b[0])
			b = b[1:]
			return v
		}
		list := func() []string {
			n := next() % 5
			out := make([]string, 0, n)
			for range n {
				out = append(out, ids[next()%len(ids)])
			}
			return out
		}
		var r rosterRec
		for seq := 10; len(b) > 0; seq++ {
			op, sender := next()%7, ids[next()%len(ids)]
			var g *event.GroupChange
			switch op {
			case 0:
				g = &event.GroupChange{Kind: event.GroupCreated, MemberIDs: list(), AdminIDs: list(), KeyVersion: "1"}
			case 1:
				g = &event.GroupChange{Kind: event.GroupMembersAdded, MemberIDs: list(), CurrentMemberIDs: list(), CurrentAdminIDs: list()}
			case 2:
				g = &event.GroupChange{Kind: event.GroupMembersRemoved, MemberIDs: list()}
			case 3:
				g = &event.GroupChange{Kind: event.GroupAdminsAdded, AdminIDs: list()}
			case 4:
				g = &event.GroupChange{Kind: event.GroupAdminsRemoved, AdminIDs: list()}
			}
			ev := &event.Event{SequenceID: fmt.Sprint(seq), MessageID: fmt.Sprint("m", seq), SenderID: sender, Verified: true, Kind: event.KindMessage}
			if g != nil {
				ev.Kind, ev.GroupChange = event.KindGroupChange, g
			}
			before := r.clone()
			res := r.step(stepEnv("1", next()%2 == 0), ev)
			for _, u := range r.Members {
				if slices.Contains(before.Members, u) {
					continue
				}
				switch {
				case res.err != nil:
					t.Fatalf("rejected %s (%v) added %s: %+v -> %+v", ev.Kind, res.err, u, before, r)
				case before.Base != "" && !before.admin(sender):
					t.Fatalf("%s by non-admin %s added %s: %+v -> %+v", g.Kind, sender, u, before, r)
				}
			}
			for _, set := range [][]string{r.Admins, r.Claimed, r.Unconfirmed} {
				for _, u := range set {
					if !r.member(u) {
						t.Fatalf("%s in a list but not a member: %+v", u, r)
					}
				}
			}
			for _, a := range r.Admins {
				if slices.Contains(r.Claimed, a) {
					t.Fatalf("%s both confirmed and claimed: %+v", a, r)
				}
			}
		}
	})
}

// TestRosterRemovalTombstone covers removals naming non-members: no
// membership changes, the ids are recorded and reported, a later add of
// them is refused; a removal of a member leaves none (an honest re-add
// still re-admits), and a record stored without tombstones reads as none.
func TestRosterRemovalTombstone(t *testing.T) {
	rem := func(ids ...string) event.GroupChange {
		return event.GroupChange{Kind: event.GroupMembersRemoved, MemberIDs: ids}
	}
	r := rosterRec{Base: baseCreate, Members: []string{"1", "2", "3", "4"}, Admins: []string{"1"}, Seq: "10", Creator: "1", CreateMID: "c"}
	if res := r.step(stepEnv("2", false), groupEvent("20", "r1", "1", rem("4"))); res.err != nil || res.anomaly != nil || len(r.Removed) != 0 {
		t.Fatalf("removal of a member: %+v, roster %+v", res, r)
	}
	if res := r.step(stepEnv("2", false), groupEvent("30", "a1", "1", add([]string{"4"}, []string{"1", "2", "3"}, []string{"1"}))); res.err != nil ||
		!slices.Equal(r.Members, []string{"1", "2", "3", "4"}) {
		t.Fatalf("honest re-add: %+v, roster %+v", res, r)
	}
	res := r.step(stepEnv("2", false), groupEvent("40", "r2", "1", rem("4", "5")))
	if res.err != nil || res.anomaly == nil || res.anomaly.Kind != event.AnomalyRosterDivergence || !slices.Equal(r.Removed, []string{"5"}) ||
		!slices.Equal(r.Members, []string{"1", "2", "3"}) {
		t.Fatalf("removal naming a non-member: %+v, roster %+v", res, r)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back rosterRec
	if err := json.Unmarshal(b, &back); err != nil || !slices.Equal(back.Removed, []string{"5"}) {
		t.Fatalf("tombstones not kept with the record: %v %+v", err, back)
	}
	res = back.step(stepEnv("2", false), groupEvent("50", "a2", "1", add([]string{"5"}, []string{"1", "2", "3"}, []string{"1"})))
	if !errors.Is(res.err, xchat.ErrRosterDivergence) || res.anomaly == nil || res.anomaly.Kind != event.AnomalyRosterDivergence || back.member("5") {
		t.Fatalf("add of a tombstoned id: %+v, roster %+v", res, back)
	}
	var fresh rosterRec // a removal read before the create: whom it names is no member
	fresh.step(stepEnv("2", false), groupEvent("20", "r3", "1", rem("3")))
	create := event.GroupChange{Kind: event.GroupCreated, MemberIDs: []string{"2", "3"}, KeyVersion: "100"}
	if res := fresh.step(stepEnv("2", false), groupEvent("10", "c", "1", create)); res.err != nil || !slices.Equal(fresh.Members, []string{"1", "2"}) ||
		!slices.Equal(fresh.Removed, []string{"3"}) {
		t.Fatalf("create after a removal read first: %+v, roster %+v", res, fresh)
	}
	var old rosterRec
	if err := json.Unmarshal([]byte(`{"base":"create","members":["1","2"],"admins":["1"],"seq":"10"}`), &old); err != nil || old.Removed != nil {
		t.Fatalf("a record stored before tombstones: %v %+v", err, old)
	}
	if res := old.step(stepEnv("2", false), groupEvent("20", "a3", "1", add([]string{"5"}, []string{"1", "2"}, []string{"1"}))); res.err != nil || !old.member("5") {
		t.Fatalf("add against a record without tombstones: %+v, roster %+v", res, old)
	}
}
