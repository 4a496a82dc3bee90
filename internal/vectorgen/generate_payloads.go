package vectorgen

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/testvectors"
)

// uuid draws a random version-4 UUID in lower case, like the XDK's message ids.
func (g *generator) uuid() string {
	b := g.rng.Bytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// payloadCase signs the payload described by in with k and records it. The
// expected class is derived from the builder's error, then checked by the
// tests against the class the generator was told to expect.
func (g *generator) payloadCase(name string, k *crypto.PrivateKey, in map[string]any, expect, note string) {
	c := testvectors.Case{Name: name, Kind: testvectors.KindPayload, Op: "build", Expect: expect, Note: note, Inputs: in}
	p, err := BuildPayload(in)
	var b []byte
	if err == nil {
		b, err = p.Bytes()
	}
	got := testvectors.ExpectSuccess
	switch {
	case errors.Is(err, crypto.ErrUnsupportedSignatureVersion):
		got = testvectors.ExpectUnsupportedVersion
	case errors.Is(err, crypto.ErrInvalidPayload):
		got = testvectors.ExpectInvalidPayload
	case err != nil:
		g.fail(fmt.Errorf("testvectors: %s: %w", name, err))
		return
	}
	if got != expect {
		g.fail(fmt.Errorf("testvectors: %s: builder says %q, want %q", name, got, expect))
		return
	}
	if expect == testvectors.ExpectSuccess {
		sig, err := crypto.Sign(k, b)
		if err != nil {
			g.fail(err)
			return
		}
		in["signing_private_hex"] = hx(k.Bytes())
		c.Outputs = map[string]any{"payload_utf8": string(b), "signature_b64nopad": crypto.EncodeSignature(sig)}
	}
	g.add(c)
}

func (g *generator) payloads() {
	k := g.key()
	ck, err := crypto.NewConversationKey(g.rng)
	if err != nil {
		g.fail(err)
		return
	}
	base := func(kind string, version int, conv string) map[string]any {
		m := map[string]any{
			"payload_kind": kind, "signature_version": strconv.Itoa(version),
			"message_id": g.uuid(), "sender_id": "111",
		}
		if conv != "" {
			m["conversation_id"] = conv
		}
		return m
	}
	box, err := crypto.Seal(g.rng, ck, []byte("payload contents"))
	if err != nil {
		g.fail(err)
		return
	}
	mc := base(crypto.KindMessageCreate, 7, "111:222")
	mc["conversation_key_version"] = "1795000001000"
	mc["contents_hex"] = hx(box)
	g.payloadCase("payload/message-create-v7", k, mc, testvectors.ExpectSuccess, "contents are signed as unpadded base64 of the secretbox output")
	mc2 := base(crypto.KindMessageCreate, 2, "9:10")
	mc2["conversation_key_version"] = "10"
	mc2["contents_hex"] = hx(box)
	g.payloadCase("payload/message-create-v2", k, mc2, testvectors.ExpectSuccess, "same layout at every version from 2; 1:1 ids sort numerically (9:10)")

	kc := base(crypto.KindConversationKey, 7, "111:222")
	kc["conversation_key_version"] = "1795000001000"
	kc["conversation_key_hex"] = hx(ck[:])
	g.payloadCase("payload/key-change-v7", k, kc, testvectors.ExpectSuccess, "v6+ signs the plaintext conversation key: the payload is secret")
	kc6 := base(crypto.KindConversationKey, 6, "g1795000000000000001")
	kc6["conversation_key_version"] = "1795000001001"
	kc6["conversation_key_hex"] = hx(ck[:])
	g.payloadCase("payload/key-change-v6", k, kc6, testvectors.ExpectSuccess, "")
	kc5 := base(crypto.KindConversationKey, 5, "111:222")
	kc5["conversation_key_version"] = "1795000001002"
	kc5["participant_user_ids"] = []string{"222", "111"}
	kc5["participant_encrypted_keys_b64"] = []string{b64(g.rng.Bytes(113)), b64(g.rng.Bytes(113))}
	kc5["participant_key_versions"] = []string{"1795000000202", "1795000000101"}
	g.payloadCase("payload/key-change-v5", k, kc5, testvectors.ExpectSuccess, "before v6 the participants' encrypted keys are signed, in event order")

	gc := base(crypto.KindGroupCreate, 7, "")
	gc["conversation_key_version"] = "1795000002000"
	gc["member_ids"] = []string{"111", "222", "333"}
	gc["title"] = "Team"
	g.payloadCase("payload/group-create-v7", k, gc, testvectors.ExpectSuccess, "no conversation id; admins and ttl are not signed; absent optionals are \"null\"")
	gc2 := base(crypto.KindGroupCreate, 7, "")
	gc2["conversation_key_version"] = "1795000002000"
	gc2["member_ids"] = []string{"111", "222"}
	gc2["is_legacy_group_upgrade"] = "false"
	gc2["title"] = "null"
	gc2["avatar_url"] = "https://pbs.twimg.com/a.jpg"
	g.payloadCase("payload/group-create-v7-all-optionals", k, gc2, testvectors.ExpectSuccess, "a title equal to the text \"null\" signs like an absent one (the format cannot tell them apart)")
	gc3 := base(crypto.KindGroupCreate, 3, "")
	gc3["conversation_key_version"] = "1795000002000"
	gc3["member_ids"] = []string{"111", "222"}
	gc3["title"] = "Team"
	g.payloadCase("payload/group-create-v3", k, gc3, testvectors.ExpectSuccess, "before v4 the legacy flag, title and avatar are not signed")

	ma := base(crypto.KindGroupMemberAdd, 7, "g1795000000000000001")
	ma["new_member_ids"] = []string{"333"}
	ma["current_member_ids"] = []string{"111", "222"}
	ma["current_admin_ids"] = []string{"111"}
	ma["current_pending_member_ids"] = []string{"444"}
	ma["current_title"] = "Team"
	ma["current_ttl_msec"] = "86400000"
	ma["conversation_key_version"] = "1795000002001"
	g.payloadCase("payload/group-member-add-v7", k, ma, testvectors.ExpectSuccess, "pending ids are not signed at v7")
	ma6 := base(crypto.KindGroupMemberAdd, 6, "g1795000000000000001")
	for _, f := range []string{"new_member_ids", "current_member_ids", "current_admin_ids", "current_pending_member_ids", "current_title", "current_ttl_msec"} {
		ma6[f] = ma[f]
	}
	ma6["conversation_key_version"] = "1795000002001"
	ma6["screen_capture_blocking_enabled"] = "true"
	g.payloadCase("payload/group-member-add-v6", k, ma6, testvectors.ExpectSuccess, "v3 to v6 sign the pending ids; v5+ the screen-capture flag")
	ma7i := base(crypto.KindGroupMemberAdd, 7, "g1795000000000000001")
	for _, f := range []string{"new_member_ids", "current_member_ids", "current_admin_ids", "current_title"} {
		ma7i[f] = ma[f]
	}
	ma7i["conversation_key_version"] = "1795000002002"
	ma7i["invite_url"] = "https://x.com/i/chat/group_join/g1795000000000000001/abc"
	ma7i["invite_expires_at_msec"] = "1795600000000"
	g.payloadCase("payload/group-member-add-v7-invite", k, ma7i, testvectors.ExpectSuccess, "v7 appends the invite fields when an invite is present")

	del := base(crypto.KindMessageDelete, 7, "111:222")
	del["delete_action"] = "2"
	del["sequence_ids"] = []string{"1002", "1003"}
	g.payloadCase("payload/message-delete-v7", k, del, testvectors.ExpectSuccess, "action 2 = delete for all")
	del1 := base(crypto.KindMessageDelete, 7, "111:222")
	del1["delete_action"] = "1"
	del1["sequence_ids"] = []string{"1002"}
	g.payloadCase("payload/message-delete-for-self", k, del1, testvectors.ExpectSuccess, "")

	// Failures.
	comma := base(crypto.KindGroupCreate, 7, "")
	comma["conversation_key_version"] = "1795000002000"
	comma["member_ids"] = []string{"111", "222"}
	comma["title"] = "Team, the"
	g.payloadCase("payload/comma-in-title", k, comma, testvectors.ExpectInvalidPayload, "the format has no escaping; the XDK throws too")
	comma2 := base(crypto.KindMessageDelete, 7, "111:222")
	comma2["message_id"] = "a,b"
	comma2["delete_action"] = "2"
	comma2["sequence_ids"] = []string{"1002"}
	g.payloadCase("payload/comma-in-message-id", k, comma2, testvectors.ExpectInvalidPayload, "")
	comma3 := base(crypto.KindMessageDelete, 7, "111:222")
	comma3["delete_action"] = "2"
	comma3["sequence_ids"] = []string{"1002,1003"}
	g.payloadCase("payload/comma-in-list-item", k, comma3, testvectors.ExpectInvalidPayload, "one list element smuggling two")
	v1 := base(crypto.KindMessageDelete, 1, "111:222")
	v1["delete_action"] = "2"
	v1["sequence_ids"] = []string{"1002"}
	g.payloadCase("payload/version-1", k, v1, testvectors.ExpectUnsupportedVersion, "")
	v8 := base(crypto.KindMessageDelete, 8, "111:222")
	v8["delete_action"] = "2"
	v8["sequence_ids"] = []string{"1002"}
	g.payloadCase("payload/version-8", k, v8, testvectors.ExpectUnsupportedVersion, "STRICTER than the XDK, which signs and verifies versions above 7 with the v7 layout")
	nokey := base(crypto.KindConversationKey, 7, "111:222")
	nokey["conversation_key_version"] = "1795000001000"
	g.payloadCase("payload/key-change-v7-without-key", k, nokey, testvectors.ExpectInvalidPayload, "v6+ needs the plaintext key")
}
