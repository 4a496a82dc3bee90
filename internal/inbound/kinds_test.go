package inbound

import (
	"errors"
	"testing"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// TestSignedKinds builds every signed non-message kind with the crypto
// package's payload builders (an independent implementation of the signed
// strings) and checks each verifies, maps, and fails when tampered.
func TestSignedKinds(t *testing.T) {
	f := newFixture(t)
	g := "g1234567890"
	type tc struct {
		name  string
		d     *tevent.MessageEventDetail
		conv  string
		sv    int
		pl    func(h crypto.Header, v int) (crypto.Payload, error)
		check func(t *testing.T, ev *event.Event)
	}
	seqs := []string{"5", "7"}
	cases := []tc{
		{"delete", &tevent.MessageEventDetail{MessageDeleteEvent: &tevent.MessageDeleteEvent{SequenceIds: seqs, DeleteMessageAction: ptr(tevent.DeleteMessageAction_DELETE_FOR_ALL)}}, f.conv, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.MessageDeletePayload(v, h, 2, seqs)
			},
			func(t *testing.T, ev *event.Event) {
				if ev.Delete == nil || ev.Delete.Action != event.DeleteForAll || len(ev.Delete.SequenceIDs) != 2 || ev.Delete.Action.String() != "for_all" {
					t.Fatalf("%+v", ev.Delete)
				}
			}},
		{"conversation delete", &tevent.MessageEventDetail{ConversationDeleteEvent: &tevent.ConversationDeleteEvent{ConversationID: ptr(f.conv),
			ClearConversationOptions: &tevent.ClearConversationOptions{ClearAllMessages: ptr(true), SortOrderMsec: ptr(int64(99))}}}, f.conv, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.ConversationDeletePayload(v, h, ptr(true), ptr(int64(99)))
			},
			func(t *testing.T, ev *event.Event) {
				if c := ev.ConversationDelete; c == nil || !c.ClearAllMessages || c.SortOrderMsec != 99 {
					t.Fatalf("%+v", c)
				}
			}},
		{"mark read", &tevent.MessageEventDetail{MarkConversationReadEvent: &tevent.MarkConversationReadEvent{SeenUntilSequenceID: ptr("42"), SeenAtMillis: ptr(int64(1700))}}, f.conv, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.MarkReadPayload(v, h, "42", ptr(int64(1700)))
			},
			func(t *testing.T, ev *event.Event) {
				if ev.MarkRead == nil || ev.MarkRead.SeenUntilSequenceID != "42" || ev.MarkRead.SeenAtMillis != 1700 {
					t.Fatalf("%+v", ev.MarkRead)
				}
			}},
		{"mark unread", &tevent.MessageEventDetail{MarkConversationUnreadEvent: &tevent.MarkConversationUnreadEvent{SeenUntilSequenceID: ptr("41")}}, f.conv, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) { return crypto.MarkUnreadPayload(v, h, ptr("41")) },
			func(t *testing.T, ev *event.Event) {
				if ev.MarkUnread == nil || ev.MarkUnread.SeenUntilSequenceID != "41" {
					t.Fatalf("%+v", ev.MarkUnread)
				}
			}},
		{"group create", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupCreate: &tevent.GroupCreate{
			MemberIds: []string{"1111", "2222"}, AdminIds: []string{"1111"}, Title: ptr("Team"), ConversationKeyVersion: ptr("1000"), TTLMsec: ptr(int64(60000))}}}}, g, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupCreatePayload(v, h, crypto.GroupCreate{ConversationKeyVersion: "1000", MemberIDs: []string{"1111", "2222"}, Title: ptr("Team")})
			},
			func(t *testing.T, ev *event.Event) {
				gc := ev.GroupChange
				if gc == nil || gc.Kind != event.GroupCreated || gc.Title != "Team" || len(gc.MemberIDs) != 2 || gc.TTL != time.Minute || gc.KeyVersion != "1000" {
					t.Fatalf("%+v", gc)
				}
				if len(gc.Unsigned) != 2 || gc.Unsigned[0] != "AdminIDs" || gc.Unsigned[1] != "TTL" {
					t.Fatalf("unsigned %v", gc.Unsigned)
				}
			}},
		{"group create v3 layout", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupCreate: &tevent.GroupCreate{
			MemberIds: []string{"1111", "2222"}, Title: ptr("Team"), ConversationKeyVersion: ptr("1000")}}}}, g, 3,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupCreatePayload(v, h, crypto.GroupCreate{ConversationKeyVersion: "1000", MemberIDs: []string{"1111", "2222"}, Title: ptr("Team")})
			}, func(t *testing.T, ev *event.Event) {
				if u := ev.GroupChange.Unsigned; len(u) != 1 || u[0] != "Title" {
					t.Fatalf("unsigned %v", u)
				}
			}},
		{"member add", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupMemberAdd: &tevent.GroupMemberAddChange{
			MemberIds: []string{"3333"}, CurrentMemberIds: []string{"1111", "2222"}, CurrentAdminIds: []string{"1111"}, CurrentTitle: ptr("Team"),
			ConversationKeyVersion: ptr("2000"), CurrentPendingMemberIds: []string{"4444"}}}}}, g, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupMemberAddPayload(v, h, crypto.GroupMemberAdd{NewMemberIDs: []string{"3333"}, CurrentMemberIDs: []string{"1111", "2222"},
					CurrentAdminIDs: []string{"1111"}, CurrentTitle: ptr("Team"), ConversationKeyVersion: "2000", CurrentPendingMemberIDs: []string{"4444"}})
			},
			func(t *testing.T, ev *event.Event) {
				gc := ev.GroupChange
				if gc == nil || gc.Kind != event.GroupMembersAdded || gc.MemberIDs[0] != "3333" || len(gc.CurrentPendingMemberIDs) != 1 {
					t.Fatalf("%+v", gc)
				}
				if u := gc.Unsigned; len(u) != 1 || u[0] != "CurrentPendingMemberIDs" {
					t.Fatalf("unsigned %v", u)
				}
			}},
		{"member add v4 with pending ids", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupMemberAdd: &tevent.GroupMemberAddChange{
			MemberIds: []string{"3333"}, CurrentMemberIds: []string{"1111"}, CurrentAdminIds: []string{"1111"},
			ConversationKeyVersion: ptr("2000"), CurrentPendingMemberIds: []string{"4444"}, CurrentTTLMsec: ptr(int64(5))}}}}, g, 4,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupMemberAddPayload(v, h, crypto.GroupMemberAdd{NewMemberIDs: []string{"3333"}, CurrentMemberIDs: []string{"1111"},
					CurrentAdminIDs: []string{"1111"}, ConversationKeyVersion: "2000", CurrentPendingMemberIDs: []string{"4444"}, CurrentTTLMsec: ptr(int64(5))})
			}, nil},
		{"member add v7 with invite and screen capture", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupMemberAdd: &tevent.GroupMemberAddChange{
			MemberIds: []string{"3333"}, CurrentMemberIds: []string{"1111"}, CurrentAdminIds: []string{"1111"}, ConversationKeyVersion: ptr("2000"),
			ScreenCaptureBlockingEnabled: ptr(true), GroupInviteEnable: &tevent.GroupInviteEnable{InviteURL: ptr("https://i"), ExpiresAtMsec: ptr(int64(7))},
			AdminSettings: &tevent.GroupAdminSettings{AddMember: ptr(false)}}}}}, g, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupMemberAddPayload(v, h, crypto.GroupMemberAdd{NewMemberIDs: []string{"3333"}, CurrentMemberIDs: []string{"1111"},
					CurrentAdminIDs: []string{"1111"}, ConversationKeyVersion: "2000", ScreenCaptureBlockingEnabled: ptr(true),
					Invite: &crypto.GroupInvite{InviteURL: ptr("https://i"), ExpiresAtMsec: ptr(int64(7))}})
			},
			func(t *testing.T, ev *event.Event) {
				gc := ev.GroupChange
				if gc.Invite == nil || gc.Invite.URL != "https://i" || gc.ScreenCaptureBlocking == nil || !*gc.ScreenCaptureBlocking ||
					gc.AdminSettings == nil || gc.AdminSettings.AddMember == nil || *gc.AdminSettings.AddMember {
					t.Fatalf("%+v", gc)
				}
				if u := gc.Unsigned; len(u) != 1 || u[0] != "AdminSettings" {
					t.Fatalf("unsigned %v", u)
				}
			}},
		{"member add v5 with screen capture", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupMemberAdd: &tevent.GroupMemberAddChange{
			MemberIds: []string{"3333"}, CurrentMemberIds: []string{"1111"}, CurrentAdminIds: []string{"1111"}, ConversationKeyVersion: ptr("2000"),
			ScreenCaptureBlockingEnabled: ptr(false), GroupInviteEnable: &tevent.GroupInviteEnable{InviteURL: ptr("https://i")}}}}}, g, 5,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupMemberAddPayload(v, h, crypto.GroupMemberAdd{NewMemberIDs: []string{"3333"}, CurrentMemberIDs: []string{"1111"},
					CurrentAdminIDs: []string{"1111"}, ConversationKeyVersion: "2000", ScreenCaptureBlockingEnabled: ptr(false),
					Invite: &crypto.GroupInvite{InviteURL: ptr("https://i")}})
			}, func(t *testing.T, ev *event.Event) {
				if u := ev.GroupChange.Unsigned; len(u) != 1 || u[0] != "Invite" {
					t.Fatalf("unsigned %v", u)
				}
			}},
		{"member remove", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupMemberRemove: &tevent.GroupMemberRemoveChange{MemberIds: []string{"2222"}}}}}, g, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupIDListPayload(v, h, crypto.KindGroupMemberRemove, []string{"2222"})
			},
			func(t *testing.T, ev *event.Event) {
				if ev.GroupChange.Kind != event.GroupMembersRemoved || ev.GroupChange.Kind.String() != "members_removed" {
					t.Fatalf("%+v", ev.GroupChange)
				}
			}},
		{"admin add", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupAdminAdd: &tevent.GroupAdminAddChange{AdminIds: []string{"2222"}}}}}, g, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupIDListPayload(v, h, crypto.KindGroupAdminAdd, []string{"2222"})
			}, nil},
		{"admin remove", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupAdminRemove: &tevent.GroupAdminRemoveChange{AdminIds: []string{"2222"}}}}}, g, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupIDListPayload(v, h, crypto.KindGroupAdminRemove, []string{"2222"})
			}, nil},
		{"title", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupTitleChange: &tevent.GroupTitleChange{CustomTitle: ptr("New"), ConversationKeyVersion: ptr("1000")}}}}, g, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupTitleChangePayload(v, h, "1000", ptr("New"))
			},
			func(t *testing.T, ev *event.Event) {
				if ev.GroupChange.Kind != event.GroupTitleChanged || ev.GroupChange.Title != "New" {
					t.Fatalf("%+v", ev.GroupChange)
				}
			}},
		{"avatar", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupAvatarChange: &tevent.GroupAvatarUrlChange{CustomAvatarURL: ptr("https://a"), ConversationKeyVersion: ptr("1000")}}}}, g, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupAvatarChangePayload(v, h, "1000", ptr("https://a"))
			}, nil},
		{"invite enable", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupInviteEnable: &tevent.GroupInviteEnable{InviteURL: ptr("https://i"), ExpiresAtMsec: ptr(int64(9))}}}}, g, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupInviteEnablePayload(v, h, "https://i", ptr(int64(9)), nil)
			},
			func(t *testing.T, ev *event.Event) {
				if ev.GroupChange.Invite == nil || ev.GroupChange.Invite.ExpiresAtMsec != 9 {
					t.Fatalf("%+v", ev.GroupChange)
				}
			}},
		{"invite disable", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupInviteDisable: &tevent.GroupInviteDisable{DisabledByMemberID: ptr(f.alice.id)}}}}, g, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupInviteDisablePayload(v, h, f.alice.id)
			},
			func(t *testing.T, ev *event.Event) {
				if ev.GroupChange.Kind != event.GroupInviteDisabled || ev.GroupChange.DisabledBy != f.alice.id {
					t.Fatalf("%+v", ev.GroupChange)
				}
			}},
		{"join request", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupJoinRequest: &tevent.GroupJoinRequest{RequestingUserID: ptr(f.alice.id)}}}}, g, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupJoinRequestPayload(v, h, f.alice.id)
			},
			func(t *testing.T, ev *event.Event) {
				if ev.GroupChange.Kind != event.GroupJoinRequested || ev.GroupChange.RequestingUserID != f.alice.id {
					t.Fatalf("%+v", ev.GroupChange)
				}
			}},
		{"join reject", &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupJoinReject: &tevent.GroupJoinReject{RejectedUserIds: []string{"5555"}}}}}, g, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupIDListPayload(v, h, crypto.KindGroupJoinReject, []string{"5555"})
			}, nil},
		{"duration change", &tevent.MessageEventDetail{ConversationMetadataChangeEvent: &tevent.ConversationMetadataChangeEvent{ConversationMetadataChange: &tevent.ConversationMetadataChange{
			MessageDurationChange: &tevent.MessageDurationChange{TTLMsec: ptr(int64(3000)), ApplyToAllMessages: ptr(true)}}}}, f.conv, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) { return crypto.DurationChangePayload(v, h, 3000) },
			func(t *testing.T, ev *event.Event) {
				if m := ev.MetadataChange; m == nil || m.Kind != event.MetadataMessageDurationChanged || m.TTL != 3*time.Second || !m.ApplyToAllMessages {
					t.Fatalf("%+v", m)
				}
			}},
		{"duration remove", &tevent.MessageEventDetail{ConversationMetadataChangeEvent: &tevent.ConversationMetadataChangeEvent{ConversationMetadataChange: &tevent.ConversationMetadataChange{
			MessageDurationRemove: &tevent.MessageDurationRemove{}}}}, f.conv, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.FlagPayload(v, h, crypto.KindDurationRemove)
			}, nil},
		{"mute", &tevent.MessageEventDetail{ConversationMetadataChangeEvent: &tevent.ConversationMetadataChangeEvent{ConversationMetadataChange: &tevent.ConversationMetadataChange{
			MuteConversation: &tevent.MuteConversation{MutedConversationIds: []string{f.conv}}}}}, f.conv, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupIDListPayload(v, h, crypto.KindMuteConversation, []string{f.conv})
			},
			func(t *testing.T, ev *event.Event) {
				if ev.MetadataChange.Kind != event.MetadataMuted || ev.MetadataChange.ConversationIDs[0] != f.conv {
					t.Fatalf("%+v", ev.MetadataChange)
				}
			}},
		{"unmute", &tevent.MessageEventDetail{ConversationMetadataChangeEvent: &tevent.ConversationMetadataChangeEvent{ConversationMetadataChange: &tevent.ConversationMetadataChange{
			UnmuteConversation: &tevent.UnmuteConversation{}}}}, f.conv, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.GroupIDListPayload(v, h, crypto.KindUnmuteConversation, nil)
			}, nil},
		{"screen capture blocking on", &tevent.MessageEventDetail{ConversationMetadataChangeEvent: &tevent.ConversationMetadataChangeEvent{ConversationMetadataChange: &tevent.ConversationMetadataChange{
			EnableScreenCaptureBlocking: &tevent.EnableScreenCaptureBlocking{}}}}, f.conv, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.FlagPayload(v, h, crypto.KindEnableCaptureBlock)
			}, nil},
		{"screen capture detection off", &tevent.MessageEventDetail{ConversationMetadataChangeEvent: &tevent.ConversationMetadataChangeEvent{ConversationMetadataChange: &tevent.ConversationMetadataChange{
			DisableScreenCaptureDetection: &tevent.DisableScreenCaptureDetection{}}}}, f.conv, 7,
			func(h crypto.Header, v int) (crypto.Payload, error) {
				return crypto.FlagPayload(v, h, crypto.KindDisableCaptureDetect)
			}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := crypto.Header{MessageID: newMessageID(), SenderID: f.alice.id, ConversationID: c.conv}
			p, err := c.pl(h, c.sv)
			if err != nil {
				t.Fatal(err)
			}
			e := env{seq: "9", conv: c.conv, sigVersion: formatInt(int64(c.sv))}
			me := signedEvent(t, f.alice, e, c.d, p)
			ev := Decrypt(f.bobKeys, encode(t, me), nil)
			if ev.Err != nil || !ev.Verified || !ev.Kind.Signed() {
				t.Fatalf("err %v verified %v kind %v", ev.Err, ev.Verified, ev.Kind)
			}
			if c.check != nil {
				c.check(t, ev)
			}
			// Re-attributed to another pinned user: rejected, detail withheld.
			me.SenderID = ptr(f.bob.id)
			me.MessageEventSignature.PublicKeyVersion = ptr(f.bob.ver)
			ev = Decrypt(f.bobKeys, encode(t, me), nil)
			if !errors.Is(ev.Err, ErrBadSignature) || ev.Verified || ev.GroupChange != nil || ev.Delete != nil ||
				ev.MetadataChange != nil || ev.MarkRead != nil || ev.MarkUnread != nil || ev.ConversationDelete != nil {
				t.Fatalf("tampered: err %v", ev.Err)
			}
		})
	}
}

// TestActorMustBeSender: a join request or invite disable whose signed
// acting user is not its sender fails (ErrActorNotSender, an
// xchat.ErrNotAuthorized), its detail withheld, though its signature is
// good; one naming its sender verifies.
func TestActorMustBeSender(t *testing.T) {
	f := newFixture(t)
	g := "g1234567890"
	cases := []struct {
		name string
		d    func(actor string) *tevent.MessageEventDetail
		pl   func(h crypto.Header, actor string) (crypto.Payload, error)
	}{
		{"join request", func(a string) *tevent.MessageEventDetail {
			return &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupJoinRequest: &tevent.GroupJoinRequest{RequestingUserID: &a}}}}
		}, func(h crypto.Header, a string) (crypto.Payload, error) {
			return crypto.GroupJoinRequestPayload(7, h, a)
		}},
		{"invite disable", func(a string) *tevent.MessageEventDetail {
			return &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{GroupInviteDisable: &tevent.GroupInviteDisable{DisabledByMemberID: &a}}}}
		}, func(h crypto.Header, a string) (crypto.Payload, error) {
			return crypto.GroupInviteDisablePayload(7, h, a)
		}},
	}
	for _, c := range cases {
		for _, actor := range []string{f.alice.id, f.bob.id, ""} {
			t.Run(c.name+"/"+actor, func(t *testing.T) {
				h := crypto.Header{MessageID: newMessageID(), SenderID: f.alice.id, ConversationID: g}
				p := testutil.Must(c.pl(h, actor))(t)
				ev := Decrypt(f.bobKeys, encode(t, signedEvent(t, f.alice, env{seq: "9", conv: g}, c.d(actor), p)), nil)
				if actor == f.alice.id {
					if ev.Err != nil || !ev.Verified || ev.GroupChange == nil {
						t.Fatalf("by its own actor: err %v verified %v", ev.Err, ev.Verified)
					}
					return
				}
				if !errors.Is(ev.Err, ErrActorNotSender) || !errors.Is(ev.Err, xchat.ErrNotAuthorized) || ev.Verified || ev.GroupChange != nil {
					t.Fatalf("actor %q, sender %s: err %v verified %v change %+v", actor, f.alice.id, ev.Err, ev.Verified, ev.GroupChange)
				}
			})
		}
	}
}

func TestAdminSettingsChangeIsUnverifiable(t *testing.T) {
	f := newFixture(t)
	d := &tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{
		GroupAdminSettingsChange: &tevent.GroupAdminSettingsChange{AddMember: ptr(true)}}}}
	p := testutil.Must(crypto.GroupIDListPayload(7, crypto.Header{MessageID: "m", SenderID: f.alice.id, ConversationID: "g1"}, crypto.KindGroupAdminAdd, nil))(t)
	ev := Decrypt(f.bobKeys, encode(t, signedEvent(t, f.alice, env{seq: "1", conv: "g1"}, d, p)), nil)
	if !errors.Is(ev.Err, ErrUnsignablePayload) || ev.Verified || ev.GroupChange != nil {
		t.Fatalf("err %v", ev.Err)
	}
}

func TestUnsignedKinds(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		d     *tevent.MessageEventDetail
		kind  event.Kind
		check func(*event.Event) bool
	}{
		{&tevent.MessageEventDetail{MessageTypingEvent: &tevent.MessageTypingEvent{ConversationID: ptr(f.conv)}}, event.KindTyping,
			func(e *event.Event) bool { return e.Typing.ConversationID == f.conv }},
		{&tevent.MessageEventDetail{GrokSearchResponseEvent: &tevent.GrokSearchResponseEvent{SearchResponseID: ptr("r1")}}, event.KindGrok,
			func(e *event.Event) bool { return e.Grok.SearchResponseID == "r1" }},
		{&tevent.MessageEventDetail{MemberAccountDeleteEvent: &tevent.MemberAccountDeleteEvent{MemberID: ptr("2222")}}, event.KindMemberAccountDelete,
			func(e *event.Event) bool { return e.MemberAccountDelete.MemberID == "2222" }},
		{&tevent.MessageEventDetail{MessageFailureEvent: &tevent.MessageFailureEvent{FailureType: ptr(tevent.FailureType(99))}}, event.KindFailure,
			func(e *event.Event) bool { return e.Failure.Type == event.FailureUnknown }},
	}
	for _, c := range cases {
		me := &tevent.MessageEvent{SequenceID: ptr("1"), SenderID: ptr("1111"), ConversationID: ptr(f.conv), Detail: c.d}
		ev := Decrypt(f.bobKeys, encode(t, me), nil)
		if ev.Err != nil || ev.Verified || ev.Kind != c.kind || ev.Kind.Signed() || !c.check(ev) {
			t.Fatalf("%v: err %v verified %v kind %v", c.kind, ev.Err, ev.Verified, ev.Kind)
		}
	}
}

func TestFailureTypeNames(t *testing.T) {
	want := []string{"UNKNOWN", "EMPTY_DETAIL", "INTERNAL_ERROR", "CONTENTS_TOO_LARGE", "TOO_MANY_MESSAGES",
		"INVALID_SENDER_SIGNATURE", "NON_LATEST_CKEY_VERSION", "RECIPIENT_HAS_NOT_TRUSTED_CONVERSATION",
		"RECIPIENT_KEY_HAS_CHANGED", "ONLY_ENCRYPTED_MESSAGES_ALLOWED", "REQUESTER_NOT_ADMIN", "FLAGGED_AS_SPAM",
		"RATE_LIMIT_UPSELL", "SIGNATURE_FAILED_TO_VERIFY_AGAINST_PUBLIC_KEY", "GENERIC_ERROR",
		"SENDER_NOT_GROUP_MEMBER", "INVALID_SIGNATURE_VERSION", "INVALID_PIN_REQUEST", "TOO_MANY_PINS"}
	for i, w := range want {
		ft := event.FailureType(i)
		if ft.String() != w {
			t.Errorf("%d: %s want %s", i, ft, w)
		}
		// The generated enum agrees on every value.
		if i > 0 && tevent.FailureType(i).String() != w {
			t.Errorf("thrift enum %d = %s, want %s", i, tevent.FailureType(i), w)
		}
	}
	if event.FailureType(19).String() != "UNKNOWN" || event.FailureType(-1).String() != "UNKNOWN" {
		t.Error("out of range names")
	}
	if !event.FailureNonLatestKeyVersion.Retryable() || event.FailureInvalidSenderSignature.Retryable() {
		t.Error("retryable")
	}
}

func TestEnumNames(t *testing.T) {
	checks := map[string]string{
		event.KindMemberAccountDelete.String():               "member_account_delete",
		event.Kind(99).String():                              "unknown",
		event.ContentSetVerifiedStatus.String():              "set_verified_status",
		event.ContentKind(-1).String():                       "unknown",
		event.AttachmentJetfuel.String():                     "jetfuel",
		event.MediaSVG.String():                              "svg",
		event.MediaType(7).String():                          "unknown",
		event.MetadataScreenCaptureBlockingDisabled.String(): "screen_capture_blocking_disabled",
		event.TierPremiumBusiness.String():                   "PREMIUM_BUSINESS",
		event.GroupAdminSettingsChanged.String():             "admin_settings_changed",
		event.AnomalyMissingKey.String():                     "missing_key",
		event.PreviewInvalid.String():                        "invalid",
		event.DeleteAction(0).String():                       "unknown",
		event.EntityPhoneNumber.String():                     "phone_number",
	}
	for got, want := range checks {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
	// The thrift enums agree with ours where names are shared.
	if tevent.RateLimitTier(3).String() != event.TierPremium.String() {
		t.Error("tier names drift")
	}
}
