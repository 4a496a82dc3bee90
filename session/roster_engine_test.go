package session

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

func conv(t *testing.T, u *testUser, gid string) *Conversation {
	t.Helper()
	c, err := u.e.Conversation(ctxT(t), gid)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustSync(t *testing.T, u *testUser, gid string) *SyncResult {
	t.Helper()
	res, err := u.e.Sync(ctxT(t), gid, nil)
	if err != nil {
		t.Fatalf("%s syncs: %v", u.name, err)
	}
	return res
}

// TestRosterAuthorityAndConfirmation follows one group through the views
// of its members: the admins a create lists besides its creator are only
// claimed, the member a claimed admin adds is unconfirmed, a late joiner's
// roster is unconfirmed before its join, and a confirmed admin's add
// confirms everything it signs.
func TestRosterAuthorityAndConfirmation(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob, carol, dave, erin := n.user("alice"), n.user("bob"), n.user("carol"), n.user("dave"), n.user("erin")
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}, Admins: []string{alice.id, bob.id}})
	if err != nil {
		t.Fatal(err)
	}
	if c := conv(t, alice, g); c.Roster != RosterConfirmed || !slices.Equal(c.Admins, normaliseIDs([]string{alice.id, bob.id})) {
		t.Fatalf("creator's own view %+v", c)
	}
	if res := mustSync(t, carol, g); res.Roster != RosterUnconfirmed {
		t.Fatalf("carol after the create: roster %s", res.Roster)
	}
	if c := conv(t, carol, g); !slices.Equal(c.Admins, []string{alice.id}) || !slices.Equal(c.ClaimedAdmins, []string{bob.id}) || len(c.UnconfirmedMembers) != 0 {
		t.Fatalf("carol's view after the create %+v", c)
	}
	if err := bob.e.AddMembers(ctx, g, dave.id); err != nil {
		t.Fatal(err)
	}
	mustSync(t, carol, g)
	if c := conv(t, carol, g); len(c.Members) != 4 || !slices.Equal(c.UnconfirmedMembers, []string{dave.id}) || c.Roster != RosterUnconfirmed {
		t.Fatalf("carol's view after bob's add %+v", c)
	}
	mustSync(t, alice, g)
	if c := conv(t, alice, g); c.Roster != RosterConfirmed || len(c.Members) != 4 {
		t.Fatalf("alice's view after bob's add %+v", c)
	}
	res := mustSync(t, dave, g)
	c := conv(t, dave, g)
	if res.Roster != RosterUnconfirmed || c.RosterSince == "" || res.RosterSince != c.RosterSince || len(c.Members) != 4 ||
		len(c.Admins) != 0 || len(c.UnconfirmedMembers) != 3 {
		t.Fatalf("late joiner's view %+v (result %s since %q)", c, res.Roster, res.RosterSince)
	}
	// alice, a confirmed admin, signs the whole roster: carol's view is
	// confirmed, bob's authority and dave's place with it.
	if err := alice.e.AddMembers(ctx, g, erin.id); err != nil {
		t.Fatal(err)
	}
	if res := mustSync(t, carol, g); res.Roster != RosterConfirmed {
		t.Fatalf("carol after alice's add: %s", res.Roster)
	}
	if c := conv(t, carol, g); len(c.Members) != 5 || len(c.ClaimedAdmins) != 0 || !slices.Equal(c.Admins, normaliseIDs([]string{alice.id, bob.id})) {
		t.Fatalf("carol's view after alice's add %+v", c)
	}
	if res := mustSync(t, dave, g); res.Roster != RosterUnconfirmed {
		t.Fatalf("a late joiner stays unconfirmed before its join: %s", res.Roster)
	}
}

// TestRosterStrictRefusesUnconfirmed: under TrustStrict no key is wrapped
// to a member the roster does not confirm, even with every peer verified.
func TestRosterStrictRefusesUnconfirmed(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob, dave, erin := n.user("alice"), n.user("bob"), n.user("dave"), n.user("erin")
	carol := n.user("carol", WithTrustPolicy(TrustStrict))
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}, Admins: []string{alice.id, bob.id}})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, bob, g)
	if err := bob.e.AddMembers(ctx, g, dave.id); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*testUser{alice, bob, dave} {
		if err := carol.e.Verify(ctx, u.id, safetyNumberOf(t, carol.e, u.id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := carol.e.Rotate(ctx, g); !errors.Is(err, xchat.ErrRosterUnconfirmed) || !strings.Contains(err.Error(), dave.id) {
		t.Fatalf("strict rotation to an unconfirmed member: %v", err)
	}
	if err := alice.e.AddMembers(ctx, g, erin.id); err != nil {
		t.Fatal(err)
	}
	if err := carol.e.Verify(ctx, erin.id, safetyNumberOf(t, carol.e, erin.id)); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.e.Rotate(ctx, g); err != nil {
		t.Fatalf("strict rotation once a confirmed admin signed the roster: %v", err)
	}
}

// dropGroupChanges serves every page without its group changes.
type dropGroupChanges struct{ Server }

func (d *dropGroupChanges) GetConversationEvents(ctx context.Context, cid string, max int, tok string) (*api.GetChatConversationEventsResponse, error) {
	resp, err := d.Server.GetConversationEvents(ctx, cid, max, tok)
	if err != nil {
		return resp, err
	}
	resp.Data = slices.DeleteFunc(resp.Data, func(e api.ChatMessageEvent) bool { return isGroupChange(e.EncodedEvent) })
	return resp, nil
}

// TestRosterUnknownRefusesWrap: with every group change withheld the roster
// is unknown: messages still read, but nothing is sent or wrapped to the
// group (nothing signed says who holds the key held: its maker chose).
func TestRosterUnknownRefusesWrap(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, carol := n.user("alice"), n.user("carol")
	bob := n.userWith("bob", func(s Server) Server { return &dropGroupChanges{s} })
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.e.SendText(ctx, g, "hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.RefreshConversations(ctx); err != nil {
		t.Fatal(err)
	}
	res := mustSync(t, bob, g)
	if res.Roster != RosterUnknown || !slices.Equal(texts(res.Entries), []string{"hello"}) {
		t.Fatalf("sync without group changes: roster %s, texts %v", res.Roster, texts(res.Entries))
	}
	c := conv(t, bob, g)
	if len(c.Members) != 0 || len(c.ServerMembers) != 3 || c.Roster != RosterUnknown {
		t.Fatalf("conversation %+v", c)
	}
	if _, err := bob.e.Rotate(ctx, g); !errors.Is(err, xchat.ErrRosterUnknown) {
		t.Fatalf("rotation with the roster unknown: %v", err)
	}
	if _, err := bob.e.SendText(ctx, g, "still talking"); !errors.Is(err, xchat.ErrRosterUnknown) {
		t.Fatalf("send with the roster unknown: %v", err)
	}
}

// TestReceiveCreateBeforeItsKeyChange: a create delivered out of band
// before its paired key change is not stored, so a later Sync binds it.
func TestReceiveCreateBeforeItsKeyChange(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob, carol := n.user("alice"), n.user("bob"), n.user("carol")
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := bob.server.GetConversationEvents(ctx, api.ConversationPathID(g), 10, "")
	if err != nil {
		t.Fatal(err)
	}
	var create string
	for _, d := range resp.Data {
		if isGroupChange(d.EncodedEvent) {
			create = d.EncodedEvent
		}
	}
	ev, err := bob.e.receive(ctx, create)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Warnings) == 0 || !errors.Is(ev.Warnings[0], xchat.ErrRosterUnknown) || !errors.Is(ev.Err, xchat.ErrRosterDivergence) {
		t.Fatalf("create before its key change: err %v, warnings %v", ev.Err, ev.Warnings)
	}
	if h, err := bob.e.History(ctx, g, "", 0); err != nil || len(h) != 0 {
		t.Fatalf("history after the early create: %v, %v", h, err)
	}
	if res := mustSync(t, bob, g); res.Roster != RosterConfirmed || len(res.Anomalies) != 0 {
		t.Fatalf("sync after the early create: %s, anomalies %v", res.Roster, res.Anomalies)
	}
}

// TestSyncStagesPagesOldestFirst: a sync of many pages leaves no staged
// page behind and follows the roster across them.
func TestSyncStagesPagesOldestFirst(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, carol, dave := n.user("alice"), n.user("carol"), n.user("dave")
	bob := n.user("bob", WithPageSize(1))
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.e.AddMembers(ctx, g, dave.id); err != nil {
		t.Fatal(err)
	}
	if _, err := dave.e.SendText(ctx, g, "dave here"); err != nil {
		t.Fatal(err)
	}
	res := mustSync(t, bob, g)
	if res.Roster != RosterConfirmed || !slices.Equal(texts(res.Entries), []string{"dave here"}) || res.Failed != 0 {
		t.Fatalf("paged sync: roster %s, texts %v, failed %d, anomalies %v", res.Roster, texts(res.Entries), res.Failed, res.Anomalies)
	}
	for i := 1; i <= 3; i++ {
		if _, err := bob.store.Value(ctx, stageKey(g, i)); err == nil {
			t.Fatalf("staged page %d left behind", i)
		}
	}
}

// isGroupChange reports whether a base64 envelope carries a group change.
func isGroupChange(b64 string) bool {
	raw, err := wire.DecodeB64(b64)
	if err != nil {
		return false
	}
	me, err := wire.DecodeMessageEvent(raw)
	return err == nil && me.Detail != nil && me.Detail.GroupChangeEvent != nil
}

// stripKeyChange serves pages without the key change of one version.
type stripKeyChange struct {
	Server
	version string
}

func (s *stripKeyChange) GetConversationEvents(ctx context.Context, cid string, max int, tok string) (*api.GetChatConversationEventsResponse, error) {
	resp, err := s.Server.GetConversationEvents(ctx, cid, max, tok)
	if err != nil || resp.Meta == nil {
		return resp, err
	}
	resp.Meta.ConversationKeyEvents = slices.DeleteFunc(resp.Meta.ConversationKeyEvents, func(b64 string) bool {
		raw, err := wire.DecodeB64(b64)
		if err != nil {
			return false
		}
		me, err := wire.DecodeMessageEvent(raw)
		return err == nil && me.Detail != nil && me.Detail.ConversationKeyChangeEvent.GetConversationKeyVersion() == s.version
	})
	return resp, nil
}

// TestRosterCreatePairWithheld: a server that never serves the key change
// made with the create leaves it unbound: it is reported, and the roster
// starts, unconfirmed, from the first member add naming this account.
func TestRosterCreatePairWithheld(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, carol, dave := n.user("alice"), n.user("carol"), n.user("dave")
	strip := &stripKeyChange{}
	bob := n.userWith("bob", func(s Server) Server { strip.Server = s; return strip })
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}})
	if err != nil {
		t.Fatal(err)
	}
	strip.version = conv(t, alice, g).KeyVersion
	if _, err := alice.e.SendText(ctx, g, "under the first key"); err != nil {
		t.Fatal(err)
	}
	res := mustSync(t, bob, g)
	if res.Roster != RosterUnknown || len(res.Anomalies) == 0 || res.Anomalies[0].Kind != event.AnomalyCreateRejected {
		t.Fatalf("create without its pair: roster %s, anomalies %v", res.Roster, res.Anomalies)
	}
	if err := alice.e.AddMembers(ctx, g, dave.id); err != nil {
		t.Fatal(err)
	}
	res = mustSync(t, bob, g)
	c := conv(t, bob, g)
	if res.Roster != RosterUnconfirmed || c.RosterSince == "" || len(c.Members) != 4 || !slices.Equal(c.ClaimedAdmins, []string{alice.id}) {
		t.Fatalf("roster from the first add naming bob: %s, %+v", res.Roster, c)
	}
}

// TestUnvouchedKeyIsReplaced: a group's newest key made by a user the
// signed roster does not name (as one adopted while the roster was still
// unknown) never encrypts: the next send makes a new key for the roster.
func TestUnvouchedKeyIsReplaced(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob, carol, mallory := n.user("alice"), n.user("bob"), n.user("carol"), n.user("mallory")
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}})
	if err != nil {
		t.Fatal(err)
	}
	if res := mustSync(t, bob, g); res.Roster != RosterConfirmed {
		t.Fatalf("roster %s", res.Roster)
	}
	forged, err := crypto.NewConversationKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	version := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	if err := bob.store.Update(ctx, func(tx keystore.Tx) error {
		return tx.PutConversationKey(ctx, keystore.ConversationKey{ConversationID: g, Version: version,
			Key: keystore.SecretKey(*forged), Verified: true, CreatedBy: mallory.id})
	}); err != nil {
		t.Fatal(err)
	}
	sent, err := bob.e.SendText(ctx, g, "for the group only")
	if err != nil {
		t.Fatal(err)
	}
	if sent.KeyVersion == version {
		t.Fatalf("sent under the key %s made by %s, who is not on the roster", version, mallory.id)
	}
	k, err := bob.store.ConversationKey(ctx, g, sent.KeyVersion)
	if err != nil {
		t.Fatal(err)
	}
	k.Key.Zero()
	if k.CreatedBy != bob.id || decimal.Less(sent.KeyVersion, version) {
		t.Fatalf("sent under version %s made by %s; want a new key of bob's above %s", sent.KeyVersion, k.CreatedBy, version)
	}
	res := mustSync(t, carol, g)
	if got := texts(res.Entries); !slices.Contains(got, "for the group only") {
		t.Fatalf("carol reads %v", got)
	}
}

// TestDeleteForAllRefusesGroupChanges: an admin cannot delete for everyone
// the record of her own group change (or the key change made with it): a
// delete for everyone removes messages only.
func TestDeleteForAllRefusesGroupChanges(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob, carol := n.user("alice"), n.user("bob"), n.user("carol")
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id}})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.e.AddMembers(ctx, g, carol.id); err != nil {
		t.Fatal(err)
	}
	mustSync(t, alice, g)
	h := testutil.Must(alice.e.History(ctx, g, "", 0))(t)
	var changes int
	for _, en := range h {
		if en.Type != event.TypeGroupChange && en.Type != event.TypeKeyChange {
			continue
		}
		changes++
		if err := alice.e.DeleteMessages(ctx, g, []string{en.SequenceID}, true); !errors.Is(err, xchat.ErrNotAuthorized) {
			t.Fatalf("delete for everyone of own %s %s: %v", en.Type, en.SequenceID, err)
		}
	}
	if changes < 2 {
		t.Fatalf("%d group and key changes in alice's history", changes)
	}
	if out := testutil.Must(alice.e.Outbox(ctx))(t); len(out) != 0 {
		t.Fatalf("refused deletes queued: %+v", out)
	}
}

// A live group send that crosses an add its author had not synced is
// refused for its stale key and sealed again for the group as it is then,
// within the call: only a queued send retried in a later call keeps the
// audience it was written for (checkAudience; attack
// stale-reseal-widens-audience).
func TestLiveSendCrossingAddSealedAgain(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob, carol, dave := n.user("alice"), n.user("bob"), n.user("carol"), n.user("dave")
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := carol.e.Sync(ctx, g, nil); err != nil {
		t.Fatal(err)
	}
	before, err := carol.e.Conversation(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.e.AddMembers(ctx, g, dave.id); err != nil {
		t.Fatal(err)
	}
	s, err := carol.e.SendText(ctx, g, "after the add")
	if err != nil {
		t.Fatalf("live send across the add: %v", err)
	}
	if s.Entry == nil || !s.Entry.Verified {
		t.Fatalf("sent %+v", s)
	}
	after, err := carol.e.Conversation(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if after.KeyVersion == before.KeyVersion {
		t.Fatalf("the send stayed under key %s: it never crossed the add", before.KeyVersion)
	}
	if _, err := dave.e.Sync(ctx, g, nil); err != nil {
		t.Fatal(err)
	}
	hist, err := dave.e.History(ctx, g, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range hist {
		if en.MessageID == s.MessageID && en.Verified {
			return
		}
	}
	t.Fatalf("dave, added before the send reached the server, cannot read it (%d entries)", len(hist))
}
