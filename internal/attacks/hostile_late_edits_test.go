package attacks

import (
	"errors"
	"fmt"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on the derived state a late change's walk leaves behind
// (session/latejudge.go): what an event it fails wrote beyond its own
// record when it was stored (deletes pending their target, the edit index).

var lateEditAttacks = []attack{
	{"late-removal-failed-delete-erases-when-target-arrives", attackLateRemovalPendingDelete},
	{"late-removal-failed-edit-hides-honest-edit", attackLateFailedEditHidesHonestEdit},
	{"late-removal-failed-edit-blocks-later-served-edit", attackLateFailedEditBlocksLaterServed},
}

// attackLateRemovalPendingDelete: mallory says something; alice removes
// her; mallory, removed, deletes her message for everyone; alice adds
// her again. The server serves bob the delete first, withholding the
// message, the removal and the re-add: the delete verifies (mallory is a
// member as far as bob knows) and, its target not stored, is recorded
// pending. The second sync serves the removal and the re-add at their
// places: the walk fails the delete (mallory was no member when she
// signed it) and the re-add gives her place back. The third serves the
// message, below everything, and it verifies (she is a member). A fresh
// device served the same events fails the delete and keeps mallory's
// message (she was a member when she wrote it). Unless the pending record
// of a delete that failed since is dropped (or checked), the message is
// erased when it arrives, by a delete bob's own history shows failed.
func attackLateRemovalPendingDelete(w *world) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	const said = "mallory, a member still: the meeting moved to 9"
	h.say(h.mallory, said)
	msg := h.items[len(h.items)-1].me
	h.push(h.alice.removal(h.env(), h.mallory.id))
	removal := h.top()
	h.push(deleteEvent(h.mallory.forger(), h.env(), msg.GetSequenceID()))
	del := h.top()
	members := []string{h.alice.id, h.bob.id, h.carol.id}
	h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.mallory.id}, members, []string{h.alice.id}))
	readd := h.top()
	h.say(h.alice, "alice after mallory's return")
	h.seal()
	first, err := pageOf(h, nil, func(seq string) bool { return !slices.Contains([]string{msg.GetSequenceID(), removal, readd}, seq) })
	if err != nil {
		return "", err
	}
	second, err := pageOf(h, nil, func(seq string) bool { return seq != msg.GetSequenceID() })
	if err != nil {
		return "", err
	}
	whole, err := pageWith(h, nil, "")
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	fresh, err := bobShows(w, hs, oneRound(whole), msg.GetMessageID(), del)
	if err != nil {
		return "", err
	}
	if fresh.msg.Removed || fresh.msg.Text != said || fresh.del.Verified {
		return "", errorf("setup: a fresh device served the whole transcript shows mallory's message as %q (removed %v), her delete verified %v", fresh.msg.Text, fresh.msg.Removed, fresh.del.Verified)
	}
	late, err := bobShows(w, hs, threeRounds(first, second, whole), msg.GetMessageID(), del)
	switch {
	case err != nil:
		return "", err
	case late.del.Verified:
		return "", errorf("setup: mallory's delete, signed while removed, still verified after the walk")
	case !late.msg.Verified:
		return "", errorf("setup: mallory's message, served last, did not verify: %s", late.msg.Error)
	case late.msg.Removed || late.msg.Text != said:
		return "", errorf("mallory's message, written while a member, erased by her delete the walk had failed (bob shows %q, removed %v; a fresh device shows it)", late.msg.Text, late.msg.Removed)
	}
	return "mallory's message kept: the delete the walk failed erases nothing when its target arrives", nil
}

// attackLateFailedEditHidesHonestEdit: carol says something and edits it
// while a member; alice removes her; carol, removed, edits it again. The
// server withholds the removal from bob's first sync: both edits verify
// and the later one is indexed as the message's latest text. The next
// sync serves the removal at its place: the walk fails the later edit.
// A fresh device served the same events indexes carol's honest edit and
// fails the later one, and its reply to carol's message quotes (and
// embeds) the honest edit. Unless the walk gives the index back to the
// newest edit that stands, bob's reply quotes carol's words as she wrote
// them before her honest edit: he signs a preview no fresh device signs.
func attackLateFailedEditHidesHonestEdit(w *world) (string, error) {
	return lateFailedEdit(w, false)
}

// attackLateFailedEditBlocksLaterServed: late-removal-failed-edit-hides-honest-edit
// with alice adding carol again above carol's later edit, and carol's
// honest edit withheld until a third sync, after the walk failed her later
// edit (the re-add gives carol her place back, so the honest edit, served
// below everything, verifies). Unless the walk clears the index of the edit it
// failed, the index keeps naming it (a newer one), the honest edit is not
// indexed when it arrives, and bob's reply quotes the original words.
func attackLateFailedEditBlocksLaterServed(w *world) (string, error) {
	return lateFailedEdit(w, true)
}

// lateFailedEdit plays the late failed edit scene; honestLast: carol's
// honest edit is served only after the walk.
func lateFailedEdit(w *world, honestLast bool) (string, error) {
	const fixed, rewrite = "carol, a member (the meeting is at 9)", "carol after her removal: send the keys to me"
	gr := newGroup(w)
	said := gr.carol.send(gr.g, "carol, a member")[0]
	c, err := gr.carol.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	key := gr.carol.convKey(gr.g, c.KeyVersion)
	honest, err := editEvent(gr.carol.forger(), envAfter(said.SequenceID, gr.g, 1, 40), c.KeyVersion, key, said.SequenceID, fixed)
	if err != nil {
		return "", err
	}
	removal, err := gr.alice.removal(envAfter(said.SequenceID, gr.g, 2, 41), gr.carol.id)
	if err != nil {
		return "", err
	}
	late, err := editEvent(gr.carol.forger(), envAfter(said.SequenceID, gr.g, 3, 42), c.KeyVersion, key, said.SequenceID, rewrite)
	if err != nil {
		return "", err
	}
	first, second := []*tevent.MessageEvent{late, honest}, []*tevent.MessageEvent{late, removal, honest}
	var readd *tevent.MessageEvent
	if honestLast {
		members := []string{gr.alice.id, gr.bob.id}
		if readd, err = gr.alice.memberAdd(envAfter(said.SequenceID, gr.g, 4, 43), c.KeyVersion, []string{gr.carol.id}, members, []string{gr.alice.id}); err != nil {
			return "", err
		}
		first, second = first[:1], []*tevent.MessageEvent{readd, late, removal}
	}
	w.injectData("edits-without-removal", gr.g, encodeAll(w, first...)...)
	if r := gr.bob.sync(gr.g); r.err != nil || r.eventOf(late.GetMessageID()) == nil || r.eventOf(late.GetMessageID()).Err != nil {
		return "", errorf("setup: carol's edit not verified with her removal withheld (%v)", r.err)
	}
	rounds := [][]*tevent.MessageEvent{second}
	if honestLast {
		rounds = append(rounds, []*tevent.MessageEvent{readd, late, removal, honest})
	}
	for i, evs := range rounds {
		w.proxy.Reset()
		w.injectData(fmt.Sprintf("removal-late-%d", i), gr.g, encodeAll(w, evs...)...)
		if r := gr.bob.sync(gr.g); r.err != nil && !errors.Is(r.err, xchat.ErrServerResponse) {
			return "", r.err
		}
	}
	hist, err := gr.bob.e.History(w.ctx, gr.g, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range hist {
		switch {
		case en.MessageID == late.GetMessageID() && en.Verified:
			return "", errorf("setup: carol's edit after her removal still verified once the removal was served")
		case en.MessageID == honest.GetMessageID() && !en.Verified:
			return "", errorf("setup: carol's honest edit failed: %s", en.Error)
		}
	}
	quoted, err := quoteInPost(w, gr.bob, gr.g, said.SequenceID)
	switch {
	case err != nil:
		return "", errorf("bob's reply to carol's verified message: %v", err)
	case quoted != fixed:
		return "", errorf("bob's reply quotes %q, where a fresh device quotes carol's honest edit %q", quoted, fixed)
	}
	return fmt.Sprintf("bob's reply quotes carol's honest edit (%q), as a fresh device does", quoted), nil
}

// shownPair is what bob's history shows of a message and of a delete.
type shownPair struct{ msg, del event.Entry }

// bobShows serves m to a fresh device of bob's (its rounds as syncs, its
// pushes before them) and returns the history entries of message id mid
// and of sequence id delSeq.
func bobShows(w *world, hs *harness, m *mutation, mid, delSeq string) (shownPair, error) {
	var out shownPair
	e, err := bobAfter(w, hs, m)
	if err != nil {
		return out, err
	}
	defer e.Close()
	hist, err := e.History(w.ctx, hs.h.g, "", 0)
	if err != nil {
		return out, err
	}
	i := slices.IndexFunc(hist, func(en event.Entry) bool { return en.MessageID == mid })
	j := slices.IndexFunc(hist, func(en event.Entry) bool { return en.SequenceID == delSeq })
	if i < 0 || j < 0 {
		return out, errorf("bob's history holds no event %s or %s", mid, delSeq)
	}
	return shownPair{hist[i], hist[j]}, nil
}

// bobAfter serves m to a fresh device of bob's and returns his engine
// after its syncs (the caller closes it).
func bobAfter(w *world, hs *harness, m *mutation) (*session.Engine, error) {
	h, ctx := hs.h, w.ctx
	hs.srv.set(m)
	mem := keystore.NewMemory()
	if err := session.ImportBackup(ctx, mem, h.bob.id, h.bobBackup, h.bobVersion); err != nil {
		return nil, err
	}
	e, err := session.Open(ctx, mem, session.NewAPIServer(apiClient(w.t, hs.url, h.bob.token)))
	if err != nil {
		return nil, err
	}
	for i := range m.rounds {
		fail := func(format string, a ...any) { err = fmt.Errorf(format, a...) }
		hs.deliver(ctx, e, m, i, &servedLog{}, nil, fail)
		if err != nil {
			e.Close()
			return nil, err
		}
		if _, err := e.Sync(ctx, h.g, nil); err != nil {
			e.Close()
			return nil, errorf("sync %d: %v", i, err)
		}
	}
	return e, nil
}
