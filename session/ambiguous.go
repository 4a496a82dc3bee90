package session

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/wire"
)

// A write whose answer is lost may or may not have taken effect, and the
// X API specification does not promise that repeating it with the same
// message_id is harmless. The engine therefore looks before it repeats:
// the outbox syncs the conversation and looks for a message's id (see
// FlushOutbox), a key change is looked for among the conversation's key
// change events (postKeyChange), and a repeated delete answered 404 counts
// as done.

// attempt is how one failed attempt left an item.
type attempt int

const (
	// attemptRefused: the request never reached the server, or the server
	// refused it without acting (401, 403, 408, 429, 404 for a message):
	// keep the item, resend it as is.
	attemptRefused attempt = iota
	// attemptAmbiguous: the request may have taken effect (reset or
	// timeout after it left, 5xx, a problems-only answer, cancellation):
	// keep the item, look for it before resending.
	attemptAmbiguous
	// attemptRejected: a definite, content-related rejection: drop it.
	attemptRejected
)

// classify decides what a failed attempt of an item of kind means.
func classify(kind string, err error) attempt {
	var ae *api.Error
	if errors.As(err, &ae) {
		switch {
		case ae.StatusCode >= 500:
			return attemptAmbiguous
		case ae.StatusCode == http.StatusNotFound && kind == outboxDelete:
			return attemptRejected // the messages do not exist
		case ae.StatusCode == http.StatusBadRequest, ae.StatusCode == http.StatusConflict,
			ae.StatusCode == http.StatusGone, ae.StatusCode == http.StatusRequestEntityTooLarge,
			ae.StatusCode == http.StatusUnprocessableEntity:
			return attemptRejected
		case ae.StatusCode >= 400:
			return attemptRefused
		}
		return attemptAmbiguous
	}
	if neverSent(err) {
		return attemptRefused
	}
	return attemptAmbiguous
}

// neverSent reports a failure that happened before any byte of the request
// left: the connection could not be made, or no access token was at hand.
func neverSent(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	return errors.Is(err, api.ErrUnauthorized)
}

// postKeyChange posts a prepared key change. When the attempt may have
// reached the server without an answer, it looks for the key change among
// the conversation's current key change events (by its message id) and
// posts it again only when it is not there. The caller holds the
// conversation lock.
func (e *Engine) postKeyChange(ctx context.Context, srv Server, cid string, p *preparedKey) (*api.AddConversationKeysResponse, error) {
	req := &api.AddConversationKeysRequest{
		ConversationKeyVersion:      p.version,
		ConversationParticipantKeys: p.participants,
		ActionSignatures:            []api.ActionSignature{p.action},
	}
	if err := e.checkLeases(ctx); err != nil {
		return nil, err
	}
	resp, err := srv.AddConversationKeys(ctx, api.ConversationPathID(cid), req)
	if err == nil || classify(outboxMessage, err) != attemptAmbiguous || ctx.Err() != nil {
		return resp, err
	}
	found, ferr := e.findKeyChange(ctx, srv, cid, p)
	if ferr != nil {
		return nil, err // cannot tell: report the first failure, post nothing more
	}
	if found {
		return &api.AddConversationKeysResponse{Data: &api.AddConversationKeysData{ConversationID: api.ConversationPathID(cid)}}, nil
	}
	return srv.AddConversationKeys(ctx, api.ConversationPathID(cid), req)
}

// findKeyChange reports whether the server serves p's key change: the first
// page of the conversation's events carries its latest key change in
// meta.conversation_key_events. The key change is recognised by its
// client-minted message id, sender and version; its message id is random
// and only known to a server that received the request.
func (e *Engine) findKeyChange(ctx context.Context, srv Server, cid string, p *preparedKey) (bool, error) {
	resp, err := srv.GetConversationEvents(ctx, api.ConversationPathID(cid), 1, "")
	if errors.Is(err, api.ErrNotFound) {
		return false, nil // the conversation does not exist yet: nothing landed
	}
	if err != nil {
		return false, err
	}
	if resp.Meta == nil {
		return false, nil
	}
	for _, enc := range resp.Meta.ConversationKeyEvents {
		raw, err := wire.DecodeB64(enc)
		if err != nil {
			continue
		}
		me, err := wire.DecodeMessageEvent(raw)
		if err != nil || me.Detail == nil || me.Detail.ConversationKeyChangeEvent == nil {
			continue
		}
		if me.GetMessageID() == p.messageID && me.GetSenderID() == e.userID &&
			me.Detail.ConversationKeyChangeEvent.GetConversationKeyVersion() == p.version {
			return true, nil
		}
	}
	return false, nil
}
