package attacks

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// The one-to-one harness, part 2: what the hostile server serves bob's
// fresh device. The transcript of the conversation is mutated as in the
// group harness (drops, replays under new sequence ids, swapped sequence
// ids, reordering across pages of random sizes, key changes in the
// metadata of other pages, pushes through Deliver, the same sync answered
// differently twice), with some of the forgeries mixed in. Alice's key
// listing (/2/users/{id}/public_keys and the batch lookup) is mutated per
// call: the newest version dropped, an older key set re-served as the
// newest, versions reordered, mallory's key set (a valid binding of
// another identity) substituted at alice's version or above it, and a
// different answer to each successive call.

// keyOp is one answer the hostile server gives to a lookup of alice's keys.
type keyOp int

const (
	keyHonest       keyOp = iota // the emulator's answer
	keyDropNewest                // only the key set from before the re-key
	keyOldAsNewest               // the old key set under the newest version
	keyReorder                   // both versions, oldest last
	keySubstitute                // mallory's key set under alice's newest version
	keySubstituteUp              // mallory's key set above alice's newest version
	keyAlongside                 // both of alice's versions and mallory's above them
	keyDuplicate                 // alice's versions and mallory's under alice's newest too
	keyBackdate                  // mallory's key set under alice's old version, beside her new one
	keyOps
)

var keyOpNames = [...]string{"honest", "drop-newest", "old-as-newest", "reorder", "substitute", "substitute-above", "alongside", "duplicate", "backdate"}

// keyServer rewrites the lookups of alice's keys by a plan, one op a call.
type keyServer struct {
	alice  string
	mu     sync.Mutex
	plan   []keyOp
	calls  int
	served [][]api.PublicKey // every answer given, in order
	h      *dmHistory
	// holding: every call is answered honestly (and not counted in the
	// plan) until release; the extension holds while bob's device syncs
	// the honest prefix (mutation_dmext_test.go).
	holding bool
}

// hold answers honestly until release.
func (k *keyServer) hold() {
	k.mu.Lock()
	k.holding = true
	k.mu.Unlock()
}

// release starts the plan.
func (k *keyServer) release() {
	k.mu.Lock()
	k.holding = false
	k.mu.Unlock()
}

// setPlan installs the plan of the next run.
func (k *keyServer) setPlan(h *dmHistory, plan []keyOp) {
	k.mu.Lock()
	k.h, k.plan, k.calls, k.served, k.holding = h, plan, 0, nil, false
	k.mu.Unlock()
}

// answers returns the answers given so far.
func (k *keyServer) answers() [][]api.PublicKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.served)
}

// rule is the proxy rule that serves the plan.
func (k *keyServer) rule() hostile.Rule {
	return hostile.PublicKeys("dm-key-listing", func(r *http.Request, keys []api.PublicKey) ([]api.PublicKey, error) {
		single := r.URL.Path == "/2/users/"+k.alice+"/public_keys"
		if !single && !slices.ContainsFunc(keys, func(p api.PublicKey) bool { return p.UserID == k.alice }) {
			return keys, nil
		}
		var rest []api.PublicKey
		for _, p := range keys {
			if !single && p.UserID != k.alice {
				rest = append(rest, p)
			}
		}
		mine := k.answer(keys, single)
		return append(rest, mine...), nil
	})
}

// answer is the key sets of alice the current call gets.
func (k *keyServer) answer(keys []api.PublicKey, single bool) []api.PublicKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	var honest []api.PublicKey
	for _, p := range keys {
		if single || p.UserID == k.alice {
			honest = append(honest, p)
		}
	}
	if k.h == nil {
		return honest
	}
	op := keyHonest
	if len(k.plan) > 0 && !k.holding {
		op = k.plan[min(k.calls, len(k.plan)-1)]
		k.calls++
	}
	out := k.h.listing(op, honest)
	for i := range out {
		out[i].UserID = k.alice
	}
	k.served = append(k.served, slices.Clone(out))
	return out
}

// listing is alice's key listing under op.
func (h *dmHistory) listing(op keyOp, honest []api.PublicKey) []api.PublicKey {
	old, cur := h.aliceOld, h.aliceNew
	relabel := func(p api.PublicKey, v string) api.PublicKey { p.PublicKeyVersion = v; return p }
	above := bumpVersion(h.w.t, cur.PublicKeyVersion, 1000)
	switch op {
	case keyDropNewest:
		return []api.PublicKey{old}
	case keyOldAsNewest:
		return []api.PublicKey{relabel(old, cur.PublicKeyVersion)}
	case keyReorder:
		return []api.PublicKey{cur, old}
	case keySubstitute:
		return []api.PublicKey{relabel(h.malloryKeys, cur.PublicKeyVersion)}
	case keySubstituteUp:
		return []api.PublicKey{relabel(h.malloryKeys, above)}
	case keyAlongside:
		return []api.PublicKey{old, cur, relabel(h.malloryKeys, above)}
	case keyDuplicate:
		return []api.PublicKey{old, relabel(h.malloryKeys, cur.PublicKeyVersion), cur}
	case keyBackdate:
		return []api.PublicKey{relabel(h.malloryKeys, old.PublicKeyVersion), cur}
	}
	return honest
}

// bumpVersion returns the decimal v+delta.
func bumpVersion(tb testing.TB, v string, delta int64) string {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		tb.Fatalf("version %q: %v", v, err)
	}
	return strconv.FormatInt(n+delta, 10)
}

// dmMutation is the hostile server's whole behaviour for one seed.
type dmMutation struct {
	*mutation
	keyPlan []keyOp
	strict  bool       // bob's fresh device runs TrustStrict
	probes  bool       // bob also tries Verify with numbers he was not shown
	refresh bool       // bob's keys are refreshed between SafetyNumber and Verify
	ext     *dmExtPlan // the extension's: a device that syncs an honest prefix first (nil: none)
}

// mutateDM draws a mutation of h from rng.
func (h *dmHistory) mutateDM(rng *rand.Rand) *dmMutation {
	m := &dmMutation{mutation: &mutation{kcs: map[string]string{}}, strict: rng.IntN(3) == 0, probes: rng.IntN(2) == 0, refresh: rng.IntN(3) == 0}
	h.drawKeyPlan(rng, m)
	rounds := 1 + rng.IntN(2)
	var lists [][]*mutItem
	for r := range rounds {
		items := h.dmVariant(rng, m.mutation, r)
		lists = append(lists, items)
		m.rounds = append(m.rounds, m.paginate(rng, items, r))
	}
	m.pushes = make([][]*tevent.MessageEvent, rounds+1)
	if rng.IntN(3) == 0 {
		at := rng.IntN(rounds + 1)
		src := lists[min(at, rounds-1)]
		for range 1 + rng.IntN(3) {
			if it := src[rng.IntN(len(src))]; !it.kc {
				m.pushes[at] = append(m.pushes[at], it.me)
				m.ops = append(m.ops, fmt.Sprintf("push %s (seq %s) before round %d", describe(it.me), it.seq(), at))
			}
		}
	}
	return m
}

// dmVariant is one round's transcript: the honest items, some forgeries
// and up to six mutations.
func (h *dmHistory) dmVariant(rng *rand.Rand, m *mutation, round int) []*mutItem {
	return variantOf(rng, m, round, h.items, h.forgeries, 3, 7, func(items []*mutItem, taken map[string]bool) []*mutItem {
		return h.dmMutateOnce(rng, m, round, items, taken)
	})
}

// dmMutateOnce applies one mutation to items: a drop, a swap of sequence
// ids, a re-attribution to the other participant, or a replay under a new
// sequence id.
func (h *dmHistory) dmMutateOnce(rng *rand.Rand, m *mutation, round int, items []*mutItem, taken map[string]bool) []*mutItem {
	if len(items) == 0 {
		return items
	}
	i, j := rng.IntN(len(items)), rng.IntN(len(items))
	switch rng.IntN(4) {
	case 3:
		c := cloneItem(items[i])
		other := h.alice.id
		if c.me.GetSenderID() == other {
			other = h.bob.id
		}
		c.me.SenderID = &other
		m.ops = append(m.ops, fmt.Sprintf("r%d: %s at %s re-attributed to %s", round, describe(items[i].me), items[i].seq(), other))
		items[i] = c
		return items
	case 0:
		m.ops = append(m.ops, fmt.Sprintf("r%d: drop %s at %s", round, describe(items[i].me), items[i].seq()))
		return slices.Delete(items, i, i+1)
	case 1:
		a, b := items[i], items[j]
		m.ops = append(m.ops, fmt.Sprintf("r%d: swap sequence ids of %s (%s) and %s (%s)", round, describe(a.me), a.seq(), describe(b.me), b.seq()))
		a.me.SequenceID, b.me.SequenceID = b.me.SequenceID, a.me.SequenceID
		a.me.PreviousSequenceID, b.me.PreviousSequenceID = b.me.PreviousSequenceID, a.me.PreviousSequenceID
		return items
	}
	seq := hostile.NextSequenceID(items[j].seq(), uint64(1+rng.IntN(9)))
	if taken[seq] {
		return items
	}
	taken[seq] = true
	c := cloneItem(items[i])
	c.me.SequenceID, c.me.PreviousSequenceID = strp(seq), strp(items[j].seq())
	m.ops = append(m.ops, fmt.Sprintf("r%d: replay %s (%s) at %s", round, describe(c.me), items[i].seq(), seq))
	return append(items, c)
}

// keySetOf parses a published key set's identity and signing keys.
func keySetOf(p api.PublicKey) (id, sg *crypto.PublicKey, err error) {
	ib, err := decodeStd(p.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	sb, err := decodeStd(p.SigningPublicKey)
	if err != nil {
		return nil, nil, err
	}
	if id, err = crypto.ParsePublicKey(ib); err != nil {
		return nil, nil, err
	}
	sg, err = crypto.ParsePublicKey(sb)
	return id, sg, err
}

// newerVersion reports whether a is above b (decimal).
func newerVersion(a, b string) bool { return decimal.Less(b, a) }

// forTrust is the session option of m's trust policy.
func (m *dmMutation) forTrust() session.TrustPolicy {
	if m.strict {
		return session.TrustStrict
	}
	return session.TrustOnFirstUse
}
