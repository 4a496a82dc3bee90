package emulator

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/wire"
)

// delivery is one activity event owed to one user.
type delivery struct {
	user      string
	eventType string
}

// publish fans committed chat events out to the app's matching
// subscriptions: streams, the retained window and webhooks. before is the
// conversation as it was (nil when new). Callers hold s.mu.
func (s *Server) publish(before, after *convRec, evs []*eventRec) {
	rt := s.rt
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, e := range evs {
		if e.Kind == kindKeyChange {
			rt.kcByVer[e.Conv+"|"+e.KeyVersion] = e
		}
	}
	if rt.closed || len(rt.subs) == 0 {
		return
	}
	now := s.cfg.clock()
	subs := make([]*subscriptionRec, 0, len(rt.subs))
	for _, sub := range rt.subs {
		subs = append(subs, sub)
	}
	sort.Slice(subs, func(i, j int) bool { return decimal.Compare(subs[i].SubscriptionID, subs[j].SubscriptionID) < 0 })
	for _, e := range evs {
		var payload []byte // built once per event, on first use
		for _, d := range deliveriesFor(before, after, e) {
			for _, sub := range subs {
				if sub.EventType != d.eventType || sub.Filter.UserID != d.user {
					continue
				}
				if payload == nil {
					payload = s.chatPayload(after, e)
				}
				line, err := json.Marshal(api.ActivityMessage{Data: &api.ActivityEvent{
					EventUUID: api.StringOrNumber(rt.newEventUUID(now)),
					EventType: d.eventType,
					Filter:    api.ActivitySubscriptionFilter{UserID: d.user},
					Tag:       sub.Tag,
					Payload:   payload,
				}})
				if err != nil {
					continue
				}
				rt.dispatch(now, line, sub.WebhookID)
			}
		}
	}
}

// deliveriesFor decides who is told about e, and as what. Messages go to
// their sender as chat.sent and to the other members as chat.received;
// a group change that adds members tells the newcomers
// chat.conversation.join and the members already there
// chat.conversation.member_added. Key changes travel inside the payload of
// the events that use them; deletes and read marks are not pushed.
func deliveriesFor(before, after *convRec, e *eventRec) []delivery {
	var out []delivery
	switch e.Kind {
	case kindMessage:
		for _, m := range after.Members {
			t := api.EventChatReceived
			if m == e.SenderID {
				t = api.EventChatSent
			}
			out = append(out, delivery{m, t})
		}
	case kindGroupChange:
		var old []string
		if before != nil && !before.Pending {
			old = before.Members
		}
		for _, m := range after.Members {
			switch {
			case !slices.Contains(old, m) && m != e.SenderID:
				out = append(out, delivery{m, api.EventChatConversationJoin})
			case slices.Contains(old, m):
				out = append(out, delivery{m, api.EventChatConversationMemberAdded})
			}
		}
	}
	return out
}

// chatPayload renders the payload of a chat event: the envelope as the
// conversation's events list serves it, the key change its key version
// comes from, and the signature with the sender's registered signing key.
func (s *Server) chatPayload(conv *convRec, e *eventRec) []byte {
	kv := e.KeyVersion
	if kv == "" {
		kv = conv.KeyVersion
	}
	p := api.ChatPayload{
		ConversationToken:      e.Token,
		ID:                     e.MessageID,
		CreatedAtMsec:          api.StringOrNumber(strconv.FormatInt(e.CreatedAt, 10)),
		SenderID:               api.StringOrNumber(e.SenderID),
		ConversationID:         e.Conv,
		ConversationKeyVersion: api.StringOrNumber(kv),
		EncodedEvent:           wire.EncodeB64(e.Encoded),
	}
	if kc := s.keyChangeFor(e.Conv, kv); kc != nil && kc.Seq != e.Seq {
		p.ConversationKeyChangeEvent = wire.EncodeB64(kc.Encoded)
	}
	if sig := e.SigJSON; sig != nil {
		as := &api.ActivitySignature{PublicKeyVersion: api.StringOrNumber(sig.PublicKeyVersion), Signature: sig.Signature,
			SignatureVersion: api.StringOrNumber(sig.SignatureVersion), SigningPublicKey: sig.SigningPublicKey}
		if as.SigningPublicKey == "" {
			if k := s.st.keyVersion(e.SenderID, sig.PublicKeyVersion); k != nil {
				as.SigningPublicKey = k.SigningPublicKey
			}
		}
		p.MessageEventSignature = as
	}
	b, err := json.Marshal(p)
	if err != nil {
		return []byte("{}")
	}
	return b
}

// keyChangeFor returns the key change event that introduced version in
// conv. Callers hold s.mu and rt.mu.
func (s *Server) keyChangeFor(conv, version string) *eventRec {
	if version == "" {
		return nil
	}
	if e := s.rt.kcByVer[conv+"|"+version]; e != nil {
		return e
	}
	evs := s.st.events[conv]
	for i := len(evs) - 1; i >= 0; i-- {
		if e := evs[i]; e.Kind == kindKeyChange && e.KeyVersion == version {
			s.rt.kcByVer[conv+"|"+version] = e
			return e
		}
	}
	return nil
}

// dispatch applies the fault switches to one delivered event and hands it
// on. Callers hold rt.mu.
func (rt *realtime) dispatch(now time.Time, line []byte, webhookID string) {
	rt.faultN++
	n, f := rt.faultN, rt.faults
	if f.DropEvery > 0 && n%f.DropEvery == 0 {
		rt.stats.Dropped++
		return
	}
	copies := 1
	if f.DuplicateEvery > 0 && n%f.DuplicateEvery == 0 {
		copies = 2
		rt.stats.Duplicated++
	}
	if f.ReorderEvery > 0 && n%f.ReorderEvery == 0 {
		rt.stats.Reordered++
		for range copies {
			rt.held = append(rt.held, heldEvent{line: line, webhookID: webhookID})
		}
		hold := f.ReorderHold
		if hold <= 0 {
			hold = reorderHold
		}
		if rt.heldTmr == nil {
			rt.heldTmr = time.AfterFunc(hold, rt.flushHeldLater)
		} else {
			rt.heldTmr.Reset(hold)
		}
		return
	}
	rt.deliver(now, line, webhookID, copies)
	rt.flushHeld(now)
}

// flushHeldLater delivers events the reorder fault held when nothing
// overtook them in time.
func (rt *realtime) flushHeldLater() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if !rt.closed {
		rt.flushHeld(rt.cfg.clock())
	}
}

// flushHeld delivers held events. Callers hold rt.mu.
func (rt *realtime) flushHeld(now time.Time) {
	held := rt.held
	rt.held = nil
	for _, h := range held {
		rt.deliver(now, h.line, h.webhookID, 1)
	}
}

// deliver retains a line and queues it copies times on every open stream
// and on its webhook. Callers hold rt.mu.
func (rt *realtime) deliver(now time.Time, line []byte, webhookID string, copies int) {
	rt.stats.Published++
	rt.retain(now, line, webhookID)
	for c := range rt.conns {
		for range copies {
			select {
			case c.ch <- line:
				continue
			default:
			}
			// Too far behind: X closes such connections.
			c.close()
			delete(rt.conns, c)
			rt.stats.Disconnects++
			break
		}
	}
	if webhookID == "" {
		return
	}
	if wh := rt.webhooks[webhookID]; wh != nil && wh.Valid && wh.out != nil {
		for range copies {
			wh.out.enqueue(line)
		}
	}
}
