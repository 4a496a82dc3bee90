package attacks

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on the defences of the
// session before it (backfilled key changes, the places of own keys).

var ownKeyTypingAttacks = []attack{
	{"own-key-served-back-below-removal-lets-later-key-stand", func(w *world) (string, error) { return ownKeyServedBelowRemoval(w, false) }},
	{"own-key-served-back-below-pushed-removal-lets-later-key-stand", func(w *world) (string, error) { return ownKeyServedBelowRemoval(w, true) }},
	{"title-change-before-create-by-non-member", attackTitleBeforeCreate},
	{"typing-indicator-fills-dropped-event-gap", attackTypingFillsGap},
}

// ownKeyServedBelowRemoval plays own-key-served-back-below-removal-lets-
// later-key-stand: as
// backfilled-key-change-later-than-its-place-opens-nothing, with the key
// distributed above the removal one bob made. Alice adds mallory and
// removes her (the removal's predecessor naming a place left open below
// it); bob stores both and then rotates the group's key, wrapped to the
// members left. The server serves his key change back below the removal
// (its sequence id is unsigned), and then, below the removal where the
// chain is open, a key change mallory signed after it (a newer version,
// wrapped to everyone) and her message under it. Bob's device made its
// key after it had stored the removal, so no place the server gives that
// key change lies below it: mallory's key change was made later than its
// place claims and must fail, and her message with it. push: the removal
// reaches bob pushed (Engine.Deliver, which stores it without moving his
// sync position) rather than synced
// (own-key-served-back-below-pushed-removal-lets-later-key-stand).
func ownKeyServedBelowRemoval(w *world, push bool) (string, error) {
	gr := newGroup(w)
	mallory := w.newUser("mallory", false)
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	add, err := gr.alice.memberAdd(gr.env(gr.top(2), gr.hello.SequenceID, 40), c.KeyVersion,
		[]string{mallory.id}, c.Members, []string{gr.alice.id})
	if err != nil {
		return "", err
	}
	back, placed, kcAt := gr.top(10), gr.top(6), gr.top(8)
	rm, err := gr.alice.removal(gr.env(gr.top(20), back, 41), mallory.id)
	if err != nil {
		return "", err
	}
	if push {
		w.injectData("add", gr.g, encodeAll(w, add)...)
		if r := gr.bob.sync(gr.g); r.err != nil {
			return "", r.err
		}
		ev, err := pushOf(gr.bob, "push-removal", rm, "", nil)
		if err != nil {
			return "", err
		}
		if _, _, err := gr.bob.deliver(ev); err != nil {
			return "", errorf("setup: pushing the removal: %v", err)
		}
	} else {
		w.injectData("add-and-removal", gr.g, encodeAll(w, rm, add)...)
		if r := gr.bob.sync(gr.g); r.err != nil {
			return "", r.err
		}
	}
	if c, err = gr.bob.e.Conversation(w.ctx, gr.g); err != nil || slices.Contains(c.Members, mallory.id) {
		return "", errorf("setup: bob's roster after mallory's add and removal: %v (%v)", c, err)
	}
	v, err := gr.bob.e.Rotate(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	w.proxy.Add(hostile.Events("own-key-below-removal", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		return placeKeyVersion(page, v, placed)
	}))
	if r := gr.bob.sync(gr.g); r.err != nil {
		return "", r.err
	}
	if at, err := ownKeyChangeStored(gr, v); err != nil || at != placed {
		return "", errorf("setup: bob's key change %s served back at %s, want %s (%v)", v, at, placed, err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return "", err
	}
	later := strconv.FormatInt(n+10, 10)
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	kc, err := mallory.forger().KeyChange(gr.env(kcAt, add.GetSequenceID(), 42), later, key,
		[]hostile.Recipient{gr.alice.recipient(), gr.bob.recipient(), gr.carol.recipient(), mallory.recipient()})
	if err != nil {
		return "", err
	}
	msg, err := mallory.forger().Message(gr.env(back, kc.GetSequenceID(), 43), later, key, text("mallory after her removal, placed before it"))
	if err != nil {
		return "", err
	}
	w.injectData("mallory-later-message", gr.g, encodeAll(w, msg)...)
	kcB := encodeAll(w, kc)
	w.proxy.Add(hostile.Events("mallory-later-key", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		if page.Meta == nil {
			page.Meta = &api.ChatEventsMeta{}
		}
		page.Meta.ConversationKeyEvents = append(page.Meta.ConversationKeyEvents, kcB...)
		return nil
	}))
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		return "", r.err
	}
	kcErr, seen := r.byMessage(kc.GetMessageID())
	if !seen {
		return "", errorf("mallory's key change not reported")
	}
	for what, mid := range map[string]string{"key change": kc.GetMessageID(), "message under that key": msg.GetMessageID()} {
		if err := verifiedIn(gr.bob, gr.g, mid); err == nil {
			return "", errorf("mallory's %s, signed after her removal and placed below it, above bob's own key change the server served back there, stands verified", what)
		}
	}
	return fmt.Sprintf("mallory's later key change fails (%v), her message with it", kcErr), nil
}

// placeKeyVersion moves the key changes of version v a page serves to
// sequence id seq.
func placeKeyVersion(page *api.GetChatConversationEventsResponse, v, seq string) error {
	move := func(b string) (string, error) {
		return hostile.EditEvent(b, func(me *tevent.MessageEvent) error {
			if kc := me.GetDetail().GetConversationKeyChangeEvent(); kc != nil && kc.GetConversationKeyVersion() == v {
				me.SequenceID = &seq
			}
			return nil
		})
	}
	if page.Meta != nil {
		for i, b := range page.Meta.ConversationKeyEvents {
			moved, err := move(b)
			if err != nil {
				return err
			}
			page.Meta.ConversationKeyEvents[i] = moved
		}
	}
	for i, d := range page.Data {
		moved, err := move(d.EncodedEvent)
		if err != nil {
			return err
		}
		page.Data[i].EncodedEvent = moved
	}
	return nil
}

// malloryTitle is the title mallory, never a member, sets.
const malloryTitle = "mallory's title before the group existed"

// attackTitleBeforeCreate: mallory, never a member, distributes a key of
// her own (wrapped to alice, bob, carol and herself) and changes the
// group's title under it; the server places both below the group's
// create, where no roster is held yet. Alice makes bob an admin. Read
// before any roster, the title change passed unchecked (only a removal
// or an admin change was refused there), bob's device showed mallory's
// title as the group's, and his member add of dave signed it for every
// member's client. A group change other than the create or a member add
// naming this account says nothing before a roster is held: it must fail
// and set nothing.
func attackTitleBeforeCreate(w *world) (string, error) {
	h := newBareHistory(w)
	h.readServer()
	h.push(h.adminAdd(h.bob.id))
	h.say(h.alice, "alice after bob's rights")
	first, kc, key, version, err := outsiderKeyBelowAll(h)
	if err != nil {
		return "", err
	}
	e := h.env()
	e.SequenceID = prevSeq(first, 3)
	title, err := h.retitle(h.mallory, e, version, key, malloryTitle)
	if err != nil {
		return "", err
	}
	h.seal()
	whole, err := pageOf(h, []*tevent.MessageEvent{kc, title}, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	o := hs.run(w.t, oneRound(whole))
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the sync: %v", o.syncErrs)
	case o.verified[title.GetMessageID()] || o.conv.Title == malloryTitle:
		return "", errorf("mallory's title change below the create (verified %v) gave the group her title (%q)", o.verified[title.GetMessageID()], o.conv.Title)
	}
	add, err := addBobSigns(w, hs, oneRound(whole), false)
	if err != nil {
		return "", err
	}
	if add.CurrentTitle != nil {
		return "", errorf("bob's member add signs a title (%q sealed) where the group has none", *add.CurrentTitle)
	}
	return fmt.Sprintf("mallory's title change below the create fails (%v); bob's add signs no title", o.failed[title.GetMessageID()]), nil
}

// attackTypingFillsGap: as dropped-event-gap, but the server serves, in
// place of alice's dropped message, a typing indicator under its sequence
// id, previous sequence id and message id (no sender signs one). A typing
// indicator is handed over and never stored, yet it took part in the
// chain: m3 named it as its predecessor, so the gap went unreported and
// nothing was stored at m2's place. A typing indicator is no part of the
// transcript: the gap must be reported.
func attackTypingFillsGap(w *world) (string, error) {
	d := newDM(w)
	drop, cid := d.mid(1), d.cid
	w.proxy.Add(hostile.Events("typing-in-place", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		for i, e := range page.Data {
			if hostile.MessageID(e.EncodedEvent) != drop {
				continue
			}
			b, err := hostile.EditEvent(e.EncodedEvent, func(me *tevent.MessageEvent) error {
				me.Detail = &tevent.MessageEventDetail{MessageTypingEvent: &tevent.MessageTypingEvent{ConversationID: &cid}}
				me.MessageEventSignature = nil
				return nil
			})
			if err != nil {
				return err
			}
			page.Data[i].EncodedEvent = b
		}
		return nil
	}))
	r := d.bob.sync(d.cid)
	a, ok := r.anomaly(event.AnomalyGap)
	if r.err != nil || !ok || a.Related != d.sent[1].SequenceID {
		return "", errorf("alice's message dropped, a typing indicator in its place: sync err %v, anomalies %v", r.err, anomalies(r))
	}
	if !slices.ContainsFunc(r.events, func(ev *event.Event) bool { return ev.MessageID == drop && ev.Kind == event.KindTyping }) {
		return "", errorf("the typing indicator was not handed over")
	}
	return "gap reported under the typing indicator, which is handed over: " + a.String(), nil
}
