package attacks

import tevent "github.com/xchat-go/xchat/thriftgen/event"

// The readmitted scene: alice removes mallory and adds her back, and
// mallory, a member again, speaks; the server withholds the removal (and
// maybe the re-add) from bob's first sync and serves it late.

// readmittedScene is the history of attackRemovalReaddLate: alice adds
// mallory, removes her, adds her again; mallory, a member again, speaks
// (msg, under the group key she held). The history's removal is not set:
// nothing mallory signs in it is after a removal that stands.
func readmittedScene(w *world) (h *history, removal, readd string, msg *tevent.MessageEvent) {
	h = newBareHistory(w)
	if err := h.synced(h.alice).e.AddMembers(w.ctx, h.g, h.mallory.id); err != nil {
		w.t.Fatal(err)
	}
	h.synced(h.mallory)
	h.synced(h.bob)
	h.readServer()
	h.push(h.alice.removal(h.env(), h.mallory.id))
	removal = h.top()
	members := []string{h.alice.id, h.bob.id, h.carol.id}
	h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.mallory.id}, members, []string{h.alice.id}))
	readd = h.top()
	v := h.newestVersion()
	e := h.env()
	h.push(h.mallory.forger().Message(e, v, h.keys[v], text("mallory, a member again")))
	h.texts[e.MessageID] = []string{"mallory, a member again"}
	msg = h.items[len(h.items)-1].me
	h.say(h.alice, "alice after mallory's return")
	h.seal()
	return h, removal, readd, msg
}

// readmittedBeforeLate starts the harness of the readmitted scene and
// checks what the late rounds are measured against: a first device served
// withheld (what names what it lacks) verifies mallory's message msg, and
// so does a fresh device served whole, without violations.
func readmittedBeforeLate(w *world, h *history, msg *tevent.MessageEvent, withheld, whole mutPage, what string) (*harness, error) {
	hs := startHarness(w.t, h)
	first := hs.run(w.t, oneRound(withheld))
	if !first.verified[msg.GetMessageID()] {
		return nil, errorf("setup: mallory's message not verified with %s withheld (%v)", what, first.failed[msg.GetMessageID()])
	}
	fresh := hs.run(w.t, oneRound(whole))
	if !fresh.verified[msg.GetMessageID()] || len(fresh.violations) > 0 {
		return nil, errorf("setup: a fresh device served the whole transcript does not verify mallory's message (%v)", fresh.violations)
	}
	return hs, nil
}
