package emulator

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
)

// principal is the caller of an Activity API operation: the app (its
// app-only bearer token) or a user (an OAuth 2.0 user token).
type principal struct {
	app  bool
	user *userRec
	tok  *tokenRec
}

// rateKey is the rate-limit bucket of the principal.
func (p *principal) rateKey() string {
	if p.app {
		return "app"
	}
	return p.user.ID
}

// Who may call what, decided where the documents are thin: the stream,
// webhooks, subscription updates and deletes take the app-only bearer
// token (their only security scheme); subscription creation and listing
// also take a user token (creation of private chat and DM subscriptions
// requires one, for the monitored user, with dm.read).
type access struct{ app, user bool }

var (
	appOnly   = access{app: true}
	appOrUser = access{app: true, user: true}
)

// activityHandler is an Activity API handler. It runs without Server.mu.
type activityHandler func(s *Server, w http.ResponseWriter, r *http.Request, p *principal) *apiError

func (s *Server) realtimeRoutes() {
	s.handleActivity(api.OpActivityStream, appOnly, (*Server).activityStream)
	s.handleActivity(api.OpCreateActivitySubscription, appOrUser, (*Server).createSubscription)
	s.handleActivity(api.OpGetActivitySubscriptions, appOrUser, (*Server).listSubscriptions)
	s.handleActivity(api.OpUpdateActivitySubscription, appOnly, (*Server).updateSubscription)
	s.handleActivity(api.OpDeleteActivitySubscription, appOnly, (*Server).deleteSubscription)
	s.handleActivity(api.OpDeleteActivitySubscriptionsByIDs, appOnly, (*Server).deleteSubscriptions)
	s.handleActivity(api.OpGetWebhooks, appOnly, (*Server).listWebhooks)
	s.handleActivity(api.OpCreateWebhooks, appOnly, (*Server).createWebhook)
	s.handleActivity(api.OpValidateWebhooks, appOnly, (*Server).validateWebhook)
	s.handleActivity(api.OpDeleteWebhooks, appOnly, (*Server).deleteWebhook)
	s.handleActivity(api.OpCreateWebhookReplayJob, appOnly, (*Server).replayWebhook)
}

// handleActivity registers an Activity API operation: it authenticates the
// app or user token, checks scopes and rate limits, then runs h without
// holding Server.mu (handlers may stream or call webhooks).
func (s *Server) handleActivity(op api.Operation, acc access, h activityHandler) {
	s.mux.HandleFunc(op.Route(), func(w http.ResponseWriter, r *http.Request) {
		p, perr := s.activityPrincipal(r, op, acc)
		if perr != nil {
			s.limiter.allow(w, "anon|"+clientHost(r), op.ID, s.cfg.clock())
			if perr.status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="emulator"`)
			}
			writeProblem(w, perr)
			return
		}
		if !s.limiter.allow(w, p.rateKey(), op.ID, s.cfg.clock()) {
			writeProblem(w, errRateLimited())
			return
		}
		if perr := h(s, w, r, p); perr != nil {
			writeProblem(w, perr)
		}
	})
}

func (s *Server) activityPrincipal(r *http.Request, op api.Operation, acc access) (*principal, *apiError) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if ok && strings.EqualFold(scheme, "Bearer") && tok != "" && len(tok) <= 512 && s.rt.isAppToken(tok) {
		if !acc.app {
			return nil, forbiddenClient("This operation requires a user-context token.")
		}
		return &principal{app: true}, nil
	}
	s.mu.Lock()
	user, t, perr := s.authenticate(r)
	s.mu.Unlock()
	if perr != nil {
		return nil, perr
	}
	if !acc.user {
		return nil, forbiddenClient("This operation requires the app-only bearer token (OAuth 2.0 App Only).")
	}
	if missing := missingScopes(t, op.Scopes); len(missing) > 0 {
		return nil, errMissingScopes(op.ID, missing)
	}
	return &principal{user: user, tok: t}, nil
}

// forbiddenClient is the 403 answer to the wrong kind of token: a
// not-authorized-for-resource problem about the operation (the
// documents' Problem variants have no client-forbidden).
func forbiddenClient(detail string) *apiError {
	e := newProblem(http.StatusForbidden, api.ProblemNotAuthorizedForResource, "Forbidden", detail)
	e.problem.ResourceType = "operation"
	return e
}

// activityBody reads a bounded JSON request body.
func (s *Server) activityBody(w http.ResponseWriter, r *http.Request, op api.Operation) ([]byte, *apiError) {
	body, perr := readBody(w, r, s.cfg.maxBody)
	if perr != nil {
		return nil, perr
	}
	if perr := checkContentType(r, op, body); perr != nil {
		return nil, perr
	}
	return body, nil
}

// privateEvent reports whether subscribing to t needs the monitored user's
// authorisation, and with which scope.
func privateEvent(t string) (string, bool) {
	switch {
	case strings.HasPrefix(t, "chat."), strings.HasPrefix(t, "dm."):
		return "dm.read", true
	case t == "like.create":
		return "like.read", true
	case strings.HasPrefix(t, "mute."):
		return "mute.read", true
	case strings.HasPrefix(t, "block."):
		return "block.read", true
	case t == "broadcast.chat":
		return "broadcast.read", true
	case strings.HasPrefix(t, "post.") && t != "post.create" && t != "post.delete":
		return "tweet.read", true
	}
	return "", false
}

// createSubscription is POST /2/activity/subscriptions.
func (s *Server) createSubscription(w http.ResponseWriter, r *http.Request, p *principal) *apiError {
	body, perr := s.activityBody(w, r, api.OpCreateActivitySubscription)
	if perr != nil {
		return perr
	}
	var req api.CreateActivitySubscriptionRequest
	if perr := decodeJSON(body, &req, true); perr != nil {
		return perr
	}
	if perr := s.checkSubscription(&req, p); perr != nil {
		return perr
	}
	now := s.cfg.clock().UTC()
	rt := s.rt
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if req.WebhookID != "" && rt.webhooks[req.WebhookID] == nil {
		return errNotFound("webhook", req.WebhookID)
	}
	if len(rt.subs) >= maxSubscriptions {
		return newProblem(http.StatusTooManyRequests, api.ProblemUsageCapped, "Usage Capped",
			"The app has reached its limit of "+strconv.Itoa(maxSubscriptions)+" subscriptions.")
	}
	for _, old := range rt.subs {
		if old.EventType == req.EventType && old.Filter == req.Filter && old.WebhookID == req.WebhookID {
			e := newProblem(http.StatusConflict, api.ProblemInvalidRequest, "Duplicate Subscription",
				"DuplicateSubscription: subscription "+old.SubscriptionID+" already delivers these events.")
			e.problem.Parameter = "event_type"
			return e
		}
	}
	ts := now.Format(time.RFC3339Nano)
	sub := &subscriptionRec{created: now, ActivitySubscription: api.ActivitySubscription{
		SubscriptionID: s.newID(), EventType: req.EventType, Filter: req.Filter,
		Tag: req.Tag, WebhookID: req.WebhookID, CreatedAt: ts, UpdatedAt: ts,
	}}
	rt.subs[sub.SubscriptionID] = sub
	out := sub.ActivitySubscription
	writeJSON(w, http.StatusOK, api.ActivitySubscriptionResponse{Data: &api.ActivitySubscriptionData{Subscription: &out}})
	return nil
}

// checkSubscription validates a new subscription against the caller.
func (s *Server) checkSubscription(req *api.CreateActivitySubscriptionRequest, p *principal) *apiError {
	if !slices.Contains(api.ActivityEventTypes, req.EventType) {
		return errInvalid("event_type", "The event_type %q is not supported.", clip(req.EventType))
	}
	if req.EventType == api.EventChatConversationJoinLegacy {
		req.EventType = api.EventChatConversationJoin // responses use the canonical name
	}
	f := req.Filter
	if f.UserID == "" && req.EventType != "news.new" {
		return errInvalid("filter.user_id", "filter.user_id is required for %s.", req.EventType)
	}
	if f.UserID != "" && !isID(f.UserID) {
		return errInvalid("filter.user_id", "filter.user_id must be a user id.")
	}
	if f.Direction != "" && (req.EventType != "like.create" || (f.Direction != "inbound" && f.Direction != "outbound")) {
		return errInvalid("filter.direction", "filter.direction is only supported for like.create, as inbound or outbound.")
	}
	if n := len([]rune(req.Tag)); req.Tag != "" && n > api.ActivityTagMaxLength {
		return errInvalid("tag", "The tag must be 1 to %d characters.", api.ActivityTagMaxLength)
	}
	if req.WebhookID != "" && !isID(req.WebhookID) {
		return errInvalid("webhook_id", "webhook_id must be a numeric id.")
	}
	scope, private := privateEvent(req.EventType)
	if !private {
		return nil
	}
	if p.app {
		return forbiddenClient(req.EventType + " is a private event: create its subscription with a user-context token of the monitored user.")
	}
	if !p.tok.hasScope(scope) {
		return errMissingScopes(api.OpCreateActivitySubscription.ID, []string{scope})
	}
	if f.UserID != p.user.ID {
		return errForbidden("user", f.UserID, "A private event subscription must filter on the authorizing user.")
	}
	return nil
}

// listSubscriptions is GET /2/activity/subscriptions. A user token sees the
// subscriptions filtering on that user only.
func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request, p *principal) *apiError {
	q := r.URL.Query()
	max := 100
	if v := q.Get("max_results"); v != "" || q.Has("max_results") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > api.ActivitySubscriptionsMaxResults {
			return errInvalid("max_results", "The `max_results` query parameter value [%s] is not between 1 and %d", clip(v), api.ActivitySubscriptionsMaxResults)
		}
		max = n
	}
	after := uint64(0)
	if tok := q.Get("pagination_token"); tok != "" || q.Has("pagination_token") {
		cur, ok := decodeToken(tokSubscriptions, tok)
		if !ok {
			return errInvalid("pagination_token", "The pagination_token is not valid.")
		}
		after = cur
	}
	rt := s.rt
	rt.mu.Lock()
	var all []api.ActivitySubscription
	for _, sub := range rt.subs {
		if p.app || sub.Filter.UserID == p.user.ID {
			all = append(all, sub.ActivitySubscription)
		}
	}
	total := len(rt.subs)
	rt.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return decimal.Compare(all[i].SubscriptionID, all[j].SubscriptionID) < 0 })
	page := []api.ActivitySubscription{}
	next := ""
	for _, sub := range all {
		id, _ := parseID(sub.SubscriptionID)
		if id <= after {
			continue
		}
		if len(page) == max {
			last, _ := parseID(page[len(page)-1].SubscriptionID)
			next = encodeToken(tokSubscriptions, last)
			break
		}
		page = append(page, sub)
	}
	writeJSON(w, http.StatusOK, api.GetActivitySubscriptionsResponse{Data: page,
		Meta: &api.ActivitySubscriptionsMeta{TotalSubscriptions: total, ResultCount: len(page), NextToken: next}})
	return nil
}

// tokSubscriptions is the pagination token kind of subscription listings.
const tokSubscriptions byte = 's'

// updateSubscription is PUT /2/activity/subscriptions/{subscription_id}.
func (s *Server) updateSubscription(w http.ResponseWriter, r *http.Request, _ *principal) *apiError {
	id := r.PathValue("subscription_id")
	body, perr := s.activityBody(w, r, api.OpUpdateActivitySubscription)
	if perr != nil {
		return perr
	}
	var req api.UpdateActivitySubscriptionRequest
	if perr := decodeJSON(body, &req, true); perr != nil {
		return perr
	}
	if req.WebhookID != "" && !isID(req.WebhookID) {
		return errInvalid("webhook_id", "webhook_id must be a numeric id.")
	}
	if n := len([]rune(req.Tag)); n > api.ActivityTagMaxLength {
		return errInvalid("tag", "The tag must be 1 to %d characters.", api.ActivityTagMaxLength)
	}
	rt := s.rt
	rt.mu.Lock()
	defer rt.mu.Unlock()
	sub := rt.subs[id]
	if sub == nil {
		return errNotFound("subscription", id)
	}
	if req.WebhookID != "" && rt.webhooks[req.WebhookID] == nil {
		return errNotFound("webhook", req.WebhookID)
	}
	if req.Tag != "" {
		sub.Tag = req.Tag
	}
	if req.WebhookID != "" {
		sub.WebhookID = req.WebhookID
	}
	sub.UpdatedAt = s.cfg.clock().UTC().Format(time.RFC3339Nano)
	out := sub.ActivitySubscription
	writeJSON(w, http.StatusOK, api.ActivitySubscriptionResponse{
		Data: &api.ActivitySubscriptionData{Subscription: &out, TotalSubscriptions: len(rt.subs)},
	})
	return nil
}

// deleteSubscription is DELETE /2/activity/subscriptions/{subscription_id}.
func (s *Server) deleteSubscription(w http.ResponseWriter, r *http.Request, _ *principal) *apiError {
	id := r.PathValue("subscription_id")
	rt := s.rt
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.subs[id] == nil {
		return errNotFound("subscription", id)
	}
	delete(rt.subs, id)
	writeJSON(w, http.StatusOK, api.DeleteActivitySubscriptionResponse{Data: &api.Deleted{Deleted: true}})
	return nil
}

// deleteSubscriptions is DELETE /2/activity/subscriptions?ids=…: unknown ids
// are reported per id and the others deleted.
func (s *Server) deleteSubscriptions(w http.ResponseWriter, r *http.Request, _ *principal) *apiError {
	raw := r.URL.Query().Get("ids")
	ids := strings.Split(raw, ",")
	if raw == "" || len(ids) > api.ActivityDeleteMaxIDs {
		return errInvalid("ids", "ids must list 1 to %d subscription ids.", api.ActivityDeleteMaxIDs)
	}
	for _, id := range ids {
		if !isID(id) {
			return errInvalid("ids", "The id %q is not a subscription id.", clip(id))
		}
	}
	rt := s.rt
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := api.DeleteActivitySubscriptionsResponse{Data: []api.DeletedActivitySubscription{}}
	for _, id := range ids {
		if rt.subs[id] == nil {
			out.Failures = append(out.Failures, api.ActivitySubscriptionFailure{SubscriptionID: id, Reason: "NotFound", Message: "No such subscription."})
			continue
		}
		delete(rt.subs, id)
		out.Data = append(out.Data, api.DeletedActivitySubscription{SubscriptionID: id, Deleted: true})
	}
	out.Meta = &api.ActivitySubscriptionsMeta{TotalSubscriptions: len(rt.subs)}
	writeJSON(w, http.StatusOK, out)
	return nil
}
