package attacks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
)

// Attacks on the server's answers to operations other than sending and
// syncing (an earlier review): the group id the server mints for a new group, and
// the conversation listing. Each answer is a server claim: it may deny
// service, never add a reader, a member or a conversation the account is
// not in.

// stripListToken removes the pagination token of a conversation listing, so
// the emulator serves its first page to a token it never issued.
func stripListToken(r *http.Request) {
	q := r.URL.Query()
	q.Del("pagination_token")
	r.URL.RawQuery = q.Encode()
}

var answerAttacks = []attack{
	{"group-id-reminted-for-existing-group", func(w *world) (string, error) {
		// bob is in alice's group g with carol. He creates a new group
		// with mallory; the server answers the initialize with g's id (and
		// acknowledges the create). Accepting it would replace g's roster
		// with {bob, mallory}: bob's next message to g would be wrapped to
		// mallory.
		gr := newGroup(w)
		bob, carol, g := gr.bob, gr.carol, gr.g
		mallory := w.newUser("mallory", false)
		w.proxy.Add(hostile.JSON("remint", http.MethodPost, `/2/chat/conversations/group/initialize`,
			func(_ *http.Request, v *api.InitializeChatGroupResponse) error {
				v.Data = &api.InitializeChatGroupData{ConversationID: g}
				return nil
			}),
			hostile.Rule{Name: "ack-create", Method: http.MethodPost, Path: `/2/chat/conversations/group`,
				Rewrite: func(_ *http.Request, resp *hostile.Response) error {
					b, err := json.Marshal(api.CreateChatConversationResponse{Data: &api.CreateChatConversationData{ConversationID: g}})
					resp.Status, resp.Body = http.StatusCreated, b
					return err
				}})
		got, cerr := bob.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{mallory.id}})
		c, err := bob.e.Conversation(w.ctx, g)
		if err != nil {
			return "", err
		}
		if slices.Contains(c.Members, mallory.id) || !slices.Contains(c.Members, carol.id) {
			return "", errorf("group %s now has members %v (create answered %q, %v)", g, c.Members, got, cerr)
		}
		if !errors.Is(cerr, xchat.ErrServerResponse) {
			return "", errorf("create on a reminted id: %q, %v; want ErrServerResponse", got, cerr)
		}
		return "refused: " + cerr.Error(), nil
	}},
	{"conversation-listing-foreign-one-to-one", func(w *world) (string, error) {
		// The listing names alice's one-to-one conversation with carol as
		// bob's: it must not be stored as a conversation of bob's, let
		// alone with a confirmed roster.
		d := newDM(w)
		carol := w.newUser("carol", false)
		foreign, err := session.CanonicalID(d.alice.id, carol.id)
		if err != nil {
			return "", err
		}
		w.proxy.Add(hostile.Conversations("foreign", func(_ *http.Request, v *api.GetChatConversationsResponse) error {
			v.Data = append(v.Data, api.ChatConversation{ID: api.ConversationPathID(foreign), Type: "one_to_one"})
			return nil
		}))
		list, err := d.bob.e.RefreshConversations(w.ctx)
		if err != nil {
			return "", err
		}
		if w.proxy.Hits("foreign") == 0 {
			return "", errorf("listing not tampered")
		}
		for _, c := range list {
			if c.ID == foreign {
				return "", errorf("listed %s stored as bob's (members %v, roster %s)", foreign, c.Members, c.Roster)
			}
		}
		if _, err := d.bob.e.Conversation(w.ctx, foreign); !errors.Is(err, xchat.ErrUnknownConversation) {
			return "", errorf("Conversation(%s): %v, want ErrUnknownConversation", foreign, err)
		}
		return fmt.Sprintf("ignored: %d conversations stored, %s not among them", len(list), foreign), nil
	}},
	{"conversation-listing-endless-fresh-tokens", func(w *world) (string, error) {
		// Every page of the listing claims more under a token never seen.
		d := newDM(w)
		var n atomic.Int64
		const limit = 300
		w.proxy.Add(hostile.Rule{Name: "endless", Method: http.MethodGet, Path: hostile.PathConversations, Times: limit,
			Request: stripListToken,
			Rewrite: hostile.Conversations("", func(_ *http.Request, v *api.GetChatConversationsResponse) error {
				if v.Meta == nil {
					v.Meta = &api.ChatConversationsMeta{}
				}
				v.Meta.HasMore, v.Meta.NextToken = true, fmt.Sprintf("fresh-%d", n.Add(1))
				return nil
			}).Rewrite})
		_, err := d.bob.e.RefreshConversations(w.ctx)
		pages := w.proxy.Hits("endless")
		if pages >= limit {
			return "", errorf("engine followed %d pages of the same listing (err %v)", pages, err)
		}
		if !errors.Is(err, xchat.ErrServerResponse) {
			return "", errorf("stopped after %d pages with %v, want ErrServerResponse", pages, err)
		}
		return fmt.Sprintf("stopped after %d pages: %v", pages, err), nil
	}},
	{"key-substituted-while-safety-number-compared", func(w *world) (string, error) {
		// bob (strict) reads alice's safety number out to her; it matches.
		// While they compare, the server publishes mallory's keys as
		// alice's newer ones and bob's app syncs. bob then confirms what he
		// compared: the substituted keys must not become verified.
		alice := w.newUser("alice", false)
		bob := w.newUser("bob", true, session.WithTrustPolicy(session.TrustStrict))
		s := alice.send(bob.id, "hello")[0]
		sn, err := bob.e.SafetyNumber(w.ctx, alice.id)
		if err != nil {
			return "", err
		}
		theirs, err := alice.e.SafetyNumber(w.ctx, bob.id)
		if err != nil || theirs != sn {
			return "", errorf("honest safety numbers differ: %q vs %q (%v)", sn, theirs, err)
		}
		mallory := w.newUser("mallory", false)
		sub := w.publishedKeys(mallory)
		sub.PublicKeyVersion = futureVersion()
		w.substituteKeys("swap-keys", alice.id, sub)
		if r := bob.sync(s.ConversationID); r.err != nil {
			return "", r.err
		}
		verr := confirmSafetyNumber(bob, alice.id, sn)
		p, err := bob.e.Peer(w.ctx, alice.id)
		if err != nil {
			return "", err
		}
		for _, k := range p.History {
			if k.Version == sub.PublicKeyVersion && (k.Verified || k.Pinned) {
				return "", errorf("substituted keys %s marked verified=%v pinned=%v after confirming the compared number (%v)", k.Version, k.Verified, k.Pinned, verr)
			}
		}
		if !errors.Is(verr, xchat.ErrKeyChanged) {
			return "", errorf("confirming a stale safety number: %v, want ErrKeyChanged", verr)
		}
		if _, err := bob.e.Rotate(w.ctx, s.ConversationID); !errors.Is(err, xchat.ErrKeyChanged) {
			return "", errorf("Rotate after the refused confirmation: %v, want ErrKeyChanged", err)
		}
		if w.unwrappable(alice, api.ConversationPathID(s.ConversationID), mallory) {
			return "", errorf("a conversation key was wrapped to the substituted key")
		}
		return "refused: " + verr.Error(), nil
	}},
}

// confirmSafetyNumber records that the user compared sn with userID, as
// an app that showed the number does.
func confirmSafetyNumber(u *user, userID, sn string) error {
	return u.e.Verify(u.w.ctx, userID, sn)
}

// verifyPeer has u compare userID's safety number as it is now and confirm
// it: the whole of a user's verification, with no server change between.
func verifyPeer(u *user, userID string) error {
	sn, err := u.e.SafetyNumber(u.w.ctx, userID)
	if err != nil {
		return err
	}
	return confirmSafetyNumber(u, userID, sn)
}

var pushRosterAttacks = []attack{
	{"pushed-backdated-message-of-removed-member", func(w *world) (string, error) {
		// As removed-member-backdated-message, but the message of carol,
		// removed, is pushed with a sequence id before her removal.
		said := "carol, after her removal, pushed backdated"
		gr, msg, err := backdatedAfterRemoval(w, said)
		if err != nil {
			return "", err
		}
		ev, err := pushOf(gr.bob, "backdated-1", msg, "", nil)
		if err != nil {
			return "", err
		}
		_, handed, err := gr.bob.deliver(ev)
		if err != nil {
			return "", err
		}
		if err := gr.bob.forgedShown(gr.g, []string{msg.GetMessageID()}, []string{said}); err != nil {
			return "", errorf("pushed backdated message of a removed member accepted: %w", err)
		}
		for _, h := range handed {
			if h.MessageID == msg.GetMessageID() {
				if !errors.Is(h.Err, xchat.ErrNotMember) {
					return "", errorf("pushed backdated message: %v, want ErrNotMember", h.Err)
				}
				return "rejected: " + h.Err.Error(), nil
			}
		}
		return "", errorf("pushed backdated message not reported (%d handed)", len(handed))
	}},
}
