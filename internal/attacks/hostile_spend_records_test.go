package attacks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks of the twenty-seventh review: the resources the
// twenty-fourth left — an allowance of failed events that renews, and
// what renews it.

var spendRecordAttacks = []attack{
	{"pushed-failed-events-renewed-by-replays", attackPushedFailedEventsRenewedByReplays},
	{"listing-invents-conversations", attackListingInventsConversations},
	{"forged-signers-drive-key-lookups", attackForgedSignersDriveKeyLookups},
	{"group-title-fills-the-record", attackGroupTitleFillsTheRecord},
}

// attackPushedFailedEventsRenewedByReplays: the allowance of failed events
// a conversation keeps renews with its verified events (one failed event,
// and maxFailedBytes/maxFailedEvents bytes, given back for each stored),
// so that an account whose peers honestly fail keeps storing them. The
// server cannot forge a verified event of alice's, but it can push her
// genuine message again, each time under a fresh event_uuid and sequence
// id, with a forged 64 KiB event after each replay: were each replay
// counted, it would renew the allowance for ever at no cost. Failed events
// kept stay within the allowance plus one per verified event stored (a
// replay stored is itself stored: the server gains no more than that
// factor).
func attackPushedFailedEventsRenewedByReplays(w *world) (string, error) {
	const rounds = 32
	_, bob, cid, model, base, err := failedPushScene(w, "m1")
	if err != nil {
		return "", err
	}
	before, err := verifiedHeld(w, bob, cid)
	if err != nil {
		return "", err
	}
	for i := range rounds {
		replay := *model
		replay.SequenceID = strp(strconv.FormatUint(base+1000+2*uint64(i), 10))
		forged := *model
		mce := *model.Detail.MessageCreateEvent
		mce.Contents = bytes.Repeat([]byte{byte(i)}, failedPad)
		det := *model.Detail
		det.MessageCreateEvent = &mce
		forged.Detail = &det
		forged.SequenceID = strp(strconv.FormatUint(base+1001+2*uint64(i), 10))
		forged.MessageID = strp(fmt.Sprintf("forged-%d", i))
		for j, me := range []*tevent.MessageEvent{&replay, &forged} {
			ev, err := pushOf(bob, fmt.Sprintf("renew-%d-%d", i, j), me, "", nil)
			if err != nil {
				return "", err
			}
			if _, _, err := bob.deliver(ev); err != nil {
				return "", errorf("push %d/%d: %w", i, j, err)
			}
		}
	}
	kept, err := failedKept(w.ctx, bob, cid)
	if err != nil {
		return "", err
	}
	after, err := verifiedHeld(w, bob, cid)
	if err != nil {
		return "", err
	}
	renewed := after - before
	if kept > failedAllowance+renewed {
		return "", errorf("%d replays and %d forged 64 KiB pushes: %d failed events kept (%d KiB), over the allowance %d plus %d verified events stored", rounds, rounds, kept, kept*failedPad>>10, failedAllowance, renewed)
	}
	if kept > failedAllowance {
		return "", errorf("%d replays of one genuine message renewed the allowance: %d failed events kept (%d KiB), allowance %d", rounds, kept, kept*failedPad>>10, failedAllowance)
	}
	return fmt.Sprintf("%d replays and %d forged pushes: %d verified events stored, %d failed kept (allowance %d)", rounds, rounds, renewed, kept, failedAllowance), nil
}

// verifiedHeld counts the verified events u's store holds for cid.
func verifiedHeld(w *world, u *user, cid string) (int, error) {
	h, err := u.e.History(w.ctx, cid, "", 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, en := range h {
		if en.Verified {
			n++
		}
	}
	return n, nil
}

// listedInvented is how many conversations the listing attack invents
// (pages of 100), listedAllowance the conversations bob's engine records
// from a listing without holding anything verified of them
// (session.WithMaxListedConversations).
const (
	listedInvented  = 1200
	listedAllowance = 16
)

// attackListingInventsConversations: the server answers bob's listing of
// conversations with 12 pages of 100 conversations it invents (groups and
// one-to-one conversations of bob's with users that do not exist), each
// page under a fresh next_token. Every listed conversation was recorded,
// for ever, and every SyncAll synced each (a request, and a key lookup,
// each): up to 10,000 pages of 100, a million records and a million syncs
// per SyncAll, with nothing the server alone could not make up. A listed
// conversation is recorded only while fewer than
// WithMaxListedConversations (10,000 by default) recorded ones hold
// nothing verified; the rest are not recorded, and the listing fails with
// session.ErrListingNotKept.
func attackListingInventsConversations(w *world) (string, error) {
	alice := w.newUser("alice", false)
	bob := w.newUser("bob", true, session.WithMaxListedConversations(listedAllowance))
	cid := alice.send(bob.id, "m1")[0].ConversationID
	if r := bob.sync(cid); r.err != nil {
		return "", r.err
	}
	w.proxy.Add(hostile.Rule{Name: "invent", Method: http.MethodGet, Path: hostile.PathConversations,
		Rewrite: func(r *http.Request, resp *hostile.Response) error {
			page, _ := strconv.Atoi(r.URL.Query().Get("pagination_token"))
			doc := api.GetChatConversationsResponse{Meta: &api.ChatConversationsMeta{}}
			for i := page * 100; i < (page+1)*100 && i < listedInvented; i++ {
				id := fmt.Sprintf("g%d", 8_000_000_000+i)
				if i%2 == 1 {
					id = fmt.Sprintf("%s:%d", bob.id, 8_000_000_000+i)
				}
				doc.Data = append(doc.Data, api.ChatConversation{ID: id})
			}
			if (page+1)*100 < listedInvented {
				doc.Meta.NextToken, doc.Meta.HasMore = strconv.Itoa(page+1), true
			}
			b, err := json.Marshal(doc)
			resp.Status, resp.Body = http.StatusOK, b
			resp.Header.Set("Content-Type", "application/json")
			return err
		}})
	var syncs atomic.Int64
	w.proxy.Add(hostile.Rule{Name: "count", Method: http.MethodGet, Path: hostile.PathEvents,
		Rewrite: func(*http.Request, *hostile.Response) error { syncs.Add(1); return nil }})
	_, lerr := bob.e.SyncAll(w.ctx)
	convs, err := bob.e.Conversations(w.ctx)
	if err != nil {
		return "", err
	}
	if len(convs) > 1+listedAllowance {
		return "", errorf("a listing of %d invented conversations left bob %d conversation records, and SyncAll fetched events %d times (allowance %d)", listedInvented, len(convs), syncs.Load(), listedAllowance)
	}
	if !errors.Is(lerr, session.ErrListingNotKept) {
		return "", errorf("%d listed conversations not recorded, and SyncAll said %v", listedInvented+1-len(convs), lerr)
	}
	// bob's real conversation still syncs.
	if r := bob.sync(cid); r.err != nil {
		return "", r.err
	}
	return fmt.Sprintf("%d invented conversations listed: %d recorded, %d event fetches in SyncAll", listedInvented, len(convs), syncs.Load()), nil
}

// attackForgedSignersDriveKeyLookups: the server serves bob's first sync of
// his conversation with alice in pages of 10, every message of alice's
// naming a key version of hers that does not exist (a fresh one each), and
// answers key lookups without user_id. Each page's unknown signing key was
// looked up again — alice's keys fetched once a page on top of the sync's
// own refresh: a request per page the server chose to serve (10,000 in a
// sync), all answered with the same keys. A sync now fetches each user's
// keys once (a user it refreshed at its start not at all); a push still
// costs at most one lookup. (Relabelling the messages as sent by users of
// the server's invention costs no lookup: in a one-to-one conversation
// only its two users can sign.)
func attackForgedSignersDriveKeyLookups(w *world) (string, error) {
	const msgs = 30
	alice := w.newUser("alice", false)
	bob := w.newUser("bob", true, session.WithPageSize(10))
	texts := make([]string, msgs)
	for i := range texts {
		texts[i] = fmt.Sprintf("m%d", i)
	}
	sent := alice.send(bob.id, texts...)
	cid := sent[0].ConversationID
	var forged atomic.Int64
	w.proxy.Add(hostile.Events("relabel", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		return hostile.EditData(page, func(me *tevent.MessageEvent) error {
			if me.GetSenderID() == alice.id && me.GetDetail().GetMessageCreateEvent() != nil {
				n := forged.Add(1)
				if sig := me.MessageEventSignature; sig != nil {
					sig.PublicKeyVersion = strp(strconv.FormatInt(1_000_000+n, 10))
				}
			}
			return nil
		})
	}))
	var lookups atomic.Int64
	w.proxy.Add(hostile.PublicKeys("unlabelled", func(_ *http.Request, keys []api.PublicKey) ([]api.PublicKey, error) {
		lookups.Add(1)
		for i := range keys {
			keys[i].UserID = ""
		}
		return keys, nil
	}))
	r := bob.sync(cid)
	if r.err != nil {
		return "", r.err
	}
	verified := 0
	for _, ev := range r.events {
		if ev.Err == nil && ev.Verified && ev.Kind == event.KindMessage {
			verified++
		}
	}
	if verified > 0 {
		return "", errorf("%d messages under forged key versions verified", verified)
	}
	// The sync's own refresh of alice's keys is one lookup.
	if n := lookups.Load(); n > 1 {
		return "", errorf("%d of alice's messages naming %d forged key versions: %d key lookups in one sync", msgs, forged.Load(), n)
	}
	return fmt.Sprintf("%d messages naming forged key versions: %d key lookup in the sync", forged.Load(), lookups.Load()), nil
}

// hugeSetting is the size of the group title and avatar URL the oversized
// group's creator signs.
const hugeSetting = 1 << 20

// attackGroupTitleFillsTheRecord: carol, a member of bob's group (a
// fabricated peer the server serves keys for, or a member's broken
// client), signs a title change and an avatar change of 1 MiB each (a
// plaintext title, as the SDK allows). Each was stored in bob's record of
// the group, and every listing of his conversations loads every record:
// groups so renamed (up to the 16 MiB a page allows) made Conversations
// hold megabytes per group. A group change whose title or avatar URL
// passes 4 KiB (far past any real group's) is malformed; the engine does
// not sign one either (xchat.ErrInvalidArgument).
func attackGroupTitleFillsTheRecord(w *world) (string, error) {
	gr := newGroup(w)
	title := string(bytes.Repeat([]byte("t"), hugeSetting))
	avatar := "https://example.com/" + string(bytes.Repeat([]byte("a"), hugeSetting))
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	kv := c.KeyVersion
	var b64s, mids []string
	for i, change := range []*tevent.GroupChange{
		{GroupTitleChange: &tevent.GroupTitleChange{CustomTitle: &title, ConversationKeyVersion: &kv}},
		{GroupAvatarChange: &tevent.GroupAvatarUrlChange{CustomAvatarURL: &avatar, ConversationKeyVersion: &kv}},
	} {
		env := hostile.Envelope{SequenceID: hostile.NextSequenceID(gr.hello.SequenceID, uint64(i+1)), PreviousSequenceID: hostile.NextSequenceID(gr.hello.SequenceID, uint64(i)),
			MessageID: fmt.Sprintf("0b7c1a52-2727-4c4c-8888-00000000000%d", i), ConversationID: gr.g}
		h := crypto.Header{MessageID: env.MessageID, SenderID: gr.carol.id, ConversationID: gr.g}
		var p crypto.Payload
		if i == 0 {
			p, err = crypto.GroupTitleChangePayload(crypto.SignatureVersion, h, kv, &title)
		} else {
			p, err = crypto.GroupAvatarChangePayload(crypto.SignatureVersion, h, kv, &avatar)
		}
		if err != nil {
			return "", err
		}
		me, err := gr.carol.forger().Action(env, &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: change}}, p)
		if err != nil {
			return "", err
		}
		b64, err := hostile.EncodeEvent(me)
		if err != nil {
			return "", err
		}
		b64s, mids = append(b64s, b64), append(mids, env.MessageID)
	}
	w.injectData("huge-settings", gr.g, b64s...)
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		return "", r.err
	}
	if c, err = gr.bob.e.Conversation(w.ctx, gr.g); err != nil {
		return "", err
	}
	if len(c.Title) > 4096 {
		return "", errorf("a %d-byte title change signed by a member: bob's record of the group holds a %d-byte title", len(title), len(c.Title))
	}
	var errs []string
	for _, mid := range mids {
		err, seen := r.byMessage(mid)
		if !seen || err == nil {
			return "", errorf("the oversized change %s: seen %v, err %v", mid, seen, err)
		}
		errs = append(errs, fmt.Sprintf("%.100v", err))
	}
	if _, err := gr.carol.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{gr.bob.id}, Title: title}); !errors.Is(err, xchat.ErrInvalidArgument) {
		return "", errorf("the engine signed a group create with a title of %d bytes: %v", len(title), err)
	}
	return fmt.Sprintf("%d KiB title and avatar URL changes: refused (%s)", hugeSetting>>10, strings.Join(errs, "; ")), nil
}
