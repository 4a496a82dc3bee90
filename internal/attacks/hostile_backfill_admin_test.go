package attacks

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// Attacks on group changes the server backfills: an admin's honest change
// it withheld from bob's sync and serves later at its place, below the
// revocation of her rights bob stored since. A fresh device served the
// transcript in order keeps the change; judged against the roster held
// when stored, bob failed it, and the rosters diverged. The detected half:
// changes a fresh device fails, or that the server made up after the fact,
// stay failed.

var backfillAdminAttacks = []attack{
	{"backfill-admin-removal-below-revocation", attackBackfillRemovalBelowRevocation},
	{"backfill-admin-revocation-below-revocation", attackBackfillRevocationBelowRevocation},
	{"backfill-removal-by-never-admin", attackBackfillRemovalNeverAdmin},
	{"backfill-removal-after-revocation-closed-chain", attackBackfillRemovalClosedChain},
	{"backfill-removal-by-removed-admin", attackBackfillRemovalRemovedAdmin},
	{"backfill-removal-replayed", attackBackfillRemovalReplayed},
	{"backfill-admin-add-below-revocation", attackBackfillAddBelowRevocation},
	{"backfill-admin-add-with-its-key-below-revocation", attackBackfillAddWithKey},
	{"backfill-add-by-never-admin", attackBackfillAddNeverAdmin},
	{"backfill-add-after-revocation-closed-chain", attackBackfillAddClosedChain},
	{"backfill-add-under-later-key", attackBackfillAddLaterKey},
	{"backfill-add-by-removed-admin", attackBackfillAddRemovedAdmin},
	{"backfill-add-replayed", attackBackfillAddReplayed},
}

// carolAdmin is malloryJoined with carol made an admin by alice.
func carolAdmin(w *world) (*history, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return nil, err
	}
	h.push(h.adminAdd(h.carol.id))
	return h, nil
}

// backfillRun is a change backfilled to bob next to a fresh device's
// sync of the same transcript in order (runBackfill).
type backfillRun struct {
	hs              *harness
	withheld, whole mutPage
	fresh, late     *runOutcome
}

// runBackfill serves h to a fresh device in order and, to bob, first
// without the event at seq (message id mid) and then whole: the event is
// backfilled below what bob stored since. The fresh device must keep it;
// bob must end with the conversation and no violation, and keep it too.
func runBackfill(w *world, h *history, seq, mid string) (*backfillRun, error) {
	withheld, whole, err := servedLate(h, nil, seq)
	if err != nil {
		return nil, err
	}
	hs := startHarness(w.t, h)
	fresh := hs.run(w.t, oneRound(whole))
	if len(fresh.violations) > 0 || fresh.conv == nil {
		return nil, errorf("fresh device: %v (sync errors %v)", fresh.violations, fresh.syncErrs)
	}
	if !fresh.verified[mid] {
		return nil, errorf("setup: a fresh device served the transcript in order fails the backfilled event: %v", fresh.failed[mid])
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case len(o.violations) > 0:
		return nil, errorf("backfill: %v", o.violations)
	case o.conv == nil:
		return nil, errorf("no conversation after the syncs: %v", o.syncErrs)
	case o.failed[mid] != nil || !o.verified[mid]:
		return nil, errorf("the honest event, backfilled below what bob stored since, failed (%v) where a fresh device keeps it", o.failed[mid])
	}
	return &backfillRun{hs: hs, withheld: withheld, whole: whole, fresh: fresh, late: o}, nil
}

// backfilledChange is runBackfill of the change at seq (message id mid):
// bob must come out with the fresh device's roster and admins.
func backfilledChange(w *world, h *history, seq, mid string) (string, error) {
	out, _, err := backfilledChangeRun(w, h, seq, mid)
	return out, err
}

// backfilledChangeRun is backfilledChange returning the runs too.
func backfilledChangeRun(w *world, h *history, seq, mid string) (string, *backfillRun, error) {
	r, err := runBackfill(w, h, seq, mid)
	if err != nil {
		return "", nil, err
	}
	o, fresh := r.late, r.fresh
	switch {
	case !sameSet(o.conv.Members, fresh.conv.Members):
		return "", nil, errorf("bob's roster %v differs from a fresh device's %v", o.conv.Members, fresh.conv.Members)
	case !sameSet(o.conv.Admins, fresh.conv.Admins):
		return "", nil, errorf("bob's admins %v differ from a fresh device's %v", o.conv.Admins, fresh.conv.Admins)
	}
	return fmt.Sprintf("backfilled change judged at its place: verified, roster %d members and %d admins as on a fresh device", len(o.conv.Members), len(o.conv.Admins)), r, nil
}

// attackBackfillRemovalBelowRevocation: carol, an admin, removes mallory;
// alice revokes carol's admin rights; mallory signs on. The server
// withholds carol's removal from bob's first sync (bob stores the
// revocation) and serves it at its place in the next: judged against the
// roster held when stored (carol no admin), the genuine removal failed,
// mallory stayed on bob's roster (she would receive his next key) and
// what she signed after her removal stayed verified, where a fresh device
// removes her.
func attackBackfillRemovalBelowRevocation(w *world) (string, error) {
	h, err := carolAdmin(w)
	if err != nil {
		return "", err
	}
	h.push(h.carol.removal(h.env(), h.mallory.id))
	rm := h.items[len(h.items)-1].me
	h.push(h.adminRemove(h.carol.id))
	h.say(h.mallory, "mallory after her removal")
	after := h.items[len(h.items)-1].me.GetMessageID()
	h.say(h.alice, "alice after the revocation")
	h.seal()
	out, r, err := backfilledChangeRun(w, h, rm.GetSequenceID(), rm.GetMessageID())
	if err != nil {
		return "", err
	}
	if r.late.verified[after] {
		return "", errorf("mallory's message above her backfilled removal stays verified")
	}
	return out + "; mallory's message above it failed", nil
}

// attackBackfillRevocationBelowRevocation: carol, an admin, revokes
// mallory's admin rights; alice revokes carol's; mallory, an admin no
// longer, adds dave. With carol's revocation withheld from bob's first
// sync and backfilled at its place in the next, judged as stored it
// failed (carol no admin), and mallory's add of dave stood on bob's
// device where a fresh device fails it.
func attackBackfillRevocationBelowRevocation(w *world) (string, error) {
	h, err := carolAdmin(w)
	if err != nil {
		return "", err
	}
	h.push(h.adminAdd(h.mallory.id))
	h.push(h.adminChange(h.carol, h.env(), crypto.KindGroupAdminRemove, h.mallory.id))
	rv := h.items[len(h.items)-1].me
	h.push(h.adminRemove(h.carol.id))
	members := []string{h.alice.id, h.bob.id, h.carol.id, h.mallory.id}
	h.push(h.mallory.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, members, []string{h.alice.id, h.mallory.id}))
	h.say(h.alice, "alice after the revocations")
	h.seal()
	out, err := backfilledChange(w, h, rv.GetSequenceID(), rv.GetMessageID())
	if err != nil {
		return "", err
	}
	return out + " (dave, added by mallory after her revocation, is not a member)", nil
}

// backfillChangeForgery serves h to bob first as is and then with forged
// (beside it), the chain left open at its place when open (openChain):
// forged must fail (want) on bob's device, and the roster must keep keep
// (a member add: must not hold keep). A fresh device is served the whole
// transcript in order.
func backfillChangeForgery(w *world, h *history, forged *tevent.MessageEvent, open bool, want error, keep string) (string, error) {
	grant := groupChangeOf(forged).GroupMemberAdd != nil
	if open {
		openChain(h, forged.GetSequenceID())
	}
	fresh, o, err := backfilledForgery(w, h, nil, forged)
	if err != nil {
		return "", err
	}
	mid := forged.GetMessageID()
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case o.verified[mid]:
		return "", errorf("backfilled change (seq %s) verified (fresh device: verified %v, %v)", forged.GetSequenceID(), fresh.verified[mid], fresh.failed[mid])
	case want != nil && !errors.Is(o.failed[mid], want):
		return "", errorf("backfilled change failed with %v, want %v", o.failed[mid], want)
	case !grant && !slices.Contains(o.conv.Members, keep):
		return "", errorf("%s, whom the failed change names, is off bob's roster %v", keep, o.conv.Members)
	case grant && slices.Contains(o.conv.Members, keep):
		return "", errorf("%s, whom the failed add names, is on bob's roster %v", keep, o.conv.Members)
	}
	return fmt.Sprintf("backfilled change failed: %v (fresh device: verified %v)", o.failed[mid], fresh.verified[mid]), nil
}

// attackBackfillRemovalNeverAdmin: mallory, a member and never an admin,
// signs a removal of carol that the server places below alice's
// revocation of carol's rights (the chain left open there) and serves
// after bob stored it: at its place mallory was no admin either.
func attackBackfillRemovalNeverAdmin(w *world) (string, error) {
	h, rv, err := revokedCarol(w)
	if err != nil {
		return "", err
	}
	h.seal()
	e := h.env()
	e.SequenceID = prevSeq(rv, 5)
	forged, err := h.mallory.removal(e, h.carol.id)
	if err != nil {
		return "", err
	}
	return backfillChangeForgery(w, h, forged, true, xchat.ErrNotAuthorized, h.carol.id)
}

// attackBackfillRemovalClosedChain: carol, after alice revoked her admin
// rights, signs a removal of mallory that the server places just below
// the revocation, into a place the stored chain closed (the revocation
// names an older predecessor), and serves it after bob stored the
// revocation: a change made up after the fact is judged as stored.
func attackBackfillRemovalClosedChain(w *world) (string, error) {
	h, rv, err := revokedCarol(w)
	if err != nil {
		return "", err
	}
	h.seal()
	e := h.env()
	e.SequenceID = prevSeq(rv, 5)
	forged, err := h.carol.removal(e, h.mallory.id)
	if err != nil {
		return "", err
	}
	return backfillChangeForgery(w, h, forged, false, xchat.ErrNotAuthorized, h.mallory.id)
}

// attackBackfillRemovalRemovedAdmin: alice removes carol, an admin; carol
// signs a removal of mallory that the server places above carol's
// removal, below alice's next message (the chain left open there), and
// serves after bob stored both: at its place carol was no member.
func attackBackfillRemovalRemovedAdmin(w *world) (string, error) {
	h, e, err := removedCarol(w)
	if err != nil {
		return "", err
	}
	forged, err := h.carol.removal(e, h.mallory.id)
	if err != nil {
		return "", err
	}
	return backfillChangeForgery(w, h, forged, true, xchat.ErrNotMember, h.mallory.id)
}

// attackBackfillRemovalReplayed: carol, an admin, removes mallory; alice
// adds mallory again and revokes carol's rights. The server serves a copy
// of carol's removal under a new sequence id below the revocation (the
// chain left open there) after bob stored it: a replay (ErrReplayed),
// whatever carol's rights at its place, and mallory keeps her place.
func attackBackfillRemovalReplayed(w *world) (string, error) {
	h, err := carolAdmin(w)
	if err != nil {
		return "", err
	}
	h.push(h.carol.removal(h.env(), h.mallory.id))
	rm := h.items[len(h.items)-1].me
	h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.mallory.id}, []string{h.alice.id, h.bob.id, h.carol.id}, []string{h.alice.id, h.carol.id}))
	h.push(h.adminRemove(h.carol.id))
	rv := h.top()
	h.say(h.alice, "alice after the revocation")
	h.seal()
	o, seq, err := replayedBelow(w, h, rm, rv)
	if err != nil {
		return "", err
	}
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case !errors.Is(o.failed[rm.GetMessageID()], xchat.ErrReplayed):
		return "", errorf("the copy of carol's removal at %s: %v, want ErrReplayed", seq, o.failed[rm.GetMessageID()])
	case !slices.Contains(o.conv.Members, h.mallory.id):
		return "", errorf("mallory, re-added, is off bob's roster %v after the replay", o.conv.Members)
	}
	return fmt.Sprintf("backfilled copy refused: %v", o.failed[rm.GetMessageID()]), nil
}

// fourMembers are the members of malloryJoined's group.
func fourMembers(h *history) []string {
	return []string{h.alice.id, h.bob.id, h.carol.id, h.mallory.id}
}

// attackBackfillAddBelowRevocation: carol, an admin, adds dave; alice
// revokes carol's rights. The server withholds carol's add from bob's
// first sync (bob stores the revocation) and serves it at its place in
// the next: judged against the roster held when stored (carol no admin)
// the genuine add failed and dave was kept off bob's roster, where a
// fresh device keeps him: the server made bob's device disagree with
// every other on who is in the group.
func attackBackfillAddBelowRevocation(w *world) (string, error) {
	h, err := carolAdmin(w)
	if err != nil {
		return "", err
	}
	h.push(h.carol.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, fourMembers(h), []string{h.alice.id, h.carol.id}))
	add := h.items[len(h.items)-1].me
	h.push(h.adminRemove(h.carol.id))
	h.say(h.alice, "alice after the revocation")
	h.seal()
	out, err := backfilledChange(w, h, add.GetSequenceID(), add.GetMessageID())
	if err != nil {
		return "", err
	}
	return out + " (dave a member)", nil
}

// attackBackfillAddWithKey: as backfill-admin-add-below-revocation with
// carol's add made as clients make one, under a new key whose key change
// (hers, wrapped to dave too) follows it: the server withholds the add
// only.
func attackBackfillAddWithKey(w *world) (string, error) {
	h, err := carolAdmin(w)
	if err != nil {
		return "", err
	}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	v := h.nextVersion(1)
	h.push(h.carol.memberAdd(h.env(), v, []string{h.dv.id}, fourMembers(h), []string{h.alice.id, h.carol.id}))
	add := h.items[len(h.items)-1].me
	h.push(h.carol.forger().KeyChange(h.env(), v, key, []hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.mallory.recipient(), h.dv.recipient()}))
	h.keys[v] = key
	h.push(h.adminRemove(h.carol.id))
	h.say(h.alice, "alice after the revocation")
	h.seal()
	return backfilledChange(w, h, add.GetSequenceID(), add.GetMessageID())
}

// revokedCarol is carolAdmin with alice's revocation of carol's rights and
// a message of alice above it; it returns the revocation's sequence id.
func revokedCarol(w *world) (*history, string, error) {
	h, err := carolAdmin(w)
	if err != nil {
		return nil, "", err
	}
	h.push(h.adminRemove(h.carol.id))
	rv := h.top()
	h.say(h.alice, "alice after the revocation")
	return h, rv, nil
}

// attackBackfillAddNeverAdmin: mallory, never an admin, signs an add of
// dave that the server places below alice's revocation of carol (the
// chain left open there) and serves after bob stored it.
func attackBackfillAddNeverAdmin(w *world) (string, error) {
	h, rv, err := revokedCarol(w)
	if err != nil {
		return "", err
	}
	h.seal()
	e := h.env()
	e.SequenceID = prevSeq(rv, 5)
	forged, err := h.mallory.memberAdd(e, h.newestVersion(), []string{h.dv.id}, fourMembers(h), []string{h.alice.id, h.carol.id})
	if err != nil {
		return "", err
	}
	return backfillChangeForgery(w, h, forged, true, xchat.ErrNotAuthorized, h.dv.id)
}

// attackBackfillAddClosedChain: carol, after alice revoked her rights,
// signs an add of dave that the server places just below the revocation,
// into a place the stored chain closed.
func attackBackfillAddClosedChain(w *world) (string, error) {
	h, rv, err := revokedCarol(w)
	if err != nil {
		return "", err
	}
	h.seal()
	e := h.env()
	e.SequenceID = prevSeq(rv, 5)
	forged, err := h.carol.memberAdd(e, h.newestVersion(), []string{h.dv.id}, fourMembers(h), []string{h.alice.id, h.carol.id})
	if err != nil {
		return "", err
	}
	return backfillChangeForgery(w, h, forged, false, xchat.ErrNotAuthorized, h.dv.id)
}

// attackBackfillAddLaterKey: carol, after alice revoked her rights, makes
// a key of her own (a key change above the revocation: she is a member
// still) and signs an add of dave under it that the server places below
// the revocation, the chain left open there: read at its place she was
// an admin, but its key is one nobody distributed before it.
func attackBackfillAddLaterKey(w *world) (string, error) {
	h, rv, err := revokedCarol(w)
	if err != nil {
		return "", err
	}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	v := h.nextVersion(10)
	h.push(h.carol.forger().KeyChange(h.env(), v, key, []hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.mallory.recipient(), h.dv.recipient()}))
	h.keys[v] = key
	h.say(h.alice, "alice after carol's key")
	h.seal()
	e := h.env()
	e.SequenceID = prevSeq(rv, 5)
	forged, err := h.carol.memberAdd(e, v, []string{h.dv.id}, fourMembers(h), []string{h.alice.id, h.carol.id})
	if err != nil {
		return "", err
	}
	return backfillChangeForgery(w, h, forged, true, xchat.ErrNotAuthorized, h.dv.id)
}

// attackBackfillAddRemovedAdmin: alice removes carol, an admin; carol
// signs an add of dave that the server places above her removal, below
// alice's next message (the chain left open there).
func attackBackfillAddRemovedAdmin(w *world) (string, error) {
	h, e, err := removedCarol(w)
	if err != nil {
		return "", err
	}
	forged, err := h.carol.memberAdd(e, h.newestVersion(), []string{h.dv.id}, []string{h.alice.id, h.bob.id, h.mallory.id}, []string{h.alice.id, h.carol.id})
	if err != nil {
		return "", err
	}
	return backfillChangeForgery(w, h, forged, true, xchat.ErrNotMember, h.dv.id)
}

// attackBackfillAddReplayed: carol, an admin, adds dave; alice removes
// dave and revokes carol's rights. The server serves a copy of carol's
// add under a new sequence id below the revocation (the chain left open
// there) after bob stored it: a replay (ErrReplayed), and dave stays out.
func attackBackfillAddReplayed(w *world) (string, error) {
	h, err := carolAdmin(w)
	if err != nil {
		return "", err
	}
	h.push(h.carol.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, fourMembers(h), []string{h.alice.id, h.carol.id}))
	add := h.items[len(h.items)-1].me
	h.push(h.alice.removal(h.env(), h.dv.id))
	h.push(h.adminRemove(h.carol.id))
	rv := h.top()
	h.say(h.alice, "alice after the revocation")
	h.seal()
	o, seq, err := replayedBelow(w, h, add, rv)
	if err != nil {
		return "", err
	}
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case !errors.Is(o.failed[add.GetMessageID()], xchat.ErrReplayed):
		return "", errorf("the copy of carol's add at %s: %v, want ErrReplayed", seq, o.failed[add.GetMessageID()])
	case slices.Contains(o.conv.Members, h.dv.id):
		return "", errorf("dave, removed, is on bob's roster %v after the replay", o.conv.Members)
	}
	return fmt.Sprintf("backfilled copy refused: %v", o.failed[add.GetMessageID()]), nil
}

// TestBackfilledAddKeepsLaterTitle: carol, an admin, adds dave, her add
// signing the group's title as she held it; alice retitles the group and
// revokes carol's rights. With carol's add withheld from bob's first sync
// and backfilled at its place in the next, the add stands there, but the
// title it signed is older than alice's: bob shows alice's title, as a
// fresh device does, not the one the add signed.
func TestBackfilledAddKeepsLaterTitle(t *testing.T) {
	w := newWorld(t)
	h, err := carolAdmin(w)
	if err != nil {
		t.Fatal(err)
	}
	v := h.newestVersion()
	old, err := crypto.Seal(nil, h.keys[v], []byte("the title carol held"))
	if err != nil {
		t.Fatal(err)
	}
	title := wire.EncodeB64(old)
	e := h.env()
	added, current, admins := []string{h.dv.id}, fourMembers(h), []string{h.alice.id, h.carol.id}
	ma := crypto.GroupMemberAdd{NewMemberIDs: added, CurrentMemberIDs: current, CurrentAdminIDs: admins, ConversationKeyVersion: v, CurrentTitle: &title}
	p, err := crypto.GroupMemberAddPayload(crypto.SignatureVersion, crypto.Header{MessageID: e.MessageID, SenderID: h.carol.id, ConversationID: h.g}, ma)
	h.push(h.carol.groupAction(e, &tevent.GroupChange{GroupMemberAdd: &tevent.GroupMemberAddChange{MemberIds: added,
		CurrentMemberIds: current, CurrentAdminIds: admins, ConversationKeyVersion: &v, CurrentPendingMemberIds: []string{}, CurrentTitle: &title}}, p, err))
	add := h.items[len(h.items)-1].me
	h.retitleHonest(h.alice, "after carol's add")
	h.push(h.adminRemove(h.carol.id))
	h.say(h.alice, "alice after the revocation")
	h.seal()
	withheld, whole, err := servedLate(h, nil, add.GetSequenceID())
	if err != nil {
		t.Fatal(err)
	}
	hs := startHarness(t, h)
	fresh := hs.run(t, oneRound(whole))
	if len(fresh.violations) > 0 || fresh.conv == nil || fresh.conv.Title != h.titles[0] {
		t.Fatalf("setup: a fresh device (violations %v) shows another title than alice's %q", fresh.violations, h.titles[0])
	}
	o := hs.run(t, lateRounds(withheld, whole))
	switch {
	case len(o.violations) > 0:
		t.Fatalf("violations: %v", o.violations)
	case o.conv == nil:
		t.Fatalf("no conversation after the syncs: %v", o.syncErrs)
	case !o.verified[add.GetMessageID()]:
		t.Fatalf("carol's backfilled add not verified at its place: %v", o.failed[add.GetMessageID()])
	case o.conv.Title != fresh.conv.Title:
		t.Errorf("bob shows title %q after the backfilled add, a fresh device %q", o.conv.Title, fresh.conv.Title)
	}
}

// TestBackfilledKeyChangeJudgedAtPlace: carol, a member, distributes a
// new key and alice writes under it; alice then removes carol. With
// carol's key change withheld from bob's first sync (bob stores the
// removal, and alice's message, which he cannot open without the key) and
// backfilled at its place in the next, bob judges it at its place, as a
// fresh device does: it stands, its key for decryption only (carol holds
// it: session/backfillkey.go), and alice's message opens. (Until
// key changes were judged at their place it was judged as stored and failed, safe but unlike a
// fresh device.)
func TestBackfilledKeyChangeJudgedAtPlace(t *testing.T) {
	w := newWorld(t)
	h, err := malloryJoined(w)
	if err != nil {
		t.Fatal(err)
	}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	v := h.nextVersion(1)
	h.push(h.carol.forger().KeyChange(h.env(), v, key, []hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.mallory.recipient()}))
	kc := h.items[len(h.items)-1].me
	h.keys[v] = key
	h.say(h.alice, "alice under carol's key")
	said := h.items[len(h.items)-1].me.GetMessageID()
	h.push(h.alice.removal(h.env(), h.carol.id))
	h.say(h.alice, "alice after carol's removal")
	h.seal()
	withheld, whole, err := servedLate(h, nil, kc.GetSequenceID())
	if err != nil {
		t.Fatal(err)
	}
	hs := startHarness(t, h)
	fresh := hs.run(t, oneRound(whole))
	if len(fresh.violations) > 0 || !fresh.verified[kc.GetMessageID()] || !fresh.verified[said] {
		t.Fatalf("setup: a fresh device (violations %v) does not keep carol's key change (%v) and alice's message (%v)", fresh.violations, fresh.failed[kc.GetMessageID()], fresh.failed[said])
	}
	o := hs.run(t, lateRounds(withheld, whole))
	switch {
	case len(o.violations) > 0:
		t.Fatalf("violations: %v", o.violations)
	case o.conv == nil:
		t.Fatalf("no conversation after the syncs: %v", o.syncErrs)
	case !o.verified[kc.GetMessageID()]:
		t.Errorf("backfilled key change of a removed member failed (%v) where a fresh device keeps it", o.failed[kc.GetMessageID()])
	case !o.verified[said]:
		t.Errorf("alice's message under the backfilled key stays failed (%v) where a fresh device keeps it", o.failed[said])
	}
}

// TestBackfilledRemovalThenReadd: carol, an admin, removes mallory; alice
// adds her again; alice revokes carol's rights; mallory writes. With
// carol's removal withheld from bob's first sync (bob read alice's add as
// adding nobody) and backfilled at its place in the next, the walk the
// removal starts finds alice's re-add above it: mallory keeps her place
// and her message, as on a fresh device.
func TestBackfilledRemovalThenReadd(t *testing.T) {
	w := newWorld(t)
	h, err := carolAdmin(w)
	if err != nil {
		t.Fatal(err)
	}
	h.push(h.carol.removal(h.env(), h.mallory.id))
	rm := h.items[len(h.items)-1].me
	h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.mallory.id}, []string{h.alice.id, h.bob.id, h.carol.id}, []string{h.alice.id, h.carol.id}))
	h.push(h.adminRemove(h.carol.id))
	h.say(h.mallory, "mallory, a member again")
	said := h.items[len(h.items)-1].me.GetMessageID()
	h.seal()
	out, err := backfilledChange(w, h, rm.GetSequenceID(), rm.GetMessageID())
	if err != nil {
		t.Fatal(err)
	}
	withheld, whole, err := servedLate(h, nil, rm.GetSequenceID())
	if err != nil {
		t.Fatal(err)
	}
	o := startHarness(t, h).run(t, lateRounds(withheld, whole))
	if !o.verified[said] {
		t.Fatalf("mallory's message after her re-add: %v, want verified as on a fresh device", o.failed[said])
	}
	t.Log(out)
}

// TestBackfilledAdminAdd: carol, an admin, makes mallory an admin; alice
// revokes carol's rights. With carol's admin add withheld from bob's
// first sync and backfilled at its place in the next, it stands there:
// mallory is an admin on bob's device as on a fresh one.
func TestBackfilledAdminAdd(t *testing.T) {
	w := newWorld(t)
	h, err := carolAdmin(w)
	if err != nil {
		t.Fatal(err)
	}
	h.push(h.adminChange(h.carol, h.env(), crypto.KindGroupAdminAdd, h.mallory.id))
	grant := h.items[len(h.items)-1].me
	h.push(h.adminRemove(h.carol.id))
	h.say(h.alice, "alice after the revocation")
	h.seal()
	out, err := backfilledChange(w, h, grant.GetSequenceID(), grant.GetMessageID())
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out)
}

// replayedBelow serves bob h (the chain left open just below rv) and then
// h with a copy of me placed there, and returns his outcome and the copy's
// sequence id: a replay of a stored change, backfilled.
func replayedBelow(w *world, h *history, me *tevent.MessageEvent, rv string) (*runOutcome, string, error) {
	re := *me
	seq := prevSeq(rv, 5)
	re.SequenceID = &seq
	openChain(h, seq)
	withheld, err := pageWith(h, nil, "")
	if err != nil {
		return nil, "", err
	}
	whole, err := pageWith(h, []*tevent.MessageEvent{&re}, "")
	if err != nil {
		return nil, "", err
	}
	hs := startHarness(w.t, h)
	return hs.run(w.t, lateRounds(withheld, whole)), seq, nil
}

// removedCarol is carolAdmin with alice's removal of carol and two
// messages of alice above it, sealed; it returns an envelope placed just
// below the second message (the chain left open there), above carol's
// removal.
func removedCarol(w *world) (*history, hostile.Envelope, error) {
	h, err := carolAdmin(w)
	if err != nil {
		return nil, hostile.Envelope{}, err
	}
	h.push(h.alice.removal(h.env(), h.carol.id))
	h.say(h.alice, "alice after carol's removal")
	top := h.top()
	h.say(h.alice, "alice again")
	h.seal()
	e := h.env()
	e.SequenceID = prevSeq(top, 5)
	return h, e, nil
}
