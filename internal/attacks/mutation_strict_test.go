package attacks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/wire"
)

// The transcript-mutation harness, strict mode: for a fraction of the
// seeds bob's fresh device runs TrustStrict. Before the mutated transcript
// is served he verifies some peers (SafetyNumber, checked against the
// number over the keys they published, then Verify); the server may then
// substitute mallory's key set for one verified peer's (at the peer's own
// version or above it). Strict seeds are served in sequence order (see
// servedInOrder). Beside the group invariants:
//
//   - bob wraps a conversation key only to the key version he verified of
//     each recipient (never to mallory's substituted key), and seals a
//     message only while his roster is confirmed and every member's keys
//     are verified and unchanged;
//   - a refused send fails with a strict error (ErrUnverifiedPeer,
//     ErrKeyChanged, ErrRosterUnconfirmed, ErrRosterUnknown), or with the
//     server's 503 to the key change of a rotation due first, and leaves
//     nothing in the outbox and nothing sealed; a send whose message
//     reached the server is queued (the server answers 503), listed by
//     Outbox;
//   - a substitution after Verify is never pinned: the verified version
//     stays current, and a key set held pending was reported (KeyChanged,
//     not pinned).

// strictPlan is a strict run's plan.
type strictPlan struct {
	verify []string // the peers bob verifies before the syncs
	subst  string   // the verified peer whose listing turns to mallory's key set ("": none)
	same   bool     // the substitute claims the peer's own version (else one above it)
}

// strictPlanOf draws a strict plan for h from rng (a stream of its own,
// so that the mutation a seed names stays the same).
func (h *history) strictPlanOf(rng *rand.Rand) *strictPlan {
	p := &strictPlan{}
	for _, u := range []*user{h.alice, h.carol, h.dv, h.mallory} {
		if rng.IntN(4) > 0 {
			p.verify = append(p.verify, u.id)
		}
	}
	honest := slices.DeleteFunc(slices.Clone(p.verify), func(id string) bool { return id == h.mallory.id })
	if len(honest) > 0 && rng.IntN(2) == 0 {
		p.subst, p.same = honest[rng.IntN(len(honest))], rng.IntN(2) == 0
	}
	return p
}

// describe names the plan for the violation report.
func (p *strictPlan) describe() string {
	return fmt.Sprintf("strict: bob verifies %v, substitution of %q (same version %v)", p.verify, p.subst, p.same)
}

// strictKeys is the key-listing side of the hostile server: once active
// it answers every lookup of the target's keys with sub.
type strictKeys struct {
	published map[string]api.PublicKey // user id → the key set the peer published (read once: fuzz targets cannot)
	mu        sync.Mutex
	target    string
	sub       api.PublicKey
	hits      int
}

// proxy is h's emulator behind the substitution rule.
func (k *strictKeys) proxy(h *history) http.Handler {
	k.published = map[string]api.PublicKey{}
	for _, u := range []*user{h.alice, h.carol, h.dv, h.mallory} {
		k.published[u.id] = h.w.publishedKeys(u)
	}
	p := hostile.NewProxy(h.w.emu)
	p.Add(hostile.PublicKeys("strict-substitution", func(r *http.Request, keys []api.PublicKey) ([]api.PublicKey, error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.target == "" {
			return keys, nil
		}
		single := r.URL.Path == "/2/users/"+k.target+"/public_keys"
		for i := range keys {
			if single || keys[i].UserID == k.target {
				s := k.sub
				s.UserID = keys[i].UserID
				if !single {
					s.UserID = k.target
				}
				keys[i] = s
				k.hits++
			}
		}
		return keys, nil
	}))
	return p
}

// set makes every lookup of target's keys answer sub ("": none).
func (k *strictKeys) set(target string, sub api.PublicKey) {
	k.mu.Lock()
	k.target, k.sub, k.hits = target, sub, 0
	k.mu.Unlock()
}

// served is how many key sets were substituted.
func (k *strictKeys) served() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.hits
}

// strictRun is one strict run's state (nil: the run is not strict).
type strictRun struct {
	hs       *harness
	plan     *strictPlan
	verified map[string]string // user id → the version bob verified
	identity map[string][]byte // user id → the identity key bob verified
	mu       sync.Mutex
	changes  []session.KeyChanged
	stats    *strictStats
}

// strictStats counts what the strict runs did, for the summary line.
type strictStats struct {
	runs, verified, substituted, refused, sealed, queued, rotationFailed int
}

// startStrict prepares m's strict run (nil when m is not strict).
func (hs *harness) startStrict(m *mutation) *strictRun {
	hs.keys.set("", api.PublicKey{})
	if m.strict == nil {
		return nil
	}
	hs.stats.runs++
	return &strictRun{hs: hs, plan: m.strict, verified: map[string]string{}, identity: map[string][]byte{}, stats: &hs.stats}
}

// strictSeed reports whether seed's run is strict: one seed in four
// (those 4 and 6 modulo 8, so that the fuzz seeds found under
// TrustOnFirstUse stay what they were).
func strictSeed(seed uint64) bool { return seed%8 == 4 || seed%8 == 6 }

// orderedBit marks the TrustOnFirstUse seeds whose rounds are served in
// sequence order (servedInOrder) after mutating: most unordered runs end
// with every sync refused (overlapping pages) and so check their
// invariants against an empty store. The seeds found before it was
// added are all below it.
const orderedBit = 1 << 48

// orderedSeed reports whether seed's run is served in order under
// TrustOnFirstUse.
func orderedSeed(seed uint64) bool { return seed&orderedBit != 0 && !strictSeed(seed) }

// mutateSeed draws the mutation of seed, strict for the strict seeds (the
// plan from a stream of its own, so that the mutation stays the seed's).
func (h *history) mutateSeed(seed uint64) *mutation {
	m := h.mutate(rand.New(rand.NewPCG(seed, 0x6d757461)))
	m.openNotFailed = notFailedOpen[seed]
	if orderedSeed(seed) {
		m.ops = append([]string{"every round served in sequence order"}, m.ops...)
		for _, pages := range m.rounds {
			servedInOrder(pages)
		}
		return m
	}
	if strictSeed(seed) {
		m.strict = h.strictPlanOf(rand.New(rand.NewPCG(seed, 0x73747269)))
		m.ops = append([]string{m.strict.describe(), "strict: every round served in sequence order"}, m.ops...)
		for _, pages := range m.rounds {
			servedInOrder(pages)
		}
	}
	return m
}

// servedInOrder re-sorts the data of a round's pages newest first across
// the pages (keeping their sizes) and puts each key change in the meta of
// the page of the oldest event above it (the newest page when none), as
// an honest server does: served-order swaps and key changes on older
// pages make bob's sync refuse overlapping pages and store nothing, which
// would leave the strict checks without a conversation to send to.
func servedInOrder(pages []mutPage) {
	var all []served
	kcs := map[string]served{}
	for i, p := range pages {
		all = append(all, servedOf(p.data)...)
		for _, k := range servedOf(p.keys) {
			kcs[k.b] = k
		}
		pages[i].keys = nil
	}
	slices.SortStableFunc(all, func(a, b served) int { return decimal.Compare(b.seq, a.seq) })
	at := map[string]int{} // sequence id → page
	k := 0
	for i := range pages {
		for j := range pages[i].data {
			pages[i].data[j], at[all[k].seq] = all[k].b, i
			k++
		}
	}
	for _, kc := range kcs {
		p := 0
		for _, d := range all { // newest first: the last above kc is the oldest
			if decimal.Less(kc.seq, d.seq) {
				p = at[d.seq]
			}
		}
		pages[p].keys = append(pages[p].keys, kc.b)
	}
	for i := range pages {
		slices.Sort(pages[i].keys)
	}
}

// served is one encoded event and its sequence id.
type served struct{ b, seq string }

// servedOf decodes the sequence ids of encoded events.
func servedOf(bs []string) []served {
	out := make([]served, 0, len(bs))
	for _, b := range bs {
		me, err := hostile.DecodeEvent(b)
		if err != nil {
			panic(err) // the harness encoded it
		}
		out = append(out, served{b, me.GetSequenceID()})
	}
	return out
}

// add sums o into s.
func (s *strictStats) add(o strictStats) {
	s.runs += o.runs
	s.verified += o.verified
	s.substituted += o.substituted
	s.refused += o.refused
	s.sealed += o.sealed
	s.queued += o.queued
	s.rotationFailed += o.rotationFailed
}

// options are the engine options of the run.
func (sr *strictRun) options() []session.Option {
	if sr == nil {
		return nil
	}
	return []session.Option{session.WithTrustPolicy(session.TrustStrict), session.WithKeyChangeHandler(func(k session.KeyChanged) {
		sr.mu.Lock()
		sr.changes = append(sr.changes, k)
		sr.mu.Unlock()
	})}
}

// verify has bob verify the plan's peers, each number checked against the
// one over the keys the peer published, then starts the substitution.
func (sr *strictRun) verify(ctx context.Context, tb testing.TB, e *session.Engine, fail func(string, ...any)) {
	if sr == nil {
		return
	}
	h := sr.hs.h
	kp, err := crypto.ParseBackup(h.bobBackup)
	if err != nil {
		tb.Fatal(err)
	}
	for _, id := range sr.plan.verify {
		want := testSafetyNumber(tb, h.bob.id, kp, id, sr.hs.keys.published[id])
		n, err := e.SafetyNumber(ctx, id)
		if err != nil || n != want {
			fail("strict: SafetyNumber of %s: %v (the number over the published keys: %v)", id, err, n == want)
			continue
		}
		if err := e.Verify(ctx, id, n); err != nil {
			fail("strict: Verify of %s's real number: %v", id, err)
			continue
		}
		p, err := e.Peer(ctx, id)
		if err != nil || p.Current == nil || !p.Current.Verified {
			fail("strict: %s not verified after Verify: %v", id, err)
			continue
		}
		sr.verified[id], sr.identity[id] = p.Current.Version, slices.Clone(p.Current.IdentityKey)
		sr.stats.verified++
	}
	if sr.plan.subst == "" || sr.verified[sr.plan.subst] == "" {
		return
	}
	sub := sr.hs.keys.published[h.mallory.id]
	sub.PublicKeyVersion = sr.verified[sr.plan.subst]
	if !sr.plan.same {
		sub.PublicKeyVersion = bumpVersion(tb, sub.PublicKeyVersion, 1000)
	}
	sr.hs.keys.set(sr.plan.subst, sub)
}

// check runs the strict invariants at the end of the run: the
// substitution, then bob's probe send.
func (sr *strictRun) check(ctx context.Context, e *session.Engine, c *session.Conversation, fail func(string, ...any)) {
	sr.checkSubstitution(ctx, e, fail)
	h := sr.hs.h
	before := len(sr.hs.srv.written())
	const probe = "bob's strict probe"
	_, serr := e.Send(ctx, h.g, session.Outgoing{Text: probe})
	posts := sr.hs.srv.written()[before:]
	sealed := false
	for _, b := range posts {
		sealed = sr.checkPost(ctx, e, c, b, serr, fail) || sealed
	}
	if !slices.Contains(c.Members, h.mallory.id) {
		h.checkSend(posts, serr, fail)
	}
	sr.checkOutcome(ctx, e, probe, sealed, serr, fail)
}

// checkSubstitution requires a substituted key set never to be pinned:
// after a refresh the verified version is still current and verified, and
// a key set held pending was reported unpinned.
func (sr *strictRun) checkSubstitution(ctx context.Context, e *session.Engine, fail func(string, ...any)) {
	id := sr.plan.subst
	if id == "" || sr.verified[id] == "" {
		return
	}
	sr.stats.substituted++
	got, rerr := e.RefreshPeers(ctx, id)
	if sr.hs.keys.served() == 0 {
		fail("strict: the substitution of %s's keys was never served (refresh: %v)", id, rerr)
	}
	p, err := e.Peer(ctx, id)
	if err != nil || p.Current == nil {
		fail("strict: Peer %s after the substitution: %v", id, err)
		return
	}
	if p.Current.Version != sr.verified[id] || !p.Current.Verified || !bytes.Equal(p.Current.IdentityKey, sr.identity[id]) {
		fail("strict: %s's keys substituted after Verify are pinned: current version %s (verified %v, the verified identity %v), verified %s",
			id, p.Current.Version, p.Current.Verified, bytes.Equal(p.Current.IdentityKey, sr.identity[id]), sr.verified[id])
	}
	sr.mu.Lock()
	reported := append(slices.Clone(sr.changes), got...)
	sr.mu.Unlock()
	seen := false
	for _, k := range reported {
		if k.UserID != id {
			continue
		}
		seen = true
		if k.Pinned {
			fail("strict: %s's key change to version %s reported pinned", id, k.New.Version)
		}
	}
	if p.Pending != nil && !seen {
		fail("strict: %s's substituted version %s held pending but never reported (refresh: %v)", id, p.Pending.Version, rerr)
	}
}

// checkPost checks one write of bob's: every wrap to a verified,
// unchanged key version (and none mallory can open but hers), and a seal
// only while every member is verified and unchanged. It reports whether
// the write sealed a message.
func (sr *strictRun) checkPost(ctx context.Context, e *session.Engine, c *session.Conversation, b []byte, serr error, fail func(string, ...any)) bool {
	h := sr.hs.h
	var req struct {
		Version string                           `json:"conversation_key_version"`
		Keys    []api.ConversationParticipantKey `json:"conversation_participant_keys"`
		Message string                           `json:"encoded_message_create_event"`
	}
	if json.Unmarshal(b, &req) != nil {
		return false
	}
	for _, pk := range req.Keys {
		if pk.UserID == h.bob.id {
			continue
		}
		if v, ok := sr.verified[pk.UserID]; !ok || v != pk.PublicKeyVersion {
			fail("strict: key version %s wrapped to %s's key version %s; he verified %q (send: %v)", req.Version, pk.UserID, pk.PublicKeyVersion, v, serr)
		}
		if pk.UserID != h.mallory.id && opensFor(h.malloryIdentity, pk.EncryptedConversationKey) {
			fail("strict: key version %s wrapped for %s to mallory's substituted key (send: %v)", req.Version, pk.UserID, serr)
		}
	}
	if req.Message == "" {
		return false
	}
	if c.Roster != session.RosterConfirmed {
		fail("strict: a message sealed while the roster is %s (send: %v)", c.Roster, serr)
	}
	for _, m := range c.Members {
		if m == h.bob.id {
			continue
		}
		p, err := e.Peer(ctx, m)
		if v, ok := sr.verified[m]; !ok || err != nil || p.Current == nil || p.Current.Version != v || p.Pending != nil {
			fail("strict: a message sealed while member %s is unverified or changed (verified %q; send: %v)", m, v, serr)
		}
	}
	return true
}

// opensFor reports whether priv unwraps the encoded wrapped key ct.
func opensFor(priv *crypto.PrivateKey, ct string) bool {
	raw, err := wire.DecodeB64(ct)
	if err != nil {
		return false
	}
	k, err := crypto.UnwrapConversationKey(priv, raw)
	if err != nil {
		return false
	}
	k.Zero()
	return true
}

// strictRefusal reports whether err is a refusal TrustStrict explains.
func strictRefusal(err error) bool {
	for _, want := range []error{xchat.ErrUnverifiedPeer, xchat.ErrKeyChanged, xchat.ErrRosterUnconfirmed, xchat.ErrRosterUnknown} {
		if errors.Is(err, want) {
			return true
		}
	}
	return false
}

// checkOutcome requires the probe either queued (listed by Outbox, its
// message sealed: the server answers every write 503) or refused before
// it was queued (not listed, nothing sealed, the error given back): a
// strict refusal, or the 503 to the key change a rotation due before the
// message had to post first.
func (sr *strictRun) checkOutcome(ctx context.Context, e *session.Engine, probe string, sealed bool, serr error, fail func(string, ...any)) {
	out, err := e.Outbox(ctx)
	if err != nil {
		fail("strict: Outbox: %v", err)
		return
	}
	queued := slices.ContainsFunc(out, func(p session.Pending) bool { return p.Text == probe })
	if sealed {
		sr.stats.sealed++
	}
	switch {
	case serr == nil:
		fail("strict: the probe succeeded against a server that answers every write 503")
	case errors.Is(serr, xchat.ErrQueued):
		sr.stats.queued++
		if !queued || !sealed {
			fail("strict: the probe reported queued (%v), but the outbox lists it %v, its message sealed %v", serr, queued, sealed)
		}
	case queued || sealed:
		fail("strict: the probe failed (%v), yet the outbox lists it %v, its message sealed %v", serr, queued, sealed)
	case strictRefusal(serr):
		sr.stats.refused++
	case errors.As(serr, new(*api.Error)):
		sr.stats.rotationFailed++
	default:
		fail("strict: the probe failed with neither a strict error nor the server's: %v", serr)
	}
}
