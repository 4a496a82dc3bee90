package session

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// TestUnboundCreatesBounded: the creates read unbound are remembered at
// most maxUnboundCreates a group, the first read kept (one read later,
// lower or not, is reported full: stored failed at its place, see
// storedUnbound), each once; a create that failed for anything but its
// missing pair, or of a one-to-one conversation, is not remembered.
func TestUnboundCreatesBounded(t *testing.T) {
	ctx := context.Background()
	store := keystore.NewMemory()
	const cid = "g1234567890"
	create := func(seq uint64, err error) *event.Event {
		return &event.Event{SequenceID: fmt.Sprint(seq), SenderID: "42", Raw: []byte(fmt.Sprint("raw", seq)), Err: err,
			GroupChange: &event.GroupChange{Kind: event.GroupCreated, KeyVersion: "1700000000000"}}
	}
	unbound := fmt.Errorf("test: %w", errCreateUnbound)
	var fulls []string
	err := store.Update(ctx, func(tx keystore.Tx) error {
		fulls = nil
		for _, ev := range []*event.Event{
			create(1000, unbound), create(900, unbound), create(1000, unbound), create(800, unbound),
			create(700, unbound), create(600, unbound), create(1100, unbound), create(900, unbound), create(500, fmt.Errorf("test: other")),
		} {
			full, err := noteUnboundCreate(ctx, tx, cid, ev)
			if err != nil {
				return err
			}
			if full {
				fulls = append(fulls, ev.SequenceID)
			}
		}
		_, err := noteUnboundCreate(ctx, tx, "42:43", create(100, unbound))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := loadUnboundCreates(ctx, store, cid)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []string
	for _, c := range l {
		seqs = append(seqs, c.Seq)
		if c.Sender != "42" || c.Version != "1700000000000" || string(c.Raw) != "raw"+c.Seq {
			t.Errorf("create %s remembered as %+v", c.Seq, c)
		}
	}
	if fmt.Sprint(seqs) != "[700 800 900 1000]" {
		t.Errorf("remembered %v, want the first four read [700 800 900 1000]", seqs)
	}
	if fmt.Sprint(fulls) != "[600 1100]" {
		t.Errorf("reported full %v, want [600 1100]: those read past the four, once each", fulls)
	}
	if l, err := loadUnboundCreates(ctx, store, "42:43"); err != nil || len(l) != 0 {
		t.Errorf("one-to-one conversation: remembered %v (%v)", l, err)
	}
}

// TestRosterOnlyFailure: only a content event failed for its author's
// membership, and for nothing else, is judged again when a create bound
// late admits its author.
func TestRosterOnlyFailure(t *testing.T) {
	const sender = "2000"
	nm := xchat.ErrNotMember.Error() + ": "
	for _, c := range []struct {
		msg  string
		want bool
	}{
		{nm + "sender 2000 is not a member of g1", true},
		{nm + "2000 is not a member of g1: the group's create (at 5), served after this event, does not make its author a member", true},
		{nm + "2000 is not a member of g1 at its place: the group's create (at 5), bound after this event was read", true},
		{nm + "sender 3000 is not a member of g1", false},
		{nm + "2000 was removed at 7, which the server served after this event", false},
		{nm + "2000 was let in by the group change at 7, which failed once a change the server served late was read", false},
		{nm + "sender 2000 is not a member of g1; session: replayed", false},
		{nm + "sender 2000 is not a member of g1\nsession: replayed", false},
		{xchat.ErrNotAuthorized.Error() + ": sender 2000 is not a member of g1", false},
		{"", false},
	} {
		if got := rosterOnlyFailure(c.msg, sender); got != c.want {
			t.Errorf("rosterOnlyFailure(%q) = %v, want %v", c.msg, got, c.want)
		}
	}
	if rosterOnlyFailure(nm+" is not a member of g1", "") {
		t.Error("an event with no sender is listed")
	}
}

// TestUnboundCreateReplay: a verified create whose message id a create
// read unbound holds at a lower sequence id (by the same author) is a
// replay of it; one at the same or a lower sequence id, another message
// id, another author, or a create that did not verify is not.
func TestUnboundCreateReplay(t *testing.T) {
	ctx := context.Background()
	store := keystore.NewMemory()
	const cid = "g1234567890"
	raw, err := wire.Envelope{SequenceID: "1000", MessageID: "mid-create", SenderID: "42", ConversationID: cid}.Encode(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	create := func(seq, mid, sender string) *event.Event {
		return &event.Event{SequenceID: seq, MessageID: mid, SenderID: sender, Raw: raw, Verified: true,
			GroupChange: &event.GroupChange{Kind: event.GroupCreated, KeyVersion: "1700000000000"}}
	}
	first := create("1000", "mid-create", "42")
	first.Verified, first.Err = false, fmt.Errorf("test: %w", errCreateUnbound)
	if err := store.Update(ctx, func(tx keystore.Tx) error { _, err := noteUnboundCreate(ctx, tx, cid, first); return err }); err != nil {
		t.Fatal(err)
	}
	unverified := create("2000", "mid-create", "42")
	unverified.Verified = false
	check := func(name string, ev *event.Event, screened passIDs, replay bool) {
		t.Helper()
		verdict, err := unboundCreateReplay(ctx, store, cid, ev, screened)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := errors.Is(verdict, xchat.ErrReplayed); got != replay {
			t.Errorf("%s: replay %v (%v), want %v", name, got, verdict, replay)
		}
	}
	for _, c := range []struct {
		name   string
		ev     *event.Event
		replay bool
	}{
		{"above", create("2000", "mid-create", "42"), true},
		{"same place", create("1000", "mid-create", "42"), false},
		{"below", create("900", "mid-create", "42"), false},
		{"other message id", create("2000", "mid-other", "42"), false},
		{"other author", create("2000", "mid-create", "43"), false},
		{"not verified", unverified, false},
	} {
		check(c.name, c.ev, nil, c.replay)
	}
	// The create can no longer bind at its place once an event is held
	// there verified (accepted by the screening in progress, or stored):
	// the copy is no replay of it. One held there failed takes nothing.
	check("place screened verified", create("2000", "mid-create", "42"), passIDs{"mid-other": "1000"}, false)
	check("other place screened", create("2000", "mid-create", "42"), passIDs{"mid-other": "1500"}, true)
	for _, verified := range []bool{false, true} {
		err := store.Update(ctx, func(tx keystore.Tx) error {
			return tx.PutEvents(ctx, cid, []keystore.StoredEvent{{SequenceID: "1000", MessageID: "mid-other", SenderID: "42", Type: event.TypeMessage, Verified: verified, Raw: []byte("other")}})
		})
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("place stored verified %v", verified), create("2000", "mid-create", "42"), nil, !verified)
	}
	// A create stored failed unbound at its place (past the list: see
	// storedUnbound): its copy above is a replay of it.
	seq, mid, sender, version := "3000", "mid-stored", "42", "1700000000001"
	sraw, err := wire.EncodeMessageEvent(&tevent.MessageEvent{SequenceID: &seq, MessageID: &mid, SenderID: &sender,
		Detail: &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{
			GroupCreate: &tevent.GroupCreate{ConversationKeyVersion: &version}}}}})
	if err != nil {
		t.Fatal(err)
	}
	cause := fmt.Errorf("%w: %w: group create by 42", xchat.ErrRosterDivergence, errCreateUnbound)
	err = store.Update(ctx, func(tx keystore.Tx) error {
		return tx.PutEvents(ctx, cid, []keystore.StoredEvent{{SequenceID: seq, MessageID: mid, SenderID: sender, Type: event.TypeGroupChange, Error: cause.Error(), Raw: sraw}})
	})
	if err != nil {
		t.Fatal(err)
	}
	check("stored unbound, copy above", create("4000", mid, sender), nil, true)
	check("stored unbound, copy below", create("2500", mid, sender), nil, false)
	check("stored unbound, other author", create("4000", mid, "43"), nil, false)
}
