package attacks

import (
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks found by the transcript-mutation harness (mutation_test.go):
// each is one violation it reported, reduced to the events that matter.

var pagesOverlapAttacks = []attack{
	{"pages-overlap-removal-read-late", attackPagesOverlap},
	{"key-change-after-removal-on-page-read-first", attackKeyChangeOnEarlierPage},
}

// removedMemberScene is alice's group with bob and carol, to which alice
// added mallory with her engine (mallory holds the group key), followed by
// alice's signed removal of mallory, a message mallory signs after it under
// that key, and alice's next message. It returns the history (removal and
// alice's message in it) and mallory's message (not in it: not honest).
func removedMemberScene(w *world, said string) (*history, *tevent.MessageEvent, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return nil, nil, err
	}
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	v := h.newestVersion()
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(h.removal, 500) // between the removal and alice's message
	msg, err := h.mallory.forger().Message(e, v, h.keys[v], text(said))
	if err != nil {
		return nil, nil, err
	}
	h.say(h.alice, "alice after the removal")
	h.seal()
	return h, msg, nil
}

// attackPagesOverlap: the engine reads a multi-page sync page by page,
// oldest page first, each page's events in order — which is the
// transcript's order only if the pages' sequence ranges do not overlap.
// The server serves alice's next message and her removal of mallory on
// the first page, and mallory's message (signed after the removal) with
// the older history on the second: the second page's top is below the
// first's, so it is read first, and mallory's message would be read while
// she is still a member.
func attackPagesOverlap(w *world) (string, error) {
	said := "mallory after her removal, on the page read first"
	h, msg, err := removedMemberScene(w, said)
	if err != nil {
		return "", err
	}
	first, second, err := splitAtRemoval(h)
	if err != nil {
		return "", err
	}
	mb, err := hostile.EncodeEvent(msg)
	if err != nil {
		return "", err
	}
	second.data = append([]string{mb}, second.data...)
	hs := startHarness(w.t, h)
	o := hs.run(w.t, &mutation{rounds: [][]mutPage{{first, second}}, pushes: make([][]*tevent.MessageEvent, 2), kcs: map[string]string{}})
	return o.refused("overlapping pages", "mallory's message", msg.GetMessageID())
}

// splitAtRemoval serves h as two pages: alice's removal of mallory and her
// next message on the first (newest) page, everything older on the
// second, and the key changes with the second (read first).
func splitAtRemoval(h *history) (first, second mutPage, err error) {
	n := len(h.items)
	for i := n - 1; i >= 0; i-- {
		b, err := hostile.EncodeEvent(h.items[i].me)
		if err != nil {
			return first, second, err
		}
		switch {
		case h.items[i].kc:
			second.keys = append(second.keys, b)
		case i >= n-2:
			first.data = append(first.data, b)
		default:
			second.data = append(second.data, b)
		}
	}
	return first, second, nil
}

// attackKeyChangeOnEarlierPage: the key-change twin of
// pages-overlap-removal-read-late. A page's key changes are read with its
// events, so the server serves mallory's key change (signed after her
// removal, a newer version wrapped to everyone) in the meta of the older
// page, whose data lies below the removal: read first, it would be judged
// while she is still a member and her key would become bob's newest.
func attackKeyChangeOnEarlierPage(w *world) (string, error) {
	h, _, err := removedMemberScene(w, "unused")
	if err != nil {
		return "", err
	}
	kc, err := h.lateKeyChange(500)
	if err != nil {
		return "", err
	}
	first, second, err := splitAtRemoval(h)
	if err != nil {
		return "", err
	}
	kb, err := hostile.EncodeEvent(kc)
	if err != nil {
		return "", err
	}
	second.keys = append(second.keys, kb)
	hs := startHarness(w.t, h)
	o := hs.run(w.t, &mutation{rounds: [][]mutPage{{first, second}}, pushes: make([][]*tevent.MessageEvent, 2), kcs: map[string]string{}})
	return o.refused("key change on the page read first", "mallory's key change", kc.GetMessageID())
}
