package session

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// sdkSamples is interop/testdata/sdk-samples.json: outputs of the official
// SDK (@xdevplatform/chat-xdk 0.4.3) recorded by interop/gen-samples.mjs.
type sdkSamples struct {
	Accounts []struct {
		UserID      string          `json:"userId"`
		PrivateKeys string          `json:"privateKeys"`
		RestBody    json.RawMessage `json:"restBody"`
	} `json:"accounts"`
	SigningKeys []struct {
		UserID                     string `json:"userId"`
		PublicKeyVersion           string `json:"publicKeyVersion"`
		PublicKey                  string `json:"publicKey"`
		IdentityPublicKey          string `json:"identityPublicKey"`
		IdentityPublicKeySignature string `json:"identityPublicKeySignature"`
	} `json:"signingKeys"`
	KeyChange struct {
		Prepared struct {
			ConversationKey        string `json:"conversationKey"`
			ConversationID         string `json:"conversationId"`
			ConversationKeyVersion string `json:"conversationKeyVersion"`
		} `json:"prepared"`
		EncodedEvent string `json:"encodedEvent"`
	} `json:"keyChange"`
	Messages []struct {
		Name         string          `json:"name"`
		Sender       string          `json:"sender"`
		RestBody     json.RawMessage `json:"restBody"`
		EncodedEvent string          `json:"encodedEvent"`
		SendPayload  struct {
			MessageID        string `json:"messageId"`
			EncryptedContent string `json:"encryptedContent"`
		} `json:"sendPayload"`
	} `json:"messages"`
	GroupCreate struct {
		Prepared struct {
			ConversationID string `json:"conversationId"`
		} `json:"prepared"`
		EncodedEvents []string `json:"encodedEvents"`
	} `json:"groupCreate"`
	GroupMembersChange struct {
		EncodedEvents []string `json:"encodedEvents"`
	} `json:"groupMembersChange"`
	MessageDelete struct {
		Prepared struct {
			MessageID                 string `json:"messageId"`
			EncodedMessageEventDetail string `json:"encodedMessageEventDetail"`
			Signature                 string `json:"signature"`
			PublicKeyVersion          string `json:"publicKeyVersion"`
			SignaturePayload          string `json:"signaturePayload"`
		} `json:"prepared"`
	} `json:"messageDelete"`
}

func loadSamples(t testing.TB) *sdkSamples {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(filepath.Dir(file)), "interop", "testdata", "sdk-samples.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("SDK samples (committed in interop/testdata): %v", err)
	}
	var s sdkSamples
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// replayServer serves recorded SDK traffic.
type replayServer struct {
	Server  // nil: unexpected calls panic
	s       *sdkSamples
	mu      sync.Mutex
	pages   map[string]*api.GetChatConversationEventsResponse
	sent    []*api.SendChatMessageRequest
	reply   map[string]string // message id → encoded event answered
	deletes []*api.DeleteChatMessagesRequest
}

func (r *replayServer) GetPublicKeys(_ context.Context, ids []string) (*api.GetUsersPublicKeysResponse, error) {
	out := &api.GetUsersPublicKeysResponse{}
	for _, k := range r.s.SigningKeys {
		if slices.Contains(ids, k.UserID) {
			out.Data = append(out.Data, api.PublicKey{UserID: k.UserID, PublicKeyVersion: k.PublicKeyVersion,
				PublicKey: k.IdentityPublicKey, SigningPublicKey: k.PublicKey, IdentityPublicKeySignature: k.IdentityPublicKeySignature})
		}
	}
	return out, nil
}

func (r *replayServer) GetConversationEvents(_ context.Context, id string, _ int, _ string) (*api.GetChatConversationEventsResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pages[id]
	if p == nil {
		return &api.GetChatConversationEventsResponse{Meta: &api.ChatEventsMeta{}}, nil
	}
	return p, nil
}

func (r *replayServer) SendMessage(_ context.Context, _ string, req *api.SendChatMessageRequest) (*api.SendChatMessageResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, req)
	return &api.SendChatMessageResponse{Data: &api.SendChatMessageData{EncodedMessageEvent: r.reply[req.MessageID]}}, nil
}

func (r *replayServer) DeleteMessages(_ context.Context, _ string, req *api.DeleteChatMessagesRequest) (*api.DeleteChatMessagesResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deletes = append(r.deletes, req)
	return &api.DeleteChatMessagesResponse{Data: &api.DeleteChatMessagesData{Deleted: true}}, nil
}

func (r *replayServer) MediaDownload(context.Context, string, string) (io.ReadCloser, error) {
	return nil, io.EOF
}

// sampleEngine opens the samples' account userID against a replay server.
func sampleEngine(t testing.TB, s *sdkSamples, userID string, rnd io.Reader) (*Engine, *replayServer) {
	t.Helper()
	ctx := context.Background()
	var backup []byte
	for _, a := range s.Accounts {
		if a.UserID == userID {
			backup = testutil.Must(wire.DecodeB64(a.PrivateKeys))(t)
		}
	}
	var version string
	for _, k := range s.SigningKeys {
		if k.UserID == userID {
			version = k.PublicKeyVersion
		}
	}
	store := keystore.NewMemory()
	if err := ImportBackup(ctx, store, userID, backup, version); err != nil {
		t.Fatal(err)
	}
	rs := &replayServer{s: s, pages: map[string]*api.GetChatConversationEventsResponse{}, reply: map[string]string{}}
	opts := []Option{WithClock(func() time.Time { return time.UnixMilli(1795317190000) })}
	if rnd != nil {
		opts = append(opts, WithRand(rnd))
	}
	e, err := Open(ctx, store, rs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, rs
}

// oneToOnePage is the recorded 1:1 history as the events endpoint serves
// it: messages newest first in data, the key change in meta.
func oneToOnePage(s *sdkSamples) *api.GetChatConversationEventsResponse {
	p := &api.GetChatConversationEventsResponse{Meta: &api.ChatEventsMeta{
		ConversationKeyEvents: []string{s.KeyChange.EncodedEvent}, ResultCount: len(s.Messages)}}
	for i := len(s.Messages) - 1; i >= 0; i-- {
		p.Data = append(p.Data, api.ChatMessageEvent{EncodedEvent: s.Messages[i].EncodedEvent})
	}
	return p
}

func TestSDKSamplesDecryptThroughSync(t *testing.T) {
	s := loadSamples(t)
	ctx := ctxT(t)
	bob, rs := sampleEngine(t, s, "222", nil)
	rs.pages["111-222"] = oneToOnePage(s)
	res, err := bob.Sync(ctx, "111", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 0 || len(res.Entries) != 7 {
		t.Fatalf("result %+v", res)
	}
	byName := map[string]event.Entry{}
	for _, en := range res.Entries {
		if !en.Verified {
			t.Fatalf("unverified %+v", en)
		}
		for _, m := range s.Messages {
			if m.SendPayload.MessageID == en.MessageID {
				byName[m.Name] = en
			}
		}
	}
	m := byName["message"]
	if m.Text != "hello bob, see https://x.com" || len(m.Entities) != 1 || m.Entities[0] != (event.Entity{Start: 15, End: 28, Type: event.EntityURL}) {
		t.Fatalf("message %+v", m)
	}
	if e := byName["message-ttl-silent"]; e.Text != "self-destructing" || e.TTL != time.Minute {
		t.Fatalf("ttl message %+v", e)
	}
	if e := byName["reply"]; e.Text != "pong" || e.ReplyTo == nil || e.ReplyTo.Validation != "valid" || e.ReplyTo.SequenceID != m.SequenceID {
		t.Fatalf("reply %+v %+v", e, e.ReplyTo)
	}
	if e := byName["edit"]; e.Type != event.TypeEdit || e.Text != "hello bob (edited)" || e.TargetSequenceID != m.SequenceID {
		t.Fatalf("edit %+v", e)
	}
	if e := byName["reaction-add"]; e.Type != event.TypeReactionAdd || e.Emoji != "👍" {
		t.Fatalf("reaction %+v", e)
	}
	if e := byName["reaction-remove"]; e.Type != event.TypeReactionRemove || e.Emoji != "👍" {
		t.Fatalf("reaction remove %+v", e)
	}
	c := testutil.Must(bob.Conversation(ctx, "111:222"))(t)
	if c.KeyVersion != s.KeyChange.Prepared.ConversationKeyVersion {
		t.Fatalf("key version %s", c.KeyVersion)
	}

	// Carol joins the SDK-made group through its member add.
	carol, rs := sampleEngine(t, s, "333", nil)
	gid := s.GroupCreate.Prepared.ConversationID
	rs.pages[gid] = &api.GetChatConversationEventsResponse{
		Data: []api.ChatMessageEvent{{EncodedEvent: s.GroupMembersChange.EncodedEvents[1]}, {EncodedEvent: s.GroupCreate.EncodedEvents[1]}},
		Meta: &api.ChatEventsMeta{ConversationKeyEvents: []string{s.GroupCreate.EncodedEvents[0], s.GroupMembersChange.EncodedEvents[0]}},
	}
	res, err = carol.Sync(ctx, gid, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := carol.Conversation(ctx, gid)
	if err != nil || cc.KeyVersion == "" || !slices.Equal(cc.Members, []string{"111", "222", "333"}) || cc.Title != "Team" {
		t.Fatalf("carol's group %+v, %v (%+v)", cc, err, res)
	}
}

// scripted yields fixed bytes, then fails.
type scripted struct{ b []byte }

func (s *scripted) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// uuidBytes returns the 16 bytes of a UUID string.
func uuidBytes(t testing.TB, u string) []byte {
	t.Helper()
	var out []byte
	h := strings.ReplaceAll(u, "-", "")
	for i := 0; i+1 < len(h); i += 2 {
		var b byte
		for _, c := range h[i : i+2] {
			b <<= 4
			switch {
			case c >= '0' && c <= '9':
				b |= byte(c - '0')
			default:
				b |= byte(c-'a') + 10
			}
		}
		out = append(out, b)
	}
	return out
}

// TestSDKByteIdenticalSends reproduces the SDK's REST bodies byte for byte
// from the same inputs and randomness (nonce, message id): RFC 6979
// signatures make the rest deterministic.
func TestSDKByteIdenticalSends(t *testing.T) {
	s := loadSamples(t)
	ctx := ctxT(t)
	ckey := testutil.Must(wire.DecodeB64(s.KeyChange.Prepared.ConversationKey))(t)
	for _, m := range s.Messages {
		t.Run(m.Name, func(t *testing.T) {
			content := testutil.Must(wire.DecodeB64(m.SendPayload.EncryptedContent))(t)
			mce, err := wire.DecodeMessageCreateEvent(content)
			if err != nil {
				t.Fatal(err)
			}
			rnd := &scripted{b: append(bytes.Clone(mce.Contents[:24]), uuidBytes(t, m.SendPayload.MessageID)...)}
			e, rs := sampleEngine(t, s, m.Sender, rnd)
			if err := e.store.PutConversationKey(ctx, keystore.ConversationKey{
				ConversationID: "111:222", Version: s.KeyChange.Prepared.ConversationKeyVersion,
				Key: keystore.SecretKey(ckey), Verified: true,
			}); err != nil {
				t.Fatal(err)
			}
			// History the reply quotes (and the edit edits: only a stored
			// message of one's own may be edited).
			if m.Name == "reply" || m.Name == "edit" {
				rs.pages["111-222"] = &api.GetChatConversationEventsResponse{
					Data: []api.ChatMessageEvent{{EncodedEvent: s.Messages[0].EncodedEvent}},
					Meta: &api.ChatEventsMeta{ConversationKeyEvents: []string{s.KeyChange.EncodedEvent}}}
				if _, err := e.Sync(ctx, "111:222", nil); err != nil {
					t.Fatal(err)
				}
				rnd.b = append(bytes.Clone(mce.Contents[:24]), uuidBytes(t, m.SendPayload.MessageID)...)
			}
			rs.reply[m.SendPayload.MessageID] = m.EncodedEvent
			target := "1002"
			var sent *Sent
			switch m.Name {
			case "message":
				sent, err = e.Send(ctx, "111:222", Outgoing{Text: "hello bob, see https://x.com",
					Entities: []event.Entity{{Start: 15, End: 28, Type: event.EntityURL}}})
			case "message-ttl-silent":
				sent, err = e.Send(ctx, "111:222", Outgoing{Text: "self-destructing", TTL: time.Minute, Silent: true})
			case "reply":
				sent, err = e.Send(ctx, "111:222", Outgoing{Text: "pong", ReplyTo: target})
			case "edit":
				sent, err = e.Send(ctx, "111:222", Outgoing{Edit: target, Text: "hello bob (edited)"})
			case "reaction-add":
				sent, err = e.Send(ctx, "111:222", Outgoing{React: target, Emoji: "👍"})
			case "reaction-remove":
				sent, err = e.Send(ctx, "111:222", Outgoing{Unreact: target, Emoji: "👍"})
			default:
				t.Fatalf("no reproduction for SDK sample %s: add one here", m.Name)
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rs.sent) != 1 {
				t.Fatalf("%d requests", len(rs.sent))
			}
			got := testutil.Must(json.Marshal(rs.sent[0]))(t)
			var want, have map[string]any
			if err := json.Unmarshal(m.RestBody, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &have); err != nil {
				t.Fatal(err)
			}
			wj := testutil.Must(json.Marshal(want))(t)
			hj := testutil.Must(json.Marshal(have))(t)
			if !bytes.Equal(wj, hj) {
				t.Fatalf("REST body differs from the SDK's:\n got %s\nwant %s", hj, wj)
			}
			if sent.SequenceID == "" || sent.Entry == nil || !sent.Entry.Verified {
				t.Fatalf("sent %+v", sent)
			}
		})
	}
}

func TestSDKByteIdenticalDelete(t *testing.T) {
	s := loadSamples(t)
	ctx := ctxT(t)
	want := s.MessageDelete.Prepared
	e, rs := sampleEngine(t, s, "111", &scripted{b: uuidBytes(t, want.MessageID)})
	if err := e.DeleteMessages(ctx, "222", []string{"1002", "1003"}, true); err != nil {
		t.Fatal(err)
	}
	if len(rs.deletes) != 1 || len(rs.deletes[0].ActionSignatures) != 1 {
		t.Fatalf("requests %+v", rs.deletes)
	}
	req := rs.deletes[0]
	a := req.ActionSignatures[0]
	if a.MessageID != want.MessageID || a.EncodedMessageEventDetail != want.EncodedMessageEventDetail ||
		a.MessageEventSignature.Signature != want.Signature || a.MessageEventSignature.PublicKeyVersion != want.PublicKeyVersion ||
		a.MessageEventSignature.SignatureVersion != "7" || a.SignaturePayload != want.SignaturePayload {
		t.Fatalf("action signature differs from the SDK's:\n got %+v\nwant %+v", a, want)
	}
	if req.DeleteMessageAction != api.DeleteForAll || !slices.Equal(req.SequenceIDs, []string{"1002", "1003"}) {
		t.Fatalf("request %+v", req)
	}
}

// TestSDKByteIdenticalRegistration: the registration body equals the SDK's
// for the same keys and version (binding signatures are RFC 6979).
func TestSDKByteIdenticalRegistration(t *testing.T) {
	s := loadSamples(t)
	for _, a := range s.Accounts {
		var want api.AddUserPublicKeyRequest
		if err := json.Unmarshal(a.RestBody, &want); err != nil {
			t.Fatal(err)
		}
		ms := testutil.Must(strconv.ParseInt(want.Version, 10, 64))(t)
		e, _ := sampleEngine(t, s, a.UserID, nil)
		e.cfg.now = func() time.Time { return time.UnixMilli(ms) }
		got, err := e.RegistrationRequest()
		if err != nil {
			t.Fatal(err)
		}
		gj := testutil.Must(json.Marshal(got))(t)
		var norm map[string]any
		if err := json.Unmarshal(a.RestBody, &norm); err != nil {
			t.Fatal(err)
		}
		wj := testutil.Must(json.Marshal(norm))(t)
		var gnorm map[string]any
		if err := json.Unmarshal(gj, &gnorm); err != nil {
			t.Fatal(err)
		}
		gj = testutil.Must(json.Marshal(gnorm))(t)
		if !bytes.Equal(gj, wj) {
			t.Fatalf("account %s: registration differs:\n got %s\nwant %s", a.UserID, gj, wj)
		}
	}
}
