// Package inbound is the receive pipeline of the xchat-go engine: it turns
// encoded server events (Thrift MessageEvent envelopes) into the verified,
// decrypted values of package session/event. It is internal: the session
// engine is its one caller, besides this module's benchmarks and attack
// tests. Its sentinel errors are finer than an app needs; each matches one
// of package xchat's (the module root's), which are the ones apps test for.
//
// The server is untrusted. Every signed event is verified against signing
// keys the caller has pinned (see Keys); keys carried inside an event
// (MessageEventSignature.signing_public_key and the signing-key info list) are
// never used for verification, only compared with the pinned key and reported
// as a warning on a mismatch. An event that cannot be verified is returned
// with Err set and Verified false and without its detail; a message is
// verified before it is decrypted, so the plaintext of a message whose
// signature fails is never produced, let alone exposed.
//
// Entry points:
//
//   - Decrypt and DecryptBase64 handle one event.
//   - DecryptBatch streams a whole history through a bounded worker pool,
//     preserving order and applying key changes before later messages.
//   - Chain checks a transcript for gaps, duplicates, forks and reorders and
//     names the key versions whose key changes are missing.
//
// # Behaviour matched to the official Chat XDK
//
// The pipeline mirrors the XDK's receive path under its default
// reject-unverified policy (crates/core/src/core.rs: decrypt_event,
// decrypt_events, verify_event_signature, build_event_signature_payload,
// validate_reply_preview, extract_conversation_keys,
// enforce_ckey_signatures, apply_ckey_freshness; docs/CRYPTO.md §7, §10):
//
//   - Signed kinds: message create, key change, group change (all variants
//     but admin-settings, which has no signed payload and is rejected),
//     delete, conversation delete, metadata change, mark read/unread.
//     Failure, typing, Grok and member-account-delete events are unsigned.
//   - The signing key is the sender's pinned key at the signature's
//     public_key_version; the payload is rebuilt from the event
//     ("MessageCreateEvent,{message_id},{sender_id},{conversation_id},
//     {conversation_key_version},{b64nopad(contents)}", and the per-kind
//     layouts of signature versions 2 to 7); a component containing a comma
//     makes the event unverifiable.
//   - A missing signature_version means the current one (7); versions below
//     2 are rejected as downgrades.
//   - Key changes: this account's participant entry is unwrapped (ECIES)
//     with the identity key; from signature version 6 the signature covers
//     the plaintext key. A pre-v6 key change that does not verify stays
//     usable for decrypting history (messages are verified on their own),
//     flagged KeyChange.DecryptOnly; only a verified v6+ key change may
//     supply an encryption key (KeyChange.UsableForEncryption), and callers
//     keep a monotonic high-water mark (internal/decimal compares versions).
//   - Reply previews that embed their raw source event are validated:
//     same conversation, source signature verified with pinned keys, source
//     decrypted (caller keys, keys from the batch, or embedded key changes),
//     every claim compared (sender, sequence id, message id, text as a
//     prefix on a character boundary, entities, attachments), and an
//     embedded edit must verify and come from the original's author.
//
// # Stricter than the XDK
//
//   - signature_version must be canonical decimal in [2, 7]: the XDK
//     accepts "07", "+7", "" and versions above 7 (live SDK 0.4.3).
//   - A participant entry is matched by user id as well as key version.
//   - A verified key change carrying a different key for a version whose
//     verified key is held is rejected (ErrKeyConflict) and never replaces
//     the held key. An unverified one never replaces or conflicts with a
//     held key; a verified one replaces an unverified key (see KeyTrust).
//   - The XDK's enforcement threshold (a v6+ key change that does not
//     verify is kept below a certain sequence id) is not applied: sequence
//     ids are not signed, so a v6+ key change that does not verify is always
//     dropped.
//   - A signed event in a one-to-one conversation must come from one of
//     its two users (ErrSenderNotParticipant).
//   - An embedded edit must target the embedded original's sequence id.
//   - Options.ConversationID rejects events relayed from other
//     conversations before anything else is done with them.
//   - Events with no detail and message creates without contents are
//     errors (ErrMalformed) rather than "unknown" events.
package inbound
