package attacks

import (
	"context"
	"fmt"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Round 38 on the reading again of a group from a create below the member
// add that started its roster (session/latejoin.go) and on the key
// changes such a reading reopens (session/reopen.go).

var lateJoinRound38Attacks = []attack{
	{"join-seeded-reread-given-up-walks-history-every-sync", attackJoinedRereadRetried},
	{"join-seeded-reread-given-up-blocks-honest-create-served-later", attackJoinedGivenUpThenHonest},
}

// joinedGivenUpStored is how many messages alice signs above her add of
// dave in attackJoinedRereadRetried: the history a reading again walks.
const joinedGivenUpStored = 300

// attackJoinedRereadRetried: alice's group with bob and carol; alice
// renames it, makes carol an admin, adds dave (starting bob's roster:
// her create and its pair are never served) and signs many messages.
// From bob's second sync on, the server serves too, below the title
// change, a create carol signs (naming only herself and bob) and its
// pair, a key change of hers: refused as a second create, its pair
// stored, it is read again from (joinedCreate), and the reading given up
// (alice's add does not stand on a roster without her). Nothing the
// reading depends on changes after that: unless the given-up reading is
// remembered, every later sync (each batch holding its events from fn)
// decrypts the group's changes and walks the whole history again, so a
// server repeating a sync makes each cost the history's length.
func attackJoinedRereadRetried(w *world) (string, error) {
	base, err := joinedRereadCost(w.t, false, 0)
	if err != nil {
		return "", err
	}
	read, err := joinedRereadCost(w.t, true, 0)
	if err != nil {
		return "", err
	}
	// The second sync stores carol's create and gives its reading up; the
	// third and later serve nothing new, and read what they read with no
	// create of carol's served.
	for i := 2; i < len(read); i++ {
		if read[i] > base[i]+joinedGivenUpStored/2 {
			return "", errorf("sync %d, serving nothing new, read %d events of bob's store, %d with no create of carol's served (syncs read %v, %v): the reading again given up in sync 2 walks the %d-event history again", i+1, read[i], base[i], read, base, joinedGivenUpStored)
		}
	}
	// Alice's messages served in pages of 8 events, the sync storing
	// them does so in batches of 8 pages, each holding its events from
	// fn: a reading again given up and tried by each batch walks the
	// history stored so far once a batch (quadratic in its length).
	pbase, err := joinedRereadCost(w.t, false, 8)
	if err != nil {
		return "", err
	}
	paged, err := joinedRereadCost(w.t, true, 8)
	if err != nil {
		return "", err
	}
	if paged[2] > pbase[2]+joinedGivenUpStored/2 {
		return "", errorf("the sync storing alice's %d messages in pages of 8 events read %d events of bob's store, %d with no create of carol's served (syncs read %v, %v): the reading again given up is walked by every batch", joinedGivenUpStored, paged[2], pbase[2], paged, pbase)
	}
	return fmt.Sprintf("the given-up reading is not walked again: the syncs read %v events (%v with no create of carol's); in pages of 8, %v (%v)", read, base, paged, pbase), nil
}

// joinedRereadCost plays attackJoinedRereadRetried's scene (carol's create
// and pair served from the second sync on when withCreate is set, never
// otherwise) and returns the events each sync read of bob's store. With
// pageSize 0, the whole history is served to each of five syncs as one
// page; otherwise the first two syncs are served the history up to
// alice's add, the third and fourth the whole in pages of pageSize.
func joinedRereadCost(tb testing.TB, withCreate bool, pageSize int) ([]int64, error) {
	w := newWorld(tb, emulator.WithRateLimit(0, 0))
	h := newBareHistory(w)
	h.readServer()
	createSeq, pairSeq, err := createAndPair(h)
	if err != nil {
		return nil, err
	}
	h.retitleHonest(h.alice, "renamed by alice")
	title := h.items[len(h.items)-1].me
	h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, []string{h.alice.id, h.bob.id, h.carol.id}, []string{h.alice.id, h.carol.id}))
	add := h.items[len(h.items)-1].me
	for i := range joinedGivenUpStored {
		h.say(h.alice, fmt.Sprintf("alice's message %d", i))
	}
	h.seal()
	kc, create, err := memberCreate(h, h.carol, prevSeq(title.GetSequenceID(), 20), prevSeq(title.GetSequenceID(), 10), []string{h.carol.id, h.bob.id})
	if err != nil {
		return nil, err
	}
	never := func(seq string) bool { return seq != createSeq && seq != pairSeq }
	upToAdd := func(seq string) bool { return never(seq) && !decimal.Less(add.GetSequenceID(), seq) }
	var extra []*tevent.MessageEvent
	if withCreate {
		extra = []*tevent.MessageEvent{kc, create}
	}
	var rounds [][]mutPage
	if pageSize == 0 {
		// Everything in the first sync; carol's create and pair with it
		// from the second on.
		first, err := pageOf(h, nil, never)
		if err != nil {
			return nil, err
		}
		later, err := pageOf(h, extra, never)
		if err != nil {
			return nil, err
		}
		rounds = [][]mutPage{{first}, {later}, {later}, {later}, {later}}
	} else {
		// Up to alice's add in the first sync, carol's create and pair
		// with it in the second, alice's messages in pages of pageSize
		// in the third and fourth (the fourth serving nothing new).
		first, err := pageOf(h, nil, upToAdd)
		if err != nil {
			return nil, err
		}
		second, err := pageOf(h, extra, upToAdd)
		if err != nil {
			return nil, err
		}
		later, err := pageOf(h, extra, never)
		if err != nil {
			return nil, err
		}
		rounds = [][]mutPage{{first}, {second}, splitPage(later, pageSize), splitPage(later, pageSize)}
	}
	syncs := len(rounds)
	ctx := w.ctx
	e, count, err := countingBob(tb, ctx, h, &mutation{rounds: rounds, pushes: make([][]*tevent.MessageEvent, syncs+1), kcs: map[string]string{}})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	read := make([]int64, syncs)
	for i := range syncs {
		count.Store(0)
		if _, err := e.Sync(ctx, h.g, nil); err != nil {
			return nil, fmt.Errorf("sync %d: %w", i+1, err)
		}
		read[i] = count.Load()
	}
	st, err := storedVerdicts(ctx, e, h.g)
	if err != nil {
		return nil, err
	}
	switch {
	case !st[add.GetMessageID()]:
		return nil, errorf("setup: alice's add of dave, which starts bob's roster, not verified")
	case st[create.GetMessageID()] || st[title.GetMessageID()]:
		return nil, errorf("setup: the reading again from carol's create was not given up (create verified %v, title change verified %v)", st[create.GetMessageID()], st[title.GetMessageID()])
	}
	return read, nil
}

// attackJoinedGivenUpThenHonest: the scene of
// join-seeded-roster-keeps-honest-changes-failed-when-create-arrives-late
// in three syncs: the first serves neither alice's create nor its pair
// (alice's add of dave starts bob's roster); the second, with them still
// withheld, carol's create naming only herself and bob, and its pair,
// above alice's create and below her title change: the reading again
// from it is given up, and remembered; the third everything. Alice's
// create, below carol's, now binds: the reading given up must not keep
// it from being read (the remembered inputs name carol's create), and a
// fresh device's verdicts must follow (alice's changes verified, carol's
// create a second one).
func attackJoinedGivenUpThenHonest(w *world) (string, error) {
	h := newBareHistory(w)
	h.readServer()
	var createSeq, pairSeq, createMID string
	for _, it := range h.items {
		d := it.me.GetDetail()
		switch {
		case d.GroupChangeEvent != nil && d.GroupChangeEvent.GroupChange != nil && d.GroupChangeEvent.GroupChange.GroupCreate != nil && createSeq == "":
			createSeq, createMID = it.seq(), it.me.GetMessageID()
		case d.ConversationKeyChangeEvent != nil && pairSeq == "" && it.me.GetSenderID() == h.alice.id:
			pairSeq = it.seq()
		}
	}
	if createSeq == "" || pairSeq == "" {
		return "", errorf("setup: no create (%q) or pair (%q) in the history", createSeq, pairSeq)
	}
	h.retitleHonest(h.alice, "renamed by alice")
	title := h.items[len(h.items)-1].me
	h.push(h.adminAdd(h.carol.id))
	h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, []string{h.alice.id, h.bob.id, h.carol.id}, []string{h.alice.id, h.carol.id}))
	add := h.items[len(h.items)-1].me
	h.say(h.alice, "alice, after adding dave")
	h.seal()
	kc, create, err := memberCreate(h, h.carol, prevSeq(title.GetSequenceID(), 20), prevSeq(title.GetSequenceID(), 10), []string{h.carol.id, h.bob.id})
	if err != nil {
		return "", err
	}
	never := func(seq string) bool { return seq != createSeq && seq != pairSeq }
	carols := []*tevent.MessageEvent{kc, create}
	first, err := pageOf(h, nil, never)
	if err != nil {
		return "", err
	}
	second, err := pageOf(h, carols, never)
	if err != nil {
		return "", err
	}
	whole, err := pageOf(h, carols, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	m := threeRounds(first, second, whole)
	// Carol's key change, a member's, may verify.
	m.tolerate = func(_ *session.Conversation, en event.Entry) bool { return en.MessageID == kc.GetMessageID() }
	m.afterStep = func(ctx context.Context, step int, e *session.Engine, _ keystore.Store, fail func(string, ...any)) {
		if step != 3 {
			return
		}
		st, err := storedVerdicts(ctx, e, h.g)
		switch {
		case err != nil:
			fail("after the second sync: %v", err)
		case !st[add.GetMessageID()] || st[title.GetMessageID()] || st[create.GetMessageID()]:
			fail("setup: after the second sync the reading again from carol's create was not given up (add verified %v, title change %v, carol's create %v)", st[add.GetMessageID()], st[title.GetMessageID()], st[create.GetMessageID()])
		}
	}
	o := startHarness(w.t, h).run(w.t, m)
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case o.verified[create.GetMessageID()]:
		return "", errorf("carol's create, above alice's, verified")
	case !o.verified[createMID] || !o.verified[title.GetMessageID()] || !o.verified[add.GetMessageID()]:
		return "", errorf("alice's create, served below carol's after the reading again from carol's was given up, did not bind: create verified %v (%v), title change %v (%v), add %v", o.verified[createMID], o.failed[createMID], o.verified[title.GetMessageID()], o.failed[title.GetMessageID()], o.verified[add.GetMessageID()])
	case o.conv.Roster != session.RosterConfirmed || o.conv.RosterSince != "":
		return "", errorf("bob's roster is %s since %q, where a fresh device's is confirmed from alice's create", o.conv.Roster, o.conv.RosterSince)
	}
	return fmt.Sprintf("alice's create binds after the reading from carol's was given up (%v); the roster %s", o.failed[create.GetMessageID()], o.conv.Roster), nil
}

// storedVerdicts returns, by message id, whether bob's history shows the
// event verified.
func storedVerdicts(ctx context.Context, e *session.Engine, cid string) (map[string]bool, error) {
	hist, err := e.History(ctx, cid, "", 0)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(hist))
	for _, en := range hist {
		out[en.MessageID] = en.Verified
	}
	return out, nil
}

// memberCreate is outsiderCreate naming members (the first its author's
// claimed admin): u's key change at a new key version (at kcSeq, wrapped
// to bob and u, its key counted among h's: u is a member) and her group
// create at that version (at createSeq), signed by u for h's group.
func memberCreate(h *history, u *user, kcSeq, createSeq string, members []string) (kc, create *tevent.MessageEvent, err error) {
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return nil, nil, err
	}
	v := h.nextVersion(50)
	e := h.env()
	e.SequenceID, e.PreviousSequenceID = kcSeq, ""
	kc, err = u.forger().KeyChange(e, v, key, []hostile.Recipient{h.bob.recipient(), u.recipient()})
	if err != nil {
		return nil, nil, err
	}
	h.keys[v] = key // a member's key: bob may keep it verified
	create, err = signedCreateCopy(h, u, v, createSeq, members, members[:1])
	if err != nil {
		return nil, nil, err
	}
	return kc, create, nil
}
