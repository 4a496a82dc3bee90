package interop

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/wire"
)

// Wire shapes: for every kind of event both implementations emit, the
// Thrift structure our engine writes (field ids, types and order, list
// element shapes; values ignored except where noted) must equal the
// SDK's. Compared are the envelope's detail (field 7), its signature
// (field 9) and, for messages, the decrypted MessageEntryHolder.

// tnode is one field of the harness's thriftDecode tree.
type tnode struct {
	ID    int             `json:"id"`
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

func (s *suite) thriftTree(t *testing.T, b []byte) []tnode {
	t.Helper()
	var tree []tnode
	if err := s.peer.Call(s.ctx(t), "thriftDecode", map[string]any{"data": b}, &tree); err != nil {
		t.Fatalf("thriftDecode: %v", err)
	}
	return tree
}

// shapeOf renders the structure of a decoded struct.
func shapeOf(fields []tnode) string {
	var b strings.Builder
	b.WriteString("{")
	for i, f := range fields {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%d:%s", f.ID, valueShape(f.Type, f.Value))
	}
	b.WriteString("}")
	return b.String()
}

func valueShape(typ string, v json.RawMessage) string {
	switch typ {
	case "struct":
		var sub []tnode
		if err := json.Unmarshal(v, &sub); err != nil {
			return "undecodable struct: " + err.Error()
		}
		return shapeOf(sub)
	case "list", "set":
		var l struct {
			Elem  string            `json:"elem"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(v, &l); err != nil {
			return "undecodable " + typ + ": " + err.Error()
		}
		if len(l.Items) == 0 {
			return typ + "<" + l.Elem + ">[]"
		}
		return typ + "<" + valueShape(l.Elem, l.Items[0]) + ">"
	default:
		return typ
	}
}

// field returns the field with id, or nil.
func field(fields []tnode, id int) *tnode {
	for i := range fields {
		if fields[i].ID == id {
			return &fields[i]
		}
	}
	return nil
}

func sub(t *testing.T, f *tnode) []tnode {
	t.Helper()
	if f == nil {
		t.Fatal("missing field")
	}
	var s []tnode
	if err := json.Unmarshal(f.Value, &s); err != nil {
		t.Fatalf("field %d: %v", f.ID, err)
	}
	return s
}

func text(f *tnode) string {
	if f == nil {
		return "<absent>"
	}
	var v struct {
		UTF8 string `json:"utf8"`
	}
	if json.Unmarshal(f.Value, &v) == nil && v.UTF8 != "" {
		return v.UTF8
	}
	return string(f.Value)
}

// eventShapes describes one envelope: detail shape, signature shape and
// (for messages, when key is given) the plaintext shape.
type eventShapes struct {
	detail, signature, plaintext, sigVersion string
}

func (s *suite) shapesOf(t *testing.T, eventB64 string, key *crypto.ConversationKey) eventShapes {
	t.Helper()
	raw, err := wire.DecodeB64(eventB64)
	if err != nil {
		t.Fatal(err)
	}
	env := s.thriftTree(t, raw)
	var out eventShapes
	detail := sub(t, field(env, 7))
	out.detail = shapeOf(detail)
	if sig := field(env, 9); sig != nil {
		fs := sub(t, sig)
		// Field 4 (signing_public_key) is added by the server, not the client.
		var client []tnode
		for _, f := range fs {
			if f.ID != 4 {
				client = append(client, f)
			}
		}
		out.signature = shapeOf(client)
		out.sigVersion = text(field(fs, 3))
	}
	if key != nil && len(detail) == 1 && detail[0].ID == 1 {
		mce := sub(t, &detail[0])
		c := field(mce, 100)
		var box struct {
			B64 string `json:"b64"`
		}
		if c == nil || json.Unmarshal(c.Value, &box) != nil {
			t.Fatal("message without contents")
		}
		sealed, err := wire.DecodeB64(box.B64)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := crypto.Open(key, sealed)
		if err != nil {
			t.Fatalf("open contents: %v", err)
		}
		out.plaintext = shapeOf(s.thriftTree(t, pt))
	}
	return out
}

// rawEvents returns every event of conv the server holds, by message id
// (key changes included).
func rawEvents(t *testing.T, s *suite, us *ours, conv string) map[string]string {
	t.Helper()
	out := map[string]string{}
	token := ""
	for {
		res, _, err := us.client.GetConversationEvents(s.ctx(t), api.ConversationPathID(conv), &api.ConversationEventsOptions{MaxResults: 100, PaginationToken: token})
		if err != nil {
			t.Fatal(err)
		}
		all := res.Meta.KeyChangeEvents()
		for _, d := range res.Data {
			all = append(all, d.EncodedEvent)
		}
		for _, e := range all {
			raw, err := wire.DecodeB64(e)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := wire.DecodeMessageEvent(raw)
			if err != nil {
				t.Fatal(err)
			}
			if ev.MessageID != nil {
				out[*ev.MessageID] = e
			}
		}
		if res.Meta == nil || res.Meta.NextToken == "" {
			return out
		}
		token = res.Meta.NextToken
	}
}

func compareShapes(t *testing.T, what string, ours, theirs eventShapes) {
	t.Helper()
	t.Logf("%s: detail %s sig %s plaintext %s", what, ours.detail, ours.signature, ours.plaintext)
	if ours.detail != theirs.detail {
		t.Errorf("%s: detail shape differs\n  ours: %s\n  SDK:  %s", what, ours.detail, theirs.detail)
	}
	if ours.signature != theirs.signature {
		t.Errorf("%s: signature shape differs\n  ours: %s\n  SDK:  %s", what, ours.signature, theirs.signature)
	}
	if ours.sigVersion != theirs.sigVersion {
		t.Errorf("%s: signature_version ours %q, SDK %q", what, ours.sigVersion, theirs.sigVersion)
	}
	if ours.plaintext != theirs.plaintext {
		t.Errorf("%s: plaintext shape differs\n  ours: %s\n  SDK:  %s", what, ours.plaintext, theirs.plaintext)
	}
}

// wireShapes runs after the matrix: one conversation and one group where
// both sides emit every kind of event, compared pairwise.
func wireShapes(t *testing.T, s *suite) {
	ctx := s.ctx(t)
	us, them, conv := pair(t, s, true) // our key change + first message
	var ourMsgs, sdkMsgs = map[string]string{}, map[string]string{}

	// The SDK re-keys; both key changes are compared.
	var kc struct {
		KeyVersion string `json:"keyVersion"`
	}
	them.call(t, "app.startConversation", map[string]any{"peerId": us.id}, &kc)
	syncOurs(t, s, us, conv)

	// Messages of every kind, under the SDK's key, from both sides.
	so := them.send(t, conv, map[string]any{"text": entityText, "entities": sdkEntities})
	sdkMsgs["text+entities"] = so.MessageID
	oo, err := us.e.Send(ctx, conv, session.Outgoing{Text: entityText, Entities: ourEntities})
	if err != nil {
		t.Fatal(err)
	}
	ourMsgs["text+entities"] = oo.MessageID
	them.sync(t, conv, nil)
	syncOurs(t, s, us, conv)

	sr := them.send(t, conv, map[string]any{"text": "reply", "replyTo": oo.SequenceID})
	sdkMsgs["reply"] = sr.MessageID
	or, err := us.e.Send(ctx, conv, session.Outgoing{Text: "reply", ReplyTo: so.SequenceID})
	if err != nil {
		t.Fatal(err)
	}
	ourMsgs["reply"] = or.MessageID

	// A silent, disappearing media reply with a rich caption (rows 27-30).
	all := mediaOpts{caption: true, entities: true, silent: true, ttl: true}
	all.replyTo = oo.SequenceID
	sm, _ := sdkMediaSend(t, them, conv, payload(100, 1), all)
	sdkMsgs["media reply"] = sm.MessageID
	all.replyTo = so.SequenceID
	ourMsgs["media reply"] = ourMediaSend(t, s, us, conv, payload(100, 1), all).MessageID

	var r sent
	them.call(t, "app.react", map[string]any{"conversationId": conv, "target": oo.SequenceID, "emoji": "👍"}, &r)
	sdkMsgs["reaction"] = r.MessageID
	ra, err := us.e.Send(ctx, conv, session.Outgoing{React: so.SequenceID, Emoji: "👍"})
	if err != nil {
		t.Fatal(err)
	}
	ourMsgs["reaction"] = ra.MessageID
	them.call(t, "app.react", map[string]any{"conversationId": conv, "target": oo.SequenceID, "emoji": "👍", "remove": true}, &r)
	sdkMsgs["reaction remove"] = r.MessageID
	rr, err := us.e.Send(ctx, conv, session.Outgoing{Unreact: so.SequenceID, Emoji: "👍"})
	if err != nil {
		t.Fatal(err)
	}
	ourMsgs["reaction remove"] = rr.MessageID
	them.call(t, "app.edit", map[string]any{"conversationId": conv, "target": so.SequenceID, "text": "edited"}, &r)
	sdkMsgs["edit"] = r.MessageID
	ed, err := us.e.Send(ctx, conv, session.Outgoing{Edit: oo.SequenceID, Text: "edited"})
	if err != nil {
		t.Fatal(err)
	}
	ourMsgs["edit"] = ed.MessageID

	var del struct {
		MessageID string `json:"messageId"`
	}
	sv := them.send(t, conv, map[string]any{"text": "to delete"})
	ov, err := us.e.SendText(ctx, conv, "to delete")
	if err != nil {
		t.Fatal(err)
	}
	them.call(t, "app.delete", map[string]any{"conversationId": conv, "sequenceIds": []string{sv.SequenceID}, "deleteForAll": true}, &del)
	if err := us.e.DeleteMessages(ctx, conv, []string{ov.SequenceID}, true); err != nil {
		t.Fatal(err)
	}
	evs := rawEvents(t, s, us, conv)
	c, err := us.e.Conversation(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	backup, err := us.e.ExportBackup()
	if err != nil {
		t.Fatal(err)
	}
	idKey, err := crypto.NewPrivateKey(backup[:32])
	clear(backup)
	if err != nil {
		t.Fatal(err)
	}
	defer idKey.Zero()
	key := conversationKey(t, s, us, conv, c.KeyVersion, idKey)

	for _, kind := range []string{"text+entities", "reply", "media reply", "reaction", "reaction remove", "edit"} {
		if evs[ourMsgs[kind]] == "" || evs[sdkMsgs[kind]] == "" {
			t.Fatalf("%s: event not on the server", kind)
		}
		compareShapes(t, kind, s.shapesOf(t, evs[ourMsgs[kind]], key), s.shapesOf(t, evs[sdkMsgs[kind]], key))
	}
	// Key changes and deletes, found by sender and kind.
	byKind := func(sender string, detailID int) string {
		for _, e := range evs {
			raw := testutil.Must(wire.DecodeB64(e))(t)
			ev, err := wire.DecodeMessageEvent(raw)
			if err != nil || ev.SenderID == nil || *ev.SenderID != sender || ev.Detail == nil {
				continue
			}
			d := ev.Detail
			if (detailID == 3 && d.ConversationKeyChangeEvent != nil) || (detailID == 7 && d.MessageDeleteEvent != nil) {
				return e
			}
		}
		t.Fatalf("no event of kind %d from %s", detailID, sender)
		return ""
	}
	compareShapes(t, "1:1 key change", s.shapesOf(t, byKind(us.id, 3), nil), s.shapesOf(t, byKind(them.id, 3), nil))
	compareShapes(t, "delete", s.shapesOf(t, byKind(us.id, 7), nil), s.shapesOf(t, byKind(them.id, 7), nil))

	// Groups: create and member add from each side.
	o2, o3 := s.newOfficial(t, "o2"), s.newOfficial(t, "o3")
	gOurs, err := us.e.CreateGroup(ctx, session.GroupOptions{Members: []string{them.id}})
	if err != nil {
		t.Fatal(err)
	}
	if err := us.e.AddMembers(ctx, gOurs, o2.id); err != nil {
		t.Fatal(err)
	}
	var g struct {
		ConversationID string `json:"conversationId"`
	}
	them.call(t, "app.createGroup", map[string]any{"memberIds": []string{us.id}}, &g)
	them.call(t, "app.addMembers", map[string]any{"conversationId": g.ConversationID, "memberIds": []string{o3.id}}, nil)
	groupEvs := func(gid string) (kcs, gcs []string) {
		for _, e := range rawEvents(t, s, us, gid) {
			raw := testutil.Must(wire.DecodeB64(e))(t)
			ev, err := wire.DecodeMessageEvent(raw)
			if err != nil || ev.Detail == nil {
				continue
			}
			if ev.Detail.ConversationKeyChangeEvent != nil {
				kcs = append(kcs, e)
			}
			if ev.Detail.GroupChangeEvent != nil {
				gcs = append(gcs, e)
			}
		}
		return kcs, gcs
	}
	okc, ogc := groupEvs(gOurs)
	skc, sgc := groupEvs(g.ConversationID)
	// The server lists only the key changes a page needs plus the latest.
	if len(okc) == 0 || len(ogc) != 2 || len(skc) == 0 || len(sgc) != 2 {
		t.Fatalf("group events: ours %d key changes %d group changes; SDK %d, %d", len(okc), len(ogc), len(skc), len(sgc))
	}
	// Pair create with create and add with add by their GroupChange variant.
	variant := func(e string) int { // the GroupChange union member
		raw := testutil.Must(wire.DecodeB64(e))(t)
		gce := sub(t, field(sub(t, field(s.thriftTree(t, raw), 7)), 4))
		gc := sub(t, field(gce, 1))
		if len(gc) != 1 {
			t.Fatalf("group change union with %d members", len(gc))
		}
		return gc[0].ID
	}
	match := func(what string, ours, theirs []string) {
		for _, o := range ours {
			os := s.shapesOf(t, o, nil)
			found := false
			for _, x := range theirs {
				if variant(x) == variant(o) {
					compareShapes(t, what, os, s.shapesOf(t, x, nil))
					found = true
				}
			}
			if !found {
				t.Errorf("%s: no SDK counterpart for our %s", what, os.detail)
			}
		}
	}
	match("group change", ogc, sgc)
	for i := range okc {
		compareShapes(t, fmt.Sprintf("group key change %d", i), s.shapesOf(t, okc[i], nil), s.shapesOf(t, skc[0], nil))
	}
}
