package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/xchat-go/xchat/api"
)

// Hooks connect a Source to the bot.
type Hooks struct {
	// Resync asks for a full reconciliation with /events: call it after a
	// reconnection, when events may have been lost.
	Resync func()
	// Missed reports a delivery the source could not read (a skipped
	// line): a full reconciliation, at most once per reconciliation
	// period, so that junk lines cannot each buy one. Nil in Hooks made
	// by hand: call Resync then.
	Missed func()
	// Connected reports whether the transport is up (readiness).
	Connected func(bool)
	// Error reports a failure the source recovers from.
	Error func(error)
	// Fatal reports why the source ended for good; the events channel is
	// closed after it.
	Fatal func(error)
}

// Source is a transport of activity events: the Activity stream, a
// webhook receiver, or any channel. The bot verifies every event itself:
// a source only carries them.
type Source interface {
	// Open starts the transport for the account userID. The channel is
	// closed when ctx ends or the transport ends for good (after
	// h.Fatal).
	Open(ctx context.Context, userID string, h Hooks) (<-chan *api.ActivityEvent, error)
}

// ChatEventTypes are the activity subscriptions a bot needs.
var ChatEventTypes = []string{api.EventChatReceived, api.EventChatSent, api.EventChatConversationJoin}

// Subscribe makes sure account userID is subscribed to its chat events
// (ChatEventTypes), delivered to webhookID or, when it is empty, to the
// stream. app (the app's bearer token) lists the subscriptions; user (the
// account's own token) creates the missing ones.
func Subscribe(ctx context.Context, app, user *api.Client, userID, webhookID string) error {
	have := map[string]bool{}
	for s, err := range app.ActivitySubscriptions(ctx, nil) {
		if err != nil {
			return fmt.Errorf("bot: listing subscriptions: %w", err)
		}
		if s.Filter.UserID == userID && s.WebhookID == webhookID {
			have[s.EventType] = true
		}
	}
	for _, t := range ChatEventTypes {
		if have[t] {
			continue
		}
		_, _, err := user.CreateActivitySubscription(ctx, &api.CreateActivitySubscriptionRequest{
			EventType: t, Filter: api.ActivitySubscriptionFilter{UserID: userID}, WebhookID: webhookID, Tag: "xchat-bot"})
		var ae *api.Error
		if err != nil && !(errors.As(err, &ae) && ae.StatusCode == http.StatusConflict) {
			return fmt.Errorf("bot: subscribing to %s: %w", t, err)
		}
	}
	return nil
}

// RegisterWebhook returns the id of the app's webhook at url, registering
// it (X then runs a CRC against the receiver, which must be serving) or
// revalidating an existing registration.
func RegisterWebhook(ctx context.Context, app *api.Client, url string) (string, error) {
	list, _, err := app.ListWebhooks(ctx)
	if err != nil {
		return "", fmt.Errorf("bot: listing webhooks: %w", err)
	}
	for _, w := range list.Data {
		if w.URL == url {
			if _, _, err := app.ValidateWebhook(ctx, w.ID); err != nil {
				return "", fmt.Errorf("bot: revalidating webhook %s: %w", w.ID, err)
			}
			return w.ID, nil
		}
	}
	r, _, err := app.CreateWebhook(ctx, url)
	if err != nil {
		return "", fmt.Errorf("bot: registering webhook %s: %w", url, err)
	}
	return r.Data.ID, nil
}

// StreamSource follows the Activity stream (GET /2/activity/stream).
type StreamSource struct {
	// App is a client with the app's bearer token. Required.
	App *api.Client
	// User, when set, is the account's own client: Open first creates the
	// chat subscriptions the account lacks (see Subscribe).
	User *api.Client
	// Options configure the stream (OnStatus is chained, not replaced).
	Options api.StreamOptions
}

// missed calls Missed, or Resync when it is not set.
func (h Hooks) missed() {
	if h.Missed != nil {
		h.Missed()
		return
	}
	h.Resync()
}

// Stream returns the Activity stream source (see StreamSource).
func Stream(app, user *api.Client) *StreamSource { return &StreamSource{App: app, User: user} }

// Open subscribes the account (when User is set) and opens the stream; a
// reconnection or a skipped line asks for a resync.
func (s *StreamSource) Open(ctx context.Context, userID string, h Hooks) (<-chan *api.ActivityEvent, error) {
	if s.App == nil {
		return nil, fmt.Errorf("%w: the stream needs the app's client", ErrConfig)
	}
	if s.User != nil {
		if err := Subscribe(ctx, s.App, s.User, userID, ""); err != nil {
			return nil, err
		}
	}
	o := s.Options
	user := o.OnStatus
	o.OnStatus = func(st api.StreamStatus) {
		switch st.State {
		case api.StreamConnected:
			h.Connected(true)
			if st.Reconnect {
				h.Resync()
			}
		case api.StreamDisconnected:
			h.Connected(false)
			h.Error(fmt.Errorf("bot: stream disconnected: %w", st.Err))
		case api.StreamSkipped:
			h.missed()
			h.Error(st.Err)
		case api.StreamProblem:
			h.Error(st.Err)
		}
		if user != nil {
			user(st)
		}
	}
	st, err := s.App.ActivityStream(ctx, &o)
	if err != nil {
		return nil, err
	}
	out := make(chan *api.ActivityEvent)
	go func() {
		defer close(out)
		for ev := range st.Events() {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
		<-st.Done()
		if err := st.Err(); err != nil && ctx.Err() == nil {
			h.Connected(false)
			h.Fatal(fmt.Errorf("bot: the Activity stream ended: %w", err))
		}
	}()
	return out, nil
}

// WebhookSource takes events from a webhook receiver the caller serves
// (see api.WebhookReceiver).
type WebhookSource struct {
	// Receiver is the receiver. Required.
	Receiver *api.WebhookReceiver
	// App (the app's bearer token) and URL, when both set: Open registers
	// the webhook at URL (the public address X posts to) and, with User
	// set, subscribes the account to it.
	App  *api.Client
	User *api.Client
	URL  string
}

// Webhook returns the source of a webhook receiver (see WebhookSource).
func Webhook(recv *api.WebhookReceiver) *WebhookSource { return &WebhookSource{Receiver: recv} }

// Open registers and subscribes as configured, then passes the receiver's
// events on. The receiver counts as connected from the start: X retries
// failed deliveries and reconciliation covers the rest.
func (s *WebhookSource) Open(ctx context.Context, userID string, h Hooks) (<-chan *api.ActivityEvent, error) {
	if s.Receiver == nil {
		return nil, fmt.Errorf("%w: the webhook source needs its receiver", ErrConfig)
	}
	if s.App != nil && s.URL != "" {
		id, err := RegisterWebhook(ctx, s.App, s.URL)
		if err != nil {
			return nil, err
		}
		if s.User != nil {
			if err := Subscribe(ctx, s.App, s.User, userID, id); err != nil {
				return nil, err
			}
		}
	}
	h.Connected(true)
	return relayUntil(ctx, s.Receiver.Events()), nil
}

// ChannelSource passes on the events of a channel (tests, custom
// transports). It counts as connected.
type ChannelSource struct{ C <-chan *api.ActivityEvent }

// Events returns the source of channel ch.
func Events(ch <-chan *api.ActivityEvent) *ChannelSource { return &ChannelSource{C: ch} }

// Open passes the channel's events on until ctx ends or it is closed.
func (s *ChannelSource) Open(ctx context.Context, _ string, h Hooks) (<-chan *api.ActivityEvent, error) {
	h.Connected(true)
	return relayUntil(ctx, s.C), nil
}

// PollSource has no push at all: the bot finds new events by reconciling
// with /events every Every (the fallback when neither the stream nor a
// webhook is available).
type PollSource struct{ Every time.Duration }

// Poll returns the polling source.
func Poll(every time.Duration) *PollSource { return &PollSource{Every: every} }

// Open returns a channel that stays open until ctx ends.
func (s *PollSource) Open(ctx context.Context, _ string, h Hooks) (<-chan *api.ActivityEvent, error) {
	if s.Every <= 0 {
		return nil, fmt.Errorf("%w: poll interval %v", ErrConfig, s.Every)
	}
	h.Connected(true)
	out := make(chan *api.ActivityEvent)
	go func() { <-ctx.Done(); close(out) }()
	return out, nil
}

func (s *PollSource) pollEvery() time.Duration { return s.Every }

// relayUntil passes in's events on until ctx ends or in is closed.
func relayUntil(ctx context.Context, in <-chan *api.ActivityEvent) <-chan *api.ActivityEvent {
	out := make(chan *api.ActivityEvent)
	go func() {
		defer close(out)
		for {
			select {
			case ev, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
