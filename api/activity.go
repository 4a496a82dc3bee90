package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// The X Activity API (XAA) and webhook operations, from the OpenAPI
// extract x-api-activity-openapi.json (X API v2.167). They are kept apart
// from Operations, which mirrors the chat specification.
var (
	OpActivityStream                   = Operation{"activityStream", "GET", "/2/activity/stream", nil, true}
	OpCreateActivitySubscription       = Operation{"createActivitySubscription", "POST", "/2/activity/subscriptions", nil, false}
	OpGetActivitySubscriptions         = Operation{"getActivitySubscriptions", "GET", "/2/activity/subscriptions", []string{"like.read", "tweet.read"}, true}
	OpDeleteActivitySubscriptionsByIDs = Operation{"deleteActivitySubscriptionsByIds", "DELETE", "/2/activity/subscriptions", nil, true}
	OpUpdateActivitySubscription       = Operation{"updateActivitySubscription", "PUT", "/2/activity/subscriptions/{subscription_id}", nil, true}
	OpDeleteActivitySubscription       = Operation{"deleteActivitySubscription", "DELETE", "/2/activity/subscriptions/{subscription_id}", nil, true}

	OpGetWebhooks            = Operation{"getWebhooks", "GET", "/2/webhooks", nil, true}
	OpCreateWebhooks         = Operation{"createWebhooks", "POST", "/2/webhooks", nil, false}
	OpCreateWebhookReplayJob = Operation{"createWebhookReplayJob", "POST", "/2/webhooks/replay", nil, false}
	OpValidateWebhooks       = Operation{"validateWebhooks", "PUT", "/2/webhooks/{webhook_id}", nil, true}
	OpDeleteWebhooks         = Operation{"deleteWebhooks", "DELETE", "/2/webhooks/{webhook_id}", nil, true}
)

// ActivityOperations lists the 11 Activity API and webhook operations of
// x-api-activity-openapi.json.
var ActivityOperations = []Operation{
	OpActivityStream,
	OpCreateActivitySubscription, OpGetActivitySubscriptions, OpDeleteActivitySubscriptionsByIDs,
	OpUpdateActivitySubscription, OpDeleteActivitySubscription,
	OpGetWebhooks, OpCreateWebhooks, OpCreateWebhookReplayJob, OpValidateWebhooks, OpDeleteWebhooks,
}

// Activity event types of encrypted Chat (XChat). The docs name the first
// three; the OpenAPI enum adds the others. ChatConversationJoinLegacy is the
// deprecated alias the docs still use; responses carry the canonical name.
const (
	EventChatReceived                  = "chat.received"
	EventChatSent                      = "chat.sent"
	EventChatConversationJoin          = "chat.conversation.join"
	EventChatConversationJoinLegacy    = "chat.conversation_join"
	EventChatConversationMemberAdded   = "chat.conversation.member_added"
	EventChatConversationMemberRemoved = "chat.conversation.member_removed"
	EventChatConversationAdminAdded    = "chat.conversation.admin_added"
	EventChatConversationAdminRemoved  = "chat.conversation.admin_removed"
	EventChatUpdateGroupName           = "chat.update.group_name"
	EventChatUpdateRestrictions        = "chat.update.restrictions"
)

// ChatEventTypes are the encrypted Chat event types, in the specification's
// order (the legacy join alias excluded).
var ChatEventTypes = []string{
	EventChatReceived, EventChatSent, EventChatConversationJoin,
	EventChatConversationMemberAdded, EventChatConversationMemberRemoved,
	EventChatConversationAdminAdded, EventChatConversationAdminRemoved,
	EventChatUpdateGroupName, EventChatUpdateRestrictions,
}

// ActivityEventTypes is the event_type enum of createActivitySubscription.
var ActivityEventTypes = []string{
	"profile.update.bio", "profile.update.profile_picture", "profile.update.banner_picture",
	"profile.update.screenname", "profile.update.geo", "profile.update.url",
	"profile.update.verified_badge", "profile.update.affiliate_badge", "profile.update.handle",
	"news.new", "follow.follow", "follow.unfollow", "spaces.start", "spaces.end",
	"broadcast.start", "broadcast.end", "broadcast.chat",
	EventChatReceived, EventChatSent, EventChatConversationJoin, EventChatConversationJoinLegacy,
	EventChatConversationMemberAdded, EventChatConversationMemberRemoved,
	EventChatConversationAdminAdded, EventChatConversationAdminRemoved,
	EventChatUpdateGroupName, EventChatUpdateRestrictions,
	"dm.sent", "dm.received", "dm.indicate_typing", "dm.read",
	"post.create", "post.delete", "post.mention.create", "post.reply.create",
	"post.quote.create", "post.repost.create", "like.create",
	"mute.mute", "mute.unmute", "block.block", "block.unblock",
}

// IsChatEventType reports whether t is an encrypted Chat event type
// (including the legacy join alias).
func IsChatEventType(t string) bool {
	return t == EventChatConversationJoinLegacy || slices.Contains(ChatEventTypes, t)
}

// Limits of the Activity API from the specification.
const (
	// ActivityTagMaxLength bounds a subscription tag (1..200 characters).
	ActivityTagMaxLength = 200
	// ActivitySubscriptionsMaxResults bounds max_results of
	// getActivitySubscriptions (1..1000).
	ActivitySubscriptionsMaxResults = 1000
	// ActivityDeleteMaxIDs bounds the ids of deleteActivitySubscriptionsByIds.
	ActivityDeleteMaxIDs = 100
	// WebhookURLMaxLength bounds a webhook URL (1..200 characters).
	WebhookURLMaxLength = 200
	// ActivityBackfillMaxMinutes bounds backfill_minutes of the stream.
	ActivityBackfillMaxMinutes = 5
)

// ActivitySubscriptionFilter selects the events of a subscription. Chat
// subscriptions filter by UserID only.
type ActivitySubscriptionFilter struct {
	UserID    string `json:"user_id,omitempty"`
	Direction string `json:"direction,omitempty"` // "inbound" or "outbound" (like.create)
	Keyword   string `json:"keyword,omitempty"`   // news.new
}

// CreateActivitySubscriptionRequest is the body of
// POST /2/activity/subscriptions.
type CreateActivitySubscriptionRequest struct {
	EventType string                     `json:"event_type"`
	Filter    ActivitySubscriptionFilter `json:"filter"`
	Tag       string                     `json:"tag,omitempty"`
	WebhookID string                     `json:"webhook_id,omitempty"`
}

// UpdateActivitySubscriptionRequest is the body of
// PUT /2/activity/subscriptions/{subscription_id}: only the tag and the
// webhook can change.
type UpdateActivitySubscriptionRequest struct {
	Tag       string `json:"tag,omitempty"`
	WebhookID string `json:"webhook_id,omitempty"`
}

// ActivitySubscription is one subscription as the API describes it.
type ActivitySubscription struct {
	SubscriptionID string                     `json:"subscription_id"`
	EventType      string                     `json:"event_type"`
	Filter         ActivitySubscriptionFilter `json:"filter"`
	Tag            string                     `json:"tag,omitempty"`
	WebhookID      string                     `json:"webhook_id,omitempty"`
	CreatedAt      string                     `json:"created_at,omitempty"`
	UpdatedAt      string                     `json:"updated_at,omitempty"`
}

// ActivitySubscriptionData is the data of a create or update answer. The
// OpenAPI document wraps the subscription ({"subscription":{…},
// "total_subscriptions":N}); the quick start guide shows it flat, and as a
// one-element list. UnmarshalJSON accepts all three.
type ActivitySubscriptionData struct {
	Subscription       *ActivitySubscription `json:"subscription,omitempty"`
	TotalSubscriptions int                   `json:"total_subscriptions,omitempty"`
}

// UnmarshalJSON accepts the wrapped, flat and list forms.
func (d *ActivitySubscriptionData) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.HasPrefix(b, []byte("[")) {
		var list []ActivitySubscription
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		*d = ActivitySubscriptionData{}
		if len(list) > 0 {
			d.Subscription = &list[0]
		}
		return nil
	}
	var wrapped struct {
		Subscription       *ActivitySubscription `json:"subscription"`
		TotalSubscriptions int                   `json:"total_subscriptions"`
	}
	if err := json.Unmarshal(b, &wrapped); err != nil {
		return err
	}
	if wrapped.Subscription == nil {
		var flat ActivitySubscription
		if err := json.Unmarshal(b, &flat); err != nil {
			return err
		}
		if flat.SubscriptionID != "" || flat.EventType != "" {
			wrapped.Subscription = &flat
		}
	}
	*d = ActivitySubscriptionData{Subscription: wrapped.Subscription, TotalSubscriptions: wrapped.TotalSubscriptions}
	return nil
}

// ActivitySubscriptionsMeta is the meta object of subscription answers.
type ActivitySubscriptionsMeta struct {
	TotalSubscriptions int    `json:"total_subscriptions,omitempty"`
	ResultCount        int    `json:"result_count,omitempty"`
	NextToken          string `json:"next_token,omitempty"`
}

// ActivitySubscriptionResponse answers createActivitySubscription and
// updateActivitySubscription.
type ActivitySubscriptionResponse struct {
	Data   *ActivitySubscriptionData  `json:"data,omitempty"`
	Meta   *ActivitySubscriptionsMeta `json:"meta,omitempty"`
	Errors []Problem                  `json:"errors,omitempty"`
}

// GetActivitySubscriptionsResponse answers getActivitySubscriptions.
type GetActivitySubscriptionsResponse struct {
	Data   []ActivitySubscription     `json:"data"`
	Meta   *ActivitySubscriptionsMeta `json:"meta,omitempty"`
	Errors []Problem                  `json:"errors,omitempty"`
}

// Deleted is the data of a delete answer.
type Deleted struct {
	Deleted bool `json:"deleted"`
}

// DeleteActivitySubscriptionResponse answers deleteActivitySubscription.
type DeleteActivitySubscriptionResponse struct {
	Data   *Deleted                   `json:"data,omitempty"`
	Meta   *ActivitySubscriptionsMeta `json:"meta,omitempty"`
	Errors []Problem                  `json:"errors,omitempty"`
}

// DeletedActivitySubscription is one element of a delete-by-ids answer.
type DeletedActivitySubscription struct {
	SubscriptionID string `json:"subscription_id"`
	Deleted        bool   `json:"deleted"`
}

// ActivitySubscriptionFailure is a per-id failure of a delete-by-ids
// request; deletion continues for the remaining ids.
type ActivitySubscriptionFailure struct {
	SubscriptionID string `json:"subscription_id,omitempty"`
	Reason         string `json:"reason,omitempty"`
	Message        string `json:"message,omitempty"`
}

// DeleteActivitySubscriptionsResponse answers
// deleteActivitySubscriptionsByIds.
type DeleteActivitySubscriptionsResponse struct {
	Data     []DeletedActivitySubscription `json:"data"`
	Failures []ActivitySubscriptionFailure `json:"errors,omitempty"`
	Meta     *ActivitySubscriptionsMeta    `json:"meta,omitempty"`
}

// DeleteSubscriptionsError reports the per-id failures of a delete-by-ids
// request; the subscriptions not listed were deleted.
type DeleteSubscriptionsError struct {
	Failures []ActivitySubscriptionFailure
}

// Error implements error.
func (e *DeleteSubscriptionsError) Error() string {
	var parts []string
	for _, f := range e.Failures {
		parts = append(parts, fmt.Sprintf("%s: %s", serverText(f.SubscriptionID), strings.TrimSpace(serverText(f.Reason)+" "+serverText(f.Message))))
	}
	return "api: deleteActivitySubscriptionsByIds: " + strings.Join(parts, "; ")
}

// ListActivitySubscriptionsOptions are the query parameters of
// GET /2/activity/subscriptions.
type ListActivitySubscriptionsOptions struct {
	MaxResults      int    // 1..1000; 0 leaves the server default
	PaginationToken string // next_token of the previous page
}

// ValidateSubscriptionID checks a subscription id against UserIDPattern.
func ValidateSubscriptionID(id string) error {
	return checkPattern(userIDRE, "subscription id", UserIDPattern, id)
}

// ValidateWebhookID checks a webhook id against UserIDPattern.
func ValidateWebhookID(id string) error {
	return checkPattern(userIDRE, "webhook id", UserIDPattern, id)
}

func checkTag(tag string) error {
	if tag == "" {
		return nil
	}
	if n := utf8.RuneCountInString(tag); n > ActivityTagMaxLength || !utf8.ValidString(tag) {
		return invalid("tag", tag, fmt.Sprintf("must be 1..%d characters of UTF-8", ActivityTagMaxLength))
	}
	return nil
}

func (r *CreateActivitySubscriptionRequest) validate() error {
	if !slices.Contains(ActivityEventTypes, r.EventType) {
		return invalid("event_type", r.EventType, "not an event type of the specification")
	}
	if r.Filter.UserID != "" {
		if err := ValidateUserID(r.Filter.UserID); err != nil {
			return err
		}
	}
	if IsChatEventType(r.EventType) && r.Filter.UserID == "" {
		return invalid("filter.user_id", "", "chat subscriptions filter by user_id")
	}
	if d := r.Filter.Direction; d != "" && d != "inbound" && d != "outbound" {
		return invalid("filter.direction", d, `must be "inbound" or "outbound"`)
	}
	if err := checkTag(r.Tag); err != nil {
		return err
	}
	if r.WebhookID != "" {
		return ValidateWebhookID(r.WebhookID)
	}
	return nil
}

// CreateActivitySubscription subscribes to an activity event type
// (createActivitySubscription). Chat events need a user-context token with
// dm.read for the monitored user (filter.user_id).
func (c *Client) CreateActivitySubscription(ctx context.Context, req *CreateActivitySubscriptionRequest) (*ActivitySubscriptionResponse, *Response, error) {
	if req == nil {
		return nil, nil, invalid("request", "", "must not be nil")
	}
	if err := req.validate(); err != nil {
		return nil, nil, err
	}
	out := new(ActivitySubscriptionResponse)
	resp, err := c.do(ctx, &request{op: OpCreateActivitySubscription, path: PathActivitySubscriptions(), body: req}, out)
	return result(out, resp, err)
}

// ListActivitySubscriptions fetches one page of the app's subscriptions
// (getActivitySubscriptions).
func (c *Client) ListActivitySubscriptions(ctx context.Context, opts *ListActivitySubscriptionsOptions) (*GetActivitySubscriptionsResponse, *Response, error) {
	if opts == nil {
		opts = &ListActivitySubscriptionsOptions{}
	}
	if err := ValidateMaxResults(opts.MaxResults, 1, ActivitySubscriptionsMaxResults); err != nil {
		return nil, nil, err
	}
	q := url.Values{}
	setInt(q, "max_results", opts.MaxResults)
	setStr(q, "pagination_token", opts.PaginationToken)
	out := new(GetActivitySubscriptionsResponse)
	resp, err := c.do(ctx, &request{op: OpGetActivitySubscriptions, path: PathActivitySubscriptions(), query: q}, out)
	return result(out, resp, err)
}

// ActivitySubscriptions iterates over every subscription of the app,
// following next_token.
func (c *Client) ActivitySubscriptions(ctx context.Context, opts *ListActivitySubscriptionsOptions) iter.Seq2[ActivitySubscription, error] {
	o := ListActivitySubscriptionsOptions{}
	if opts != nil {
		o = *opts
	}
	src := pages(ctx, o.PaginationToken, func(p *GetActivitySubscriptionsResponse) bool { return p == nil || len(p.Data) == 0 }, func(ctx context.Context, token string) (*GetActivitySubscriptionsResponse, string, error) {
		p := o
		p.PaginationToken = token
		page, _, err := c.ListActivitySubscriptions(ctx, &p)
		next := ""
		if page != nil && page.Meta != nil {
			next = page.Meta.NextToken
		}
		return page, next, err
	})
	return items(src, func(p *GetActivitySubscriptionsResponse) []ActivitySubscription {
		if p == nil {
			return nil
		}
		return p.Data
	})
}

// UpdateActivitySubscription changes a subscription's tag or webhook
// (updateActivitySubscription).
func (c *Client) UpdateActivitySubscription(ctx context.Context, subscriptionID string, req *UpdateActivitySubscriptionRequest) (*ActivitySubscriptionResponse, *Response, error) {
	if err := ValidateSubscriptionID(subscriptionID); err != nil {
		return nil, nil, err
	}
	if req == nil || (req.Tag == "" && req.WebhookID == "") {
		return nil, nil, invalid("request", "", "needs a tag or a webhook_id")
	}
	if err := checkTag(req.Tag); err != nil {
		return nil, nil, err
	}
	if req.WebhookID != "" {
		if err := ValidateWebhookID(req.WebhookID); err != nil {
			return nil, nil, err
		}
	}
	out := new(ActivitySubscriptionResponse)
	resp, err := c.do(ctx, &request{op: OpUpdateActivitySubscription, path: PathActivitySubscription(subscriptionID), body: req}, out)
	return result(out, resp, err)
}

// DeleteActivitySubscription deletes one subscription
// (deleteActivitySubscription).
func (c *Client) DeleteActivitySubscription(ctx context.Context, subscriptionID string) (*DeleteActivitySubscriptionResponse, *Response, error) {
	if err := ValidateSubscriptionID(subscriptionID); err != nil {
		return nil, nil, err
	}
	out := new(DeleteActivitySubscriptionResponse)
	resp, err := c.do(ctx, &request{op: OpDeleteActivitySubscription, path: PathActivitySubscription(subscriptionID)}, out)
	return result(out, resp, err)
}

// DeleteActivitySubscriptions deletes up to 100 subscriptions
// (deleteActivitySubscriptionsByIds). Per-id failures are returned as a
// *DeleteSubscriptionsError next to the answer.
func (c *Client) DeleteActivitySubscriptions(ctx context.Context, ids []string) (*DeleteActivitySubscriptionsResponse, *Response, error) {
	if len(ids) == 0 || len(ids) > ActivityDeleteMaxIDs {
		return nil, nil, invalid("ids", "", fmt.Sprintf("must hold 1..%d ids", ActivityDeleteMaxIDs))
	}
	for _, id := range ids {
		if err := ValidateSubscriptionID(id); err != nil {
			return nil, nil, err
		}
	}
	q := url.Values{}
	q.Set("ids", strings.Join(ids, ","))
	var raw []byte
	resp, err := c.exchange(ctx, &request{op: OpDeleteActivitySubscriptionsByIDs, path: PathActivitySubscriptions(), query: q}, nil, &raw)
	if err != nil {
		return nil, resp, err
	}
	out := new(DeleteActivitySubscriptionsResponse)
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, resp, fmt.Errorf("api: %s: decoding response: %w", OpDeleteActivitySubscriptionsByIDs.ID, err)
	}
	if len(out.Failures) > 0 {
		return out, resp, &DeleteSubscriptionsError{Failures: out.Failures}
	}
	return out, resp, nil
}

// PathActivityStream is GET /2/activity/stream.
func PathActivityStream() string { return "/2/activity/stream" }

// PathActivitySubscriptions is POST, GET and DELETE /2/activity/subscriptions.
func PathActivitySubscriptions() string { return "/2/activity/subscriptions" }

// PathActivitySubscription is PUT and DELETE
// /2/activity/subscriptions/{subscription_id}.
func PathActivitySubscription(id string) string { return "/2/activity/subscriptions/" + esc(id) }

// PathWebhooks is POST and GET /2/webhooks.
func PathWebhooks() string { return "/2/webhooks" }

// PathWebhook is PUT and DELETE /2/webhooks/{webhook_id}.
func PathWebhook(id string) string { return "/2/webhooks/" + esc(id) }

// PathWebhooksReplay is POST /2/webhooks/replay.
func PathWebhooksReplay() string { return "/2/webhooks/replay" }
