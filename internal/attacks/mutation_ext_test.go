package attacks

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// The transcript-mutation harness's extension, part 1: a group history
// with admins and titles, and what the hostile server does with it beyond
// the base harness.
//
// The history is the base one (mutation_history_test.go) created with an
// encrypted title, in which alice may make mallory an admin before she
// removes her (a removed admin), members retitle the group (titles sealed
// under the group key, signed in the change), and alice grants and
// revokes carol's admin rights. Beside mallory's forgeries of the base
// harness, she signs, after her removal, title changes (under her own key
// and under the newest key she legitimately held), an admin add of
// herself and an admin removal of alice; dave, who is never an admin,
// signs an admin add of himself and a removal of carol.
//
// The server, besides the base mutations, inflates the create's unsigned
// admin list, claims a group_name of mallory's in its conversation record,
// and serves bob's device an honest prefix first (a device that already
// holds history), then forks at the stored tip, re-serves stored events
// under new sequence ids, inserts events below the tip and pushes more of
// the events through Deliver (the same events partly pushed, partly
// synced). Part 2 (mutation_ext_check_test.go) checks the invariants.

// extTitle is the title alice creates the group with.
const extTitle = "alice's group"

// newExtHistory plays the extension's honest script chosen by rng.
func newExtHistory(w *world, rng *rand.Rand) *history {
	h := newTitledHistory(w, extTitle)
	h.titles, h.daveForged = []string{extTitle}, map[string]bool{}
	h.playEngines(rng)
	h.readServer()
	h.playSignedExt(rng)
	h.forge(rng)
	h.forgeExt(rng)
	h.seal()
	return h
}

// playSignedExt continues the history with signed events: perhaps mallory
// made an admin and a title set, her removal and a rotation, then admin
// grants and revocations of carol, titles, an add of dave and messages.
func (h *history) playSignedExt(rng *rand.Rand) {
	members := []*user{h.alice, h.bob, h.carol}
	if h.isMember(h.dv) {
		members = append(members, h.dv)
	}
	if rng.IntN(2) == 0 {
		h.push(h.adminChange(h.alice, h.env(), crypto.KindGroupAdminAdd, h.mallory.id))
	}
	if rng.IntN(2) == 0 {
		h.retitleHonest([]*user{h.alice, h.mallory, h.carol}[rng.IntN(3)], "before the removal")
	}
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	h.rotate(h.alice, members)
	carolAdmin := false
	for i := range 3 + rng.IntN(5) {
		switch op := rng.IntN(6); {
		case op == 0 && !carolAdmin:
			h.push(h.adminChange(h.alice, h.env(), crypto.KindGroupAdminAdd, h.carol.id))
			carolAdmin = true
		case op == 1 && carolAdmin:
			h.push(h.adminChange(h.alice, h.env(), crypto.KindGroupAdminRemove, h.carol.id))
			carolAdmin = false
		case op == 2:
			h.retitleHonest(members[rng.IntN(len(members))], fmt.Sprintf("step %d", i))
		case op == 3 && !slices.Contains(members, h.dv):
			admins := []string{h.alice.id}
			if carolAdmin {
				admins = append(admins, h.carol.id)
			}
			h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, ids(members), admins))
			members = append(members, h.dv)
			h.rotate(h.alice, members)
		default:
			u := members[rng.IntN(len(members))]
			h.say(u, fmt.Sprintf("signed message %d by %s", i, u.id))
		}
	}
}

// retitleHonest appends u's title change under the newest key.
func (h *history) retitleHonest(u *user, why string) {
	v := h.newestVersion()
	title := fmt.Sprintf("title by %s %s", u.id, why)
	h.push(h.retitle(u, h.env(), v, h.keys[v], title))
	h.titles = append(h.titles, title)
}

// adminChange returns u's signed admin add or removal (kind) of ids.
func (h *history) adminChange(u *user, e hostile.Envelope, kind string, ids ...string) (*tevent.MessageEvent, error) {
	p, err := crypto.GroupIDListPayload(crypto.SignatureVersion,
		crypto.Header{MessageID: e.MessageID, SenderID: u.id, ConversationID: h.g}, kind, ids)
	gc := &tevent.GroupChange{GroupAdminAdd: &tevent.GroupAdminAddChange{AdminIds: ids}}
	if kind == crypto.KindGroupAdminRemove {
		gc = &tevent.GroupChange{GroupAdminRemove: &tevent.GroupAdminRemoveChange{AdminIds: ids}}
	}
	return u.groupAction(e, gc, p, err)
}

// retitle returns u's signed title change: title sealed under key
// (version), the SDK's encrypt(text, key) form.
func (h *history) retitle(u *user, e hostile.Envelope, version string, key *crypto.ConversationKey, title string) (*tevent.MessageEvent, error) {
	ct, err := crypto.Seal(nil, key, []byte(title))
	if err != nil {
		return nil, err
	}
	sealed := wire.EncodeB64(ct)
	p, err := crypto.GroupTitleChangePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: e.MessageID, SenderID: u.id, ConversationID: h.g}, version, &sealed)
	gc := &tevent.GroupChange{GroupTitleChange: &tevent.GroupTitleChange{CustomTitle: &sealed, ConversationKeyVersion: &version}}
	return u.groupAction(e, gc, p, err)
}

// forgeExt adds the extension's forgeries after mallory's removal:
// mallory's title changes and admin changes, dave's admin add of himself
// and removal of carol.
func (h *history) forgeExt(rng *rand.Rand) {
	seq := h.removal
	env := h.forgeryEnvs(rng, &seq, 501, 700, "6666")
	add := func(me *tevent.MessageEvent, err error) *tevent.MessageEvent {
		if err != nil {
			h.w.t.Fatal(err)
		}
		h.forgeries = append(h.forgeries, &mutItem{me: me, forged: true})
		return me
	}
	own, ownV := h.malloryKeys[len(h.malloryKeys)-1], h.nextVersion(6) // forge's key wrapped to everyone
	oldV, old := h.malloryNewest()
	for _, f := range []struct {
		v   string
		key *crypto.ConversationKey
	}{{ownV, own}, {oldV, old}} {
		title := "mallory's title under key version " + f.v
		add(h.retitle(h.mallory, env(), f.v, f.key, title))
		h.malloryTitles = append(h.malloryTitles, title)
	}
	h.malloryTitles = append(h.malloryTitles, claimedNames...)
	add(h.adminChange(h.mallory, env(), crypto.KindGroupAdminAdd, h.mallory.id))
	add(h.adminChange(h.mallory, env(), crypto.KindGroupAdminRemove, h.alice.id))
	h.daveForged[add(h.adminChange(h.dv, env(), crypto.KindGroupAdminAdd, h.dv.id)).GetMessageID()] = true
	h.daveForged[add(h.dv.removal(env(), h.carol.id)).GetMessageID()] = true
}

// malloryNewest is the newest key version mallory held as a member, and
// its key.
func (h *history) malloryNewest() (string, *crypto.ConversationKey) {
	newest := ""
	var key *crypto.ConversationKey
	for v, k := range h.keys {
		held := slices.ContainsFunc(h.malloryKeys, func(m *crypto.ConversationKey) bool { return m.Equal(k) })
		if held && (newest == "" || decimal.Less(newest, v)) {
			newest, key = v, k
		}
	}
	if key == nil {
		h.w.t.Fatal("mallory holds no honest key")
	}
	return newest, key
}
