package session

import (
	"context"
	"errors"
	"io"

	"github.com/xchat-go/xchat/api"
)

// apiServer adapts *api.Client to the Server interface.
type apiServer struct {
	client *api.Client // used for every call
}

// NewAPIServer returns the Server backed by c: X's API, or any server of
// the same REST surface (the emulator).
func NewAPIServer(c *api.Client) Server { return &apiServer{client: c} }

var _ Server = (*apiServer)(nil)

// eventFields are the ChatMessageEvent fields the engine needs. created_at
// is not asked for: the specification lists it but X's events page (seed
// 003) lists created_at_msec instead, and the signed encoded_event carries
// the time anyway.
var eventFields = []string{"id", "encoded_event", "previous_id", "sender_id", "conversation_id"}

// conversationFields and conversationExpansions are what the engine reads
// from conversation listings (servers answer only what is asked for).
var (
	conversationFields     = []string{"id", "type", "group_name", "group_avatar_url", "message_ttl_ms"}
	conversationExpansions = []string{"admin_ids", "member_ids"}
)

// publicKeyFields are the PublicKey fields the engine needs.
var publicKeyFields = []string{"public_key", "public_key_version", "signing_public_key", "identity_public_key_signature"}

// RegisterPublicKey implements Server.
func (s *apiServer) RegisterPublicKey(ctx context.Context, userID string, req *api.AddUserPublicKeyRequest) (*api.AddUserPublicKeyResponse, error) {
	d, _, err := s.client.RegisterPublicKey(ctx, userID, req)
	if err != nil {
		return nil, err
	}
	return &api.AddUserPublicKeyResponse{Data: d}, nil
}

// GetPublicKeys implements Server. When the batch answer does not say which
// user each key belongs to (user_id is not in the specification), the keys
// are fetched user by user instead, so they can be attributed reliably.
func (s *apiServer) GetPublicKeys(ctx context.Context, userIDs []string) (*api.GetUsersPublicKeysResponse, error) {
	resp, _, err := s.client.GetUsersPublicKeys(ctx, userIDs, publicKeyFields)
	if err = partialOK(resp != nil, err); err != nil {
		return nil, err
	}
	attributed := true
	for _, k := range resp.Data {
		if k.UserID == "" {
			attributed = false
		}
	}
	if attributed || len(userIDs) == 1 {
		return resp, nil
	}
	out := &api.GetUsersPublicKeysResponse{}
	for _, id := range userIDs {
		one, _, err := s.client.GetUserPublicKeys(ctx, id, publicKeyFields)
		if err = partialOK(one != nil, err); err != nil {
			if errors.Is(err, api.ErrNotFound) {
				continue
			}
			return nil, err
		}
		for _, k := range one.Data {
			k.UserID = id
			out.Data = append(out.Data, k)
		}
	}
	return out, nil
}

// PublicKeysByUser fetches the keys of userIDs grouped by user (see
// api.Client.GetPublicKeysByUser): one batch call when every key matches a
// known key set, per-user calls only for what a batch answer cannot
// attribute. The engine uses it instead of GetPublicKeys.
func (s *apiServer) PublicKeysByUser(ctx context.Context, userIDs []string, known []api.KnownKey) (map[string][]api.PublicKey, error) {
	got, err := s.client.GetPublicKeysByUser(ctx, userIDs, publicKeyFields, known)
	if err != nil {
		return nil, err
	}
	return got.Keys, nil
}

// AddConversationKeys implements Server.
func (s *apiServer) AddConversationKeys(ctx context.Context, conversationID string, req *api.AddConversationKeysRequest) (*api.AddConversationKeysResponse, error) {
	d, _, err := s.client.AddConversationKeys(ctx, conversationID, req)
	if err != nil {
		return nil, err
	}
	return &api.AddConversationKeysResponse{Data: d}, nil
}

// InitializeGroup implements Server.
func (s *apiServer) InitializeGroup(ctx context.Context) (*api.InitializeChatGroupResponse, error) {
	d, _, err := s.client.InitializeGroup(ctx)
	if err != nil {
		return nil, err
	}
	return &api.InitializeChatGroupResponse{Data: d}, nil
}

// CreateGroup implements Server.
func (s *apiServer) CreateGroup(ctx context.Context, req *api.CreateChatConversationRequest) (*api.CreateChatConversationResponse, error) {
	d, _, err := s.client.CreateGroup(ctx, req)
	if err != nil {
		return nil, err
	}
	return &api.CreateChatConversationResponse{Data: d}, nil
}

// AddGroupMembers implements Server.
func (s *apiServer) AddGroupMembers(ctx context.Context, conversationID string, req *api.AddChatGroupMembersRequest) (*api.AddChatGroupMembersResponse, error) {
	d, _, err := s.client.AddMembers(ctx, conversationID, req)
	if err != nil {
		return nil, err
	}
	return &api.AddChatGroupMembersResponse{Data: d}, nil
}

// SendMessage implements Server.
func (s *apiServer) SendMessage(ctx context.Context, conversationID string, req *api.SendChatMessageRequest) (*api.SendChatMessageResponse, error) {
	d, _, err := s.client.SendMessage(ctx, conversationID, req)
	if err != nil {
		return nil, err
	}
	return &api.SendChatMessageResponse{Data: d}, nil
}

// DeleteMessages implements Server.
func (s *apiServer) DeleteMessages(ctx context.Context, conversationID string, req *api.DeleteChatMessagesRequest) (*api.DeleteChatMessagesResponse, error) {
	d, _, err := s.client.DeleteMessages(ctx, conversationID, req)
	if err != nil {
		return nil, err
	}
	return &api.DeleteChatMessagesResponse{Data: d}, nil
}

// GetConversationEvents implements Server.
func (s *apiServer) GetConversationEvents(ctx context.Context, conversationID string, maxResults int, paginationToken string) (*api.GetChatConversationEventsResponse, error) {
	resp, _, err := s.client.GetConversationEvents(ctx, conversationID, &api.ConversationEventsOptions{
		MaxResults:             maxResults,
		PaginationToken:        paginationToken,
		ChatMessageEventFields: eventFields,
	})
	return resp, err
}

// GetConversations implements Server.
func (s *apiServer) GetConversations(ctx context.Context, maxResults int, paginationToken string) (*api.GetChatConversationsResponse, error) {
	resp, _, err := s.client.ListConversations(ctx, &api.ListConversationsOptions{
		MaxResults:             maxResults,
		PaginationToken:        paginationToken,
		ChatConversationFields: conversationFields,
		Expansions:             conversationExpansions,
	})
	return resp, err
}

// GetConversation implements Server.
func (s *apiServer) GetConversation(ctx context.Context, conversationID string) (*api.GetChatConversationResponse, error) {
	resp, _, err := s.client.GetConversation(ctx, conversationID, &api.GetConversationOptions{
		ChatConversationFields: conversationFields,
		Expansions:             conversationExpansions,
	})
	return resp, err
}

// MarkRead implements Server.
func (s *apiServer) MarkRead(ctx context.Context, conversationID string, req *api.MarkChatConversationReadRequest) (*api.MarkChatConversationReadResponse, error) {
	d, _, err := s.client.MarkRead(ctx, conversationID, req.SeenUntilSequenceID)
	if err != nil {
		return nil, err
	}
	return &api.MarkChatConversationReadResponse{Data: d}, nil
}

// SendTyping implements Server.
func (s *apiServer) SendTyping(ctx context.Context, conversationID string) (*api.SendChatTypingIndicatorResponse, error) {
	d, _, err := s.client.SendTyping(ctx, conversationID)
	if err != nil {
		return nil, err
	}
	return &api.SendChatTypingIndicatorResponse{Data: d}, nil
}

// MediaUploadInitialize implements Server.
func (s *apiServer) MediaUploadInitialize(ctx context.Context, req *api.ChatMediaUploadInitializeRequest) (*api.ChatMediaUploadInitializeResponse, error) {
	d, _, err := s.client.MediaUploadInitialize(ctx, req)
	if err != nil {
		return nil, err
	}
	return &api.ChatMediaUploadInitializeResponse{Data: d}, nil
}

// MediaUploadAppend implements Server.
func (s *apiServer) MediaUploadAppend(ctx context.Context, sessionID string, req *api.ChatMediaUploadAppendRequest) (*api.ChatMediaUploadAppendResponse, error) {
	d, _, err := s.client.MediaUploadAppend(ctx, sessionID, req)
	if err != nil {
		return nil, err
	}
	return &api.ChatMediaUploadAppendResponse{Data: d}, nil
}

// MediaUploadFinalize implements Server.
func (s *apiServer) MediaUploadFinalize(ctx context.Context, sessionID string, req *api.ChatMediaUploadFinalizeRequest) (*api.ChatMediaUploadFinalizeResponse, error) {
	d, _, err := s.client.MediaUploadFinalize(ctx, sessionID, req)
	if err != nil {
		return nil, err
	}
	return &api.ChatMediaUploadFinalizeResponse{Data: d}, nil
}

// MediaDownload implements Server: the body streams from the connection
// (api.Client.OpenMedia), so a download never holds the whole ciphertext.
func (s *apiServer) MediaDownload(ctx context.Context, conversationID, mediaHashKey string) (io.ReadCloser, error) {
	rc, _, err := s.client.OpenMedia(ctx, conversationID, mediaHashKey)
	if err != nil {
		return nil, err
	}
	return rc, nil
}

// partialOK drops an *api.PartialError when the call still returned data:
// problems about some items (for example users without keys) do not fail
// the call; the engine validates every item it uses.
func partialOK(haveData bool, err error) error {
	var pe *api.PartialError
	if haveData && errors.As(err, &pe) {
		return nil
	}
	return err
}
