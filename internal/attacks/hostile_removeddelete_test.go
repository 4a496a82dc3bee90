package attacks

import (
	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on a removed member's delete for everyone. A delete for
// everyone erases its author's own messages. One she signs after her
// removal is content by a non-member and must fail like any other
// (whether synced or pushed), her messages kept; one she signed while a
// member, withheld and served at its place below her removal, must stand
// there, as on a fresh device. (What stays open: a delete served while
// her removal is withheld erases when stored, and the walk that fails it
// once the removal comes cannot bring the content back; see
// docs/late-judging.md.)

var removedDeleteAttacks = []attack{
	{"removed-member-delete-above-removal-fails", func(w *world) (string, error) { return attackRemovedDelete(w, false) }},
	{"removed-member-delete-above-removal-pushed-fails", func(w *world) (string, error) { return attackRemovedDelete(w, true) }},
	{"member-delete-backfilled-below-removal-stands", attackMemberDeleteBackfilled},
}

// removedDeleteScene: carol writes in the group and bob syncs it.
func removedDeleteScene(w *world) (*group, string, error) {
	gr := newGroup(w)
	said := gr.carol.send(gr.g, "carol, a member")[0]
	if r := gr.bob.sync(gr.g); r.err != nil {
		return nil, "", r.err
	}
	if err := verifiedIn(gr.bob, gr.g, said.MessageID); err != nil {
		return nil, "", errorf("setup: %w", err)
	}
	return gr, said.SequenceID, nil
}

// attackRemovedDelete: after carol wrote, alice removes her and bob
// stores the removal; carol, removed, deletes her message for everyone,
// the delete placed above the removal (served in a sync, or pushed).
func attackRemovedDelete(w *world, pushed bool) (string, error) {
	gr, said, err := removedDeleteScene(w)
	if err != nil {
		return "", err
	}
	rmSeq := gr.top(10)
	rm, err := gr.alice.removal(gr.env(rmSeq, gr.w.newestSeq(gr.alice, gr.g), 81), gr.carol.id)
	if err != nil {
		return "", err
	}
	w.injectData("removal", gr.g, encodeAll(w, rm)...)
	if r := gr.bob.sync(gr.g); r.err != nil {
		return "", r.err
	}
	del, err := deleteEvent(gr.carol.forger(), gr.env(hostile.NextSequenceID(rmSeq, 1), rmSeq, 82), said)
	if err != nil {
		return "", err
	}
	var verdict error
	if pushed {
		push, err := pushOf(gr.bob, "removed-delete", del, "", nil)
		if err != nil {
			return "", err
		}
		_, handed, err := gr.bob.deliver(push)
		if err != nil {
			return "", errorf("Deliver: %w", err)
		}
		seen := false
		for _, ev := range handed {
			if ev.MessageID == del.GetMessageID() {
				verdict, seen = ev.Err, true
			}
		}
		if !seen {
			return "", errorf("the pushed delete was not reported")
		}
	} else {
		w.injectData("removed-delete", gr.g, encodeAll(w, del)...)
		r := gr.bob.sync(gr.g)
		if verdict, err = eventErr(r, del.GetMessageID(), xchat.ErrNotMember); err != nil {
			return "", err
		}
	}
	if err := keptWithText(gr, said, "carol, a member"); err != nil {
		return "", errorf("carol's delete for everyone, signed after her removal: %w (delete: %v)", err, verdict)
	}
	if verdict == nil {
		return "", errorf("carol's delete for everyone, signed after her removal, verified")
	}
	return "a removed member's delete for everyone fails, her message kept: " + verdict.Error(), nil
}

// attackMemberDeleteBackfilled: carol deletes her message for everyone
// while a member; the server withholds the delete, serves alice's
// removal of carol (the chain left open below it), then the delete at
// its place. Carol was a member there: it must stand and erase the
// message, as on a fresh device.
func attackMemberDeleteBackfilled(w *world) (string, error) {
	gr, said, err := removedDeleteScene(w)
	if err != nil {
		return "", err
	}
	back := gr.top(5)
	verdict, mid, err := backfillBelowRemoval(w, gr, back, gr.w.newestSeq(gr.alice, gr.g), func(env hostile.Envelope) (*tevent.MessageEvent, error) {
		return deleteEvent(gr.carol.forger(), env, said)
	})
	switch {
	case err != nil:
		return "", err
	case verdict != nil:
		return "", errorf("carol's delete for everyone, signed while a member and backfilled below her removal, failed (%v) where a fresh device keeps it", verdict)
	}
	if err := verifiedIn(gr.bob, gr.g, mid); err != nil {
		return "", err
	}
	hist, err := gr.bob.e.History(w.ctx, gr.g, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range hist {
		if en.SequenceID == said && (!en.Removed || en.Text != "") {
			return "", errorf("carol's message stays shown (%q) though her delete, backfilled at its place, stands", en.Text)
		}
	}
	return "a member's delete for everyone, backfilled below her removal, stands at its place and erases her message", nil
}

// keptWithText requires bob's history to hold the entry at seq verified,
// not removed, with text.
func keptWithText(gr *group, seq, text string) error {
	hist, err := gr.bob.e.History(gr.w.ctx, gr.g, "", 0)
	if err != nil {
		return err
	}
	for _, en := range hist {
		if en.SequenceID == seq {
			if !en.Verified || en.Removed || en.Text != text || en.Type != event.TypeMessage {
				return errorf("her message at %s is now verified %v, removed %v, text %q", seq, en.Verified, en.Removed, en.Text)
			}
			return nil
		}
	}
	return errorf("her message at %s is gone", seq)
}
