package session

import (
	"fmt"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// Memory bounds of one page of events. A sync holds one page at a time:
// its encoded events, and the values the pipeline decodes from them until
// they are stored. The wire decoder already bounds each event (16 MiB, at
// most 10,000 elements per list and 100,000 in all, the XDK's limits), and
// inbound.MaxKeyChangeParticipants bounds one key change, but decoded
// elements cost far more than their bytes on the wire (an empty struct is
// one byte and some fifty bytes once mapped), so a page is bounded as a
// whole too. The limits are far above what an honest server sends: the X
// API serves at most 100 events a page, with at most one key change per key
// version those events use.
const (
	// maxPageEvents bounds the events of one page (data and the key
	// changes in meta).
	maxPageEvents = 1000
	// maxPageBytes bounds the encoded (base64) events of one page: the
	// api client's response limit, enforced here for every Server.
	maxPageBytes = api.DefaultMaxResponseBytes
	// maxPageElements bounds the list elements (participants, entities,
	// attachments, ids, …) the events of one page may keep once decoded.
	// 131,072 is over ten times an honest worst case (100 key changes for
	// groups of 481, plus the messages' own lists) and, at the largest
	// per-element cost of the decoded values (about 80 bytes), keeps them
	// around 10 MiB.
	maxPageElements = 1 << 17
)

// syncPage is one page of a sync decoded from base64 (see decodePage):
// the key changes of its meta first (kcCount of them), then its data.
type syncPage struct {
	raws    [][]byte
	kcCount int
	// bad are the entries that were not base64 (failed events), badB64
	// those entries as served.
	bad    []*event.Event
	badB64 []string
	// overEvents and overBytes are the size of a page beyond the page
	// bounds (zero for a page within them); such a page holds no events.
	overEvents, overBytes int
	// size is the encoded size of the page's events, as served.
	size int
	// memo are the signatures of the page that verified ahead of its turn
	// (see syncverify.go); sigs is the page's verification memo.
	memo []crypto.MemoEntry
	sigs *crypto.VerifyMemo
	// decoded is what verifying the page ahead decoded of its events, for
	// its turn to start from (see syncverify.go); only for a page kept in
	// memory from then until its turn, never staged.
	decoded *inbound.Decoded
	// stubs stand for the messages of raws (by index) stored byte for
	// byte before the sync (see reserved), stubbed are those handed out
	// in place of events, and full says the page must be decrypted in
	// full.
	stubs   map[int]*event.Event
	stubbed map[*event.Event]bool
	full    bool
}

// err is the error of a page beyond the page bounds.
func (p *syncPage) err() error {
	if p.overEvents == 0 && p.overBytes == 0 {
		return nil
	}
	return fmt.Errorf("%w: a page of %d events (%d bytes) exceeds %d events or %d bytes", xchat.ErrServerResponse, p.overEvents, p.overBytes, maxPageEvents, maxPageBytes)
}

// memoOf returns the page's verification memo, holding the signatures
// verified ahead of the page's turn.
func (p *syncPage) memoOf() *crypto.VerifyMemo {
	if p.sigs == nil {
		p.sigs = crypto.NewVerifyMemo(len(p.raws) + 8)
		p.sigs.Restore(p.memo)
	}
	return p.sigs
}

// decodePage checks a page against the page bounds and decodes its events
// from base64: the key changes of its meta first, then its data. Entries
// that are not base64 are returned apart, failed. The page's strings are
// released once decoded: only the page's bytes are kept. A page beyond
// the bounds is returned empty (see syncPage.err).
func decodePage(resp *api.GetChatConversationEventsResponse) *syncPage {
	var kcs []string
	if resp.Meta != nil {
		kcs = resp.Meta.KeyChangeEvents()
	}
	n, size := len(kcs)+len(resp.Data), 0
	for _, k := range kcs {
		size += len(k)
	}
	for _, d := range resp.Data {
		size += len(d.EncodedEvent)
	}
	p := &syncPage{size: size}
	if n > maxPageEvents || size > maxPageBytes {
		p.overEvents, p.overBytes = n, size
		return p
	}
	p.raws = make([][]byte, 0, n)
	add := func(b64 string) {
		raw, err := wire.DecodeB64(b64)
		if err != nil {
			p.bad = append(p.bad, &event.Event{Err: fmt.Errorf("%w: %w", xchat.ErrMalformed, err)})
			p.badB64 = append(p.badB64, b64)
			return
		}
		p.raws = append(p.raws, raw)
	}
	for _, k := range kcs {
		add(k)
	}
	p.kcCount = len(p.raws)
	for _, d := range resp.Data {
		add(d.EncodedEvent)
	}
	resp.Data = nil
	if resp.Meta != nil {
		resp.Meta.ConversationKeyEvents, resp.Meta.MissingConversationKeyChangeEvents = nil, nil
	}
	return p
}

// pageBudget counts the decoded elements the events of a page keep.
type pageBudget struct{ used int }

// hold returns ev if its elements fit in what is left of the page's
// budget, and otherwise an event carrying only its envelope ids, failed
// with xchat.ErrMalformed: its decoded values are dropped before the next event
// is decoded.
func (b *pageBudget) hold(ev *event.Event) *event.Event {
	n := elements(ev)
	if b.used+n <= maxPageElements {
		b.used += n
		return ev
	}
	if kc := ev.KeyChange; kc != nil && kc.Key != nil {
		kc.Key.Zero()
	}
	return &event.Event{
		SequenceID: ev.SequenceID, PreviousSequenceID: ev.PreviousSequenceID, MessageID: ev.MessageID,
		SenderID: ev.SenderID, ConversationID: ev.ConversationID, CreatedAt: ev.CreatedAt, Raw: ev.Raw, Kind: ev.Kind,
		Err: fmt.Errorf("%w: the page's events hold more than %d list elements; this one (%d) is not kept", xchat.ErrMalformed, maxPageElements, n),
	}
}

// elements counts the list elements an event keeps once decoded.
func elements(ev *event.Event) int {
	n := len(ev.Warnings)
	if kc := ev.KeyChange; kc != nil {
		n += len(kc.Participants)
	}
	if g := ev.GroupChange; g != nil {
		n += len(g.MemberIDs) + len(g.AdminIDs) + len(g.CurrentMemberIDs) + len(g.CurrentAdminIDs) +
			len(g.CurrentPendingMemberIDs) + len(g.RejectedUserIDs) + len(g.Unsigned)
	}
	if d := ev.Delete; d != nil {
		n += len(d.SequenceIDs)
	}
	if m := ev.Message; m != nil {
		n += messageElements(m)
	}
	return n
}

// messageElements counts the list elements of a decrypted message.
func messageElements(m *event.Message) int {
	n := 0
	if t := m.Text; t != nil {
		n += len(t.Entities) + len(t.Attachments) + len(t.CallsToAction) + len(t.AdditionalFields)
		if f := t.Forwarded; f != nil {
			n += len(f.Entities)
		}
		if q := t.QuickReply; q != nil {
			n += len(q.Options)
		}
		if p := t.ReplyPreview; p != nil {
			n += len(p.Entities) + len(p.Attachments)
		}
	}
	if e := m.Edit; e != nil {
		n += len(e.Entities)
	}
	return n
}
