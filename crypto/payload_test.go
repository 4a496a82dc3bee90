package crypto

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
)

func TestParseSignatureVersion(t *testing.T) {
	for s, want := range map[string]int{"2": 2, "5": 5, "6": 6, "7": 7} {
		if v, err := ParseSignatureVersion(s); err != nil || v != want {
			t.Errorf("%q: %d, %v", s, v, err)
		}
	}
	for _, s := range []string{"", "0", "1", "8", "10", "07", "+7", "-7", " 7", "7 ", "7a", "٧", "99999999999999999999"} {
		if _, err := ParseSignatureVersion(s); !errors.Is(err, ErrUnsupportedSignatureVersion) {
			t.Errorf("%q accepted (%v)", s, err)
		}
	}
}

func str(s string) *string { return &s }
func i64(n int64) *int64   { return &n }
func boolp(b bool) *bool   { return &b }

// TestPayloadLayouts pins every payload string, written out by hand from
// the XDK's signer (signatures.rs, pipeline.rs) and verifier
// (core.rs build_event_signature_payload).
func TestPayloadLayouts(t *testing.T) {
	h := Header{MessageID: "m1", SenderID: "111", ConversationID: "111:222"}
	g := Header{MessageID: "m2", SenderID: "111", ConversationID: "g9"}
	key := &ConversationKey{}
	for i := range key {
		key[i] = byte(i)
	}
	ma := GroupMemberAdd{
		NewMemberIDs: []string{"n1"}, CurrentMemberIDs: []string{"c1", "c2"}, CurrentAdminIDs: []string{"c1"},
		CurrentPendingMemberIDs: []string{"p1"}, ConversationKeyVersion: "42",
	}
	maFull := ma
	maFull.CurrentTitle, maFull.CurrentAvatarURL, maFull.CurrentTTLMsec = str("T"), str("https://a/b.png"), i64(604800000)
	maFull.ScreenCaptureBlockingEnabled = boolp(false)
	maFull.Invite = &GroupInvite{InviteURL: str("https://x/i"), ExpiresAtMsec: i64(99)}
	gc := GroupCreate{ConversationKeyVersion: "42", MemberIDs: []string{"111", "222"}}
	gcFull := gc
	gcFull.IsLegacyGroupUpgrade, gcFull.Title, gcFull.AvatarURL = boolp(true), str("My Group"), str("https://img/a.png")
	parts := []ParticipantKey{{"111", "QUJD", "1"}, {"222", "REVG", "2"}}
	type tc struct {
		name string
		p    func() (Payload, error)
		want string
	}
	cases := []tc{
		{"message v7", func() (Payload, error) { return MessageCreatePayload(7, h, "1001", []byte{0xfb, 0xff}) }, "MessageCreateEvent,m1,111,111:222,1001,+/8"},
		{"message v2", func() (Payload, error) { return MessageCreatePayload(2, h, "1001", []byte("abc")) }, "MessageCreateEvent,m1,111,111:222,1001,YWJj"},
		{"message no conversation", func() (Payload, error) {
			return MessageCreatePayload(7, Header{MessageID: "m1", SenderID: "111"}, "", []byte("a"))
		}, "MessageCreateEvent,m1,111,,YQ"},
		{"key change v7", func() (Payload, error) {
			return KeyChangePayload(7, h, KeyChange{ConversationKeyVersion: "42", Key: key})
		}, "ConversationKeyChangeEvent,m1,111,111:222,42,AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"},
		{"key change v6", func() (Payload, error) {
			return KeyChangePayload(6, h, KeyChange{ConversationKeyVersion: "42", Key: key})
		}, "ConversationKeyChangeEvent,m1,111,111:222,42,AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"},
		{"key change v5", func() (Payload, error) {
			return KeyChangePayload(5, h, KeyChange{ConversationKeyVersion: "42", Key: key, Participants: parts})
		}, "ConversationKeyChangeEvent,m1,111,111:222,42,111,QUJD,1,222,REVG,2"},
		{"key change v2", func() (Payload, error) {
			return KeyChangePayload(2, h, KeyChange{ConversationKeyVersion: "42", Participants: parts})
		}, "ConversationKeyChangeEvent,m1,111,111:222,42,111,QUJD,1,222,REVG,2"},
		{"group create v7", func() (Payload, error) { return GroupCreatePayload(7, g, gc) }, "GroupChangeEvent.GroupCreate,m2,111,42,111,222,null,null,null"},
		{"group create v7 full", func() (Payload, error) { return GroupCreatePayload(7, g, gcFull) }, "GroupChangeEvent.GroupCreate,m2,111,42,111,222,true,My Group,https://img/a.png"},
		{"group create v4", func() (Payload, error) { return GroupCreatePayload(4, g, gcFull) }, "GroupChangeEvent.GroupCreate,m2,111,42,111,222,true,My Group,https://img/a.png"},
		{"group create v3", func() (Payload, error) { return GroupCreatePayload(3, g, gcFull) }, "GroupChangeEvent.GroupCreate,m2,111,42,111,222"},
		{"member add v7", func() (Payload, error) { return GroupMemberAddPayload(7, g, ma) }, "GroupChangeEvent.GroupMemberAddChange,m2,111,g9,n1,c1,c2,c1,null,null,null,42,null"},
		{"member add v7 full", func() (Payload, error) { return GroupMemberAddPayload(7, g, maFull) }, "GroupChangeEvent.GroupMemberAddChange,m2,111,g9,n1,c1,c2,c1,T,https://a/b.png,604800000,42,false,https://x/i,null,99"},
		{"member add v6", func() (Payload, error) { return GroupMemberAddPayload(6, g, maFull) }, "GroupChangeEvent.GroupMemberAddChange,m2,111,g9,n1,c1,c2,c1,p1,T,https://a/b.png,604800000,42,false"},
		{"member add v5", func() (Payload, error) { return GroupMemberAddPayload(5, g, ma) }, "GroupChangeEvent.GroupMemberAddChange,m2,111,g9,n1,c1,c2,c1,p1,null,null,null,42,null"},
		{"member add v4", func() (Payload, error) { return GroupMemberAddPayload(4, g, maFull) }, "GroupChangeEvent.GroupMemberAddChange,m2,111,g9,n1,c1,c2,c1,p1,T,https://a/b.png,604800000,42"},
		{"member add v3", func() (Payload, error) { return GroupMemberAddPayload(3, g, ma) }, "GroupChangeEvent.GroupMemberAddChange,m2,111,g9,n1,c1,c2,c1,p1,null,null,null,42"},
		{"member add v2", func() (Payload, error) { return GroupMemberAddPayload(2, g, ma) }, "GroupChangeEvent.GroupMemberAddChange,m2,111,g9,n1,c1,c2,c1,null,null,null,42"},
		{"delete", func() (Payload, error) { return MessageDeletePayload(7, h, DeleteForSelf, []string{"5", "6"}) }, "MessageDeleteEvent,m1,111,111:222,1,5,6"},
		{"conversation delete", func() (Payload, error) { return ConversationDeletePayload(7, h, boolp(true), i64(1700)) }, "ConversationDeleteEvent,m1,111,111:222,true,1700"},
		{"conversation delete bare", func() (Payload, error) { return ConversationDeletePayload(7, h, nil, nil) }, "ConversationDeleteEvent,m1,111,111:222"},
		{"mark read", func() (Payload, error) { return MarkReadPayload(7, h, "77", i64(1700)) }, "MarkConversationReadEvent,m1,111,111:222,77,1700"},
		{"mark unread", func() (Payload, error) { return MarkUnreadPayload(7, h, nil) }, "MarkConversationUnreadEvent,m1,111,111:222"},
		{"member remove", func() (Payload, error) { return GroupIDListPayload(7, g, KindGroupMemberRemove, []string{"c2"}) }, "GroupChangeEvent.GroupMemberRemoveChange,m2,111,g9,c2"},
		{"admin add", func() (Payload, error) { return GroupIDListPayload(7, g, KindGroupAdminAdd, []string{"c2"}) }, "GroupChangeEvent.GroupAdminAddChange,m2,111,g9,c2"},
		{"title", func() (Payload, error) { return GroupTitleChangePayload(7, g, "42", nil) }, "GroupChangeEvent.GroupTitleChange,m2,111,g9,42,"},
		{"avatar", func() (Payload, error) { return GroupAvatarChangePayload(7, g, "42", str("u")) }, "GroupChangeEvent.GroupAvatarUrlChange,m2,111,g9,42,u"},
		{"invite enable", func() (Payload, error) { return GroupInviteEnablePayload(7, g, "https://x/i", nil, str("aff")) }, "GroupChangeEvent.GroupInviteEnable,m2,111,g9,https://x/i,null,aff"},
		{"invite disable", func() (Payload, error) { return GroupInviteDisablePayload(7, g, "c1") }, "GroupChangeEvent.GroupInviteDisable,m2,111,g9,c1"},
		{"join request", func() (Payload, error) { return GroupJoinRequestPayload(7, g, "u5") }, "GroupChangeEvent.GroupJoinRequest,m2,111,g9,u5"},
		{"join reject", func() (Payload, error) { return GroupIDListPayload(7, g, KindGroupJoinReject, []string{"u5", "u6"}) }, "GroupChangeEvent.GroupJoinReject,m2,111,g9,u5,u6"},
		{"duration", func() (Payload, error) { return DurationChangePayload(7, h, 86400000) }, "ConversationMetadataChangeEvent.MessageDurationChange,m1,111,111:222,86400000"},
		{"duration remove", func() (Payload, error) { return FlagPayload(7, h, KindDurationRemove) }, "ConversationMetadataChangeEvent.MessageDurationRemove,m1,111,111:222"},
		{"mute", func() (Payload, error) { return GroupIDListPayload(7, h, KindMuteConversation, []string{"111:222"}) }, "ConversationMetadataChangeEvent.MuteConversation,m1,111,111:222,111:222"},
		{"capture block", func() (Payload, error) { return FlagPayload(7, h, KindEnableCaptureBlock) }, "ConversationMetadataChangeEvent.EnableScreenCaptureBlocking,m1,111,111:222"},
	}
	for _, c := range cases {
		p, err := c.p()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		b, err := p.Bytes()
		if err != nil || string(b) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, b, c.want)
			continue
		}
		if p.ConversationID == "" && p.Kind != KindGroupCreate {
			continue // the parser assumes a conversation id is present
		}
		q, err := ParsePayload(c.want)
		if err != nil {
			t.Errorf("%s: parse: %v", c.name, err)
			continue
		}
		if qb := testutil.Must(q.Bytes())(t); string(qb) != c.want || q.Kind != p.Kind || q.MessageID != p.MessageID {
			t.Errorf("%s: parse round trip %q", c.name, qb)
		}
	}
}

func TestPayloadRejects(t *testing.T) {
	h := Header{MessageID: "m", SenderID: "1", ConversationID: "1:2"}
	if _, err := MessageCreatePayload(7, Header{MessageID: "m,x", SenderID: "1", ConversationID: "1:2"}, "1", nil); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("comma in message id: %v", err)
	}
	if _, err := GroupCreatePayload(7, h, GroupCreate{ConversationKeyVersion: "1", Title: str("a,b")}); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("comma in title: %v", err)
	}
	for _, v := range []int{0, 1, 8} {
		if _, err := MessageCreatePayload(v, h, "1", nil); !errors.Is(err, ErrUnsupportedSignatureVersion) {
			t.Errorf("version %d: %v", v, err)
		}
	}
	if _, err := KeyChangePayload(6, h, KeyChange{ConversationKeyVersion: "1"}); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("v6 key change without key: %v", err)
	}
	if _, err := MessageCreatePayload(7, Header{SenderID: "1"}, "1", nil); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("empty message id: %v", err)
	}
	if _, err := GroupIDListPayload(7, h, KindMessageCreate, nil); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("wrong kind: %v", err)
	}
	if _, err := FlagPayload(7, h, KindMuteConversation); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("wrong flag kind: %v", err)
	}
	for _, s := range []string{"", "Unknown,m,1,c", "MessageCreateEvent,m,1", "MessageCreateEvent,,1,c", "MessageCreateEvent,m,1,,x", "GroupChangeEvent.GroupCreate,m"} {
		if _, err := ParsePayload(s); !errors.Is(err, ErrInvalidPayload) {
			t.Errorf("ParsePayload(%q): %v", s, err)
		}
	}
}

func TestPayloadRedaction(t *testing.T) {
	key := &ConversationKey{0xfe, 0xed}
	p, err := KeyChangePayload(7, Header{MessageID: "m", SenderID: "1", ConversationID: "1:2"}, KeyChange{ConversationKeyVersion: "9", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	b := testutil.Must(p.Bytes())(t)
	secret := string(b[strings.LastIndexByte(string(b), ',')+1:])
	for _, out := range []string{p.String(), fmt.Sprintf("%v", p), fmt.Sprintf("%#v", p), fmt.Sprintf("%+v", p)} {
		if strings.Contains(out, secret) || !strings.Contains(out, "REDACTED") {
			t.Errorf("key change payload not redacted: %q", out)
		}
	}
	parsed := testutil.Must(ParsePayload(string(b)))(t)
	if strings.Contains(parsed.String(), secret) {
		t.Error("parsed key change payload not redacted")
	}
}

func TestPayloadSignVerify(t *testing.T) {
	k := mustKey(t, 2)
	p := testutil.Must(MessageCreatePayload(7, Header{MessageID: "m", SenderID: "1", ConversationID: "1:2"}, "5", []byte("box")))(t)
	sig, err := p.Sign(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(k.PublicKey(), sig); err != nil {
		t.Fatal(err)
	}
	p.ConversationID = "1:3"
	if err := p.Verify(k.PublicKey(), sig); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("altered payload verified: %v", err)
	}
}
