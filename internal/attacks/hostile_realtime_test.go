package attacks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// Real-time delivery attacks (issue #14): what the Activity stream or a
// webhook pushes is as untrusted as what /events serves. Each pushed
// event goes to the victim's one entry point, session.Engine.Deliver,
// exactly as a transport hands it over; where a fetched twin of the
// attack exists, it runs too (in a world of its own) and both must be
// rejected with the same error.

// pushOf is the activity event X would push to u for envelope me, with
// the key change kc (base64, may be empty).
func pushOf(u *user, uuid string, me *tevent.MessageEvent, kc string, claims func(*api.ChatPayload)) (*api.ActivityEvent, error) {
	b64, err := hostile.EncodeEvent(me)
	if err != nil {
		return nil, err
	}
	p := api.ChatPayload{ConversationID: me.GetConversationID(), EncodedEvent: b64, ConversationKeyChangeEvent: kc,
		SenderID: api.StringOrNumber(me.GetSenderID()), ID: me.GetMessageID()}
	if claims != nil {
		claims(&p)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return &api.ActivityEvent{EventUUID: api.StringOrNumber(uuid), EventType: api.EventChatReceived,
		Filter: api.ActivitySubscriptionFilter{UserID: u.id}, Payload: raw}, nil
}

// deliver pushes ev to u and returns the outcome and the events handed to
// the application.
func (u *user) deliver(ev *api.ActivityEvent) (*session.Delivered, []*event.Event, error) {
	var handed []*event.Event
	d, err := u.e.Deliver(u.w.ctx, ev, func(e *event.Event) error { handed = append(handed, e); return nil })
	return d, handed, err
}

// honestEnvelope returns the server's envelope of message mid in the dm,
// and the newest key change envelope (base64), as bob reads them.
func (d *dm) honestEnvelope(mid string) (*tevent.MessageEvent, string, error) {
	var found *tevent.MessageEvent
	for _, me := range d.w.serverEvents(d.bob, d.path) {
		if me.GetMessageID() == mid {
			found = me
		}
	}
	kcs := d.w.serverKeyChanges(d.bob, d.path)
	if found == nil || len(kcs) == 0 {
		return nil, "", errorf("message %s or its key change not on the server", mid)
	}
	kc, err := hostile.EncodeEvent(kcs[len(kcs)-1])
	return found, kc, err
}

// tamperer prepares an attack on a dm (creating the accounts it needs)
// and returns the edit it makes to an envelope.
type tamperer func(w *world, d *dm) (func(me *tevent.MessageEvent) error, error)

// pushTampered pushes message i of a fresh dm, edited by the tamperer, to
// bob and returns the error its event was rejected with.
func pushTampered(w *world, i int, prepare tamperer) (error, *dm, error) {
	d := newDM(w)
	me, kc, err := d.honestEnvelope(d.mid(i))
	if err != nil {
		return nil, nil, err
	}
	tamper, err := prepare(w, d)
	if err != nil {
		return nil, nil, err
	}
	if err := tamper(me); err != nil {
		return nil, nil, err
	}
	ev, err := pushOf(d.bob, "push-1", me, kc, func(p *api.ChatPayload) {
		// The payload's claims echo the forgery, the signing key included.
		if k := me.GetMessageEventSignature().GetSigningPublicKey(); k != "" {
			p.MessageEventSignature = &api.ActivitySignature{SigningPublicKey: k, SignatureVersion: "7"}
		}
	})
	if err != nil {
		return nil, nil, err
	}
	del, handed, err := d.bob.deliver(ev)
	if err != nil {
		return nil, nil, errorf("Deliver failed instead of reporting the event: %w", err)
	}
	for _, h := range handed {
		if h.MessageID == me.GetMessageID() && h.Kind == event.KindMessage {
			if h.Err == nil || h.Verified {
				return nil, nil, errorf("pushed forgery accepted as verified (%s)", del.Status)
			}
			if ferr := d.bob.forgedShown(d.cid, []string{me.GetMessageID()}, nil); ferr != nil {
				return nil, nil, ferr
			}
			return h.Err, d, nil
		}
	}
	return nil, nil, errorf("pushed event %s not reported (status %s)", short(me.GetMessageID()), del.Status)
}

// sameAsFetched runs tamper against a pushed copy of message 1 and, in a
// world of its own, against the copy /events serves; both must fail with
// the same one of targets.
func sameAsFetched(w *world, prepare tamperer, targets ...error) (string, error) {
	pushed, _, err := pushTampered(w, 1, prepare)
	if err != nil {
		return "", err
	}
	w2 := newWorld(w.t)
	d2 := newDM(w2)
	tamper, err := prepare(w2, d2)
	if err != nil {
		return "", err
	}
	var mu sync.Mutex
	var terr error
	w2.tamper("fetched-twin", d2.mid(1), func(me *tevent.MessageEvent) {
		if err := tamper(me); err != nil {
			mu.Lock()
			terr = errors.Join(terr, err)
			mu.Unlock()
		}
	})
	r := d2.bob.sync(d2.cid)
	mu.Lock()
	defer mu.Unlock()
	if terr != nil || r.err != nil {
		return "", errorf("fetched twin: %v %v", terr, r.err)
	}
	fetched, seen := r.byMessage(d2.mid(1))
	if !seen {
		return "", errorf("fetched twin not reported")
	}
	for _, target := range targets {
		if errors.Is(pushed, target) {
			if !errors.Is(fetched, target) {
				return "", errorf("pushed rejected with %v, fetched with %v", pushed, fetched)
			}
			return fmt.Sprintf("pushed and fetched rejected alike: %v", target), nil
		}
	}
	return "", errorf("pushed event failed with %v, want one of %v", pushed, targets)
}

var realtimeAttacks = []attack{
	{"pushed-signer-key-version-swapped", func(w *world) (string, error) {
		return sameAsFetched(w, func(*world, *dm) (func(*tevent.MessageEvent) error, error) {
			return func(me *tevent.MessageEvent) error {
				me.MessageEventSignature.PublicKeyVersion = strp("1")
				return nil
			}, nil
		}, inbound.ErrUnknownSigningKey)
	}},
	{"pushed-forgery-with-claimed-signing-key", func(w *world) (string, error) {
		// mallory re-signs alice's message with her own key and the push
		// names mallory's key as the signing key: verification must use
		// alice's pinned key, never the one the payload offers.
		return sameAsFetched(w, func(w *world, d *dm) (func(*tevent.MessageEvent) error, error) {
			mallory := w.newUser("mallory", false)
			forger, spki := mallory.forger(), wire.EncodeB64(mallory.keys().Signing.PublicKey().SPKI())
			aliceVersion := d.alice.e.PublicKeyVersion()
			return func(me *tevent.MessageEvent) error {
				if err := forger.Resign(me); err != nil {
					return err
				}
				me.SenderID = strp(d.alice.id)
				me.MessageEventSignature.PublicKeyVersion = strp(aliceVersion)
				me.MessageEventSignature.SigningPublicKey = strp(spki)
				return nil
			}, nil
		}, inbound.ErrSigningKeyMismatch, inbound.ErrBadSignature)
	}},
	{"pushed-contents-swapped", func(w *world) (string, error) {
		return sameAsFetched(w, func(_ *world, d *dm) (func(*tevent.MessageEvent) error, error) {
			other, _, err := d.honestEnvelope(d.mid(0))
			if err != nil {
				return nil, err
			}
			contents := other.GetDetail().GetMessageCreateEvent().Contents
			return func(me *tevent.MessageEvent) error {
				me.Detail.MessageCreateEvent.Contents = contents
				return nil
			}, nil
		}, inbound.ErrBadSignature)
	}},
	{"pushed-replay-under-new-sequence-id", func(w *world) (string, error) {
		d, err := syncedDM(w)
		if err != nil {
			return "", err
		}
		me, kc, err := d.honestEnvelope(d.mid(0))
		if err != nil {
			return "", err
		}
		me.SequenceID = strp(hostile.NextSequenceID(d.sent[2].SequenceID, 7))
		me.PreviousSequenceID = strp(d.sent[2].SequenceID)
		ev, err := pushOf(d.bob, "replay-1", me, kc, nil)
		if err != nil {
			return "", err
		}
		_, handed, err := d.bob.deliver(ev)
		if err != nil {
			return "", err
		}
		for _, h := range handed {
			if h.SequenceID == me.GetSequenceID() {
				if !errors.Is(h.Err, xchat.ErrReplayed) {
					return "", errorf("replay: %v, want ErrReplayed", h.Err)
				}
				return "rejected: " + h.Err.Error(), nil
			}
		}
		return "", errorf("replayed push not reported: %d events", len(handed))
	}},
	{"pushed-key-change-by-non-member", func(w *world) (string, error) {
		d, c, err := syncedDMView(w)
		if err != nil {
			return "", err
		}
		mallory := w.newUser("mallory", false)
		key, err := crypto.NewConversationKey(nil)
		if err != nil {
			return "", err
		}
		forged := futureVersion()
		kcSeq := hostile.NextSequenceID(d.sent[2].SequenceID, 1)
		kc, err := mallory.forger().KeyChange(hostile.Envelope{SequenceID: kcSeq, PreviousSequenceID: d.sent[2].SequenceID,
			MessageID: "5e1f0c2a-1111-4c4c-8888-00000000000a", ConversationID: d.cid}, forged, key,
			[]hostile.Recipient{d.bob.recipient(), mallory.recipient()})
		if err != nil {
			return "", err
		}
		kcB64, err := hostile.EncodeEvent(kc)
		if err != nil {
			return "", err
		}
		// A message "from alice" under the forged key rides along.
		fake, _, err := d.honestEnvelope(d.mid(2))
		if err != nil {
			return "", err
		}
		fake.SequenceID, fake.PreviousSequenceID = strp(hostile.NextSequenceID(kcSeq, 1)), strp(kcSeq)
		fake.MessageID = strp("5e1f0c2a-1111-4c4c-8888-00000000000b")
		fake.Detail.MessageCreateEvent.ConversationKeyVersion = strp(forged)
		ev, err := pushOf(d.bob, "kc-1", fake, kcB64, nil)
		if err != nil {
			return "", err
		}
		_, handed, err := d.bob.deliver(ev)
		if err != nil {
			return "", err
		}
		var kcErr error
		for _, h := range handed {
			if h.MessageID == kc.GetMessageID() {
				kcErr = h.Err
			}
			if h.MessageID == fake.GetMessageID() && (h.Verified || h.Err == nil) {
				return "", errorf("message under the forged key accepted")
			}
		}
		if !errors.Is(kcErr, inbound.ErrSenderNotParticipant) {
			return "", errorf("pushed key change: %v, want ErrSenderNotParticipant", kcErr)
		}
		if err := keyVersionHeld(d.bob, d.cid, c.KeyVersion, forged); err != nil {
			return "", err
		}
		return "rejected: " + kcErr.Error(), nil
	}},
	{"pushed-conversation-claim-mismatch", func(w *world) (string, error) {
		d := newDM(w)
		carol := w.newUser("carol", false)
		me, kc, err := d.honestEnvelope(d.mid(1))
		if err != nil {
			return "", err
		}
		other, err := session.CanonicalID(d.bob.id, carol.id)
		if err != nil {
			return "", err
		}
		ev, err := pushOf(d.bob, "claim-1", me, kc, func(p *api.ChatPayload) { p.ConversationID = other })
		if err != nil {
			return "", err
		}
		del, handed, err := d.bob.deliver(ev)
		if err != nil || del.Status != session.DeliveryRejected || len(handed) != 0 {
			return "", errorf("mis-routed push: %+v, %d handed, %v", del, len(handed), err)
		}
		return "rejected: " + del.Err.Error(), nil
	}},
	{"pushed-event-of-foreign-conversation", func(w *world) (string, error) {
		// A genuine alice→carol message pushed to bob as his.
		alice := w.newUser("alice", false)
		bob := w.newUser("bob", true)
		carol := w.newUser("carol", false)
		s := alice.send(carol.id, "not for bob")[0]
		var me *tevent.MessageEvent
		for _, e := range w.serverEvents(carol, api.ConversationPathID(s.ConversationID)) {
			if e.GetMessageID() == s.MessageID {
				me = e
			}
		}
		if me == nil {
			return "", errorf("message not on the server")
		}
		ev, err := pushOf(bob, "foreign-1", me, "", nil)
		if err != nil {
			return "", err
		}
		del, handed, err := bob.deliver(ev)
		if err != nil || del.Status != session.DeliveryRejected || len(handed) != 0 {
			return "", errorf("foreign push: %+v, %d handed, %v", del, len(handed), err)
		}
		return "rejected: " + del.Err.Error(), nil
	}},
	{"webhook-post-with-bad-signature", func(w *world) (string, error) {
		consumer, client, _ := w.emu.AppCredentials()
		recv, err := api.NewWebhookReceiver(api.WebhookOptions{ConsumerSecret: []byte(consumer), OAuth2ClientSecret: []byte(client)})
		if err != nil {
			return "", err
		}
		hook := httptest.NewServer(recv)
		defer hook.Close()
		body := []byte(`{"data":{"event_uuid":"1","event_type":"chat.received","payload":{"encoded_event":"AAAA"}}}`)
		for _, h := range []string{api.HeaderWebhookSignature, api.HeaderWebhookSignatureOAuth2} {
			req, err := http.NewRequestWithContext(w.ctx, "POST", hook.URL, bytes.NewReader(body))
			if err != nil {
				return "", err
			}
			req.Header.Set(h, api.WebhookSignature([]byte("a guessed secret"), body))
			resp, err := hook.Client().Do(req)
			if err != nil {
				return "", err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				return "", errorf("forged POST (%s) answered %d", h, resp.StatusCode)
			}
		}
		if st := recv.Stats(); st.BadSignature != 2 || st.Accepted != 0 || st.Malformed != 0 {
			return "", errorf("receiver %+v", st)
		}
		return "refused before parsing: 401 for both signature headers", nil
	}},
}
