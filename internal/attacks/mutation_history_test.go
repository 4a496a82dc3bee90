package attacks

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// The transcript-mutation harness, part 1: an honest group history.
//
// alice creates a group with bob and carol; real engines then play a
// random script over the emulator (messages, edits, reactions, deletes,
// rotations, alice adding mallory and maybe dave). The emulator has no
// removal endpoint, so the rest of the history is signed by the honest
// users' own keys, as their engines would: alice removes mallory and
// rotates the key to the remaining members, then members talk, alice
// makes carol an admin, adds dave, perhaps re-adds mallory. Beside the
// honest history, mallory (whose keys stay valid) forges events after her
// removal: key changes wrapped to herself or to everyone, messages, an add
// of herself. The transcript is the signed bytes with their honest
// sequence ids; part 2 (mutation_plan_test.go) serves bob mutations of it.

// mutItem is one event of a transcript.
type mutItem struct {
	me     *tevent.MessageEvent
	kc     bool // a key change (served in a page's meta)
	forged bool // mallory's forgery after her removal: never honest
}

// seq is the item's sequence id.
func (it *mutItem) seq() string { return it.me.GetSequenceID() }

// rosterPoint is the honest roster after one group change.
type rosterPoint struct{ members, admins []string }

// history is an honest group history and mallory's forgeries.
type history struct {
	w                              *world
	alice, bob, carol, mallory, dv *user
	g                              string
	items                          []*mutItem      // honest, ascending sequence ids
	honestMIDs                     map[string]bool // the message ids of items (set by seal)
	forgeries                      []*mutItem
	removal                        string // sequence id of mallory's removal
	texts                          map[string][]string
	rosters                        []rosterPoint  // [0] after the create
	changeAt                       map[string]int // group change message id → rosters index
	keys                           map[string]*crypto.ConversationKey
	malloryKeys                    []*crypto.ConversationKey
	malloryIdentity                *crypto.PrivateKey // to tell what bob wraps to her
	bobBackup                      []byte
	bobVersion                     string
	n                              int // forged message ids used

	// The extension's (mutation_ext_test.go; empty in the base harness).
	titles        []string        // the titles honest members set, oldest first
	malloryTitles []string        // the titles mallory signs after her removal
	daveForged    map[string]bool // message ids of dave's group changes (he is never an admin)
}

// newHistory plays the honest script chosen by rng.
func newHistory(w *world, rng *rand.Rand) *history {
	h := newBareHistory(w)
	h.playEngines(rng)
	h.readServer()
	h.playSigned(rng)
	h.forge(rng)
	h.seal()
	return h
}

// newBareHistory creates the accounts and alice's group with bob and
// carol, and nothing else.
func newBareHistory(w *world) *history { return newTitledHistory(w, "") }

// newTitledHistory is newBareHistory with a group title.
func newTitledHistory(w *world, title string) *history {
	h := &history{w: w, texts: map[string][]string{}, changeAt: map[string]int{}, keys: map[string]*crypto.ConversationKey{}}
	h.alice, h.bob, h.carol = w.newUser("alice", false), w.newUser("bob", false), w.newUser("carol", false)
	h.mallory, h.dv = w.newUser("mallory", false), w.newUser("dave", false)
	g, err := h.alice.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{h.bob.id, h.carol.id}, Title: title})
	if err != nil {
		w.t.Fatalf("CreateGroup: %v", err)
	}
	h.g = g
	return h
}

// seal computes the honest rosters and keeps bob's keys for his fresh
// devices: the history is complete.
func (h *history) seal() {
	h.replayRosters()
	b, err := h.bob.e.ExportBackup()
	if err != nil {
		h.w.t.Fatal(err)
	}
	h.bobBackup, h.bobVersion = b, h.bob.e.PublicKeyVersion()
	h.malloryIdentity = h.mallory.keys().Identity
	h.honestMIDs = map[string]bool{}
	for _, it := range h.items {
		h.honestMIDs[it.me.GetMessageID()] = true
	}
}

// member syncs u and fails the test on a sync error.
func (h *history) synced(u *user) *user {
	if r := u.sync(h.g); r.err != nil {
		h.w.t.Fatalf("honest sync of %s: %v", u.id, r.err)
	}
	return u
}

// playEngines runs the real-engine part of the script: mallory is added
// at a random step, dave perhaps at another.
func (h *history) playEngines(rng *rand.Rand) {
	t := h.w.t
	members := []*user{h.alice, h.bob, h.carol}
	steps := 5 + rng.IntN(5)
	addM, addD := rng.IntN(steps), -1
	if rng.IntN(2) == 0 {
		addD = rng.IntN(steps)
	}
	var sent []*session.Sent
	by := map[string]string{} // sequence id → author
	for i := 0; i < steps; i++ {
		if i == addM || i == addD {
			nu := h.mallory
			if i == addD && i != addM {
				nu = h.dv
			}
			if err := h.synced(h.alice).e.AddMembers(h.w.ctx, h.g, nu.id); err != nil {
				t.Fatalf("AddMembers: %v", err)
			}
			members = append(members, nu)
		}
		u := h.synced(members[rng.IntN(len(members))])
		var own []*session.Sent
		for _, s := range sent {
			if by[s.SequenceID] == u.id {
				own = append(own, s)
			}
		}
		switch op := rng.IntN(6); {
		case op == 0 && len(own) > 0:
			target := own[rng.IntN(len(own))]
			txt := fmt.Sprintf("edit %d by %s", i, u.id)
			s, err := u.e.Send(h.w.ctx, h.g, session.Outgoing{Edit: target.SequenceID, Text: txt})
			if err != nil {
				t.Fatalf("Edit: %v", err)
			}
			h.texts[target.MessageID] = append(h.texts[target.MessageID], txt)
			h.texts[s.MessageID] = append(h.texts[s.MessageID], txt)
		case op == 1 && len(sent) > 0:
			if _, err := u.e.Send(h.w.ctx, h.g, session.Outgoing{React: sent[rng.IntN(len(sent))].SequenceID, Emoji: "👍"}); err != nil {
				t.Fatalf("React: %v", err)
			}
		case op == 2 && len(own) > 0:
			if err := u.e.DeleteMessages(h.w.ctx, h.g, []string{own[rng.IntN(len(own))].SequenceID}, true); err != nil {
				t.Fatalf("DeleteMessages: %v", err)
			}
		case op == 3:
			if _, err := u.e.Rotate(h.w.ctx, h.g); err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			fallthrough // a message under the new key, so that the server serves its key change
		default:
			txt := fmt.Sprintf("message %d by %s", i, u.id)
			s := u.send(h.g, txt)[0]
			h.texts[s.MessageID] = append(h.texts[s.MessageID], txt)
			sent, by[s.SequenceID] = append(sent, s), u.id
		}
	}
	for _, k := range h.keysOf(h.synced(h.mallory)) {
		h.malloryKeys = append(h.malloryKeys, k)
	}
	h.synced(h.bob)
}

// keysOf returns the conversation keys u holds for the group.
func (h *history) keysOf(u *user) map[string]*crypto.ConversationKey {
	ks, err := u.store.ConversationKeys(h.w.ctx, h.g)
	if err != nil {
		h.w.t.Fatal(err)
	}
	out := map[string]*crypto.ConversationKey{}
	for _, k := range ks {
		ck := crypto.ConversationKey(k.Key)
		out[k.Version] = &ck
	}
	return out
}

// readServer reads every event (and every key change) the honest server
// holds for the group, as alice sees it.
func (h *history) readServer() {
	h.items = append(h.items, readTranscript(h.w, h.alice.token, h.g)...)
	h.sortItems()
	for v, k := range h.keysOf(h.alice) {
		h.keys[v] = k
	}
}

// readTranscript reads every event and key change the honest server holds
// for the conversation at path, as the holder of token sees it, each once
// (a key change also served in page metadata is one item, marked kc when
// only the metadata carries it).
func readTranscript(w *world, token, path string) []*mutItem {
	c := apiClient(w.t, w.honest.URL, token)
	var items []*mutItem
	seen := map[string]bool{}
	opts := &api.ConversationEventsOptions{MaxResults: 100}
	for {
		page, _, err := c.GetConversationEvents(w.ctx, path, opts)
		if err != nil {
			w.t.Fatalf("reading the honest transcript: %v", err)
		}
		for i, b := range append(dataOf(page), page.Meta.KeyChangeEvents()...) {
			if seen[b] {
				continue
			}
			seen[b] = true
			me, err := hostile.DecodeEvent(b)
			if err != nil {
				w.t.Fatal(err)
			}
			items = append(items, &mutItem{me: me, kc: i >= len(page.Data)})
		}
		if page.Meta == nil || !page.Meta.HasMore {
			return items
		}
		opts.PaginationToken = page.Meta.NextToken
	}
}

// dataOf returns the encoded events of a page's data.
func dataOf(page *api.GetChatConversationEventsResponse) []string {
	out := make([]string, 0, len(page.Data))
	for _, d := range page.Data {
		out = append(out, d.EncodedEvent)
	}
	return out
}

func (h *history) sortItems() {
	slices.SortFunc(h.items, func(a, b *mutItem) int { return decimal.Compare(a.seq(), b.seq()) })
}

// top is the newest honest sequence id.
func (h *history) top() string { return h.items[len(h.items)-1].seq() }

// env is the envelope of the next signed event, 1000 above the top.
func (h *history) env() hostile.Envelope {
	h.n++
	top := h.top()
	return hostile.Envelope{SequenceID: hostile.NextSequenceID(top, 1000), PreviousSequenceID: top,
		MessageID: fmt.Sprintf("0b7c1a52-3333-4c4c-8888-%012d", h.n), ConversationID: h.g}
}

// newestVersion is the newest honest key version.
func (h *history) newestVersion() string {
	newest := ""
	for v := range h.keys {
		if newest == "" || decimal.Less(newest, v) {
			newest = v
		}
	}
	return newest
}

// nextVersion is a key version above every one made so far.
func (h *history) nextVersion(delta int64) string {
	v, err := strconv.ParseInt(h.newestVersion(), 10, 64)
	if err != nil {
		h.w.t.Fatal(err)
	}
	return strconv.FormatInt(v+delta, 10)
}

// push appends an honest signed event.
func (h *history) push(me *tevent.MessageEvent, err error) {
	if err != nil {
		h.w.t.Fatal(err)
	}
	h.items = append(h.items, &mutItem{me: me, kc: me.GetDetail().ConversationKeyChangeEvent != nil})
}

// rotate appends a key change by u to the members.
func (h *history) rotate(u *user, members []*user) string {
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		h.w.t.Fatal(err)
	}
	v := h.nextVersion(1)
	var to []hostile.Recipient
	for _, m := range members {
		to = append(to, m.recipient())
	}
	h.push(u.forger().KeyChange(h.env(), v, key, to))
	h.keys[v] = key
	return v
}

// say appends a message by u under the newest key.
func (h *history) say(u *user, txt string) {
	v := h.newestVersion()
	e := h.env()
	h.push(u.forger().Message(e, v, h.keys[v], text(txt)))
	h.texts[e.MessageID] = []string{txt}
}

// playSigned continues the history with events signed by the users' own
// keys: mallory's removal and what follows it.
func (h *history) playSigned(rng *rand.Rand) {
	members := []*user{h.alice, h.bob, h.carol}
	if h.isMember(h.dv) {
		members = append(members, h.dv)
	}
	admins := []string{h.alice.id}
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	h.rotate(h.alice, members)
	for i := range 2 + rng.IntN(4) {
		switch op := rng.IntN(5); {
		case op == 0 && !slices.Contains(admins, h.carol.id):
			h.push(h.adminAdd(h.carol.id))
			admins = append(admins, h.carol.id)
		case op == 1 && !slices.Contains(members, h.dv):
			h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, ids(members), admins))
			members = append(members, h.dv)
			h.rotate(h.alice, members)
		default:
			u := members[rng.IntN(len(members))]
			h.say(u, fmt.Sprintf("signed message %d by %s", i, u.id))
		}
	}
}

// adminAdd returns alice's signed admin add of id.
func (h *history) adminAdd(id string) (*tevent.MessageEvent, error) {
	e := h.env()
	p, err := crypto.GroupIDListPayload(crypto.SignatureVersion,
		crypto.Header{MessageID: e.MessageID, SenderID: h.alice.id, ConversationID: h.g}, crypto.KindGroupAdminAdd, []string{id})
	return h.alice.groupAction(e, &tevent.GroupChange{GroupAdminAdd: &tevent.GroupAdminAddChange{AdminIds: []string{id}}}, p, err)
}

// lateKeyChange returns mallory's key change to a new key of hers, a
// version above every honest one, wrapped to everyone, signed after her
// removal (delta above it); the key joins h.malloryKeys.
func (h *history) lateKeyChange(delta uint64) (*tevent.MessageEvent, error) {
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return nil, err
	}
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(h.removal, delta)
	kc, err := h.mallory.forger().KeyChange(e, h.nextVersion(10), key,
		[]hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.mallory.recipient()})
	if err != nil {
		return nil, err
	}
	h.malloryKeys = append(h.malloryKeys, key)
	return kc, nil
}

// adminRemove returns alice's signed admin removal of id.
func (h *history) adminRemove(id string) (*tevent.MessageEvent, error) {
	e := h.env()
	p, err := crypto.GroupIDListPayload(crypto.SignatureVersion,
		crypto.Header{MessageID: e.MessageID, SenderID: h.alice.id, ConversationID: h.g}, crypto.KindGroupAdminRemove, []string{id})
	return h.alice.groupAction(e, &tevent.GroupChange{GroupAdminRemove: &tevent.GroupAdminRemoveChange{AdminIds: []string{id}}}, p, err)
}

// ids returns the users' ids.
func ids(us []*user) []string {
	out := make([]string, 0, len(us))
	for _, u := range us {
		out = append(out, u.id)
	}
	return out
}

// isMember reports whether u was added by the engines' part of the script.
func (h *history) isMember(u *user) bool {
	for _, it := range h.items {
		if add := groupChangeOf(it.me).GroupMemberAdd; add != nil && slices.Contains(add.GetMemberIds(), u.id) {
			return true
		}
	}
	return false
}

// forgeryEnvs returns envelopes for forgeries placed one after another
// from *seq on (each lo to lo+span-1 above the one before, *seq following
// them), with message ids of the forgeries' own (tag) numbered by h.n.
func (h *history) forgeryEnvs(rng *rand.Rand, seq *string, lo, span int, tag string) func() hostile.Envelope {
	return func() hostile.Envelope {
		h.n++
		next := hostile.NextSequenceID(*seq, uint64(lo+rng.IntN(span)))
		e := hostile.Envelope{SequenceID: next, PreviousSequenceID: *seq,
			MessageID: fmt.Sprintf("0b7c1a52-%s-4c4c-8888-%012d", tag, h.n), ConversationID: h.g}
		*seq = next
		return e
	}
}

// forge makes mallory's forgeries, each placed after her removal.
func (h *history) forge(rng *rand.Rand) {
	m := h.mallory
	own, err := crypto.NewConversationKey(nil)
	if err != nil {
		h.w.t.Fatal(err)
	}
	all := []hostile.Recipient{m.recipient(), h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.dv.recipient()}
	v1, v2 := h.nextVersion(5), h.nextVersion(6)
	seq := h.removal
	env := h.forgeryEnvs(rng, &seq, 1, 400, "4444")
	var old *crypto.ConversationKey
	oldV := ""
	for v, k := range h.keysOf(m) {
		if oldV == "" || decimal.Less(oldV, v) {
			old, oldV = k, v
		}
	}
	f := m.forger()
	add := func(me *tevent.MessageEvent, err error) {
		if err != nil {
			h.w.t.Fatal(err)
		}
		h.forgeries = append(h.forgeries, &mutItem{me: me, forged: true, kc: me.GetDetail().ConversationKeyChangeEvent != nil})
	}
	add(f.KeyChange(env(), v1, own, []hostile.Recipient{m.recipient()}))
	add(f.KeyChange(env(), v2, own, all))
	add(f.Message(env(), oldV, old, text("mallory after her removal, old key")))
	add(f.Message(env(), v2, own, text("mallory after her removal, her key")))
	rp := h.rosterBefore(seq)
	add(m.memberAdd(env(), v2, []string{m.id}, rp.members, rp.admins))
	h.malloryKeys = append(h.malloryKeys, own)
}

// rosterBefore is the honest roster in force at sequence id seq (known
// once replayRosters ran; during forge it is computed on the spot).
func (h *history) rosterBefore(seq string) rosterPoint {
	rs, at := applyRosters(h.items)
	last := rosterPoint{}
	for _, it := range h.items {
		if decimal.Less(seq, it.seq()) {
			break
		}
		if i, ok := at[it.me.GetMessageID()]; ok {
			last = rs[i]
		}
	}
	return last
}

// replayRosters computes the honest roster after each group change.
func (h *history) replayRosters() {
	h.rosters, h.changeAt = applyRosters(h.items)
}

// applyRosters replays the group changes of items.
func applyRosters(items []*mutItem) ([]rosterPoint, map[string]int) {
	var out []rosterPoint
	at := map[string]int{}
	var members, admins []string
	for _, it := range items {
		gc := groupChangeOf(it.me)
		switch {
		case gc.GroupCreate != nil:
			members, admins = slices.Clone(gc.GroupCreate.GetMemberIds()), []string{it.me.GetSenderID()}
		case gc.GroupMemberAdd != nil:
			members = append(slices.Clone(members), gc.GroupMemberAdd.GetMemberIds()...)
		case gc.GroupMemberRemove != nil:
			gone := func(id string) bool { return slices.Contains(gc.GroupMemberRemove.GetMemberIds(), id) }
			members, admins = slices.DeleteFunc(slices.Clone(members), gone), slices.DeleteFunc(slices.Clone(admins), gone)
		case gc.GroupAdminAdd != nil:
			admins = append(slices.Clone(admins), gc.GroupAdminAdd.GetAdminIds()...)
		case gc.GroupAdminRemove != nil:
			admins = slices.DeleteFunc(slices.Clone(admins), func(id string) bool { return slices.Contains(gc.GroupAdminRemove.GetAdminIds(), id) })
		default:
			continue
		}
		at[it.me.GetMessageID()] = len(out)
		out = append(out, rosterPoint{members: members, admins: admins})
	}
	return out, at
}
