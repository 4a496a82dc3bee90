package interop

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/xchat-go/xchat/interop/peer"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

type sdkGroupChange struct {
	ChangeType string   `json:"change_type"`
	MemberIDs  []string `json:"member_ids"`
}

// groupEvents returns the SDK's verified key changes and group changes.
func groupEvents(t *testing.T, r *sdkSync) (kcs, gcs []*peer.Event) {
	t.Helper()
	for i := range r.Events {
		ev := &r.Events[i]
		switch ev.Type {
		case "keyChange":
			kcs = append(kcs, ev)
		case "groupChange":
			gcs = append(gcs, ev)
		}
	}
	return kcs, gcs
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// --- 12: group create with three members ---

func groupCreateO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us := s.newOurs(t, "ours")
	o1, o2 := s.newOfficial(t, "official1"), s.newOfficial(t, "official2")
	gid, err := us.e.CreateGroup(ctx, session.GroupOptions{Members: []string{o1.id, o2.id}})
	if err != nil {
		t.Fatalf("engine CreateGroup: %v", err)
	}
	hello, err := us.e.SendText(ctx, gid, "hello group")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []*official{o1, o2} {
		r := o.sync(t, gid, nil)
		if len(r.Errors) > 0 {
			t.Errorf("SDK member %s rejected: %+v", o.id, r.Errors)
		}
		kcs, gcs := groupEvents(t, r)
		if len(kcs) != 1 || len(gcs) != 1 {
			t.Fatalf("SDK member %s saw %d key changes and %d group changes, want 1 and 1", o.id, len(kcs), len(gcs))
		}
		verifiedEvent(t, kcs[0])
		verifiedEvent(t, gcs[0])
		var gc sdkGroupChange
		if err := json.Unmarshal(gcs[0].Change, &gc); err != nil {
			t.Fatalf("group change %s: %v", gcs[0].Raw, err)
		}
		if gc.ChangeType != "created" || !sameSet(gc.MemberIDs, []string{us.id, o1.id, o2.id}) {
			t.Errorf("SDK read group change %s", gcs[0].Change)
		}
		m := r.message(t, hello.MessageID)
		verifiedEvent(t, m)
		if m.Content == nil || m.Content.Text != "hello group" || m.KeyVersion != kcs[0].KeyVersion {
			t.Errorf("SDK read %s", m.Raw)
		}
	}
	// Members answer in the group and we read them.
	a := o1.send(t, gid, map[string]any{"text": "hi from member 1"})
	e := entry(t, syncOurs(t, s, us, gid), a.MessageID)
	verifiedMessage(t, e)
}

func groupCreateF2O(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	them := s.newOfficial(t, "official")
	u1, u2 := s.newOurs(t, "ours1"), s.newOurs(t, "ours2")
	var g struct {
		ConversationID   string `json:"conversationId"`
		KeyVersion       string `json:"keyVersion"`
		ActionSignatures int    `json:"actionSignatures"`
	}
	them.call(t, "app.createGroup", map[string]any{"memberIds": []string{u1.id, u2.id}}, &g)
	if g.ActionSignatures != 2 {
		t.Errorf("SDK prepared %d action signatures, want 2", g.ActionSignatures)
	}
	hello := them.send(t, g.ConversationID, map[string]any{"text": "hello group"})
	for _, u := range []*ours{u1, u2} {
		if _, err := u.e.RefreshConversations(ctx); err != nil {
			t.Fatalf("engine RefreshConversations: %v", err)
		}
		h := syncOurs(t, s, u, g.ConversationID)
		var kc, gc *event.Entry
		for i := range h {
			switch h[i].Type {
			case event.TypeKeyChange:
				kc = &h[i]
			case event.TypeGroupChange:
				gc = &h[i]
			}
		}
		if kc == nil || gc == nil {
			t.Fatalf("engine %s stored key change %v, group change %v", u.id, kc != nil, gc != nil)
		}
		verifiedMessage(t, kc)
		verifiedMessage(t, gc)
		if kc.KeyVersion != g.KeyVersion {
			t.Errorf("engine key version %s, SDK's %s", kc.KeyVersion, g.KeyVersion)
		}
		if gc.Group == nil {
			t.Errorf("engine group change without detail: %+v", gc)
		}
		e := entry(t, h, hello.MessageID)
		verifiedMessage(t, e)
		if e.Text != "hello group" || e.KeyVersion != g.KeyVersion {
			t.Errorf("engine read %+v", e)
		}
		c, err := u.e.Conversation(ctx, g.ConversationID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameSet(c.Members, []string{them.id, u1.id, u2.id}) {
			t.Errorf("engine roster %v", c.Members)
		}
	}
	// A member answers and the creator reads it.
	a, err := u1.e.SendText(ctx, g.ConversationID, "hi from member 1")
	if err != nil {
		t.Fatalf("engine SendText to the SDK's group: %v", err)
	}
	m := them.sync(t, g.ConversationID, nil).message(t, a.MessageID)
	verifiedEvent(t, m)
}

// --- 13: member add with key rotation; messages under both versions ---

func groupAddO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us := s.newOurs(t, "ours")
	o1, o2 := s.newOfficial(t, "official1"), s.newOfficial(t, "newcomer")
	gid, err := us.e.CreateGroup(ctx, session.GroupOptions{Members: []string{o1.id}})
	if err != nil {
		t.Fatalf("engine CreateGroup: %v", err)
	}
	old, err := us.e.SendText(ctx, gid, "before the add")
	if err != nil {
		t.Fatal(err)
	}
	if err := us.e.AddMembers(ctx, gid, o2.id); err != nil {
		t.Fatalf("engine AddMembers: %v", err)
	}
	nw, err := us.e.SendText(ctx, gid, "after the add")
	if err != nil {
		t.Fatal(err)
	}
	if nw.KeyVersion == old.KeyVersion {
		t.Fatal("AddMembers did not rotate the key")
	}
	r := o1.sync(t, gid, nil)
	if len(r.Errors) > 0 {
		t.Errorf("SDK member rejected: %+v", r.Errors)
	}
	_, gcs := groupEvents(t, r)
	var added bool
	for _, gc := range gcs {
		verifiedEvent(t, gc)
		var c sdkGroupChange
		if err := json.Unmarshal(gc.Change, &c); err != nil {
			t.Fatal(err)
		}
		if c.ChangeType == "membersAdded" && slices.Contains(c.MemberIDs, o2.id) {
			added = true
		}
	}
	if !added {
		t.Errorf("SDK saw no verified membersAdded for %s", o2.id)
	}
	for _, w := range []*session.Sent{old, nw} {
		m := r.message(t, w.MessageID)
		verifiedEvent(t, m)
		if m.KeyVersion != w.KeyVersion {
			t.Errorf("SDK read %s under %s, sent under %s", w.MessageID, m.KeyVersion, w.KeyVersion)
		}
	}
	// The newcomer reads what was sent after the add.
	r2 := o2.sync(t, gid, nil)
	m := r2.message(t, nw.MessageID)
	verifiedEvent(t, m)
	if m.Content == nil || m.Content.Text != "after the add" {
		t.Errorf("newcomer read %s", m.Raw)
	}
}

func groupAddF2O(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	them := s.newOfficial(t, "official")
	u1, u2 := s.newOurs(t, "ours1"), s.newOurs(t, "newcomer")
	var g struct {
		ConversationID string `json:"conversationId"`
		KeyVersion     string `json:"keyVersion"`
	}
	them.call(t, "app.createGroup", map[string]any{"memberIds": []string{u1.id}}, &g)
	old := them.send(t, g.ConversationID, map[string]any{"text": "before the add"})
	var add struct {
		KeyVersion       string `json:"keyVersion"`
		ActionSignatures int    `json:"actionSignatures"`
	}
	them.call(t, "app.addMembers", map[string]any{"conversationId": g.ConversationID, "memberIds": []string{u2.id}}, &add)
	if add.KeyVersion == g.KeyVersion || add.ActionSignatures != 2 {
		t.Errorf("SDK add: key %s (was %s), %d action signatures", add.KeyVersion, g.KeyVersion, add.ActionSignatures)
	}
	nw := them.send(t, g.ConversationID, map[string]any{"text": "after the add"})
	if nw.KeyVersion != add.KeyVersion {
		t.Errorf("SDK sent under %s after rotating to %s", nw.KeyVersion, add.KeyVersion)
	}
	if _, err := u1.e.RefreshConversations(ctx); err != nil {
		t.Fatal(err)
	}
	h := syncOurs(t, s, u1, g.ConversationID)
	for _, w := range []*sent{old, nw} {
		e := entry(t, h, w.MessageID)
		verifiedMessage(t, e)
		if e.KeyVersion != w.KeyVersion {
			t.Errorf("engine read %s under %s, sent under %s", w.MessageID, e.KeyVersion, w.KeyVersion)
		}
	}
	var added bool
	for _, e := range h {
		if e.Type == event.TypeGroupChange && e.Verified && e.Group != nil {
			added = true
		}
	}
	if !added {
		t.Error("engine stored no verified group change")
	}
	c, err := u1.e.Conversation(ctx, g.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(c.Members, []string{them.id, u1.id, u2.id}) || c.KeyVersion != add.KeyVersion {
		t.Errorf("engine conversation after add: members %v key %s", c.Members, c.KeyVersion)
	}
	// The newcomer reads what was sent after the add, and can answer.
	if _, err := u2.e.RefreshConversations(ctx); err != nil {
		t.Fatal(err)
	}
	e := entry(t, syncOurs(t, s, u2, g.ConversationID), nw.MessageID)
	verifiedMessage(t, e)
	a, err := u2.e.SendText(ctx, g.ConversationID, "newcomer here")
	if err != nil {
		t.Fatalf("newcomer SendText: %v", err)
	}
	if a.KeyVersion != add.KeyVersion {
		t.Errorf("newcomer sent under %s, want %s", a.KeyVersion, add.KeyVersion)
	}
	verifiedEvent(t, them.sync(t, g.ConversationID, nil).message(t, a.MessageID))
}

// --- 25: the other side's admin adds members to a titled group ---

// Ours adds: the SDK app created the group (title encrypted into
// group_name) and made our account an admin; our engine adds a member,
// rotating the key and re-encrypting the title. The SDK members verify the
// add and the newcomer reads the title and new messages.
func groupAdminAddO2F(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	o1, o2, o3 := s.newOfficial(t, "creator"), s.newOfficial(t, "member"), s.newOfficial(t, "newcomer")
	us := s.newOurs(t, "ours-admin")
	var g struct {
		ConversationID string `json:"conversationId"`
	}
	o1.call(t, "app.createGroup", map[string]any{"memberIds": []string{us.id, o2.id}, "adminIds": []string{o1.id, us.id}, "title": groupTitle}, &g)
	gid := g.ConversationID
	if _, err := us.e.RefreshConversations(ctx); err != nil {
		t.Fatal(err)
	}
	syncOurs(t, s, us, gid)
	if err := us.e.AddMembers(ctx, gid, o3.id); err != nil {
		t.Fatalf("engine AddMembers (admin, not creator): %v", err)
	}
	after, err := us.e.SendText(ctx, gid, "welcome")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []*official{o1, o2} {
		r := o.sync(t, gid, nil)
		_, gcs := groupEvents(t, r)
		var added bool
		for _, gc := range gcs {
			var c sdkGroupChange
			if err := json.Unmarshal(gc.Change, &c); err != nil {
				t.Fatal(err)
			}
			if c.ChangeType == "membersAdded" && gc.SenderID == us.id {
				verifiedEvent(t, gc)
				added = true
			}
		}
		if !added {
			t.Errorf("SDK member %s saw no membersAdded from us (errors %+v)", o.id, r.Errors)
		}
		verifiedEvent(t, r.message(t, after.MessageID))
	}
	verifiedEvent(t, o3.sync(t, gid, nil).message(t, after.MessageID))
	var conv struct {
		Title string `json:"title"`
	}
	o3.call(t, "app.conversation", map[string]any{"conversationId": gid}, &conv)
	if conv.Title != groupTitle {
		t.Errorf("SDK newcomer reads the title as %q, want %q", conv.Title, groupTitle)
	}
}

// The SDK adds: our engine created the titled group and made the SDK user
// an admin; the SDK app adds one of our accounts. Our members verify the
// add, and the newcomer reads the title and new messages.
func groupAdminAddF2O(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, u2, u3 := s.newOurs(t, "creator"), s.newOurs(t, "member"), s.newOurs(t, "newcomer")
	o1 := s.newOfficial(t, "sdk-admin")
	gid, err := us.e.CreateGroup(ctx, session.GroupOptions{Members: []string{o1.id, u2.id}, Admins: []string{us.id, o1.id}, Title: groupTitle})
	if err != nil {
		t.Fatalf("engine CreateGroup: %v", err)
	}
	o1.sync(t, gid, nil)
	var add struct {
		KeyVersion       string `json:"keyVersion"`
		ReencryptedTitle bool   `json:"reencryptedTitle"`
	}
	o1.call(t, "app.addMembers", map[string]any{"conversationId": gid, "memberIds": []string{u3.id}}, &add)
	if !add.ReencryptedTitle {
		t.Error("SDK app could not re-encrypt the title it read from group_name")
	}
	after := o1.send(t, gid, map[string]any{"text": "welcome"})
	for _, u := range []*ours{us, u2} {
		if _, err := u.e.RefreshConversations(ctx); err != nil {
			t.Fatal(err)
		}
		h := syncOurs(t, s, u, gid)
		var added bool
		for i := range h {
			if e := &h[i]; e.Type == event.TypeGroupChange && e.SenderID == o1.id {
				verifiedMessage(t, e)
				added = true
			}
		}
		if !added {
			t.Errorf("engine %s stored no group change from the SDK admin", u.id)
		}
		verifiedMessage(t, entry(t, h, after.MessageID))
		c, err := u.e.Conversation(ctx, gid)
		if err != nil {
			t.Fatal(err)
		}
		if !sameSet(c.Members, []string{us.id, u2.id, u3.id, o1.id}) || c.KeyVersion != add.KeyVersion || c.Title != groupTitle {
			t.Errorf("engine %s after the add: members %v key %s (want %s) title %q", u.id, c.Members, c.KeyVersion, add.KeyVersion, c.Title)
		}
	}
	if _, err := u3.e.RefreshConversations(ctx); err != nil {
		t.Fatal(err)
	}
	verifiedMessage(t, entry(t, syncOurs(t, s, u3, gid), after.MessageID))
	c, err := u3.e.Conversation(ctx, gid)
	if err != nil {
		t.Fatal(err)
	}
	if c.Title != groupTitle {
		t.Errorf("engine newcomer reads the title as %q, want %q", c.Title, groupTitle)
	}
}
