package attacks

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

var errorf = fmt.Errorf

// attack is one named malicious-server behaviour and the check that the
// engine reported it. run returns what the engine reported, or an error
// saying why the attack went unnoticed (or forged content was accepted).
type attack struct {
	name string
	run  func(w *world) (string, error)
}

// summary collects the outcome of the table for TestMain.
var summary struct {
	sync.Mutex
	lines []string
}

func addSummary(line string) {
	summary.Lock()
	summary.lines = append(summary.lines, line)
	summary.Unlock()
}

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	if os.Getenv(syncCrashChildEnv) != "" {
		syncCrashChild()
		return
	}
	code := m.Run()
	summary.Lock()
	for _, l := range summary.lines {
		fmt.Println(l)
	}
	summary.Unlock()
	os.Exit(code)
}

// dm is the common scenario: honest alice sends texts to bob, the victim.
type dm struct {
	w          *world
	alice, bob *user
	cid, path  string
	sent       []*session.Sent
}

func newDM(w *world, texts ...string) *dm {
	alice := w.newUser("alice", false)
	bob := w.newUser("bob", true)
	if len(texts) == 0 {
		texts = []string{"m1", "m2", "m3"}
	}
	sent := alice.send(bob.id, texts...)
	cid := sent[0].ConversationID
	return &dm{w: w, alice: alice, bob: bob, cid: cid, path: api.ConversationPathID(cid), sent: sent}
}

// mid returns the message id of the i-th sent text.
func (d *dm) mid(i int) string { return d.sent[i].MessageID }

// tamper installs a rule editing every served copy of message mid.
func (w *world) tamper(name, mid string, f func(me *tevent.MessageEvent)) {
	w.proxy.Add(hostile.Events(name, func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		return hostile.EditData(page, func(me *tevent.MessageEvent) error {
			if me.GetMessageID() == mid {
				f(me)
			}
			return nil
		})
	}))
}

// expectEventErr syncs the victim and requires the event mid to fail with
// target and never to be stored as verified.
func (d *dm) expectEventErr(mid string, target error) (string, error) {
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", errorf("sync failed instead of reporting the event: %w", r.err)
	}
	err, seen := r.byMessage(mid)
	if !seen {
		return "", errorf("tampered event %s not reported at all", mid)
	}
	if !errors.Is(err, target) {
		return "", errorf("event %s: got error %v, want %v", mid, err, target)
	}
	if ferr := d.bob.forgedShown(d.cid, []string{mid}, nil); ferr != nil {
		return "", ferr
	}
	return fmt.Sprintf("event %s rejected: %v", short(mid), err), nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

func strp(s string) *string { return &s }

// attacks is the table. Each row builds its own world.
var attacks = []attack{
	{"ciphertext-bit-flip", func(w *world) (string, error) {
		d := newDM(w)
		w.tamper("flip", d.mid(1), func(me *tevent.MessageEvent) {
			c := me.Detail.MessageCreateEvent.Contents
			c[len(c)/2] ^= 0x01
		})
		return d.expectEventErr(d.mid(1), inbound.ErrBadSignature)
	}},
	{"signature-swapped-between-events", func(w *world) (string, error) {
		d := newDM(w)
		var sigs = map[string]*tevent.MessageEventSignature{}
		for _, me := range w.serverEvents(d.alice, d.path) {
			sigs[me.GetMessageID()] = me.MessageEventSignature
		}
		a, b := d.mid(0), d.mid(1)
		w.proxy.Add(hostile.Events("swap", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
			return hostile.EditData(page, func(me *tevent.MessageEvent) error {
				switch me.GetMessageID() {
				case a:
					me.MessageEventSignature = sigs[b]
				case b:
					me.MessageEventSignature = sigs[a]
				}
				return nil
			})
		}))
		r := d.bob.sync(d.cid)
		ea, _ := r.byMessage(a)
		eb, _ := r.byMessage(b)
		if r.err != nil || !errors.Is(ea, inbound.ErrBadSignature) || !errors.Is(eb, inbound.ErrBadSignature) {
			return "", errorf("sync err %v, event errors %v / %v", r.err, ea, eb)
		}
		if err := d.bob.forgedShown(d.cid, []string{a, b}, nil); err != nil {
			return "", err
		}
		return "both events rejected: " + ea.Error(), nil
	}},
	{"message-reattributed-to-other-sender", func(w *world) (string, error) {
		// Group alice, bob, carol: the server claims carol wrote alice's
		// message, naming carol's key version too.
		gr, err := groupScene(w, groupSetup{hello: "alice says"})
		if err != nil {
			return "", err
		}
		bob, carol, g, s := gr.bob, gr.carol, gr.g, gr.hello
		w.tamper("reattribute", s.MessageID, func(me *tevent.MessageEvent) {
			me.SenderID = strp(carol.id)
			me.MessageEventSignature.PublicKeyVersion = strp(carol.e.PublicKeyVersion())
		})
		r := bob.sync(g)
		ev, _ := r.byMessage(s.MessageID)
		if r.err != nil || !errors.Is(ev, inbound.ErrBadSignature) {
			return "", errorf("sync err %v, event error %v", r.err, ev)
		}
		if err := bob.forgedShown(g, []string{s.MessageID}, nil); err != nil {
			return "", err
		}
		return "re-attributed event rejected: " + ev.Error(), nil
	}},
	{"event-moved-to-another-conversation", func(w *world) (string, error) {
		d := newDM(w)
		carol := w.newUser("carol", false)
		other := carol.send(d.bob.id, "carol to bob")[0]
		evs := w.serverEvents(carol, api.ConversationPathID(other.ConversationID))
		moved, err := hostile.EncodeEvent(evs[0])
		if err != nil {
			return "", err
		}
		w.proxy.Add(hostile.Events("move", func(r *http.Request, page *api.GetChatConversationEventsResponse) error {
			if hostile.ConversationOf(r.URL.Path) == d.path {
				page.Data = append([]api.ChatMessageEvent{{EncodedEvent: moved}}, page.Data...)
			}
			return nil
		}))
		return d.expectEventErr(other.MessageID, inbound.ErrWrongConversation)
	}},
	{"event-relabelled-into-another-conversation", func(w *world) (string, error) {
		// Same, but the server also rewrites conversation_id (signed).
		d := newDM(w)
		carol := w.newUser("carol", false)
		other := carol.send(d.bob.id, "carol to bob")[0]
		me := w.serverEvents(carol, api.ConversationPathID(other.ConversationID))[0]
		me.ConversationID = strp(d.cid)
		me.SequenceID = strp("9" + me.GetSequenceID())
		moved, err := hostile.EncodeEvent(me)
		if err != nil {
			return "", err
		}
		w.proxy.Add(hostile.Events("relabel", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
			page.Data = append([]api.ChatMessageEvent{{EncodedEvent: moved}}, page.Data...)
			return nil
		}))
		r := d.bob.sync(d.cid)
		ev, seen := r.byMessage(other.MessageID)
		if r.err != nil || !seen || !(errors.Is(ev, inbound.ErrSenderNotParticipant) || errors.Is(ev, inbound.ErrBadSignature)) {
			return "", errorf("sync err %v, event error %v (seen %v)", r.err, ev, seen)
		}
		if err := d.bob.forgedShown(d.cid, []string{other.MessageID}, []string{"carol to bob"}); err != nil {
			return "", err
		}
		return "relabelled event rejected: " + ev.Error(), nil
	}},
	{"dropped-event-gap", func(w *world) (string, error) {
		d := newDM(w)
		drop := d.mid(1)
		w.proxy.Add(hostile.Events("drop", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
			page.Data = slices.DeleteFunc(page.Data, func(e api.ChatMessageEvent) bool { return hostile.MessageID(e.EncodedEvent) == drop })
			return nil
		}))
		r := d.bob.sync(d.cid)
		a, ok := r.anomaly(event.AnomalyGap)
		if r.err != nil || !ok || a.Related != d.sent[1].SequenceID {
			return "", errorf("sync err %v, anomalies %v", r.err, anomalies(r))
		}
		return "gap reported: " + a.String(), nil
	}},
	{"duplicated-event", func(w *world) (string, error) {
		d := newDM(w)
		dup := d.mid(1)
		w.proxy.Add(hostile.Events("dup", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
			for i, e := range page.Data {
				if hostile.MessageID(e.EncodedEvent) == dup {
					page.Data = slices.Insert(page.Data, i, e)
					break
				}
			}
			return nil
		}))
		r := d.bob.sync(d.cid)
		a, ok := r.anomaly(event.AnomalyDuplicate)
		if r.err != nil || !ok {
			return "", errorf("sync err %v, anomalies %v", r.err, anomalies(r))
		}
		if n := strings.Count(strings.Join(d.bob.verifiedTexts(d.cid), "\x00"), "m2"); n != 1 {
			return "", errorf("duplicated message stored %d times", n)
		}
		return "duplicate reported: " + a.String(), nil
	}},
	{"reordered-events", func(w *world) (string, error) {
		// The server swaps the (unsigned) sequence ids of two messages,
		// leaving the previous_sequence_id links as they were. (A server
		// that renumbers the whole chain consistently before a client's
		// first sync cannot be detected: sequence ids are not signed. Once
		// a client has stored the history, see history-rewritten-after-sync.)
		d := newDM(w, "m1", "m2", "m3", "m4")
		s1, s2 := d.sent[1].SequenceID, d.sent[2].SequenceID
		w.proxy.Add(hostile.Events("reorder", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
			return hostile.EditData(page, func(me *tevent.MessageEvent) error {
				switch me.GetSequenceID() {
				case s1:
					me.SequenceID = strp(s2)
				case s2:
					me.SequenceID = strp(s1)
				}
				return nil
			})
		}))
		r := d.bob.sync(d.cid)
		a, ok := r.anomaly(event.AnomalyReorder, event.AnomalyGap, event.AnomalyFork, event.AnomalySelfReference)
		if r.err != nil || !ok {
			return "", errorf("sync err %v, anomalies %v", r.err, anomalies(r))
		}
		return "reorder exposed: " + a.String(), nil
	}},
	{"forked-chain", func(w *world) (string, error) {
		d := newDM(w)
		fork := d.sent[0].SequenceID
		w.proxy.Add(hostile.Events("fork", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
			return hostile.EditData(page, func(me *tevent.MessageEvent) error {
				if me.GetMessageID() == d.mid(2) {
					me.PreviousSequenceID = strp(fork) // m2 and m3 both follow m1
				}
				return nil
			})
		}))
		r := d.bob.sync(d.cid)
		a, ok := r.anomaly(event.AnomalyFork, event.AnomalyGap)
		if r.err != nil || !ok {
			return "", errorf("sync err %v, anomalies %v", r.err, anomalies(r))
		}
		return "fork exposed: " + a.String(), nil
	}},
	{"history-rewritten-after-sync", func(w *world) (string, error) {
		d, err := syncedDM(w)
		if err != nil {
			return "", err
		}
		d.alice.send(d.bob.id, "m4")
		w.tamper("rewrite", d.mid(2), func(me *tevent.MessageEvent) { me.CreatedAtMsec = strp("1") })
		r := d.bob.sync(d.cid)
		a, ok := r.anomaly(event.AnomalyConflict)
		if r.err != nil || !ok {
			return "", errorf("sync err %v, anomalies %v", r.err, anomalies(r))
		}
		return "equivocation reported: " + a.String(), nil
	}},
	{"signature-version-downgrade", func(w *world) (string, error) {
		d := newDM(w)
		w.tamper("downgrade", d.mid(1), func(me *tevent.MessageEvent) { me.MessageEventSignature.SignatureVersion = strp("1") })
		return d.expectEventErr(d.mid(1), inbound.ErrSignatureVersion)
	}},
	{"signature-version-noncanonical", func(w *world) (string, error) {
		d := newDM(w)
		w.tamper("noncanonical", d.mid(1), func(me *tevent.MessageEvent) { me.MessageEventSignature.SignatureVersion = strp("07") })
		return d.expectEventErr(d.mid(1), inbound.ErrSignatureVersion)
	}},
	{"signer-key-version-swapped", func(w *world) (string, error) {
		d := newDM(w)
		w.tamper("pkv", d.mid(1), func(me *tevent.MessageEvent) { me.MessageEventSignature.PublicKeyVersion = strp("1") })
		return d.expectEventErr(d.mid(1), inbound.ErrUnknownSigningKey)
	}},
}

func anomalies(r *syncResult) []string {
	if r.res == nil {
		return nil
	}
	var out []string
	for _, a := range r.res.Anomalies {
		out = append(out, a.String())
	}
	return out
}

// allAttacks returns every named attack, in the order TestAttacks runs
// them (SECURITY.md's table has one row for each: see TestSecurityTable).
func allAttacks() []attack {
	return slices.Concat(attacks, moreAttacks, inputAttacks, groupAttacks, rosterAttacks, exposureAttacks, keyAttacks, realtimeAttacks, botAttacks, answerAttacks, pushRosterAttacks, receiverAttacks, exposedTitleAttacks, deleteAddAttacks, resealAttacks, replayAttacks, signerMediaAttacks, syncBoundaryAttacks, pagesOverlapAttacks, spendAttacks, rosterSeedAttacks, peerVersionAttacks, lateAttacks, lateTitleAttacks, lateReaddAttacks, lateRestoreAttacks, lateHandedAttacks, latePutBackAttacks, lateKeyAttacks, lateSettingsAttacks, spendPushAttacks, ownEditAttacks, lateEditAttacks, backupRealmAttacks, spendFailedAttacks, backfillContentAttacks, backfillAdminAttacks, spendRecordAttacks, backdatedAttacks, backfillDetailAttacks, awaitingKeyAttacks, cutShortAttacks(), reopenReactionAttacks, ownKeyPlaceAttacks, backfilledKeyAttacks, unsignedFieldAttacks, botReopenAttacks, ownKeyTypingAttacks, belowCreateAttacks, botTypingAttacks, actorAttacks, ownKeyFloorAttacks, backfillExposureAttacks, removedDeleteAttacks, lateCreateAttacks, cliAttacks, followerAttacks, mediaAttacks, botBacklogAttacks, backupRollbackAttacks, backupGuessAttacks, backupUnregisteredAttacks, lateBindAttacks, lateBindContentAttacks, lateBindReplayAttacks, lateBindMovedAttacks, lateReopenAttacks, lateReopenKeyAttacks, lateBindForkAttacks, lateBindEvictAttacks, storeRound37Attacks, lateJoinRound38Attacks, lateGapsAttacks, round39Attacks, round40Attacks, reindexCostAttacks)
}

func TestAttacks(t *testing.T) {
	all := allAttacks()
	ran, detected, missed := 0, 0, 0
	var missedNames []string
	for _, a := range all {
		started := false
		ok := t.Run(a.name, func(t *testing.T) {
			started = true
			w := newWorld(t)
			got, err := a.run(w)
			if err != nil {
				t.Errorf("MISSED %s: %v", a.name, err)
				return
			}
			t.Logf("detected: %s", got)
		})
		if !started {
			continue // filtered out by -run
		}
		ran++
		if ok {
			detected++
		} else {
			missed++
			missedNames = append(missedNames, a.name)
		}
	}
	line := fmt.Sprintf("attacks: %d attacks, %d detected, %d missed", ran, detected, missed)
	t.Log(line)
	if missed > 0 {
		t.Logf("missed: %s", strings.Join(missedNames, ", "))
	}
	addSummary(line)
}
