package api

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
)

// DmEventsOptions are the query parameters of the three legacy DM event
// lists.
type DmEventsOptions struct {
	MaxResults      int    // 1..100; 0 leaves the server default (100)
	PaginationToken string // at least 16 characters when set
	EventTypes      []string
	DmEventFields   []string
	Expansions      []string
	UserFields      []string
	PostFields      []string
	MediaFields     []string
}

// DmEventLookupOptions are the query parameters of GET /2/dm_events/{id}.
type DmEventLookupOptions struct {
	DmEventFields []string
	Expansions    []string
	UserFields    []string
	PostFields    []string
	MediaFields   []string
}

func (o *DmEventLookupOptions) query() (url.Values, error) {
	q := url.Values{}
	if o == nil {
		return q, nil
	}
	for _, f := range []struct {
		key           string
		vals, allowed []string
	}{
		{"dm_event.fields", o.DmEventFields, DmEventFields}, {"expansions", o.Expansions, DmEventExpansions},
		{"user.fields", o.UserFields, UserFields}, {"post.fields", o.PostFields, PostFields}, {"media.fields", o.MediaFields, MediaFields},
	} {
		if err := checkEnumList(f.key, f.vals, f.allowed); err != nil {
			return nil, err
		}
		setList(q, f.key, f.vals)
	}
	return q, nil
}

func (o *DmEventsOptions) query() (url.Values, error) {
	if o == nil {
		o = &DmEventsOptions{}
	}
	if err := ValidateMaxResults(o.MaxResults, DmEventsMaxResultsMin, DmEventsMaxResultsMax); err != nil {
		return nil, err
	}
	if o.PaginationToken != "" && len(o.PaginationToken) < DmPaginationTokenMinLength {
		return nil, invalid("pagination_token", o.PaginationToken, "must be at least 16 characters")
	}
	if err := checkEnumList("event_types", o.EventTypes, []string{DmEventMessageCreate, DmEventParticipantsJoin, DmEventParticipantsLeave}); err != nil {
		return nil, err
	}
	q, err := (&DmEventLookupOptions{o.DmEventFields, o.Expansions, o.UserFields, o.PostFields, o.MediaFields}).query()
	if err != nil {
		return nil, err
	}
	setInt(q, "max_results", o.MaxResults)
	setStr(q, "pagination_token", o.PaginationToken)
	setList(q, "event_types", o.EventTypes)
	return q, nil
}

const dmAnyConversationIDPattern = `^([0-9]{1,19}-[0-9]{1,19}|[0-9]{1,19})$`

var dmAnyConversationIDRE = regexp.MustCompile(dmAnyConversationIDPattern)

func checkDmMessage(m *DmMessage) error {
	if m == nil || (m.Text == "" && len(m.Attachments) == 0) {
		return invalid("message", "", "needs text or attachments")
	}
	for _, a := range m.Attachments {
		if err := ValidateMediaID(a.MediaID); err != nil {
			return err
		}
	}
	return nil
}

// CreateDmConversation creates a legacy group DM conversation with an
// initial message (createDirectMessagesConversation). ConversationType
// defaults to "Group". Not retried. Scopes: users.read, dm.write,
// tweet.read.
func (c *Client) CreateDmConversation(ctx context.Context, req *CreateDirectMessagesConversationRequest) (*DmCreateData, *Response, error) {
	if req == nil {
		return nil, nil, invalid("request", "", "must not be nil")
	}
	body := *req
	if body.ConversationType == "" {
		body.ConversationType = DmConversationTypeGroup
	}
	if body.ConversationType != DmConversationTypeGroup {
		return nil, nil, invalid("conversation_type", body.ConversationType, "must be Group")
	}
	if n := len(body.ParticipantIDs); n < DmGroupParticipantsMin || n > DmGroupParticipantsMax {
		return nil, nil, invalid("participant_ids", "", "need between 2 and 49 participants")
	}
	if err := checkUserIDs("participant id", body.ParticipantIDs); err != nil {
		return nil, nil, err
	}
	if err := checkDmMessage(&body.Message); err != nil {
		return nil, nil, err
	}
	out := new(DmCreateResponse)
	resp, err := c.do(ctx, &request{op: OpCreateDirectMessagesConversation, path: PathDmConversations(), body: &body}, out)
	return data(out.Data, resp, err)
}

// SendDmToParticipant sends a legacy DM in the 1:1 conversation with
// participantID, creating it if needed (createDirectMessagesByParticipantId).
// Not retried. Scopes: tweet.read, dm.write, users.read.
func (c *Client) SendDmToParticipant(ctx context.Context, participantID string, msg *DmMessage) (*DmCreateData, *Response, error) {
	if err := ValidateUserID(participantID); err != nil {
		return nil, nil, err
	}
	if err := checkDmMessage(msg); err != nil {
		return nil, nil, err
	}
	out := new(DmCreateResponse)
	resp, err := c.do(ctx, &request{op: OpCreateDirectMessagesByParticipantID, path: PathDmWithParticipantMessages(participantID), body: msg}, out)
	return data(out.Data, resp, err)
}

// SendDmToConversation sends a legacy DM to an existing conversation
// (createDirectMessagesByConversationId). Not retried. Scopes: users.read,
// tweet.read, dm.write.
func (c *Client) SendDmToConversation(ctx context.Context, dmConversationID string, msg *DmMessage) (*DmCreateData, *Response, error) {
	// The specification gives this path parameter no pattern; accept the
	// two id shapes DM conversations have.
	if err := checkPattern(dmAnyConversationIDRE, "dm conversation id", dmAnyConversationIDPattern, dmConversationID); err != nil {
		return nil, nil, err
	}
	if err := checkDmMessage(msg); err != nil {
		return nil, nil, err
	}
	out := new(DmCreateResponse)
	resp, err := c.do(ctx, &request{op: OpCreateDirectMessagesByConversationID, path: PathDmConversationMessages(dmConversationID), body: msg}, out)
	return data(out.Data, resp, err)
}

// ListDmEvents fetches one page of all the user's legacy DM events
// (getDirectMessagesEvents). Scopes: users.read, tweet.read, dm.read.
func (c *Client) ListDmEvents(ctx context.Context, opts *DmEventsOptions) (*GetDmEventsResponse, *Response, error) {
	q, err := opts.query()
	if err != nil {
		return nil, nil, err
	}
	out := new(GetDmEventsResponse)
	resp, err := c.do(ctx, &request{op: OpGetDirectMessagesEvents, path: PathDmEvents(), query: q}, out)
	return result(out, resp, err)
}

// ListDmConversationEvents fetches one page of a legacy DM conversation's
// events (getDirectMessagesEventsByConversationId). Scopes: users.read,
// dm.read, tweet.read.
func (c *Client) ListDmConversationEvents(ctx context.Context, dmConversationID string, opts *DmEventsOptions) (*GetDmEventsResponse, *Response, error) {
	if err := ValidateDmConversationID(dmConversationID); err != nil {
		return nil, nil, err
	}
	q, err := opts.query()
	if err != nil {
		return nil, nil, err
	}
	out := new(GetDmEventsResponse)
	resp, err := c.do(ctx, &request{op: OpGetDirectMessagesEventsByConversationID, path: PathDmConversationEvents(dmConversationID), query: q}, out)
	return result(out, resp, err)
}

// ListDmEventsWithParticipant fetches one page of the 1:1 legacy DM events
// with participantID (getDirectMessagesEventsByParticipantId). Scopes:
// dm.read, tweet.read, users.read.
func (c *Client) ListDmEventsWithParticipant(ctx context.Context, participantID string, opts *DmEventsOptions) (*GetDmEventsResponse, *Response, error) {
	if err := ValidateUserID(participantID); err != nil {
		return nil, nil, err
	}
	q, err := opts.query()
	if err != nil {
		return nil, nil, err
	}
	out := new(GetDmEventsResponse)
	resp, err := c.do(ctx, &request{op: OpGetDirectMessagesEventsByParticipantID, path: PathDmWithParticipantEvents(participantID), query: q}, out)
	return result(out, resp, err)
}

// GetDmEvent fetches one legacy DM event (getDirectMessagesEventsById).
// Scopes: users.read, tweet.read, dm.read.
func (c *Client) GetDmEvent(ctx context.Context, eventID string, opts *DmEventLookupOptions) (*GetDmEventResponse, *Response, error) {
	if err := ValidateDmEventID(eventID); err != nil {
		return nil, nil, err
	}
	q, err := opts.query()
	if err != nil {
		return nil, nil, err
	}
	out := new(GetDmEventResponse)
	resp, err := c.do(ctx, &request{op: OpGetDirectMessagesEventsByID, path: PathDmEvent(eventID), query: q}, out)
	return result(out, resp, err)
}

// DeleteDmEvent deletes a legacy DM event (deleteDirectMessagesEvents).
// DELETE is idempotent and retried. Scopes: dm.read, dm.write.
func (c *Client) DeleteDmEvent(ctx context.Context, eventID string) (*DeleteDmEventData, *Response, error) {
	if err := ValidateDmEventID(eventID); err != nil {
		return nil, nil, err
	}
	out := new(DeleteDmEventResponse)
	resp, err := c.do(ctx, &request{op: OpDeleteDirectMessagesEvents, path: PathDmEvent(eventID)}, out)
	if err == nil && out.Data == nil && resp.StatusCode == http.StatusNotFound {
		// A retry after an attempt that may have arrived found the event
		// gone: that attempt deleted it (see exchange).
		out.Data = &DeleteDmEventData{Deleted: true}
	}
	return data(out.Data, resp, err)
}

// DownloadDmMedia fetches media attached to a legacy DM
// (dmConversationsMediaDownload). Scopes: dm.read.
func (c *Client) DownloadDmMedia(ctx context.Context, dmID, mediaID, resourceID string) ([]byte, *Response, error) {
	for _, f := range []struct{ name, v string }{{"dm id", dmID}, {"dm media id", mediaID}, {"dm media resource id", resourceID}} {
		if f.v == "" {
			return nil, nil, invalid(f.name, "", "must not be empty")
		}
	}
	var raw []byte
	resp, err := c.exchange(ctx, &request{op: OpDmConversationsMediaDownload, path: PathDmMedia(dmID, mediaID, resourceID), accept: "application/octet-stream"}, nil, &raw)
	if err != nil {
		return nil, resp, err
	}
	return raw, resp, nil
}

// BlockDms blocks DMs from userID (blockUsersDms). Idempotent, retried.
// Scopes: users.read, dm.write, tweet.read.
func (c *Client) BlockDms(ctx context.Context, userID string) (*DmBlockData, *Response, error) {
	if err := ValidateUserID(userID); err != nil {
		return nil, nil, err
	}
	out := new(DmBlockResponse)
	resp, err := c.do(ctx, &request{op: OpBlockUsersDms, path: PathDmBlock(userID)}, out)
	return data(out.Data, resp, err)
}

// UnblockDms unblocks DMs from userID (unblockUsersDms). Idempotent,
// retried. Scopes: tweet.read, users.read, dm.write.
func (c *Client) UnblockDms(ctx context.Context, userID string) (*DmBlockData, *Response, error) {
	if err := ValidateUserID(userID); err != nil {
		return nil, nil, err
	}
	out := new(DmBlockResponse)
	resp, err := c.do(ctx, &request{op: OpUnblockUsersDms, path: PathDmUnblock(userID)}, out)
	return data(out.Data, resp, err)
}
