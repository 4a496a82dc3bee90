package attacks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// Attacks: what the engine took from unsigned fields and passed
// on under its own signature.

var unsignedFieldAttacks = []attack{
	{"create-unsigned-ttl-signed-in-member-add", attackCreateTTLSigned},
	{"member-add-v4-unsigned-screen-capture-signed", attackV4ScreenCaptureSigned},
	{"member-add-v4-unsigned-screen-capture-signed-after-walk", attackV4ScreenCaptureSignedAfterWalk},
	{"replays-fill-the-messages-awaiting-a-key", attackReplaysFillAwaiting},
	{"copy-below-key-change-displaces-awaiting-message", attackCopyBelowKeyDisplaces},
	{"create-absent-title-served-as-null", attackCreateTitleNull},
	{"group-create-served-in-one-to-one", attackCreateInDM},
	{"create-v3-unsigned-avatar-signed-in-member-add", attackV3CreateAvatarSigned},
	{"pushed-unsigned-events-fill-the-store", attackPushedUnsignedFillTheStore},
}

// injectedTTL is the disappearing-message lifetime the server writes into
// a create it serves: one minute.
const injectedTTL int64 = 60_000

// attackCreateTTLSigned: a GroupCreate does not sign its TTL (the group's
// disappearing-message lifetime). The server serves bob alice's create with
// a TTL she never set; alice makes bob an admin and he adds dave. Unless
// the engine keeps the create's TTL out of the group's details, bob's
// member add signs the server's TTL as the group's current one, for every
// member's client to apply, where a fresh device served the create as
// alice made it signs none.
func attackCreateTTLSigned(w *world) (string, error) {
	h := newBareHistory(w)
	h.readServer()
	h.push(h.adminAdd(h.bob.id))
	h.say(h.alice, "alice after bob's rights")
	h.seal()
	whole, err := pageOf(h, nil, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	add, err := addBobSigns(w, hs, oneRound(whole), false)
	if err != nil {
		return "", errorf("setup: a fresh device's member add: %v", err)
	}
	if add.CurrentTTLMsec != nil {
		return "", errorf("setup: a fresh device served the create as made signs a TTL of %d ms", *add.CurrentTTLMsec)
	}
	created := false
	for _, it := range h.items {
		if gc := groupChangeOf(it.me).GetGroupCreate(); gc != nil {
			ttl := injectedTTL
			gc.TTLMsec, created = &ttl, true
		}
	}
	if !created {
		return "", errorf("setup: no group create in the transcript")
	}
	served, err := pageOf(h, nil, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	if add, err = addBobSigns(w, hs, oneRound(served), false); err != nil {
		return "", err
	}
	if t := add.CurrentTTLMsec; t != nil {
		return "", errorf("bob's member add signs a TTL of %d ms, the server's (unsigned in the create), as the group's", *t)
	}
	return "bob's member add signs no TTL the server wrote into the create", nil
}

// attackV4ScreenCaptureSigned: a member add signed at signature version 4
// or below does not sign its screen-capture setting (the payload gained
// it at version 5). Alice's client signs at version 4; she makes bob an
// admin and adds mallory, setting nothing; the server serves bob her add
// with screen-capture blocking turned off. Unless the engine keeps an
// unsigned setting out of the group's details, bob's member add of dave
// signs the server's setting as the group's, where a fresh device served
// the add as alice made it signs none.
func attackV4ScreenCaptureSigned(w *world) (string, error) {
	h := newBareHistory(w)
	h.readServer()
	h.push(h.adminAdd(h.bob.id))
	add, err := h.v4MemberAdd(h.mallory.id)
	if err != nil {
		return "", err
	}
	h.say(h.alice, "alice after mallory's add")
	h.seal()
	hs := startHarness(w.t, h)
	return v4SettingSigned(w, hs, add, func() (*mutation, error) {
		whole, err := pageOf(h, nil, func(string) bool { return true })
		return oneRound(whole), err
	})
}

// attackV4ScreenCaptureSignedAfterWalk: as
// member-add-v4-unsigned-screen-capture-signed, and alice then removes
// mallory, who changes the group's avatar above her removal; the removal
// is withheld from bob's first sync and served at its place in the next.
// The walk fails mallory's avatar change and reads the group's details
// again from the changes that stand (restoreSettings): unless that
// reading too keeps the unsigned setting out, bob's member add signs the
// server's setting.
func attackV4ScreenCaptureSignedAfterWalk(w *world) (string, error) {
	h := newBareHistory(w)
	h.readServer()
	h.push(h.adminAdd(h.bob.id))
	add, err := h.v4MemberAdd(h.mallory.id)
	if err != nil {
		return "", err
	}
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(h.removal, 500)
	avatar, err := h.mallory.avatarChange(e, h.newestVersion(), malloryAvatar)
	if err != nil {
		return "", err
	}
	h.say(h.alice, "alice after the removal")
	h.seal()
	hs := startHarness(w.t, h)
	return v4SettingSigned(w, hs, add, func() (*mutation, error) {
		withheld, whole, err := servedLate(h, []*tevent.MessageEvent{avatar}, h.removal)
		return lateRounds(withheld, whole), err
	})
}

// v4MemberAdd pushes alice's member add of id signed at signature version
// 4 (its screen-capture setting unsigned), setting nothing, and returns it.
func (h *history) v4MemberAdd(id string) (*tevent.MessageEvent, error) {
	e := h.env()
	members, admins := []string{h.alice.id, h.bob.id, h.carol.id}, []string{h.alice.id, h.bob.id}
	version := h.newestVersion()
	ma := crypto.GroupMemberAdd{NewMemberIDs: []string{id}, CurrentMemberIDs: members, CurrentAdminIDs: admins, ConversationKeyVersion: version}
	const sigVersion = 4
	p, err := crypto.GroupMemberAddPayload(sigVersion, crypto.Header{MessageID: e.MessageID, SenderID: h.alice.id, ConversationID: h.g}, ma)
	add, err := h.alice.groupAction(e, &tevent.GroupChange{GroupMemberAdd: &tevent.GroupMemberAddChange{MemberIds: ma.NewMemberIDs,
		CurrentMemberIds: members, CurrentAdminIds: admins, ConversationKeyVersion: &version, CurrentPendingMemberIds: []string{}}}, p, err)
	if err != nil {
		return nil, err
	}
	sv := strconv.Itoa(sigVersion)
	add.MessageEventSignature.SignatureVersion = &sv
	h.push(add, nil)
	return add, nil
}

// v4SettingSigned serves a fresh device of bob's the mutation served
// makes with alice's version-4 add as she made it, then with the server's
// screen-capture setting written into it, and requires bob's member add
// to sign no setting either time.
func v4SettingSigned(w *world, hs *harness, add *tevent.MessageEvent, served func() (*mutation, error)) (string, error) {
	m, err := served()
	if err != nil {
		return "", err
	}
	signed, err := addBobSigns(w, hs, m, false)
	if err != nil {
		return "", errorf("setup: a fresh device's member add: %v", err)
	}
	if signed.ScreenCaptureBlockingEnabled != nil {
		return "", errorf("setup: a fresh device served alice's add as made signs a screen-capture setting (%v)", *signed.ScreenCaptureBlockingEnabled)
	}
	off := false
	add.GetDetail().GetGroupChangeEvent().GetGroupChange().GetGroupMemberAdd().ScreenCaptureBlockingEnabled = &off
	if m, err = served(); err != nil {
		return "", err
	}
	if signed, err = addBobSigns(w, hs, m, false); err != nil {
		return "", err
	}
	if b := signed.ScreenCaptureBlockingEnabled; b != nil {
		return "", errorf("bob's member add signs the screen-capture setting %v the server wrote into alice's version-4 add (unsigned there) as the group's", *b)
	}
	return "bob's member add signs no screen-capture setting the server wrote into a version-4 add", nil
}

// attackReplaysFillAwaiting: alice rotates the group's key and writes two
// messages under it; the server withholds the key change from bob's first
// sync and serves there, between her two messages, her first one again
// under 300 new sequence ids (its signature covers no sequence id). Each
// copy fails for want of its key alone, as her second message does. Unless
// a message id is listed as awaiting its key once, the copies fill the
// list (256 a version) and her second message, genuine, stays failed for
// good once the key change arrives, where a fresh device keeps it verified
// (and fails the copies as replays): one message the server holds is
// enough to keep every later one under the key failed.
func attackReplaysFillAwaiting(w *world) (string, error) {
	const copies = 300
	h := newBareHistory(w)
	h.synced(h.bob)
	h.readServer()
	h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc := h.items[len(h.items)-1].me
	h.say(h.alice, "alice's first under the new key")
	first := h.items[len(h.items)-1].me
	h.say(h.alice, "alice's second under the new key")
	second := h.items[len(h.items)-1].me.GetMessageID()
	h.seal()
	b, err := hostile.EncodeEvent(first)
	if err != nil {
		return "", err
	}
	var extra []*tevent.MessageEvent
	prev := first.GetSequenceID()
	for i := range copies {
		me, err := hostile.DecodeEvent(b)
		if err != nil {
			return "", err
		}
		seq := hostile.NextSequenceID(first.GetSequenceID(), uint64(i+1))
		p := prev
		me.SequenceID, me.PreviousSequenceID = &seq, &p
		prev = seq
		extra = append(extra, me)
	}
	fresh, late, err := keyServedLate(w, h, extra, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	switch {
	case !fresh.verified[second]:
		return "", errorf("setup: a fresh device fails alice's second message (%v)", fresh.failed[second])
	case late.failed[second] == nil:
		return "", errorf("setup: alice's second message was not stored failed by the first sync")
	case !late.verified[second]:
		return "", errorf("alice's second message stays failed (%v) after its key change arrived: %d copies of her first filled the list of messages awaiting it", late.failed[second], copies)
	}
	return fmt.Sprintf("alice's second message opened when its key change arrived, %d copies of her first served before it", copies), nil
}

// attackCreateTitleNull: a create signs an absent title as the string
// "null", so a title "null" and no title sign the same bytes. Alice
// creates her group without a title; the server serves bob her create
// with the title "null". Alice makes bob an admin and he adds dave: unless
// the engine reads a signed "null" as no title, the group shows the
// server's title and bob's member add carries it as the group's, where a
// fresh device served the create as alice made it carries none.
func attackCreateTitleNull(w *world) (string, error) {
	h := newBareHistory(w)
	h.readServer()
	h.push(h.adminAdd(h.bob.id))
	h.seal()
	served := func() (*mutation, error) {
		whole, err := pageOf(h, nil, func(string) bool { return true })
		return oneRound(whole), err
	}
	hs := startHarness(w.t, h)
	m, err := served()
	if err != nil {
		return "", err
	}
	add, err := addBobSigns(w, hs, m, false)
	if err != nil {
		return "", errorf("setup: a fresh device's member add: %v", err)
	}
	if add.CurrentTitle != nil {
		return "", errorf("setup: a fresh device served the create as made carries the title %q", *add.CurrentTitle)
	}
	created := false
	for _, it := range h.items {
		if gc := groupChangeOf(it.me).GetGroupCreate(); gc != nil {
			title := "null"
			gc.Title, created = &title, true
		}
	}
	if !created {
		return "", errorf("setup: no group create in the transcript")
	}
	if m, err = served(); err != nil {
		return "", err
	}
	if add, err = addBobSigns(w, hs, m, false); err != nil {
		return "", err
	}
	if t := add.CurrentTitle; t != nil {
		return "", errorf("bob's member add carries the title %q the server wrote into a create signed without one", *t)
	}
	return "bob's member add carries no title the server wrote into a create signed without one", nil
}

// attackCreateInDM: a GroupCreate does not sign its conversation id. Alice
// creates a titled group with bob and carol; the server serves bob her
// create inside his one-to-one conversation with her, relabelled with
// that conversation's id, above what he holds there. Its signature
// verifies and alice is a participant: unless a group change is refused
// outside a group, bob's one-to-one conversation shows a verified "alice
// created a group" and takes the group's title and kind.
func attackCreateInDM(w *world) (string, error) {
	d := newDM(w)
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", errorf("setup: %v", r.err)
	}
	carol := w.newUser("carol", false)
	g, err := d.alice.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{d.bob.id, carol.id}, Title: "alice's other group"})
	if err != nil {
		return "", err
	}
	var create *tevent.MessageEvent
	for _, me := range w.serverEvents(d.alice, api.ConversationPathID(g)) {
		if groupChangeOf(me).GetGroupCreate() != nil {
			create = me
		}
	}
	if create == nil {
		return "", errorf("setup: no create in alice's group")
	}
	top := d.sent[len(d.sent)-1].SequenceID
	seq, cid := hostile.NextSequenceID(top, 1), d.cid
	create.SequenceID, create.PreviousSequenceID, create.ConversationID = &seq, &top, &cid
	b, err := hostile.EncodeEvent(create)
	if err != nil {
		return "", err
	}
	var served atomic.Bool
	w.proxy.Add(hostile.Events("create-in-dm", func(r *http.Request, page *api.GetChatConversationEventsResponse) error {
		if hostile.ConversationOf(r.URL.Path) == d.path && !served.Swap(true) {
			page.Data = append([]api.ChatMessageEvent{{EncodedEvent: b}}, page.Data...)
		}
		return nil
	}))
	r := d.bob.sync(d.cid)
	if !served.Load() {
		return "", errorf("setup: the create was not served (sync: %v)", r.err)
	}
	hist, err := d.bob.e.History(w.ctx, d.cid, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range hist {
		if en.Verified && en.Type == event.TypeGroupChange {
			return "", errorf("bob's one-to-one conversation with alice shows her group create (%s) verified", en.SequenceID)
		}
	}
	c, err := d.bob.e.Conversation(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	if c.Kind != "one_to_one" || c.Title != "" {
		return "", errorf("bob's one-to-one conversation with alice took kind %q and title %q from her group create", c.Kind, c.Title)
	}
	return fmt.Sprintf("alice's group create served in her one-to-one conversation with bob: not shown verified (sync: %v)", r.err), nil
}

// attackV3CreateAvatarSigned: a create signed below signature version 4
// does not sign its title or avatar. Alice's create is signed at version
// 3 (an older client of hers), without an avatar; the server serves bob
// her create with an avatar URL of its choosing (a tracking URL). Alice
// makes bob an admin and he adds dave: unless the engine keeps the
// unsigned avatar out of the group's details, bob's member add signs the
// server's URL as the group's current avatar, for every member's client
// to fetch.
func attackV3CreateAvatarSigned(w *world) (string, error) {
	h := newBareHistory(w)
	h.readServer()
	var create *tevent.MessageEvent
	for _, it := range h.items {
		if groupChangeOf(it.me).GetGroupCreate() != nil {
			create = it.me
		}
	}
	if create == nil {
		return "", errorf("setup: no group create in the transcript")
	}
	const sigVersion = 3
	gc := groupChangeOf(create).GetGroupCreate()
	f := h.alice.forger()
	p, err := crypto.GroupCreatePayload(sigVersion, crypto.Header{MessageID: create.GetMessageID(), SenderID: h.alice.id},
		crypto.GroupCreate{ConversationKeyVersion: gc.GetConversationKeyVersion(), MemberIDs: gc.MemberIds})
	if err != nil {
		return "", err
	}
	sig, err := p.Sign(f.Signing)
	if err != nil {
		return "", err
	}
	create.MessageEventSignature = wire.Signature(sig, f.KeyVersion, sigVersion)
	gc.Title, gc.AvatarURL, gc.IsLegacyGroupUpgrade = nil, nil, nil
	h.push(h.adminAdd(h.bob.id))
	h.seal()
	served := func() (*mutation, error) {
		whole, err := pageOf(h, nil, func(string) bool { return true })
		return oneRound(whole), err
	}
	hs := startHarness(w.t, h)
	m, err := served()
	if err != nil {
		return "", err
	}
	add, err := addBobSigns(w, hs, m, false)
	if err != nil {
		return "", errorf("setup: a fresh device's member add: %v", err)
	}
	if add.CurrentAvatarURL != nil {
		return "", errorf("setup: a fresh device served the version-3 create as made signs the avatar %q", *add.CurrentAvatarURL)
	}
	url := malloryAvatar
	gc.AvatarURL = &url
	if m, err = served(); err != nil {
		return "", err
	}
	if add, err = addBobSigns(w, hs, m, false); err != nil {
		return "", err
	}
	if a := add.CurrentAvatarURL; a != nil {
		return "", errorf("bob's member add signs the avatar %q the server wrote into alice's version-3 create (unsigned there) as the group's", *a)
	}
	return "bob's member add signs no avatar the server wrote into a version-3 create", nil
}

// attackCopyBelowKeyDisplaces: alice rotates the group's key and writes
// under it; the server withholds the key change from bob's first sync and
// serves there her message at its place and a copy of it just below the
// key change (its signature covers no sequence id). Both fail for want of
// the key alone. When the key change arrives, the copy below it cannot
// open (its key was distributed above it) and the message at its place
// can: unless listing keeps a message's copies apart from the message
// itself while there is room, the copy stands for the message and the
// message stays failed, where a fresh device keeps it verified.
func attackCopyBelowKeyDisplaces(w *world) (string, error) {
	h := newBareHistory(w)
	h.synced(h.bob)
	h.readServer()
	h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc := h.items[len(h.items)-1].me
	h.say(h.alice, "alice under the new key")
	msg := h.items[len(h.items)-1].me
	h.say(h.alice, "alice again")
	h.seal()
	b, err := hostile.EncodeEvent(msg)
	if err != nil {
		return "", err
	}
	copied, err := hostile.DecodeEvent(b)
	if err != nil {
		return "", err
	}
	n, err := strconv.ParseUint(kc.GetSequenceID(), 10, 64)
	if err != nil {
		return "", err
	}
	below := strconv.FormatUint(n-1, 10)
	copied.SequenceID, copied.PreviousSequenceID = &below, nil
	fresh, late, err := keyServedLate(w, h, []*tevent.MessageEvent{copied}, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	mid := msg.GetMessageID()
	switch {
	case !fresh.verified[mid]:
		return "", errorf("setup: a fresh device fails alice's message (%v)", fresh.failed[mid])
	case late.failed[mid] == nil:
		return "", errorf("setup: alice's message was not stored failed by the first sync")
	case !late.verified[mid]:
		return "", errorf("alice's message stays failed (%v) after its key change arrived: its copy below the key change stood for it", late.failed[mid])
	}
	return "alice's message opened at its place when its key change arrived, its copy below the key change served first", nil
}

// attackPushedUnsignedFillTheStore: the kinds no sender signs (typing
// indicators, failure notices, Grok notifications, member account
// deletions) are the server's word; each decodes without error and is
// never verified. The server pushes bob, one after another, 48 typing
// indicators and Grok notifications (alternately) in his conversation
// with alice, each under a fresh event_uuid, sequence id and message id
// and carrying 64 KiB in a field of its own. Unless what the server alone
// makes is bounded whatever its kind, each is stored with its bytes: a
// server that pushes forever fills bob's disk. (Typing indicators are
// ephemeral and never stored; the Grok notifications are charged.)
func attackPushedUnsignedFillTheStore(w *world) (string, error) {
	_, bob, cid, model, base, err := failedPushScene(w, "m1")
	if err != nil {
		return "", err
	}
	pad := string(make([]byte, failedPad))
	for i := range failedPushes {
		typing := *model
		typing.Detail = &tevent.MessageEventDetail{MessageTypingEvent: &tevent.MessageTypingEvent{ConversationID: &pad}}
		if i%2 == 1 {
			typing.Detail = &tevent.MessageEventDetail{GrokSearchResponseEvent: &tevent.GrokSearchResponseEvent{SearchResponseID: &pad}}
		}
		typing.MessageEventSignature = nil
		typing.SequenceID = strp(strconv.FormatUint(base+1000+uint64(i), 10))
		typing.MessageID = strp(fmt.Sprintf("typing-%d", i))
		ev, err := pushOf(bob, fmt.Sprintf("typing-push-%d", i), &typing, "", nil)
		if err != nil {
			return "", err
		}
		if _, _, err := bob.deliver(ev); err != nil {
			return "", errorf("push %d: %w", i, err)
		}
	}
	hist, err := bob.e.History(w.ctx, cid, "", 0)
	if err != nil {
		return "", err
	}
	kept := 0
	for _, en := range hist {
		if !en.Verified {
			kept++
		}
	}
	if kept > failedAllowance {
		return "", errorf("%d pushed typing indicators and Grok notifications left %d unverified events (%d KiB of server-chosen bytes) in bob's store; the conversation keeps %d failed events", failedPushes, kept, kept*failedPad>>10, failedAllowance)
	}
	return fmt.Sprintf("%d pushed typing indicators and Grok notifications: %d kept", failedPushes, kept), nil
}

// failKeyPage is a store whose next update that records a key change's
// key (session/send.go:keyChangeIndexKey) fails once armed, after its
// writes: the page that brings the key change is rolled back whole, as a
// store that fails to commit (disk full, a busy database) rolls it back.
type failKeyPage struct {
	keystore.Store
	armed, failed bool
}

// errKeyPageFault is the fault failKeyPage injects.
var errKeyPageFault = errors.New("injected: the store failed to commit")

// Update implements keystore.Store.
func (s *failKeyPage) Update(ctx context.Context, fn func(tx keystore.Tx) error) error {
	return s.Store.Update(ctx, func(tx keystore.Tx) error {
		rec := &keyIndexWrites{Tx: tx}
		if err := fn(rec); err != nil {
			return err
		}
		if s.armed && rec.wrote {
			s.armed, s.failed = false, true
			return errKeyPageFault
		}
		return nil
	})
}

// keyIndexWrites notes whether a transaction recorded a key change.
type keyIndexWrites struct {
	keystore.Tx
	wrote bool
}

// SetValue implements keystore.Tx.
func (t *keyIndexWrites) SetValue(ctx context.Context, name string, v []byte) error {
	t.wrote = t.wrote || strings.HasPrefix(name, "session/kce/") && v != nil
	return t.Tx.SetValue(ctx, name, v)
}

// TestAwaitingKeyKeptWhenKeyPageFails: alice rotates the group's key and
// writes under it; the server withholds the key change from bob's first
// sync (her message is stored failed, awaiting the key). The second sync
// serves the key change, and the store fails to commit that page: nothing
// of it is stored. The third serves it again and it is stored. The
// message must open then: the failed page must not have judged, and
// dropped, the list of messages awaiting the key against a store without
// its key change.
func TestAwaitingKeyKeptWhenKeyPageFails(t *testing.T) {
	w := newWorld(t)
	h := newBareHistory(w)
	h.synced(h.bob)
	h.readServer()
	h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc := h.items[len(h.items)-1].me
	h.say(h.alice, "alice under the new key")
	mid := h.items[len(h.items)-1].me.GetMessageID()
	h.seal()
	withheld, err := pageOf(h, nil, func(seq string) bool { return seq != kc.GetSequenceID() })
	if err != nil {
		t.Fatal(err)
	}
	whole, err := pageOf(h, nil, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	hs := startHarness(t, h)
	hs.srv.set(&mutation{rounds: [][]mutPage{{withheld}, {whole}, {whole}}, kcs: map[string]string{}})
	mem := keystore.NewMemory()
	if err := session.ImportBackup(w.ctx, mem, h.bob.id, h.bobBackup, h.bobVersion); err != nil {
		t.Fatal(err)
	}
	store := &failKeyPage{Store: mem}
	e, err := session.Open(w.ctx, store, session.NewAPIServer(apiClient(t, hs.url, h.bob.token)))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i := range 3 {
		store.armed = i == 1
		_, err := e.Sync(w.ctx, h.g, nil)
		switch {
		case i == 1 && !errors.Is(err, errKeyPageFault):
			t.Fatalf("sync %d: %v, want the injected fault (failed %v)", i, err, store.failed)
		case i != 1 && err != nil:
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	hist, err := e.History(w.ctx, h.g, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(hist, func(en event.Entry) bool { return en.MessageID == mid })
	switch {
	case i < 0:
		t.Fatalf("alice's message is not stored")
	case !hist[i].Verified:
		t.Fatalf("alice's message stays failed (%s) after its key change was stored: the failed page dropped the list awaiting it", hist[i].Error)
	}
}
