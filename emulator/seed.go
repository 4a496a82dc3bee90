package emulator

import (
	"errors"
	"fmt"
	"slices"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// ErrSeed reports a SeedMessages request the emulator refused; the error
// text carries the problem detail sendChatMessage would have answered.
var ErrSeed = errors.New("emulator: seed refused")

// SeedMessages appends messages to the conversation id (any form the
// messages endpoint accepts) as if senderID had posted each request to
// POST /2/chat/conversations/{id}/messages, in order, and returns the
// sequence id of the last one. The events are built, chained and served
// exactly as posted ones are.
//
// It is for tests and benchmarks that need long histories quickly: it does
// not go through HTTP, stores every message in one transaction, and does
// not verify the ECDSA signature of each message (the caller vouches for
// it; receivers verify every event they are served). Every other check of
// sendChatMessage applies: membership, the latest key version, the Thrift
// shapes, the contents size, a registered signing key version and fresh
// message ids. A refused request stores nothing and fails with ErrSeed.
func (s *Server) SeedMessages(senderID, id string, reqs []api.SendChatMessageRequest) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.initErr != nil {
		return "", s.initErr
	}
	if s.st.users[senderID] == nil {
		return "", fmt.Errorf("%w: unknown user %q", ErrSeed, clip(senderID))
	}
	key, conv, perr := s.resolveConv(senderID, id)
	if perr != nil {
		return "", seedError(-1, perr)
	}
	if conv == nil || conv.Pending || conv.KeyVersion == "" {
		return "", fmt.Errorf("%w: conversation %s has no conversation key yet", ErrSeed, clip(id))
	}
	if !conv.isMember(senderID) {
		return "", fmt.Errorf("%w: %s is not a member of %s", ErrSeed, senderID, key)
	}
	for _, m := range conv.Members {
		if !conv.Group && m != senderID && slices.Contains(s.st.users[m].Blocked, senderID) {
			return "", fmt.Errorf("%w: %s cannot message %s", ErrSeed, senderID, m)
		}
	}
	tx := s.beginTx(conv)
	fresh := make(map[string]bool, len(reqs))
	for i := range reqs {
		r := &reqs[i]
		create, sig, perr := s.seedMessage(senderID, conv, r)
		if perr == nil && (fresh[r.MessageID] || s.existingAction(key, senderID, r.MessageID) != nil) {
			perr = errInvalid("message_id", "message_id %s is already used.", clip(r.MessageID))
		}
		if perr != nil {
			return "", seedError(i, perr)
		}
		fresh[r.MessageID] = true
		if _, err := tx.emit(kindMessage, senderID, r.MessageID, conv.KeyVersion, r.ConversationToken,
			&event.MessageEventDetail{MessageCreateEvent: create}, sig); err != nil {
			return "", fmt.Errorf("emulator: seeding message %d: %w", i, err)
		}
	}
	if err := tx.commit(); err != nil {
		return "", err
	}
	return fmtID(tx.conv.LastSeq), nil
}

// seedMessage runs sendChatMessage's checks on one request, the signature
// verification excepted, and returns the create event and the normalised
// signature.
func (s *Server) seedMessage(sender string, conv *convRec, r *api.SendChatMessageRequest) (*event.MessageCreateEvent, *event.MessageEventSignature, *apiError) {
	if perr := checkComponent("message_id", r.MessageID); perr != nil {
		return nil, nil, perr
	}
	if len(r.ConversationToken) > 1024 {
		return nil, nil, errInvalid("conversation_token", "conversation_token is too long.")
	}
	rawCreate, err := wire.DecodeB64(r.EncodedMessageCreateEvent)
	if err != nil {
		return nil, nil, errInvalid("encoded_message_create_event", "encoded_message_create_event must be standard base64.")
	}
	create, err := wire.DecodeMessageCreateEvent(rawCreate)
	if err != nil {
		return nil, nil, errInvalid("encoded_message_create_event", "encoded_message_create_event is not a valid Thrift MessageCreateEvent.")
	}
	if n := len(create.Contents); n < minContentsBytes || n > maxContentsBytes {
		return nil, nil, errInvalid("encoded_message_create_event", "contents must be %d to %d bytes of secretbox ciphertext.", minContentsBytes, maxContentsBytes)
	}
	if kv := create.GetConversationKeyVersion(); kv != conv.KeyVersion {
		return nil, nil, errInvalid("conversation_key_version", "%s: the message uses conversation key version %s; the latest is %s.", failNonLatestKey, clip(kv), conv.KeyVersion)
	}
	rawSig, err := wire.DecodeB64(r.EncodedMessageEventSignature)
	if err != nil {
		return nil, nil, errInvalid("encoded_message_event_signature", "%s: encoded_message_event_signature must be standard base64.", failInvalidSignature)
	}
	tsig, err := wire.DecodeMessageEventSignature(rawSig)
	if err != nil {
		return nil, nil, errInvalid("encoded_message_event_signature", "%s: encoded_message_event_signature is not a Thrift MessageEventSignature.", failInvalidSignature)
	}
	sg, perr := s.checkSignature("encoded_message_event_signature", sender, tsig)
	if perr != nil {
		return nil, nil, perr
	}
	return create, sg.sig, nil
}

// seedError turns the problem answered for request i (-1: the whole call)
// into an ErrSeed.
func seedError(i int, perr *apiError) error {
	what := perr.problem.Detail
	if p := perr.problem.Parameter; p != "" {
		what = p + ": " + what
	}
	if i < 0 {
		return fmt.Errorf("%w: %s", ErrSeed, what)
	}
	return fmt.Errorf("%w: message %d: %s", ErrSeed, i, what)
}
