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

// The extension, part 2: what the hostile server serves. A mutation of
// the extension may start with an honest prefix (the history up to a
// random point, served unchanged in one sync, some of it pushed first),
// then one or two rounds of the base mutations plus the extension's:
// the create's admin list inflated, a stored event replayed above the
// stored tip, an event moved below it, another event served under the
// tip's own sequence id. Up to five events are pushed through Deliver
// (group changes too), and the server may claim a group_name of its
// choosing.

// extPlan is what a mutation of the extension did, for its checks.
type extPlan struct {
	prefix   int      // honest items served in the prefix round (0: none)
	tip      string   // the prefix's newest sequence id
	inflated []string // ids the create's admin list was inflated with
	claimed  bool     // (after the run) bob held claimed admins
}

// mutateExt draws a mutation of the extension from rng.
func (h *history) mutateExt(rng *rand.Rand) (*mutation, *extPlan) {
	m, p := &mutation{kcs: map[string]string{}}, &extPlan{}
	var lists [][]*mutItem
	if rng.IntN(2) == 0 {
		p.prefix = 1 + rng.IntN(len(h.items))
		p.tip = h.items[p.prefix-1].seq()
		items := cloneAll(prefixItems(h.items, p.prefix))
		lists = append(lists, items)
		m.rounds = append(m.rounds, m.honestPages(rng, items))
		m.ops = append(m.ops, fmt.Sprintf("prefix: %d honest events up to %s", p.prefix, p.tip))
	}
	rounds := 1 + rng.IntN(2)
	for r := range rounds {
		items := variantOf(rng, m, r, h.items, h.forgeries, 2, 7, func(items []*mutItem, taken map[string]bool) []*mutItem {
			return h.mutateExtOnce(rng, m, p, r, items, taken)
		})
		lists = append(lists, items)
		m.rounds = append(m.rounds, m.paginate(rng, items, r))
	}
	m.pushes = make([][]*tevent.MessageEvent, len(m.rounds)+1)
	if rng.IntN(2) == 0 {
		m.pushSome(rng, lists, 1+rng.IntN(5))
	}
	h.claimName(rng, m)
	return m, p
}

// prefixItems are the first n of the honest items and the key changes
// (served in metadata, under sequence ids of their own) of the key
// versions they use, as an honest server serves them.
func prefixItems(items []*mutItem, n int) []*mutItem {
	used := map[string]bool{}
	for _, it := range items[:n] {
		used[messageKeyVersion(it.me)] = true
	}
	out := slices.Clone(items[:n])
	for _, it := range items[n:] {
		if v := keyChangeVersion(it.me); v != "" && used[v] {
			out = append(out, it)
		}
	}
	return out
}

// cloneAll copies items.
func cloneAll(items []*mutItem) []*mutItem {
	out := make([]*mutItem, 0, len(items))
	for _, it := range items {
		out = append(out, cloneItem(it))
	}
	return out
}

// honestPages serves items unchanged: newest first, pages of a random
// size, every key change in every page's metadata.
func (m *mutation) honestPages(rng *rand.Rand, items []*mutItem) []mutPage {
	data, kcs := m.encodeItems(items)
	size := 1 + rng.IntN(10)
	pages := []mutPage{{}}
	for i, b := range data {
		if i > 0 && i%size == 0 {
			pages = append(pages, mutPage{})
		}
		pages[len(pages)-1].data = append(pages[len(pages)-1].data, b)
	}
	for i := range pages {
		pages[i].keys = kcs // the engine takes each inside the page whose window holds it
	}
	return pages
}

// pushSome pushes n events (no key changes: a push carries its own)
// through Deliver before a random round, each from the list of the
// round it precedes (or the last).
func (m *mutation) pushSome(rng *rand.Rand, lists [][]*mutItem, n int) {
	at := rng.IntN(len(m.rounds) + 1)
	src := lists[min(at, len(lists)-1)]
	for range n {
		if it := src[rng.IntN(len(src))]; !it.kc {
			m.pushes[at] = append(m.pushes[at], it.me)
			m.ops = append(m.ops, fmt.Sprintf("push %s (seq %s) before round %d", describe(it.me), it.seq(), at))
		}
	}
}

// claimedNames are the group_names the server claims for mallory.
var claimedNames = []string{"mallory's claimed name under her key", "mallory's claimed name under her last honest key"}

// claimName has the server's conversation record claim a group_name:
// mallory's title sealed under her own key or under the newest key she
// held, or an honest title under the newest key.
func (h *history) claimName(rng *rand.Rand, m *mutation) {
	var key *crypto.ConversationKey
	title := ""
	switch rng.IntN(4) {
	case 0:
		key, title = h.malloryKeys[len(h.malloryKeys)-1], claimedNames[0]
	case 1:
		_, key = h.malloryNewest()
		title = claimedNames[1]
	case 2:
		key, title = h.keys[h.newestVersion()], h.titles[len(h.titles)-1]
	default:
		return
	}
	ct, err := crypto.Seal(nil, key, []byte(title))
	if err != nil {
		panic(err) // sealing with crypto/rand does not fail
	}
	m.groupName = wire.EncodeB64(ct)
	m.ops = append(m.ops, "server's group_name: "+title)
}

// mutateExtOnce applies one mutation: half the time a base one, else one
// of the extension's.
func (h *history) mutateExtOnce(rng *rand.Rand, m *mutation, p *extPlan, round int, items []*mutItem, taken map[string]bool) []*mutItem {
	if rng.IntN(2) == 0 {
		return h.mutateOnce(rng, m, round, items, taken)
	}
	tip := p.tip
	if tip == "" {
		tip = h.removal
	}
	switch rng.IntN(4) {
	case 0:
		return h.inflateCreate(rng, m, p, round, items)
	case 1: // a stored event replayed above the tip
		return replayAt(rng, m, round, items, taken, below(items, tip), hostile.NextSequenceID(tip, uint64(1+rng.IntN(3))), tip)
	case 2: // an event from above the tip moved below it
		return moveBelow(rng, m, round, items, taken, tip)
	}
	return forkAt(rng, m, round, items, tip)
}

// below returns the indexes of items at or below seq.
func below(items []*mutItem, seq string) []int {
	var out []int
	for k, it := range items {
		if !decimal.Less(seq, it.seq()) {
			out = append(out, k)
		}
	}
	return out
}

// replayAt re-serves a random item of from under sequence id seq (after
// prev).
func replayAt(rng *rand.Rand, m *mutation, round int, items []*mutItem, taken map[string]bool, from []int, seq, prev string) []*mutItem {
	if len(from) == 0 || taken[seq] {
		return items
	}
	taken[seq] = true
	src := items[from[rng.IntN(len(from))]]
	c := cloneItem(src)
	c.me.SequenceID, c.me.PreviousSequenceID = strp(seq), strp(prev)
	m.ops = append(m.ops, fmt.Sprintf("r%d: replay %s (%s) at %s, above the tip", round, describe(c.me), src.seq(), seq))
	return append(items, c)
}

// moveBelow moves an item from above the tip to a free sequence id just
// above a random item at or below it.
func moveBelow(rng *rand.Rand, m *mutation, round int, items []*mutItem, taken map[string]bool, tip string) []*mutItem {
	low := below(items, tip)
	var high []int
	for k := range items {
		if !slices.Contains(low, k) {
			high = append(high, k)
		}
	}
	if len(low) == 0 || len(high) == 0 {
		return items
	}
	at := items[low[rng.IntN(len(low))]].seq()
	seq := hostile.NextSequenceID(at, uint64(1+rng.IntN(3)))
	if taken[seq] || !decimal.Less(seq, tip) {
		return items
	}
	taken[seq] = true
	k := high[rng.IntN(len(high))]
	c := cloneItem(items[k])
	m.ops = append(m.ops, fmt.Sprintf("r%d: move %s (%s) below the tip, to %s", round, describe(c.me), c.seq(), seq))
	c.me.SequenceID, c.me.PreviousSequenceID = strp(seq), strp(at)
	items[k] = c
	return items
}

// forkAt serves another item under the tip's sequence id instead of the
// one stored there.
func forkAt(rng *rand.Rand, m *mutation, round int, items []*mutItem, tip string) []*mutItem {
	k := slices.IndexFunc(items, func(it *mutItem) bool { return it.seq() == tip })
	if k < 0 || len(items) < 2 {
		return items
	}
	j := rng.IntN(len(items))
	if j == k {
		return items
	}
	c := cloneItem(items[j])
	m.ops = append(m.ops, fmt.Sprintf("r%d: fork at the tip %s: %s (%s) served there instead of %s", round, tip, describe(c.me), c.seq(), describe(items[k].me)))
	c.me.SequenceID, c.me.PreviousSequenceID = items[k].me.SequenceID, items[k].me.PreviousSequenceID
	items[k] = c
	return items
}

// inflateCreate re-serves the group's create with mallory, carol or dave
// added to its (unsigned) admin list.
func (h *history) inflateCreate(rng *rand.Rand, m *mutation, p *extPlan, round int, items []*mutItem) []*mutItem {
	k := slices.IndexFunc(items, func(it *mutItem) bool { return groupChangeOf(it.me).GroupCreate != nil })
	if k < 0 {
		return items
	}
	who := []string{h.mallory.id, h.carol.id, h.dv.id}[rng.IntN(3)]
	c := cloneItem(items[k])
	d := *c.me.GetDetail()
	ge := *d.GroupChangeEvent
	gc := *ge.GroupChange
	cr := *gc.GroupCreate
	cr.AdminIds = append(slices.Clone(cr.AdminIds), who)
	gc.GroupCreate, ge.GroupChange, d.GroupChangeEvent = &cr, &gc, &ge
	c.me.Detail = &d
	items[k] = c
	if !slices.Contains(p.inflated, who) {
		p.inflated = append(p.inflated, who)
	}
	m.ops = append(m.ops, fmt.Sprintf("r%d: the create's admin list inflated with %s", round, who))
	return items
}
