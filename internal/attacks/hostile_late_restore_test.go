package attacks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/wire"

	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on the re-judging of what this account stored above a group
// change the server served late (session/latejudge.go), second round
//: the restore paths, the signed lists as read against a roster
// that still held the removed member, and the bookkeeping.

var lateRestoreAttacks = []attack{
	{"late-removal-below-noop-readd-fails-readmitted", attackLateRemovalBelowNoopReadd},
	{"late-revocation-below-noop-regrant-drops-admin", attackLateRevocationBelowNoopRegrant},
	{"stale-admin-list-restores-revoked-admin", attackStaleAdminListRestores},
	{"reply-quotes-failed-message", attackReplyQuotesFailedMessage},
	{"reply-quotes-late-failed-edit", attackReplyQuotesLateFailedEdit},
	{"late-removal-below-join-readmits-by-split", attackLateRemovalBelowJoin},
	{"late-removal-readmission-undoes-exclusion", attackReadmissionUndoesExclusion},
}

// attackLateRemovalBelowNoopReadd: alice removes mallory and adds her
// again, and mallory, a member again, speaks. The server withholds only
// the removal from bob's first sync: the re-add is read against a roster
// that still holds mallory, so it verifies as adding nobody (mallory is
// read among its current members), and her message verifies. The next
// sync serves the removal at its place. A fresh device served the whole
// transcript reads the re-add as re-admitting her and verifies her
// message; unless the walk reads the re-add's signed list as it stands
// after the removal (mallory among the new ids), the re-add restores
// nobody and mallory's honest message fails for good.
func attackLateRemovalBelowNoopReadd(w *world) (string, error) {
	h, removal, _, msg := readmittedScene(w)
	withheld, whole, err := servedLate(h, nil, removal)
	if err != nil {
		return "", err
	}
	hs, err := readmittedBeforeLate(w, h, msg, withheld, whole, "her removal")
	if err != nil {
		return "", err
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case len(o.violations) > 0:
		return "", errorf("violations: %v", o.violations)
	case !o.verified[msg.GetMessageID()]:
		return "", errorf("mallory's message, signed after her re-add, failed once her removal was served late below the re-add (%v)", o.failed[msg.GetMessageID()])
	case !slices.Contains(o.conv.Members, h.mallory.id):
		return "", errorf("mallory, re-added above her late removal, is off bob's roster %v (a fresh device holds her)", o.conv.Members)
	}
	return fmt.Sprintf("mallory's message after her re-add kept its verdict (%d members)", len(o.conv.Members)), nil
}

// attackLateRevocationBelowNoopRegrant: alice revokes mallory's admin
// rights and grants them again; bob's first sync is served everything but
// the revocation (the re-grant verifies, changing nothing), the next one
// the revocation at its place, below the re-grant. Stored, the revocation
// takes mallory's rights off bob's roster; the walk sees the re-grant above
// it and keeps what mallory did as an admin verified, but unless it puts
// her rights back on the roster, whatever she does as an admin from now
// on fails on bob's device (a fresh device holds her an admin).
func attackLateRevocationBelowNoopRegrant(w *world) (string, error) {
	h, revocation, err := revokedAdminScene(w)
	if err != nil {
		return "", err
	}
	h.push(h.adminAdd(h.mallory.id))
	regrant := h.items[len(h.items)-1].me
	h.say(h.alice, "alice after the re-grant")
	h.seal()
	withheld, whole, err := servedLate(h, nil, revocation)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	fresh := hs.run(w.t, oneRound(whole))
	if fresh.conv == nil || !slices.Contains(fresh.conv.Admins, h.mallory.id) {
		return "", errorf("setup: a fresh device served the whole transcript does not hold mallory an admin (%v)", fresh.violations)
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case len(o.violations) > 0:
		return "", errorf("violations: %v", o.violations)
	case !o.verified[regrant.GetMessageID()]:
		return "", errorf("alice's re-grant no longer verified")
	case !slices.Contains(o.conv.Admins, h.mallory.id):
		return "", errorf("mallory, given her admin rights back above their late revocation, is no admin on bob's device (admins %v)", o.conv.Admins)
	}
	return fmt.Sprintf("mallory kept her re-granted admin rights (%d admins)", len(o.conv.Admins)), nil
}

// attackStaleAdminListRestores: alice makes carol and mallory admins and
// revokes mallory's rights. The server withholds the revocation from carol
// and from bob's first sync: carol, an admin, adds dave, her signed admin
// list still naming mallory; mallory, no admin any more, then makes bob an
// admin. Bob's first sync verifies both. The next serves the revocation at
// its place. A fresh device served the whole transcript fails carol's add
// (its admin list names mallory, no admin there) and mallory's admin add
// (she is no admin). Unless the walk reads carol's add against the roster
// after the revocation, the admin list she signed before hearing of the
// revocation gives mallory her rights back in the walk: her admin add
// stays verified and bob an admin on his own roster, and dave stays on it.
// (Had mallory removed alice instead, alice's revocation served late
// would be judged against bob's roster without her, and fail, as on a
// device served the two in the other order: see the late changes in
// session's Groups documentation.)
func attackStaleAdminListRestores(w *world) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	h.push(h.adminAdd(h.carol.id))
	h.push(h.adminAdd(h.mallory.id))
	h.push(h.adminRemove(h.mallory.id))
	revocation := h.top()
	members := []string{h.alice.id, h.bob.id, h.carol.id, h.mallory.id}
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(revocation, 500)
	stale, err := h.carol.memberAdd(e, h.newestVersion(), []string{h.dv.id}, members, []string{h.alice.id, h.carol.id, h.mallory.id})
	if err != nil {
		return "", err
	}
	e = h.env()
	e.SequenceID = hostile.NextSequenceID(revocation, 700)
	ousting, err := h.adminChange(h.mallory, e, crypto.KindGroupAdminAdd, h.bob.id)
	if err != nil {
		return "", err
	}
	h.seal()
	extra := []*tevent.MessageEvent{stale, ousting}
	withheld, whole, err := servedLate(h, extra, revocation)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	first := hs.run(w.t, oneRound(withheld))
	if !first.verified[ousting.GetMessageID()] || !first.verified[stale.GetMessageID()] {
		return "", errorf("setup: carol's add or mallory's admin add not verified with the revocation withheld (%v, %v)", first.failed[stale.GetMessageID()], first.failed[ousting.GetMessageID()])
	}
	fresh := hs.run(w.t, oneRound(whole))
	if fresh.verified[ousting.GetMessageID()] || fresh.verified[stale.GetMessageID()] {
		return "", errorf("setup: a fresh device served the whole transcript verifies carol's stale add (%v) or mallory's admin add (%v)", fresh.verified[stale.GetMessageID()], fresh.verified[ousting.GetMessageID()])
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case o.verified[ousting.GetMessageID()]:
		return "", errorf("mallory's admin add, signed after her revocation, stays verified: carol's stale admin list gave her rights back")
	case o.verified[stale.GetMessageID()] || slices.Contains(o.conv.Members, h.dv.id):
		return "", errorf("carol's add naming the revoked mallory an admin stays verified (%v) or dave on bob's roster %v", o.verified[stale.GetMessageID()], o.conv.Members)
	}
	return fmt.Sprintf("carol's stale add and mallory's admin add re-judged (%d members)", len(o.conv.Members)), nil
}

// replyQuote has u reply to the message at seq of g and returns the text
// the stored reply's preview quotes (sent false: Send refused, err why).
func replyQuote(w *world, u *user, g, seq string) (quoted string, sent bool, err error) {
	r, err := u.e.Send(w.ctx, g, session.Outgoing{Text: "noted", ReplyTo: seq})
	if err != nil {
		return "", false, err
	}
	hist, err := u.e.History(w.ctx, g, "", 0)
	if err != nil {
		return "", true, err
	}
	for _, en := range hist {
		if en.MessageID == r.MessageID && en.ReplyTo != nil {
			quoted = en.ReplyTo.Text
		}
	}
	return quoted, true, nil
}

// carolForges has carol, a member, seal text under the group key as a
// message named as's (n: the envelope's number) and serves it to bob: it
// opens under his key but fails to verify (the signature is carol's).
func (gr *group) carolForges(as *user, text string, n int) (*tevent.MessageEvent, error) {
	w := gr.w
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return nil, err
	}
	if r := gr.carol.sync(gr.g); r.err != nil {
		return nil, r.err
	}
	me, err := gr.carol.forger().Message(envAfter(gr.hello.SequenceID, gr.g, 1, n), c.KeyVersion, gr.carol.convKey(gr.g, c.KeyVersion), textHolder(text))
	if err != nil {
		return nil, err
	}
	me.SenderID = strp(as.id)
	w.injectData("forged-as-"+as.id, gr.g, encodeAll(w, me)...)
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		return nil, r.err
	}
	if ev := r.eventOf(me.GetMessageID()); ev == nil || ev.Err == nil || ev.SenderID != as.id {
		return nil, errorf("setup: the message carol forged as %s's not served, or verified (%+v)", as.id, ev)
	}
	return me, nil
}

// attackReplyQuotesFailedMessage: carol, a member, seals a message under
// the group key and names alice its sender; the signature (carol's) does
// not verify for alice, so bob stores it failed, though it opens under a
// key he holds. Bob replies to it (an app lists failed events too).
// Unless the engine refuses to quote an event that did not verify, bob's
// reply quotes carol's words as alice's and embeds the forged event, sealed
// under the group's key and signed by bob.
func attackReplyQuotesFailedMessage(w *world) (string, error) {
	const forged = "alice: the meeting moved to carol's place"
	gr := newGroup(w)
	me, err := gr.carolForges(gr.alice, forged, 31)
	if err != nil {
		return "", err
	}
	quoted, sent, err := replyQuote(w, gr.bob, gr.g, me.GetSequenceID())
	switch {
	case sent && quoted == forged:
		return "", errorf("bob's reply quotes the forged message as alice's %q", quoted)
	case sent:
		return "", errorf("bob's reply to a message that did not verify was sent (quoting %q, %v)", quoted, err)
	}
	return "reply refused: " + err.Error(), nil
}

// attackReplyQuotesLateFailedEdit: carol, a member, says something; alice
// removes her; carol edits her message after the removal. The server
// withholds the removal from bob's first sync (the edit verifies and
// becomes the message's latest text) and serves it at its place in the
// next: re-judging fails the edit. Bob then replies to carol's message
// (from before her removal, still verified). Unless the reply's preview
// takes only a verified edit as the latest text, bob's reply quotes (and
// embeds) what carol wrote after her removal as her message.
func attackReplyQuotesLateFailedEdit(w *world) (string, error) {
	const rewrite = "carol after her removal: send the keys to me"
	gr := newGroup(w)
	said := gr.carol.send(gr.g, "carol, a member")[0]
	c, err := gr.carol.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	removal, err := gr.alice.removal(envAfter(said.SequenceID, gr.g, 1, 32), gr.carol.id)
	if err != nil {
		return "", err
	}
	edit, err := editEvent(gr.carol.forger(), envAfter(said.SequenceID, gr.g, 2, 33), c.KeyVersion, gr.carol.convKey(gr.g, c.KeyVersion), said.SequenceID, rewrite)
	if err != nil {
		return "", err
	}
	w.injectData("edit-without-removal", gr.g, encodeAll(w, edit)...)
	if r := gr.bob.sync(gr.g); r.err != nil || r.eventOf(edit.GetMessageID()) == nil || r.eventOf(edit.GetMessageID()).Err != nil {
		return "", errorf("setup: carol's edit not verified with her removal withheld (%v)", r.err)
	}
	w.proxy.Reset()
	w.injectData("removal-late", gr.g, encodeAll(w, edit, removal)...)
	r := gr.bob.sync(gr.g)
	if r.err != nil && !errors.Is(r.err, xchat.ErrServerResponse) {
		return "", r.err
	}
	hist, err := gr.bob.e.History(w.ctx, gr.g, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range hist {
		if en.MessageID == edit.GetMessageID() && en.Verified {
			return "", errorf("setup: carol's edit after her removal still verified once the removal was served")
		}
	}
	quoted, err := quoteInPost(w, gr.bob, gr.g, said.SequenceID)
	switch {
	case err != nil:
		return "", errorf("bob's reply to carol's verified message: %v", err)
	case quoted == rewrite:
		return "", errorf("bob's reply quotes carol's edit made after her removal %q", quoted)
	case quoted != "carol, a member":
		return "", errorf("bob's reply quotes %q, not carol's message", quoted)
	}
	return fmt.Sprintf("bob's reply quotes carol's message as she signed it (%q)", quoted), nil
}

// quoteInPost has u reply to the message at seq of g through a server
// that takes u's key rotation without passing it on (the emulator reads no
// group changes, so it would refuse a rotation leaving out a member it
// still counts) and swallows the message post (answering 503): it returns
// what the reply u sealed and posted quotes, opened with u's keys.
func quoteInPost(w *world, u *user, g, seq string) (string, error) {
	w.proxy.Add(hostile.Rule{Name: "take-rotation", Method: http.MethodPost, Path: hostile.PathKeys, Token: u.token,
		Request: func(r *http.Request) { r.URL.Path = "/2/swallowed" },
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			resp.Status = http.StatusOK
			resp.Body = fmt.Appendf(nil, `{"data":{"conversation_id":%q,"sequence_id":%q}}`, g, hostile.NextSequenceID(seq, 900))
			return nil
		}})
	var posted []byte
	w.proxy.Add(hostile.Rule{Name: "swallow-reply", Method: http.MethodPost, Path: hostile.PathMessages, Token: u.token,
		Request: func(r *http.Request) {
			posted, _ = io.ReadAll(r.Body)
			r.Body, r.URL.Path = io.NopCloser(bytes.NewReader(posted)), "/2/swallowed"
		},
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			resp.Status, resp.Body = http.StatusServiceUnavailable, []byte(`{"title":"Service Unavailable"}`)
			return nil
		}})
	if _, err := u.e.Send(w.ctx, g, session.Outgoing{Text: "noted", ReplyTo: seq}); !errors.Is(err, xchat.ErrQueued) {
		return "", fmt.Errorf("reply through the swallowing server: %w, want ErrQueued", err)
	}
	var req api.SendChatMessageRequest
	if err := json.Unmarshal(posted, &req); err != nil {
		return "", fmt.Errorf("the posted reply: %w", err)
	}
	raw, err := wire.DecodeB64(req.EncodedMessageCreateEvent)
	if err != nil {
		return "", err
	}
	mce, err := wire.DecodeMessageCreateEvent(raw)
	if err != nil {
		return "", err
	}
	plain, err := crypto.Open(u.convKey(g, mce.GetConversationKeyVersion()), mce.Contents)
	if err != nil {
		return "", err
	}
	h, err := wire.DecodeMessageEntryHolder(plain)
	if err != nil {
		return "", err
	}
	return h.GetContents().GetMessage().GetReplyingToPreview().GetMessageText(), nil
}

// attackLateRemovalBelowJoin: alice's group has carol and mallory; alice
// adds bob, whose roster starts from that add (he cannot bind the group's
// create: he joined later), and then removes mallory. The server moves
// the add's unsigned split so that every member it names is "new", serves
// bob the add and mallory's message after her removal without the
// removal, then the removal under a sequence id below the add.
// Re-judging reads the adds above a late removal against
// the roster it leaves; unless it leaves out the add that started bob's
// roster (its split is the server's), that add "re-admits" mallory: her
// message stays verified and she is put back on bob's roster, where keys
// are wrapped to her, though she was removed after it (and a fresh device
// served the removal below the add starts no roster from it).
func attackLateRemovalBelowJoin(w *world) (string, error) {
	alice, carol, mallory := w.newUser("alice", false), w.newUser("carol", false), w.newUser("mallory", false)
	bob := w.newUser("bob", true)
	g, err := alice.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{carol.id, mallory.id}})
	if err != nil {
		return "", err
	}
	before := alice.send(g, "before bob")[0]
	if err := alice.e.AddMembers(w.ctx, g, bob.id); err != nil {
		return "", err
	}
	if r := mallory.sync(g); r.err != nil {
		return "", r.err
	}
	after := mallory.send(g, "mallory, after her removal")[0]
	w.proxy.Add(hostile.Events("whole-split-new", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		return hostile.EditData(page, func(me *tevent.MessageEvent) error {
			if a := groupChangeOf(me).GroupMemberAdd; a != nil && slices.Contains(a.MemberIds, bob.id) {
				a.MemberIds, a.CurrentMemberIds = slices.Concat(a.MemberIds, a.CurrentMemberIds), []string{}
			}
			return nil
		})
	}))
	r := bob.sync(g)
	if r.err != nil {
		return "", r.err
	}
	c, err := bob.e.Conversation(w.ctx, g)
	if err != nil || c.RosterSince == "" || !slices.Contains(c.Members, mallory.id) {
		return "", errorf("setup: bob's roster does not start from his add with mallory on it (%v, %+v)", err, c)
	}
	removal, err := alice.removal(envAfter(before.SequenceID, g, 1, 34), mallory.id)
	if err != nil {
		return "", err
	}
	w.injectData("removal-below-join", g, encodeAll(w, removal)...)
	r = bob.sync(g)
	if r.err != nil && !errors.Is(r.err, xchat.ErrServerResponse) {
		return "", r.err
	}
	if ev := r.eventOf(removal.GetMessageID()); ev == nil || ev.Err != nil {
		return "", errorf("setup: alice's removal of mallory below bob's add not taken (%+v)", ev)
	}
	if c, err = bob.e.Conversation(w.ctx, g); err != nil {
		return "", err
	}
	if slices.Contains(c.Members, mallory.id) || slices.Contains(c.UnconfirmedMembers, mallory.id) {
		return "", errorf("mallory, removed by alice, is back on bob's roster %v (unconfirmed %v)", c.Members, c.UnconfirmedMembers)
	}
	hist, err := bob.e.History(w.ctx, g, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range hist {
		if en.MessageID == after.MessageID && en.Verified {
			return "", errorf("mallory's message, signed after her removal, stays verified: the add's unsigned split re-admitted her")
		}
	}
	return fmt.Sprintf("mallory stays off bob's roster (%d members)", len(c.Members)), nil
}

// attackReadmissionUndoesExclusion: alice removes mallory and adds her
// again; carol, an admin who heard of the removal but not of the re-add,
// then adds dave, her signed lists naming alice, bob and herself as the
// members: in her signed view mallory is no member. The server withholds
// the removal from bob's first sync: the re-add reads as adding nobody,
// and carol's add, read against a roster still holding mallory, does not
// fit and excludes her (whom an admin's signed lists leave out is no
// member: when in doubt, exclude). The next sync serves the removal at
// its place. Re-judging sees the re-add re-admit mallory; unless what a
// failed add excluded above it stays excluded, mallory is put back on bob's
// roster, where keys are wrapped to her — a fresh device served the whole
// transcript excludes her at carol's add.
func attackReadmissionUndoesExclusion(w *world) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	h.push(h.adminAdd(h.carol.id))
	h.push(h.alice.removal(h.env(), h.mallory.id))
	removal := h.top()
	members := []string{h.alice.id, h.bob.id, h.carol.id}
	h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.mallory.id}, members, []string{h.alice.id, h.carol.id}))
	readd := h.items[len(h.items)-1].me
	e := h.env()
	excluding, err := h.carol.memberAdd(e, h.newestVersion(), []string{h.dv.id}, members, []string{h.alice.id, h.carol.id})
	if err != nil {
		return "", err
	}
	h.seal()
	withheld, whole, err := servedLate(h, []*tevent.MessageEvent{excluding}, removal)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	first := hs.run(w.t, oneRound(withheld))
	if first.conv == nil || slices.Contains(first.conv.Members, h.mallory.id) || !first.verified[readd.GetMessageID()] {
		return "", errorf("setup: with the removal withheld, the re-add does not verify or carol's add does not exclude mallory (%v)", first.conv)
	}
	fresh := hs.run(w.t, oneRound(whole))
	if fresh.conv == nil || slices.Contains(fresh.conv.Members, h.mallory.id) {
		return "", errorf("setup: a fresh device served the whole transcript keeps mallory (%v)", fresh.conv)
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case slices.Contains(o.conv.Members, h.mallory.id):
		return "", errorf("mallory, excluded by carol's add, is back on bob's roster %v once her removal was served late", o.conv.Members)
	}
	return fmt.Sprintf("mallory stays excluded (%d members)", len(o.conv.Members)), nil
}
