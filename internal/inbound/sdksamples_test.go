package inbound

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/session/event"
)

// sdkSamples is interop/testdata/sdk-samples.json: events produced by the
// live official SDK (@xdevplatform/chat-xdk 0.4.3) and what its
// decryptEvent(s) reported for them.
type sdkSamples struct {
	Accounts []struct {
		UserID      string `json:"userId"`
		PrivateKeys string `json:"privateKeys"`
	} `json:"accounts"`
	SigningKeys []struct {
		UserID                     string `json:"userId"`
		PublicKeyVersion           string `json:"publicKeyVersion"`
		PublicKey                  string `json:"publicKey"`
		IdentityPublicKey          string `json:"identityPublicKey"`
		IdentityPublicKeySignature string `json:"identityPublicKeySignature"`
	} `json:"signingKeys"`
	KeyChange struct {
		EncodedEvent string `json:"encodedEvent"`
		Prepared     struct {
			ConversationKey string `json:"conversationKey"`
		} `json:"prepared"`
	} `json:"keyChange"`
	Messages []struct {
		Name         string `json:"name"`
		DecryptedBy  string `json:"decryptedBy"`
		EncodedEvent string `json:"encodedEvent"`
		SDK          struct {
			OK    bool `json:"ok"`
			Event struct {
				Verified     bool   `json:"verified"`
				ShouldNotify bool   `json:"shouldNotify"`
				TTLMsec      *int64 `json:"ttlMsec"`
				Content      struct {
					Type     string `json:"content_type"`
					Text     string `json:"text"`
					NewText  string `json:"new_text"`
					Emoji    string `json:"emoji"`
					Target   string `json:"target_message_id"`
					Entities []struct {
						Start int32 `json:"startIndex"`
						End   int32 `json:"endIndex"`
					} `json:"entities"`
				} `json:"content"`
				ReplyPreviewValidation string `json:"replyPreviewValidation"`
			} `json:"event"`
		} `json:"sdk"`
	} `json:"messages"`
	SignatureVariants []struct {
		Name         string `json:"name"`
		EncodedEvent string `json:"encodedEvent"`
		SDK          struct {
			OK bool `json:"ok"`
		} `json:"sdk"`
	} `json:"signatureVariants"`
	GroupCreate struct {
		EncodedEvents []string `json:"encodedEvents"`
	} `json:"groupCreate"`
	GroupMembersChange struct {
		EncodedEvents []string `json:"encodedEvents"`
	} `json:"groupMembersChange"`
	MessageDelete struct {
		EncodedEvent string `json:"encodedEvent"`
	} `json:"messageDelete"`
}

func loadSDKSamples(t testing.TB) *sdkSamples {
	t.Helper()
	// interop/testdata lives in this module: walk up from the package dir.
	p := filepath.Join("..", "..", "interop", "testdata", "sdk-samples.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("live-SDK samples (committed in interop/testdata) unreadable: %v", err)
	}
	var s sdkSamples
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// sampleKeys is account uid's view, pinning every signing key whose
// registration binding verifies (as the SDK filters SigningKeyEntry).
func sampleKeys(t *testing.T, s *sdkSamples, uid string) *StaticKeys {
	t.Helper()
	k := &StaticKeys{UserID: uid}
	for _, a := range s.Accounts {
		if a.UserID == uid {
			kp, err := crypto.ParseBackup(mustB64(t, a.PrivateKeys))
			if err != nil {
				t.Fatal(err)
			}
			k.IdentityKey = kp.Identity
		}
	}
	for _, sk := range s.SigningKeys {
		pub, err := crypto.ParsePublicKey(mustB64(t, sk.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		if err := crypto.VerifyKeyBinding(mustB64(t, sk.IdentityPublicKey), pub, mustB64(t, sk.IdentityPublicKeySignature)); err != nil {
			t.Fatalf("binding of %s: %v", sk.UserID, err)
		}
		k.AddSigningKey(sk.UserID, sk.PublicKeyVersion, pub)
		if sk.UserID == uid {
			k.KeyVersion = sk.PublicKeyVersion
		}
	}
	return k
}

func TestSDKSamplesMessages(t *testing.T) {
	s := loadSDKSamples(t)
	for _, uid := range []string{"111", "222"} {
		keys := sampleKeys(t, s, uid)
		kc := DecryptBase64(keys, s.KeyChange.EncodedEvent, nil)
		if kc.Err != nil || !kc.Verified || kc.KeyChange.Key == nil || !kc.KeyChange.UsableForEncryption {
			t.Fatalf("%s: key change: %v", uid, kc.Err)
		}
		if !kc.KeyChange.Key.Equal((*crypto.ConversationKey)(mustB64(t, s.KeyChange.Prepared.ConversationKey))) {
			t.Fatalf("%s: key differs from the SDK's", uid)
		}
		keys.AddConversationKey(kc.ConversationID, kc.KeyChange.Version, kc.KeyChange.Key)
		for _, m := range s.Messages {
			if m.DecryptedBy != uid {
				continue
			}
			ev := DecryptBase64(keys, m.EncodedEvent, nil)
			want := m.SDK.Event
			if (ev.Err == nil) != m.SDK.OK || ev.Verified != want.Verified {
				t.Fatalf("%s: err %v, SDK ok %v", m.Name, ev.Err, m.SDK.OK)
			}
			msg := ev.Message
			if msg.ShouldNotify != want.ShouldNotify || (want.TTLMsec != nil && msg.TTL.Milliseconds() != *want.TTLMsec) {
				t.Errorf("%s: notify %v ttl %v", m.Name, msg.ShouldNotify, msg.TTL)
			}
			switch want.Content.Type {
			case "text":
				if msg.Kind != event.ContentText || msg.Text.Text != want.Content.Text || len(msg.Text.Entities) != len(want.Content.Entities) {
					t.Errorf("%s: %+v", m.Name, msg.Text)
				}
				for i, e := range want.Content.Entities {
					if msg.Text.Entities[i].Start != e.Start || msg.Text.Entities[i].End != e.End {
						t.Errorf("%s: entity %d", m.Name, i)
					}
				}
				if want.ReplyPreviewValidation == "valid" && (msg.Text.ReplyPreview == nil || msg.Text.ReplyPreview.Validation.Status != event.PreviewValid) {
					t.Errorf("%s: preview %+v", m.Name, msg.Text.ReplyPreview)
				}
			case "edit":
				if msg.Kind != event.ContentEdit || msg.Edit.Text != want.Content.NewText || msg.Edit.TargetSequenceID != want.Content.Target {
					t.Errorf("%s: %+v", m.Name, msg.Edit)
				}
			case "reaction", "reactionRemoved":
				k := event.ContentReactionAdd
				if want.Content.Type == "reactionRemoved" {
					k = event.ContentReactionRemove
				}
				if msg.Kind != k || msg.Reaction.Emoji != want.Content.Emoji || msg.Reaction.TargetSequenceID != want.Content.Target {
					t.Errorf("%s: %+v", m.Name, msg.Reaction)
				}
			default:
				t.Errorf("%s: unexpected SDK content %q", m.Name, want.Content.Type)
			}
		}
	}
}

// TestSDKSamplesSignatureVariants compares verdicts on envelopes whose
// signature fields were varied. We agree with the SDK everywhere except
// where we are deliberately stricter about signature_version (it accepts
// "8", "07" and "" as current).
func TestSDKSamplesSignatureVariants(t *testing.T) {
	s := loadSDKSamples(t)
	keys := sampleKeys(t, s, "222")
	kc := DecryptBase64(keys, s.KeyChange.EncodedEvent, nil)
	keys.AddConversationKey(kc.ConversationID, kc.KeyChange.Version, kc.KeyChange.Key)
	stricter := map[string]bool{"signature-version-8": true, "signature-version-07": true, "signature-version-empty": true}
	for _, v := range s.SignatureVariants {
		ev := DecryptBase64(keys, v.EncodedEvent, nil)
		ours := ev.Err == nil
		if stricter[v.Name] {
			if ours || !errors.Is(ev.Err, ErrSignatureVersion) {
				t.Errorf("%s: we should reject with ErrSignatureVersion, got %v", v.Name, ev.Err)
			}
			continue
		}
		if ours != v.SDK.OK {
			t.Errorf("%s: ours %v (%v), SDK %v", v.Name, ours, ev.Err, v.SDK.OK)
		}
	}
}

// TestSDKSamplesGroupAndDelete mirrors batchDecryptByCarol: carol (333) is
// not in the group create's key change (unverifiable for her, as the SDK
// reports), sees the group create, the member-add key change and the member
// add verified; and a signed delete verifies.
func TestSDKSamplesGroupAndDelete(t *testing.T) {
	s := loadSDKSamples(t)
	keys := sampleKeys(t, s, "333")
	raw := append(append([]string{}, s.GroupCreate.EncodedEvents...), s.GroupMembersChange.EncodedEvents...)
	evs := collect(t, keys, raw, nil)
	if !errors.Is(evs[0].Err, ErrUnsignablePayload) || !errors.Is(evs[0].KeyChange.KeyErr, ErrNotParticipant) {
		t.Fatalf("group create key change for a non-member: %v / %v", evs[0].Err, evs[0].KeyChange.KeyErr)
	}
	if evs[1].Err != nil || evs[1].GroupChange.Kind != event.GroupCreated || evs[1].GroupChange.Title != "Team" {
		t.Fatalf("group create: %v %+v", evs[1].Err, evs[1].GroupChange)
	}
	if evs[2].Err != nil || !evs[2].Verified || evs[2].KeyChange.Key == nil {
		t.Fatalf("member-add key change: %v", evs[2].Err)
	}
	if evs[3].Err != nil || evs[3].GroupChange.Kind != event.GroupMembersAdded || evs[3].GroupChange.MemberIDs[0] != "333" {
		t.Fatalf("member add: %v %+v", evs[3].Err, evs[3].GroupChange)
	}
	del := DecryptBase64(sampleKeys(t, s, "222"), s.MessageDelete.EncodedEvent, nil)
	if del.Err != nil || !del.Verified || del.Delete.Action != event.DeleteForAll || len(del.Delete.SequenceIDs) != 2 {
		t.Fatalf("delete: %v %+v", del.Err, del.Delete)
	}
}
