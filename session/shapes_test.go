package session

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/wire"
)

// recordServer records the key-distribution requests it forwards.
type recordServer struct {
	Server
	mu      sync.Mutex
	keys    []*api.AddConversationKeysRequest
	creates []*api.CreateChatConversationRequest
	adds    []*api.AddChatGroupMembersRequest
}

func (r *recordServer) AddConversationKeys(ctx context.Context, id string, req *api.AddConversationKeysRequest) (*api.AddConversationKeysResponse, error) {
	r.mu.Lock()
	r.keys = append(r.keys, req)
	r.mu.Unlock()
	return r.Server.AddConversationKeys(ctx, id, req)
}

func (r *recordServer) CreateGroup(ctx context.Context, req *api.CreateChatConversationRequest) (*api.CreateChatConversationResponse, error) {
	r.mu.Lock()
	r.creates = append(r.creates, req)
	r.mu.Unlock()
	return r.Server.CreateGroup(ctx, req)
}

func (r *recordServer) AddGroupMembers(ctx context.Context, id string, req *api.AddChatGroupMembersRequest) (*api.AddChatGroupMembersResponse, error) {
	r.mu.Lock()
	r.adds = append(r.adds, req)
	r.mu.Unlock()
	return r.Server.AddGroupMembers(ctx, id, req)
}

// checkKeyChange verifies a key change action as the XDK emits it: one
// participant per member at their registered version, the detail encoded
// as MessageEventDetail field 3 with for_key_rotation=false, no echoed
// payload, and a v7 signature over the plaintext key (unwrapped here).
func checkKeyChange(t *testing.T, u *testUser, conv, version string, parts []api.ConversationParticipantKey, a api.ActionSignature, members map[string]string) {
	t.Helper()
	if !strings.HasPrefix(a.EncodedMessageEventDetail, "DAADCwAB") {
		t.Fatalf("detail is not a key change: %s", a.EncodedMessageEventDetail[:12])
	}
	if a.SignaturePayload != "" || a.MessageEventSignature.SignatureVersion != "7" || a.MessageEventSignature.PublicKeyVersion != u.e.PublicKeyVersion() {
		t.Fatalf("key change signature %+v", a)
	}
	raw := testutil.Must(wire.DecodeB64(a.EncodedMessageEventDetail))(t)
	d, err := wire.DecodeMessageEventDetail(raw)
	if err != nil || d.ConversationKeyChangeEvent == nil || d.ConversationKeyChangeEvent.ForKeyRotation == nil || *d.ConversationKeyChangeEvent.ForKeyRotation {
		t.Fatalf("detail %+v, %v", d, err)
	}
	if d.ConversationKeyChangeEvent.GetConversationKeyVersion() != version || len(d.ConversationKeyChangeEvent.ConversationParticipantKeys) != len(members) || len(parts) != len(members) {
		t.Fatalf("detail %+v", d.ConversationKeyChangeEvent)
	}
	var key *crypto.ConversationKey
	for i, p := range parts {
		dp := d.ConversationKeyChangeEvent.ConversationParticipantKeys[i]
		if dp.GetUserID() != p.UserID || dp.GetEncryptedConversationKey() != p.EncryptedConversationKey || dp.GetPublicKeyVersion() != p.PublicKeyVersion {
			t.Fatalf("detail participant %d differs from the REST list", i)
		}
		if members[p.UserID] != p.PublicKeyVersion {
			t.Fatalf("participant %s at version %s, want %s", p.UserID, p.PublicKeyVersion, members[p.UserID])
		}
		if p.UserID == u.id {
			kp, _ := testutil.Must2(u.e.identity())(t)
			w := testutil.Must(wire.DecodeB64(p.EncryptedConversationKey))(t)
			if key, err = crypto.UnwrapConversationKey(kp.Identity, w); err != nil {
				t.Fatal(err)
			}
		}
	}
	payload := strings.Join([]string{"ConversationKeyChangeEvent", a.MessageID, u.id, conv, version, wire.EncodeB64NoPad(key[:])}, ",")
	verifyBy(t, u, payload, a.MessageEventSignature.Signature)
}

func verifyBy(t *testing.T, u *testUser, payload, sigB64 string) {
	t.Helper()
	kp, _ := testutil.Must2(u.e.identity())(t)
	sig, err := wire.DecodeB64(sigB64)
	if err != nil || strings.HasSuffix(sigB64, "=") {
		t.Fatalf("signature encoding %q", sigB64)
	}
	if err := crypto.Verify(kp.Signing.PublicKey(), []byte(payload), sig); err != nil {
		t.Fatalf("signature does not verify over %q: %v", payload, err)
	}
}

func TestKeyDistributionRequestShapes(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	var rs *recordServer
	alice := n.userWith("alice", func(s Server) Server { rs = &recordServer{Server: s}; return rs })
	bob, carol := n.user("bob"), n.user("carol")
	versions := map[string]string{alice.id: alice.e.PublicKeyVersion(), bob.id: bob.e.PublicKeyVersion(), carol.id: carol.e.PublicKeyVersion()}

	// 1:1 key change.
	cid, err := alice.e.EnsureConversationKey(ctx, bob.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.keys) != 1 || len(rs.keys[0].ActionSignatures) != 1 {
		t.Fatalf("key requests %+v", rs.keys)
	}
	k := rs.keys[0]
	checkKeyChange(t, alice, cid, k.ConversationKeyVersion, k.ConversationParticipantKeys, k.ActionSignatures[0],
		map[string]string{alice.id: versions[alice.id], bob.id: versions[bob.id]})

	// Group create: key change + GroupCreate.
	gid, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id}})
	if err != nil {
		t.Fatal(err)
	}
	c := rs.creates[0]
	if c.ConversationID != gid || len(c.ActionSignatures) != 2 {
		t.Fatalf("create %+v", c)
	}
	checkKeyChange(t, alice, gid, c.ConversationKeyVersion, c.ConversationParticipantKeys, c.ActionSignatures[0],
		map[string]string{alice.id: versions[alice.id], bob.id: versions[bob.id]})
	gc := c.ActionSignatures[1]
	members := normaliseIDs([]string{alice.id, bob.id})
	want := strings.Join(append(append([]string{"GroupChangeEvent.GroupCreate", gc.MessageID, alice.id, c.ConversationKeyVersion}, members...), "null", "null", "null"), ",")
	if gc.SignaturePayload != want || !strings.HasPrefix(gc.EncodedMessageEventDetail, "DAAEDAABDAAB") {
		t.Fatalf("group create action %+v\nwant payload %s", gc, want)
	}
	verifyBy(t, alice, want, gc.MessageEventSignature.Signature)

	// Member add: key change to everyone + GroupMemberAddChange.
	if err := alice.e.AddMembers(ctx, gid, carol.id); err != nil {
		t.Fatal(err)
	}
	a := rs.adds[0]
	if len(a.ActionSignatures) != 2 || len(a.UserIDs) != 1 || a.UserIDs[0] != carol.id || !decimal.Less(c.ConversationKeyVersion, a.ConversationKeyVersion) {
		t.Fatalf("add %+v", a)
	}
	checkKeyChange(t, alice, gid, a.ConversationKeyVersion, a.ConversationParticipantKeys, a.ActionSignatures[0], versions)
	ma := a.ActionSignatures[1]
	parts := []string{"GroupChangeEvent.GroupMemberAddChange", ma.MessageID, alice.id, gid, carol.id}
	parts = append(parts, members...)
	parts = append(parts, alice.id, "null", "null", "null", a.ConversationKeyVersion, "null")
	want = strings.Join(parts, ",")
	if ma.SignaturePayload != want || !strings.HasPrefix(ma.EncodedMessageEventDetail, "DAAEDAABDAAF") {
		t.Fatalf("member add action %+v\nwant payload %s", ma, want)
	}
	verifyBy(t, alice, want, ma.MessageEventSignature.Signature)
	raw := testutil.Must(wire.DecodeB64(ma.EncodedMessageEventDetail))(t)
	d := testutil.Must(wire.DecodeMessageEventDetail(raw))(t)
	if d.GroupChangeEvent.GroupChange.GroupMemberAdd.CurrentPendingMemberIds == nil {
		t.Fatal("current_pending_member_ids not written (the XDK writes it even when empty)")
	}
}
