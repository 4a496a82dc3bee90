package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// errStub reports a call the stub server does not serve.
var errStub = errors.New("bench: the stub server does not serve this call")

// stubServer is an in-process session.Server for timing the engine without
// HTTP, JSON or a server's own work. It answers from memory what a server
// would, so the engine runs its whole path: published keys (served as
// recorded), key changes and group creation (accepted), messages (echoed as
// the MessageEvent a server builds around them, which the engine verifies
// and stores), event pages (served as recorded from the emulator) and media
// (uploads counted, downloads served from memory).
type stubServer struct {
	self string // the account using the stub (the sender of echoed messages)

	mu       sync.Mutex
	lastTo   string
	lastSend *api.SendChatMessageRequest
	lastKeys *api.AddConversationKeysRequest
	seq      uint64
	keys     map[string][]api.PublicKey
	pages    map[string]*api.GetChatConversationEventsResponse // by pagination token; "" is the first

	keepMedia bool   // keep uploaded bytes (to serve them); otherwise count them
	uploaded  []byte // kept uploads
	nUpload   int64
	media     []byte // served by MediaDownload
}

var _ session.Server = (*stubServer)(nil)

func newStub(self string) *stubServer {
	return &stubServer{self: self, seq: 1795000000000000000, keys: map[string][]api.PublicKey{},
		pages: map[string]*api.GetChatConversationEventsResponse{}}
}

// addKeys serves keys (each labelled with its user) from GetPublicKeys.
func (s *stubServer) addKeys(keys ...api.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		s.keys[k.UserID] = append(s.keys[k.UserID], k)
	}
}

// servePages serves recorded pages: the first for an empty token, each next
// one for the token of the page before it.
func (s *stubServer) servePages(pages []*api.GetChatConversationEventsResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	token := ""
	for _, p := range pages {
		s.pages[token] = p
		if p.Meta == nil {
			break
		}
		token = p.Meta.NextToken
	}
}

func (s *stubServer) nextSeq() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return strconv.FormatUint(s.seq, 10)
}

// RegisterPublicKey accepts the registration.
func (s *stubServer) RegisterPublicKey(_ context.Context, _ string, req *api.AddUserPublicKeyRequest) (*api.AddUserPublicKeyResponse, error) {
	return &api.AddUserPublicKeyResponse{Data: &api.AddUserPublicKeyData{PublicKeyVersion: req.Version}}, nil
}

// GetPublicKeys serves the keys added with addKeys.
func (s *stubServer) GetPublicKeys(_ context.Context, userIDs []string) (*api.GetUsersPublicKeysResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &api.GetUsersPublicKeysResponse{}
	for _, id := range userIDs {
		out.Data = append(out.Data, s.keys[id]...)
	}
	return out, nil
}

// AddConversationKeys accepts the key change.
func (s *stubServer) AddConversationKeys(_ context.Context, id string, req *api.AddConversationKeysRequest) (*api.AddConversationKeysResponse, error) {
	s.mu.Lock()
	s.lastKeys = req
	s.mu.Unlock()
	return &api.AddConversationKeysResponse{Data: &api.AddConversationKeysData{ConversationID: id, SequenceID: s.nextSeq()}}, nil
}

// InitializeGroup mints a group id.
func (s *stubServer) InitializeGroup(context.Context) (*api.InitializeChatGroupResponse, error) {
	return &api.InitializeChatGroupResponse{Data: &api.InitializeChatGroupData{ConversationID: "g" + s.nextSeq()}}, nil
}

// CreateGroup accepts the group.
func (s *stubServer) CreateGroup(_ context.Context, req *api.CreateChatConversationRequest) (*api.CreateChatConversationResponse, error) {
	return &api.CreateChatConversationResponse{Data: &api.CreateChatConversationData{ConversationID: req.ConversationID}}, nil
}

// AddGroupMembers is not served.
func (s *stubServer) AddGroupMembers(context.Context, string, *api.AddChatGroupMembersRequest) (*api.AddChatGroupMembersResponse, error) {
	return nil, errStub
}

// SendMessage answers the MessageEvent a server builds around the posted
// message (sequence id, sender, conversation, time), as the X API does in
// encoded_message_event.
func (s *stubServer) SendMessage(_ context.Context, id string, req *api.SendChatMessageRequest) (*api.SendChatMessageResponse, error) {
	cid, err := session.CanonicalID(id, s.self)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.lastTo, s.lastSend = id, req
	s.mu.Unlock()
	rawCreate, err := wire.DecodeB64(req.EncodedMessageCreateEvent)
	if err != nil {
		return nil, err
	}
	create, err := wire.DecodeMessageCreateEvent(rawCreate)
	if err != nil {
		return nil, err
	}
	rawSig, err := wire.DecodeB64(req.EncodedMessageEventSignature)
	if err != nil {
		return nil, err
	}
	sig, err := wire.DecodeMessageEventSignature(rawSig)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	prev := strconv.FormatUint(s.seq, 10)
	s.seq++
	seq := strconv.FormatUint(s.seq, 10)
	s.mu.Unlock()
	h := wire.Envelope{SequenceID: seq, PreviousSequenceID: prev, MessageID: req.MessageID, SenderID: s.self,
		ConversationID: cid, CreatedAtMsec: strconv.FormatInt(time.Now().UnixMilli(), 10)}
	enc, err := h.Encode(&event.MessageEventDetail{MessageCreateEvent: create}, sig)
	if err != nil {
		return nil, err
	}
	return &api.SendChatMessageResponse{Data: &api.SendChatMessageData{EncodedMessageEvent: wire.EncodeB64(enc)}}, nil
}

// echoLast echoes the last message sent again (to time the stub alone).
func (s *stubServer) echoLast() error {
	s.mu.Lock()
	to, req := s.lastTo, s.lastSend
	s.mu.Unlock()
	if req == nil {
		return fmt.Errorf("%w: nothing sent yet", errStub)
	}
	_, err := s.SendMessage(context.Background(), to, req)
	return err
}

// DeleteMessages is not served.
func (s *stubServer) DeleteMessages(context.Context, string, *api.DeleteChatMessagesRequest) (*api.DeleteChatMessagesResponse, error) {
	return nil, errStub
}

// GetConversationEvents serves the recorded pages; a conversation with none
// recorded has no events. Each answer is a copy: the engine may release the
// fields of the responses it is handed.
func (s *stubServer) GetConversationEvents(_ context.Context, _ string, _ int, token string) (*api.GetChatConversationEventsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pages[token]; ok {
		cp := *p
		if p.Meta != nil {
			m := *p.Meta
			cp.Meta = &m
		}
		return &cp, nil
	}
	if token != "" {
		return nil, fmt.Errorf("%w: unknown pagination token", errStub)
	}
	return &api.GetChatConversationEventsResponse{Meta: &api.ChatEventsMeta{}}, nil
}

// GetConversations lists no conversations.
func (s *stubServer) GetConversations(context.Context, int, string) (*api.GetChatConversationsResponse, error) {
	return &api.GetChatConversationsResponse{}, nil
}

// GetConversation answers no record.
func (s *stubServer) GetConversation(context.Context, string) (*api.GetChatConversationResponse, error) {
	return &api.GetChatConversationResponse{}, nil
}

// MarkRead is not served.
func (s *stubServer) MarkRead(context.Context, string, *api.MarkChatConversationReadRequest) (*api.MarkChatConversationReadResponse, error) {
	return nil, errStub
}

// SendTyping is not served.
func (s *stubServer) SendTyping(context.Context, string) (*api.SendChatTypingIndicatorResponse, error) {
	return nil, errStub
}

// MediaUploadInitialize opens an upload.
func (s *stubServer) MediaUploadInitialize(_ context.Context, req *api.ChatMediaUploadInitializeRequest) (*api.ChatMediaUploadInitializeResponse, error) {
	s.mu.Lock()
	s.uploaded, s.nUpload = s.uploaded[:0], 0
	s.mu.Unlock()
	seq := s.nextSeq()
	return &api.ChatMediaUploadInitializeResponse{Data: &api.ChatMediaUploadInitializeData{
		SessionID: seq, MediaHashKey: "h" + seq, ConversationID: req.ConversationID}}, nil
}

// MediaUploadAppend counts (or keeps) a segment.
func (s *stubServer) MediaUploadAppend(_ context.Context, _ string, req *api.ChatMediaUploadAppendRequest) (*api.ChatMediaUploadAppendResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nUpload += int64(len(req.Media))
	if s.keepMedia {
		s.uploaded = append(s.uploaded, req.Media...)
	}
	return &api.ChatMediaUploadAppendResponse{Data: &api.ChatMediaUploadAppendData{}}, nil
}

// MediaUploadFinalize completes the upload.
func (s *stubServer) MediaUploadFinalize(context.Context, string, *api.ChatMediaUploadFinalizeRequest) (*api.ChatMediaUploadFinalizeResponse, error) {
	return &api.ChatMediaUploadFinalizeResponse{Data: &api.SuccessData{Success: true}}, nil
}

// MediaDownload serves the media set in s.media.
func (s *stubServer) MediaDownload(context.Context, string, string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return io.NopCloser(bytes.NewReader(s.media)), nil
}
