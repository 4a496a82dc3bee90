package attacks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// Attacks on reactions and edits stored before their key (see
// hostile_awaiting_key_test.go for messages): the server serves a genuine
// reaction or edit sealed under a key whose verified key change it
// withholds until a later sync. Both are message creates: until they are
// decrypted nothing tells them from a message, and they are stored failed
// for want of their key alone. When the key arrives they must open as a
// fresh device served the transcript in order keeps them (an edit then
// being its target's latest text, as a reply quotes it); a tampered one,
// one by a removed member, or one below its key change must not.

var reopenReactionAttacks = []attack{
	{"reaction-and-edit-under-late-key-stay-failed", attackLateReactionEdit},
	{"reaction-below-create-under-late-key-stays-failed", attackLateReactionBelowCreate},
	{"tampered-reaction-under-late-key-opens-nothing", attackTamperedReactionLate},
	{"removed-member-reaction-under-late-key-opens-nothing", attackRemovedReactionLate},
	{"reaction-below-its-key-change-opens-nothing", attackReactionBelowItsKey},
}

// reactionEvent returns f's reaction with emoji to target under key
// (version).
func reactionEvent(f *hostile.Forger, env hostile.Envelope, version string, key *crypto.ConversationKey, target, emoji string) (*tevent.MessageEvent, error) {
	return f.Message(env, version, key, &product.MessageEntryHolder{Contents: &product.MessageEntryContents{
		ReactionAdd: &product.MessageReactionAdd{MessageSequenceID: &target, Emoji: &emoji}}})
}

// lateReactionScene is alice's group, synced by bob, in which carol
// writes under the group's first key, then alice rotates the key and,
// under the new one, reacts to carol's message and carol edits it. It
// returns the history (not sealed), the sequence id of carol's message,
// the rotation and the two events.
func lateReactionScene(w *world) (h *history, target string, kc, reaction, edit *tevent.MessageEvent, err error) {
	h = newBareHistory(w)
	h.synced(h.bob)
	h.readServer()
	h.say(h.carol, "carol's words")
	target = h.top()
	v := h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc = h.items[len(h.items)-1].me
	h.push(reactionEvent(h.alice.forger(), h.env(), v, h.keys[v], target, "👍"))
	reaction = h.items[len(h.items)-1].me
	h.push(editEvent(h.carol.forger(), h.env(), v, h.keys[v], target, "carol's words, edited"))
	edit = h.items[len(h.items)-1].me
	return h, target, kc, reaction, edit, nil
}

// lateOpened requires the events mids, failed by bob's first sync (their
// key withheld), verified at the end, where the fresh device keeps them
// verified, and no invariant broken.
func lateOpened(fresh, late *runOutcome, what string, mids ...string) (string, error) {
	for _, mid := range mids {
		switch {
		case !fresh.verified[mid]:
			return "", errorf("setup: a fresh device fails %s %s (%v)", what, mid, fresh.failed[mid])
		case late.failed[mid] == nil:
			return "", errorf("setup: %s %s was not stored failed by the first sync", what, mid)
		case !late.verified[mid]:
			return "", errorf("%s %s stays failed (%v) after its key change arrived, where a fresh device keeps it verified", what, mid, late.failed[mid])
		}
	}
	if len(late.violations) > 0 {
		return "", errorf("key change served late: %v", late.violations)
	}
	return fmt.Sprintf("%d %s stored before their key change opened when it arrived", len(mids), what), nil
}

// attackLateReactionEdit: alice's reaction and carol's edit under a
// rotation withheld from bob's first sync, served by his second. After
// that sync bob replies to carol's message: the reply must quote her edit,
// as a fresh device's does.
func attackLateReactionEdit(w *world) (string, error) {
	h, target, kc, reaction, edit, err := lateReactionScene(w)
	if err != nil {
		return "", err
	}
	h.seal()
	withheld, whole, err := servedLate(h, nil, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	fresh := hs.run(w.t, oneRound(whole))
	m := lateRounds(withheld, whole)
	var quoted *tevent.MessageEvent
	var qerr error
	m.afterStep = func(ctx context.Context, step int, e *session.Engine, _ keystore.Store, _ func(string, ...any)) {
		if step == 2*len(m.rounds) {
			quoted, qerr = quotedEdit(ctx, hs, e, h, target)
		}
	}
	late := hs.run(w.t, m)
	got, err := lateOpened(fresh, late, "reaction and edit", reaction.GetMessageID(), edit.GetMessageID())
	switch {
	case err != nil:
		return "", err
	case qerr != nil:
		return "", errorf("bob's reply: %w", qerr)
	case quoted == nil || quoted.GetMessageID() != edit.GetMessageID():
		return "", errorf("bob's reply to carol's message does not quote her edit opened late (quotes %v)", quoted.GetMessageID())
	}
	return got + "; a reply quotes the edit", nil
}

// quotedEdit has bob's engine e reply to the message at seq of h's group
// (the harness's server takes no post: the reply stays queued) and
// returns the edit its written preview embeds (nil: none).
func quotedEdit(ctx context.Context, hs *harness, e *session.Engine, h *history, seq string) (*tevent.MessageEvent, error) {
	before := len(hs.srv.written())
	if _, err := e.Send(ctx, h.g, session.Outgoing{Text: "bob quoting", ReplyTo: seq}); err != nil && !errors.Is(err, xchat.ErrQueued) {
		return nil, err
	}
	for _, b := range hs.srv.written()[before:] {
		var req struct {
			Message string `json:"encoded_message_create_event"`
		}
		if json.Unmarshal(b, &req) != nil || req.Message == "" {
			continue
		}
		raw, err := wire.DecodeB64(req.Message)
		if err != nil {
			return nil, err
		}
		mce, err := wire.DecodeMessageCreateEvent(raw)
		if err != nil {
			return nil, err
		}
		key := h.keys[mce.GetConversationKeyVersion()]
		if key == nil {
			return nil, errorf("reply sealed under key version %s, not the group's", mce.GetConversationKeyVersion())
		}
		plain, err := crypto.Open(key, mce.Contents)
		if err != nil {
			return nil, err
		}
		holder, err := wire.DecodeMessageEntryHolder(plain)
		if err != nil {
			return nil, err
		}
		p := holder.GetContents().GetMessage().GetReplyingToPreview()
		if p == nil {
			return nil, errorf("bob's reply carries no preview")
		}
		return p.GetRawEventEditMessage(), nil
	}
	return nil, errorf("bob's reply was not written")
}

// attackLateReactionBelowCreate: as reaction-and-edit-under-late-key-stay-
// failed with carol reacting and editing, but the server moves the
// group's create above them and above alice's removal of carol
// (sequence ids are unsigned). A fresh device reads the reaction and the
// edit where no roster is held (every author admitted) and the removal
// before any roster (it names carol, who is then never admitted again).
// The reaction and the edit have no group change below them: when their
// key arrives they must open, though bob's roster names carol as removed.
func attackLateReactionBelowCreate(w *world) (string, error) {
	h := newBareHistory(w)
	h.synced(h.bob)
	h.readServer()
	h.say(h.alice, "alice's words")
	target := h.top()
	h.say(h.carol, "carol's words")
	own := h.top()
	v := h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc := h.items[len(h.items)-1].me
	h.push(reactionEvent(h.carol.forger(), h.env(), v, h.keys[v], target, "🎉"))
	reaction := h.items[len(h.items)-1].me
	h.push(editEvent(h.carol.forger(), h.env(), v, h.keys[v], own, "carol's words, edited"))
	edit := h.items[len(h.items)-1].me
	h.push(h.alice.removal(h.env(), h.carol.id))
	h.removal = h.top()
	h.say(h.alice, "alice after the removal")
	if err := moveCreateToTop(h); err != nil {
		return "", err
	}
	h.seal()
	fresh, late, err := keyServedLate(w, h, nil, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	return lateOpened(fresh, late, "reaction and edit below the create", reaction.GetMessageID(), edit.GetMessageID())
}

// moveCreateToTop gives h's group create a sequence id above every other
// item (its signature covers none).
func moveCreateToTop(h *history) error {
	i := slices.IndexFunc(h.items, func(it *mutItem) bool {
		return it.me.GetDetail().GetGroupChangeEvent().GetGroupChange().GetGroupCreate() != nil
	})
	if i < 0 {
		return errorf("setup: no group create in the history")
	}
	top := h.top()
	seq := hostile.NextSequenceID(top, 1000)
	h.items[i].me.SequenceID, h.items[i].me.PreviousSequenceID = &seq, &top
	h.sortItems()
	return nil
}

// attackTamperedReactionLate: alice's reaction under a rotation withheld
// from bob's first sync, its ciphertext altered: it failed its signature
// too, and opens nothing when the key arrives.
func attackTamperedReactionLate(w *world) (string, error) {
	h := newBareHistory(w)
	h.synced(h.bob)
	h.readServer()
	h.say(h.carol, "carol's words")
	target := h.top()
	v := h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc := h.items[len(h.items)-1].me
	h.seal()
	reaction, err := reactionEvent(h.alice.forger(), h.env(), v, h.keys[v], target, "👎")
	if err != nil {
		return "", err
	}
	return tamperedUnderLateKey(w, h, reaction, kc, "alice's reaction")
}

// attackRemovedReactionLate: alice removes mallory and rotates the key
// to the members left; mallory's reaction under that key (she learnt it)
// is served to bob's first sync without the removal and the key change,
// his second with them, the removal below what he stored.
func attackRemovedReactionLate(w *world) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	h.say(h.alice, "alice's words")
	target := h.top()
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	v := h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc := h.items[len(h.items)-1].me
	reaction, err := reactionEvent(h.mallory.forger(), h.env(), v, h.keys[v], target, "😈")
	if err != nil {
		return "", err
	}
	return removedUnderLateKey(w, h, reaction, kc, v, "mallory's reaction")
}

// attackReactionBelowItsKey: alice rotates and reacts under the new key;
// the server serves her reaction at a sequence id below her key change,
// withheld from bob's first sync. Opened, it would stand under a key
// distributed after it.
func attackReactionBelowItsKey(w *world) (string, error) {
	h := newBareHistory(w)
	h.synced(h.bob)
	h.readServer()
	h.say(h.carol, "carol's words")
	target := h.top()
	below := hostile.NextSequenceID(h.top(), 10)
	v := h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc := h.items[len(h.items)-1].me
	e := h.env()
	e.SequenceID = below
	reaction, err := reactionEvent(h.alice.forger(), e, v, h.keys[v], target, "🙃")
	if err != nil {
		return "", err
	}
	h.say(h.carol, "carol above it")
	h.seal()
	_, late, err := keyServedLate(w, h, []*tevent.MessageEvent{reaction}, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	return staysFailed(late, reaction.GetMessageID(), "alice's reaction moved below its key change")
}

// Attacks on the keys this account made itself. A backfilled event (one
// the server withheld and serves later below a change bob stored) is
// judged at its place when its author is no member now, and a message
// stands there only under a key distributed by a verified key change
// stored below it. Bob's device holds the keys it made from the moment it
// committed them, so the key change the server serves back adopts
// nothing: unless its place is recorded, a member's honest message under
// bob's key, withheld and served below her removal, fails where a fresh
// device (which adopts bob's key change as it adopts anyone's) keeps it.
// The place may come only from bob's key change as served back and
// verified, never from the server's answer to his post.

var ownKeyPlaceAttacks = []attack{
	{"own-key-backfilled-honest-message-stays-failed", attackOwnKeyBackfill},
	{"own-key-change-above-backfill-opens-nothing", attackOwnKeyAbove},
	{"own-key-change-withheld-backfill-opens-nothing", attackOwnKeyWithheld},
}

// ownKeyScene is the group scene in which bob rotates the key and writes
// under his key, carol syncs (she holds it), and bob's next sync is
// served his key change back (or not, under a proxy added by hide). It
// returns bob's key version and message.
func ownKeyScene(w *world, hide func(gr *group, v string)) (*group, string, *session.Sent, error) {
	gr := newGroup(w)
	v, err := gr.bob.e.Rotate(w.ctx, gr.g)
	if err != nil {
		return nil, "", nil, err
	}
	sent := gr.bob.send(gr.g, "bob under his own key")[0]
	if r := gr.carol.sync(gr.g); r.err != nil {
		return nil, "", nil, r.err
	}
	if hide != nil {
		hide(gr, v)
	}
	if r := gr.bob.sync(gr.g); r.err != nil {
		return nil, "", nil, r.err
	}
	return gr, v, sent, nil
}

// backfillBelowRemoval has alice remove carol, the removal's predecessor
// naming a place left open below it (the chain is unsigned), bob sync
// that, and then serves him msg, which carol signed under version at that
// place. It returns bob's verdict on msg.
func backfillBelowRemoval(w *world, gr *group, back, prev string, sign func(env hostile.Envelope) (*tevent.MessageEvent, error)) (verdict error, mid string, err error) {
	rm, err := gr.alice.removal(gr.env(hostile.NextSequenceID(back, 5), back, 41), gr.carol.id)
	if err != nil {
		return nil, "", err
	}
	w.injectData("removal", gr.g, encodeAll(w, rm)...)
	if r := gr.bob.sync(gr.g); r.err != nil {
		return nil, "", r.err
	}
	msg, err := sign(gr.env(back, prev, 42))
	if err != nil {
		return nil, "", err
	}
	w.injectData("backfilled", gr.g, encodeAll(w, msg)...)
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		return nil, "", r.err
	}
	verdict, seen := r.byMessage(msg.GetMessageID())
	if !seen {
		return nil, "", errorf("carol's backfilled message not reported")
	}
	return verdict, msg.GetMessageID(), nil
}

// attackOwnKeyBackfill: carol writes under bob's key; the server withholds
// her message, serves alice's removal of carol (the chain left open below
// it), then the message at its place. Carol was a member there and bob's
// key change, stored verified below it, distributed its key: it must
// stand, as on a fresh device.
func attackOwnKeyBackfill(w *world) (string, error) {
	gr, v, sent, err := ownKeyScene(w, nil)
	if err != nil {
		return "", err
	}
	if _, err := ownKeyChangeStored(gr, v); err != nil {
		return "", err
	}
	back := gr.top(5)
	verdict, mid, err := backfillBelowRemoval(w, gr, back, sent.SequenceID, func(env hostile.Envelope) (*tevent.MessageEvent, error) {
		return gr.carol.forger().Message(env, v, gr.carol.convKey(gr.g, v), text("carol under bob's key, before her removal"))
	})
	switch {
	case err != nil:
		return "", err
	case verdict != nil:
		return "", errorf("carol's honest message under bob's own key, backfilled below her removal, failed (%v) where a fresh device keeps it", verdict)
	}
	if err := verifiedIn(gr.bob, gr.g, mid); err != nil {
		return "", err
	}
	return "backfilled message under this account's own key judged at its place: verified", nil
}

// ownKeyChangeStored requires bob's history to hold his key change of
// version v verified (served back to him) and returns its sequence id.
func ownKeyChangeStored(gr *group, v string) (string, error) {
	hist, err := gr.bob.e.History(gr.w.ctx, gr.g, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range hist {
		if en.Type == event.TypeKeyChange && en.KeyVersion == v && en.SenderID == gr.bob.id && en.Verified {
			return en.SequenceID, nil
		}
	}
	return "", errorf("setup: bob's key change %s was not served back to him", v)
}

// verifiedIn requires u's history to show the event mid verified.
func verifiedIn(u *user, cid, mid string) error {
	hist, err := u.e.History(u.w.ctx, cid, "", 0)
	if err != nil {
		return err
	}
	for _, en := range hist {
		if en.MessageID == mid && en.Verified {
			return nil
		}
	}
	return errorf("event %s not stored verified", mid)
}

// attackOwnKeyAbove: as own-key-backfilled-honest-message-stays-failed,
// but the message is sealed under a newer key bob made after it (carol
// holds it), and the server places it, and alice's removal of carol,
// below bob's key change of that key: no key change below its place
// distributed its key.
func attackOwnKeyAbove(w *world) (string, error) {
	gr, _, sent, err := ownKeyScene(w, nil)
	if err != nil {
		return "", err
	}
	back := gr.top(5)
	v2, err := gr.bob.e.Rotate(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	gr.bob.send(gr.g, "bob under his newer key")
	if r := gr.carol.sync(gr.g); r.err != nil {
		return "", r.err
	}
	if r := gr.bob.sync(gr.g); r.err != nil {
		return "", r.err
	}
	if at, err := ownKeyChangeStored(gr, v2); err != nil || !decimal.Less(back, at) {
		return "", errorf("setup: bob's key change %s at %s, not above %s (%v)", v2, at, back, err)
	}
	verdict, _, err := backfillBelowRemoval(w, gr, back, sent.SequenceID, func(env hostile.Envelope) (*tevent.MessageEvent, error) {
		return gr.carol.forger().Message(env, v2, gr.carol.convKey(gr.g, v2), text("carol under bob's key, below its key change"))
	})
	if err != nil {
		return "", err
	}
	if verdict == nil {
		return "", errorf("carol's message under bob's newer key, placed below its key change and her removal, verified")
	}
	return "message under a key bob distributed above its place stays failed: " + verdict.Error(), nil
}

// attackOwnKeyWithheld: as own-key-backfilled-honest-message-stays-failed,
// but the server never serves bob his own key change back: only its
// answer to his post (unsigned) says where it sits, which places nothing.
func attackOwnKeyWithheld(w *world) (string, error) {
	gr, v, sent, err := ownKeyScene(w, func(gr *group, v string) {
		w.proxy.Add(hostile.Events("withhold-own-key-change", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
			return withholdKeyVersion(page, v)
		}))
	})
	if err != nil {
		return "", err
	}
	if _, err := ownKeyChangeStored(gr, v); err == nil {
		return "", errorf("setup: bob's key change was served back")
	}
	back := gr.top(5)
	verdict, _, err := backfillBelowRemoval(w, gr, back, sent.SequenceID, func(env hostile.Envelope) (*tevent.MessageEvent, error) {
		return gr.carol.forger().Message(env, v, gr.carol.convKey(gr.g, v), text("carol under bob's withheld key change"))
	})
	if err != nil {
		return "", err
	}
	if verdict == nil {
		return "", errorf("carol's message under bob's key, whose key change no sync served him, verified below her removal")
	}
	return "no key change served back, nothing placed: " + verdict.Error(), nil
}

// Attacks on a key change backfilled at its place. A member's key change
// withheld and served below her removal is, on a fresh device served the
// transcript in order, a verified key change at a place where its author
// was a member: its key opens the events sealed under it. Judged against
// the roster held when stored, bob's device fails it, and the genuine
// messages under it. Judged at its place, it must still never let the
// removed member back in: its key may decrypt, never encrypt (she holds
// it), and a key change she signs after her removal must not stand,
// whether placed above her removal, replayed, or placed below it though
// made after a key distributed above it.

var backfilledKeyAttacks = []attack{
	{"backfilled-key-change-judged-as-stored", attackBackfilledKeyChange},
	{"pushed-backfilled-key-change-judged-as-stored", attackBackfilledKeyChangePushed},
	{"backfilled-key-change-above-removal-opens-nothing", attackBackfilledKeyAboveRemoval},
	{"backfilled-key-change-replayed-opens-nothing", attackBackfilledKeyReplayed},
	{"backfilled-key-change-later-than-its-place-opens-nothing", attackBackfilledKeyLater},
	{"backfilled-key-change-with-its-authors-message", attackBackfilledKeyWithItsMessage},
}

// attackBackfilledKeyWithItsMessage: mallory, a member, distributes a key
// and writes under it; alice removes her. Mallory's key change and her
// message are withheld from bob's first sync and served together, at
// their place below the removal, in the next: one batch, screened before
// either is stored. As on a fresh device, both must stand (found by
// FuzzTranscriptMutationExt, seed 0xfffffac1).
func attackBackfilledKeyWithItsMessage(w *world) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	kc, err := malloryKeyChange(h)
	if err != nil {
		return "", err
	}
	h.say(h.mallory, "mallory under her key, before her removal")
	said := h.items[len(h.items)-1].me
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	h.say(h.alice, "alice after mallory's removal")
	h.seal()
	whole, err := pageWith(h, nil, "")
	if err != nil {
		return "", err
	}
	withheld, err := pageOf(h, nil, func(seq string) bool { return seq != kc.GetSequenceID() && seq != said.GetSequenceID() })
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	fresh := hs.run(w.t, oneRound(whole))
	if len(fresh.violations) > 0 || !fresh.verified[kc.GetMessageID()] || !fresh.verified[said.GetMessageID()] {
		return "", errorf("setup: a fresh device (violations %v) does not keep mallory's key change (%v) and her message (%v)", fresh.violations, fresh.failed[kc.GetMessageID()], fresh.failed[said.GetMessageID()])
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case len(o.violations) > 0:
		return "", errorf("key change and message backfilled: %v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case !o.verified[kc.GetMessageID()]:
		return "", errorf("mallory's key change, backfilled at its place, failed (%v) where a fresh device keeps it", o.failed[kc.GetMessageID()])
	case !o.verified[said.GetMessageID()]:
		return "", errorf("mallory's message under her backfilled key, served with it, failed (%v) where a fresh device keeps it", o.failed[said.GetMessageID()])
	}
	return "backfilled key change and its author's message served together: both judged at their place and verified", nil
}

// attackBackfilledKeyChange: mallory, a member, distributes a key and
// alice writes under it; alice removes mallory and writes again (under
// mallory's key, the newest). Mallory's key change is withheld from
// bob's first sync and served at its place in the next. As on a fresh
// device, it must stand with alice's messages, and bob's next send must
// not be sealed under it (the harness's probe: mallory holds it).
func attackBackfilledKeyChange(w *world) (string, error) {
	return backfilledKeyChange(w, func(h *history, kc, _ *tevent.MessageEvent) (*mutation, error) {
		withheld, whole, err := servedLate(h, nil, kc.GetSequenceID())
		return lateRounds(withheld, whole), err
	})
}

// attackBackfilledKeyChangePushed: as backfilled-key-change-judged-as-
// stored, with alice's last message withheld from bob's sync too and
// pushed to him (Engine.Deliver) after it, carrying the key change.
func attackBackfilledKeyChangePushed(w *world) (string, error) {
	return backfilledKeyChange(w, func(h *history, kc, after *tevent.MessageEvent) (*mutation, error) {
		withheld, err := pageOf(h, nil, func(seq string) bool { return seq != kc.GetSequenceID() && seq != after.GetSequenceID() })
		if err != nil {
			return nil, err
		}
		b, err := hostile.EncodeEvent(kc)
		if err != nil {
			return nil, err
		}
		return &mutation{rounds: [][]mutPage{{withheld}}, pushes: [][]*tevent.MessageEvent{nil, {after}},
			kcs: map[string]string{keyChangeVersion(kc): b}}, nil
	})
}

// backfilledKeyChange plays the scene of backfilled-key-change-judged-as-
// stored, serving bob the mutation late makes of it (kc is mallory's key
// change, after alice's message after the removal).
func backfilledKeyChange(w *world, late func(h *history, kc, after *tevent.MessageEvent) (*mutation, error)) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	kc, err := malloryKeyChange(h)
	if err != nil {
		return "", err
	}
	h.say(h.alice, "alice under mallory's key")
	said := h.items[len(h.items)-1].me.GetMessageID()
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	h.say(h.alice, "alice after mallory's removal")
	afterMe := h.items[len(h.items)-1].me
	after := afterMe.GetMessageID()
	h.seal()
	whole, err := pageWith(h, nil, "")
	if err != nil {
		return "", err
	}
	m, err := late(h, kc, afterMe)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	fresh := hs.run(w.t, oneRound(whole))
	if len(fresh.violations) > 0 || !fresh.verified[kc.GetMessageID()] || !fresh.verified[said] {
		return "", errorf("setup: a fresh device (violations %v) does not keep mallory's key change (%v) and alice's message (%v)", fresh.violations, fresh.failed[kc.GetMessageID()], fresh.failed[said])
	}
	o := hs.run(w.t, m)
	switch {
	case len(o.violations) > 0:
		return "", errorf("key change backfilled: %v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case o.failed[said] == nil:
		return "", errorf("setup: alice's message was not stored failed before the key change came")
	case !o.verified[kc.GetMessageID()]:
		return "", errorf("mallory's key change, backfilled at its place, failed (%v) where a fresh device keeps it", o.failed[kc.GetMessageID()])
	case !o.verified[said] || !o.verified[after]:
		return "", errorf("alice's messages under the backfilled key stay failed (%v, %v) where a fresh device keeps them", o.failed[said], o.failed[after])
	}
	return "backfilled key change judged at its place: verified with the messages under it, its key never sealed under", nil
}

// malloryKeyChange has mallory, a member, distribute a new key to alice,
// bob, carol and herself, and returns her key change.
func malloryKeyChange(h *history) (*tevent.MessageEvent, error) {
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return nil, err
	}
	v := h.nextVersion(1)
	h.push(h.mallory.forger().KeyChange(h.env(), v, key, []hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.mallory.recipient()}))
	h.keys[v] = key
	h.malloryKeys = append(h.malloryKeys, key)
	return h.items[len(h.items)-1].me, nil
}

// attackBackfilledKeyAboveRemoval: mallory, removed, signs a key change
// wrapped to everyone; the server places it above her removal, in a
// place the chain leaves open, and serves it after bob stored the
// removal. At its place she is no member.
func attackBackfilledKeyAboveRemoval(w *world) (string, error) {
	h, _, err := removedMemberScene(w, "unused")
	if err != nil {
		return "", err
	}
	kc, err := h.lateKeyChange(300)
	if err != nil {
		return "", err
	}
	return backfillForgery(w, h, nil, kc, xchat.ErrNotMember)
}

// attackBackfilledKeyReplayed: mallory's key change from before her
// removal, stored verified by bob, is served again under a new sequence
// id below the removal (the chain left open there).
func attackBackfilledKeyReplayed(w *world) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	kc, err := malloryKeyChange(h)
	if err != nil {
		return "", err
	}
	h.say(h.alice, "alice under mallory's key")
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	h.say(h.alice, "alice after mallory's removal")
	h.seal()
	re := *kc
	seq := prevSeq(h.removal, 3)
	re.SequenceID = &seq
	openChain(h, seq)
	_, o, err := backfilledForgery(w, h, nil, &re)
	switch {
	case err != nil:
		return "", err
	case len(o.violations) > 0:
		return "", errorf("backfilled replay: %v", o.violations)
	case !errors.Is(o.failed[kc.GetMessageID()], xchat.ErrReplayed):
		return "", errorf("mallory's key change replayed below her removal: %v, want ErrReplayed", o.failed[kc.GetMessageID()])
	}
	return "backfilled replay of a key change failed: " + o.failed[kc.GetMessageID()].Error(), nil
}

// attackBackfilledKeyLater: alice removes mallory and rotates the key to
// the members left; mallory then signs a key change (a newer version,
// wrapped to everyone) that the server places below her removal, where
// she was a member, in a place the chain leaves open. A key change stored
// above its place distributed an older key: it was made later than its
// place claims.
func attackBackfilledKeyLater(w *world) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	h.say(h.mallory, "mallory, a member")
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	h.say(h.alice, "alice after mallory's removal")
	h.seal()
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	h.malloryKeys = append(h.malloryKeys, key)
	kc, err := h.mallory.forger().KeyChange(belowRemoval(h, 5), h.nextVersion(10), key,
		[]hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.mallory.recipient()})
	if err != nil {
		return "", err
	}
	return backfillForgery(w, h, nil, kc, xchat.ErrNotMember)
}
