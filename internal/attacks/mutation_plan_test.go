package attacks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// The transcript-mutation harness, part 2: a hostile server that serves
// bob's fresh device a mutation of the honest transcript chosen by a seed.
// Per sync round (one or two: the same sync answered twice, differently)
// it drops events, replays them under new sequence ids (anywhere, or
// events from before mallory's removal after it), swaps sequence ids,
// adds mallory's forgeries, reorders the served order within and across
// pages, cuts pages of random sizes and puts each key change in the meta
// of a random page (or two). Some events are pushed through Deliver
// before or between the syncs (the real-time path).

// mutPage is one served page: data newest first, key changes in meta.
type mutPage struct{ data, keys []string }

// mutation is the hostile server's whole behaviour for one seed.
type mutation struct {
	rounds [][]mutPage
	pushes [][]*tevent.MessageEvent // pushes[i] are delivered before round i
	kcs    map[string]string        // key version → an encoded key change (for pushes)
	ops    []string                 // what was done, for the violation report

	// The hooks of the harness's extension (mutation_ext_test.go); nil
	// or empty in the base harness.
	// afterStep runs after each step: step 2i after the pushes before
	// round i, 2i+1 after round i's sync.
	afterStep func(ctx context.Context, step int, e *session.Engine, store keystore.Store, fail func(string, ...any))
	tolerate  func(c *session.Conversation, en event.Entry) bool // forged entries the run may verify
	check     func(ctx context.Context, c *session.Conversation, v *shown, e *session.Engine, store keystore.Store, fail func(string, ...any))
	groupName string // the group_name the server's conversation record claims ("": the emulator's)
	// strict: bob's device runs TrustStrict and verifies some peers first
	// (mutation_strict_test.go; nil: TrustOnFirstUse).
	strict *strictPlan
	// openNotFailed is why the seed's "not failed" violations are known
	// open ("": none are; see notFailedOpen).
	openNotFailed string
	// withoutFn: bob's device syncs each round through Engine.Reconcile
	// with no fn (nothing is handed to the application).
	withoutFn bool
}

// mutate draws a mutation of h from rng.
func (h *history) mutate(rng *rand.Rand) *mutation {
	m := &mutation{kcs: map[string]string{}}
	rounds := 1 + rng.IntN(2)
	var lists [][]*mutItem
	for r := range rounds {
		items := h.variant(rng, m, r)
		lists = append(lists, items)
		m.rounds = append(m.rounds, m.paginate(rng, items, r))
	}
	m.pushes = make([][]*tevent.MessageEvent, rounds+1)
	if rng.IntN(4) == 0 {
		at := rng.IntN(rounds + 1)
		src := lists[min(at, rounds-1)]
		for range 1 + rng.IntN(3) {
			it := src[rng.IntN(len(src))]
			if !it.kc {
				m.pushes[at] = append(m.pushes[at], it.me)
				m.ops = append(m.ops, fmt.Sprintf("push %s (seq %s) before round %d", it.me.GetMessageID(), it.seq(), at))
			}
		}
	}
	return m
}

// cloneItem copies an item so that its sequence ids can change.
func cloneItem(it *mutItem) *mutItem {
	me := *it.me
	return &mutItem{me: &me, kc: it.kc, forged: it.forged}
}

// variant is one round's transcript: the honest items, some of
// mallory's forgeries, and up to five mutations.
func (h *history) variant(rng *rand.Rand, m *mutation, round int) []*mutItem {
	return variantOf(rng, m, round, h.items, h.forgeries, 2, 6, func(items []*mutItem, taken map[string]bool) []*mutItem {
		return h.mutateOnce(rng, m, round, items, taken)
	})
}

// variantOf is one round's transcript, as both harnesses draw it: the
// honest items, each forgery with odds 1 in forgeryOdds, then fewer than
// opsBound mutations by once (given the items and the sequence ids taken),
// sorted after each. The draws from rng come in this order, so a seed
// names the same mutation as long as this stays as it is.
func variantOf(rng *rand.Rand, m *mutation, round int, honest, forgeries []*mutItem, forgeryOdds, opsBound int,
	once func(items []*mutItem, taken map[string]bool) []*mutItem) []*mutItem {
	var items []*mutItem
	for _, it := range honest {
		items = append(items, cloneItem(it))
	}
	for _, it := range forgeries {
		if rng.IntN(forgeryOdds) == 0 {
			items = append(items, cloneItem(it))
			m.ops = append(m.ops, fmt.Sprintf("r%d: forgery %s at %s", round, describe(it.me), it.seq()))
		}
	}
	sortItems(items)
	taken := map[string]bool{}
	for _, it := range items {
		taken[it.seq()] = true
	}
	for range rng.IntN(opsBound) {
		items = once(items, taken)
		sortItems(items)
	}
	return items
}

// mutateOnce applies one mutation to items.
func (h *history) mutateOnce(rng *rand.Rand, m *mutation, round int, items []*mutItem, taken map[string]bool) []*mutItem {
	i, j := rng.IntN(len(items)), rng.IntN(len(items))
	switch rng.IntN(4) {
	case 0:
		m.ops = append(m.ops, fmt.Sprintf("r%d: drop %s at %s", round, describe(items[i].me), items[i].seq()))
		return slices.Delete(items, i, i+1)
	case 1:
		a, b := items[i], items[j]
		m.ops = append(m.ops, fmt.Sprintf("r%d: swap sequence ids of %s (%s) and %s (%s)", round, describe(a.me), a.seq(), describe(b.me), b.seq()))
		a.me.SequenceID, b.me.SequenceID = b.me.SequenceID, a.me.SequenceID
		a.me.PreviousSequenceID, b.me.PreviousSequenceID = b.me.PreviousSequenceID, a.me.PreviousSequenceID
		return items
	case 2: // an event from before the removal re-served after it
		var before, after []int
		for k, it := range items {
			if decimal.Less(h.removal, it.seq()) {
				after = append(after, k)
			} else {
				before = append(before, k)
			}
		}
		if len(before) == 0 || len(after) == 0 {
			return items
		}
		i, j = before[rng.IntN(len(before))], after[rng.IntN(len(after))]
	}
	seq := hostile.NextSequenceID(items[j].seq(), uint64(1+rng.IntN(9)))
	if taken[seq] {
		return items
	}
	taken[seq] = true
	c := cloneItem(items[i])
	c.me.SequenceID, c.me.PreviousSequenceID = strp(seq), strp(items[j].seq())
	m.ops = append(m.ops, fmt.Sprintf("r%d: replay %s (%s) at %s", round, describe(c.me), items[i].seq(), seq))
	return append(items, c)
}

// sortItems orders items by sequence id.
func sortItems(items []*mutItem) {
	slices.SortStableFunc(items, func(a, b *mutItem) int { return decimal.Compare(a.seq(), b.seq()) })
}

// describe names an event for the reports.
func describe(me *tevent.MessageEvent) string {
	d := me.GetDetail()
	kind := "event"
	switch {
	case d == nil:
	case d.ConversationKeyChangeEvent != nil:
		kind = "key change " + d.ConversationKeyChangeEvent.GetConversationKeyVersion()
	case d.MessageCreateEvent != nil:
		kind = "message"
	case d.GroupChangeEvent != nil:
		kind = "group change"
		if gc := d.GroupChangeEvent.GroupChange; gc != nil {
			switch {
			case gc.GroupCreate != nil:
				kind = "group create"
			case gc.GroupMemberAdd != nil:
				kind = fmt.Sprintf("add of %v", gc.GroupMemberAdd.GetMemberIds())
			case gc.GroupMemberRemove != nil:
				kind = fmt.Sprintf("removal of %v", gc.GroupMemberRemove.GetMemberIds())
			case gc.GroupAdminAdd != nil:
				kind = fmt.Sprintf("admin add of %v", gc.GroupAdminAdd.GetAdminIds())
			case gc.GroupAdminRemove != nil:
				kind = fmt.Sprintf("admin removal of %v", gc.GroupAdminRemove.GetAdminIds())
			case gc.GroupTitleChange != nil:
				kind = "title change"
			}
		}
	case d.MessageDeleteEvent != nil:
		kind = "delete"
	}
	return kind + " by " + me.GetSenderID()
}

// encodeItems encodes items newest first: the key changes (each version's
// first also kept in m.kcs, for pushes) apart from the data.
func (m *mutation) encodeItems(items []*mutItem) (data, kcs []string) {
	for k := len(items) - 1; k >= 0; k-- {
		b, err := hostile.EncodeEvent(items[k].me)
		if err != nil {
			panic(err) // re-encoding a decoded event cannot fail
		}
		if !items[k].kc {
			data = append(data, b)
			continue
		}
		kcs = append(kcs, b)
		if v := keyChangeVersion(items[k].me); m.kcs[v] == "" {
			m.kcs[v] = b
		}
	}
	return data, kcs
}

// paginate cuts one round's items into served pages.
func (m *mutation) paginate(rng *rand.Rand, items []*mutItem, round int) []mutPage {
	data, kcs := m.encodeItems(items)
	for range rng.IntN(4) {
		if len(data) > 1 {
			a, b := rng.IntN(len(data)), rng.IntN(len(data))
			data[a], data[b] = data[b], data[a]
			m.ops = append(m.ops, fmt.Sprintf("r%d: served order: swap positions %d and %d", round, a, b))
		}
	}
	var pages []mutPage
	size := 1 + rng.IntN(10)
	m.ops = append(m.ops, fmt.Sprintf("r%d: page size %d", round, size))
	for len(data) > 0 {
		n := min(size, len(data))
		pages = append(pages, mutPage{data: data[:n]})
		data = data[n:]
	}
	if len(pages) == 0 {
		pages = append(pages, mutPage{})
	}
	for _, b := range kcs {
		p := rng.IntN(len(pages))
		pages[p].keys = append(pages[p].keys, b)
		if p != 0 && rng.IntN(2) == 0 {
			pages[0].keys = append(pages[0].keys, b)
		}
	}
	return pages
}

// mutServer is the hostile server of the victim's fresh device: it serves
// the group's events from the mutation, answers every write 503 (recording
// its body: nothing the victim sends reaches the emulator, so that the
// history serves every seed unchanged) and passes the rest to the
// emulator.
type mutServer struct {
	next  http.Handler
	path  string
	mu    sync.Mutex
	m     *mutation
	round int
	posts [][]byte
	log   []mutPage // the pages served since the last drain
}

// drain returns the pages served since the last call.
func (s *mutServer) drain() []mutPage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.log
	s.log = nil
	return out
}

// set installs the mutation of the next run.
func (s *mutServer) set(m *mutation) {
	s.mu.Lock()
	s.m, s.round, s.posts, s.log = m, -1, nil, nil
	s.mu.Unlock()
}

// written returns the bodies of the writes the victim attempted.
func (s *mutServer) written() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.posts)
}

// ServeHTTP implements http.Handler.
func (s *mutServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		b, _ := io.ReadAll(r.Body) // a short body is recorded as read: the check is on what was sent
		s.mu.Lock()
		s.posts = append(s.posts, b)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"title":"Service Unavailable"}`)
		return
	}
	if r.URL.Path == "/2/chat/conversations/"+s.path && s.claimedName() != "" {
		s.serveRecord(w, r)
		return
	}
	if r.URL.Path != "/2/chat/conversations/"+s.path+"/events" {
		s.next.ServeHTTP(w, r)
		return
	}
	page, err := s.page(r.URL.Query().Get("pagination_token"))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

// claimedName is the group_name the mutation has the server claim.
func (s *mutServer) claimedName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		return ""
	}
	return s.m.groupName
}

// serveRecord serves the emulator's record of the group with its
// group_name replaced by the mutation's.
func (s *mutServer) serveRecord(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	s.next.ServeHTTP(rec, r)
	var body api.GetChatConversationResponse
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Data == nil {
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	body.Data.GroupName = s.claimedName()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// page answers one events request: no token starts the next round.
func (s *mutServer) page(token string) (*api.GetChatConversationEventsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := 0
	if token == "" {
		s.round++
	} else {
		n, err := strconv.Atoi(strings.TrimPrefix(token, "mut"))
		if err != nil {
			return nil, err
		}
		idx = n
	}
	pages := s.m.rounds[min(s.round, len(s.m.rounds)-1)]
	if idx < 0 || idx >= len(pages) {
		return nil, fmt.Errorf("page %d of %d", idx, len(pages))
	}
	p := pages[idx]
	s.log = append(s.log, p)
	meta := &api.ChatEventsMeta{ResultCount: len(p.data), ConversationKeyEvents: p.keys, HasMore: idx+1 < len(pages)}
	if meta.HasMore {
		meta.NextToken = "mut" + strconv.Itoa(idx+1)
	}
	out := &api.GetChatConversationEventsResponse{Meta: meta}
	for _, b := range p.data {
		out.Data = append(out.Data, api.ChatMessageEvent{EncodedEvent: b})
	}
	return out, nil
}
