package session

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// tamperServer is a hostile relay in front of the emulator.
type tamperServer struct {
	Server
	mu     sync.Mutex
	events func(*api.GetChatConversationEventsResponse)
	keys   func(*api.GetUsersPublicKeysResponse)
	send   func(*api.SendChatMessageResponse)
}

func (s *tamperServer) GetConversationEvents(ctx context.Context, id string, max int, tok string) (*api.GetChatConversationEventsResponse, error) {
	r, err := s.Server.GetConversationEvents(ctx, id, max, tok)
	s.mu.Lock()
	f := s.events
	s.mu.Unlock()
	if err == nil && f != nil {
		f(r)
	}
	return r, err
}

func (s *tamperServer) GetPublicKeys(ctx context.Context, ids []string) (*api.GetUsersPublicKeysResponse, error) {
	r, err := s.Server.GetPublicKeys(ctx, ids)
	s.mu.Lock()
	f := s.keys
	s.mu.Unlock()
	if err == nil && f != nil {
		f(r)
	}
	return r, err
}

func (s *tamperServer) SendMessage(ctx context.Context, id string, req *api.SendChatMessageRequest) (*api.SendChatMessageResponse, error) {
	r, err := s.Server.SendMessage(ctx, id, req)
	s.mu.Lock()
	f := s.send
	s.mu.Unlock()
	if err == nil && f != nil {
		f(r)
	}
	return r, err
}

func (s *tamperServer) set(f func(*api.GetChatConversationEventsResponse)) {
	s.mu.Lock()
	s.events = f
	s.mu.Unlock()
}

// editEvent decodes, edits and re-encodes one base64 event.
func editEvent(t testing.TB, b64 string, f func(*tevent.MessageEvent)) string {
	t.Helper()
	raw, err := wire.DecodeB64(b64)
	if err != nil {
		t.Fatal(err)
	}
	me, err := wire.DecodeMessageEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	f(me)
	out, err := wire.EncodeMessageEvent(me)
	if err != nil {
		t.Fatal(err)
	}
	return wire.EncodeB64(out)
}

// resign signs a message event again with u's signing key, as a
// malicious participant could.
func resign(t testing.TB, u *testUser, me *tevent.MessageEvent) {
	t.Helper()
	kp, _, err := u.e.identity()
	if err != nil {
		t.Fatal(err)
	}
	mce := me.Detail.MessageCreateEvent
	payload := strings.Join([]string{"MessageCreateEvent", me.GetMessageID(), me.GetSenderID(), me.GetConversationID(),
		mce.GetConversationKeyVersion(), wire.EncodeB64NoPad(mce.Contents)}, ",")
	sig, err := crypto.Sign(kp.Signing, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	s := wire.EncodeB64NoPad(sig)
	me.MessageEventSignature.Signature = &s
}

// hostileSetup: alice sends two messages to bob, whose server is hostile.
func hostileSetup(t *testing.T) (context.Context, *testNet, *testUser, *testUser, *tamperServer, string, []*Sent) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	var ts *tamperServer
	bob := n.userWith("bob", func(s Server) Server { ts = &tamperServer{Server: s}; return ts })
	var sent []*Sent
	for _, m := range []string{"first", "second"} {
		s, err := alice.e.SendText(ctx, bob.id, m)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, s)
	}
	return ctx, n, alice, bob, ts, sent[0].ConversationID, sent
}

// syncErrs syncs and returns each event's error by message id.
func syncErrs(t *testing.T, ctx context.Context, u *testUser, cid string) (map[string]error, *SyncResult) {
	t.Helper()
	errs := map[string]error{}
	res, err := u.e.Sync(ctx, cid, func(ev *event.Event) error {
		errs[ev.MessageID] = ev.Err
		return nil
	})

	if err != nil {
		t.Fatalf("Sync with fn: %v", err)
	}
	return errs, res
}

func tamperMessage(t *testing.T, ts *tamperServer, mid string, f func(*tevent.MessageEvent)) {
	ts.set(func(r *api.GetChatConversationEventsResponse) {
		for i := range r.Data {
			r.Data[i].EncodedEvent = editEvent(t, r.Data[i].EncodedEvent, func(me *tevent.MessageEvent) {
				if me.GetMessageID() == mid {
					f(me)
				}
			})
		}
	})
}

func TestHostileForgedSignature(t *testing.T) {
	ctx, _, _, bob, ts, cid, sent := hostileSetup(t)
	tamperMessage(t, ts, sent[1].MessageID, func(me *tevent.MessageEvent) {
		sig := []byte(*me.MessageEventSignature.Signature)
		sig[3] ^= 1
		s := string(sig)
		me.MessageEventSignature.Signature = &s
	})
	errs, res := syncErrs(t, ctx, bob, cid)
	if errs[sent[0].MessageID] != nil || !errors.Is(errs[sent[1].MessageID], inbound.ErrBadSignature) {
		t.Fatalf("errors %v", errs)
	}
	if got := texts(res.Entries); len(got) != 0 {
		t.Fatalf("Sync with fn collected entries %q", got)
	}
	h := testutil.Must(bob.e.History(ctx, cid, "", 0))(t)
	for _, e := range h {
		if e.MessageID == sent[1].MessageID && (e.Verified || e.Text != "" || e.Error == "") {
			t.Fatalf("forged event stored as %+v", e)
		}
	}
}

func TestHostileWrongSenderKeyVersion(t *testing.T) {
	ctx, _, _, bob, ts, cid, sent := hostileSetup(t)
	tamperMessage(t, ts, sent[1].MessageID, func(me *tevent.MessageEvent) {
		v := "1"
		me.MessageEventSignature.PublicKeyVersion = &v
	})
	errs, _ := syncErrs(t, ctx, bob, cid)
	if !errors.Is(errs[sent[1].MessageID], inbound.ErrUnknownSigningKey) {
		t.Fatalf("errors %v", errs)
	}
}

func TestHostileDowngradedSignatureVersion(t *testing.T) {
	ctx, _, _, bob, ts, cid, sent := hostileSetup(t)
	tamperMessage(t, ts, sent[1].MessageID, func(me *tevent.MessageEvent) {
		v := "1"
		me.MessageEventSignature.SignatureVersion = &v
	})
	errs, _ := syncErrs(t, ctx, bob, cid)
	if !errors.Is(errs[sent[1].MessageID], inbound.ErrSignatureVersion) {
		t.Fatalf("errors %v", errs)
	}
}

func TestHostileTamperedCiphertext(t *testing.T) {
	ctx, _, alice, bob, ts, cid, sent := hostileSetup(t)
	// Tampering alone breaks the signature.
	tamperMessage(t, ts, sent[1].MessageID, func(me *tevent.MessageEvent) {
		me.Detail.MessageCreateEvent.Contents[30] ^= 1
	})
	errs, _ := syncErrs(t, ctx, bob, cid)
	if !errors.Is(errs[sent[1].MessageID], inbound.ErrBadSignature) {
		t.Fatalf("errors %v", errs)
	}
	// A participant signing garbage ciphertext fails authentication.
	tamperMessage(t, ts, sent[1].MessageID, func(me *tevent.MessageEvent) {
		me.Detail.MessageCreateEvent.Contents[30] ^= 1
		resign(t, alice, me)
	})
	if _, err := alice.e.SendText(ctx, cid, "newer"); err != nil { // new event: the walk reaches the tampered one again
		t.Fatal(err)
	}
	bob2 := restoreDevice(t, bob, ts)
	errs, _ = syncErrs(t, ctx, bob2, cid)
	if !errors.Is(errs[sent[1].MessageID], inbound.ErrDecrypt) {
		t.Fatalf("errors %v", errs)
	}
}

// restoreDevice opens u's identity (from its backup) in a fresh store, so
// a sync starts from an empty history.
func restoreDevice(t *testing.T, u *testUser, srv Server) *testUser {
	t.Helper()
	ctx := context.Background()
	backup, err := u.e.ExportBackup()
	if err != nil {
		t.Fatal(err)
	}
	store := keystore.NewMemory()
	if err := ImportBackup(ctx, store, u.id, backup, u.e.PublicKeyVersion()); err != nil {
		t.Fatal(err)
	}
	e, err := Open(ctx, store, srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return &testUser{id: u.id, name: u.name + "(restored)", token: u.token, e: e, store: store, server: srv}
}

func TestHostileUnknownKeyVersion(t *testing.T) {
	ctx, _, alice, bob, ts, cid, sent := hostileSetup(t)
	tamperMessage(t, ts, sent[1].MessageID, func(me *tevent.MessageEvent) {
		v := "4000000000000"
		me.Detail.MessageCreateEvent.ConversationKeyVersion = &v
		resign(t, alice, me)
	})
	errs, res := syncErrs(t, ctx, bob, cid)
	if !errors.Is(errs[sent[1].MessageID], inbound.ErrUnknownKeyVersion) {
		t.Fatalf("errors %v", errs)
	}
	found := false
	for _, a := range res.Anomalies {
		if a.Kind == event.AnomalyMissingKey && a.Related == "4000000000000" {
			found = true
		}
	}
	if !found {
		t.Fatalf("anomalies %v", res.Anomalies)
	}
}

func TestHostileBrokenChain(t *testing.T) {
	ctx, _, alice, bob, ts, cid, sent := hostileSetup(t)
	if _, err := alice.e.SendText(ctx, cid, "third"); err != nil {
		t.Fatal(err)
	}
	// Withhold the middle message.
	ts.set(func(r *api.GetChatConversationEventsResponse) {
		var keep []api.ChatMessageEvent
		for _, d := range r.Data {
			raw, err := wire.DecodeB64(d.EncodedEvent)
			if err != nil {
				t.Errorf("served event: %v", err)
				continue
			}
			me, err := wire.DecodeMessageEvent(raw)
			if err != nil {
				t.Errorf("served event: %v", err)
				continue
			}
			if me.GetMessageID() != sent[1].MessageID {
				keep = append(keep, d)
			}
		}
		r.Data = keep
	})
	_, res := syncErrs(t, ctx, bob, cid)
	gap := false
	for _, a := range res.Anomalies {
		if a.Kind == event.AnomalyGap && a.Related == sent[1].SequenceID {
			gap = true
		}
	}
	if !gap {
		t.Fatalf("withheld event not reported: %v", res.Anomalies)
	}
}

func TestHostileEquivocation(t *testing.T) {
	ctx, _, _, bob, ts, cid, sent := hostileSetup(t)
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	// Later the server serves other bytes under a stored sequence id.
	tamperMessage(t, ts, sent[1].MessageID, func(me *tevent.MessageEvent) {
		v := "123"
		me.CreatedAtMsec = &v
	})
	_, res := syncErrs(t, ctx, bob, cid)
	conflict := false
	for _, a := range res.Anomalies {
		if a.Kind == event.AnomalyConflict && a.SequenceID == sent[1].SequenceID {
			conflict = true
		}
	}
	if !conflict {
		t.Fatalf("equivocation not reported: %v", res.Anomalies)
	}
	h := testutil.Must(bob.e.History(ctx, cid, "", 0))(t)
	for _, e := range h {
		if e.MessageID == sent[1].MessageID && e.CreatedAt.UnixMilli() == 123 {
			t.Fatalf("stored event replaced by the server's new version")
		}
	}
}

func TestHostileReplayedOldKeyChange(t *testing.T) {
	ctx, _, alice, bob, ts, cid, _ := hostileSetup(t)
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	c := testutil.Must(bob.e.Conversation(ctx, cid))(t)
	old := c.KeyVersion
	// Capture the first key change as served.
	var oldKC string
	ts.set(func(r *api.GetChatConversationEventsResponse) {
		if oldKC == "" && r.Meta != nil && len(r.Meta.KeyChangeEvents()) > 0 {
			oldKC = r.Meta.KeyChangeEvents()[0]
		}
	})
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	v2, err := alice.e.Rotate(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.e.SendText(ctx, cid, "under v2"); err != nil {
		t.Fatal(err)
	}
	ts.set(nil)
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	if c := testutil.Must(bob.e.Conversation(ctx, cid))(t); c.KeyVersion != v2 {
		t.Fatalf("key version %s, want %s", c.KeyVersion, v2)
	}
	// The relay now replays the old key change, re-sequenced as the newest
	// event, and withholds the new one.
	if _, err := alice.e.SendText(ctx, cid, "more"); err != nil {
		t.Fatal(err)
	}
	ts.set(func(r *api.GetChatConversationEventsResponse) {
		replay := editEvent(t, oldKC, func(me *tevent.MessageEvent) {
			s := strconv.FormatUint(^uint64(0)>>2, 10)
			me.SequenceID = &s
		})
		r.Meta.ConversationKeyEvents = []string{replay}
		r.Meta.MissingConversationKeyChangeEvents = nil
	})
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	if c := testutil.Must(bob.e.Conversation(ctx, cid))(t); c.KeyVersion != v2 {
		t.Fatalf("replayed key change %s displaced %s", old, c.KeyVersion)
	}
	s, err := bob.e.SendText(ctx, cid, "reply")
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyVersion != v2 {
		t.Fatalf("sent under %s, want %s", s.KeyVersion, v2)
	}
}

func TestHostileKeySubstitution(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	var ts *tamperServer
	alice := n.userWith("alice", func(s Server) Server { ts = &tamperServer{Server: s}; return ts })
	bob := n.user("bob")
	mallory, err := crypto.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	ts.mu.Lock()
	ts.keys = func(r *api.GetUsersPublicKeysResponse) {
		for i := range r.Data {
			r.Data[i].PublicKey = wire.EncodeB64(mallory.Identity.PublicKey().SPKI())
		}
	}
	ts.mu.Unlock()
	if _, err := alice.e.SendText(ctx, bob.id, "secret"); !errors.Is(err, xchat.ErrKeyBinding) {
		t.Fatalf("send with substituted key: %v", err)
	}
	if p := testutil.Must(alice.e.Peer(ctx, bob.id))(t); p.Current != nil {
		t.Fatalf("substituted key pinned: %+v", p.Current)
	}
}

func TestHostileSendResponse(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	var ts *tamperServer
	alice := n.userWith("alice", func(s Server) Server { ts = &tamperServer{Server: s}; return ts })
	bob := n.user("bob")
	first, err := alice.e.SendText(ctx, bob.id, "one")
	if err != nil {
		t.Fatal(err)
	}
	firstEvent := ""
	ts.mu.Lock()
	ts.send = func(r *api.SendChatMessageResponse) {
		if firstEvent != "" {
			r.Data.EncodedMessageEvent = firstEvent
		}
	}
	ts.mu.Unlock()
	h := testutil.Must(alice.e.History(ctx, first.ConversationID, "", 0))(t)
	raw := testutil.Must(alice.store.Events(ctx, first.ConversationID, "", 0))(t)
	_ = h
	firstEvent = wire.EncodeB64(raw[len(raw)-1].Raw)
	if _, err := alice.e.SendText(ctx, bob.id, "two"); !errors.Is(err, xchat.ErrServerResponse) {
		t.Fatalf("mismatched send response: %v", err)
	}
	if out := testutil.Must(alice.e.Outbox(ctx))(t); len(out) != 0 {
		t.Fatalf("accepted send kept in outbox: %+v", out)
	}
}

// TestHostileSendEchoAltered: the server's echo of a sent message that
// keeps its message id but not its signed bytes, its signature or the
// signing key version it names is verified in full (only an echo of
// exactly what the engine signed is spared that, see inbound.Own) and
// refused; nothing of it is stored as the message sent.
func TestHostileSendEchoAltered(t *testing.T) {
	for name, alter := range map[string]func(*tevent.MessageEvent){
		"contents":           func(me *tevent.MessageEvent) { me.Detail.MessageCreateEvent.Contents[30] ^= 1 },
		"key version":        func(me *tevent.MessageEvent) { v := "1"; me.Detail.MessageCreateEvent.ConversationKeyVersion = &v },
		"public key version": func(me *tevent.MessageEvent) { v := "2"; me.MessageEventSignature.PublicKeyVersion = &v },
		"signature": func(me *tevent.MessageEvent) {
			sig, err := wire.DecodeB64(me.MessageEventSignature.GetSignature())
			if err != nil {
				panic(err)
			}
			sig[5] ^= 1
			s := wire.EncodeB64NoPad(sig)
			me.MessageEventSignature.Signature = &s
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			n := newNet(t)
			var ts *tamperServer
			alice := n.userWith("alice", func(s Server) Server { ts = &tamperServer{Server: s}; return ts })
			bob := n.user("bob")
			ts.mu.Lock()
			ts.send = func(r *api.SendChatMessageResponse) {
				r.Data.EncodedMessageEvent = editEvent(t, r.Data.EncodedMessageEvent, alter)
			}
			ts.mu.Unlock()
			if _, err := alice.e.SendText(ctx, bob.id, "altered on the way back"); !errors.Is(err, xchat.ErrServerResponse) {
				t.Fatalf("altered echo: %v", err)
			}
			cid, err := oneToOneID(alice.id, bob.id)
			if err != nil {
				t.Fatal(err)
			}
			for _, en := range testutil.Must(alice.e.History(ctx, cid, "", 0))(t) {
				if en.Verified {
					t.Fatalf("altered echo stored as verified: %+v", en)
				}
			}
			ts.mu.Lock()
			ts.send = nil
			ts.mu.Unlock()
			sent, err := alice.e.SendText(ctx, bob.id, "echoed as sent")
			if err != nil || sent.Entry == nil || !sent.Entry.Verified {
				t.Fatalf("honest echo: %+v, %v", sent, err)
			}
		})
	}
}

func TestHostileWrongConversation(t *testing.T) {
	ctx, n, alice, bob, ts, cid, _ := hostileSetup(t)
	carol := n.user("carol")
	other, err := carol.e.SendText(ctx, bob.id, "from carol")
	if err != nil {
		t.Fatal(err)
	}
	_ = alice
	otherRaw := testutil.Must(carol.store.Events(ctx, other.ConversationID, "", 0))(t)
	inject := wire.EncodeB64(otherRaw[len(otherRaw)-1].Raw)
	ts.set(func(r *api.GetChatConversationEventsResponse) {
		r.Data = append([]api.ChatMessageEvent{{EncodedEvent: inject}}, r.Data...)
	})
	errs, _ := syncErrs(t, ctx, bob, cid)
	if !errors.Is(errs[other.MessageID], inbound.ErrWrongConversation) {
		t.Fatalf("errors %v", errs)
	}
}

// TestHostileWrongConversationHandedAsStored: an event whose envelope
// names another conversation (or none) fails, and is handed to fn, and
// listed in Entries, as an event of the conversation it was read in and
// stored under, as History shows it: never under the claim, which would
// make it pass for an event of the conversation claimed.
func TestHostileWrongConversationHandedAsStored(t *testing.T) {
	for _, claim := range []string{"other", ""} {
		t.Run("claim="+claim, func(t *testing.T) {
			ctx, n, alice, bob, ts, cid, _ := hostileSetup(t)
			carol := n.user("carol")
			other := testutil.Must(carol.e.SendText(ctx, bob.id, "from carol"))(t).ConversationID
			if claim == "other" {
				claim = other
			}
			mid := testutil.Must(alice.e.SendText(ctx, bob.id, "relabelled"))(t).MessageID
			tamperMessage(t, ts, mid, func(me *tevent.MessageEvent) { me.ConversationID = &claim })
			seen := false
			if _, err := bob.e.Sync(ctx, cid, func(ev *event.Event) error {
				if ev.ConversationID != cid {
					t.Errorf("event %s handed over in conversation %q, read in %s", ev.SequenceID, ev.ConversationID, cid)
				}
				if ev.MessageID == mid {
					seen = true
					if ev.Verified || !errors.Is(ev.Err, inbound.ErrWrongConversation) {
						t.Errorf("relabelled event: verified %v, err %v", ev.Verified, ev.Err)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !seen {
				t.Fatal("relabelled event not handed over")
			}
			for _, en := range testutil.Must(bob.e.History(ctx, cid, "", 0))(t) {
				if en.ConversationID != cid {
					t.Errorf("History lists %s in %q", en.SequenceID, en.ConversationID)
				}
			}
		})
	}
}

func TestHostileOutsiderKeyChange(t *testing.T) {
	ctx, n, alice, bob, ts, cid, _ := hostileSetup(t)
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	before := testutil.Must(bob.e.Conversation(ctx, cid))(t)
	// Carol, a registered user outside the conversation, signs a key change
	// for alice:bob wrapped to bob; the relay injects it.
	carol := n.user("carol")
	if _, err := carol.e.RefreshPeers(ctx, bob.id); err != nil {
		t.Fatal(err)
	}
	p, err := carol.e.prepareKey(ctx, cid, []string{bob.id})
	if err != nil {
		t.Fatal(err)
	}
	env, mid := actionEvent(t, p.action, "9000000000000000000", carol.id, cid), p.action.MessageID
	if _, err := alice.e.SendText(ctx, cid, "newer"); err != nil {
		t.Fatal(err)
	}
	ts.set(func(r *api.GetChatConversationEventsResponse) {
		r.Meta.ConversationKeyEvents = append(r.Meta.ConversationKeyEvents, env)
	})
	errs, _ := syncErrs(t, ctx, bob, cid)
	if !errors.Is(errs[mid], xchat.ErrNotMember) {
		t.Fatalf("errors %v", errs)
	}
	if after := testutil.Must(bob.e.Conversation(ctx, cid))(t); after.KeyVersion != before.KeyVersion {
		t.Fatalf("outsider's key adopted: %s -> %s", before.KeyVersion, after.KeyVersion)
	}
	if _, err := bob.e.store.ConversationKey(ctx, cid, p.version); err == nil {
		t.Fatal("outsider's key stored")
	}
}

func TestHostileOutsiderGroupKeyChange(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	var ts *tamperServer
	bob := n.userWith("bob", func(s Server) Server { ts = &tamperServer{Server: s}; return ts })
	carol := n.user("carol")
	gid, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.e.SendText(ctx, gid, "hi"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.Sync(ctx, gid, nil); err != nil {
		t.Fatal(err)
	}
	before := testutil.Must(bob.e.Conversation(ctx, gid))(t)
	if _, err := carol.e.RefreshPeers(ctx, bob.id); err != nil {
		t.Fatal(err)
	}
	p, err := carol.e.prepareKey(ctx, gid, []string{bob.id})
	if err != nil {
		t.Fatal(err)
	}
	env := actionEvent(t, p.action, "9000000000000000000", carol.id, gid)
	ts.set(func(r *api.GetChatConversationEventsResponse) {
		r.Meta.ConversationKeyEvents = append(r.Meta.ConversationKeyEvents, env)
	})
	if _, err := alice.e.SendText(ctx, gid, "more"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.Sync(ctx, gid, nil); err != nil {
		t.Fatal(err)
	}
	if after := testutil.Must(bob.e.Conversation(ctx, gid))(t); after.KeyVersion != before.KeyVersion {
		t.Fatalf("non-member's key became the encryption key: %s -> %s", before.KeyVersion, after.KeyVersion)
	}
	ts.set(nil)
	s, err := bob.e.SendText(ctx, gid, "reply")
	if err != nil || s.KeyVersion != before.KeyVersion {
		t.Fatalf("bob sent under %v (%v), want %s", s, err, before.KeyVersion)
	}
}
