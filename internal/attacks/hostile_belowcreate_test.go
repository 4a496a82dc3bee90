package attacks

import (
	"fmt"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks: content by someone who was never a member, placed by the
// server below the group's create (sequence ids are unsigned), where no
// roster is held yet; and a member's content moved there, which must stand.

var belowCreateAttacks = []attack{
	{"outsider-message-below-create-verifies", func(w *world) (string, error) { return attackOutsiderBelowCreate(w, belowCreateOneSync) }},
	{"outsider-message-below-stored-create-verifies", func(w *world) (string, error) { return attackOutsiderBelowCreate(w, belowCreateStoredFirst) }},
	{"member-message-moved-below-create-stays-verified", func(w *world) (string, error) { return memberMessageBelowCreate(w, belowCreateOneSync) }},
	{"member-message-moved-below-create-served-late-stays-verified", func(w *world) (string, error) { return memberMessageBelowCreate(w, belowCreateServedLate) }},
}

// belowCreateServe is how the server serves the content placed below the
// create.
type belowCreateServe int

const (
	belowCreateOneSync     belowCreateServe = iota // with the whole history in one sync
	belowCreateStoredFirst                         // after a sync that stored the history and its create
	belowCreateServedLate                          // alone, before a sync that serves the create
	belowCreateLaterPage                           // alone on the oldest page of a sync whose newer page serves the create
)

// attackOutsiderBelowCreate: mallory, never a member but a real user with a
// registered signing key, distributes a key of her own (wrapped to alice,
// bob, carol and herself) and says something under it; the server places
// both below the group's create, where no roster is held yet, and serves
// them as serve says. Read before any roster, the roster step admitted
// every author: bob's device (and a fresh one) showed mallory's message
// as verified in a group she never belonged to. Nothing comes before a
// group's create: an event below it must be by one of its signed members
// (or its creator); the outsider's message must fail and her key must not
// become the group's.
func attackOutsiderBelowCreate(w *world, serve belowCreateServe) (string, error) {
	h := newBareHistory(w)
	h.readServer()
	h.say(h.alice, "alice in the group")
	first, kc, key, version, err := outsiderKeyBelowAll(h)
	if err != nil {
		return "", err
	}
	e := h.env()
	e.SequenceID = prevSeq(first, 3)
	msg, err := h.mallory.forger().Message(e, version, key, text("mallory before the group existed"))
	if err != nil {
		return "", err
	}
	h.seal()
	m, err := belowCreateRounds(h, []*tevent.MessageEvent{kc, msg}, serve)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	o := hs.run(w.t, m)
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the sync: %v", o.syncErrs)
	case o.verified[msg.GetMessageID()] || o.handed[msg.GetMessageID()]:
		return "", errorf("mallory's message below the create verified (kept by a fresh device: %v)", o.kept)
	case o.conv.KeyVersion == version:
		return "", errorf("mallory's key (version %s), distributed below the create, is the group's key for new messages", version)
	}
	return fmt.Sprintf("mallory's message below the create fails (%v)", o.failed[msg.GetMessageID()]), nil
}

// memberMessageBelowCreate: carol (one of the members the create signs)
// speaks, and the server moves the group's create above everything
// (sequence ids are unsigned), serving it as serve says (served late: a
// first sync gets everything but the create). The server may move an
// honest create so: carol's message must still verify, on bob's device as
// on a fresh one, however the create is served.
func memberMessageBelowCreate(w *world, serve belowCreateServe) (string, error) {
	h := newBareHistory(w)
	h.readServer()
	h.say(h.alice, "alice in the group")
	h.say(h.carol, "carol, placed below the create")
	mid := h.items[len(h.items)-1].me.GetMessageID()
	if err := moveCreateToTop(h); err != nil {
		return "", err
	}
	h.seal()
	whole, err := pageOf(h, nil, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	m := oneRound(whole)
	if serve == belowCreateServedLate || serve == belowCreateLaterPage {
		create := h.top()
		first, err := pageOf(h, nil, func(seq string) bool { return seq != create })
		if err != nil {
			return "", err
		}
		m = lateRounds(first, whole)
		if serve == belowCreateLaterPage {
			last, err := pageOf(h, nil, func(seq string) bool { return seq == create })
			if err != nil {
				return "", err
			}
			m = twoPages(last, first)
		}
	}
	hs := startHarness(w.t, h)
	o := hs.run(w.t, m)
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case !o.verified[mid]:
		return "", errorf("carol's message below the create failed: %v (sync errors %v)", o.failed[mid], o.syncErrs)
	}
	return "carol's message below the create verifies: the create signs her a member", nil
}

// lowestSeq returns the lowest sequence id of h's items.
func lowestSeq(h *history) string {
	first := ""
	for _, it := range h.items {
		if first == "" || decimal.Less(it.seq(), first) {
			first = it.seq()
		}
	}
	return first
}

// outsiderKeyBelowAll has mallory (never a member) distribute a key of her
// own to alice, bob, carol and herself, placed 5 below the lowest event of
// h (below the group's create); it returns that lowest sequence id, her
// key change, the key and its version.
func outsiderKeyBelowAll(h *history) (first string, kc *tevent.MessageEvent, key *crypto.ConversationKey, version string, err error) {
	first = lowestSeq(h)
	if key, err = crypto.NewConversationKey(nil); err != nil {
		return "", nil, nil, "", err
	}
	h.malloryKeys = append(h.malloryKeys, key)
	version = h.nextVersion(1000)
	e := h.env()
	e.SequenceID = prevSeq(first, 5)
	kc, err = h.mallory.forger().KeyChange(e, version, key,
		[]hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.mallory.recipient()})
	return first, kc, key, version, err
}

// belowCreateRounds serves h's history with extra (placed below the
// create) as serve says.
func belowCreateRounds(h *history, extra []*tevent.MessageEvent, serve belowCreateServe) (*mutation, error) {
	whole, err := pageOf(h, extra, func(string) bool { return true })
	if err != nil {
		return nil, err
	}
	var first mutPage
	switch serve {
	case belowCreateOneSync:
		return oneRound(whole), nil
	case belowCreateStoredFirst:
		first, err = pageOf(h, nil, func(string) bool { return true })
	case belowCreateLaterPage:
		below, err := pageOf(h, extra, func(string) bool { return false })
		if err != nil {
			return nil, err
		}
		history, err := pageOf(h, nil, func(string) bool { return true })
		if err != nil {
			return nil, err
		}
		return twoPages(history, below), nil
	default:
		first, err = pageOf(h, extra, func(string) bool { return false })
	}
	if err != nil {
		return nil, err
	}
	return lateRounds(first, whole), nil
}

// twoPages serves newer and older (whose sequence ranges do not overlap)
// to one sync as two pages, newest first: the sync stages them and stores
// older first.
func twoPages(newer, older mutPage) *mutation {
	return &mutation{rounds: [][]mutPage{{newer, older}}, pushes: make([][]*tevent.MessageEvent, 2), kcs: map[string]string{}}
}
