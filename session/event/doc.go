// Package event is the data model of what the session engine hands an
// app about a conversation: Event, one received event as decoded and
// verified (the detail of its kind, the message contents, key and group
// changes), Entry, the flattened form the engine stores and History
// returns (Event.Entry converts), and Anomaly, a finding about a
// transcript (a gap, a fork, a replay).
//
// The package holds values only: the engine (package session) makes them,
// and its receive pipeline fills them after checking every signature
// against pinned keys. What the server can choose is marked on each field
// (sequence ids, timestamps, TTLs and notification flags are unsigned);
// Event.Verified and Entry.Verified say whether the rest is authentic.
// Event.Err, KeyChange.KeyErr, Event.Warnings and PreviewValidation.Reason
// hold errors of package session's one family: test them with errors.Is
// against its sentinels (the table is in session's documentation).
package event
