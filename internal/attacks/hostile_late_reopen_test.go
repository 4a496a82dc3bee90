package attacks

import (
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// A roster started by a member add naming this account (trust on first
// use) while the group's create is not held: read before its pair, or
// withheld. Group changes read before that add fail as read before any
// roster (a title change, an admin add). The create served (or bound)
// later, below the add, was refused as a second create, and those changes
// stayed failed for good, where a fresh device served the events in order
// binds the create and keeps them. A create may replace the roster the add
// started only as a fresh device reads it: below the add, bound by its
// pair, and with every group change stored verified (the add among them)
// standing on the roster it starts; never a create above the add, one
// whose pair never comes, or one by someone the add's signed lists leave
// out of its admins.

var lateReopenAttacks = []attack{
	{"join-seeded-roster-keeps-honest-changes-failed-when-create-served-again", func(w *world) (string, error) { return attackJoinSeedCreateHonest(w, true) }},
	{"join-seeded-roster-keeps-honest-changes-failed-when-create-arrives-late", func(w *world) (string, error) { return attackJoinSeedCreateHonest(w, false) }},
	{"join-seeded-roster-keeps-honest-changes-failed-when-pair-comes-last", attackJoinSeedPairLast},
	{"join-seeded-roster-rewritten-by-non-member-create", attackJoinSeedOutsiderCreate},
	{"join-seeded-roster-rewritten-by-create-above-join", attackJoinSeedCreateAbove},
	{"join-seeded-roster-rewritten-by-create-without-pair", attackJoinSeedCreateUnpaired},
}

// joinSeed is one run of joinSeedScene.
type joinSeed struct {
	h                 *history
	o                 *runOutcome
	mids              []string // alice's title change and admin add of carol, carol's message, alice's add of dave
	createSeq, create string   // the create's sequence id and message id
	pairSeq, addSeq   string   // its pair's sequence id, the add's
}

// joinSeedScene is alice's group with bob and carol; alice renames it,
// makes carol an admin, carol speaks, and alice adds dave (her signed
// lists name bob among the current members). Bob's first sync is served
// the items first keeps, his second those second keeps, extra (made once
// the history is complete, given the scene) with them.
func joinSeedScene(w *world, first, second func(s *joinSeed, seq string) bool, extra func(s *joinSeed) []*tevent.MessageEvent) (*joinSeed, error) {
	return joinSeedScene3(w, first, second, nil, extra)
}

// joinSeedScene3 is joinSeedScene with a third sync, served the items
// third keeps (none when nil).
func joinSeedScene3(w *world, first, second, third func(s *joinSeed, seq string) bool, extra func(s *joinSeed) []*tevent.MessageEvent) (*joinSeed, error) {
	h := newBareHistory(w)
	h.readServer()
	s := &joinSeed{h: h}
	create, pair := createAndPairEvents(h)
	if create == nil || pair == nil {
		return nil, errorf("setup: no create or pair in the history (create %v, pair %v)", create != nil, pair != nil)
	}
	s.createSeq, s.create, s.pairSeq = create.GetSequenceID(), create.GetMessageID(), pair.GetSequenceID()
	s.mids = honestChanges(h)
	h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, []string{h.alice.id, h.bob.id, h.carol.id}, []string{h.alice.id, h.carol.id}))
	s.addSeq = h.top()
	s.mids = append(s.mids, h.items[len(h.items)-1].me.GetMessageID())
	h.seal()
	var ex []*tevent.MessageEvent
	if extra != nil {
		ex = extra(s)
	}
	p1, err := pageOf(h, nil, func(seq string) bool { return first(s, seq) })
	if err != nil {
		return nil, err
	}
	p2, err := pageOf(h, ex, func(seq string) bool { return second(s, seq) })
	if err != nil {
		return nil, err
	}
	m := lateRounds(p1, p2)
	if third != nil {
		p3, err := pageOf(h, nil, func(seq string) bool { return third(s, seq) })
		if err != nil {
			return nil, err
		}
		m = threeRounds(p1, p2, p3)
	}
	s.o = startHarness(w.t, h).run(w.t, m)
	switch {
	case len(s.o.violations) > 0:
		return nil, errorf("%v", s.o.violations)
	case s.o.conv == nil:
		return nil, errorf("no conversation after the syncs: %v", s.o.syncErrs)
	case !s.o.verified[s.mids[3]]:
		return nil, errorf("setup: alice's add of dave, which starts bob's roster, not verified (%v)", s.o.failed[s.mids[3]])
	case !slices.Contains(s.o.conv.Members, h.dv.id):
		return nil, errorf("dave, whom alice added, is no member of bob's roster %v", s.o.conv.Members)
	}
	return s, nil
}

// withheld returns a filter keeping every item but those at seqs.
func withheld(seqs ...func(s *joinSeed) string) func(s *joinSeed, seq string) bool {
	return func(s *joinSeed, seq string) bool {
		for _, f := range seqs {
			if f(s) == seq {
				return false
			}
		}
		return true
	}
}

func createOf(s *joinSeed) string { return s.createSeq }
func pairOf(s *joinSeed) string   { return s.pairSeq }

// attackJoinSeedCreateHonest: bob's first sync is served everything but
// the create's pair (again: the create is read unbound) or but the create
// and its pair; alice's add of dave starts his roster. His second sync
// serves everything. Alice's title change and admin add of carol, failed
// as read before any roster, must end verified, the create bound at its
// place and the roster confirmed, as on a fresh device.
func attackJoinSeedCreateHonest(w *world, again bool) (string, error) {
	first := withheld(pairOf)
	if !again {
		first = withheld(pairOf, createOf)
	}
	return joinSeedHonest(joinSeedScene(w, first, withheld(), nil))
}

// attackJoinSeedPairLast: bob's first sync is served neither the create
// nor its pair, his second everything but the pair (the create, below the
// add that started his roster, is refused as a second create and stored
// failed), his third everything but the create: the pair alone binds it.
func attackJoinSeedPairLast(w *world) (string, error) {
	return joinSeedHonest(joinSeedScene3(w, withheld(pairOf, createOf), withheld(pairOf), withheld(createOf), nil))
}

// joinSeedHonest checks the honest outcome of a join-seeded scene: the
// create bound below the add, every change verified, the roster confirmed.
func joinSeedHonest(s *joinSeed, err error) (string, error) {
	if err != nil {
		return "", err
	}
	o := s.o
	for _, mid := range append([]string{s.create}, s.mids...) {
		if !o.verified[mid] {
			return "", errorf("honest event %s fails for good: the create served below the add that started bob's roster was refused as a second create (%v)", mid, o.failed[mid])
		}
	}
	if o.conv.Roster != session.RosterConfirmed || o.conv.RosterSince != "" {
		return "", errorf("bob's roster is %s since %q, where a fresh device's is confirmed from the create", o.conv.Roster, o.conv.RosterSince)
	}
	return fmt.Sprintf("the create binds below the add (%s); the title change, admin add and message end verified, the roster %s", s.addSeq, o.conv.Roster), nil
}

// attackJoinSeedOutsiderCreate: bob's first sync is served neither the
// create nor its pair, and alice's add of dave starts his roster; his
// second serves everything and, above alice's create and below her title
// change, mallory's create (naming alice, bob and carol, alice and carol
// its claimed admins) paired by a key change of hers. A fresh device binds
// alice's create and refuses mallory's as a second one: so must bob's
// device, which reads the group again from alice's create alone. Mallory
// must not be a member, and alice's changes end verified.
func attackJoinSeedOutsiderCreate(w *world) (string, error) {
	var forged []string
	s, err := joinSeedScene(w, withheld(pairOf, createOf), withheld(), func(s *joinSeed) []*tevent.MessageEvent {
		h := s.h
		below := h.items[len(h.items)-4].seq() // the title change
		kc, create, err := outsiderCreate(h, h.mallory, prevSeq(below, 20), prevSeq(below, 10))
		if err != nil {
			w.t.Fatal(err)
		}
		forged = []string{kc.GetMessageID(), create.GetMessageID()}
		return []*tevent.MessageEvent{kc, create}
	})
	if err != nil {
		return "", err
	}
	o := s.o
	switch {
	case o.verified[forged[1]]:
		return "", errorf("mallory's create, served above alice's and below the add that started bob's roster, verified")
	case slices.Contains(o.conv.Members, s.h.mallory.id):
		return "", errorf("mallory is a member of bob's roster %v", o.conv.Members)
	case slices.Contains(o.conv.Admins, s.h.mallory.id) || slices.Contains(o.conv.ClaimedAdmins, s.h.mallory.id):
		return "", errorf("mallory is an admin of bob's group")
	case !o.verified[s.create] || !o.verified[s.mids[0]] || !o.verified[s.mids[1]]:
		return "", errorf("alice's create, title change or admin add fails for good (%v; %v; %v)", o.failed[s.create], o.failed[s.mids[0]], o.failed[s.mids[1]])
	}
	return fmt.Sprintf("mallory's create stays refused (%v); alice's binds, the roster %s", o.failed[forged[1]], o.conv.Roster), nil
}

// outsiderCreate returns u's key change to a key of hers at a new key
// version (at seq kcSeq) and her group create at that version (at
// createSeq) naming alice, bob and carol, alice and carol its (unsigned)
// admins: a create and its pair, signed by u for h's group.
func outsiderCreate(h *history, u *user, kcSeq, createSeq string) (kc, create *tevent.MessageEvent, err error) {
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return nil, nil, err
	}
	v := h.nextVersion(50)
	e := h.env()
	e.SequenceID, e.PreviousSequenceID = kcSeq, ""
	kc, err = u.forger().KeyChange(e, v, key, []hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), u.recipient()})
	if err != nil {
		return nil, nil, err
	}
	create, err = signedCreateCopy(h, u, v, createSeq, []string{h.alice.id, h.bob.id, h.carol.id}, []string{h.alice.id, h.carol.id})
	if err != nil {
		return nil, nil, err
	}
	return kc, create, nil
}

// signedCreateCopy is a copy of the first create in h made u's: at key
// version v, at createSeq, naming members and admins (unsigned), with no
// title, avatar or legacy upgrade, under a new message id, signed by u
// with the original's signature version.
func signedCreateCopy(h *history, u *user, v, createSeq string, members, admins []string) (*tevent.MessageEvent, error) {
	var orig *tevent.MessageEvent
	for _, it := range h.items {
		if groupChangeOf(it.me).GetGroupCreate() != nil {
			orig = it.me
			break
		}
	}
	if orig == nil {
		return nil, errorf("setup: no create to copy")
	}
	raw, err := wire.EncodeMessageEvent(orig)
	if err != nil {
		return nil, err
	}
	create, err := wire.DecodeMessageEvent(raw)
	if err != nil {
		return nil, err
	}
	gc := groupChangeOf(create).GetGroupCreate()
	gc.ConversationKeyVersion = &v
	gc.MemberIds = members
	gc.AdminIds = admins
	gc.Title, gc.AvatarURL, gc.IsLegacyGroupUpgrade = nil, nil, nil
	e := h.env()
	mid, sender := e.MessageID, u.id
	create.MessageID, create.SenderID, create.SequenceID, create.PreviousSequenceID = &mid, &sender, strp(createSeq), nil
	sv, err := strconv.Atoi(orig.GetMessageEventSignature().GetSignatureVersion())
	if err != nil {
		return nil, err
	}
	f := u.forger()
	p, err := crypto.GroupCreatePayload(sv, crypto.Header{MessageID: mid, SenderID: sender},
		crypto.GroupCreate{ConversationKeyVersion: v, MemberIDs: members})
	if err != nil {
		return nil, err
	}
	sig, err := p.Sign(f.Signing)
	if err != nil {
		return nil, err
	}
	create.MessageEventSignature = wire.Signature(sig, f.KeyVersion, sv)
	return create, nil
}

// attackJoinSeedCreateAbove: bob's syncs never serve the create at its
// place; his second serves its pair, and the create's signed bytes under
// a sequence id above the whole history. A fresh device reads alice's add
// first, starts its roster there and refuses the create as a second one:
// so must bob's device, and keep the roster the add started.
func attackJoinSeedCreateAbove(w *world) (string, error) {
	var movedSeq string
	s, err := joinSeedScene(w, withheld(pairOf, createOf), withheld(createOf), func(s *joinSeed) []*tevent.MessageEvent {
		h := s.h
		var moved tevent.MessageEvent
		for _, it := range h.items {
			if it.seq() == s.createSeq {
				moved = *it.me
			}
		}
		top := h.top()
		movedSeq = hostile.NextSequenceID(top, 1500)
		moved.SequenceID, moved.PreviousSequenceID = strp(movedSeq), strp(top)
		return []*tevent.MessageEvent{&moved}
	})
	if err != nil {
		return "", err
	}
	o := s.o
	switch {
	case o.verified[s.create]:
		return "", errorf("the create served above the add that started bob's roster (at %s) verified", movedSeq)
	case o.conv.RosterSince != s.addSeq || o.conv.Roster != session.RosterUnconfirmed:
		return "", errorf("bob's roster no longer starts from alice's add (%s since %q)", o.conv.Roster, o.conv.RosterSince)
	}
	return fmt.Sprintf("the create above the add stays refused (%v); the roster starts from the add", o.failed[s.create]), nil
}

// attackJoinSeedCreateUnpaired: the create is served in bob's second sync
// at its place, its pair never: it binds nothing, and the roster stays the
// one alice's add started.
func attackJoinSeedCreateUnpaired(w *world) (string, error) {
	s, err := joinSeedScene(w, withheld(pairOf, createOf), withheld(pairOf), nil)
	if err != nil {
		return "", err
	}
	o := s.o
	switch {
	case o.verified[s.create]:
		return "", errorf("the create, its pair never served, verified")
	case o.conv.RosterSince != s.addSeq || o.conv.Roster != session.RosterUnconfirmed:
		return "", errorf("bob's roster no longer starts from alice's add (%s since %q)", o.conv.Roster, o.conv.RosterSince)
	}
	return fmt.Sprintf("the create without its pair stays refused (%v); the roster starts from the add", o.failed[s.create]), nil
}

// A key change failed only for its author's membership before a create
// bound late. alice's group with bob, carol and dave; alice removes dave
// and adds him again (both read before any roster: failed, dave a
// tombstone), dave rotates the key to the four of them and speaks under
// it. The create, served again with its pair, starts the roster without
// dave and fails his key change (or refuses it, read after the create);
// reading the group again from the create opens alice's removal and add.
// A fresh device served the events in order keeps dave's key change and
// his message under its key: so must the reading again, the key for
// decryption only (its author's rights were read late).

var lateReopenKeyAttacks = []attack{
	{"create-bound-late-keeps-member-key-change-failed", func(w *world) (string, error) { return attackLateBindMemberKey(w, false) }},
	{"create-bound-late-keeps-message-under-member-key-failed", func(w *world) (string, error) { return attackLateBindMemberKey(w, true) }},
	{"create-bound-late-reopens-key-change-of-outsider-added-by-non-admin", attackLateBindOutsiderKey},
	{"create-bound-late-keeps-message-failed-for-key-and-membership", func(w *world) (string, error) { return lateBindMemberKey(w, true, true, true) }},
	{"create-bound-late-reopens-outsider-message-failed-for-key-and-membership", func(w *world) (string, error) { return lateBindOutsiderKey(w, true) }},
}

// attackLateBindMemberKey runs the scene above: bob's first sync is
// served everything but the create's pair (and, late, dave's key change),
// the second everything. Dave's key change and message must end verified.
func attackLateBindMemberKey(w *world, late bool) (string, error) {
	return lateBindMemberKey(w, late, false, false)
}

// lateBindMemberKey is attackLateBindMemberKey; with both, the first sync
// is served neither dave's key change nor his message; with keyLater
// (both set too), a second sync serves everything but dave's key change,
// and a third everything.
func lateBindMemberKey(w *world, late, both, keyLater bool) (string, error) {
	h, pairSeq, err := daveReaddedScene(w)
	if err != nil {
		return "", err
	}
	h.rotate(h.dv, []*user{h.alice, h.bob, h.carol, h.dv})
	kcSeq := h.top()
	h.say(h.dv, "dave, under his key")
	sayAt := h.top()
	var mids []string
	for _, it := range h.items[len(h.items)-4:] {
		mids = append(mids, it.me.GetMessageID())
	}
	h.seal()
	first, err := pageOf(h, nil, func(s string) bool { return s != pairSeq && (!late || s != kcSeq) && (!both || s != sayAt) })
	if err != nil {
		return "", err
	}
	second, err := pageOf(h, nil, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	m := lateRounds(first, second)
	if keyLater {
		withoutKey, err := pageOf(h, nil, func(s string) bool { return s != kcSeq })
		if err != nil {
			return "", err
		}
		m = threeRounds(first, withoutKey, second)
	}
	o := startHarness(w.t, h).run(w.t, m)
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case !o.verified[mids[0]] || !o.verified[mids[1]]:
		return "", errorf("setup: alice's removal and add of dave were not opened (%v; %v)", o.failed[mids[0]], o.failed[mids[1]])
	case !o.verified[mids[2]]:
		return "", errorf("dave's key change above alice's add of him stays failed (%v)", o.failed[mids[2]])
	case !o.verified[mids[3]]:
		return "", errorf("dave's message under his key stays failed (%v)", o.failed[mids[3]])
	case !o.handed[mids[3]]:
		return "", errorf("dave's message opened but never handed to fn verified")
	case both && !keyLater && (o.failed[mids[2]] != nil || o.failed[mids[3]] != nil):
		// Stored failed by the second sync and held from fn, then
		// opened: handed once, verified.
		return "", errorf("dave's key change or message handed to fn failed after its opening (%v; %v)", o.failed[mids[2]], o.failed[mids[3]])
	}
	return "dave's key change and his message under its key open with alice's removal and add of him", nil
}

// attackLateBindOutsiderKey: the scene of pairLateScene, the create
// served again with its pair; with it bob (a member, no admin) adds
// mallory, naming himself nowhere, mallory distributes a key of hers
// (wrapped to everyone) and speaks under it, all read before any roster.
// The reading again from the create refuses bob's add: mallory is no
// member at her key change's place, and her key change and message, failed
// by the create, must stay failed, as on a fresh device.
func attackLateBindOutsiderKey(w *world) (string, error) { return lateBindOutsiderKey(w, false) }

// lateBindOutsiderKey is attackLateBindOutsiderKey; with keyLater, bob's
// first sync is served neither mallory's key change nor her message, his
// second everything but her key change (her message fails for want of its
// key and as hers, no member), and a third everything.
func lateBindOutsiderKey(w *world, keyLater bool) (string, error) {
	var forged []string
	var encoded []string // mallory's key change and message, encoded
	_, o, _, err := pairLateSceneWith(w, true, func(h *history) []*tevent.MessageEvent {
		top, v := h.top(), h.newestVersion()
		e := h.env()
		e.SequenceID = hostile.NextSequenceID(top, 1500)
		add, err := h.bob.memberAdd(e, v, []string{h.mallory.id}, []string{h.alice.id, h.carol.id}, []string{h.alice.id, h.carol.id})
		if err != nil {
			w.t.Fatal(err)
		}
		key, err := crypto.NewConversationKey(nil)
		if err != nil {
			w.t.Fatal(err)
		}
		mv := h.nextVersion(5)
		e = h.env()
		e.SequenceID = hostile.NextSequenceID(top, 1700)
		kc, err := h.mallory.forger().KeyChange(e, mv, key, []hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.mallory.recipient()})
		if err != nil {
			w.t.Fatal(err)
		}
		e = h.env()
		e.SequenceID = hostile.NextSequenceID(top, 1900)
		say, err := h.mallory.forger().Message(e, mv, key, text("mallory, under her key"))
		if err != nil {
			w.t.Fatal(err)
		}
		forged = []string{add.GetMessageID(), kc.GetMessageID(), say.GetMessageID()}
		for _, me := range []*tevent.MessageEvent{kc, say} {
			b, err := hostile.EncodeEvent(me)
			if err != nil {
				w.t.Fatal(err)
			}
			encoded = append(encoded, b)
		}
		return []*tevent.MessageEvent{add, kc, say}
	}, func(m *mutation) {
		if !keyLater {
			return
		}
		drop := func(p mutPage, which ...string) mutPage {
			keep := func(d string) bool { return slices.Contains(which, d) }
			p.data, p.keys = slices.DeleteFunc(slices.Clone(p.data), keep), slices.DeleteFunc(slices.Clone(p.keys), keep)
			return p
		}
		whole := m.rounds[1][0]
		m.rounds = [][]mutPage{{drop(m.rounds[0][0], encoded...)}, {drop(whole, encoded[0])}, {whole}}
		m.pushes = make([][]*tevent.MessageEvent, 4)
	})
	if err != nil {
		return "", err
	}
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case o.verified[forged[0]]:
		return "", errorf("bob's add of mallory, read before the create, opened verified")
	case o.verified[forged[1]]:
		return "", errorf("mallory's key change above bob's add of her opened verified")
	case o.verified[forged[2]] || o.handed[forged[2]]:
		return "", errorf("mallory's message under her key opened verified")
	}
	return fmt.Sprintf("mallory's key change and message stay failed (%v; %v)", o.failed[forged[1]], o.failed[forged[2]]), nil
}

// TestLateBindMemberKeyAndMessage: dave's key change and message both
// withheld from bob's first sync, read in the second after the create
// started the roster without dave.
func TestLateBindMemberKeyAndMessage(t *testing.T) {
	w := newWorld(t)
	if _, err := lateBindMemberKey(w, true, true, false); err != nil {
		t.Fatal(err)
	}
}
