package attacks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// The mutation harnesses' reference device: the "not failed" half of the
// engine's invariant (docs/late-judging.md, "The rule the engine
// follows"). After a run, a fresh device of bob's is served, in one sync
// in transcript order, the same events the device under test was served
// and took; every event it keeps verified must be kept verified by the
// device under test, with the same content (same sender, type and text).
//
// "The same events" is the transcript the device under test ended with:
// for each sequence id it stores, the event served there under the message
// id and sender it stores (the first served, when the server served the
// same pair twice there); and, for each sequence id it stores nothing at, the
// first event served there by a sync that returned no error or a push
// that was delivered (an event it took and then lost would be missing).
// What it was never served, or only on a page of a sync it refused (a
// refusal is the server withholding what it served wrongly), the
// reference is not served either.

// servedEvent is one encoded event a device was served and its place.
type servedEvent struct {
	b, seq, mid string // the event, its sequence id, message id and sender
	from        string
	kc          bool // a key change (served in a page's metadata)
	accepted    bool // served by a sync that returned no error, or a push delivered
}

// servedLog is what a run's device was served, in serving order.
type servedLog struct{ events []servedEvent }

// add records encoded events; accepted says the sync or push took them.
func (l *servedLog) add(bs []string, kc, accepted bool) {
	for _, b := range bs {
		me, err := hostile.DecodeEvent(b)
		if err != nil {
			panic(err) // the harness encoded it
		}
		l.events = append(l.events, servedEvent{b: b, seq: me.GetSequenceID(), mid: me.GetMessageID(), from: me.GetSenderID(), kc: kc, accepted: accepted})
	}
}

// addPages records the pages a sync was served.
func (l *servedLog) addPages(pages []mutPage, accepted bool) {
	for _, p := range pages {
		l.add(p.keys, true, accepted)
		l.add(p.data, false, accepted)
	}
}

// addPush records a push of me (with its key change kc, "" for none)
// and the pages the push fetched, by what Deliver answered (d, err). The
// push took its events when it stored them; its own event only when it
// stored it verified: a failed push into a one-to-one conversation not
// recorded yet is passed to fn but not kept (session.DeliveryStored,
// event.AnomalyFailedNotKept), so the device holds nothing to compare.
func (l *servedLog) addPush(pages []mutPage, me *tevent.MessageEvent, kc string, d *session.Delivered, err error) {
	stored := err == nil && d != nil && d.Status == session.DeliveryStored
	l.addPages(pages, stored)
	kept := func(b string) bool {
		me, derr := hostile.DecodeEvent(b)
		if derr != nil {
			panic(derr) // the harness encoded it
		}
		return stored && slices.ContainsFunc(d.Events, func(ev *event.Event) bool { return ev.SequenceID == me.GetSequenceID() && ev.Err == nil })
	}
	if kc != "" {
		l.add([]string{kc}, true, kept(kc))
	}
	b, eerr := hostile.EncodeEvent(me)
	if eerr != nil {
		panic(eerr) // re-encoding a decoded event cannot fail
	}
	l.add([]string{b}, false, kept(b))
}

// transcript is the reference's one page: the events the device under
// test holds (hist), and those of accepted answers at sequence ids it
// holds nothing at, newest first, key changes in the metadata.
func (l *servedLog) transcript(hist []event.Entry) mutPage {
	stored := map[string]string{} // sequence id → message id and sender
	for _, en := range hist {
		stored[en.SequenceID] = en.MessageID + "/" + en.SenderID
	}
	picked := map[string]servedEvent{}
	for _, se := range l.events {
		if _, done := picked[se.seq]; done {
			continue
		}
		mid, held := stored[se.seq]
		if held && mid == se.mid+"/"+se.from || !held && se.accepted {
			picked[se.seq] = se
		}
	}
	all := make([]servedEvent, 0, len(picked))
	for _, se := range picked {
		all = append(all, se)
	}
	slices.SortFunc(all, func(a, b servedEvent) int { return decimal.Compare(b.seq, a.seq) })
	var page mutPage
	for _, se := range all {
		if se.kc {
			page.keys = append(page.keys, se.b)
		} else {
			page.data = append(page.data, se.b)
		}
	}
	return page
}

// referenceRun is how a harness serves the reference transcript to a
// fresh device of bob's: it installs page on its server and opens the
// device with opts.
type referenceRun struct {
	srv    *mutServer
	bob    *user
	backup []byte
	ver    string
	url    string
	cid    string
	opts   []session.Option
	before func() // resets the server's other hostile behaviour (key listings)
}

// history serves page to a fresh device in one sync and returns the
// history it ends with.
func (rr *referenceRun) history(ctx context.Context, tb testing.TB, page mutPage) ([]event.Entry, error) {
	if rr.before != nil {
		rr.before()
	}
	rr.srv.set(&mutation{rounds: [][]mutPage{{page}}, kcs: map[string]string{}})
	store := keystore.NewMemory()
	if err := session.ImportBackup(ctx, store, rr.bob.id, rr.backup, rr.ver); err != nil {
		return nil, err
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(apiClient(tb, rr.url, rr.bob.token)), rr.opts...)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	if _, err := e.Sync(ctx, rr.cid, nil); err != nil && !refusal(err) {
		return nil, fmt.Errorf("the reference sync: %w", err)
	}
	hist, err := e.History(ctx, rr.cid, "", 0)
	if errors.Is(err, xchat.ErrUnknownConversation) {
		return nil, nil
	}
	return hist, err
}

// notFailed is what keptVerified found.
type notFailed struct {
	checked int            // events the reference kept verified, compared here
	excused map[string]int // of those differing here: per named limit, how many
}

// add counts another comparison's figures in.
func (n *notFailed) add(o notFailed) {
	n.checked += o.checked
	for k, v := range o.excused {
		if n.excused == nil {
			n.excused = map[string]int{}
		}
		n.excused[k] += v
	}
}

// String is the figures for a summary line.
func (n notFailed) String() string {
	s := fmt.Sprintf("%d events kept verified checked", n.checked)
	keys := make([]string, 0, len(n.excused))
	for k := range n.excused {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s += fmt.Sprintf(", %d %s", n.excused[k], k)
	}
	return s
}

// keptVerified compares the device under test's history (hist) with the
// reference's (ref): every event the reference keeps verified must be
// verified in hist with the same sender, type and text, unless excuse
// (nil: none) names the rule that lets it differ (given the reference's
// entry and hist's entries of its message id: the one at its sequence id
// when there is one, see atPlace).
func keptVerified(ref, hist []event.Entry, excuse func(want event.Entry, got []event.Entry) string, fail func(string, ...any)) notFailed {
	got := map[string][]event.Entry{}
	for _, en := range hist {
		got[en.MessageID] = append(got[en.MessageID], en)
	}
	out := notFailed{excused: map[string]int{}}
	for _, want := range ref {
		if !want.Verified || want.MessageID == "" {
			continue
		}
		ens := got[want.MessageID]
		k := slices.IndexFunc(ens, func(en event.Entry) bool { return en.Verified })
		if excuse != nil {
			if why := excuse(want, atPlace(want, ens)); why != "" {
				if k < 0 || !sameContent(want, ens[k]) {
					out.excused[why]++
				}
				continue
			}
		}
		out.checked++
		switch {
		case k >= 0 && sameContent(want, ens[k]):
		case len(ens) == 0:
			fail("not failed: %s %s by %s (seq %s) kept verified by a fresh device served the same events in order, missing here", want.Type, want.MessageID, want.SenderID, want.SequenceID)
		case k < 0:
			fail("not failed: %s %s by %s (seq %s) kept verified by a fresh device served the same events in order, failed here at %s (%s)", want.Type, want.MessageID, want.SenderID, want.SequenceID, ens[0].SequenceID, ens[0].Error)
		default:
			fail("not failed: %s %s by %s (seq %s, %q) kept verified by a fresh device, here %s by %s %q", want.Type, want.MessageID, want.SenderID, want.SequenceID, want.Text, ens[k].Type, ens[k].SenderID, ens[k].Text)
		}
	}
	return out
}

// atPlace is the entry of got at want's sequence id when there is one
// (the same event at the same place: a replay elsewhere fails for reasons
// of its own), else all of got.
func atPlace(want event.Entry, got []event.Entry) []event.Entry {
	if k := slices.IndexFunc(got, func(en event.Entry) bool { return en.SequenceID == want.SequenceID }); k >= 0 {
		return got[k : k+1]
	}
	return got
}

// sameContent reports whether got shows want's sender, type and text.
func sameContent(want, got event.Entry) bool {
	return got.SenderID == want.SenderID && got.Type == want.Type && got.Text == want.Text
}

// failedForKey reports whether every entry of got failed for want of its
// conversation key (the message was stored before its key change reached
// the device).
func failedForKey(got []event.Entry) bool {
	for _, en := range got {
		if en.Verified || !strings.Contains(en.Error, "unknown conversation key version") {
			return false
		}
	}
	return len(got) > 0
}

// keyAwaited names why a message stored before its key change (every
// entry of got failed for want of its key: failedForKey) stays failed
// once the change is stored, "" when nothing does: the engine opens such
// a message when a sync serves its verified key change, judged at its
// place (session/reopen.go). What stays failed: a message whose key
// change failed here (the change's own verdict decides it); one whose
// key change is stored only above it (at its place its author could not
// hold the key: a fresh device adopts every key of its page first and
// opens it); and, in a group, one below which a group change that could
// decide its author's membership failed here (read at its place, fail
// safe: session/backfill.go:admittedBelow).
func keyAwaited(got, hist []event.Entry) string {
	if !failedForKey(got) {
		return ""
	}
	en := got[0]
	v := en.Error[strings.LastIndex(en.Error, "version ")+len("version "):]
	below, above := false, false
	for _, g := range hist {
		if g.Type == event.TypeKeyChange && g.KeyVersion == v && g.Verified {
			below = below || decimal.Less(g.SequenceID, en.SequenceID)
			above = above || !decimal.Less(g.SequenceID, en.SequenceID)
		}
	}
	switch {
	case below && slices.ContainsFunc(hist, func(g event.Entry) bool {
		return g.Type == event.TypeGroupChange && !g.Verified && decimal.Less(g.SequenceID, en.SequenceID)
	}):
		return "stored before their key change, a failed group change below them (membership not decided at their place)"
	case below:
		return "" // it had to be opened
	case above:
		return "stored before their key change, served only above them (not held at their place)"
	}
	return "stored before a key change that failed here"
}

// handedAt is when a device first handed an event to fn, and whether
// failed then.
type handedAt struct {
	step   int
	failed bool
}

// failedBeforeChangeBelow reports whether every entry of got was failed
// when it was stored (not by a later walk), in a step no later than the
// one that stored a verified group change below it: the server withheld
// the change (a removal the event's signed lists already leave out, or
// the add that admits the event's author) until a later page or sync.
// (Within one step the order of the pages is not recorded: an event
// failed on a page after the change's is excused too; the walk's failures
// never are, the event having been stored verified.) A verdict of failure is final: a later sync's
// events never lift it, "what failed then stays failed, the safe
// direction" (session/doc.go, Groups; docs/late-judging.md: the walk only
// fails). A fresh device served the change first keeps the event.
func failedBeforeChangeBelow(got, hist []event.Entry, storedAt map[string]handedAt) bool {
	for _, en := range got {
		at, ok := storedAt[en.SequenceID]
		if en.Verified || !ok || !at.failed || !slices.ContainsFunc(hist, func(g event.Entry) bool {
			later, stored := storedAt[g.SequenceID]
			return g.Verified && g.Type == event.TypeGroupChange && stored && later.step >= at.step && decimal.Less(g.SequenceID, en.SequenceID)
		}) {
			return false
		}
	}
	return len(got) > 0
}

// backfilledChangeAsStored reports whether want is a group or key change
// that every entry of got failed when stored, for want of membership or
// rights or as not fitting the roster held (xchat.ErrNotMember,
// xchat.ErrNotAuthorized, xchat.ErrRosterDivergence), below a verified
// group change stored no later: a change the server withheld and
// backfilled below a later one, judged against the roster held when
// stored (docs/late-judging.md, "What remains judged against the roster
// held when stored"; known open, h11af), where a fresh device served it
// in order keeps it.
func backfilledChangeAsStored(want event.Entry, got, hist []event.Entry, storedAt map[string]handedAt) bool {
	if want.Type != event.TypeKeyChange && want.Type != event.TypeGroupChange {
		return false
	}
	for _, en := range got {
		at, ok := storedAt[en.SequenceID]
		rights := strings.Contains(en.Error, "not a member") || strings.Contains(en.Error, "not authorised") || strings.Contains(en.Error, "does not fit the roster held")
		if en.Verified || !ok || !at.failed || !rights || !slices.ContainsFunc(hist, func(g event.Entry) bool {
			before, stored := storedAt[g.SequenceID]
			// A change not handed to fn was stored by a sync that failed
			// before handing its held events over: taken as stored no later.
			return g.Verified && g.Type == event.TypeGroupChange && (!stored || before.step <= at.step) && decimal.Less(en.SequenceID, g.SequenceID)
		}) {
			return false
		}
	}
	return len(got) > 0
}

// createBeforeItsKey reports whether want is the group's create that
// bob's device read before its paired key change (no verified key change
// of its author's at its version held): every entry of got failed as not
// bound to the group, or (the engine no longer stores such a create, so
// that a later sync reads it again with its pair) none is stored and the
// device handed it over failed (storedAt). A create the server did not
// serve again with its pair (it cut the later syncs short: a pagination
// stall, pages that overlap) is missing where a fresh device served both
// in order keeps it: the server withheld it since. Counted apart.
func createBeforeItsKey(want event.Entry, got []event.Entry, storedAt map[string]handedAt) bool {
	if want.Type != event.TypeGroupChange || want.Group == nil || want.Group.Kind != event.GroupCreated {
		return false
	}
	if len(got) == 0 {
		at, handed := storedAt[want.SequenceID]
		return handed && at.failed
	}
	for _, en := range got {
		if en.Verified || !strings.Contains(en.Error, "group create not bound") {
			return false
		}
	}
	return true
}
