package attacks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// The transcript-mutation harness, part 3: run a mutation against a fresh
// device of bob's and check the invariants that must hold for every one.
//
//   - keys: every conversation key bob stores as verified is an honest one
//     (version and bytes); none made by mallory after her removal; and its
//     key change is a verified event of his history;
//   - roster: bob's members are within an honest roster no older than the
//     newest honest change of membership he shows as verified (a create,
//     member add or removal: an admin change signs only its admin ids, so
//     it cannot reveal a removal the server withheld), and his admins
//     within one no older than the newest honest group change he shows
//     as verified;
//   - events: every event bob shows as verified is an honest event by its
//     claimed sender with its content, and each message id is verified
//     once; nothing mallory signed after her removal is verified;
//   - sending: once bob's roster excludes mallory, his next send is
//     neither wrapped to her nor sealed under a key she holds;
//   - no panic, and no sync error but ErrServerResponse and
//     ErrRosterDivergence refusals.
//
// One seed in four runs bob's device under TrustStrict, with the strict
// invariants of mutation_strict_test.go; histories mutationHistories+1 on
// race rotations with membership changes (mutation_racing_test.go).

// harness is one honest history and the hostile server bob's fresh
// devices sync through.
type harness struct {
	h     *history
	srv   *mutServer
	url   string
	keys  *strictKeys // the key listings a strict run substitutes
	stats strictStats // what the strict runs did
}

// newHarness builds a world, plays an honest history chosen by seed and
// starts the hostile server.
func newHarness(tb testing.TB, seed uint64) *harness {
	w := newWorld(tb, emulator.WithRateLimit(0, 0))
	rng := rand.New(rand.NewPCG(seed, 0x68697374))
	if seed > mutationHistories {
		return startHarness(tb, newRacingHistory(w, rng, int(seed-mutationHistories-1)))
	}
	return startHarness(tb, newHistory(w, rng))
}

// startHarness starts the hostile server in front of h's emulator.
func startHarness(tb testing.TB, h *history) *harness {
	keys := &strictKeys{}
	srv := &mutServer{next: keys.proxy(h), path: h.g}
	hs := httptest.NewServer(srv)
	tb.Cleanup(hs.Close)
	return &harness{h: h, srv: srv, url: hs.URL, keys: keys}
}

// runOutcome is what one mutation did to bob.
type runOutcome struct {
	violations []string
	m          *mutation
	syncErrs   []error          // the refusals of the syncs
	failed     map[string]error // message id → the error bob's sync reported
	conv       *session.Conversation
	verified   map[string]bool // message ids bob's history shows verified at the end
	// handed are the message ids of the events the last sync handed to
	// its fn verified (what an application acts on as it syncs).
	handed map[string]bool
	// kept counts the events a fresh device served the same events in
	// transcript order kept verified (each checked kept verified here).
	kept notFailed
	// storedAt is, per sequence id, the step (2i: the pushes before round
	// i, 2i+1: sync round i) in which bob's device first handed it to fn,
	// and whether failed.
	storedAt map[string]handedAt
	// openNotFailed are the "not failed" violations of a seed known open
	// (mutation.openNotFailed), logged and counted, not failed.
	openNotFailed []string
	// anomalies are the findings bob's syncs and deliveries reported.
	anomalies []event.Anomaly
}

// handedSaying counts the messages the last sync handed verified whose
// first text in h begins with prefix.
func (o *runOutcome) handedSaying(h *history, prefix string) int {
	n := 0
	for mid := range o.handed {
		if t, ok := h.texts[mid]; ok && strings.HasPrefix(t[0], prefix) {
			n++
		}
	}
	return n
}

// refused is the verdict of an attack that serves bob one forged event
// (message id mid, what names it) through the harness: detected when no
// invariant broke and either the event failed or a sync was refused
// (ErrServerResponse); scene names the attack in the errors.
func (o *runOutcome) refused(scene, what, mid string) (string, error) {
	if len(o.violations) > 0 {
		return "", errorf("%s: %v", scene, o.violations)
	}
	if err := o.failed[mid]; err != nil {
		return what + " refused: " + err.Error(), nil
	}
	for _, err := range o.syncErrs {
		if errors.Is(err, xchat.ErrServerResponse) {
			return "sync refused: " + err.Error(), nil
		}
	}
	return "", fmt.Errorf("%s neither refused nor the sync (sync errors %v)", what, o.syncErrs)
}

// run serves mutation m to a fresh device of bob's and checks the
// invariants.
func (hs *harness) run(tb testing.TB, m *mutation) *runOutcome {
	h := hs.h
	out := &runOutcome{m: m, failed: map[string]error{}, storedAt: map[string]handedAt{}}
	fail := func(format string, a ...any) { out.violations = append(out.violations, fmt.Sprintf(format, a...)) }
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hs.srv.set(m)
	store := keystore.NewMemory()
	if err := session.ImportBackup(ctx, store, h.bob.id, h.bobBackup, h.bobVersion); err != nil {
		tb.Fatal(err)
	}
	sr := hs.startStrict(m)
	e, err := session.Open(ctx, store, session.NewAPIServer(apiClient(tb, hs.url, h.bob.token)), sr.options()...)
	if err != nil {
		tb.Fatal(err)
	}
	defer e.Close()
	sr.verify(ctx, tb, e, fail)
	step := func(n int) {
		if m.afterStep != nil {
			m.afterStep(ctx, n, e, store, fail)
		}
	}
	log := &servedLog{}
	for i := range m.rounds {
		hs.deliver(ctx, e, m, i, log, out, fail)
		step(2 * i)
		out.handed = map[string]bool{}
		res, err := hs.sync(ctx, e, m, func(ev *event.Event) error {
			if _, ok := out.storedAt[ev.SequenceID]; !ok {
				out.storedAt[ev.SequenceID] = handedAt{step: 2*i + 1, failed: ev.Err != nil}
			}
			if ev.Err != nil {
				out.failed[ev.MessageID] = ev.Err
			}
			if ev.Verified && ev.Err == nil {
				out.handed[ev.MessageID] = true
			}
			if os.Getenv("MUTATION_DEBUG") != "" {
				tb.Logf("round %d: seq %s mid %s by %s err %v", i, ev.SequenceID, ev.MessageID, ev.SenderID, ev.Err)
			}
			return nil
		})
		if res != nil {
			out.anomalies = append(out.anomalies, res.Anomalies...)
		}
		if err != nil {
			out.syncErrs = append(out.syncErrs, err)
			if os.Getenv("MUTATION_DEBUG") != "" {
				tb.Logf("round %d: sync: %v", i, err)
			}
		}
		if err != nil && !errors.Is(err, xchat.ErrServerResponse) && !errors.Is(err, xchat.ErrRosterDivergence) {
			fail("sync round %d failed: %v", i, err)
		}
		log.addPages(hs.srv.drain(), err == nil)
		checkHanded(ctx, e, h.g, i, out.handed, fail)
		step(2*i + 1)
	}
	hs.deliver(ctx, e, m, len(m.rounds), log, out, fail)
	step(2 * len(m.rounds))
	c, err := e.Conversation(ctx, h.g)
	switch {
	case errors.Is(err, xchat.ErrUnknownConversation) && len(out.syncErrs) > 0:
		if os.Getenv("MUTATION_DEBUG") != "" {
			tb.Logf("no conversation: every sync refused: %v", out.syncErrs)
		}
		h.checkKeys(ctx, store, &shown{}, fail) // every sync refused: nothing stored
		return out
	case err != nil:
		fail("no conversation after the syncs: %v", err)
		return out
	}
	out.conv, out.verified = c, map[string]bool{}
	if hist, err := e.History(ctx, h.g, "", 0); err == nil {
		for _, en := range hist {
			out.verified[en.MessageID] = out.verified[en.MessageID] || en.Verified
		}
	}
	var tolerate func(event.Entry) bool
	if m.tolerate != nil {
		tolerate = func(en event.Entry) bool { return m.tolerate(c, en) }
	}
	v := h.checkEvents(ctx, e, tolerate, fail)
	v.rosterKnown = c.Roster != session.RosterUnknown
	if m.check != nil {
		m.check(ctx, c, v, e, store, fail) // the extension's checks, its roster check among them
	} else {
		h.checkRoster(c, v, nil, fail)
	}
	h.checkKeys(ctx, store, v, fail)
	if sr != nil {
		sr.check(ctx, e, c, fail)
	} else if !slices.Contains(c.Members, h.mallory.id) {
		_, serr := e.SendText(ctx, h.g, "bob's probe after mallory's removal")
		h.checkSend(hs.srv.written(), serr, fail)
	}
	notFailedFail := fail
	if m.openNotFailed != "" {
		notFailedFail = func(format string, a ...any) {
			out.openNotFailed = append(out.openNotFailed, fmt.Sprintf(format, a...))
		}
	}
	out.kept = hs.checkNotFailed(ctx, tb, e, log, out.storedAt, notFailedFail)
	return out
}

// sync runs one round's sync of bob's device: Engine.Sync handing fn the
// events, or, when m.withoutFn, Engine.Reconcile with no fn.
func (hs *harness) sync(ctx context.Context, e *session.Engine, m *mutation, fn func(*event.Event) error) (*session.SyncResult, error) {
	if !m.withoutFn {
		return e.Sync(ctx, hs.h.g, fn)
	}
	res, err := e.Reconcile(ctx, nil, hs.h.g)
	if len(res) != 1 {
		return nil, err
	}
	return res[0], err
}

// checkNotFailed serves a fresh device the events bob's device was
// served and took, in transcript order, and requires every event it keeps
// verified to be kept verified on bob's (mutation_reference_test.go); it
// returns how many it checked.
func (hs *harness) checkNotFailed(ctx context.Context, tb testing.TB, e *session.Engine, log *servedLog, storedAt map[string]handedAt, fail func(string, ...any)) notFailed {
	h := hs.h
	hist, err := e.History(ctx, h.g, "", 0)
	if err != nil {
		fail("History: %v", err)
		return notFailed{}
	}
	rr := &referenceRun{srv: hs.srv, bob: h.bob, backup: h.bobBackup, ver: h.bobVersion, url: hs.url, cid: h.g,
		before: func() { hs.keys.set("", api.PublicKey{}) }}
	ref, err := rr.history(ctx, tb, log.transcript(hist))
	if err != nil {
		fail("the reference device: %v", err)
		return notFailed{}
	}
	return keptVerified(ref, hist, func(want event.Entry, got []event.Entry) string {
		return h.excuse(want, got, hist, storedAt)
	}, fail)
}

// excuse names the rule that lets bob's device differ from the reference
// on an event the reference keeps verified ("": none); hist is bob's
// history, storedAt the step that stored each of its sequence ids.
func (h *history) excuse(want event.Entry, got, hist []event.Entry, storedAt map[string]handedAt) string {
	switch {
	case !h.honest(want.MessageID):
		// The invariant's second half is about honest events
		// (docs/late-judging.md, "The rule the engine follows"): a
		// forgery of mallory's a fresh device verifies because the server
		// served it below her removal is one bob may fail.
		return "forgeries not compared"
	case keyAwaited(got, hist) != "":
		return keyAwaited(got, hist)
	case backfilledChangeAsStored(want, got, hist, storedAt):
		return h11afOpen
	case createBeforeItsKey(want, got, storedAt):
		return "creates read before their paired key change and not served again with it"
	case failedBeforeChangeBelow(got, hist, storedAt):
		return "failed before a change below them arrived (failure is final)"
	}
	return ""
}

// honest reports whether mid is an event of the honest transcript.
func (h *history) honest(mid string) bool { return h.honestMIDs[mid] }

// checkHanded checks that what sync round i handed its fn verified is
// still verified in the history once the sync has returned: a sync must
// not hand over as verified what it then fails itself (what a later sync
// or push fails is another matter: it brings what the server withheld).
func checkHanded(ctx context.Context, e *session.Engine, cid string, i int, handed map[string]bool, fail func(string, ...any)) {
	if len(handed) == 0 {
		return
	}
	hist, err := e.History(ctx, cid, "", 0)
	if err != nil {
		if !errors.Is(err, xchat.ErrUnknownConversation) {
			fail("history after sync round %d: %v", i, err)
		}
		return
	}
	verified := map[string]bool{}
	for _, en := range hist {
		verified[en.MessageID] = verified[en.MessageID] || en.Verified
	}
	for mid := range handed {
		if !verified[mid] {
			fail("sync round %d handed %s to fn verified, and failed it before returning", i, mid)
		}
	}
}

// deliver pushes the events planned before round i.
func (hs *harness) deliver(ctx context.Context, e *session.Engine, m *mutation, i int, log *servedLog, out *runOutcome, fail func(string, ...any)) {
	for _, me := range m.pushes[i] {
		ev, err := pushOf(hs.h.bob, fmt.Sprintf("push-%d-%s", i, me.GetMessageID()), me, m.kcs[messageKeyVersion(me)], nil)
		if err != nil {
			fail("encoding a push: %v", err)
			continue
		}
		d, err := e.Deliver(ctx, ev, func(*event.Event) error { return nil })
		log.addPush(hs.srv.drain(), me, m.kcs[messageKeyVersion(me)], d, err)
		if d != nil && out != nil {
			out.anomalies = append(out.anomalies, d.Anomalies...)
			for _, de := range d.Events {
				if _, ok := out.storedAt[de.SequenceID]; !ok {
					out.storedAt[de.SequenceID] = handedAt{step: 2 * i, failed: de.Err != nil}
				}
			}
		}
		if err != nil && !errors.Is(err, xchat.ErrServerResponse) {
			fail("Deliver before round %d: %v", i, err)
		}
		if os.Getenv("MUTATION_DEBUG") != "" && d != nil {
			for _, de := range d.Events {
				fmt.Fprintf(os.Stderr, "push before round %d: seq %s mid %s by %s verified %v err %v\n", i, de.SequenceID, de.MessageID, de.SenderID, de.Verified, de.Err)
			}
			fmt.Fprintf(os.Stderr, "push before round %d: %s status %v err %v\n", i, me.GetMessageID(), d.Status, d.Err)
		}
	}
}

// messageKeyVersion is the key version a message or group change names.
func messageKeyVersion(me *tevent.MessageEvent) string {
	d := me.GetDetail()
	switch {
	case d == nil:
		return ""
	case d.MessageCreateEvent != nil:
		return d.MessageCreateEvent.GetConversationKeyVersion()
	case d.GroupChangeEvent != nil && d.GroupChangeEvent.GroupChange != nil && d.GroupChangeEvent.GroupChange.GroupMemberAdd != nil:
		return d.GroupChangeEvent.GroupChange.GroupMemberAdd.GetConversationKeyVersion()
	}
	return ""
}

// shown is what bob's verified history establishes.
type shown struct {
	newest    int               // rosters index of the newest honest group change verified (-1: none)
	newestMem int               // the same, among the changes that sign membership
	removedAt string            // sequence id of mallory's removal, if verified
	keyAt     map[string]string // key version → sequence id of its verified key change
	// rosterKnown: some signed change establishes bob's roster. While none
	// does, key changes are not judged (their keys may be stored) and
	// nothing is sent (ErrRosterUnknown): the sending check covers it.
	rosterKnown bool
}

// afterRemoval reports whether seq lies above mallory's removal as bob
// shows it. Below it, or with the removal withheld, what mallory signed
// cannot be told from a member's (sequence ids are not signed): the server
// may withhold a removal, and that is not the harness's to flag.
func (v *shown) afterRemoval(seq string) bool {
	return v.removedAt != "" && (seq == "" || decimal.Less(v.removedAt, seq))
}

// checkEvents checks bob's verified history; tolerate (nil: none) names
// the entries not of the honest transcript that a run may verify.
func (h *history) checkEvents(ctx context.Context, e *session.Engine, tolerate func(event.Entry) bool, fail func(string, ...any)) *shown {
	v := &shown{newest: -1, newestMem: -1, keyAt: map[string]string{}}
	hist, err := e.History(ctx, h.g, "", 0)
	if err != nil {
		fail("History: %v", err)
		return v
	}
	sender := map[string]string{}
	for _, it := range h.items {
		sender[it.me.GetMessageID()] = it.me.GetSenderID()
	}
	removal := h.removalMID()
	for _, en := range hist {
		if en.Verified && en.MessageID == removal {
			v.removedAt = en.SequenceID
		}
		if en.Verified && en.KeyVersion != "" && en.Type == event.TypeKeyChange {
			v.keyAt[en.KeyVersion] = en.SequenceID
		}
	}
	seen := map[string]string{}
	for _, en := range hist {
		if !en.Verified {
			continue
		}
		who, honest := sender[en.MessageID]
		switch {
		case !honest && tolerate != nil && tolerate(en):
		case !honest && (en.SenderID != h.mallory.id || v.afterRemoval(en.SequenceID)):
			fail("verified %s %s (seq %s, by %s, %q) is no honest event", en.Type, en.MessageID, en.SequenceID, en.SenderID, en.Text)
		case !honest:
		case who != en.SenderID:
			fail("verified %s %s shown as by %s, signed by %s", en.Type, en.MessageID, en.SenderID, who)
		case en.Text != "" && len(h.texts[en.MessageID]) > 0 && !slices.Contains(h.texts[en.MessageID], en.Text):
			fail("verified %s %s shows %q, never written", en.Type, en.MessageID, en.Text)
		}
		if at, dup := seen[en.MessageID]; dup {
			fail("message id %s verified twice (seq %s and %s)", en.MessageID, at, en.SequenceID)
		}
		seen[en.MessageID] = en.SequenceID
		if i, ok := h.changeAt[en.MessageID]; ok && i > v.newest {
			v.newest = i
		}
		if i, ok := h.changeAt[en.MessageID]; ok && i > v.newestMem && h.signsMembership(en.MessageID) {
			v.newestMem = i
		}
	}
	return v
}

// removalMID is the message id of alice's removal of mallory.
func (h *history) removalMID() string {
	for _, it := range h.items {
		if it.seq() == h.removal {
			return it.me.GetMessageID()
		}
	}
	return ""
}

// checkRoster requires bob's members to lie within an honest roster no
// older than the newest change of membership he verified, and his admins
// within one no older than the newest group change he verified; extra are
// ids a run may add to both (the gains of the forgeries it tolerates).
func (h *history) checkRoster(c *session.Conversation, v *shown, extra []string, fail func(string, ...any)) {
	subset := func(a, b []string) bool { return subset(a, append(slices.Clone(b), extra...)) }
	fits := func(from int, ok func(r rosterPoint) bool) bool {
		for j := max(from, 0); j < len(h.rosters); j++ {
			if ok(h.rosters[j]) {
				return true
			}
		}
		return false
	}
	if !fits(v.newestMem, func(r rosterPoint) bool { return subset(c.Members, r.members) }) {
		fail("roster members %v (%s) fit no honest roster from change %d on: %v", c.Members, c.Roster, v.newestMem, h.rosters[max(v.newestMem, 0):])
	}
	if !fits(v.newest, func(r rosterPoint) bool { return subset(c.Admins, r.admins) }) {
		fail("roster admins %v (%s) fit no honest roster from change %d on: %v", c.Admins, c.Roster, v.newest, h.rosters[max(v.newest, 0):])
	}
}

// signsMembership reports whether the honest group change mid signs who
// the members are (a create, a member add or a removal).
func (h *history) signsMembership(mid string) bool {
	for _, it := range h.items {
		if it.me.GetMessageID() == mid {
			gc := groupChangeOf(it.me)
			return gc.GroupCreate != nil || gc.GroupMemberAdd != nil || gc.GroupMemberRemove != nil
		}
	}
	return false
}

// subset reports whether every id of a is in b.
func subset(a, b []string) bool {
	for _, id := range a {
		if !slices.Contains(b, id) {
			return false
		}
	}
	return true
}

// checkKeys requires every verified key to be an honest one.
func (h *history) checkKeys(ctx context.Context, store keystore.Store, v *shown, fail func(string, ...any)) {
	ks, err := store.ConversationKeys(ctx, h.g)
	if err != nil {
		fail("ConversationKeys: %v", err)
		return
	}
	for _, k := range ks {
		ck := crypto.ConversationKey(k.Key)
		at, listed := v.keyAt[k.Version]
		if k.Verified && !listed {
			fail("key version %s by %s stored as verified: its key change is not verified in history", k.Version, k.CreatedBy)
		}
		if honest := h.keys[k.Version]; k.Verified && (honest == nil || !honest.Equal(&ck)) && (listed && v.afterRemoval(at) || !listed && v.rosterKnown || k.CreatedBy != h.mallory.id) {
			fail("key version %s by %s stored as verified: not an honest key (its key change verified in history: %v, at %q; removal at %q)", k.Version, k.CreatedBy, listed, at, v.removedAt)
		}
		ck.Zero()
		k.Key.Zero()
	}
}

// checkSend requires bob's writes after mallory's removal to disclose
// nothing to her.
func (h *history) checkSend(posts [][]byte, serr error, fail func(string, ...any)) {
	priv := h.malloryIdentity
	for _, b := range posts {
		var req struct {
			Version string                           `json:"conversation_key_version"`
			Keys    []api.ConversationParticipantKey `json:"conversation_participant_keys"`
			Message string                           `json:"encoded_message_create_event"`
		}
		if json.Unmarshal(b, &req) != nil {
			continue
		}
		for _, pk := range req.Keys {
			if ct, err := wire.DecodeB64(pk.EncryptedConversationKey); err == nil {
				if k, err := crypto.UnwrapConversationKey(priv, ct); err == nil {
					k.Zero()
					fail("bob's key version %s wrapped to mallory after her removal (send: %v)", req.Version, serr)
				}
			}
		}
		if req.Message == "" {
			continue
		}
		raw, err := wire.DecodeB64(req.Message)
		if err != nil {
			continue
		}
		mce, err := wire.DecodeMessageCreateEvent(raw)
		if err != nil {
			continue
		}
		for _, k := range h.malloryKeys {
			if _, err := crypto.Open(k, mce.Contents); err == nil {
				fail("bob's send after mallory's removal sealed under key version %s, which she holds (send: %v)", mce.GetConversationKeyVersion(), serr)
			}
		}
	}
}

// mutationSeeds is how many mutations each history gets in make test.
const (
	mutationHistories = 5
	mutationSeeds     = 40
	// orderedSeeds more per history are served in sequence order (see
	// orderedBit).
	orderedSeeds = 8
)

// knownOpen are the seeds whose violations are found and not yet fixed,
// each with the reason (reported, not hidden: the summary line counts
// them). Remove a seed once its fix lands.
var knownOpen = map[uint64]string{}

// h11afOpen names the known open "not failed" violations that wait for
// h11af's fix (backfilledChangeAsStored), counted on the summary lines.
const h11afOpen = "backfilled group/key change judged as stored (h11af)"

// notFailedOpen are the seeds whose "not failed" violations (only those)
// are found and not yet fixed, each with the reason; their other
// invariants are checked as for every seed. Remove a seed once its fix
// lands.
var notFailedOpen = map[uint64]string{}

// judgeNotFailedOpen logs the known-open "not failed" violations of a
// run and reports whether there were any.
func judgeNotFailedOpen(t *testing.T, hseed, seed uint64, m *mutation, open []string) int {
	t.Helper()
	if len(open) == 0 {
		return 0
	}
	t.Logf("KNOWN OPEN (%s) history %d, seed %#x:\n  %s", m.openNotFailed, hseed, seed, joinLines(open))
	return 1
}

// TestTranscriptMutations serves bob mutations of honest group histories
// and checks the invariants for every one. The honest transcript itself
// must also be taken in whole: every honest message verified and the final
// roster reached (otherwise the invariants would hold vacuously).
func TestTranscriptMutations(t *testing.T) {
	transcripts, violations, known := 0, 0, 0
	ordered, orderedStored, stored := 0, 0, 0
	var st strictStats
	var kept notFailed
	for hseed := uint64(1); hseed <= mutationHistories+racingHistories; hseed++ {
		hs := newHarness(t, hseed)
		if err := hs.honestTaken(t); err != nil {
			t.Errorf("history %d: the honest transcript: %v", hseed, err)
		}
		transcripts++
		for s := uint64(1); s <= mutationSeeds+orderedSeeds; s++ {
			seed := hseed<<32 | s
			if s > mutationSeeds {
				seed = orderedBit | hseed<<32 | (s - mutationSeeds)
			}
			if only := os.Getenv("MUTATION_ONLY"); only != "" && only != fmt.Sprintf("%#x", seed) {
				continue
			}
			o := hs.run(t, hs.h.mutateSeed(seed))
			transcripts++
			kept.add(o.kept)
			if o.conv != nil {
				stored++
			}
			if orderedSeed(seed) {
				ordered++
				if o.conv != nil {
					orderedStored++
				}
			}
			bad, open := judgeRun(t, knownOpen, hseed, seed, o.violations, o.m.ops)
			violations, known = violations+bad, known+open+judgeNotFailedOpen(t, hseed, seed, o.m, o.openNotFailed)
		}
		st.add(hs.stats)
	}
	line := fmt.Sprintf("mutations: %d transcripts, %d invariant violations, %d known open, %d stored a conversation; %d served in order (%d stored one); not failed: %s",
		transcripts, violations, known, stored, ordered, orderedStored, kept)
	t.Log(line)
	addSummary(line)
	line = fmt.Sprintf("mutations-strict: %d strict runs (%d peers verified, %d substitutions after Verify; probe sealed %d, queued %d, refused %d, rotation failed %d), %d histories with rotations racing membership",
		st.runs, st.verified, st.substituted, st.sealed, st.queued, st.refused, st.rotationFailed, racingHistories)
	t.Log(line)
	addSummary(line)
}

// judgeRun reports the violations of history hseed's run of seed: logged
// when known names the seed as known open (counted in open), errors
// otherwise (counted in bad).
func judgeRun(t *testing.T, known map[uint64]string, hseed, seed uint64, violations, ops []string) (bad, open int) {
	t.Helper()
	switch why, isOpen := known[seed]; {
	case len(violations) == 0:
		return 0, 0
	case isOpen:
		t.Logf("KNOWN OPEN (%s) history %d, seed %#x:\n  %s\nmutation:\n  %s", why, hseed, seed, joinLines(violations), joinLines(ops))
		return 0, 1
	}
	t.Errorf("history %d, seed %#x: %d violations:\n  %s\nmutation:\n  %s", hseed, seed, len(violations), joinLines(violations), joinLines(ops))
	return len(violations), 0
}

func joinLines(s []string) string {
	out := ""
	for i, l := range s {
		if i > 0 {
			out += "\n  "
		}
		out += l
	}
	return out
}

// honestTaken serves the honest transcript unchanged (all key changes on
// the first page) and requires all of it to be taken.
func (hs *harness) honestTaken(tb testing.TB) error {
	h := hs.h
	m := &mutation{kcs: map[string]string{}, pushes: make([][]*tevent.MessageEvent, 2)}
	var page mutPage
	for i := len(h.items) - 1; i >= 0; i-- {
		b, err := hostile.EncodeEvent(h.items[i].me)
		if err != nil {
			return err
		}
		if h.items[i].kc {
			page.keys = append(page.keys, b)
		} else {
			page.data = append(page.data, b)
		}
	}
	m.rounds = [][]mutPage{{page}}
	o := hs.run(tb, m)
	if len(o.violations) > 0 {
		return errorf("%d violations: %v", len(o.violations), o.violations)
	}
	return hs.lastState(tb)
}

// lastState checks the fresh device's view after the honest run. It opens
// the state the run left through a new sync of the same transcript.
func (hs *harness) lastState(tb testing.TB) error {
	h := hs.h
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	store := keystore.NewMemory()
	if err := session.ImportBackup(ctx, store, h.bob.id, h.bobBackup, h.bobVersion); err != nil {
		return err
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(apiClient(tb, hs.url, h.bob.token)))
	if err != nil {
		return err
	}
	defer e.Close()
	if _, err := e.Sync(ctx, h.g, nil); err != nil {
		return err
	}
	c, err := e.Conversation(ctx, h.g)
	if err != nil {
		return err
	}
	final := h.rosters[len(h.rosters)-1]
	if !sameSet(c.Members, final.members) || !sameSet(c.Admins, final.admins) {
		return errorf("roster %v admins %v, want %v admins %v", c.Members, c.Admins, final.members, final.admins)
	}
	if n := len(h.titles); n > 0 && c.Title != h.titles[n-1] {
		return errorf("title %q, want %q", c.Title, h.titles[n-1])
	}
	hist, err := e.History(ctx, h.g, "", 0)
	if err != nil {
		return err
	}
	verified := map[string]bool{}
	for _, en := range hist {
		if en.Verified {
			verified[en.MessageID] = true
		}
	}
	for _, it := range h.items {
		if mid := it.me.GetMessageID(); !verified[mid] && it.me.GetDetail().MessageCreateEvent != nil {
			return errorf("honest %s (seq %s) not verified", describe(it.me), it.seq())
		}
	}
	return nil
}

// sameSet reports whether a and b hold the same ids.
func sameSet(a, b []string) bool { return subset(a, b) && subset(b, a) }

// FuzzTranscriptMutation explores mutation seeds of one honest history
// (scripts/fuzz.sh runs it): every invariant must hold for each.
func FuzzTranscriptMutation(f *testing.F) {
	hs := newHarness(f, 1)
	for s := uint64(1); s <= 8; s++ {
		f.Add(1<<32 | s) // the seeds TestTranscriptMutations runs on this history
	}
	// Seeds the fuzzer found: 0x8, a key change served under the sequence
	// id of a stored message (key-change-served-at-stored-sequence); 0xa0,
	// a stale add starting the roster after a removal read without one
	// (stale-add-seeds-roster-after-removal).
	// 0x1000000aa, a removal withheld before a verified admin add (which
	// signs no membership: nothing to flag; the roster check learnt so).
	// 0xffffffb3 and 0x100000132, mallory's message and key change pushed
	// before any roster (push-before-roster-keeps-verdict,
	// push-key-change-before-roster).
	f.Add(uint64(0x8))
	f.Add(uint64(0xa0))
	f.Add(uint64(0x1000000aa))
	f.Add(uint64(0xffffffb3))
	f.Add(uint64(0x100000132))
	// 0x2f8, a removal served late below a key change mallory signed after
	// it (removal-served-late-keeps-key-change).
	f.Add(uint64(0x2f8))
	// 0xfffffead (found by the DM harness's author on this harness): the
	// create dropped, mallory's removal swapped with a message and her
	// forged self-add mixed in left her on an unconfirmed roster; the
	// fixes of the seeds above hold it.
	f.Add(uint64(0xfffffead))
	f.Fuzz(func(t *testing.T, seed uint64) {
		o := hs.run(t, hs.h.mutateSeed(seed))
		if len(o.openNotFailed) > 0 {
			t.Logf("KNOWN OPEN (%s) mutation seed %#x:\n  %s", o.m.openNotFailed, seed, joinLines(o.openNotFailed))
		}
		if why, open := knownOpen[seed]; open && len(o.violations) > 0 {
			t.Logf("KNOWN OPEN (%s) mutation seed %#x:\n  %s", why, seed, joinLines(o.violations))
			return
		}
		if len(o.violations) > 0 {
			t.Fatalf("mutation seed %#x: %d violations:\n  %s\nmutation:\n  %s", seed, len(o.violations), joinLines(o.violations), joinLines(o.m.ops))
		}
	})
}
