package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/crypto/secretstream"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/thriftgen/product"
)

// Media limits.
const (
	// maxMediaBytes bounds the plaintext size of one media upload (see
	// Media).
	maxMediaBytes = 512 << 20
	// mediaSegmentBytes is the size of one uploaded segment.
	mediaSegmentBytes = 4 << 20
	// mediaPreallocBytes bounds the buffer DownloadMedia allocates from an
	// attachment's announced size before any byte has arrived. The size is
	// the sender's to state and nothing checks it before the end, so a
	// sender who lies makes a recipient allocate at most this much (and
	// never more than the download's limit) up front; beyond it the buffer
	// grows only as decrypted frames arrive.
	mediaPreallocBytes = 128 << 20
)

// Media is a file of at most 512 MiB (xchat.ErrMediaTooLarge beyond) to
// send as an encrypted attachment (Outgoing.Media). Send
// encrypts it with the conversation key (libsodium secretstream, 1024-byte
// chunks, as the XDK's encrypt_stream), uploads the ciphertext in segments
// through the chat media endpoints and sends a message carrying the
// attachment (the Outgoing's Text is its caption), sealed under the same
// key version. Should that key be replaced while the file uploads (a
// participant re-keyed, the key was exposed), the message is not sealed
// under it: the send fails with xchat.ErrKeyReplaced and nothing is sent
// (send the file again). Memory use is bounded by the segment size.
type Media struct {
	// Data supplies exactly Size bytes of plaintext.
	Data io.Reader
	Size int64
	// Filename is shown to recipients and keys their decrypted-file cache.
	Filename string
	// Type is the media type (default MediaImage).
	Type event.MediaType
	// Width, Height and DurationMillis describe images and videos.
	Width, Height  int64
	DurationMillis int64
}

// sendMedia uploads o.Media and sends the message carrying it (see Media).
func (e *Engine) sendMedia(ctx context.Context, id string, o Outgoing) (*Sent, error) {
	defer e.deliverChanges()
	srv, err := e.srv()
	if err != nil {
		return nil, err
	}
	m := *o.Media
	if err := checkMedia(&m); err != nil {
		return nil, err
	}
	// The message must be sendable before any of the file is uploaded.
	if err := o.checkMessage(); err != nil {
		return nil, err
	}
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return nil, err
	}
	if o.ReplyTo != "" {
		if _, err := e.storedEvent(ctx, cid, o.ReplyTo); err != nil {
			return nil, err
		}
	}
	if err := e.ensureConversation(ctx, cid); err != nil {
		return nil, err
	}
	lctx, unlock, err := e.lockConv(ctx, cid)
	if err != nil {
		return nil, err
	}
	key, version, err := e.freshKey(lctx, cid)
	unlock()
	if err != nil {
		return nil, err
	}
	defer key.Zero()
	up, err := e.uploadMedia(ctx, srv, cid, key, m)
	if err != nil {
		return nil, err
	}
	o.Media, o.attachments, o.keyVersion = nil, []*product.MessageAttachment{{Media: mediaAttachment(m, up)}}, version
	return e.sendMessage(ctx, cid, o)
}

// checkMedia refuses media that cannot be sent and defaults its type to
// MediaImage.
func checkMedia(m *Media) error {
	if m.Data == nil || m.Size < 0 {
		return fmt.Errorf("%w: media needs data and a size", xchat.ErrInvalidArgument)
	}
	if m.Size > maxMediaBytes {
		return fmt.Errorf("%w: %d bytes (limit %d)", xchat.ErrMediaTooLarge, m.Size, maxMediaBytes)
	}
	if m.Filename == "" {
		return fmt.Errorf("%w: media needs a filename", xchat.ErrInvalidArgument)
	}
	if m.Type == 0 {
		m.Type = event.MediaImage
	}
	return nil
}

// uploaded is a finished media upload.
type uploaded struct {
	hashKey string // media_hash_key, naming the blob
	size    int64  // of the encrypted blob
}

// uploadMedia encrypts m under key as it streams it to the server:
// initialize, append segment by segment, finalize.
func (e *Engine) uploadMedia(ctx context.Context, srv Server, cid string, key *crypto.ConversationKey, m Media) (uploaded, error) {
	encSize := secretstream.EncryptedSize(m.Size)
	ini, err := srv.MediaUploadInitialize(ctx, &api.ChatMediaUploadInitializeRequest{
		ConversationID: api.ConversationPathID(cid), TotalBytes: encSize,
	})
	if err != nil {
		return uploaded{}, fmt.Errorf("session: starting media upload: %w", err)
	}
	if ini.Data == nil || ini.Data.SessionID == "" || ini.Data.MediaHashKey == "" {
		return uploaded{}, fmt.Errorf("%w: media upload initialize returned no session", xchat.ErrServerResponse)
	}
	up := &segmentUploader{ctx: ctx, srv: srv, session: ini.Data.SessionID, req: api.ChatMediaUploadAppendRequest{
		ConversationID: api.ConversationPathID(cid), MediaHashKey: ini.Data.MediaHashKey,
	}}
	if err := e.encryptTo(up, key, m); err != nil {
		return uploaded{}, fmt.Errorf("session: uploading media: %w", err)
	}
	fin, err := srv.MediaUploadFinalize(ctx, ini.Data.SessionID, &api.ChatMediaUploadFinalizeRequest{
		ConversationID: api.ConversationPathID(cid), MediaHashKey: ini.Data.MediaHashKey, NumParts: strconv.Itoa(up.parts),
	})
	if err != nil {
		return uploaded{}, fmt.Errorf("session: finalizing media upload: %w", err)
	}
	if fin.Data == nil || !fin.Data.Success {
		return uploaded{}, fmt.Errorf("%w: media upload not finalized", xchat.ErrServerResponse)
	}
	return uploaded{hashKey: ini.Data.MediaHashKey, size: encSize}, nil
}

// encryptTo streams exactly m.Size bytes of m.Data through secretstream
// under key into up, and uploads what up still buffers.
func (e *Engine) encryptTo(up *segmentUploader, key *crypto.ConversationKey, m Media) error {
	w, err := secretstream.NewWriter(up, key[:], e.rand)
	if err != nil {
		return err
	}
	n, err := io.Copy(w, io.LimitReader(m.Data, m.Size))
	if err == nil && n != m.Size {
		err = fmt.Errorf("%w: media data ended after %d of %d bytes", xchat.ErrInvalidArgument, n, m.Size)
	}
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = up.flush()
	}
	return err
}

// mediaAttachment describes an uploaded file to recipients. Its
// filesize_bytes is the size of the uploaded (encrypted) blob, as the XDK
// documents for its attachment descriptors ("size of the encrypted blob in
// bytes", chat-xdk docs/API.md, AttachmentDescriptor).
func mediaAttachment(m Media, up uploaded) *product.MediaAttachment {
	hash, fname, mt := up.hashKey, m.Filename, product.MediaType(m.Type)
	w64, h64, size := m.Width, m.Height, up.size
	att := &product.MediaAttachment{
		MediaHashKey:  &hash,
		Dimensions:    &product.MediaDimensions{Width: &w64, Height: &h64},
		Type:          &mt,
		FilesizeBytes: &size,
		Filename:      &fname,
	}
	if m.DurationMillis > 0 {
		d := m.DurationMillis
		att.DurationMillis = &d
	}
	return att
}

// segmentUploader buffers ciphertext and uploads it in fixed-size segments.
type segmentUploader struct {
	ctx     context.Context
	srv     Server
	session string
	req     api.ChatMediaUploadAppendRequest
	buf     []byte
	parts   int
}

// Write buffers p, uploading every full segment.
func (u *segmentUploader) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if u.buf == nil {
			u.buf = make([]byte, 0, mediaSegmentBytes)
		}
		k := min(len(p), mediaSegmentBytes-len(u.buf))
		u.buf = append(u.buf, p[:k]...)
		p = p[k:]
		if len(u.buf) == mediaSegmentBytes {
			if err := u.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (u *segmentUploader) flush() error {
	if len(u.buf) == 0 {
		return nil
	}
	if u.parts > api.MaxSegmentIndex {
		return fmt.Errorf("%w: too many segments", xchat.ErrMediaTooLarge)
	}
	req := u.req
	req.SegmentIndex = u.parts
	req.Media = u.buf
	if _, err := u.srv.MediaUploadAppend(u.ctx, u.session, &req); err != nil {
		return err
	}
	u.parts++
	u.buf = u.buf[:0]
	return nil
}

// DownloadMedia downloads and decrypts the media of an attachment received
// in conversation id, using the conversation key of keyVersion (the
// message's Entry.KeyVersion). At most limit bytes of ciphertext are read
// (0: the ciphertext of the largest file Send uploads, 512 MiB). The
// ciphertext streams from the server through the decryptor, which holds
// one frame of it: the frames are decrypted straight
// into the result, sized up front from the attachment's announced size (but
// never more than limit or 128 MiB before the bytes arrive). Media that does
// not match the announced size fails with xchat.ErrMediaTruncated; a download
// whose connection fails midway fails with the server's error (for the API
// server, one matching io.ErrUnexpectedEOF when the body ends short of its
// Content-Length), never with what arrived. DownloadMediaTo is the
// streaming form, for media saved to a file.
//
// The blob is sealed under the conversation key and the signed attachment
// names it only by hash key and size, so a blob of the same size sealed
// under the same key (another attachment of the conversation, or one any
// holder of the key uploaded) decrypts just as well: the server can swap it
// in, and DownloadMedia cannot tell (a protocol limit; see SECURITY.md).
func (e *Engine) DownloadMedia(ctx context.Context, id string, att *event.MediaAttachment, keyVersion string, limit int64) ([]byte, error) {
	d, err := e.openMediaDownload(ctx, id, att, keyVersion, limit)
	if err != nil {
		return nil, err
	}
	defer d.close()
	out, err := d.plain.ReadAllHint(mediaSizeHint(att.FilesizeBytes, d.limit))
	if err := d.check(err, int64(len(out))); err != nil {
		// Whatever the decryptor made of the bytes (a cut after the header
		// decrypts as an empty file), the failure is the answer.
		clear(out)
		return nil, err
	}
	return out, nil
}

// DownloadMediaTo is DownloadMedia writing the plaintext to w as it
// arrives instead of returning it, and returns the number of bytes
// written. It holds one frame (1 KiB) of the media at a time: each frame
// is written to w, in one Write, only after it authenticated, so w
// should buffer (a bufio.Writer around a file). It makes DownloadMedia's
// checks and fails with the same errors, but the checks that need the
// whole stream (a FINAL frame, the announced size, a connection that did
// not fail) can only fail at the end, after w has received the frames that
// came before. A failure of w stops the download with w's error.
//
// On any error, discard everything written to w: it is a prefix of the
// stream (authenticated frames, but possibly of a stream cut short or of
// another blob the server served in its place), never the file. Write to
// a temporary file and rename it into place only when DownloadMediaTo
// returns nil, as the xchat CLI's "media get" does. What a nil error
// proves is what DownloadMedia's result proves (see its note on blobs of
// the same size under the same key).
func (e *Engine) DownloadMediaTo(ctx context.Context, w io.Writer, id string, att *event.MediaAttachment, keyVersion string, limit int64) (int64, error) {
	if w == nil {
		return 0, fmt.Errorf("%w: no writer", xchat.ErrInvalidArgument)
	}
	d, err := e.openMediaDownload(ctx, id, att, keyVersion, limit)
	if err != nil {
		return 0, err
	}
	defer d.close()
	sink := &mediaSink{w: w}
	n, err := d.plain.WriteTo(sink)
	if sink.err != nil {
		return n, fmt.Errorf("session: writing media: %w", sink.err)
	}
	return n, d.check(err, n)
}

// mediaDownload is a media download in progress: the server's body, cut
// at the limit and counted, and the decryptor reading it.
type mediaDownload struct {
	att     *event.MediaAttachment
	limit   int64
	body    io.ReadCloser
	counted *countingReader
	plain   *secretstream.Reader
}

// openMediaDownload checks the attachment, reads the conversation key of
// keyVersion and opens the download of the attachment's blob, cut at
// limit (0: the ciphertext of the largest file Send uploads).
func (e *Engine) openMediaDownload(ctx context.Context, id string, att *event.MediaAttachment, keyVersion string, limit int64) (*mediaDownload, error) {
	srv, err := e.srv()
	if err != nil {
		return nil, err
	}
	if att == nil || att.MediaHashKey == "" {
		return nil, fmt.Errorf("%w: no media hash key", xchat.ErrInvalidArgument)
	}
	cid, err := CanonicalID(id, e.userID)
	if err != nil {
		return nil, err
	}
	key, err := e.mediaKey(ctx, cid, keyVersion)
	if err != nil {
		return nil, err
	}
	defer key.Zero()
	if limit <= 0 {
		limit = secretstream.EncryptedSize(maxMediaBytes)
	}
	rc, err := srv.MediaDownload(ctx, api.ConversationPathID(cid), att.MediaHashKey)
	if err != nil {
		return nil, fmt.Errorf("session: downloading media: %w", err)
	}
	counted := &countingReader{r: io.LimitReader(rc, limit)}
	r, err := secretstream.NewReader(counted, key[:]) // copies the key
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("session: media: %w", err)
	}
	return &mediaDownload{att: att, limit: limit, body: rc, counted: counted, plain: r}, nil
}

// mediaKey reads the conversation key of keyVersion for cid.
func (e *Engine) mediaKey(ctx context.Context, cid, keyVersion string) (*crypto.ConversationKey, error) {
	k, err := e.store.ConversationKey(ctx, cid, keyVersion)
	if errors.Is(err, keystore.ErrNotFound) || errors.Is(err, keystore.ErrInvalid) {
		return nil, fmt.Errorf("%w: version %q of %s", xchat.ErrNoConversationKey, keyVersion, cid)
	}
	if err != nil {
		return nil, fmt.Errorf("session: reading conversation key: %w", err)
	}
	key := crypto.ConversationKey(k.Key)
	k.Key.Zero()
	return &key, nil
}

// check judges a finished download that decrypted plain bytes and ended
// with err (nil: the stream ended complete): a failed connection is the
// answer whatever the decryptor made of the bytes before it, then a
// decryption failure, then an announced size that matches neither the
// bytes downloaded nor the plaintext.
func (d *mediaDownload) check(err error, plain int64) error {
	if d.counted.err != nil {
		return fmt.Errorf("session: downloading media: %w", d.counted.err)
	}
	if err != nil {
		return fmt.Errorf("session: decrypting media: %w", err)
	}
	// A stream cut down to its header decrypts as an empty file; only the
	// announced size (of the encrypted blob, or of the plaintext as some
	// clients write it) tells the two apart.
	if n := d.att.FilesizeBytes; n > 0 && n != d.counted.n && n != plain {
		return fmt.Errorf("%w: downloaded %d encrypted bytes (%d plain), the attachment announces %d",
			xchat.ErrMediaTruncated, d.counted.n, plain, n)
	}
	return nil
}

// close closes the server's body.
func (d *mediaDownload) close() { d.body.Close() }

// mediaSink passes writes to w and keeps w's first failure, to tell it
// from the download's.
type mediaSink struct {
	w   io.Writer
	err error
}

// Write writes p to w.
func (s *mediaSink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}

// mediaSizeHint is the plaintext size DownloadMedia expects from an
// attachment announcing announced bytes (0 for none), for sizing its
// buffer: the announced size bounds the plaintext whether it counts the
// encrypted blob (as the XDK writes it) or the plaintext (as some clients
// do), but the buffer is never made larger than limit lets arrive nor than
// mediaPreallocBytes.
func mediaSizeHint(announced, limit int64) int {
	if announced <= 0 {
		return 0
	}
	return int(min(announced, limit, mediaPreallocBytes))
}

// countingReader counts the bytes read through it and keeps the first
// failure of the wrapped reader (any error but io.EOF), which a reader of
// the stream may take for its end: the media body fails with
// io.ErrUnexpectedEOF inside when the connection ends early.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

// Read reads from the wrapped reader and counts.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}
