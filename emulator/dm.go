package emulator

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/xchat-go/xchat/api"
)

// Legacy Direct Messages: plaintext, not end-to-end encrypted, with their
// own ids (numeric event ids; "A-B" for 1:1 conversations, numeric ids for
// groups) and event types (MessageCreate, ParticipantsJoin,
// ParticipantsLeave). They share nothing with encrypted Chat conversations
// except accounts and DM blocks.

const maxDMTextRunes = 10000

var reDMConvID = regexp.MustCompile(`^([0-9]{1,19}-[0-9]{1,19}|[0-9]{15,19})$`)

var dmEventFields = []string{"attachments", "created_at", "dm_conversation_id", "entities", "event_type", "id", "text"}
var dmEventExpansions = []string{"attachments.media_keys", "participant_ids", "referenced_posts", "sender_id"}
var dmEventTypes = []string{api.DmEventMessageCreate, api.DmEventParticipantsJoin, api.DmEventParticipantsLeave}

// checkDMMessage validates a DM body: text and/or one attachment.
func checkDMMessage(field string, m api.DmMessage) *apiError {
	if m.Text == "" && len(m.Attachments) == 0 {
		return errInvalid(field, "A message needs text or attachments.")
	}
	if !utf8.ValidString(m.Text) || utf8.RuneCountInString(m.Text) > maxDMTextRunes {
		return errInvalid(field+".text", "text must be valid UTF-8 of at most %d characters.", maxDMTextRunes)
	}
	if len(m.Attachments) > 1 {
		return errInvalid(field+".attachments", "Only one attachment is supported.")
	}
	for _, a := range m.Attachments {
		if !isID(a.MediaID) {
			return errInvalid(field+".attachments.media_id", "media_id must be a decimal id.")
		}
	}
	return nil
}

func (s *Server) blockedBy(sender string, recipients []string) string {
	for _, r := range recipients {
		if u := s.st.users[r]; u != nil && r != sender && slices.Contains(u.Blocked, sender) {
			return r
		}
	}
	return ""
}

// dmMessage stores a MessageCreate event (creating conv when new) and
// answers 201.
func (s *Server) dmMessage(c *call, conv *dmConvRec, isNew bool, m api.DmMessage, join bool) *apiError {
	if r := s.blockedBy(c.user.ID, conv.Participants); r != "" {
		return errForbidden("user", r, "You cannot send Direct Messages to this user.")
	}
	if perr := s.checkDMMedia("message", c.user.ID, m); perr != nil {
		return perr
	}
	var b batch
	var events []*dmEventRec
	now := s.cfg.clock().UTC()
	if isNew {
		b.dmConv(conv)
	}
	if join {
		events = append(events, &dmEventRec{ID: s.newID(), ConvID: conv.ID, Type: api.DmEventParticipantsJoin,
			SenderID: c.user.ID, ParticipantIDs: slices.Clone(conv.Participants), CreatedAt: now})
	}
	msg := &dmEventRec{ID: s.newID(), ConvID: conv.ID, Type: api.DmEventMessageCreate, SenderID: c.user.ID, Text: m.Text, CreatedAt: now}
	for _, a := range m.Attachments {
		msg.MediaIDs = append(msg.MediaIDs, a.MediaID)
	}
	events = append(events, msg)
	for _, e := range events {
		b.dmEvent(e)
	}
	if err := s.commit(&b); err != nil {
		return errInternal()
	}
	if isNew {
		s.st.dmConvs[conv.ID] = conv
	}
	for _, e := range events {
		s.st.addDMEvent(e)
	}
	writeJSON(c.w, http.StatusCreated, api.DmCreateResponse{Data: &api.DmCreateData{DmConversationID: conv.ID, DmEventID: msg.ID}})
	return nil
}

// oneToOneDM returns the legacy 1:1 conversation with other, new or not.
func (s *Server) oneToOneDM(caller, other string) (*dmConvRec, bool) {
	a, b := oneToOneMembers(oneToOneKey(caller, other))
	id := a + "-" + b
	if conv := s.st.dmConvs[id]; conv != nil {
		return conv, false
	}
	return &dmConvRec{ID: id, Participants: []string{a, b}, CreatedAt: s.cfg.clock().UTC()}, true
}

// createDMConversation creates a group DM (the caller plus participant_ids)
// with a ParticipantsJoin event and the first message.
func (s *Server) createDMConversation(c *call) *apiError {
	var req api.CreateDirectMessagesConversationRequest
	if perr := decodeJSON(c.body, &req, true); perr != nil {
		return perr
	}
	if req.ConversationType != api.DmConversationTypeGroup {
		return errInvalid("conversation_type", "conversation_type must be %q.", api.DmConversationTypeGroup)
	}
	if len(req.ParticipantIDs) < api.DmGroupParticipantsMin || len(req.ParticipantIDs) > api.DmGroupParticipantsMax {
		return errInvalid("participant_ids", "participant_ids must list %d to %d users.", api.DmGroupParticipantsMin, api.DmGroupParticipantsMax)
	}
	if perr := s.uniqueIDs("participant_ids", req.ParticipantIDs); perr != nil {
		return perr
	}
	if perr := checkDMMessage("message", req.Message); perr != nil {
		return perr
	}
	parts := slices.Clone(req.ParticipantIDs)
	if !slices.Contains(parts, c.user.ID) {
		parts = append(parts, c.user.ID)
	}
	conv := &dmConvRec{ID: s.newID(), Group: true, Participants: parts, CreatedAt: s.cfg.clock().UTC()}
	return s.dmMessage(c, conv, true, req.Message, true)
}

// createDMByParticipant sends a 1:1 DM, creating the conversation if
// needed.
func (s *Server) createDMByParticipant(c *call) *apiError {
	other, perr := s.dmParticipant(c, "You cannot send a Direct Message to yourself.")
	if perr != nil {
		return perr
	}
	m, perr := dmMessageBody(c)
	if perr != nil {
		return perr
	}
	conv, isNew := s.oneToOneDM(c.user.ID, other)
	return s.dmMessage(c, conv, isNew, m, false)
}

// dmMessageBody decodes and checks the DmMessage request body of a send.
func dmMessageBody(c *call) (api.DmMessage, *apiError) {
	var m api.DmMessage
	if perr := decodeJSON(c.body, &m, true); perr != nil {
		return api.DmMessage{}, perr
	}
	if perr := checkDMMessage("body", m); perr != nil {
		return api.DmMessage{}, perr
	}
	return m, nil
}

// dmConvFor resolves a legacy conversation id for the caller.
func (s *Server) dmConvFor(caller, id string, create bool) (*dmConvRec, bool, *apiError) {
	if !reDMConvID.MatchString(id) {
		return nil, false, errInvalid("id", "The conversation id must be \"A-B\" or a numeric group id.")
	}
	if a, b, ok := strings.Cut(id, "-"); ok {
		if !isID(a) || !isID(b) || a == b {
			return nil, false, errInvalid("id", "The conversation id is not canonical.")
		}
		if a != caller && b != caller {
			return nil, false, errForbidden("dm_conversation", id, "You are not a participant of this conversation.")
		}
		other := a
		if a == caller {
			other = b
		}
		if s.st.users[other] == nil {
			return nil, false, errNotFound("user", other)
		}
		conv, isNew := s.oneToOneDM(caller, other)
		if isNew && !create {
			return nil, false, errNotFound("dm_conversation", id)
		}
		return conv, isNew, nil
	}
	conv := s.st.dmConvs[id]
	if conv == nil {
		return nil, false, errNotFound("dm_conversation", id)
	}
	if !slices.Contains(conv.Participants, caller) {
		return nil, false, errForbidden("dm_conversation", id, "You are not a participant of this conversation.")
	}
	return conv, false, nil
}

// createDMByConversation sends a DM to an existing group or a 1:1
// conversation ("A-B" including the caller).
func (s *Server) createDMByConversation(c *call) *apiError {
	conv, isNew, perr := s.dmConvFor(c.user.ID, c.r.PathValue("dm_conversation_id"), true)
	if perr != nil {
		return perr
	}
	m, perr := dmMessageBody(c)
	if perr != nil {
		return perr
	}
	return s.dmMessage(c, conv, isNew, m, false)
}

// dmEventJSON renders a DM event: X's default fields (id, event_type,
// text) plus the requested ones; sender_id, participant_ids and
// referenced_posts also come with their expansions.
func (s *Server) dmEventJSON(e *dmEventRec, fields, exp []string) api.DmEvent {
	if fields == nil {
		fields = []string{"id", "event_type", "text"}
	}
	want := func(f string) bool { return slices.Contains(fields, f) || slices.Contains(exp, f) }
	out := api.DmEvent{ID: e.ID, EventType: e.Type}
	if slices.Contains(fields, "text") {
		out.Text = e.Text
	}
	if want("dm_conversation_id") {
		out.DmConversationID = e.ConvID
	}
	if want("created_at") {
		out.CreatedAt = e.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	if want("sender_id") {
		out.SenderID = e.SenderID
	}
	if want("participant_ids") {
		out.ParticipantIDs = e.ParticipantIDs
	}
	if (want("attachments") || slices.Contains(exp, "attachments.media_keys")) && len(e.MediaIDs) > 0 {
		att := &api.DmEventAttachments{}
		for _, m := range e.MediaIDs {
			att.MediaKeys = append(att.MediaKeys, dmMediaKey(m))
		}
		out.Attachments = att
	}
	if want("entities") {
		out.Entities = s.dmEntities(e.Text)
	}
	if want("referenced_posts") {
		for _, id := range referencedPosts(e.Text) {
			out.ReferencedPosts = append(out.ReferencedPosts, api.DmReferencedPost{ID: id})
		}
	}
	return out
}

// listDMEvents pages the events of the given conversations, newest first.
func (s *Server) listDMEvents(c *call, convs map[string]bool) *apiError {
	max, cursor, hasCursor, perr := pageParams(c, tokDMEvents, api.DmEventsMaxResultsDefault, api.DmEventsMaxResultsMin, api.DmEventsMaxResultsMax)
	if perr != nil {
		return perr
	}
	fields, exp, perr := dmEventFieldParams(c)
	if perr != nil {
		return perr
	}
	types, perr := parseFields(c, "event_types", dmEventTypes)
	if perr != nil {
		return perr
	}
	var page []*dmEventRec
	hasMore := false
	list := s.st.dmEventList
	for i := len(list) - 1; i >= 0; i-- {
		e := list[i]
		if !convs[e.ConvID] || (types != nil && !slices.Contains(types, e.Type)) {
			continue
		}
		if hasCursor {
			if id, _ := parseID(e.ID); id >= cursor {
				continue
			}
		}
		if len(page) == max {
			hasMore = true
			break
		}
		page = append(page, e)
	}
	resp := api.GetDmEventsResponse{Meta: &api.DmEventsMeta{ResultCount: len(page)}}
	for _, e := range page {
		resp.Data = append(resp.Data, s.dmEventJSON(e, fields, exp))
	}
	if hasMore {
		last, _ := parseID(page[len(page)-1].ID)
		resp.Meta.NextToken = encodeToken(tokDMEvents, last)
	}
	if hasCursor {
		first, _ := parseID(page0ID(page))
		if first != 0 {
			resp.Meta.PreviousToken = encodeToken(tokDMEvents, first+1)
		}
	}
	inc, perr := s.dmIncludes(c, page, exp)
	if perr != nil {
		return perr
	}
	resp.Includes, resp.Errors = inc.expansions, inc.errors
	writeJSON(c.w, http.StatusOK, resp)
	return nil
}

func page0ID(p []*dmEventRec) string {
	if len(p) == 0 {
		return ""
	}
	return p[0].ID
}

type dmIncluded struct {
	expansions *api.Expansions
	errors     []api.Problem
}

// dmIncludes builds includes for the requested expansions: users (with
// user.fields), attached media (with media.fields) and referenced posts.
// The emulator holds no posts, so each referenced post is reported in
// "errors" as X reports an expansion it cannot hydrate.
func (s *Server) dmIncludes(c *call, events []*dmEventRec, exp []string) (dmIncluded, *apiError) {
	var out dmIncluded
	uf, perr := parseFields(c, "user.fields", userFields)
	if perr != nil {
		return out, perr
	}
	mf, perr := parseFields(c, "media.fields", api.MediaFields)
	if perr != nil {
		return out, perr
	}
	if _, perr := parseFields(c, "post.fields", api.PostFields); perr != nil {
		return out, perr
	}
	inc := &api.Expansions{}
	seen := map[string]bool{}
	addUser := func(id string) {
		if u := s.st.users[id]; u != nil && !seen["u"+id] {
			seen["u"+id] = true
			inc.Users = append(inc.Users, userJSON(u, uf))
		}
	}
	for _, e := range events {
		if slices.Contains(exp, "sender_id") && e.SenderID != "" {
			addUser(e.SenderID)
		}
		if slices.Contains(exp, "participant_ids") {
			for _, p := range e.ParticipantIDs {
				addUser(p)
			}
		}
		if slices.Contains(exp, "attachments.media_keys") {
			for _, m := range e.MediaIDs {
				if !seen["m"+m] {
					seen["m"+m] = true
					inc.Media = append(inc.Media, s.dmMediaJSON(c, e, m, mf))
				}
			}
		}
		if slices.Contains(exp, "referenced_posts") {
			for _, id := range referencedPosts(e.Text) {
				if !seen["p"+id] {
					seen["p"+id] = true
					p := errNotFound("tweet", id).problem
					p.Parameter = "referenced_posts.id"
					out.errors = append(out.errors, p)
				}
			}
		}
	}
	if len(inc.Users)+len(inc.Media) > 0 {
		out.expansions = inc
	}
	return out, nil
}

func (s *Server) myDMConvs(user string) map[string]bool {
	out := map[string]bool{}
	for id, conv := range s.st.dmConvs {
		if slices.Contains(conv.Participants, user) {
			out[id] = true
		}
	}
	return out
}

// getDMEvents lists the caller's DM events across conversations.
func (s *Server) getDMEvents(c *call) *apiError {
	return s.listDMEvents(c, s.myDMConvs(c.user.ID))
}

// getDMEventsByConversation lists one conversation's events.
func (s *Server) getDMEventsByConversation(c *call) *apiError {
	conv, _, perr := s.dmConvFor(c.user.ID, c.r.PathValue("id"), false)
	if perr != nil {
		return perr
	}
	return s.listDMEvents(c, map[string]bool{conv.ID: true})
}

// getDMEventsByParticipant lists the 1:1 conversation with a user (empty if
// none exists yet).
func (s *Server) getDMEventsByParticipant(c *call) *apiError {
	other, perr := s.dmParticipant(c, "participant_id must be another user.")
	if perr != nil {
		return perr
	}
	conv, _ := s.oneToOneDM(c.user.ID, other)
	return s.listDMEvents(c, map[string]bool{conv.ID: true})
}

// dmParticipant returns the participant_id path value once it names
// another user who exists; selfMessage is the error detail when it names
// the caller.
func (s *Server) dmParticipant(c *call, selfMessage string) (string, *apiError) {
	other := c.r.PathValue("participant_id")
	if !isID(other) {
		return "", errInvalid("participant_id", "participant_id must be a user id.")
	}
	if other == c.user.ID {
		return "", errInvalid("participant_id", "%s", selfMessage)
	}
	if s.st.users[other] == nil {
		return "", errNotFound("user", other)
	}
	return other, nil
}

// dmEventFor finds a DM event the caller may see.
func (s *Server) dmEventFor(c *call) (*dmEventRec, *apiError) {
	id := c.r.PathValue("event_id")
	if !isID(id) {
		return nil, errInvalid("event_id", "event_id must be a decimal id.")
	}
	e := s.st.dmEvents[id]
	if e == nil {
		return nil, errNotFound("dm_event", id)
	}
	conv := s.st.dmConvs[e.ConvID]
	if conv == nil || !slices.Contains(conv.Participants, c.user.ID) {
		return nil, errNotFound("dm_event", id)
	}
	return e, nil
}

// dmEventFieldParams parses the dm_event.fields and expansions query
// parameters of a DM event lookup.
func dmEventFieldParams(c *call) (fields, exp []string, perr *apiError) {
	if fields, perr = parseFields(c, "dm_event.fields", dmEventFields); perr != nil {
		return nil, nil, perr
	}
	if exp, perr = parseFields(c, "expansions", dmEventExpansions); perr != nil {
		return nil, nil, perr
	}
	return fields, exp, nil
}

// getDMEvent returns one DM event.
func (s *Server) getDMEvent(c *call) *apiError {
	e, perr := s.dmEventFor(c)
	if perr != nil {
		return perr
	}
	fields, exp, perr := dmEventFieldParams(c)
	if perr != nil {
		return perr
	}
	data := s.dmEventJSON(e, fields, exp)
	inc, perr := s.dmIncludes(c, []*dmEventRec{e}, exp)
	if perr != nil {
		return perr
	}
	writeJSON(c.w, http.StatusOK, api.GetDmEventResponse{Data: &data, Includes: inc.expansions, Errors: inc.errors})
	return nil
}

// deleteDMEvent deletes a message the caller sent.
func (s *Server) deleteDMEvent(c *call) *apiError {
	e, perr := s.dmEventFor(c)
	if perr != nil {
		return perr
	}
	if e.Type != api.DmEventMessageCreate || e.SenderID != c.user.ID {
		return errForbidden("dm_event", e.ID, "You may only delete messages you sent.")
	}
	var b batch
	b.del(bucketDMEvents, padID(e.ID))
	if err := s.commit(&b); err != nil {
		return errInternal()
	}
	delete(s.st.dmEvents, e.ID)
	s.st.dmEventList = slices.DeleteFunc(s.st.dmEventList, func(x *dmEventRec) bool { return x.ID == e.ID })
	writeJSON(c.w, http.StatusOK, api.DeleteDmEventResponse{Data: &api.DeleteDmEventData{Deleted: true}})
	return nil
}

// setBlock blocks or unblocks DMs from user {id} to the caller.
func (s *Server) setBlock(c *call, block bool) *apiError {
	id := c.r.PathValue("id")
	if !isID(id) {
		return errInvalid("id", "id must be a user id.")
	}
	if id == c.user.ID {
		return errInvalid("id", "You cannot block yourself.")
	}
	if s.st.users[id] == nil {
		return errNotFound("user", id)
	}
	u := *c.user
	u.Blocked = slices.DeleteFunc(slices.Clone(u.Blocked), func(x string) bool { return x == id })
	if block {
		u.Blocked = append(u.Blocked, id)
	}
	var b batch
	b.user(&u)
	if err := s.commit(&b); err != nil {
		return errInternal()
	}
	*c.user = u
	writeJSON(c.w, http.StatusOK, api.DmBlockResponse{Data: &api.DmBlockData{Blocked: block}})
	return nil
}

func (s *Server) blockUserDMs(c *call) *apiError   { return s.setBlock(c, true) }
func (s *Server) unblockUserDMs(c *call) *apiError { return s.setBlock(c, false) }
