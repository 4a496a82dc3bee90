package session

import (
	"context"
	"io"

	"github.com/xchat-go/xchat/api"
)

// Server is the narrow view of the X API the engine needs. *api.Client
// satisfies it through NewAPIServer; tests and embedders may supply their
// own implementation. Every conversation id argument is the REST path form
// (see api.ConversationPathID): "A-B" for one-to-one conversations, "g<digits>" for groups.
//
// The engine treats every Server as untrusted: it validates what comes back
// and never relies on the server for authenticity.
type Server interface {
	// RegisterPublicKey publishes the account's public keys
	// (POST /2/users/{id}/public_keys).
	RegisterPublicKey(ctx context.Context, userID string, req *api.AddUserPublicKeyRequest) (*api.AddUserPublicKeyResponse, error)
	// GetPublicKeys fetches the registered public keys of up to 100 users
	// (GET /2/users/public_keys?ids=...).
	GetPublicKeys(ctx context.Context, userIDs []string) (*api.GetUsersPublicKeysResponse, error)
	// AddConversationKeys posts a conversation key change
	// (POST /2/chat/conversations/{id}/keys).
	AddConversationKeys(ctx context.Context, conversationID string, req *api.AddConversationKeysRequest) (*api.AddConversationKeysResponse, error)
	// InitializeGroup mints a new group conversation id
	// (POST /2/chat/conversations/group/initialize).
	InitializeGroup(ctx context.Context) (*api.InitializeChatGroupResponse, error)
	// CreateGroup creates an initialised group
	// (POST /2/chat/conversations/group).
	CreateGroup(ctx context.Context, req *api.CreateChatConversationRequest) (*api.CreateChatConversationResponse, error)
	// AddGroupMembers adds members and rotates the group key
	// (POST /2/chat/conversations/{id}/members).
	AddGroupMembers(ctx context.Context, conversationID string, req *api.AddChatGroupMembersRequest) (*api.AddChatGroupMembersResponse, error)
	// SendMessage posts an encrypted message
	// (POST /2/chat/conversations/{id}/messages).
	SendMessage(ctx context.Context, conversationID string, req *api.SendChatMessageRequest) (*api.SendChatMessageResponse, error)
	// DeleteMessages deletes messages
	// (POST /2/chat/conversations/{id}/messages/delete).
	DeleteMessages(ctx context.Context, conversationID string, req *api.DeleteChatMessagesRequest) (*api.DeleteChatMessagesResponse, error)
	// GetConversationEvents returns one page of a conversation's events
	// (GET /2/chat/conversations/{id}/events). An empty paginationToken
	// requests the first page.
	GetConversationEvents(ctx context.Context, conversationID string, maxResults int, paginationToken string) (*api.GetChatConversationEventsResponse, error)
	// GetConversations returns one page of the account's conversations
	// (GET /2/chat/conversations).
	GetConversations(ctx context.Context, maxResults int, paginationToken string) (*api.GetChatConversationsResponse, error)
	// GetConversation returns one conversation
	// (GET /2/chat/conversations/{id}).
	GetConversation(ctx context.Context, conversationID string) (*api.GetChatConversationResponse, error)
	// MarkRead marks a conversation read up to a sequence id
	// (POST /2/chat/conversations/{id}/read).
	MarkRead(ctx context.Context, conversationID string, req *api.MarkChatConversationReadRequest) (*api.MarkChatConversationReadResponse, error)
	// SendTyping sends a typing indicator
	// (POST /2/chat/conversations/{id}/typing).
	SendTyping(ctx context.Context, conversationID string) (*api.SendChatTypingIndicatorResponse, error)
	// MediaUploadInitialize starts an encrypted media upload
	// (POST /2/chat/media/upload/initialize).
	MediaUploadInitialize(ctx context.Context, req *api.ChatMediaUploadInitializeRequest) (*api.ChatMediaUploadInitializeResponse, error)
	// MediaUploadAppend uploads one segment
	// (POST /2/chat/media/upload/{id}/append).
	MediaUploadAppend(ctx context.Context, sessionID string, req *api.ChatMediaUploadAppendRequest) (*api.ChatMediaUploadAppendResponse, error)
	// MediaUploadFinalize completes an upload
	// (POST /2/chat/media/upload/{id}/finalize).
	MediaUploadFinalize(ctx context.Context, sessionID string, req *api.ChatMediaUploadFinalizeRequest) (*api.ChatMediaUploadFinalizeResponse, error)
	// MediaDownload streams encrypted media
	// (GET /2/chat/media/{id}/{media_hash_key}). The caller closes the
	// reader.
	MediaDownload(ctx context.Context, conversationID, mediaHashKey string) (io.ReadCloser, error)
}
