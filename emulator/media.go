package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/b64"
)

// uploadTTL is how long an unfinished upload session lives.
const uploadTTL = 24 * time.Hour

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newHashKey mints a media hash key: 32 random alphanumerics (the pattern
// allows [a-zA-Z0-9]{1,50}). The server cannot hash the content, which it
// has not seen yet at initialize time and which is ciphertext anyway.
func (s *Server) newHashKey() (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.cfg.rand, b[:]); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = base62[int(b[i])%len(base62)]
	}
	return string(b[:]), nil
}

// chatMediaUploadInitialize opens an upload session for encrypted media of
// a conversation the caller belongs to. The conversation id may be given in
// any form (the XDK examples send the colon form).
func (s *Server) chatMediaUploadInitialize(c *call) *apiError {
	var req api.ChatMediaUploadInitializeRequest
	if perr := decodeJSON(c.body, &req, true); perr != nil {
		return perr
	}
	key, _, perr := s.requireConv(c.user.ID, req.ConversationID)
	if perr != nil {
		if perr.problem.Parameter == "id" {
			perr.problem.Parameter = "conversation_id"
		}
		return perr
	}
	if req.TotalBytes < 0 || req.TotalBytes > s.cfg.maxMedia {
		// The specification allows 0 (minimum: 0): such a session is
		// finalized with num_parts "0" and holds an empty blob.
		return errInvalid("total_bytes", "total_bytes must be between 0 and %d.", s.cfg.maxMedia)
	}
	hash, err := s.newHashKey()
	if err != nil {
		return errInternal()
	}
	now := s.cfg.clock()
	for id, u := range s.st.uploads {
		if !now.Before(u.ExpiresAt) {
			delete(s.st.uploads, id)
		}
	}
	up := &uploadRec{ID: s.newID(), Conv: key, HashKey: hash, OwnerID: c.user.ID, Total: req.TotalBytes,
		Segments: map[int][]byte{}, ExpiresAt: now.Add(uploadTTL)}
	s.st.uploads[up.ID] = up
	writeJSON(c.w, http.StatusOK, api.ChatMediaUploadInitializeResponse{Data: &api.ChatMediaUploadInitializeData{
		SessionID: up.ID, MediaHashKey: hash, ConversationID: restConvID(key)}})
	return nil
}

// appendRequest is the JSON append body. segment_index is an integer, as
// the specification says (X's media guide defers to it); a JSON string is
// refused. Multipart bodies carry it as a text field.
type appendRequest struct {
	ConversationID string          `json:"conversation_id"`
	MediaHashKey   string          `json:"media_hash_key"`
	SegmentIndex   json.RawMessage `json:"segment_index"`
	Media          string          `json:"media"`
}

func parseSegmentIndex(raw string) (int, bool) {
	raw = strings.Trim(raw, `"`)
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > api.MaxSegmentIndex || raw != strconv.Itoa(n) {
		return 0, false
	}
	return n, true
}

// session finds the caller's live upload session.
func (s *Server) session(c *call) (*uploadRec, *apiError) {
	id := c.r.PathValue("id")
	if !isID(id) {
		return nil, errInvalid("id", "The upload session id must be a decimal id.")
	}
	up := s.st.uploads[id]
	if up == nil || up.OwnerID != c.user.ID || !s.cfg.clock().Before(up.ExpiresAt) {
		return nil, errNotFound("media upload session", id)
	}
	return up, nil
}

// checkUploadTarget checks that the body names the session's conversation
// and hash key.
func (s *Server) checkUploadTarget(c *call, up *uploadRec, convID, hash string) *apiError {
	key, _, perr := s.requireConv(c.user.ID, convID)
	if perr != nil {
		if perr.problem.Parameter == "id" {
			perr.problem.Parameter = "conversation_id"
		}
		return perr
	}
	if key != up.Conv {
		return errInvalid("conversation_id", "The upload session belongs to another conversation.")
	}
	if hash != up.HashKey {
		return errInvalid("media_hash_key", "media_hash_key does not match the upload session.")
	}
	return nil
}

// chatMediaUploadAppend stores one segment (JSON with base64 media, or
// multipart/form-data with raw bytes). Re-sending an index replaces it.
func (s *Server) chatMediaUploadAppend(c *call) *apiError {
	up, perr := s.session(c)
	if perr != nil {
		return perr
	}
	var convID, hash, index string
	var media []byte
	ct, params, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		mr := multipart.NewReader(bytes.NewReader(c.body), params["boundary"])
		form, err := mr.ReadForm(s.cfg.maxSegment + 1<<20)
		if err != nil {
			return errInvalid("body", "The multipart body could not be parsed.")
		}
		defer func() { _ = form.RemoveAll() }()
		get := func(k string) string {
			if v := form.Value[k]; len(v) == 1 {
				return v[0]
			}
			return ""
		}
		convID, hash, index = get("conversation_id"), get("media_hash_key"), get("segment_index")
		if fh := form.File["media"]; len(fh) == 1 {
			f, err := fh[0].Open()
			if err != nil {
				return errInvalid("media", "The media part could not be read.")
			}
			media, err = io.ReadAll(io.LimitReader(f, s.cfg.maxSegment+1))
			_ = f.Close()
			if err != nil {
				return errInvalid("media", "The media part could not be read.")
			}
		} else if v := form.Value["media"]; len(v) == 1 {
			media = []byte(v[0])
		}
	} else {
		var req appendRequest
		if perr := decodeJSON(c.body, &req, true); perr != nil {
			return perr
		}
		convID, hash, index = req.ConversationID, req.MediaHashKey, string(req.SegmentIndex)
		if strings.HasPrefix(index, `"`) {
			// The specification types it as an integer in JSON bodies.
			return errInvalid("segment_index", "segment_index must be a JSON integer.")
		}
		if req.Media != "" {
			var ok bool
			if media, ok = b64.DecodeAny(req.Media); !ok {
				return errInvalid("media", "media must be base64 in JSON bodies.")
			}
		}
	}
	if perr := s.checkUploadTarget(c, up, convID, hash); perr != nil {
		return perr
	}
	idx, ok := parseSegmentIndex(index)
	if !ok {
		return errInvalid("segment_index", "segment_index must be an integer between 0 and %d.", api.MaxSegmentIndex)
	}
	if len(media) == 0 {
		return errInvalid("media", "media is required.")
	}
	if int64(len(media)) > s.cfg.maxSegment {
		return errTooLarge(s.cfg.maxSegment)
	}
	var total int64
	for i, seg := range up.Segments {
		if i != idx {
			total += int64(len(seg))
		}
	}
	if total+int64(len(media)) > up.Total {
		return errInvalid("media", "The segments exceed total_bytes (%d).", up.Total)
	}
	up.Segments[idx] = media
	writeJSON(c.w, http.StatusOK, api.ChatMediaUploadAppendResponse{Data: &api.ChatMediaUploadAppendData{ExpiresAt: up.ExpiresAt.Unix()}})
	return nil
}

// chatMediaUploadFinalize assembles segments 0..num_parts-1 (which must add
// up to total_bytes exactly) into the stored blob.
func (s *Server) chatMediaUploadFinalize(c *call) *apiError {
	up, perr := s.session(c)
	if perr != nil {
		return perr
	}
	var req api.ChatMediaUploadFinalizeRequest
	if perr := decodeJSON(c.body, &req, true); perr != nil {
		return perr
	}
	if perr := s.checkUploadTarget(c, up, req.ConversationID, req.MediaHashKey); perr != nil {
		return perr
	}
	n, err := strconv.Atoi(req.NumParts)
	minParts := 1
	if up.Total == 0 {
		minParts = 0
	}
	if err != nil || n < minParts || n > api.MaxSegmentIndex+1 || req.NumParts != strconv.Itoa(n) {
		return errInvalid("num_parts", "num_parts must be a decimal string between 1 and %d.", api.MaxSegmentIndex+1)
	}
	if len(up.Segments) != n {
		return errInvalid("num_parts", "%d segments were uploaded, not %d.", len(up.Segments), n)
	}
	var blob []byte
	for i := range n {
		seg, ok := up.Segments[i]
		if !ok {
			return errInvalid("num_parts", "Segment %d is missing.", i)
		}
		blob = append(blob, seg...)
	}
	if int64(len(blob)) != up.Total {
		return errInvalid("num_parts", "The segments hold %d bytes, not total_bytes %d.", len(blob), up.Total)
	}
	if req.MessageID != "" {
		if perr := checkComponent("message_id", req.MessageID); perr != nil {
			return perr
		}
	}
	if req.TTLMsec != "" {
		if v, err := strconv.ParseInt(req.TTLMsec, 10, 64); err != nil || v < 0 {
			return errInvalid("ttl_msec", "ttl_msec must be a non-negative decimal string.")
		}
	}
	rec := &mediaRec{Conv: up.Conv, HashKey: up.HashKey, OwnerID: c.user.ID, Size: int64(len(blob)),
		MessageID: req.MessageID, CreatedAt: s.cfg.clock().UTC()}
	var b batch
	b.put(bucketMedia, mediaKey(rec.Conv, rec.HashKey), rec)
	b.put(bucketBlobs, mediaKey(rec.Conv, rec.HashKey), blob)
	if err := s.commit(&b); err != nil {
		return errInternal()
	}
	s.st.media[mediaKey(rec.Conv, rec.HashKey)] = rec
	s.storeBlobInMemory(rec.Conv, rec.HashKey, blob)
	delete(s.st.uploads, up.ID)
	writeJSON(c.w, http.StatusOK, api.ChatMediaUploadFinalizeResponse{Data: &api.SuccessData{Success: true}})
	return nil
}

// chatMediaDownload answers the stored ciphertext bytes, untouched,
// written once the server's lock is released (a blob is never changed in
// place: loadBlob returns the in-memory one as stored, or a copy).
func (s *Server) chatMediaDownload(c *call) *apiError {
	key, _, perr := s.requireConv(c.user.ID, c.r.PathValue("id"))
	if perr != nil {
		return perr
	}
	hash := c.r.PathValue("media_hash_key")
	if !reHashKey.MatchString(hash) {
		return errInvalid("media_hash_key", "media_hash_key must match [a-zA-Z0-9]{1,50}.")
	}
	if s.st.media[mediaKey(key, hash)] == nil {
		return errNotFound("media", hash)
	}
	blob, ok := s.loadBlob(key, hash)
	if !ok {
		return errNotFound("media", hash)
	}
	c.w.Header().Set("Content-Type", "application/octet-stream")
	c.w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
	c.w.Header().Set("X-Content-Type-Options", "nosniff")
	c.w.WriteHeader(http.StatusOK)
	c.reply = blob
	return nil
}
