package api

import (
	"context"
	"errors"
	"io"
	"strconv"
)

// MediaUploadInitialize opens a Chat media upload session
// (chatMediaUploadInitialize). Not retried. Scopes: media.write.
func (c *Client) MediaUploadInitialize(ctx context.Context, req *ChatMediaUploadInitializeRequest) (*ChatMediaUploadInitializeData, *Response, error) {
	if req == nil {
		return nil, nil, invalid("request", "", "must not be nil")
	}
	if err := ValidateConversationID(req.ConversationID); err != nil {
		return nil, nil, err
	}
	if req.TotalBytes < 0 {
		return nil, nil, invalid("total_bytes", strconv.FormatInt(req.TotalBytes, 10), "must not be negative")
	}
	out := new(ChatMediaUploadInitializeResponse)
	resp, err := c.do(ctx, &request{op: OpChatMediaUploadInitialize, path: PathChatMediaInitialize(), body: req}, out)
	return data(out.Data, resp, err)
}

// MediaUploadAppend uploads one segment of (already encrypted) media
// (chatMediaUploadAppend), as a JSON body with base64 media. Appending the
// same segment index twice replaces it, so the call is retried. Scopes:
// media.write.
func (c *Client) MediaUploadAppend(ctx context.Context, sessionID string, req *ChatMediaUploadAppendRequest) (*ChatMediaUploadAppendData, *Response, error) {
	if sessionID == "" {
		return nil, nil, invalid("media upload session id", "", "must not be empty")
	}
	if req == nil {
		return nil, nil, invalid("request", "", "must not be nil")
	}
	if err := ValidateConversationID(req.ConversationID); err != nil {
		return nil, nil, err
	}
	if err := ValidateMediaHashKey(req.MediaHashKey); err != nil {
		return nil, nil, err
	}
	if req.SegmentIndex < 0 || req.SegmentIndex > MaxSegmentIndex {
		return nil, nil, invalid("segment_index", strconv.Itoa(req.SegmentIndex), "must be in [0, 999]")
	}
	if len(req.Media) == 0 {
		return nil, nil, invalid("media", "", "must not be empty")
	}
	out := new(ChatMediaUploadAppendResponse)
	resp, err := c.do(ctx, &request{op: OpChatMediaUploadAppend, path: PathChatMediaAppend(sessionID), body: req}, out)
	if err == nil && out.Data == nil {
		// expires_at is optional; an empty data object is a success.
		out.Data = &ChatMediaUploadAppendData{}
	}
	return data(out.Data, resp, err)
}

// MediaUploadFinalize completes an upload session (chatMediaUploadFinalize).
// sessionID must be numeric, as the specification requires. Not retried.
// Scopes: media.write.
func (c *Client) MediaUploadFinalize(ctx context.Context, sessionID string, req *ChatMediaUploadFinalizeRequest) (*SuccessData, *Response, error) {
	if err := ValidateMediaID(sessionID); err != nil {
		return nil, nil, err
	}
	if req == nil {
		return nil, nil, invalid("request", "", "must not be nil")
	}
	if err := ValidateConversationID(req.ConversationID); err != nil {
		return nil, nil, err
	}
	if err := ValidateMediaHashKey(req.MediaHashKey); err != nil {
		return nil, nil, err
	}
	n, err := strconv.Atoi(req.NumParts)
	if err != nil || n < 1 || n > MaxSegmentIndex+1 || strconv.Itoa(n) != req.NumParts {
		return nil, nil, invalid("num_parts", req.NumParts, "must be a decimal number in [1, 1000]")
	}
	if err := checkDecimal("ttl_msec", req.TTLMsec); err != nil {
		return nil, nil, err
	}
	out := new(ChatMediaUploadFinalizeResponse)
	resp, err := c.do(ctx, &request{op: OpChatMediaUploadFinalize, path: PathChatMediaFinalize(sessionID), body: req}, out)
	return data(out.Data, resp, err)
}

// UploadMedia runs a whole upload: initialize, append data in segments of
// segmentSize bytes (0 means 1 MiB), finalize. blob is the already
// encrypted blob. It returns the initialize result, whose MediaHashKey
// addresses the media. Scopes: media.write.
func (c *Client) UploadMedia(ctx context.Context, conversationID string, blob []byte, segmentSize int, messageID string) (*ChatMediaUploadInitializeData, error) {
	if segmentSize <= 0 {
		segmentSize = 1 << 20
	}
	if len(blob) == 0 {
		return nil, invalid("media", "", "must not be empty")
	}
	parts := (len(blob) + segmentSize - 1) / segmentSize
	if parts > MaxSegmentIndex+1 {
		return nil, invalid("media", "", "needs more than 1000 segments; use a larger segment size")
	}
	init, _, err := c.MediaUploadInitialize(ctx, &ChatMediaUploadInitializeRequest{ConversationID: conversationID, TotalBytes: int64(len(blob))})
	if err != nil {
		return nil, err
	}
	for i := 0; i < parts; i++ {
		end := min((i+1)*segmentSize, len(blob))
		_, _, err := c.MediaUploadAppend(ctx, init.SessionID, &ChatMediaUploadAppendRequest{
			ConversationID: conversationID,
			MediaHashKey:   init.MediaHashKey,
			SegmentIndex:   i,
			Media:          blob[i*segmentSize : end],
		})
		if err != nil {
			return nil, err
		}
	}
	fin, _, err := c.MediaUploadFinalize(ctx, init.SessionID, &ChatMediaUploadFinalizeRequest{
		ConversationID: conversationID,
		MediaHashKey:   init.MediaHashKey,
		NumParts:       strconv.Itoa(parts),
		MessageID:      messageID,
	})
	if err != nil {
		return nil, err
	}
	if !fin.Success {
		return nil, &PartialError{Op: OpChatMediaUploadFinalize.ID, Errors: []Problem{{Title: "finalize reported failure"}}}
	}
	return init, nil
}

// DownloadMedia fetches an encrypted Chat media blob (chatMediaDownload)
// into memory, bounded by WithMaxMediaBytes. It is OpenMedia read to the
// end, except that a connection that fails while the body arrives is
// retried like any failed attempt. Scopes: media.write (as the
// specification states).
func (c *Client) DownloadMedia(ctx context.Context, conversationID, mediaHashKey string) ([]byte, *Response, error) {
	r, err := mediaDownloadRequest(conversationID, mediaHashKey)
	if err != nil {
		return nil, nil, err
	}
	var raw []byte
	resp, err := c.exchange(ctx, r, nil, &raw)
	if err != nil {
		return nil, resp, err
	}
	return raw, resp, nil
}

// OpenMedia starts fetching an encrypted Chat media blob
// (chatMediaDownload) and returns its body as it arrives, so that the
// caller can decrypt it without holding the ciphertext. The status, the
// headers and the error an answer maps to are handled, and failed attempts
// retried, exactly as for DownloadMedia, before the body is handed over;
// once it is, nothing is retried: a connection that fails mid-body, or a
// body shorter than its Content-Length, fails the read with the error
// DownloadMedia would have returned on its last attempt. The body is bounded
// by WithMaxMediaBytes: one announcing more fails here, one carrying more
// fails the read that passes the bound. Reading ends when ctx does; the
// caller closes the body. Scopes: media.write.
func (c *Client) OpenMedia(ctx context.Context, conversationID, mediaHashKey string) (io.ReadCloser, *Response, error) {
	r, err := mediaDownloadRequest(conversationID, mediaHashKey)
	if err != nil {
		return nil, nil, err
	}
	resp, hr, _, err := c.roundTrip(ctx, r, bodyStream)
	if err != nil {
		return nil, resp, err
	}
	if hr.ContentLength > c.maxMediaBytes {
		hr.Body.Close()
		return nil, resp, errBodyTooLong(r.op.ID, c.maxMediaBytes)
	}
	return &mediaBody{body: hr.Body, op: r.op.ID, limit: c.maxMediaBytes}, resp, nil
}

// mediaDownloadRequest checks the arguments of a chatMediaDownload call
// and describes it.
func mediaDownloadRequest(conversationID, mediaHashKey string) (*request, error) {
	if err := ValidateConversationID(conversationID); err != nil {
		return nil, err
	}
	if err := ValidateMediaHashKey(mediaHashKey); err != nil {
		return nil, err
	}
	return &request{op: OpChatMediaDownload, path: PathChatMedia(conversationID, mediaHashKey), accept: "application/octet-stream"}, nil
}

// mediaBody is a media response body handed to the caller of OpenMedia. It
// hands over at most limit bytes, failing as a buffered read does when the
// body goes past them, and reports any failure of the connection as the
// buffered read would. Its first error sticks.
type mediaBody struct {
	body  io.ReadCloser
	op    string
	limit int64
	n     int64 // bytes handed over
	err   error
}

// Read implements io.Reader.
func (b *mediaBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	// One byte past the limit is asked for, to see whether the body ends.
	if room := b.limit - b.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.body.Read(p)
	if b.n+int64(n) > b.limit {
		n = int(b.limit - b.n)
		b.err = errBodyTooLong(b.op, b.limit)
	}
	b.n += int64(n)
	switch {
	case b.err != nil:
	case errors.Is(err, io.EOF):
		b.err = io.EOF
	case err != nil:
		b.err = &transportError{op: b.op, err: err}
	}
	return n, b.err
}

// Close closes the response body.
func (b *mediaBody) Close() error { return b.body.Close() }
