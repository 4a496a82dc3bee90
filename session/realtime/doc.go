// Package realtime follows an account's events as X pushes them: a
// Follower takes the activity events of a transport (the Activity stream,
// api.Client.ActivityStream, or a webhook, api.WebhookReceiver) and hands
// the application each new conversation event once, verified and
// decrypted, with the path it came by.
//
// Push is not trusted for completeness. The Follower passes every activity
// event to session.Engine.Deliver (the engine's one entry point for pushed
// events, which verifies and stores them exactly as a sync would), then
// reconciles the conversations it touched with /events
// (session.Engine.Reconcile), and everything at start, after a
// reconnection (Resync) and periodically (session.Engine.RefreshConversations,
// then Reconcile naming every conversation), so an event the push dropped
// still arrives, by reconciliation. Events are de-duplicated by the engine's store: one fetched first is not emitted
// again when its push arrives.
package realtime
