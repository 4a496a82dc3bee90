package emulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/wire"
)

// Conversation types reported in ChatConversation.type (the specification
// does not enumerate them).
const (
	convTypeOneToOne = "one_to_one"
	convTypeGroup    = "group"
)

var chatConversationFields = []string{"created_at", "group_avatar_url", "group_name", "id", "is_muted",
	"message_ttl_ms", "screen_capture_blocking_enabled", "screen_capture_detection_enabled", "type", "updated_at"}

var chatConversationExpansions = []string{"admin_ids", "member_ids", "participant_ids"}

var chatMessageEventFields = []string{"conversation_id", "conversation_token", "created_at", "encoded_event",
	"id", "is_trusted", "message_event_signature", "previous_id", "sender_id"}

// Default field sets, answered when a request names no fields. X's
// documents do not list them for Chat objects; the emulator follows X's v2
// convention (the id plus the object's primary field) so that clients must
// ask for what they use.
var (
	defaultConversationFields = []string{"id", "type"}
	defaultEventFields        = []string{"id", "encoded_event"}
)

// conversationJSON renders a conversation: id, the requested fields (the
// default set when none are named), and admin_ids, member_ids and
// participant_ids only when requested as expansions.
func conversationJSON(conv *convRec, fields, exp []string) api.ChatConversation {
	if fields == nil {
		fields = defaultConversationFields
	}
	want := func(f string) bool { return slices.Contains(fields, f) }
	out := api.ChatConversation{ID: restConvID(conv.Key)}
	if slices.Contains(exp, "member_ids") {
		out.MemberIDs = slices.Clone(conv.Members)
	}
	if slices.Contains(exp, "participant_ids") {
		out.ParticipantIDs = slices.Clone(conv.Members)
	}
	if conv.Group && slices.Contains(exp, "admin_ids") {
		out.AdminIDs = slices.Clone(conv.Admins)
	}
	if want("type") {
		out.Type = convTypeOneToOne
		if conv.Group {
			out.Type = convTypeGroup
		}
	}
	if want("group_name") {
		out.GroupName = conv.Name
	}
	if want("group_avatar_url") {
		out.GroupAvatarURL = conv.AvatarURL
	}
	if want("message_ttl_ms") {
		out.MessageTTLMS = conv.TTLMsec
	}
	if want("is_muted") {
		out.IsMuted = boolPtr(false)
	}
	if want("screen_capture_blocking_enabled") {
		out.ScreenCaptureBlockingEnabled = boolPtr(false)
	}
	if want("screen_capture_detection_enabled") {
		out.ScreenCaptureDetectionEnabled = boolPtr(false)
	}
	if want("created_at") {
		out.CreatedAt = conv.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	if want("updated_at") {
		out.UpdatedAt = conv.UpdatedAt.UTC().Format(time.RFC3339Nano)
	}
	return out
}

// expansionUsers returns includes.users for the requested expansions.
func (s *Server) expansionUsers(c *call, convs []*convRec) (*api.Expansions, *apiError) {
	exp, perr := parseFields(c, "expansions", chatConversationExpansions)
	if perr != nil || len(exp) == 0 {
		return nil, perr
	}
	uf, perr := parseFields(c, "user.fields", userFields)
	if perr != nil {
		return nil, perr
	}
	seen := map[string]bool{}
	var users []api.User
	add := func(ids []string) {
		for _, id := range ids {
			if u := s.st.users[id]; u != nil && !seen[id] {
				seen[id] = true
				users = append(users, userJSON(u, uf))
			}
		}
	}
	for _, conv := range convs {
		for _, e := range exp {
			if e == "admin_ids" {
				add(conv.Admins)
			} else {
				add(conv.Members)
			}
		}
	}
	if len(users) == 0 {
		return nil, nil
	}
	return &api.Expansions{Users: users}, nil
}

var userFields = []string{"confirmed_email", "connection_status", "created_at", "description", "entities", "id",
	"is_identity_verified", "location", "name", "parody", "profile_banner_url", "profile_image_url", "protected",
	"public_metrics", "receives_your_dm", "subscribes_to_you", "subscription", "subscription_type", "url",
	"username", "verified", "verified_followers_count", "verified_type", "withheld"}

// getChatConversations lists the caller's conversations, most recently
// updated first. A 1:1 appears once it has a conversation key; a group once
// created. Tokens carry an offset.
func (s *Server) getChatConversations(c *call) *apiError {
	max, cursor, _, perr := pageParams(c, tokChatConvs, api.ChatConversationsMaxResultsDefault,
		api.ChatConversationsMaxResultsMin, api.ChatConversationsMaxResultsMax)
	if perr != nil {
		return perr
	}
	fields, perr := parseFields(c, "chat_conversation.fields", chatConversationFields)
	if perr != nil {
		return perr
	}
	exp, perr := parseFields(c, "expansions", chatConversationExpansions)
	if perr != nil {
		return perr
	}
	var all []*convRec
	for _, conv := range s.st.convs {
		if !conv.Pending && conv.isMember(c.user.ID) {
			all = append(all, conv)
		}
	}
	slices.SortFunc(all, func(a, b *convRec) int {
		if a.LastSeq != b.LastSeq {
			if a.LastSeq > b.LastSeq {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Key, b.Key)
	})
	if cursor > uint64(len(all)) {
		cursor = uint64(len(all))
	}
	page := all[cursor:]
	hasMore := len(page) > max
	if hasMore {
		page = page[:max]
	}
	resp := api.GetChatConversationsResponse{Meta: &api.ChatConversationsMeta{HasMore: hasMore, ResultCount: len(page)}}
	for _, conv := range page {
		resp.Data = append(resp.Data, conversationJSON(conv, fields, exp))
	}
	if hasMore {
		resp.Meta.NextToken = encodeToken(tokChatConvs, cursor+uint64(len(page)))
	}
	inc, perr := s.expansionUsers(c, page)
	if perr != nil {
		return perr
	}
	resp.Includes = inc
	writeJSON(c.w, http.StatusOK, resp)
	return nil
}

// getChatConversation returns one conversation's metadata. It accepts the
// same id forms as the other chat paths.
func (s *Server) getChatConversation(c *call) *apiError {
	_, conv, perr := s.requireConv(c.user.ID, c.r.PathValue("id"))
	if perr != nil {
		return perr
	}
	fields, perr := parseFields(c, "chat_conversation.fields", chatConversationFields)
	if perr != nil {
		return perr
	}
	inc, perr := s.expansionUsers(c, []*convRec{conv})
	if perr != nil {
		return perr
	}
	exp, _ := parseFields(c, "expansions", chatConversationExpansions) // checked by expansionUsers
	data := conversationJSON(conv, fields, exp)
	writeJSON(c.w, http.StatusOK, api.GetChatConversationResponse{Data: &data, Includes: inc})
	return nil
}

// chatEventJSON renders a stored event as a ChatMessageEvent with the
// requested fields (the default set when none are named; id always). Three
// fields the specification does not name ride with their counterparts, as
// seed 003 shows X answering them: sequence_id with id,
// previous_sequence_id with previous_id, created_at_msec with created_at
// (listed in internal/contract's documented deviations).
func chatEventJSON(e *eventRec, fields []string) api.ChatMessageEvent {
	if fields == nil {
		fields = defaultEventFields
	}
	want := func(f string) bool { return slices.Contains(fields, f) }
	seq := fmtID(e.Seq)
	out := api.ChatMessageEvent{ID: seq, SequenceID: seq}
	if want("encoded_event") {
		out.EncodedEvent = wire.EncodeB64(e.Encoded)
	}
	if want("conversation_id") {
		out.ConversationID = restConvID(e.Conv)
	}
	if want("conversation_token") {
		out.ConversationToken = e.Token
	}
	if want("previous_id") && e.PrevSeq != 0 {
		out.PreviousID = fmtID(e.PrevSeq)
		out.PreviousSequenceID = out.PreviousID
	}
	if want("sender_id") {
		out.SenderID = e.SenderID
	}
	if want("created_at") {
		out.CreatedAt = time.UnixMilli(e.CreatedAt).UTC().Format("2006-01-02T15:04:05.000Z")
		out.CreatedAtMsec = strconv.FormatInt(e.CreatedAt, 10)
	}
	if want("is_trusted") {
		out.IsTrusted = boolPtr(true)
	}
	if want("message_event_signature") {
		out.MessageEventSignature = e.SigJSON.api()
	}
	return out
}

// getChatConversationEvents pages a conversation's events newest first
// (next_token continues with older events).
//
// As the XDK documents, conversation key changes are not in data: they are
// returned base64-encoded in meta.conversation_key_events — every key
// change whose version a message or a group change of the page uses (a
// group create or member add names the version of the key change made
// with it, which binds it to the group and seals its title), plus, on the
// first page, the latest key change (so a client can encrypt before any message
// exists). data holds everything else the caller may see: messages, group
// changes, delete-for-all events and read receipts. Events deleted for
// everyone, deleted by the caller for themselves, or older than the
// caller's joining a group are not served; previous_id still links the
// conversation's global chain, so such events show as gaps.
func (s *Server) getChatConversationEvents(c *call) *apiError {
	key, conv, perr := s.requireConv(c.user.ID, c.r.PathValue("id"))
	if perr != nil {
		return perr
	}
	max, cursor, hasCursor, perr := pageParams(c, tokChatEvents, api.ChatEventsMaxResultsDefault,
		api.ChatEventsMaxResultsMin, api.ChatEventsMaxResultsMax)
	if perr != nil {
		return perr
	}
	fields, perr := parseFields(c, "chat_message_event.fields", chatMessageEventFields)
	if perr != nil {
		return perr
	}
	events := s.st.events[key]
	// Events are held by sequence id: start below the cursor.
	start := len(events)
	if hasCursor {
		start = sort.Search(len(events), func(i int) bool { return events[i].Seq >= cursor })
	}
	var page []*eventRec
	hasMore := false
	for i := start - 1; i >= 0; i-- {
		e := events[i]
		if e.Kind == kindKeyChange || !e.visibleTo(conv, c.user.ID) {
			continue
		}
		if len(page) == max {
			hasMore = true
			break
		}
		page = append(page, e)
	}
	meta := &api.ChatEventsMeta{HasMore: hasMore, ResultCount: len(page)}
	if hasMore {
		meta.NextToken = encodeToken(tokChatEvents, page[len(page)-1].Seq)
	}
	needed := map[string]bool{}
	for _, e := range page {
		if (e.Kind == kindMessage || e.Kind == kindGroupChange) && e.KeyVersion != "" {
			needed[e.KeyVersion] = true
		}
	}
	if !hasCursor && conv.KeyVersion != "" {
		needed[conv.KeyVersion] = true
	}
	for _, e := range s.st.keyChanges[key] {
		if needed[e.KeyVersion] && e.visibleTo(conv, c.user.ID) {
			meta.ConversationKeyEvents = append(meta.ConversationKeyEvents, wire.EncodeB64(e.Encoded))
		}
	}
	data := make([][]byte, 0, len(page))
	for _, e := range page {
		b, err := pageEventJSON(e, fields)
		if err != nil {
			return errInternal()
		}
		data = append(data, b)
	}
	writeEventsPage(c.w, data, meta)
	return nil
}

// pageEventJSON returns the JSON encoding of chatEventJSON(e, fields),
// rendered once per field list and kept with the event: what it shows of
// an event never changes once the event is stored (whether the event is
// served is decided per request, before). Only the last field list used
// is kept, and only with the server's lock held.
func pageEventJSON(e *eventRec, fields []string) ([]byte, error) {
	key := strings.Join(fields, ",") // "" for the default set: a named list is never empty
	if e.page != nil && e.pageFields == key {
		return e.page, nil
	}
	b, err := json.Marshal(chatEventJSON(e, fields))
	if err != nil {
		return nil, err
	}
	e.page, e.pageFields = b, key
	return b, nil
}

// writeEventsPage writes the events page whose data are the encoded events
// given: the bytes writeJSON writes for
// api.GetChatConversationEventsResponse{Data: those events, Meta: meta}
// (TestEventsPageAsMarshalled compares the two), spliced from the events'
// kept JSON (see pageEventJSON) instead of encoding every event again.
func writeEventsPage(w http.ResponseWriter, data [][]byte, meta *api.ChatEventsMeta) {
	m, err := json.Marshal(meta)
	if err != nil {
		writeProblem(w, errInternal())
		return
	}
	n := len(`{"data":[],"meta":}`) + len(m)
	for _, d := range data {
		n += len(d) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	if len(data) > 0 {
		b = append(b, `"data":[`...)
		for i, d := range data {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, d...)
		}
		b = append(b, "],"...)
	}
	b = append(b, `"meta":`...)
	b = append(b, m...)
	writeJSONBytes(w, http.StatusOK, append(b, '}'))
}
