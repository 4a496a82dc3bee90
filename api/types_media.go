package api

// ChatMediaUploadInitializeRequest is the body of
// POST /2/chat/media/upload/initialize.
type ChatMediaUploadInitializeRequest struct {
	ConversationID string `json:"conversation_id"`
	TotalBytes     int64  `json:"total_bytes"`
}

// ChatMediaUploadInitializeData is the data of
// ChatMediaUploadInitializeResponse.
type ChatMediaUploadInitializeData struct {
	SessionID      string `json:"session_id"`
	MediaHashKey   string `json:"media_hash_key"`
	ConversationID string `json:"conversation_id"`
}

// ChatMediaUploadInitializeResponse is the body of
// POST /2/chat/media/upload/initialize.
type ChatMediaUploadInitializeResponse struct {
	Data   *ChatMediaUploadInitializeData `json:"data,omitempty"`
	Errors []Problem                      `json:"errors,omitempty"`
}

// ChatMediaUploadAppendRequest is the JSON body of
// POST /2/chat/media/upload/{id}/append. Media holds the raw segment bytes;
// encoding/json carries them as standard base64, as the specification asks
// for JSON bodies. SegmentIndex ranges over [0, MaxSegmentIndex].
type ChatMediaUploadAppendRequest struct {
	ConversationID string `json:"conversation_id"`
	MediaHashKey   string `json:"media_hash_key"`
	SegmentIndex   int    `json:"segment_index"`
	Media          []byte `json:"media"`
}

// ChatMediaUploadAppendData is the data of ChatMediaUploadAppendResponse.
type ChatMediaUploadAppendData struct {
	ExpiresAt int64 `json:"expires_at,omitempty"`
}

// ChatMediaUploadAppendResponse is the body of
// POST /2/chat/media/upload/{id}/append.
type ChatMediaUploadAppendResponse struct {
	Data   *ChatMediaUploadAppendData `json:"data,omitempty"`
	Errors []Problem                  `json:"errors,omitempty"`
}

// ChatMediaUploadFinalizeRequest is the body of
// POST /2/chat/media/upload/{id}/finalize. NumParts and TTLMsec are decimal
// strings, as in the specification.
type ChatMediaUploadFinalizeRequest struct {
	ConversationID string `json:"conversation_id"`
	MediaHashKey   string `json:"media_hash_key"`
	NumParts       string `json:"num_parts"`
	MessageID      string `json:"message_id,omitempty"`
	TTLMsec        string `json:"ttl_msec,omitempty"`
}

// ChatMediaUploadFinalizeResponse is the body of
// POST /2/chat/media/upload/{id}/finalize.
type ChatMediaUploadFinalizeResponse struct {
	Data   *SuccessData `json:"data,omitempty"`
	Errors []Problem    `json:"errors,omitempty"`
}
