package emulator_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

func TestProvision(t *testing.T) {
	e := newEnv(t)
	a := e.provision("alice")
	if _, err := strconv.ParseUint(a.id, 10, 63); err != nil {
		t.Fatalf("user id %q is not numeric", a.id)
	}
	b := e.provision("bob")
	if a.id == b.id || a.token == b.token {
		t.Fatal("two users share an id or token")
	}
	// Re-provisioning an existing name keeps the id and mints a new token.
	var again struct{ ID, Username, AccessToken string }
	e.must(e.do("POST", "/emulator/v1/users", "", map[string]string{"username": "ALICE"}), http.StatusOK)
	r := e.must(e.do("POST", "/emulator/v1/users", "", map[string]string{"username": "alice"}), http.StatusOK)
	r.decode(t, &again)
	if again.ID != a.id || again.AccessToken == a.token {
		t.Fatalf("re-provision: %+v", again)
	}
	for _, body := range []string{``, `[]`, `{"username":""}`, `{"username":"has space"}`, `{"username":"waytoolongusername"}`,
		`{"username":7}`, `{"username":"x","extra":1}`, `{"username":"x"}{}`} {
		r := e.raw("POST", "/emulator/v1/users", "", "application/json", []byte(body))
		if r.status != http.StatusBadRequest || r.problem(t).Type != api.ProblemInvalidRequest {
			t.Errorf("body %q: status %d %s", body, r.status, r.body)
		}
	}
	var list struct{ Data []emulator_ProvisionedUser }
	e.must(e.do("GET", "/emulator/v1/users", "", nil), http.StatusOK).decode(t, &list)
	if len(list.Data) != 2 {
		t.Fatalf("users: %+v (bad input must not create accounts)", list.Data)
	}
}

type emulator_ProvisionedUser struct{ ID, Username string }

func emulatorScopes(s ...string) emulator.Option { return emulator.WithProvisionScopes(s...) }

func TestAuth(t *testing.T) {
	e := newEnv(t)
	a := e.provision("alice")
	for _, h := range []string{"", "Bearer", "Bearer nope", "Basic " + a.token, "Bearer " + a.token + "x"} {
		req := testutil.Must(http.NewRequest("GET", e.ts.URL+"/2/chat/conversations", nil))(t)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		res, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: %d", h, res.StatusCode)
		}
	}
	r := e.must(e.do("GET", "/2/chat/conversations", a.token, nil), http.StatusOK)
	for _, h := range []string{"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"} {
		if r.header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	// A token without dm.read gets 403 on a dm.read operation.
	e2 := newEnv(t, emulatorScopes("tweet.read", "users.read"))
	c := e2.provision("carol")
	r = e2.must(e2.do("GET", "/2/chat/conversations", c.token, nil), http.StatusForbidden)
	if p := r.problem(t); p.Type != api.ProblemNotAuthorizedForResource || p.Section != "scopes" || p.Status != http.StatusForbidden {
		t.Fatalf("problem %+v", p)
	}
	e2.must(e2.do("GET", "/2/users/me", c.token, nil), http.StatusOK)
	// Unknown endpoints and methods.
	e.must(e.do("GET", "/2/nope", a.token, nil), http.StatusNotFound)
	e.must(e.do("DELETE", "/2/chat/conversations", a.token, nil), http.StatusMethodNotAllowed)
}

func TestPublicKeys(t *testing.T) {
	e := newEnv(t, emulator.WithPublicKeyUserIDs(true))
	a := e.newUser("alice")
	b := e.provision("bob")
	// Register for someone else: 403.
	e.must(e.do("POST", "/2/users/"+b.id+"/public_keys", a.token, api.AddUserPublicKeyRequest{Version: "1"}), http.StatusForbidden)
	b.register()
	first := b.keyVersion
	b.register() // rotation: a newer version
	if compare(t, b.keyVersion, first) <= 0 {
		t.Fatalf("versions %s then %s", first, b.keyVersion)
	}
	var one api.GetUsersPublicKeyResponse
	e.must(e.do("GET", "/2/users/"+b.id+"/public_keys", a.token, nil), http.StatusOK).decode(t, &one)
	if len(one.Data) != 2 || one.Data[0].PublicKeyVersion != b.keyVersion || one.Data[1].PublicKeyVersion != first {
		t.Fatalf("keys: %+v", one.Data)
	}
	if one.Data[0].SigningPublicKey != wire.EncodeB64(b.kp.Signing.PublicKey().SPKI()) {
		t.Fatal("signing key not served as registered")
	}
	var batch api.GetUsersPublicKeysResponse
	e.must(e.do("GET", "/2/users/public_keys?ids="+a.id+","+b.id+",12345", a.token, nil), http.StatusOK).decode(t, &batch)
	if len(batch.Data) != 3 || batch.Data[0].UserID != a.id || len(batch.Errors) != 1 || batch.Errors[0].Type != api.ProblemResourceNotFound {
		t.Fatalf("batch: %+v", batch)
	}
	e.must(e.do("GET", "/2/users/public_keys", a.token, nil), http.StatusBadRequest)
	e.must(e.do("GET", "/2/users/public_keys?ids=1,x", a.token, nil), http.StatusBadRequest)
	e.must(e.do("GET", "/2/users/999/public_keys", a.token, nil), http.StatusNotFound)
	e.must(e.do("GET", "/2/users/"+a.id+"/public_keys?public_key.fields=bogus", a.token, nil), http.StatusBadRequest)

	// A forged binding signature is rejected and stores nothing.
	kp := testutil.Must(crypto.GenerateKeyPair(nil))(t)
	reg := testutil.Must(crypto.NewRegistration(kp))(t)
	f := reg.Fields()
	other := testutil.Must(crypto.GenerateKeyPair(nil))(t)
	otherReg := testutil.Must(crypto.NewRegistration(other))(t)
	bad := api.AddUserPublicKeyRequest{Version: "1", GenerateVersion: true, PublicKey: api.PublicKeyRegistration{
		PublicKey: f.PublicKey, SigningPublicKey: f.SigningPublicKey, IdentityPublicKeySignature: otherReg.Fields().IdentityPublicKeySignature}}
	e.must(e.do("POST", "/2/users/"+a.id+"/public_keys", a.token, bad), http.StatusBadRequest)
	bad.PublicKey.IdentityPublicKeySignature = f.IdentityPublicKeySignature
	bad.PublicKey.PublicKeyFingerprint = "AAAA"
	e.must(e.do("POST", "/2/users/"+a.id+"/public_keys", a.token, bad), http.StatusBadRequest)
	bad.PublicKey.PublicKeyFingerprint = ""
	bad.PublicKey.PublicKey = "bm90IGEga2V5"
	e.must(e.do("POST", "/2/users/"+a.id+"/public_keys", a.token, bad), http.StatusBadRequest)
	e.must(e.do("GET", "/2/users/"+a.id+"/public_keys", a.token, nil), http.StatusOK).decode(t, &one)
	if len(one.Data) != 1 {
		t.Fatalf("rejected registrations changed state: %+v", one.Data)
	}
}

// compare orders two decimal ids numerically with strconv, independently of
// the emulator's own comparison; an id that does not parse fails the test.
func compare(t *testing.T, a, b string) int {
	t.Helper()
	x := testutil.Must(strconv.ParseUint(a, 10, 64))(t)
	y := testutil.Must(strconv.ParseUint(b, 10, 64))(t)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func TestOneToOne(t *testing.T) {
	e := newEnv(t, emulator.WithFailureEvents(true))
	a, b := e.newUser("alice"), e.newUser("bob")
	conv := convKey1to1(a, b)
	hyphen := strings.Replace(conv, ":", "-", 1)
	// No key yet: sending is refused.
	kc := a.prepareKeyChange(conv, "1000", a, b)
	e.must(e.do("POST", "/2/chat/conversations/"+b.id+"/messages", a.token, a.sendBody(conv, kc, "early")), http.StatusBadRequest)

	// Initialize with the recipient's bare id.
	var kr api.AddConversationKeysResponse
	e.must(e.do("POST", "/2/chat/conversations/"+b.id+"/keys", a.token, api.AddConversationKeysRequest{
		ConversationKeyVersion: kc.version, ConversationParticipantKeys: kc.keys, ActionSignatures: []api.ActionSignature{kc.action}}), http.StatusOK).decode(t, &kr)
	if kr.Data.ConversationID != hyphen || kr.Data.SequenceID == "" {
		t.Fatalf("keys response %+v", kr.Data)
	}
	// Retrying the same key change is idempotent.
	var kr2 api.AddConversationKeysResponse
	e.must(e.do("POST", "/2/chat/conversations/"+hyphen+"/keys", a.token, api.AddConversationKeysRequest{
		ConversationKeyVersion: kc.version, ConversationParticipantKeys: kc.keys, ActionSignatures: []api.ActionSignature{kc.action}}), http.StatusOK).decode(t, &kr2)
	if kr2.Data.SequenceID != kr.Data.SequenceID {
		t.Fatalf("retried key change got a new sequence id")
	}

	body := a.sendBody(conv, kc, "hello bob")
	var sent api.SendChatMessageResponse
	e.must(e.do("POST", "/2/chat/conversations/"+b.id+"/messages", a.token, body), http.StatusCreated).decode(t, &sent)
	me := decodeEvent(t, sent.Data.EncodedMessageEvent)
	if me.GetConversationID() != conv || me.GetSenderID() != a.id || me.GetMessageID() != body.MessageID ||
		me.GetPreviousSequenceID() != kr.Data.SequenceID || compare(t, me.GetSequenceID(), kr.Data.SequenceID) <= 0 || me.GetCreatedAtMsec() == "" {
		t.Fatalf("envelope %+v", me)
	}
	if me.MessageEventSignature == nil || me.MessageEventSignature.GetPublicKeyVersion() != a.keyVersion {
		t.Fatalf("signature not carried: %+v", me.MessageEventSignature)
	}
	// Idempotent resend: the original event, no duplicate.
	var again api.SendChatMessageResponse
	e.must(e.do("POST", "/2/chat/conversations/"+hyphen+"/messages", a.token, body), http.StatusCreated).decode(t, &again)
	if again.Data.EncodedMessageEvent != sent.Data.EncodedMessageEvent {
		t.Fatal("resend produced a different event")
	}
	// Bob reads it back and decrypts it with the key from meta.
	evs, keyEvents := b.events(a.id)
	if len(evs) != 1 || evs[0].ID != me.GetSequenceID() || evs[0].SenderID != a.id || evs[0].ConversationID != hyphen || evs[0].IsTrusted == nil || !*evs[0].IsTrusted {
		t.Fatalf("events %+v", evs)
	}
	if len(keyEvents) == 0 {
		t.Fatal("no conversation_key_events")
	}
	ke := decodeEvent(t, keyEvents[0])
	if ke.Detail.ConversationKeyChangeEvent == nil || ke.GetSequenceID() != kr.Data.SequenceID {
		t.Fatalf("key event %+v", ke)
	}
	if got := b.openMessage(decodeEvent(t, evs[0].EncodedEvent), kc); got != "hello bob" {
		t.Fatalf("decrypted %q", got)
	}

	// Rotate; a message under the old version is refused with a typed failure.
	kc2 := b.prepareKeyChange(conv, "2000", a, b)
	e.must(e.do("POST", "/2/chat/conversations/"+a.id+"/keys", b.token, api.AddConversationKeysRequest{
		ConversationKeyVersion: kc2.version, ConversationParticipantKeys: kc2.keys, ActionSignatures: []api.ActionSignature{kc2.action}}), http.StatusOK)
	stale := e.must(e.do("POST", "/2/chat/conversations/"+b.id+"/messages", a.token, a.sendBody(conv, kc, "stale")), http.StatusBadRequest)
	var failure struct {
		api.Problem
		Data api.SendChatMessageData `json:"data"`
	}
	stale.decode(t, &failure)
	fe := decodeEvent(t, failure.Data.EncodedMessageEvent)
	if failure.Type != api.ProblemInvalidRequest || fe.Detail.MessageFailureEvent == nil ||
		fe.Detail.MessageFailureEvent.GetFailureType() != event.FailureType_NON_LATEST_CKEY_VERSION {
		t.Fatalf("stale send: %s", stale.body)
	}
	// Rotating back to an older version is refused too.
	old := a.prepareKeyChange(conv, "1500", a, b)
	e.must(e.do("POST", "/2/chat/conversations/"+b.id+"/keys", a.token, api.AddConversationKeysRequest{
		ConversationKeyVersion: old.version, ConversationParticipantKeys: old.keys, ActionSignatures: []api.ActionSignature{old.action}}), http.StatusBadRequest)
	m2 := a.send(b.id, conv, kc2, "fresh")
	if evs, _ := b.events(a.id); len(evs) != 2 {
		t.Fatalf("after stale send: %d events", len(evs))
	}

	// Listing and metadata.
	var convs api.GetChatConversationsResponse
	e.must(e.do("GET", "/2/chat/conversations?expansions=member_ids", b.token, nil), http.StatusOK).decode(t, &convs)
	if len(convs.Data) != 1 || convs.Data[0].ID != hyphen || convs.Data[0].Type != "one_to_one" || convs.Includes == nil || len(convs.Includes.Users) != 2 {
		t.Fatalf("conversations %+v", convs)
	}
	var one api.GetChatConversationResponse
	e.must(e.do("GET", "/2/chat/conversations/"+hyphen+"?expansions=member_ids", a.token, nil), http.StatusOK).decode(t, &one)
	if one.Data == nil || !slices.Contains(one.Data.MemberIDs, b.id) {
		t.Fatalf("conversation %+v", one)
	}
	// A third user can see none of it.
	c := e.newUser("carol")
	e.must(e.do("GET", "/2/chat/conversations/"+hyphen+"/events", c.token, nil), http.StatusForbidden)
	e.must(e.do("POST", "/2/chat/conversations/"+hyphen+"/messages", c.token, c.sendBody(conv, kc2, "x")), http.StatusForbidden)

	// Read and typing.
	e.must(e.do("POST", "/2/chat/conversations/"+a.id+"/read", b.token, api.MarkChatConversationReadRequest{SeenUntilSequenceID: m2.GetSequenceID()}), http.StatusOK)
	e.must(e.do("POST", "/2/chat/conversations/"+a.id+"/read", b.token, api.MarkChatConversationReadRequest{SeenUntilSequenceID: "123"}), http.StatusNotFound)
	e.must(e.do("POST", "/2/chat/conversations/"+a.id+"/typing", b.token, nil), http.StatusOK)
	evs, _ = a.events(b.id)
	if len(evs) != 3 || decodeEvent(t, evs[0].EncodedEvent).Detail.MarkConversationReadEvent == nil {
		t.Fatalf("read receipt missing: %d events", len(evs))
	}

	// Delete for all, with a forged then a genuine signature.
	del := func(u *user, seqs []string, forAll bool, signer *user) resp {
		action := crypto.DeleteForSelf
		name := api.DeleteForSelf
		if forAll {
			action, name = crypto.DeleteForAll, api.DeleteForAll
		}
		mid := newMessageID()
		p := mustPayload(t)(crypto.MessageDeletePayload(7, crypto.Header{MessageID: mid, SenderID: u.id, ConversationID: conv}, action, seqs))
		da := event.DeleteMessageAction(action)
		sig := signer.sign(p)
		sig.PublicKeyVersion = u.keyVersion
		return e.do("POST", "/2/chat/conversations/"+hyphen+"/messages/delete", u.token, api.DeleteChatMessagesRequest{
			SequenceIDs: seqs, DeleteMessageAction: name, ActionSignatures: []api.ActionSignature{{MessageID: mid, MessageEventSignature: sig,
				EncodedMessageEventDetail: encodeDetail(t, &event.MessageEventDetail{MessageDeleteEvent: &event.MessageDeleteEvent{SequenceIds: seqs, DeleteMessageAction: &da}})}}})
	}
	first := me.GetSequenceID()
	e.must(del(a, []string{first}, true, b), http.StatusBadRequest) // signed by the wrong key
	e.must(del(b, []string{first}, true, b), http.StatusForbidden)  // not bob's message
	if evs, _ := b.events(a.id); len(evs) != 3 {
		t.Fatalf("rejected deletes changed state: %d events", len(evs))
	}
	e.must(del(a, []string{first}, true, a), http.StatusOK)
	evs, _ = b.events(a.id)
	if slices.ContainsFunc(evs, func(x api.ChatMessageEvent) bool { return x.ID == first }) ||
		decodeEvent(t, evs[0].EncodedEvent).Detail.MessageDeleteEvent == nil {
		t.Fatalf("delete for all not applied: %+v", evs)
	}
	// Delete for self hides only for the deleter.
	e.must(del(b, []string{m2.GetSequenceID()}, false, b), http.StatusOK)
	bobs, _ := b.events(a.id)
	alices, _ := a.events(b.id)
	if len(alices) != len(bobs)+1 {
		t.Fatalf("delete for self: alice %d, bob %d", len(alices), len(bobs))
	}
}

func TestGroup(t *testing.T) {
	e := newEnv(t, emulator.WithFailureEvents(true))
	a, b, c, d := e.newUser("alice"), e.newUser("bob"), e.newUser("carol"), e.newUser("dave")
	var ini api.InitializeChatGroupResponse
	e.must(e.do("POST", "/2/chat/conversations/group/initialize", a.token, nil), http.StatusOK).decode(t, &ini)
	gid := ini.Data.ConversationID
	if len(gid) < 2 || gid[0] != 'g' {
		t.Fatalf("group id %q", gid)
	}
	members := []string{a.id, b.id, c.id}
	create := func(signer *user, title string) api.CreateChatConversationRequest {
		kc := a.prepareKeyChange(gid, "5000", a, b, c)
		mid := newMessageID()
		tptr := &title
		p := mustPayload(t)(crypto.GroupCreatePayload(7, crypto.Header{MessageID: mid, SenderID: a.id},
			crypto.GroupCreate{ConversationKeyVersion: kc.version, MemberIDs: members, Title: tptr}))
		gcDetail := &event.MessageEventDetail{GroupChangeEvent: &event.GroupChangeEvent{GroupChange: &event.GroupChange{GroupCreate: &event.GroupCreate{
			MemberIds: members, AdminIds: []string{a.id}, Title: tptr, ConversationKeyVersion: &kc.version}}}}
		sig := signer.sign(p)
		sig.PublicKeyVersion = a.keyVersion
		return api.CreateChatConversationRequest{ConversationID: gid, ConversationKeyVersion: kc.version, ConversationParticipantKeys: kc.keys,
			GroupMembers: members, GroupName: "enc-title", ActionSignatures: []api.ActionSignature{kc.action,
				{MessageID: mid, EncodedMessageEventDetail: encodeDetail(t, gcDetail), MessageEventSignature: sig}}}
	}
	// Forged GroupCreate signature: refused, group stays uncreated.
	e.must(e.do("POST", "/2/chat/conversations/group", a.token, create(b, "t")), http.StatusBadRequest)
	var convs api.GetChatConversationsResponse
	e.must(e.do("GET", "/2/chat/conversations", a.token, nil), http.StatusOK).decode(t, &convs)
	if len(convs.Data) != 0 {
		t.Fatal("forged create changed state")
	}
	// Someone else cannot create the group alice initialized.
	e.must(e.do("POST", "/2/chat/conversations/group", b.token, create(a, "t")), http.StatusNotFound)
	req := create(a, "t")
	var cr api.CreateChatConversationResponse
	e.must(e.do("POST", "/2/chat/conversations/group", a.token, req), http.StatusCreated).decode(t, &cr)
	if cr.Data.ConversationID != gid || cr.Data.ConversationKeyChangeSequenceID == "" {
		t.Fatalf("create %+v", cr.Data)
	}
	var cr2 api.CreateChatConversationResponse
	e.must(e.do("POST", "/2/chat/conversations/group", a.token, req), http.StatusCreated).decode(t, &cr2)
	if cr2.Data.ConversationKeyChangeSequenceID != cr.Data.ConversationKeyChangeSequenceID {
		t.Fatal("create retry not idempotent")
	}
	// Recover the key from bob's view and send.
	_, keys := b.events(gid)
	if len(keys) != 1 {
		t.Fatalf("key events %d", len(keys))
	}
	kc := keyChange{version: "5000", keys: req.ConversationParticipantKeys}
	raw := testutil.Must(wire.DecodeB64(req.ConversationParticipantKeys[1].EncryptedConversationKey))(t)
	ck, err := crypto.UnwrapConversationKey(b.kp.Identity, raw)
	if err != nil {
		t.Fatal(err)
	}
	kc.key = ck
	m := b.send(gid, gid, kc, "hi group")
	if got := c.openMessage(m, kc); got != "hi group" {
		t.Fatalf("carol read %q", got)
	}
	// dave is not a member.
	r := e.must(e.do("POST", "/2/chat/conversations/"+gid+"/messages", d.token, d.sendBody(gid, kc, "intruder")), http.StatusForbidden)
	var failure struct {
		Data api.SendChatMessageData `json:"data"`
	}
	r.decode(t, &failure)
	if fe := decodeEvent(t, failure.Data.EncodedMessageEvent); fe.Detail.MessageFailureEvent.GetFailureType() != event.FailureType_SENDER_NOT_GROUP_MEMBER {
		t.Fatalf("failure %+v", fe)
	}
	e.must(e.do("GET", "/2/chat/conversations/"+gid+"/events", d.token, nil), http.StatusForbidden)

	// Member add by a non-admin is refused; by the admin it works.
	add := func(u *user) api.AddChatGroupMembersRequest {
		kc := u.prepareKeyChange(gid, "6000", a, b, c, d)
		mid := newMessageID()
		ma := crypto.GroupMemberAdd{NewMemberIDs: []string{d.id}, CurrentMemberIDs: members, CurrentAdminIDs: []string{a.id}, ConversationKeyVersion: kc.version}
		p := mustPayload(t)(crypto.GroupMemberAddPayload(7, crypto.Header{MessageID: mid, SenderID: u.id, ConversationID: gid}, ma))
		detail := &event.MessageEventDetail{GroupChangeEvent: &event.GroupChangeEvent{GroupChange: &event.GroupChange{GroupMemberAdd: &event.GroupMemberAddChange{
			MemberIds: ma.NewMemberIDs, CurrentMemberIds: members, CurrentAdminIds: ma.CurrentAdminIDs, ConversationKeyVersion: &kc.version}}}}
		return api.AddChatGroupMembersRequest{UserIDs: []string{d.id}, ConversationKeyVersion: kc.version, ConversationParticipantKeys: kc.keys,
			ActionSignatures: []api.ActionSignature{kc.action, {MessageID: mid, EncodedMessageEventDetail: encodeDetail(t, detail), MessageEventSignature: u.sign(p)}}}
	}
	r = e.must(e.do("POST", "/2/chat/conversations/"+gid+"/members", b.token, add(b)), http.StatusForbidden)
	if r.problem(t).Type != api.ProblemNotAuthorizedForResource {
		t.Fatalf("non-admin add: %s", r.body)
	}
	e.must(e.do("POST", "/2/chat/conversations/"+gid+"/members", a.token, add(a)), http.StatusOK)
	devs, dkeys := d.events(gid)
	if len(devs) != 1 || decodeEvent(t, devs[0].EncodedEvent).Detail.GroupChangeEvent == nil || len(dkeys) != 1 {
		t.Fatalf("dave sees %d events, %d key events", len(devs), len(dkeys))
	}
	// The old key version is now stale for everyone.
	e.must(e.do("POST", "/2/chat/conversations/"+gid+"/messages", b.token, b.sendBody(gid, kc, "old key")), http.StatusBadRequest)
	var meta api.GetChatConversationResponse
	e.must(e.do("GET", "/2/chat/conversations/"+gid+"?expansions=member_ids&chat_conversation.fields=type,group_name", d.token, nil), http.StatusOK).decode(t, &meta)
	if len(meta.Data.MemberIDs) != 4 || meta.Data.Type != "group" || meta.Data.GroupName != "enc-title" {
		t.Fatalf("group meta %+v", meta.Data)
	}
}
