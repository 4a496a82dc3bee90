package emulator

import (
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/xchat-go/xchat/api"
)

// Legacy DM media. X attaches media to Direct Messages by a media id from
// its separate media upload endpoint (seed 004: "The authenticated user
// posting the Direct Message must have also uploaded the media. Once
// uploaded, media is available for 24 hours"). That endpoint is not part of
// the chat surface, so the emulator offers an emulator-only stand-in,
// POST /emulator/v1/media (raw bytes, bearer token), and then behaves as X
// does: a DM may attach only media its sender uploaded in the last 24
// hours, and GET /2/dm_conversations/media/{dm_id}/{media_id}/{resource_id}
// serves the bytes to the conversation's participants. Kept in memory only.

// dmMediaTTL is how long uploaded DM media may be attached.
const dmMediaTTL = 24 * time.Hour

// PathEmulatorMedia is the emulator-only DM media upload endpoint.
const PathEmulatorMedia = "/emulator/v1/media"

// DMMediaUpload is the answer of POST /emulator/v1/media.
type DMMediaUpload struct {
	MediaID    string `json:"media_id"`
	MediaKey   string `json:"media_key"`
	ResourceID string `json:"resource_id"`
	ExpiresAt  int64  `json:"expires_at"`
}

type dmMediaRec struct {
	ID, OwnerID, ResourceID string
	Bytes                   []byte
	ExpiresAt               time.Time
}

func dmMediaKey(id string) string { return "3_" + id }

// handleDMMediaUpload stores raw bytes as DM media of the caller.
func (s *Server) handleDMMediaUpload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	user, _, perr := s.authenticate(r)
	s.mu.Unlock()
	if perr != nil {
		writeProblem(w, perr)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.maxMedia))
	if err != nil {
		writeProblem(w, errTooLarge(s.cfg.maxMedia))
		return
	}
	if len(body) == 0 {
		writeProblem(w, errInvalid("body", "The media bytes are required."))
		return
	}
	res, err := s.newHashKey()
	if err != nil {
		writeProblem(w, errInternal())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.clock()
	for id, m := range s.dmMedia {
		if !now.Before(m.ExpiresAt.Add(dmMediaTTL)) { // keep attached media a while longer
			delete(s.dmMedia, id)
		}
	}
	m := &dmMediaRec{ID: s.newID(), OwnerID: user.ID, ResourceID: res[:12], Bytes: body, ExpiresAt: now.Add(dmMediaTTL)}
	s.dmMedia[m.ID] = m
	writeJSON(w, http.StatusCreated, DMMediaUpload{MediaID: m.ID, MediaKey: dmMediaKey(m.ID), ResourceID: m.ResourceID, ExpiresAt: m.ExpiresAt.Unix()})
}

// checkDMMedia requires each attachment to be media the sender uploaded
// and may still attach.
func (s *Server) checkDMMedia(field, sender string, m api.DmMessage) *apiError {
	now := s.cfg.clock()
	for _, a := range m.Attachments {
		rec := s.dmMedia[a.MediaID]
		if rec == nil || rec.OwnerID != sender || !now.Before(rec.ExpiresAt) {
			e := errInvalid(field+".attachments.media_id", "media_id %s is not media you uploaded in the last 24 hours.", clip(a.MediaID))
			e.problem.Value = clip(a.MediaID)
			return e
		}
	}
	return nil
}

var reResourceID = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)

// dmMediaDownload serves media of a legacy DM to its conversation's
// participants.
func (s *Server) dmMediaDownload(c *call) *apiError {
	dmID, mediaID, resID := c.r.PathValue("dm_id"), c.r.PathValue("media_id"), c.r.PathValue("resource_id")
	if !isID(dmID) {
		return errInvalid("dm_id", "dm_id must be a decimal id.")
	}
	if !isID(mediaID) {
		return errInvalid("media_id", "media_id must be a decimal id.")
	}
	if !reResourceID.MatchString(resID) {
		return errInvalid("resource_id", "resource_id must be 1 to 64 letters or digits.")
	}
	e := s.st.dmEvents[dmID]
	if e == nil {
		return errNotFound("dm_event", dmID)
	}
	conv := s.st.dmConvs[e.ConvID]
	if conv == nil || !slices.Contains(conv.Participants, c.user.ID) {
		return errNotFound("dm_event", dmID)
	}
	m := s.dmMedia[mediaID]
	if !slices.Contains(e.MediaIDs, mediaID) || m == nil || m.ResourceID != resID {
		return errNotFound("media", mediaID)
	}
	c.w.Header().Set("Content-Type", "application/octet-stream")
	c.w.Header().Set("Content-Length", strconv.Itoa(len(m.Bytes)))
	c.w.Header().Set("X-Content-Type-Options", "nosniff")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(m.Bytes)
	return nil
}

// dmMediaJSON is the includes.media object of an attached media id.
func (s *Server) dmMediaJSON(c *call, e *dmEventRec, mediaID string, fields []string) api.Media {
	out := api.Media{MediaKey: dmMediaKey(mediaID), Type: "photo"}
	m := s.dmMedia[mediaID]
	if m != nil && slices.Contains(fields, "url") {
		scheme := "http"
		if c.r.TLS != nil {
			scheme = "https"
		}
		out.URL = scheme + "://" + c.r.Host + api.PathDmMedia(e.ID, mediaID, m.ResourceID)
	}
	return out
}
