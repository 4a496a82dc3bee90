package session

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto/secretstream"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/session/event"
)

func TestMediaRoundTrip(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")

	data := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80000 bytes, 79 chunks
	data = append(data, 'x')
	sent, err := alice.e.Send(ctx, bob.id, Outgoing{Text: "look", Media: &Media{
		Data: bytes.NewReader(data), Size: int64(len(data)),
		Filename: "pic.png", Width: 640, Height: 480,
	}})
	if err != nil {
		t.Fatalf("media send: %v", err)
	}
	res, err := bob.e.Sync(ctx, sent.ConversationID, nil)
	if err != nil {
		t.Fatal(err)
	}
	en := findEntry(t, res.Entries, sent.SequenceID)
	if !en.Verified || en.Text != "look" || len(en.Attachments) != 1 || en.Attachments[0].Media == nil {
		t.Fatalf("entry %+v", en)
	}
	att := en.Attachments[0].Media
	if att.Filename != "pic.png" || att.Width != 640 || att.Type != event.MediaImage {
		t.Fatalf("attachment %+v", att)
	}
	d := downloadBoth(ctx, t, bob.e, sent.ConversationID, att, en.KeyVersion, 0)
	if d.err != nil {
		t.Fatalf("DownloadMedia: %v", d.err)
	}
	if !bytes.Equal(d.got, data) {
		t.Fatalf("media differs: %d vs %d bytes", len(d.got), len(data))
	}
	// A wrong key version does not decrypt.
	if _, err := alice.e.Rotate(ctx, sent.ConversationID); err != nil {
		t.Fatal(err)
	}
	c := testutil.Must(alice.e.Conversation(ctx, sent.ConversationID))(t)
	if d := downloadBoth(ctx, t, alice.e, sent.ConversationID, att, c.KeyVersion, 0); !errors.Is(d.err, secretstream.ErrDecrypt) || len(d.wrote) != 0 {
		t.Fatalf("under the wrong key: wrote %d bytes, %v, want secretstream.ErrDecrypt", len(d.wrote), d.err)
	}
}

// mediaTamper truncates downloaded media.
type mediaTamper struct {
	Server
	cut int
}

func (m *mediaTamper) MediaDownload(ctx context.Context, conv, hash string) (io.ReadCloser, error) {
	rc, err := m.Server.MediaDownload(ctx, conv, hash)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b[:min(m.cut, len(b))])), nil
}

func TestMediaTruncation(t *testing.T) {
	ctx := ctxT(t)
	var mt *mediaTamper
	bob, cid, att, version, data := sentMedia(t, 3000, func(s Server) Server { mt = &mediaTamper{Server: s, cut: 1 << 30}; return mt })
	if att.FilesizeBytes != 3075 {
		t.Fatalf("filesize_bytes %d, want the encrypted size 3075", att.FilesizeBytes)
	}
	for _, c := range []struct {
		cut, frames int // frames: written by DownloadMediaTo before the failure
		want        error
	}{
		{24, 0, xchat.ErrMediaTruncated}, {24 + 1041, 0, secretstream.ErrTruncated},
		{24 + 2*1041, 1, secretstream.ErrTruncated}, {3074, 2, secretstream.ErrDecrypt},
	} {
		mt.cut = c.cut
		d := downloadBoth(ctx, t, bob.e, cid, &att, version, 0)
		if !errors.Is(d.err, c.want) || !bytes.Equal(d.wrote, data[:c.frames*secretstream.ChunkSize]) {
			t.Errorf("cut at %d: wrote %d bytes, %v, want %v after %d frames", c.cut, len(d.wrote), d.err, c.want, c.frames)
		}
	}
}

// mediaFlip flips one bit of downloaded media at byte at (if at >= 0).
type mediaFlip struct {
	Server
	at int
}

func (m *mediaFlip) MediaDownload(ctx context.Context, conv, hash string) (io.ReadCloser, error) {
	rc, err := m.Server.MediaDownload(ctx, conv, hash)
	if err != nil || m.at < 0 {
		return rc, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	if m.at < len(b) {
		b[m.at] ^= 1
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// sentMedia sends size bytes of media from a new alice to bob (whose
// server is wrapped by wrap) and returns bob, the attachment bob received
// and its key version.
func sentMedia(t *testing.T, size int, wrap func(Server) Server) (*testUser, string, event.MediaAttachment, string, []byte) {
	t.Helper()
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	bob := n.userWith("bob", wrap)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*13 + 5)
	}
	sent, err := alice.e.Send(ctx, bob.id, Outgoing{Media: &Media{Data: bytes.NewReader(data), Size: int64(size), Filename: "f.bin", Type: event.MediaFile}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := bob.e.Sync(ctx, sent.ConversationID, nil)
	if err != nil {
		t.Fatal(err)
	}
	en := findEntry(t, res.Entries, sent.SequenceID)
	if len(en.Attachments) != 1 || en.Attachments[0].Media == nil {
		t.Fatalf("entry has attachments %+v, want one media attachment (error %q)", en.Attachments, en.Error)
	}
	return bob, sent.ConversationID, *en.Attachments[0].Media, en.KeyVersion, data
}

// TestMediaAnnouncedSize: the announced filesize_bytes (the sender's to
// state) may be the encrypted or the plaintext size; any other value, larger
// or smaller than the body, fails with xchat.ErrMediaTruncated and no data, and an
// absurd one allocates no more than the limit allows (and never more than
// mediaPreallocBytes before the bytes arrive).
func TestMediaAnnouncedSize(t *testing.T) {
	ctx := ctxT(t)
	const size = 5000
	bob, cid, att, version, data := sentMedia(t, size, nil)
	enc := secretstream.EncryptedSize(size)
	if att.FilesizeBytes != enc {
		t.Fatalf("filesize_bytes %d, want %d", att.FilesizeBytes, enc)
	}
	for _, c := range []struct {
		announced, limit int64
		ok               bool
	}{
		{enc, 0, true}, {size, 0, true}, {0, 0, true}, {enc, enc, true},
		{enc + 1, 0, false}, {enc - 1, 0, false}, {size + 1, 0, false}, {size - 1, 0, false}, {1, 0, false},
		{1 << 40, 0, false}, {1 << 40, 64 << 10, false}, {math.MaxInt64, 0, false},
	} {
		a := att
		a.FilesizeBytes = c.announced
		var (
			got []byte
			err error
		)
		alloc := testutil.AllocatedBytes(func() { got, err = bob.e.DownloadMedia(ctx, cid, &a, version, c.limit) })
		if c.ok && (err != nil || !bytes.Equal(got, data)) {
			t.Errorf("announced %d, limit %d: %d bytes, %v", c.announced, c.limit, len(got), err)
		}
		if !c.ok && (!errors.Is(err, xchat.ErrMediaTruncated) || got != nil) {
			t.Errorf("announced %d, limit %d: %d bytes, %v, want xchat.ErrMediaTruncated", c.announced, c.limit, len(got), err)
		}
		bound := uint64(mediaPreallocBytes + 1<<20)
		if c.limit > 0 {
			bound = uint64(c.limit + 1<<20)
		}
		if alloc > bound {
			t.Errorf("announced %d, limit %d: allocated %d bytes, want at most %d", c.announced, c.limit, alloc, bound)
		}
		// The streaming form writes the whole (authenticated) file before
		// the size check at the end refuses it.
		if d := downloadBoth(ctx, t, bob.e, cid, &a, version, c.limit); (d.err == nil) != c.ok || !bytes.Equal(d.wrote, data) {
			t.Errorf("announced %d, limit %d: DownloadMediaTo wrote %d bytes, %v", c.announced, c.limit, len(d.wrote), d.err)
		}
	}
}

// TestMediaSizeHint: the buffer sized before any byte arrives follows the
// announced size, bounded by the limit and by mediaPreallocBytes.
func TestMediaSizeHint(t *testing.T) {
	for _, c := range []struct {
		announced, limit int64
		want             int
	}{
		{0, 1 << 20, 0}, {-5, 1 << 20, 0}, {3075, 1 << 20, 3075}, {3075, 1000, 1000},
		{1 << 40, 1 << 20, 1 << 20}, {1 << 40, 1 << 40, mediaPreallocBytes}, {math.MaxInt64, math.MaxInt64, mediaPreallocBytes},
	} {
		if got := mediaSizeHint(c.announced, c.limit); got != c.want {
			t.Errorf("mediaSizeHint(%d, %d) = %d, want %d", c.announced, c.limit, got, c.want)
		}
	}
}

// TestMediaRejects: a tampered frame fails authentication, a body beyond
// the limit fails (it is cut at the limit, so it no longer ends with its
// FINAL frame), and neither returns data, whatever the announced size.
func TestMediaRejects(t *testing.T) {
	ctx := ctxT(t)
	const size = 5000
	mf := &mediaFlip{at: -1}
	bob, cid, att, version, data := sentMedia(t, size, func(s Server) Server { mf.Server = s; return mf })
	enc := secretstream.EncryptedSize(size)
	for _, announced := range []int64{enc, 0, 1 << 40} {
		a := att
		a.FilesizeBytes = announced
		for _, at := range []int{0, 10, secretstream.HeaderSize, secretstream.HeaderSize + 100,
			secretstream.HeaderSize + secretstream.EncryptedChunkSize - 1, int(enc) - 1} {
			mf.at = at
			d := downloadBoth(ctx, t, bob.e, cid, &a, version, 0)
			frames := max(at-secretstream.HeaderSize, 0) / secretstream.EncryptedChunkSize // before the flipped one
			if !errors.Is(d.err, secretstream.ErrDecrypt) || !bytes.Equal(d.wrote, data[:frames*secretstream.ChunkSize]) {
				t.Errorf("announced %d, bit %d flipped: wrote %d bytes, %v, want xchat.ErrDecrypt after %d frames", announced, at, len(d.wrote), d.err, frames)
			}
		}
		mf.at = -1
		for _, limit := range []int64{enc - 1, enc - 100, secretstream.HeaderSize + secretstream.EncryptedChunkSize, 30} {
			d := downloadBoth(ctx, t, bob.e, cid, &a, version, limit)
			if d.err == nil || !bytes.HasPrefix(data, d.wrote) || int64(len(d.wrote)) > limit {
				t.Errorf("announced %d, limit %d: wrote %d bytes, %v, want an error", announced, limit, len(d.wrote), d.err)
			}
		}
		if d := downloadBoth(ctx, t, bob.e, cid, &a, version, enc); (d.err == nil) != (announced != 1<<40) || !bytes.Equal(d.wrote, data) {
			t.Errorf("announced %d, limit exactly the blob: wrote %d bytes, %v", announced, len(d.wrote), d.err)
		}
	}
}

// TestMediaDownloadHoldsOnlyPlaintext downloads a 32 MiB attachment from
// the emulator over loopback and bounds the bytes the whole process
// allocates meanwhile (the emulator serving it included): the ciphertext
// streams from the connection through the decryptor, so the download costs
// the plaintext plus small change, not the blob and the plaintext (2×).
func TestMediaDownloadHoldsOnlyPlaintext(t *testing.T) {
	ctx := ctxT(t)
	const size = 32 << 20
	bob, cid, att, version, data := sentMedia(t, size, nil)
	var (
		got []byte
		err error
	)
	alloc := testutil.AllocatedBytes(func() { got, err = bob.e.DownloadMedia(ctx, cid, &att, version, 0) })
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("DownloadMedia: %d bytes, %v", len(got), err)
	}
	t.Logf("downloading %d bytes (%d encrypted) allocated %d bytes (%.2f× the plaintext)",
		size, att.FilesizeBytes, alloc, float64(alloc)/size)
	if bound := uint64(size) * 5 / 4; alloc > bound {
		t.Errorf("allocated %d bytes, want at most %d (1.25× the plaintext)", alloc, bound)
	}
}

// TestMediaDownloadNotFound: the server's 404 for a blob it does not hold
// reaches the caller as api.ErrNotFound, with no data.
func TestMediaDownloadNotFound(t *testing.T) {
	bob, cid, att, version, _ := sentMedia(t, 100, nil)
	att.MediaHashKey = "nosuchblob"
	if d := downloadBoth(ctxT(t), t, bob.e, cid, &att, version, 0); !errors.Is(d.err, api.ErrNotFound) || len(d.wrote) != 0 {
		t.Fatalf("wrote %d bytes, %v, want api.ErrNotFound", len(d.wrote), d.err)
	}
}

// mediaVia downloads media through another Server.
type mediaVia struct {
	Server
	media Server
}

func (m *mediaVia) MediaDownload(ctx context.Context, conv, hash string) (io.ReadCloser, error) {
	return m.media.MediaDownload(ctx, conv, hash)
}

// cutMediaBodies serves h, but sends only the first n bytes of every media
// download's body (under its full Content-Length) before hanging up.
func cutMediaBodies(h http.Handler, n int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/2/chat/media/") {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes()[:min(n, rec.Body.Len())])
	})
}

// TestMediaDownloadConnectionCut: a connection that ends mid-body, short
// of the Content-Length it announced, fails the download with
// io.ErrUnexpectedEOF and no data, wherever it is cut, even when the bytes
// that arrived end on a frame boundary, and even when the attachment
// announces no size (a cut right after the header would otherwise decrypt
// as an empty file).
func TestMediaDownloadConnectionCut(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	via := &mediaVia{}
	bob := n.userWith("bob", func(s Server) Server { via.Server, via.media = s, s; return via })
	data := bytes.Repeat([]byte("media "), 2000)
	sent := testutil.Must(alice.e.Send(ctx, bob.id, Outgoing{Media: &Media{Data: bytes.NewReader(data), Size: int64(len(data)), Filename: "f.bin"}}))(t)
	en := findEntry(t, testutil.Must(bob.e.Sync(ctx, sent.ConversationID, nil))(t).Entries, sent.SequenceID)
	att := en.Attachments[0].Media
	unsized := *att
	unsized.FilesizeBytes = 0
	for _, cut := range []int{0, 10, secretstream.HeaderSize, secretstream.HeaderSize + secretstream.EncryptedChunkSize, int(att.FilesizeBytes) - 1} {
		srv := httptest.NewServer(cutMediaBodies(n.srv.Config.Handler, cut))
		c := testutil.Must(api.New(api.WithBaseURL(srv.URL), api.WithBearerToken(bob.token), api.WithHTTPClient(srv.Client())))(t)
		via.media = NewAPIServer(c)
		for _, a := range []*event.MediaAttachment{att, &unsized} {
			d := downloadBoth(ctx, t, bob.e, sent.ConversationID, a, en.KeyVersion, 0)
			if !errors.Is(d.err, io.ErrUnexpectedEOF) || !bytes.HasPrefix(data, d.wrote) {
				t.Errorf("cut after %d of %d bytes, announcing %d: wrote %d bytes, %v, want io.ErrUnexpectedEOF",
					cut, att.FilesizeBytes, a.FilesizeBytes, len(d.wrote), d.err)
			}
		}
		srv.Close()
	}
	via.media = via.Server
	if d := downloadBoth(ctx, t, bob.e, sent.ConversationID, att, en.KeyVersion, 0); d.err != nil || !bytes.Equal(d.got, data) {
		t.Fatalf("uncut: %d bytes, %v", len(d.got), d.err)
	}
}

// mediaRewrite serves every media download rewritten by fn, which also
// sees the server, to fetch other blobs from; with endless set, an endless
// run of bytes follows what fn returns. read counts the bytes the last
// download read of it.
type mediaRewrite struct {
	Server
	fn      func(srv Server, blob []byte) []byte
	endless bool
	read    int64
}

func (m *mediaRewrite) MediaDownload(ctx context.Context, conv, hash string) (io.ReadCloser, error) {
	rc, err := m.Server.MediaDownload(ctx, conv, hash)
	if err != nil || m.fn == nil {
		return rc, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	var body io.Reader = bytes.NewReader(m.fn(m.Server, b))
	if m.endless {
		body = io.MultiReader(body, endlessReader{})
	}
	m.read = 0
	return io.NopCloser(readCounter{r: body, n: &m.read}), nil
}

// readCounter adds the bytes read through it to *n.
type readCounter struct {
	r io.Reader
	n *int64
}

func (c readCounter) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	*c.n += int64(k)
	return k, err
}

// endlessReader never ends: every Read fills its buffer.
type endlessReader struct{}

func (endlessReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i*31 + 7)
	}
	return len(p), nil
}

// TestMediaHostileServer: the server chooses the bytes it serves, but a
// blob whose frames it reordered, dropped, repeated or spliced in from
// another blob sealed under the same key, or a blob under another header,
// fails authentication (xchat's secretstream.ErrDecrypt) or the framing
// (ErrTruncated, ErrDataAfterFinal), one of another size (a smaller blob,
// a prefix) fails the signed size (xchat.ErrMediaTruncated), and an endless
// body fails at its first frame that is not the blob's, read no further.
// Both forms fail alike: DownloadMedia returns no data, and DownloadMediaTo
// has written exactly the frames that authenticated before the failure
// (which its caller must discard). A blob of the same size under the same
// key cannot be told apart by either form (see DownloadMedia), and with no
// size announced neither can a smaller whole blob or a blob cut to its
// header (an empty file).
func TestMediaHostileServer(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	rw := &mediaRewrite{}
	bob := n.userWith("bob", func(s Server) Server { rw.Server = s; return rw })
	var cid string
	send := func(size int, seed byte) (*event.MediaAttachment, string, []byte) {
		data := bytes.Repeat([]byte{seed}, size)
		sent := testutil.Must(alice.e.Send(ctx, bob.id, Outgoing{Media: &Media{Data: bytes.NewReader(data), Size: int64(size), Filename: "f.bin"}}))(t)
		cid = sent.ConversationID
		en := findEntry(t, testutil.Must(bob.e.Sync(ctx, cid, nil))(t).Entries, sent.SequenceID)
		return en.Attachments[0].Media, en.KeyVersion, data
	}
	const size = 4*secretstream.ChunkSize + 100 // four full frames and a FINAL one
	att, version, plain := send(size, 'a')
	other, otherVersion, otherPlain := send(size, 'b')
	small, _, smallPlain := send(size-secretstream.ChunkSize, 'c')
	if version != otherVersion {
		t.Fatalf("the two blobs are under key versions %q and %q, want one", version, otherVersion)
	}
	blob := func(srv Server, a *event.MediaAttachment) []byte {
		rc := testutil.Must(srv.MediaDownload(ctx, api.ConversationPathID(cid), a.MediaHashKey))(t)
		defer rc.Close()
		return testutil.Must(io.ReadAll(rc))(t)
	}
	const h, f, c = secretstream.HeaderSize, secretstream.EncryptedChunkSize, secretstream.ChunkSize
	frame := func(b []byte, i int) []byte { return b[h+i*f : min(h+(i+1)*f, len(b))] }
	for _, tc := range []struct {
		name    string
		fn      func(srv Server, b []byte) []byte
		endless bool
		want    error  // announcing the blob's size
		served  []byte // the plaintext of the stream the frames that authenticate belong to
		wrote   int    // bytes of it DownloadMediaTo writes
		// unsized: with no size announced, the download succeeds with all
		// of served (else it fails as announced).
		unsized bool
	}{
		{name: "frames 0 and 1 swapped", fn: func(_ Server, b []byte) []byte {
			return slices.Concat(b[:h], frame(b, 1), frame(b, 0), b[h+2*f:])
		}, want: secretstream.ErrDecrypt},
		{name: "frames 2 and 3 swapped", fn: func(_ Server, b []byte) []byte {
			return slices.Concat(b[:h+2*f], frame(b, 3), frame(b, 2), b[h+4*f:])
		}, want: secretstream.ErrDecrypt, wrote: 2 * c},
		{name: "frame 1 dropped", fn: func(_ Server, b []byte) []byte { return slices.Concat(b[:h+f], b[h+2*f:]) },
			want: secretstream.ErrDecrypt, wrote: c},
		{name: "frame 1 repeated", fn: func(_ Server, b []byte) []byte { return slices.Concat(b[:h+2*f], frame(b, 1), b[h+2*f:]) },
			want: secretstream.ErrDecrypt, wrote: 2 * c},
		{name: "FINAL frame dropped", fn: func(_ Server, b []byte) []byte { return b[:h+4*f] },
			want: secretstream.ErrTruncated, wrote: 3 * c},
		{name: "cut after frame 1 (a prefix)", fn: func(_ Server, b []byte) []byte { return b[:h+2*f] },
			want: secretstream.ErrTruncated, wrote: c},
		{name: "cut to the header", fn: func(_ Server, b []byte) []byte { return b[:h] },
			want: xchat.ErrMediaTruncated, served: []byte{}, unsized: true},
		{name: "FINAL frame repeated", fn: func(_ Server, b []byte) []byte { return slices.Concat(b, frame(b, 4)) },
			want: secretstream.ErrDecrypt, wrote: 4 * c},
		{name: "frame 2 from another blob", fn: func(srv Server, b []byte) []byte {
			return slices.Concat(b[:h+2*f], frame(blob(srv, other), 2), b[h+3*f:])
		}, want: secretstream.ErrDecrypt, wrote: 2 * c},
		{name: "another blob's header", fn: func(srv Server, b []byte) []byte { return slices.Concat(blob(srv, other)[:h], b[h:]) },
			want: secretstream.ErrDecrypt},
		{name: "a smaller blob under the same key", fn: func(srv Server, _ []byte) []byte { return blob(srv, small) },
			want: xchat.ErrMediaTruncated, served: smallPlain, wrote: len(smallPlain), unsized: true},
		{name: "a blob of the same size under the same key", fn: func(srv Server, _ []byte) []byte { return blob(srv, other) },
			served: otherPlain, wrote: size, unsized: true},
		{name: "FINAL frame dropped, then an endless body", fn: func(_ Server, b []byte) []byte { return b[:h+4*f] }, endless: true,
			want: secretstream.ErrDecrypt, wrote: 4 * c},
		{name: "the whole blob, then an endless body", fn: func(_ Server, b []byte) []byte { return b }, endless: true,
			want: secretstream.ErrDecrypt, wrote: 4 * c},
	} {
		rw.fn, rw.endless = tc.fn, tc.endless
		served := plain
		if tc.served != nil {
			served = tc.served
		}
		for _, a := range []event.MediaAttachment{*att, {MediaHashKey: att.MediaHashKey}} {
			want, wrote := tc.want, tc.wrote
			if a.FilesizeBytes == 0 && tc.unsized {
				want, wrote = nil, len(served)
			}
			d := downloadBoth(ctx, t, bob.e, cid, &a, version, 0)
			if !errors.Is(d.err, want) || (want == nil && d.err != nil) || !bytes.Equal(d.wrote, served[:wrote]) {
				t.Errorf("%s (announced %d): wrote %d bytes, %v, want %v after %d bytes of the served stream",
					tc.name, a.FilesizeBytes, len(d.wrote), d.err, want, wrote)
			}
			if tc.endless && rw.read > h+5*f+1 {
				t.Errorf("%s: read %d bytes of the endless body, want no more than the frame that failed (%d)", tc.name, rw.read, h+5*f+1)
			}
		}
	}
	rw.fn, rw.endless = nil, false
	if d := downloadBoth(ctx, t, bob.e, cid, att, version, 0); d.err != nil || !bytes.Equal(d.got, plain) {
		t.Fatalf("untampered: %d bytes, %v", len(d.got), d.err)
	}
}

// uploadHook runs before on the first media upload it starts.
type uploadHook struct {
	Server
	once   sync.Once
	before func()
}

func (s *uploadHook) MediaUploadInitialize(ctx context.Context, req *api.ChatMediaUploadInitializeRequest) (*api.ChatMediaUploadInitializeResponse, error) {
	s.once.Do(func() {
		if s.before != nil {
			s.before()
		}
	})
	return s.Server.MediaUploadInitialize(ctx, req)
}

// TestMediaKeyReplacedDuringUpload: the file is encrypted under the key
// current when the send starts; when that key is replaced while it uploads
// (here the peer re-keys and her new keys are pinned), the message is not
// sealed under the old key (xchat.ErrKeyReplaced) and nothing is sent or
// queued; sent again, the file goes under the new key. Unchanged, a send
// keeps its key.
func TestMediaKeyReplacedDuringUpload(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	var hook *uploadHook
	bob := n.userWith("bob", func(s Server) Server { hook = &uploadHook{Server: s}; return hook })
	first, err := alice.e.SendText(ctx, bob.id, "hi")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.Sync(ctx, first.ConversationID, nil); err != nil {
		t.Fatal(err)
	}
	photo := func() *Media {
		body := bytes.Repeat([]byte("p"), 3000)
		return &Media{Data: bytes.NewReader(body), Size: int64(len(body)), Filename: "p.jpg"}
	}
	hook.before = func() {
		n.newDevice(alice)
		if _, err := bob.e.RefreshPeers(ctx, alice.id); err != nil {
			t.Error(err)
		}
	}
	old := testutil.Must(bob.e.Conversation(ctx, first.ConversationID))(t).KeyVersion
	if s, err := bob.e.Send(ctx, alice.id, Outgoing{Text: "caption", Media: photo()}); !errors.Is(err, xchat.ErrKeyReplaced) {
		t.Fatalf("send across the re-key: %+v, %v; want ErrKeyReplaced", s, err)
	}
	for _, en := range testutil.Must(bob.e.History(ctx, first.ConversationID, "", 0))(t) {
		if en.SenderID == bob.id {
			t.Errorf("stored after the refusal: %+v", en)
		}
	}
	if pending := testutil.Must(bob.e.Outbox(ctx))(t); len(pending) != 0 {
		t.Errorf("queued after the refusal: %+v", pending)
	}
	s, err := bob.e.Send(ctx, alice.id, Outgoing{Text: "caption", Media: photo()})
	if err != nil || s.KeyVersion == old {
		t.Fatalf("sent again: %+v, %v (old key %s)", s, err, old)
	}
}
