package api

import "encoding/json"

// Legacy Direct Message event types (DmEvent.EventType and the event_types
// query parameter).
const (
	DmEventMessageCreate     = "MessageCreate"
	DmEventParticipantsJoin  = "ParticipantsJoin"
	DmEventParticipantsLeave = "ParticipantsLeave"
)

// DmConversationTypeGroup is the only conversation_type
// CreateDirectMessagesConversationRequest accepts.
const DmConversationTypeGroup = "Group"

// DmAttachment references uploaded media by id in a legacy DM.
type DmAttachment struct {
	MediaID string `json:"media_id"`
}

// DmMessage is the body of a legacy DM: text and/or attachments. It is the
// request body of both "create DM by participant id" and "create DM by
// conversation id", and the message of CreateDirectMessagesConversationRequest.
type DmMessage struct {
	Text        string         `json:"text,omitempty"`
	Attachments []DmAttachment `json:"attachments,omitempty"`
}

// CreateDirectMessagesConversationRequest is the body of
// POST /2/dm_conversations: a new group DM with 2..49 participants.
type CreateDirectMessagesConversationRequest struct {
	ConversationType string    `json:"conversation_type"`
	ParticipantIDs   []string  `json:"participant_ids"`
	Message          DmMessage `json:"message"`
}

// DmCreateData is the data of every legacy DM creation response.
type DmCreateData struct {
	DmConversationID string `json:"dm_conversation_id"`
	DmEventID        string `json:"dm_event_id"`
}

// DmCreateResponse is the 201 body of POST /2/dm_conversations,
// POST /2/dm_conversations/with/{participant_id}/messages and
// POST /2/dm_conversations/{dm_conversation_id}/messages. The specification
// wraps the ids in "data"; X's reference pages (seed 004) show them
// unwrapped at the top level. Both decode into Data.
type DmCreateResponse struct {
	Data   *DmCreateData `json:"data,omitempty"`
	Errors []Problem     `json:"errors,omitempty"`
}

// UnmarshalJSON accepts the wrapped (specification) and the unwrapped
// (seed 004) shapes.
func (r *DmCreateResponse) UnmarshalJSON(b []byte) error {
	var env struct {
		Data   *DmCreateData `json:"data"`
		Errors []Problem     `json:"errors"`
		DmCreateData
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return err
	}
	r.Data, r.Errors = env.Data, env.Errors
	if r.Data == nil && (env.DmConversationID != "" || env.DmEventID != "") {
		d := env.DmCreateData
		r.Data = &d
	}
	return nil
}

// DmEventAttachments lists what is attached to a DM event.
type DmEventAttachments struct {
	CardIDs   []string `json:"card_ids,omitempty"`
	MediaKeys []string `json:"media_keys,omitempty"`
}

// DmEntityTag is a hashtag or cashtag entity of a DM event.
type DmEntityTag struct {
	Start int64  `json:"start"`
	End   int64  `json:"end"`
	Tag   string `json:"tag"`
}

// DmEntityMention is a mention entity of a DM event.
type DmEntityMention struct {
	Start    int64  `json:"start"`
	End      int64  `json:"end"`
	ID       string `json:"id,omitempty"`
	Username string `json:"username,omitempty"`
}

// DmEntityURL is a URL entity of a DM event.
type DmEntityURL struct {
	Start       int64  `json:"start"`
	End         int64  `json:"end"`
	URL         string `json:"url,omitempty"`
	ExpandedURL string `json:"expanded_url,omitempty"`
	DisplayURL  string `json:"display_url,omitempty"`
}

// DmEventEntities are the entities parsed from a DM event's text.
type DmEventEntities struct {
	Cashtags []DmEntityTag     `json:"cashtags,omitempty"`
	Hashtags []DmEntityTag     `json:"hashtags,omitempty"`
	Mentions []DmEntityMention `json:"mentions,omitempty"`
	URLs     []DmEntityURL     `json:"urls,omitempty"`
}

// DmReferencedPost is an element of DmEvent.ReferencedPosts (and of
// ReferencedTweets, the older name).
type DmReferencedPost struct {
	ID string `json:"id"`
}

// DmEvent is a legacy Direct Message event.
type DmEvent struct {
	ID               string              `json:"id,omitempty"`
	EventType        string              `json:"event_type,omitempty"`
	Text             string              `json:"text,omitempty"`
	SenderID         string              `json:"sender_id,omitempty"`
	DmConversationID string              `json:"dm_conversation_id,omitempty"`
	CreatedAt        string              `json:"created_at,omitempty"`
	ParticipantIDs   []string            `json:"participant_ids,omitempty"`
	Attachments      *DmEventAttachments `json:"attachments,omitempty"`
	Entities         *DmEventEntities    `json:"entities,omitempty"`
	ReferencedPosts  []DmReferencedPost  `json:"referenced_posts,omitempty"`
	// ReferencedTweets is the name X's DM guide uses (seed 004:
	// "referenced_tweets": [{"id": ...}]); the specification says
	// referenced_posts. Both are kept; References merges them.
	ReferencedTweets []DmReferencedPost `json:"referenced_tweets,omitempty"`
}

// References returns the referenced posts under either name, without
// duplicates, referenced_posts first.
func (e *DmEvent) References() []DmReferencedPost {
	out := make([]DmReferencedPost, 0, len(e.ReferencedPosts)+len(e.ReferencedTweets))
	seen := map[string]bool{}
	for _, list := range [][]DmReferencedPost{e.ReferencedPosts, e.ReferencedTweets} {
		for _, p := range list {
			if !seen[p.ID] {
				seen[p.ID] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// DmEventsMeta is the meta object of the legacy DM event lists.
type DmEventsMeta struct {
	NextToken     string `json:"next_token,omitempty"`
	PreviousToken string `json:"previous_token,omitempty"`
	ResultCount   int    `json:"result_count"`
}

// GetDmEventsResponse is the body of GET /2/dm_events,
// GET /2/dm_conversations/{id}/dm_events and
// GET /2/dm_conversations/with/{participant_id}/dm_events.
type GetDmEventsResponse struct {
	Data     []DmEvent     `json:"data,omitempty"`
	Errors   []Problem     `json:"errors,omitempty"`
	Includes *Expansions   `json:"includes,omitempty"`
	Meta     *DmEventsMeta `json:"meta,omitempty"`
}

// GetDmEventResponse is the body of GET /2/dm_events/{event_id}.
type GetDmEventResponse struct {
	Data     *DmEvent    `json:"data,omitempty"`
	Errors   []Problem   `json:"errors,omitempty"`
	Includes *Expansions `json:"includes,omitempty"`
}

// DeleteDmEventData is the data of DeleteDmEventResponse.
type DeleteDmEventData struct {
	Deleted bool `json:"deleted"`
}

// DeleteDmEventResponse is the body of DELETE /2/dm_events/{event_id}.
type DeleteDmEventResponse struct {
	Data   *DeleteDmEventData `json:"data,omitempty"`
	Errors []Problem          `json:"errors,omitempty"`
}

// DmBlockData is the data of the DM block and unblock responses: whether
// the target user is DM-blocked afterwards.
type DmBlockData struct {
	Blocked bool `json:"blocked"`
}

// DmBlockResponse is the body of POST /2/users/{id}/dm/block and
// POST /2/users/{id}/dm/unblock (neither request has a body).
type DmBlockResponse struct {
	Data   *DmBlockData `json:"data,omitempty"`
	Errors []Problem    `json:"errors,omitempty"`
}
