package peer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
)

func TestImportExportKeys(t *testing.T) {
	p := startPeer(t)
	ctx := testCtx(t)
	a, b := p.Account("orig"), p.Account("copy")
	reg, err := a.GenerateKeypairs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := a.ExportKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 64 {
		t.Fatalf("exportKeys: %d bytes, want 64", len(keys))
	}
	if err := b.ImportKeys(ctx, keys, reg.Version); err != nil {
		t.Fatal(err)
	}
	pa, err := a.PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pa.Identity != pb.Identity || pa.Signing != pb.Signing {
		t.Error("imported keys differ from the exported ones")
	}
	for _, k := range []string{reg.PublicKey.PublicKey, pa.Identity} {
		ok, err := b.MatchesRegisteredKey(ctx, k)
		if err != nil || !ok {
			t.Errorf("matchesRegisteredKey(%.12s…) = %v, %v; want true", k, ok, err)
		}
	}
	// Deterministic signatures: both instances sign identically, and the
	// SDK verifies what Go decodes.
	data := []byte("interop")
	s1, err := a.Sign(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := b.Sign(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s1, s2) || len(s1) != 64 {
		t.Errorf("sign: %x vs %x", s1, s2)
	}
	if !verifyRS(parseSPKI(t, reg.PublicKey.SigningPublicKey), data, s1) {
		t.Error("SDK signature does not verify in Go")
	}
	// The SDK signs with RFC 6979 and no low-S normalisation: Go's
	// deterministic mode (nil rand) reproduces the bytes exactly.
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), keys[32:])
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(data)
	der, err := priv.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		t.Fatal(err)
	}
	goSig := append(rs.R.FillBytes(make([]byte, 32)), rs.S.FillBytes(make([]byte, 32))...)
	if !bytes.Equal(goSig, s1) {
		t.Errorf("SDK signature %x differs from Go's RFC 6979 signature %x", s1, goSig)
	}
	ok, err := b.Verify(ctx, reg.PublicKey.SigningPublicKey, s1, []byte("other"))
	if err != nil || ok {
		t.Errorf("verify(wrong data) = %v, %v; want false", ok, err)
	}
}

func TestGroupOpsAndDelete(t *testing.T) {
	p := startPeer(t)
	ctx := testCtx(t)
	ids := []string{"111", "222", "333"}
	regs := map[string]*Registration{}
	for _, id := range ids {
		r, err := p.Account(id).GenerateKeypairs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Account(id).SetIdentity(ctx, id, r.Version); err != nil {
			t.Fatal(err)
		}
		regs[id] = r
	}
	admin := p.Account("111")
	title := "Team"
	gc, err := admin.PrepareGroupCreate(ctx, GroupCreateParams{
		PublicKeys:     []PublicKeyInput{PublicKeyInputFor("111", regs["111"]), PublicKeyInputFor("222", regs["222"])},
		ConversationID: "g42", MemberIDs: []string{"111", "222"}, AdminIDs: []string{"111"}, Title: &title,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(gc.ActionSignatures) != 2 || len(gc.ParticipantKeys) != 2 {
		t.Fatalf("group create: %d signatures, %d participant keys", len(gc.ActionSignatures), len(gc.ParticipantKeys))
	}
	if want := "GroupChangeEvent.GroupCreate," + gc.ActionSignatures[1].MessageID + ",111," + gc.ConversationKeyVersion + ",111,222,null,Team,null"; gc.ActionSignatures[1].SignaturePayload != want {
		t.Errorf("group create payload %q, want %q", gc.ActionSignatures[1].SignaturePayload, want)
	}
	// Member 222 unwraps its copy of the key.
	var wrapped string
	for _, pk := range gc.ParticipantKeys {
		if pk.UserID == "222" {
			wrapped = pk.EncryptedKey
		}
	}
	key, err := p.Account("222").DecryptConversationKey(ctx, wrapped)
	if err != nil || !bytes.Equal(key, gc.ConversationKey) {
		t.Fatalf("decryptConversationKey: %v", err)
	}

	ma, err := admin.PrepareGroupMembersChange(ctx, GroupMembersChangeParams{
		PublicKeys:       []PublicKeyInput{PublicKeyInputFor("111", regs["111"]), PublicKeyInputFor("222", regs["222"]), PublicKeyInputFor("333", regs["333"])},
		ConversationID:   "g42",
		NewMemberIDs:     []string{"333"},
		CurrentMemberIDs: []string{"111", "222"}, CurrentAdminIDs: []string{"111"}, CurrentPendingMemberIDs: []string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ma.ParticipantKeys) != 3 || !strings.HasPrefix(ma.ActionSignatures[1].SignaturePayload, "GroupChangeEvent.GroupMemberAddChange,") {
		t.Errorf("member add: %d keys, payload %q", len(ma.ParticipantKeys), ma.ActionSignatures[1].SignaturePayload)
	}

	del, err := admin.PrepareMessageDelete(ctx, MessageDeleteParams{ConversationID: "g42", SequenceIDs: []string{"5", "7"}, DeleteForAll: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := "MessageDeleteEvent," + del.MessageID + ",111,g42,2,5,7"; del.SignaturePayload != want {
		t.Errorf("delete payload %q, want %q", del.SignaturePayload, want)
	}
	sig, err := base64.RawStdEncoding.DecodeString(del.Signature)
	if err != nil {
		t.Fatalf("delete signature not unpadded base64: %v", err)
	}
	if !verifyRS(parseSPKI(t, regs["111"].PublicKey.SigningPublicKey), []byte(del.SignaturePayload), sig) {
		t.Error("delete signature does not verify in Go")
	}

	// The delete detail decodes as MessageEventDetail field 7.
	var tree []struct {
		ID   int    `json:"id"`
		Type string `json:"type"`
	}
	if err := p.Call(ctx, "thriftDecode", map[string]any{"data": del.EncodedMessageEventDetail}, &tree); err != nil {
		t.Fatal(err)
	}
	if len(tree) != 1 || tree[0].ID != 7 || tree[0].Type != "struct" {
		t.Errorf("delete detail tree = %+v, want one struct field 7", tree)
	}

	// Metadata encryption round trip across accounts.
	ct, err := admin.Encrypt(ctx, title, gc.ConversationKey)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := p.Account("222").Decrypt(ctx, ct, key)
	if err != nil || pt != title {
		t.Errorf("decrypt(encrypt(title)) = %q, %v", pt, err)
	}
}
