package attacks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// rosterAttacks are the hostile-server attacks on group state: who is a
// member, who is an admin, and whom a group key is wrapped to (issue #11).
var rosterAttacks = []attack{
	{"key-change-participants-grant-membership", attackParticipantsGrant},
	{"removed-member-regranted-by-old-key-change", attackRemovedRegranted},
	{"group-create-replayed-into-another-group", attackCreateReplayed},
	{"group-create-admin-list-emptied", attackAdminListEmptied},
	{"member-add-lists-resplit", attackMemberAddResplit},
	{"roster-from-server-listing-when-changes-withheld", attackRosterFromListing},
	{"roster-from-key-change-participants", attackRosterFromParticipants},
	// Attacks of our own, in classes the issue did not list.
	{"member-add-by-non-admin-member", attackAddByNonAdmin},
	{"member-add-by-claimed-admin-under-strict", attackAddByClaimedAdminStrict},
	{"own-create-admin-list-tampered", attackOwnCreateTampered},
	{"group-create-replayed-before-first-sync", attackCreateReplayedFirstSync},
	{"removed-member-backdated-message", attackRemovedBackdated},
	{"removed-member-rotates-key", attackRemovedRotates},
	{"removal-on-older-page", attackRemovalOlderPage},
	{"stale-member-add-readmits-removed", attackStaleAddReadmits},
	{"removal-withheld-later-add-excludes", attackRemovalWithheld},
	{"late-joiner-fed-fake-roster-strict", attackLateJoinerFakeRoster},
	{"member-add-replayed-to-exclude", attackAddReplayedToExclude},
	{"outsider-key-change-while-roster-unknown", attackOutsiderKeyRosterUnknown},
}

// groupChangeOf returns the group change an envelope carries (empty when
// it carries none, so that its getters return nil).
func groupChangeOf(me *event.MessageEvent) *event.GroupChange {
	if d := me.GetDetail(); d != nil && d.GroupChangeEvent != nil && d.GroupChangeEvent.GroupChange != nil {
		return d.GroupChangeEvent.GroupChange
	}
	return &event.GroupChange{}
}

// keyChangeVersion returns the key version of a key change envelope, or "".
func keyChangeVersion(me *event.MessageEvent) string {
	if d := me.GetDetail(); d != nil && d.ConversationKeyChangeEvent != nil {
		return d.ConversationKeyChangeEvent.GetConversationKeyVersion()
	}
	return ""
}

// wrapWatch records the conversation key versions a victim's requests
// disclose to an outsider (wrapped to the outsider's identity key).
type wrapWatch struct {
	mu     sync.Mutex
	leaked []string
}

// watchWraps installs a capture of every POST through the hostile proxy
// that carries conversation_participant_keys (key changes, group creates,
// member adds) and records the versions outsider can unwrap.
func (w *world) watchWraps(outsider *user) *wrapWatch {
	ww := &wrapWatch{}
	priv := outsider.keys().Identity
	w.proxy.Add(hostile.Capture("wraps-"+outsider.id, http.MethodPost, `/2/chat/conversations(?:/[^/]+)*`, func(_ *http.Request, b []byte) {
		var req struct {
			Version string                           `json:"conversation_key_version"`
			Keys    []api.ConversationParticipantKey `json:"conversation_participant_keys"`
		}
		if json.Unmarshal(b, &req) != nil {
			return
		}
		for _, pk := range req.Keys {
			ct, err := wire.DecodeB64(pk.EncryptedConversationKey)
			if err != nil {
				continue
			}
			if k, err := crypto.UnwrapConversationKey(priv, ct); err == nil {
				k.Zero()
				ww.mu.Lock()
				ww.leaked = append(ww.leaked, req.Version)
				ww.mu.Unlock()
			}
		}
	}))
	return ww
}

// leaks returns the versions disclosed so far.
func (ww *wrapWatch) leaks() []string {
	ww.mu.Lock()
	defer ww.mu.Unlock()
	return slices.Clone(ww.leaked)
}

// watchSends records the texts of the victim's message posts that key
// opens (a message encrypted to a key the attacker holds).
func (w *world) watchSends(key *crypto.ConversationKey) *wrapWatch {
	ww := &wrapWatch{}
	w.proxy.Add(hostile.Capture("sends", http.MethodPost, hostile.PathMessages, func(_ *http.Request, b []byte) {
		var req api.SendChatMessageRequest
		if json.Unmarshal(b, &req) != nil {
			return
		}
		raw, err := wire.DecodeB64(req.EncodedMessageCreateEvent)
		if err != nil {
			return
		}
		mce, err := wire.DecodeMessageCreateEvent(raw)
		if err != nil {
			return
		}
		if pt, err := crypto.Open(key, mce.Contents); err == nil {
			ww.mu.Lock()
			ww.leaked = append(ww.leaked, mce.GetConversationKeyVersion()+": "+fmt.Sprint(len(pt))+" bytes")
			ww.mu.Unlock()
		}
	}))
	return ww
}

// rotateLeaks makes victim rotate the group key and reports an error when
// the rotation disclosed a key to outsider. It returns the rotation's own
// error (a refusal is the expected outcome of several attacks).
func rotateLeaks(w *world, victim *user, g string, ww *wrapWatch, why string) (error, error) {
	_, rerr := victim.e.Rotate(w.ctx, g)
	if l := ww.leaks(); len(l) > 0 {
		c, err := victim.e.Conversation(w.ctx, g)
		if err != nil {
			return nil, err
		}
		var members []string
		if c != nil {
			members = c.Members
		}
		return rerr, errorf("%s: the victim's rotation wrapped group key version(s) %v to the outsider (roster %v, rotate: %v)", why, l, members, rerr)
	}
	return rerr, nil
}

// noLeakOnRotate is rotateLeaks for attacks in which refusing to rotate and
// rotating without the leak are both a defence: the rotation's own outcome
// is deliberately not checked, only the leak.
func noLeakOnRotate(w *world, victim *user, g string, ww *wrapWatch, why string) error {
	_, leak := rotateLeaks(w, victim, g, ww, why) // Rotate's own error: deliberately unchecked
	return leak
}

// newestSeq returns the newest sequence id the honest server holds for the
// conversation (data and key changes), as u sees it.
func (w *world) newestSeq(u *user, path string) string {
	w.t.Helper()
	newest := ""
	for _, me := range append(w.serverEvents(u, path), w.serverKeyChanges(u, path)...) {
		if s := me.GetSequenceID(); newest == "" || decimal.Less(newest, s) {
			newest = s
		}
	}
	return newest
}

// groupAction signs and returns a group change event by u.
func (u *user) groupAction(env hostile.Envelope, gc *event.GroupChange, p crypto.Payload, err error) (*event.MessageEvent, error) {
	if err != nil {
		return nil, err
	}
	no := false
	return u.forger().Action(env, &event.MessageEventDetail{GroupChangeEvent: &event.GroupChangeEvent{GroupChange: gc, ForKeyRotation: &no}}, p)
}

// removal returns a GroupMemberRemoveChange of ids signed by u.
func (u *user) removal(env hostile.Envelope, ids ...string) (*event.MessageEvent, error) {
	p, err := crypto.GroupIDListPayload(crypto.SignatureVersion,
		crypto.Header{MessageID: env.MessageID, SenderID: u.id, ConversationID: env.ConversationID}, crypto.KindGroupMemberRemove, ids)
	return u.groupAction(env, &event.GroupChange{GroupMemberRemove: &event.GroupMemberRemoveChange{MemberIds: ids}}, p, err)
}

// memberAdd returns a GroupMemberAddChange signed by u with the given lists
// (as the flattened signature covers them).
func (u *user) memberAdd(env hostile.Envelope, version string, added, current, admins []string) (*event.MessageEvent, error) {
	ma := crypto.GroupMemberAdd{NewMemberIDs: added, CurrentMemberIDs: current, CurrentAdminIDs: admins, ConversationKeyVersion: version}
	p, err := crypto.GroupMemberAddPayload(crypto.SignatureVersion,
		crypto.Header{MessageID: env.MessageID, SenderID: u.id, ConversationID: env.ConversationID}, ma)
	return u.groupAction(env, &event.GroupChange{GroupMemberAdd: &event.GroupMemberAddChange{MemberIds: added,
		CurrentMemberIds: current, CurrentAdminIds: admins, ConversationKeyVersion: &version, CurrentPendingMemberIds: []string{}}}, p, err)
}

// text returns a message holder with one text.
func text(s string) *product.MessageEntryHolder {
	return &product.MessageEntryHolder{Contents: &product.MessageEntryContents{Message: &product.MessageContents{MessageText: &s}}}
}

// encodeAll encodes events for injectData (newest first, as served).
func encodeAll(w *world, evs ...*event.MessageEvent) []string {
	w.t.Helper()
	out := make([]string, 0, len(evs))
	for _, me := range evs {
		b, err := hostile.EncodeEvent(me)
		if err != nil {
			w.t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// eventErr returns the error the sync reported for the event with message
// id mid, or an error saying why that is not a rejection of the expected
// kind.
func eventErr(r *syncResult, mid string, targets ...error) (error, error) {
	if r.err != nil {
		return nil, errorf("sync failed: %w", r.err)
	}
	ev, seen := r.byMessage(mid)
	if !seen {
		return nil, errorf("event %s not reported", mid)
	}
	for _, t := range targets {
		if errors.Is(ev, t) {
			return ev, nil
		}
	}
	return nil, errorf("event %s: error %v, want one of %v", mid, ev, targets)
}

// attackParticipantsGrant (issue #11, item 2): a v6+ key change does not
// sign its participant list. The server appends an outsider to alice's
// honest rotation; the outsider's own key change (signed with her own
// registered key) must still be refused: it must not become the group key
// the victim encrypts to.
func attackParticipantsGrant(w *world) (string, error) {
	gr := newGroup(w)
	mallory := w.newUser("mallory", false)
	v2, err := gr.alice.e.Rotate(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	after := gr.alice.send(gr.g, "under the new key")[0]
	var rotation string
	for _, me := range w.serverKeyChanges(gr.alice, gr.g) {
		if keyChangeVersion(me) == v2 {
			rotation = me.GetMessageID()
		}
	}
	if rotation == "" {
		return "", errorf("alice's rotation %s not served", v2)
	}
	if err := w.padKeyChanges(mallory, rotation); err != nil {
		return "", err
	}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	forgedVersion := futureVersion()
	forged, err := mallory.forger().KeyChange(hostile.Envelope{SequenceID: hostile.NextSequenceID(w.newestSeq(gr.alice, gr.g), 1),
		PreviousSequenceID: after.SequenceID, MessageID: forgedMID(1), ConversationID: gr.g},
		forgedVersion, key, []hostile.Recipient{gr.alice.recipient(), gr.bob.recipient(), gr.carol.recipient(), mallory.recipient()})
	if err != nil {
		return "", err
	}
	w.injectKeyChange("outsider-key-change", gr.g, forged, false)
	ww := w.watchWraps(mallory)
	sends := w.watchSends(key)
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		return "", r.err
	}
	_, serr := gr.bob.e.SendText(w.ctx, gr.g, "bob after the attack")
	if l := sends.leaks(); len(l) > 0 {
		return "", errorf("the outsider's key change was adopted: bob's next message was encrypted under her key (%v; send: %v)", l, serr)
	}
	if serr != nil {
		return "", errorf("bob's send after the attack: %w", serr)
	}
	if err := noLeakOnRotate(w, gr.bob, gr.g, ww, "outsider granted membership by an unsigned participant list"); err != nil {
		return "", err
	}
	ev, err := eventErr(r, forged.GetMessageID(), xchat.ErrNotMember)
	if err != nil {
		return "", err
	}
	return "outsider's key change rejected: " + ev.Error(), nil
}

// attackRemovedRegranted (item 3): alice removes carol; carol, colluding
// with the server, keeps writing under the key she still holds, and the
// pre-removal key change (which wraps the key to her) is still served for
// that version. Her messages must not verify.
func attackRemovedRegranted(w *world) (string, error) {
	gr := newGroup(w)
	if r := gr.carol.sync(gr.g); r.err != nil {
		return "", r.err
	}
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	top := w.newestSeq(gr.alice, gr.g)
	s1, s2 := hostile.NextSequenceID(top, 1), hostile.NextSequenceID(top, 2)
	rm, err := gr.alice.removal(hostile.Envelope{SequenceID: s1, PreviousSequenceID: gr.hello.SequenceID, MessageID: forgedMID(2), ConversationID: gr.g}, gr.carol.id)
	if err != nil {
		return "", err
	}
	said := "carol, removed, still writing"
	msg, err := gr.carol.forger().Message(hostile.Envelope{SequenceID: s2, PreviousSequenceID: s1, MessageID: forgedMID(3), ConversationID: gr.g},
		c.KeyVersion, gr.carol.convKey(gr.g, c.KeyVersion), text(said))
	if err != nil {
		return "", err
	}
	w.injectData("remove-then-speak", gr.g, encodeAll(w, msg, rm)...)
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		return "", r.err
	}
	if err := gr.bob.forgedShown(gr.g, []string{msg.GetMessageID()}, []string{said}); err != nil {
		return "", errorf("removed member re-admitted: %w", err)
	}
	after, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	if slices.Contains(after.Members, gr.carol.id) {
		return "", errorf("removal not applied: roster %v", after.Members)
	}
	ev, err := eventErr(r, msg.GetMessageID(), xchat.ErrNotMember)
	if err != nil {
		return "", err
	}
	return "removed member's message rejected: " + ev.Error(), nil
}

// attackCreateReplayed (item 4): the GroupCreate signature does not cover
// the conversation id. The server copies alice's create of g1 (which names
// mallory) into g2. Bob's g2 roster must not change, and his next rotation
// of g2 must not wrap the key to mallory.
func attackCreateReplayed(w *world) (string, error) {
	alice := w.newUser("alice", false)
	bob := w.newUser("bob", true)
	carol := w.newUser("carol", false)
	mallory := w.newUser("mallory", false)
	g1, err := alice.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{bob.id, mallory.id}})
	if err != nil {
		return "", err
	}
	g2, err := alice.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{bob.id, carol.id}})
	if err != nil {
		return "", err
	}
	hello := alice.send(g2, "hello g2")[0]
	for _, g := range []string{g1, g2} {
		if r := bob.sync(g); r.err != nil {
			return "", r.err
		}
	}
	var create *event.MessageEvent
	for _, me := range w.serverEvents(alice, g1) {
		if groupChangeOf(me).GetGroupCreate() != nil {
			create = me
		}
	}
	if create == nil {
		return "", errorf("g1's create not served")
	}
	create.ConversationID = strp(g2)
	create.SequenceID = strp(hostile.NextSequenceID(w.newestSeq(alice, g2), 1))
	create.PreviousSequenceID = strp(hello.SequenceID)
	w.injectData("replay-create", g2, encodeAll(w, create)...)
	ww := w.watchWraps(mallory)
	r := bob.sync(g2)
	if r.err != nil {
		return "", r.err
	}
	if err := noLeakOnRotate(w, bob, g2, ww, "g1's create replayed into g2"); err != nil {
		return "", err
	}
	c, err := bob.e.Conversation(w.ctx, g2)
	if err != nil {
		return "", err
	}
	if slices.Contains(c.Members, mallory.id) || !slices.Contains(c.Members, carol.id) {
		return "", errorf("g2's roster replaced by g1's create: %v", c.Members)
	}
	ev, seen := r.byMessage(create.GetMessageID())
	if !seen || ev == nil {
		return "", errorf("replayed create not reported (seen %v)", seen)
	}
	return "replayed create rejected: " + ev.Error(), nil
}

// attackAdminListEmptied (item 5): the admin list of a GroupCreate is not
// signed. The server empties it in bob's copy; carol, a member but not an
// admin, then removes alice, the creator. The removal must not be applied.
func attackAdminListEmptied(w *world) (string, error) {
	gr, err := groupScene(w, groupSetup{})
	if err != nil {
		return "", err
	}
	alice, bob, carol, g, hello := gr.alice, gr.bob, gr.carol, gr.g, gr.hello
	w.rewriteCreateAdmins("empty-admins", func([]string) []string { return nil })
	rm, err := carol.removal(hostile.Envelope{SequenceID: hostile.NextSequenceID(w.newestSeq(alice, g), 1), PreviousSequenceID: hello.SequenceID,
		MessageID: forgedMID(4), ConversationID: g}, alice.id)
	if err != nil {
		return "", err
	}
	w.injectData("non-admin-removal", g, encodeAll(w, rm)...)
	r := bob.sync(g)
	if r.err != nil {
		return "", r.err
	}
	c, err := bob.e.Conversation(w.ctx, g)
	if err != nil {
		return "", err
	}
	if !slices.Contains(c.Members, alice.id) {
		return "", errorf("a non-admin's removal of the creator was applied: roster %v, admins %v", c.Members, c.Admins)
	}
	ev, err := eventErr(r, rm.GetMessageID(), xchat.ErrNotAuthorized)
	if err != nil {
		return "", err
	}
	return "non-admin's removal rejected: " + ev.Error(), nil
}

// attackMemberAddResplit (item 6): a member add signs its new, current and
// admin ids as one flattened list. The server re-splits alice's honest add
// of dave, [dave | alice bob carol | alice], as [dave alice bob | | carol
// alice], which makes carol an admin; carol then removes alice.
func attackMemberAddResplit(w *world) (string, error) {
	gr := newGroup(w)
	dave := w.newUser("dave", false)
	w.proxy.Add(hostile.Events("resplit", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		return hostile.EditData(page, func(me *event.MessageEvent) error {
			ma := groupChangeOf(me).GetGroupMemberAdd()
			if ma == nil {
				return nil
			}
			all := slices.Concat(ma.MemberIds, ma.CurrentMemberIds, ma.CurrentAdminIds)
			if len(all) < 2 {
				return nil
			}
			ma.MemberIds, ma.CurrentMemberIds, ma.CurrentAdminIds = all[:len(all)-2], []string{}, all[len(all)-2:]
			return nil
		})
	}))
	if err := gr.alice.e.AddMembers(w.ctx, gr.g, dave.id); err != nil {
		return "", err
	}
	var add string
	for _, me := range w.serverEvents(gr.alice, gr.g) {
		if groupChangeOf(me).GetGroupMemberAdd() != nil {
			add = me.GetSequenceID()
		}
	}
	rm, err := gr.carol.removal(hostile.Envelope{SequenceID: hostile.NextSequenceID(w.newestSeq(gr.alice, gr.g), 1), PreviousSequenceID: add,
		MessageID: forgedMID(5), ConversationID: gr.g}, gr.alice.id)
	if err != nil {
		return "", err
	}
	w.injectData("removal-by-resplit-admin", gr.g, encodeAll(w, rm)...)
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		return "", r.err
	}
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	if slices.Contains(c.Admins, gr.carol.id) || !slices.Contains(c.Members, gr.alice.id) {
		return "", errorf("re-split member add made carol an admin: admins %v, members %v", c.Admins, c.Members)
	}
	if !slices.Contains(c.Members, dave.id) {
		return "", errorf("alice's honest add of dave was lost: members %v", c.Members)
	}
	ev, err := eventErr(r, rm.GetMessageID(), xchat.ErrNotAuthorized)
	if err != nil {
		return "", err
	}
	return "re-split lists read against the roster; carol's removal rejected: " + ev.Error(), nil
}

// withholdGroupChanges makes the proxy drop every group change of the data
// it serves.
func (w *world) withholdGroupChanges() {
	w.proxy.Add(hostile.Events("withhold-group-changes", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		page.Data = slices.DeleteFunc(page.Data, func(e api.ChatMessageEvent) bool {
			me, err := hostile.DecodeEvent(e.EncodedEvent)
			return err == nil && me.GetDetail() != nil && me.GetDetail().GroupChangeEvent != nil
		})
		return nil
	}))
}

// attackRosterFromListing (item 7): with every group change withheld, the
// server's conversation listing names mallory as a member. A rotation must
// not wrap the key to her (nor to anyone the engine cannot vouch for).
func attackRosterFromListing(w *world) (string, error) {
	gr, err := groupScene(w, groupSetup{mallory: true})
	if err != nil {
		return "", err
	}
	bob, mallory, g := gr.bob, gr.mallory, gr.g
	w.withholdGroupChanges()
	w.claimMember(g, mallory.id)
	ww := w.watchWraps(mallory)
	if _, err := bob.e.RefreshConversations(w.ctx); err != nil {
		return "", err
	}
	if r := bob.sync(g); r.err != nil {
		return "", r.err
	}
	rerr, err := rotateLeaks(w, bob, g, ww, "roster taken from the server's listing")
	if err != nil {
		return "", err
	}
	if rerr == nil {
		return "", errorf("rotation wrapped a key to a roster no signed group change established")
	}
	return "rotation refused: " + rerr.Error(), nil
}

// attackRosterFromParticipants (item 7): with every group change withheld
// and no listing, the key change's (unsigned) participant list names
// mallory. A rotation must not wrap the key to her.
func attackRosterFromParticipants(w *world) (string, error) {
	gr, err := groupScene(w, groupSetup{mallory: true})
	if err != nil {
		return "", err
	}
	bob, mallory, g := gr.bob, gr.mallory, gr.g
	w.withholdGroupChanges()
	if err := w.padKeyChanges(mallory, ""); err != nil {
		return "", err
	}
	ww := w.watchWraps(mallory)
	if r := bob.sync(g); r.err != nil {
		return "", r.err
	}
	rerr, err := rotateLeaks(w, bob, g, ww, "roster taken from a key change's participants")
	if err != nil {
		return "", err
	}
	if rerr == nil {
		return "", errorf("rotation wrapped a key to a roster no signed group change established")
	}
	return "rotation refused: " + rerr.Error(), nil
}

// top returns the k-th sequence id above everything the honest server
// holds for g (forged events are placed there).
func (gr *group) top(k uint64) string {
	return hostile.NextSequenceID(gr.w.newestSeq(gr.alice, gr.g), k)
}

// env returns the envelope of a forged event of the group.
func (gr *group) env(seq, prev string, n int) hostile.Envelope {
	return hostile.Envelope{SequenceID: seq, PreviousSequenceID: prev, MessageID: forgedMID(n), ConversationID: gr.g}
}

// attackAddByNonAdmin: carol, a member but no admin, signs a member add of
// mallory. Only admins add members (the X backend answers
// REQUESTER_NOT_ADMIN); the add must not make the victim wrap keys to
// mallory.
func attackAddByNonAdmin(w *world) (string, error) {
	gr := newGroup(w)
	mallory := w.newUser("mallory", false)
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	add, err := gr.carol.memberAdd(gr.env(gr.top(1), gr.hello.SequenceID, 10), c.KeyVersion,
		[]string{mallory.id}, c.Members, []string{gr.alice.id})
	if err != nil {
		return "", err
	}
	w.injectData("non-admin-add", gr.g, encodeAll(w, add)...)
	ww := w.watchWraps(mallory)
	r := gr.bob.sync(gr.g)
	if err := noLeakOnRotate(w, gr.bob, gr.g, ww, "a non-admin's member add applied"); err != nil {
		return "", err
	}
	ev, err := eventErr(r, add.GetMessageID(), xchat.ErrNotAuthorized)
	if err != nil {
		return "", err
	}
	return "non-admin's add rejected: " + ev.Error(), nil
}

// attackAddByClaimedAdminStrict: the server adds carol to the (unsigned)
// admin list of the group's create; carol, colluding, adds mallory. Under
// trust on first use the add is applied and shown unconfirmed; under
// TrustStrict (every peer verified, mallory included) no key may be
// wrapped to her.
func attackAddByClaimedAdminStrict(w *world) (string, error) {
	gr, err := groupScene(w, groupSetup{mallory: true, bobOpts: []session.Option{session.WithTrustPolicy(session.TrustStrict)}})
	if err != nil {
		return "", err
	}
	alice, bob, carol, mallory, g, hello := gr.alice, gr.bob, gr.carol, gr.mallory, gr.g, gr.hello
	w.claimCreateAdmin(carol.id)
	version := w.serverKeyChanges(alice, g)[0].GetDetail().GetConversationKeyChangeEvent().GetConversationKeyVersion()
	admins := []string{alice.id, carol.id}
	add, err := carol.memberAdd(hostile.Envelope{SequenceID: hostile.NextSequenceID(w.newestSeq(alice, g), 1), PreviousSequenceID: hello.SequenceID,
		MessageID: forgedMID(11), ConversationID: g}, version, []string{mallory.id}, []string{alice.id, bob.id, carol.id}, admins)
	if err != nil {
		return "", err
	}
	w.injectData("claimed-admin-add", g, encodeAll(w, add)...)
	for _, u := range []*user{alice, carol, mallory} {
		if err := verifyPeer(bob, u.id); err != nil {
			return "", err
		}
	}
	ww := w.watchWraps(mallory)
	if r := bob.sync(g); r.err != nil {
		return "", r.err
	}
	rerr, err := rotateLeaks(w, bob, g, ww, "a claimed admin's add trusted under strict")
	if err != nil {
		return "", err
	}
	if !errors.Is(rerr, errRosterUnconfirmed) {
		return "", errorf("strict rotation: %v, want the unconfirmed roster refused", rerr)
	}
	c, err := bob.e.Conversation(w.ctx, g)
	if err != nil {
		return "", err
	}
	if state, _, unconfirmed := rosterView(c); state != "unconfirmed" || !slices.Equal(unconfirmed, []string{mallory.id}) {
		return "", errorf("roster %s, unconfirmed %v: the claimed admin's add is not shown unconfirmed", state, unconfirmed)
	}
	return "applied as unconfirmed; strict rotation refused: " + rerr.Error(), nil
}

// attackOwnCreateTampered: the server adds carol to the admin list of the
// victim's own create when serving it back; carol then removes bob. The
// creator knows whom it made admin.
func attackOwnCreateTampered(w *world) (string, error) {
	gr, err := groupScene(w, groupSetup{aliceVictim: true})
	if err != nil {
		return "", err
	}
	alice, bob, carol, g, hello := gr.alice, gr.bob, gr.carol, gr.g, gr.hello
	w.claimCreateAdmin(carol.id)
	rm, err := carol.removal(hostile.Envelope{SequenceID: hostile.NextSequenceID(w.newestSeq(alice, g), 1), PreviousSequenceID: hello.SequenceID,
		MessageID: forgedMID(12), ConversationID: g}, bob.id)
	if err != nil {
		return "", err
	}
	w.injectData("removal", g, encodeAll(w, rm)...)
	r := alice.sync(g)
	c, err := alice.e.Conversation(w.ctx, g)
	if err != nil {
		return "", err
	}
	if slices.Contains(c.Admins, carol.id) || !slices.Contains(c.Members, bob.id) {
		return "", errorf("the creator's roster follows the tampered admin list: admins %v, members %v", c.Admins, c.Members)
	}
	ev, err := eventErr(r, rm.GetMessageID(), xchat.ErrNotAuthorized)
	if err != nil {
		return "", err
	}
	return "creator kept its own admin list; removal rejected: " + ev.Error(), nil
}

// attackCreateReplayedFirstSync: before the victim's first sync of g2, the
// server withholds g2's create and serves alice's create of g1 (naming
// mallory) in its place. Without the key change that binds it to g2 the
// roster stays unknown and no key is wrapped.
func attackCreateReplayedFirstSync(w *world) (string, error) {
	alice := w.newUser("alice", false)
	bob := w.newUser("bob", true)
	carol := w.newUser("carol", false)
	mallory := w.newUser("mallory", false)
	g1, err := alice.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{bob.id, mallory.id}})
	if err != nil {
		return "", err
	}
	v1 := w.serverKeyChanges(alice, g1)[0].GetDetail().GetConversationKeyChangeEvent().GetConversationKeyVersion()
	var g2 string
	for g2 == "" {
		g, err := alice.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{bob.id, carol.id}})
		if err != nil {
			return "", err
		}
		// Two groups created in the same millisecond share a key version
		// (the residual risk SECURITY.md states); this attack is about
		// groups that do not.
		if w.serverKeyChanges(alice, g)[0].GetDetail().GetConversationKeyChangeEvent().GetConversationKeyVersion() != v1 {
			g2 = g
		}
	}
	hello := alice.send(g2, "hello g2")[0]
	var create *event.MessageEvent
	for _, me := range w.serverEvents(alice, g1) {
		if groupChangeOf(me).GetGroupCreate() != nil {
			create = me
		}
	}
	create.ConversationID = strp(g2)
	create.SequenceID = strp(hostile.NextSequenceID(w.newestSeq(alice, g2), 1))
	create.PreviousSequenceID = strp(hello.SequenceID)
	w.withholdGroupChanges()
	w.injectData("replay-create", g2, encodeAll(w, create)...)
	ww := w.watchWraps(mallory)
	if r := bob.sync(g2); r.err != nil {
		return "", r.err
	}
	rerr, err := rotateLeaks(w, bob, g2, ww, "g1's create taken as g2's")
	if err != nil {
		return "", err
	}
	if !errors.Is(rerr, errRosterUnknown) {
		return "", errorf("rotation: %v, want the unknown roster refused", rerr)
	}
	return "create not bound to g2; rotation refused: " + rerr.Error(), nil
}

// attackRemovedBackdated: after the victim has applied alice's removal of
// carol, carol writes again and the server slips her message under a
// sequence id older than the removal (sequence ids are not signed).
func attackRemovedBackdated(w *world) (string, error) {
	said := "carol, after her removal, backdated"
	gr, msg, err := backdatedAfterRemoval(w, said)
	if err != nil {
		return "", err
	}
	w.injectData("backdated", gr.g, encodeAll(w, msg)...)
	r := gr.bob.sync(gr.g)
	if err := gr.bob.forgedShown(gr.g, []string{msg.GetMessageID()}, []string{said}); err != nil {
		return "", errorf("backdated message of a removed member accepted: %w", err)
	}
	ev, err := eventErr(r, msg.GetMessageID(), xchat.ErrNotMember)
	if err != nil {
		return "", err
	}
	return "backdated message rejected: " + ev.Error(), nil
}

// backdatedAfterRemoval sets the scene of the backdated-message attacks:
// alice removes carol and the victim bob applies the removal; then carol's
// message saying said is forged under a sequence id older than the removal
// (sequence ids are not signed), for the caller to serve.
func backdatedAfterRemoval(w *world, said string) (*group, *event.MessageEvent, error) {
	gr := newGroup(w)
	if r := gr.carol.sync(gr.g); r.err != nil {
		return nil, nil, r.err
	}
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return nil, nil, err
	}
	rmSeq, backSeq := gr.top(10), gr.top(5)
	rm, err := gr.alice.removal(gr.env(rmSeq, gr.hello.SequenceID, 13), gr.carol.id)
	if err != nil {
		return nil, nil, err
	}
	w.injectData("removal", gr.g, encodeAll(w, rm)...)
	if r := gr.bob.sync(gr.g); r.err != nil {
		return nil, nil, r.err
	}
	msg, err := gr.carol.forger().Message(gr.env(backSeq, gr.hello.SequenceID, 14), c.KeyVersion, gr.carol.convKey(gr.g, c.KeyVersion), text(said))
	return gr, msg, err
}

// attackRemovedRotates: carol, removed, signs a key change of the group at
// a newer version wrapped to everyone; the victim must not encrypt to it.
func attackRemovedRotates(w *world) (string, error) {
	gr := newGroup(w)
	rm, err := gr.alice.removal(gr.env(gr.top(1), gr.hello.SequenceID, 15), gr.carol.id)
	if err != nil {
		return "", err
	}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	kc, err := gr.carol.forger().KeyChange(gr.env(gr.top(2), gr.top(1), 16), futureVersion(), key,
		[]hostile.Recipient{gr.alice.recipient(), gr.bob.recipient(), gr.carol.recipient()})
	if err != nil {
		return "", err
	}
	w.injectData("removal", gr.g, encodeAll(w, rm)...)
	w.injectKeyChange("removed-rotates", gr.g, kc, false)
	sends := w.watchSends(key)
	r := gr.bob.sync(gr.g)
	_, serr := gr.bob.e.SendText(w.ctx, gr.g, "bob after the removal")
	if l := sends.leaks(); len(l) > 0 {
		return "", errorf("a removed member's key change was adopted: bob encrypted to her key (%v; send: %v)", l, serr)
	}
	ev, err := eventErr(r, kc.GetMessageID(), xchat.ErrNotMember)
	if err != nil {
		return "", err
	}
	return "removed member's key change rejected: " + ev.Error(), nil
}

// attackRemovalOlderPage: the server pages the victim's sync (one event a
// page, the victim's own page size) so that alice's removal of carol lies
// on an older page than carol's message after it. Read newest page first,
// carol would still be a member.
func attackRemovalOlderPage(w *world) (string, error) {
	gr, err := groupScene(w, groupSetup{hello: "group hello", bobOpts: []session.Option{session.WithPageSize(1)}, bobSyncs: true})
	if err != nil {
		return "", err
	}
	alice, bob, carol, g := gr.alice, gr.bob, gr.carol, gr.g
	if r := carol.sync(g); r.err != nil {
		return "", r.err
	}
	c, err := bob.e.Conversation(w.ctx, g)
	if err != nil {
		return "", err
	}
	alice.send(g, "m1", "m2")
	rm, err := alice.removal(gr.env(gr.top(1), gr.hello.SequenceID, 17), carol.id)
	if err != nil {
		return "", err
	}
	said := "carol after her removal, on a newer page"
	msg, err := carol.forger().Message(gr.env(gr.top(2), gr.top(1), 18), c.KeyVersion, carol.convKey(g, c.KeyVersion), text(said))
	if err != nil {
		return "", err
	}
	rmB64, msgB64 := encodeAll(w, rm)[0], encodeAll(w, msg)[0]
	var mu sync.Mutex
	pages := 0
	w.proxy.Add(hostile.Events("split-pages", func(r *http.Request, page *api.GetChatConversationEventsResponse) error {
		if hostile.ConversationOf(r.URL.Path) != g {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		pages++
		switch pages {
		case 1: // the newest page: carol's message
			page.Data = append([]api.ChatMessageEvent{{EncodedEvent: msgB64}}, page.Data...)
		case 2: // an older page: the removal
			page.Data = append(page.Data, api.ChatMessageEvent{EncodedEvent: rmB64})
		}
		return nil
	}))
	r := bob.sync(g)
	if err := bob.forgedShown(g, []string{msg.GetMessageID()}, []string{said}); err != nil {
		return "", errorf("removal on an older page ignored: %w", err)
	}
	if errors.Is(r.err, xchat.ErrServerResponse) {
		// The removal lies above the newest event of the page the message
		// is on: the pages overlap and are refused whole (pagesOverlap).
		return "overlapping pages refused: " + r.err.Error(), nil
	}
	ev, err := eventErr(r, msg.GetMessageID(), xchat.ErrNotMember)
	if err != nil {
		return "", err
	}
	return "pages read oldest first; message rejected: " + ev.Error(), nil
}

// attackStaleAddReadmits: carol (an admin) signed an add of erin while
// mallory was still a member; the server holds it back and serves it after
// alice's removal of mallory, hoping its current-member list re-admits her.
func attackStaleAddReadmits(w *world) (string, error) {
	alice := w.newUser("alice", false)
	bob := w.newUser("bob", true)
	carol := w.newUser("carol", false)
	mallory := w.newUser("mallory", false)
	erin := w.newUser("erin", false)
	g, err := alice.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{bob.id, carol.id, mallory.id}, Admins: []string{alice.id, carol.id}})
	if err != nil {
		return "", err
	}
	hello := alice.send(g, "hello")[0]
	gr := &group{w: w, alice: alice, bob: bob, carol: carol, g: g, hello: hello}
	if r := bob.sync(g); r.err != nil {
		return "", r.err
	}
	c, err := bob.e.Conversation(w.ctx, g)
	if err != nil {
		return "", err
	}
	stale, err := carol.memberAdd(gr.env(gr.top(2), gr.top(1), 19), c.KeyVersion, []string{erin.id}, c.Members, []string{alice.id, carol.id})
	if err != nil {
		return "", err
	}
	rm, err := alice.removal(gr.env(gr.top(1), hello.SequenceID, 20), mallory.id)
	if err != nil {
		return "", err
	}
	w.injectData("remove-then-stale-add", g, encodeAll(w, stale, rm)...)
	ww := w.watchWraps(mallory)
	r := bob.sync(g)
	if err := noLeakOnRotate(w, bob, g, ww, "a stale member add re-admitted a removed member"); err != nil {
		return "", err
	}
	ev, err := eventErr(r, stale.GetMessageID(), errRosterDivergence)
	if err != nil {
		return "", err
	}
	return "stale add rejected: " + ev.Error(), nil
}

// attackRemovalWithheld: the server withholds alice's removal of carol
// but serves alice's next member add, whose signed current members leave
// carol out. Carol's later message must not verify, nor the victim wrap
// keys to her.
func attackRemovalWithheld(w *world) (string, error) {
	gr := newGroup(w)
	dave := w.newUser("dave", false)
	if r := gr.carol.sync(gr.g); r.err != nil {
		return "", r.err
	}
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	current := slices.DeleteFunc(slices.Clone(c.Members), func(u string) bool { return u == gr.carol.id })
	add, err := gr.alice.memberAdd(gr.env(gr.top(1), gr.hello.SequenceID, 21), c.KeyVersion, []string{dave.id}, current, []string{gr.alice.id})
	if err != nil {
		return "", err
	}
	said := "carol, removed (withheld)"
	msg, err := gr.carol.forger().Message(gr.env(gr.top(2), gr.top(1), 22), c.KeyVersion, gr.carol.convKey(gr.g, c.KeyVersion), text(said))
	if err != nil {
		return "", err
	}
	w.injectData("add-after-withheld-removal", gr.g, encodeAll(w, msg, add)...)
	ww := w.watchWraps(gr.carol)
	r := gr.bob.sync(gr.g)
	if err := gr.bob.forgedShown(gr.g, []string{msg.GetMessageID()}, []string{said}); err != nil {
		return "", errorf("member whose removal was withheld kept: %w", err)
	}
	if err := noLeakOnRotate(w, gr.bob, gr.g, ww, "member whose removal was withheld kept"); err != nil {
		return "", err
	}
	ev, err := eventErr(r, msg.GetMessageID(), xchat.ErrNotMember)
	if err != nil {
		return "", err
	}
	return "excluded on the admin's signed word: " + ev.Error(), nil
}

// attackLateJoinerFakeRoster: dave joins late, so cannot check the group's
// history. The server withholds the real add and feeds him a member add
// signed by mallory (an outsider with a registered key) naming a group of
// her own making. Trust on first use cannot tell (the roster shows as
// unconfirmed); under TrustStrict no key may be wrapped to it.
func attackLateJoinerFakeRoster(w *world) (string, error) {
	alice := w.newUser("alice", false)
	bob := w.newUser("bob", false)
	dave := w.newUser("dave", true, session.WithTrustPolicy(session.TrustStrict))
	mallory := w.newUser("mallory", false)
	g, err := alice.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{bob.id}})
	if err != nil {
		return "", err
	}
	if err := alice.e.AddMembers(w.ctx, g, dave.id); err != nil {
		return "", err
	}
	top := w.newestSeq(alice, g)
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	version := futureVersion()
	env := func(k uint64, n int) hostile.Envelope {
		return hostile.Envelope{SequenceID: hostile.NextSequenceID(top, k), PreviousSequenceID: hostile.NextSequenceID(top, k-1), MessageID: forgedMID(n), ConversationID: g}
	}
	fake, err := mallory.memberAdd(env(1, 23), version, []string{dave.id}, []string{mallory.id}, []string{mallory.id})
	if err != nil {
		return "", err
	}
	kc, err := mallory.forger().KeyChange(env(2, 24), version, key, []hostile.Recipient{dave.recipient(), mallory.recipient()})
	if err != nil {
		return "", err
	}
	w.withholdGroupChanges()
	w.injectData("fake-add", g, encodeAll(w, fake)...)
	w.injectKeyChange("fake-key", g, kc, false)
	if err := verifyPeer(dave, mallory.id); err != nil {
		return "", err
	}
	ww := w.watchWraps(mallory)
	if r := dave.sync(g); r.err != nil {
		return "", r.err
	}
	rerr, err := rotateLeaks(w, dave, g, ww, "a late joiner's fake roster trusted under strict")
	if err != nil {
		return "", err
	}
	c, err := dave.e.Conversation(w.ctx, g)
	if err != nil {
		return "", err
	}
	if state, since, _ := rosterView(c); state != "unconfirmed" || since == "" {
		return "", errorf("late joiner's roster %s since %q: trust on first use not shown", state, since)
	}
	if !errors.Is(rerr, errRosterUnconfirmed) {
		return "", errorf("strict rotation: %v, want the unconfirmed roster refused", rerr)
	}
	return "roster shown unconfirmed since its join; strict rotation refused: " + rerr.Error(), nil
}

// attackAddReplayedToExclude: the server replays alice's add of dave (which
// the victim stored) under a new sequence id after her add of erin, hoping
// its stale current-member list excludes erin. A replay has no effect.
func attackAddReplayedToExclude(w *world) (string, error) {
	gr := newGroup(w)
	dave, erin := w.newUser("dave", false), w.newUser("erin", false)
	if err := gr.alice.e.AddMembers(w.ctx, gr.g, dave.id); err != nil {
		return "", err
	}
	if r := gr.bob.sync(gr.g); r.err != nil {
		return "", r.err
	}
	if err := gr.alice.e.AddMembers(w.ctx, gr.g, erin.id); err != nil {
		return "", err
	}
	var first *event.MessageEvent
	for _, me := range w.serverEvents(gr.alice, gr.g) {
		if ma := groupChangeOf(me).GetGroupMemberAdd(); ma != nil && slices.Contains(ma.MemberIds, dave.id) {
			first = me
		}
	}
	if first == nil {
		return "", errorf("alice's add of dave not served")
	}
	if r := erin.sync(gr.g); r.err != nil {
		return "", r.err
	}
	c, err := erin.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	first.SequenceID, first.PreviousSequenceID = strp(gr.top(1)), strp(gr.top(0))
	said := "erin, added after dave"
	msg, err := erin.forger().Message(gr.env(gr.top(2), gr.top(1), 25), c.KeyVersion, erin.convKey(gr.g, c.KeyVersion), text(said))
	if err != nil {
		return "", err
	}
	w.injectData("replayed-add", gr.g, encodeAll(w, msg, first)...)
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		return "", r.err
	}
	after, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	if !slices.Contains(after.Members, erin.id) || !slices.Contains(gr.bob.verifiedTexts(gr.g), said) {
		return "", errorf("a replayed add excluded erin: roster %v, her message shown verified: %v", after.Members, slices.Contains(gr.bob.verifiedTexts(gr.g), said))
	}
	ev, err := eventErr(r, first.GetMessageID(), xchat.ErrReplayed)
	if err != nil {
		return "", err
	}
	return "replayed add had no effect: " + ev.Error(), nil
}

// attackOutsiderKeyRosterUnknown: every group change is withheld from bob,
// so no signed change tells him who is in g; mallory, an outsider with a
// registered key, signs a v7 key change for g at a newer version wrapped to
// bob and herself, and the server serves it. The key change signs the
// conversation id and verifies, but nothing says mallory may key the
// group: bob must not encrypt what he sends in g under her key.
func attackOutsiderKeyRosterUnknown(w *world) (string, error) {
	gr, err := groupScene(w, groupSetup{mallory: true})
	if err != nil {
		return "", err
	}
	alice, bob, mallory, g := gr.alice, gr.bob, gr.mallory, gr.g
	w.withholdGroupChanges()
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	top := w.newestSeq(alice, g)
	env := hostile.Envelope{SequenceID: hostile.NextSequenceID(top, 1), PreviousSequenceID: top, MessageID: forgedMID(900), ConversationID: g}
	kc, err := mallory.forger().KeyChange(env, futureVersion(), key, []hostile.Recipient{bob.recipient(), mallory.recipient()})
	if err != nil {
		return "", err
	}
	w.injectKeyChange("outsider-key", g, kc, false)
	sends := w.watchSends(key)
	if r := bob.sync(g); r.err != nil {
		return "", r.err
	}
	_, serr := bob.e.SendText(w.ctx, g, "for the group only")
	if l := sends.leaks(); len(l) > 0 {
		return "", errorf("bob encrypted his message under the outsider's key (%v; send: %v)", l, serr)
	}
	if serr == nil {
		return "", errorf("bob sent in a group whose roster no signed change establishes, under a key whose maker nothing vouches for")
	}
	if !errors.Is(serr, xchat.ErrRosterUnknown) {
		return "", errorf("send refused for another reason: %v", serr)
	}
	return "send refused: " + serr.Error(), nil
}
