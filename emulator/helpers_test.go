package emulator_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// env is an emulator served over loopback HTTP.
type env struct {
	t   testing.TB
	srv *emulator.Server
	ts  *httptest.Server
}

func newEnv(t testing.TB, opts ...emulator.Option) *env {
	t.Helper()
	srv := emulator.New(opts...)
	if err := srv.Err(); err != nil {
		t.Fatalf("emulator.New: %v", err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close()
	})
	return &env{t: t, srv: srv, ts: ts}
}

// resp is a raw HTTP answer.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) problem(t testing.TB) api.Problem {
	t.Helper()
	var p api.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %q: %v", r.body, err)
	}
	return p
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// raw sends a request with a raw body.
func (e *env) raw(method, path, token, contentType string, body []byte) resp {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{res.StatusCode, res.Header, b}
}

// do sends v as JSON (nil: no body).
func (e *env) do(method, path, token string, v any) resp {
	e.t.Helper()
	if v == nil {
		return e.raw(method, path, token, "", nil)
	}
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.raw(method, path, token, "application/json", b)
}

// must asserts the status.
func (e *env) must(r resp, status int) resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// user is a provisioned account with registered keys.
type user struct {
	e          *env
	id, name   string
	token      string
	kp         *crypto.KeyPair
	keyVersion string
}

func (e *env) provision(name string) *user {
	e.t.Helper()
	var pr emulator.ProvisionResponse
	e.must(e.do("POST", "/emulator/v1/users", "", map[string]string{"username": name}), http.StatusCreated).decode(e.t, &pr)
	if pr.ID == "" || pr.AccessToken == "" || pr.Username != name {
		e.t.Fatalf("provision: %+v", pr)
	}
	return &user{e: e, id: pr.ID, name: name, token: pr.AccessToken}
}

// register generates and registers a key pair.
func (u *user) register() *user {
	t := u.e.t
	t.Helper()
	kp, err := crypto.GenerateKeyPair(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := crypto.NewRegistration(kp)
	if err != nil {
		t.Fatal(err)
	}
	f := reg.Fields()
	body := api.AddUserPublicKeyRequest{Version: "1", GenerateVersion: true, PublicKey: api.PublicKeyRegistration{
		PublicKey: f.PublicKey, SigningPublicKey: f.SigningPublicKey, IdentityPublicKeySignature: f.IdentityPublicKeySignature,
		SigningPublicKeySignature: f.SigningPublicKeySignature, PublicKeyFingerprint: f.PublicKeyFingerprint,
		RegistrationMethod: f.RegistrationMethod}}
	var out api.AddUserPublicKeyResponse
	u.e.must(u.e.do("POST", "/2/users/"+u.id+"/public_keys", u.token, body), http.StatusOK).decode(t, &out)
	if out.Data == nil || out.Data.PublicKeyVersion == "" {
		t.Fatalf("register: %s", out.Data)
	}
	u.kp, u.keyVersion = kp, out.Data.PublicKeyVersion
	return u
}

func (e *env) newUser(name string) *user { return e.provision(name).register() }

// convKey1to1 is the event-form id of the 1:1 between a and b.
func convKey1to1(a, b *user) string {
	if len(a.id) < len(b.id) || len(a.id) == len(b.id) && a.id < b.id {
		return a.id + ":" + b.id
	}
	return b.id + ":" + a.id
}

// newMessageID mints a random UUIDv4, as the XDK does per message.
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// sigJSON signs payload with u's signing key.
func (u *user) sign(payload []byte) api.MessageEventSignature {
	u.e.t.Helper()
	sig, err := crypto.Sign(u.kp.Signing, payload)
	if err != nil {
		u.e.t.Fatal(err)
	}
	return api.MessageEventSignature{Signature: crypto.EncodeSignature(sig), PublicKeyVersion: u.keyVersion, SignatureVersion: "7"}
}

func encodeDetail(t testing.TB, d *event.MessageEventDetail) string {
	t.Helper()
	b, err := wire.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return wire.EncodeB64(b)
}

func mustPayload(t testing.TB) func(crypto.Payload, error) []byte {
	return func(p crypto.Payload, err error) []byte { return payloadBytes(t, p, err) }
}

func payloadBytes(t testing.TB, p crypto.Payload, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keyChange is a prepared conversation key change.
type keyChange struct {
	version string
	key     *crypto.ConversationKey
	keys    []api.ConversationParticipantKey
	action  api.ActionSignature
}

func (u *user) prepareKeyChange(convKey, version string, members ...*user) keyChange {
	t := u.e.t
	t.Helper()
	ck, err := crypto.NewConversationKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kc := keyChange{version: version, key: ck}
	var tkeys []*event.ConversationParticipantKey
	for _, m := range members {
		wrapped, err := crypto.WrapConversationKey(rand.Reader, m.kp.Identity.PublicKey(), ck)
		if err != nil {
			t.Fatal(err)
		}
		pk := api.ConversationParticipantKey{UserID: m.id, EncryptedConversationKey: wire.EncodeB64(wrapped), PublicKeyVersion: m.keyVersion}
		kc.keys = append(kc.keys, pk)
		tkeys = append(tkeys, &event.ConversationParticipantKey{UserID: &pk.UserID, EncryptedConversationKey: &pk.EncryptedConversationKey, PublicKeyVersion: &pk.PublicKeyVersion})
	}
	mid := newMessageID()
	p := mustPayload(t)(crypto.KeyChangePayload(7, crypto.Header{MessageID: mid, SenderID: u.id, ConversationID: convKey},
		crypto.KeyChange{ConversationKeyVersion: version, Key: ck}))
	kc.action = api.ActionSignature{
		MessageID:                 mid,
		EncodedMessageEventDetail: encodeDetail(t, &event.MessageEventDetail{ConversationKeyChangeEvent: &event.ConversationKeyChangeEvent{ConversationKeyVersion: &kc.version, ConversationParticipantKeys: tkeys}}),
		MessageEventSignature:     u.sign(p),
	}
	return kc
}

// sendBody builds a signed message. The payload string is joined by hand
// (PROTOCOL.md layout), independently of the crypto builders the server
// verifies with.
func (u *user) sendBody(convKey string, kc keyChange, text string) api.SendChatMessageRequest {
	t := u.e.t
	t.Helper()
	contents, err := crypto.Seal(rand.Reader, kc.key, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	mc := &event.MessageCreateEvent{Contents: contents, ConversationKeyVersion: &kc.version}
	raw, err := wire.Marshal(mc)
	if err != nil {
		t.Fatal(err)
	}
	mid := newMessageID()
	p := strings.Join([]string{"MessageCreateEvent", mid, u.id, convKey, kc.version, wire.EncodeB64NoPad(contents)}, ",")
	js := u.sign([]byte(p))
	spki := wire.EncodeB64(u.kp.Signing.PublicKey().SPKI())
	sig := &event.MessageEventSignature{Signature: &js.Signature, PublicKeyVersion: &js.PublicKeyVersion, SignatureVersion: &js.SignatureVersion, SigningPublicKey: &spki}
	rawSig, err := wire.Marshal(sig)
	if err != nil {
		t.Fatal(err)
	}
	return api.SendChatMessageRequest{MessageID: mid, EncodedMessageCreateEvent: wire.EncodeB64(raw), EncodedMessageEventSignature: wire.EncodeB64(rawSig)}
}

// send posts a message and returns the decoded server event.
func (u *user) send(pathID, convKey string, kc keyChange, text string) *event.MessageEvent {
	t := u.e.t
	t.Helper()
	var out api.SendChatMessageResponse
	u.e.must(u.e.do("POST", "/2/chat/conversations/"+pathID+"/messages", u.token, u.sendBody(convKey, kc, text)), http.StatusCreated).decode(t, &out)
	return decodeEvent(t, out.Data.EncodedMessageEvent)
}

func decodeEvent(t testing.TB, b64 string) *event.MessageEvent {
	t.Helper()
	raw, err := wire.DecodeB64(b64)
	if err != nil {
		t.Fatal(err)
	}
	me, err := wire.DecodeMessageEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	return me
}

// events lists all events (all pages) of a conversation for u, newest
// first, plus the union of key-change events.
func (u *user) events(pathID string) ([]api.ChatMessageEvent, []string) {
	t := u.e.t
	t.Helper()
	var all []api.ChatMessageEvent
	var keys []string
	token := ""
	for range 1000 {
		q := "?max_results=100&chat_message_event.fields=id,encoded_event,conversation_id,sender_id,previous_id,created_at,is_trusted,message_event_signature,conversation_token"
		if token != "" {
			q += "&pagination_token=" + token
		}
		var out api.GetChatConversationEventsResponse
		u.e.must(u.e.do("GET", "/2/chat/conversations/"+pathID+"/events"+q, u.token, nil), http.StatusOK).decode(t, &out)
		all = append(all, out.Data...)
		keys = append(keys, out.Meta.ConversationKeyEvents...)
		if !out.Meta.HasMore {
			return all, keys
		}
		token = out.Meta.NextToken
	}
	t.Fatal("too many pages")
	return nil, nil
}

// openMessage decrypts a message event for u (proving the server stored
// exactly what the sender encrypted).
func (u *user) openMessage(me *event.MessageEvent, kc keyChange) string {
	t := u.e.t
	t.Helper()
	var wrapped string
	for _, k := range kc.keys {
		if k.UserID == u.id {
			wrapped = k.EncryptedConversationKey
		}
	}
	raw, err := wire.DecodeB64(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := crypto.UnwrapConversationKey(u.kp.Identity, raw)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := crypto.Open(ck, me.Detail.MessageCreateEvent.Contents)
	if err != nil {
		t.Fatal(err)
	}
	return string(pt)
}
