package attacks

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// injectData makes the proxy serve extra base64 events as the newest data
// of the conversation at path.
func (w *world) injectData(name, path string, b64 ...string) {
	w.proxy.Add(hostile.Events(name, func(r *http.Request, page *api.GetChatConversationEventsResponse) error {
		if hostile.ConversationOf(r.URL.Path) != path {
			return nil
		}
		add := make([]api.ChatMessageEvent, 0, len(b64))
		for _, b := range b64 {
			add = append(add, api.ChatMessageEvent{EncodedEvent: b})
		}
		page.Data = append(add, page.Data...)
		return nil
	}))
}

// honestIntact checks that the untampered messages still verified.
func (d *dm) honestIntact(want ...string) error {
	got := d.bob.verifiedTexts(d.cid)
	for _, t := range want {
		if !slices.Contains(got, t) {
			return errorf("honest message %q lost (verified: %q)", t, got)
		}
	}
	return nil
}

// expectMalformed injects raw envelopes and requires each to be reported
// as malformed while the honest history still verifies.
func expectMalformed(w *world, raws ...[]byte) (string, error) {
	d := newDM(w)
	var b64 []string
	for _, r := range raws {
		b64 = append(b64, wire.EncodeB64(r))
	}
	w.injectData("hostile-thrift", d.path, b64...)
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", errorf("sync failed instead of isolating the bad events: %w", r.err)
	}
	n := 0
	var last error
	for _, ev := range r.events {
		if errors.Is(ev.Err, xchat.ErrMalformed) {
			n++
			last = ev.Err
		}
	}
	if n != len(raws) {
		return "", errorf("%d of %d hostile envelopes reported malformed", n, len(raws))
	}
	if err := d.honestIntact("m1", "m2", "m3"); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d envelopes rejected (%v); honest history intact", n, last), nil
}

// media sends a file from alice to bob and returns bob's view of it.
func mediaDM(w *world, sizes ...int) (*dm, []*event.MediaAttachment, []string, [][]byte) {
	d := newDM(w, "intro")
	var plains [][]byte
	for i, n := range sizes {
		p := bytes.Repeat([]byte{byte('a' + i)}, n)
		plains = append(plains, p)
		if _, err := d.alice.e.Send(w.ctx, d.cid, session.Outgoing{Media: &session.Media{
			Data: bytes.NewReader(p), Size: int64(n), Filename: fmt.Sprintf("f%d.bin", i), Type: event.MediaFile,
		}}); err != nil {
			w.t.Fatalf("media send: %v", err)
		}
	}
	if r := d.bob.sync(d.cid); r.err != nil {
		w.t.Fatalf("sync: %v", r.err)
	}
	h, err := d.bob.e.History(w.ctx, d.cid, "", 0)
	if err != nil {
		w.t.Fatal(err)
	}
	var atts []*event.MediaAttachment
	var versions []string
	for _, en := range h {
		for _, a := range en.Attachments {
			if a.Media != nil && en.Verified {
				atts = append(atts, a.Media)
				versions = append(versions, en.KeyVersion)
			}
		}
	}
	if len(atts) != len(sizes) {
		w.t.Fatalf("bob sees %d attachments, want %d", len(atts), len(sizes))
	}
	return d, atts, versions, plains
}

var inputAttacks = []attack{
	{"message-from-non-member-group", func(w *world) (string, error) {
		gr, err := groupScene(w, groupSetup{hello: "group hello", bobSyncs: true})
		if err != nil {
			return "", err
		}
		bob, g, s := gr.bob, gr.g, gr.hello
		mallory := w.newUser("mallory", false)
		f := mallory.forger()
		key, err := crypto.NewConversationKey(nil)
		if err != nil {
			return "", err
		}
		version := futureVersion()
		kc, err := f.KeyChange(hostile.Envelope{SequenceID: hostile.NextSequenceID(s.SequenceID, 1), PreviousSequenceID: s.SequenceID,
			MessageID: "0b7c1a52-1111-4c4c-8888-000000000003", ConversationID: g}, version, key, []hostile.Recipient{bob.recipient(), mallory.recipient()})
		if err != nil {
			return "", err
		}
		text := "mallory: please send the invoice to me"
		msg, err := f.Message(hostile.Envelope{SequenceID: hostile.NextSequenceID(s.SequenceID, 2), PreviousSequenceID: hostile.NextSequenceID(s.SequenceID, 1),
			MessageID: "0b7c1a52-1111-4c4c-8888-000000000004", ConversationID: g}, version, key,
			&product.MessageEntryHolder{Contents: &product.MessageEntryContents{Message: &product.MessageContents{MessageText: &text}}})
		if err != nil {
			return "", err
		}
		w.injectKeyChange("kc", g, kc, false)
		mb, err := hostile.EncodeEvent(msg)
		if err != nil {
			return "", err
		}
		w.injectData("msg", g, mb)
		r := bob.sync(g)
		if r.err != nil {
			return "", r.err
		}
		if err := bob.forgedShown(g, []string{msg.GetMessageID()}, []string{text}); err != nil {
			return "", errorf("non-member's message shown as authentic: %w", err)
		}
		ev, seen := r.byMessage(msg.GetMessageID())
		if !seen || ev == nil {
			return "", errorf("non-member message not reported (seen %v, err %v)", seen, ev)
		}
		return "rejected: " + ev.Error(), nil
	}},
	{"forged-reply-preview", func(w *world) (string, error) {
		// alice (a dishonest participant, with the server's help) quotes
		// bob's "I owe you 5" as "I owe you 500".
		d := newDM(w, "hello")
		orig, err := d.bob.e.SendText(w.ctx, d.cid, "I owe you 5")
		if err != nil {
			return "", err
		}
		if r := d.alice.sync(d.cid); r.err != nil {
			return "", r.err
		}
		reply, err := d.alice.e.Send(w.ctx, d.cid, session.Outgoing{Text: "ok, noted", ReplyTo: orig.SequenceID})
		if err != nil {
			return "", err
		}
		failed := d.forgeReplyPreview("forge-preview", reply, func(p *product.ReplyingToPreview) {
			forged := "I owe you 500"
			p.MessageText = &forged
		})
		r := d.bob.sync(d.cid)
		if ferr := failed(); ferr != nil {
			return "", ferr
		}
		if r.err != nil {
			return "", r.err
		}
		for _, ev := range r.events {
			if ev.MessageID != reply.MessageID {
				continue
			}
			if ev.Message == nil || ev.Message.Text == nil || ev.Message.Text.ReplyPreview == nil {
				return "", errorf("reply not decoded: err %v", ev.Err)
			}
			pv := ev.Message.Text.ReplyPreview.Validation
			if pv.Status != event.PreviewInvalid || !errors.Is(pv.Reason, inbound.ErrPreviewText) {
				return "", errorf("forged preview validation %v (%v)", pv.Status, pv.Reason)
			}
			h, err := d.bob.e.History(w.ctx, d.cid, "", 0)
			if err != nil {
				return "", err
			}
			for _, en := range h {
				if en.MessageID == reply.MessageID && (en.ReplyTo == nil || en.ReplyTo.Validation != "invalid") {
					return "", errorf("stored reply preview %+v", en.ReplyTo)
				}
			}
			return "preview invalid: " + pv.Reason.Error(), nil
		}
		return "", errorf("reply not served")
	}},
	{"oversized-message-id", func(w *world) (string, error) {
		d := newDM(w)
		huge := strings.Repeat("9", 1<<20)
		w.tamper("huge-id", d.mid(1), func(me *tevent.MessageEvent) { me.MessageID = &huge })
		r := d.bob.sync(d.cid)
		if r.err != nil {
			if errors.Is(r.err, xchat.ErrServerResponse) || errors.Is(r.err, xchat.ErrMalformed) {
				return "sync refused: " + r.err.Error(), nil
			}
			return "", errorf("sync: %w", r.err)
		}
		err, seen := r.byMessage(huge)
		if !seen || err == nil {
			return "", errorf("1 MiB message id accepted (seen %v)", seen)
		}
		if ferr := d.bob.forgedShown(d.cid, []string{huge}, nil); ferr != nil {
			return "", ferr
		}
		return fmt.Sprintf("rejected: %.120s", err.Error()), nil
	}},
	{"oversized-sequence-id", func(w *world) (string, error) {
		d := newDM(w)
		huge := strings.Repeat("9", 5000)
		w.tamper("huge-seq", d.mid(2), func(me *tevent.MessageEvent) { me.SequenceID = &huge })
		r := d.bob.sync(d.cid)
		if r.err != nil {
			if errors.Is(r.err, xchat.ErrServerResponse) || errors.Is(r.err, xchat.ErrMalformed) {
				return "sync refused: " + r.err.Error(), nil
			}
			return "", errorf("sync: %w", r.err)
		}
		for _, ev := range r.events {
			if ev.MessageID == d.mid(2) && ev.Err != nil {
				return fmt.Sprintf("rejected: %.120s", ev.Err.Error()), nil
			}
		}
		if a, ok := r.anomaly(event.AnomalyGap, event.AnomalyFork, event.AnomalyReorder, event.AnomalySelfReference); ok {
			return "exposed: " + a.String()[:60], nil
		}
		return "", errorf("5000-digit sequence id accepted silently")
	}},
	{"deeply-nested-thrift", func(w *world) (string, error) {
		return expectMalformed(w, hostile.NestedEnvelope("9123456789012345678", "1", 100000))
	}},
	{"huge-length-thrift", func(w *world) (string, error) {
		return expectMalformed(w,
			hostile.HugeLengthEnvelope("9123456789012345678", 0x7fffffff),
			hostile.HugeListEnvelope("9123456789012345679", 0x7ffffff0))
	}},
	{"garbage-envelope", func(w *world) (string, error) {
		d := newDM(w)
		w.injectData("garbage", d.path, "!!not base64!!", "AAAA")
		r := d.bob.sync(d.cid)
		if r.err != nil {
			return "", errorf("sync: %w", r.err)
		}
		// "!!not base64!!" is not base64; "AAAA" decodes to an empty
		// struct (no ids, no detail).
		var errs []string
		for _, ev := range r.events {
			if ev.MessageID == "" && ev.Err != nil && !ev.Verified {
				errs = append(errs, ev.Err.Error())
			}
		}
		if len(errs) != 2 {
			return "", errorf("%d of 2 garbage events reported: %q", len(errs), errs)
		}
		if err := d.honestIntact("m1", "m2", "m3"); err != nil {
			return "", err
		}
		return fmt.Sprintf("2 garbage events reported (%.60s…; %.60s…)", errs[0], errs[1]), nil
	}},
	{"truncated-media-stream", func(w *world) (string, error) {
		d, atts, vers, _ := mediaDM(w, 5000)
		w.proxy.Add(hostile.Media("truncate", func(_ *http.Request, b []byte) ([]byte, error) {
			return b[:len(b)-(5000%1024+17)], nil // drop the FINAL chunk
		}))
		_, err := d.bob.e.DownloadMedia(w.ctx, d.cid, atts[0], vers[0], 0)
		if err == nil {
			return "", errorf("truncated stream decrypted without error")
		}
		return "download failed: " + err.Error(), nil
	}},
	{"media-truncated-to-header", func(w *world) (string, error) {
		d, atts, vers, _ := mediaDM(w, 3000)
		w.proxy.Add(hostile.Media("header-only", func(_ *http.Request, b []byte) ([]byte, error) { return b[:24], nil }))
		out, err := d.bob.e.DownloadMedia(w.ctx, d.cid, atts[0], vers[0], 0)
		if err == nil {
			return "", errorf("header-only stream accepted as a %d-byte file (the XDK's weakness)", len(out))
		}
		return "download failed: " + err.Error(), nil
	}},
	{"media-ciphertext-swapped", func(w *world) (string, error) {
		d, atts, vers, plains := mediaDM(w, 5000, 3000)
		c := apiClient(w.t, w.honest.URL, d.alice.token)
		other, _, err := c.DownloadMedia(w.ctx, d.path, atts[1].MediaHashKey)
		if err != nil {
			return "", err
		}
		target := atts[0].MediaHashKey
		w.proxy.Add(hostile.Media("swap", func(r *http.Request, b []byte) ([]byte, error) {
			if strings.HasSuffix(r.URL.Path, "/"+target) {
				return other, nil
			}
			return b, nil
		}))
		out, err := d.bob.e.DownloadMedia(w.ctx, d.cid, atts[0], vers[0], 0)
		if err == nil {
			return "", errorf("swapped media accepted: got %d bytes of %q for a %d-byte %q (signed filesize %d)",
				len(out), out[:1], len(plains[0]), plains[0][:1], atts[0].FilesizeBytes)
		}
		return "download failed: " + err.Error(), nil
	}},
	{"membership-claimed-without-signature", func(w *world) (string, error) {
		gr, err := groupScene(w, groupSetup{hello: "group hello", bobSyncs: true})
		if err != nil {
			return "", err
		}
		alice, bob, carol, g, s := gr.alice, gr.bob, gr.carol, gr.g, gr.hello
		mallory := w.newUser("mallory", false)
		// An unsigned GroupMemberAdd "by alice" adding mallory, and a
		// conversation listing that agrees.
		h := hostile.Envelope{SequenceID: hostile.NextSequenceID(s.SequenceID, 1), PreviousSequenceID: s.SequenceID,
			MessageID: "0b7c1a52-1111-4c4c-8888-000000000005", SenderID: alice.id, ConversationID: g}
		add := h.Event(&tevent.MessageEventDetail{GroupChangeEvent: &tevent.GroupChangeEvent{GroupChange: &tevent.GroupChange{
			GroupMemberAdd: &tevent.GroupMemberAddChange{MemberIds: []string{mallory.id}, CurrentMemberIds: []string{alice.id, bob.id, carol.id}},
		}}}, nil)
		b64, err := hostile.EncodeEvent(add)
		if err != nil {
			return "", err
		}
		w.injectData("unsigned-add", g, b64)
		w.claimMember(g, mallory.id)
		r := bob.sync(g)
		if r.err != nil {
			return "", r.err
		}
		if _, err := bob.e.RefreshConversations(w.ctx); err != nil {
			return "", err
		}
		c, err := bob.e.Conversation(w.ctx, g)
		if err != nil {
			return "", err
		}
		if slices.Contains(c.Members, mallory.id) {
			return "", errorf("unsigned membership claim entered the roster: %v", c.Members)
		}
		if _, err := bob.e.Rotate(w.ctx, g); err != nil {
			return "", errorf("Rotate: %w", err)
		}
		if w.unwrappable(alice, g, mallory) {
			return "", errorf("group key wrapped to the claimed member")
		}
		ev, seen := r.byMessage(h.MessageID)
		if !seen || !errors.Is(ev, inbound.ErrMissingSignature) {
			return "", errorf("unsigned member add: seen %v, err %v", seen, ev)
		}
		return "ignored for the roster and key distribution; event rejected: " + ev.Error(), nil
	}},
	{"missing-key-change-withheld", func(w *world) (string, error) {
		d := newDM(w)
		w.proxy.Add(hostile.Events("withhold-kc", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
			if page.Meta != nil {
				page.Meta.ConversationKeyEvents, page.Meta.MissingConversationKeyChangeEvents = nil, nil
			}
			return nil
		}))
		r := d.bob.sync(d.cid)
		if r.err != nil {
			return "", r.err
		}
		a, ok := r.anomaly(event.AnomalyMissingKey)
		if !ok || !r.anyErr(inbound.ErrUnknownKeyVersion) {
			return "", errorf("withheld key change not reported: anomalies %v", anomalies(r))
		}
		return "reported: " + a.String(), nil
	}},
	{"missing-key-change-list-lies", func(w *world) (string, error) {
		// The "missing key change" list carries a key change of another
		// conversation (bob:carol) instead of the one the messages need.
		d := newDM(w)
		carol := w.newUser("carol", false)
		other := carol.send(d.bob.id, "hi bob")[0]
		foreign := w.serverKeyChanges(carol, api.ConversationPathID(other.ConversationID))
		fb, err := hostile.EncodeEvent(foreign[0])
		if err != nil {
			return "", err
		}
		w.proxy.Add(hostile.Events("lie", func(r *http.Request, page *api.GetChatConversationEventsResponse) error {
			if hostile.ConversationOf(r.URL.Path) == d.path && page.Meta != nil {
				page.Meta.ConversationKeyEvents = nil
				page.Meta.MissingConversationKeyChangeEvents = []string{fb}
			}
			return nil
		}))
		r := d.bob.sync(d.cid)
		if r.err != nil {
			return "", r.err
		}
		ev, seen := r.byMessage(foreign[0].GetMessageID())
		if !seen || !errors.Is(ev, inbound.ErrWrongConversation) {
			return "", errorf("foreign key change: seen %v, err %v", seen, ev)
		}
		if _, ok := r.anomaly(event.AnomalyMissingKey); !ok {
			return "", errorf("missing key not reported: %v", anomalies(r))
		}
		return "foreign key change rejected and missing key reported: " + ev.Error()[:60], nil
	}},
	{"pagination-token-loop", func(w *world) (string, error) {
		d := newDM(w)
		w.proxy.Add(hostile.Rule{Name: "loop", Method: http.MethodGet, Path: hostile.PathEvents, Times: 100,
			Request: stripToken,
			Rewrite: jsonRewrite(func(page *api.GetChatConversationEventsResponse) {
				page.Meta.HasMore, page.Meta.NextToken = true, "loop-token"
			})})
		r := d.bob.sync(d.cid)
		if !errors.Is(r.err, xchat.ErrServerResponse) {
			return "", errorf("sync: %v after %d pages", r.err, w.proxy.Hits("loop"))
		}
		return fmt.Sprintf("stopped after %d pages: %v", w.proxy.Hits("loop"), r.err), nil
	}},
	{"pagination-endless-fresh-tokens", func(w *world) (string, error) {
		d := newDM(w)
		var n atomic.Int64
		const limit = 200
		w.proxy.Add(hostile.Rule{Name: "endless", Method: http.MethodGet, Path: hostile.PathEvents, Times: limit,
			Request: stripToken,
			Rewrite: jsonRewrite(func(page *api.GetChatConversationEventsResponse) {
				page.Meta.HasMore, page.Meta.NextToken = true, fmt.Sprintf("fresh-%d", n.Add(1))
			})})
		r := d.bob.sync(d.cid)
		pages := w.proxy.Hits("endless")
		if pages >= limit {
			return "", errorf("engine followed %d pages of the same three events (sync err %v)", pages, r.err)
		}
		if r.err == nil {
			if a, ok := r.anomaly(event.AnomalyDuplicate, event.AnomalyConflict, event.AnomalyReorder); ok {
				return fmt.Sprintf("stopped after %d pages, reported %s", pages, a.Kind), nil
			}
			return "", errorf("stopped after %d pages without reporting anything", pages)
		}
		return fmt.Sprintf("stopped after %d pages: %v", pages, r.err), nil
	}},
	{"pagination-empty-pages-forever", func(w *world) (string, error) {
		d := newDM(w)
		var n atomic.Int64
		const limit = 200
		w.proxy.Add(hostile.Rule{Name: "empty", Method: http.MethodGet, Path: hostile.PathEvents, Times: limit,
			Request: stripToken,
			Rewrite: jsonRewrite(func(page *api.GetChatConversationEventsResponse) {
				if n.Add(1) > 1 {
					page.Data = nil
					page.Meta.ConversationKeyEvents, page.Meta.MissingConversationKeyChangeEvents = nil, nil
				}
				page.Meta.HasMore, page.Meta.NextToken = true, fmt.Sprintf("empty-%d", n.Load())
			})})
		r := d.bob.sync(d.cid)
		pages := w.proxy.Hits("empty")
		if pages >= limit {
			return "", errorf("engine followed %d empty pages (sync err %v)", pages, r.err)
		}
		if r.err == nil {
			return "", errorf("stopped after %d pages without reporting the endless pagination", pages)
		}
		return fmt.Sprintf("stopped after %d pages: %v", pages, r.err), nil
	}},
	{"reordered-across-pages", func(w *world) (string, error) {
		// bob reads two events per page; the server slips the newest
		// message into the second (older) page as well.
		alice := w.newUser("alice", false)
		bob := w.newUser("bob", true, session.WithPageSize(2))
		sent := alice.send(bob.id, "m1", "m2", "m3", "m4", "m5")
		cid := sent[0].ConversationID
		newest, err := hostile.EncodeEvent(w.serverEvents(alice, api.ConversationPathID(cid))[0])
		if err != nil {
			return "", err
		}
		w.proxy.Add(hostile.Events("late", func(r *http.Request, page *api.GetChatConversationEventsResponse) error {
			if r.URL.Query().Get("pagination_token") != "" && len(page.Data) > 0 {
				page.Data = append(page.Data, api.ChatMessageEvent{EncodedEvent: newest})
			}
			return nil
		}))
		r := bob.sync(cid)
		if errors.Is(r.err, xchat.ErrServerResponse) {
			// Overlapping pages cannot be read in transcript order:
			// refused whole (see attack pages-overlap-removal-read-late).
			if got := bob.verifiedTexts(cid); len(got) > 0 {
				return "", errorf("sync refused (%v), yet %q verified", r.err, got)
			}
			return "refused: " + r.err.Error(), nil
		}
		if r.err != nil {
			return "", r.err
		}
		a, ok := r.anomaly(event.AnomalyReorder, event.AnomalyDuplicate, event.AnomalyConflict)
		if !ok {
			return "", errorf("newest event served again in an older page not reported: %v", anomalies(r))
		}
		if n := slices.Index(bob.verifiedTexts(cid), "m5"); n < 0 || slices.Contains(bob.verifiedTexts(cid)[n+1:], "m5") {
			return "", errorf("history %q", bob.verifiedTexts(cid))
		}
		return "reported: " + a.Kind.String(), nil
	}},
	{"send-response-substituted", func(w *world) (string, error) {
		alice := w.newUser("alice", true) // the sender is the victim here
		bob := w.newUser("bob", false)
		first := alice.send(bob.id, "one")[0]
		old := w.serverEvents(bob, api.ConversationPathID(first.ConversationID))[0]
		ob, err := hostile.EncodeEvent(old)
		if err != nil {
			return "", err
		}
		w.proxy.Add(hostile.SendResponse("stale-ack", func(_ *http.Request, v *api.SendChatMessageResponse) error {
			v.Data.EncodedMessageEvent = ob
			return nil
		}))
		_, err = alice.e.SendText(w.ctx, bob.id, "two")
		if !errors.Is(err, xchat.ErrServerResponse) {
			return "", errorf("send with a substituted acknowledgement: %v", err)
		}
		return "rejected: " + err.Error(), nil
	}},
}

// stripToken removes pagination_token from a request, so the emulator
// serves its first page whatever token the hostile proxy invented.
func stripToken(r *http.Request) {
	q := r.URL.Query()
	q.Del("pagination_token")
	r.URL.RawQuery = q.Encode()
}

// jsonRewrite adapts a typed page edit to Rule.Rewrite.
func jsonRewrite(f func(page *api.GetChatConversationEventsResponse)) func(*http.Request, *hostile.Response) error {
	rule := hostile.Events("", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		if page.Meta == nil {
			page.Meta = &api.ChatEventsMeta{}
		}
		f(page)
		return nil
	})
	return rule.Rewrite
}
