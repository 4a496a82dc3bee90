package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto/secretstream"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/session/event"
)

// downloaded is what the two forms of download made of one attachment.
type downloaded struct {
	got   []byte // DownloadMedia's result
	wrote []byte // what DownloadMediaTo wrote
	err   error  // the error both returned
}

// frameSink records every Write as one piece; with failAt > 0, the Write
// that would record piece failAt+1 fails with errSinkFull.
type frameSink struct {
	pieces [][]byte
	failAt int
}

var errSinkFull = errors.New("sink full")

func (s *frameSink) Write(p []byte) (int, error) {
	if s.failAt > 0 && len(s.pieces) == s.failAt {
		return 0, errSinkFull
	}
	s.pieces = append(s.pieces, bytes.Clone(p))
	return len(p), nil
}

func (s *frameSink) bytes() []byte { return slices.Concat(s.pieces...) }

// downloadBoth downloads att with DownloadMedia and with DownloadMediaTo
// and fails t unless the two agree: the same error (to the message), no
// result from DownloadMedia on error, the same bytes on success, a count
// from DownloadMediaTo that is what it wrote, and one Write per frame
// (whole frames; only the last may be short).
func downloadBoth(ctx context.Context, t *testing.T, e *Engine, cid string, att *event.MediaAttachment, version string, limit int64) downloaded {
	t.Helper()
	got, err := e.DownloadMedia(ctx, cid, att, version, limit)
	var w frameSink
	n, errTo := e.DownloadMediaTo(ctx, &w, cid, att, version, limit)
	wrote := w.bytes()
	switch {
	case fmt.Sprint(err) != fmt.Sprint(errTo):
		t.Errorf("DownloadMedia: %v; DownloadMediaTo: %v", err, errTo)
	case err != nil && got != nil:
		t.Errorf("DownloadMedia returned %d bytes with %v", len(got), err)
	case n != int64(len(wrote)):
		t.Errorf("DownloadMediaTo reported %d bytes and wrote %d", n, len(wrote))
	case err == nil && !bytes.Equal(got, wrote):
		t.Errorf("DownloadMedia returned %d bytes, DownloadMediaTo wrote %d other bytes", len(got), len(wrote))
	}
	for i, p := range w.pieces {
		if len(p) > secretstream.ChunkSize || (i < len(w.pieces)-1 && len(p) != secretstream.ChunkSize) {
			t.Errorf("DownloadMediaTo's write %d of %d is %d bytes, not a frame", i, len(w.pieces), len(p))
		}
	}
	return downloaded{got: got, wrote: wrote, err: err}
}

// stallAfter serves the first n bytes of every media download, then
// stalls (the connection stays open, nothing arrives) until the caller
// gives up: the first Read that would wait calls giveUp and waits for the
// download's context to end.
type stallAfter struct {
	Server
	n      int
	giveUp context.CancelFunc
}

func (s *stallAfter) MediaDownload(ctx context.Context, conv, hash string) (io.ReadCloser, error) {
	rc, err := s.Server.MediaDownload(ctx, conv, hash)
	if err != nil || s.giveUp == nil {
		return rc, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	return io.NopCloser(io.MultiReader(bytes.NewReader(b[:s.n]), &stalled{ctx: ctx, giveUp: s.giveUp})), nil
}

type stalled struct {
	ctx    context.Context
	giveUp context.CancelFunc
}

func (s *stalled) Read([]byte) (int, error) {
	s.giveUp()
	<-s.ctx.Done()
	return 0, s.ctx.Err()
}

// TestMediaToStalledServer: a server that stops sending midway holds a
// download only as long as its context: when the caller gives up, both
// forms fail with context.Canceled (a failed connection), and
// DownloadMediaTo has written only the frames that arrived whole.
func TestMediaToStalledServer(t *testing.T) {
	st := &stallAfter{}
	bob, cid, att, version, data := sentMedia(t, 5000, func(s Server) Server { st.Server = s; return st })
	st.n = secretstream.HeaderSize + 2*secretstream.EncryptedChunkSize + 10 // two frames and a bit
	for _, form := range []string{"DownloadMedia", "DownloadMediaTo"} {
		ctx, cancel := context.WithCancel(ctxT(t))
		st.giveUp = cancel
		var (
			w   frameSink
			got []byte
			n   int64
			err error
		)
		if form == "DownloadMedia" {
			got, err = bob.e.DownloadMedia(ctx, cid, &att, version, 0)
		} else {
			n, err = bob.e.DownloadMediaTo(ctx, &w, cid, &att, version, 0)
		}
		cancel()
		want := data[:2*secretstream.ChunkSize]
		if form == "DownloadMedia" {
			want = nil
		}
		if !errors.Is(err, context.Canceled) || got != nil || n != int64(len(w.bytes())) || !bytes.Equal(w.bytes(), want) {
			t.Errorf("%s: %d bytes returned, %d written (%d reported), %v, want context.Canceled after %d bytes written",
				form, len(got), len(w.bytes()), n, err, len(want))
		}
	}
}

// TestMediaToWriterFails: a writer that fails stops the download at once
// with the writer's error, after the frames it took.
func TestMediaToWriterFails(t *testing.T) {
	ctx := ctxT(t)
	bob, cid, att, version, data := sentMedia(t, 5000, nil)
	w := frameSink{failAt: 2}
	n, err := bob.e.DownloadMediaTo(ctx, &w, cid, &att, version, 0)
	if !errors.Is(err, errSinkFull) || n != 2*secretstream.ChunkSize || !bytes.Equal(w.bytes(), data[:n]) {
		t.Fatalf("wrote %d bytes (%d reported), %v, want errSinkFull after two frames", len(w.bytes()), n, err)
	}
	if _, err := bob.e.DownloadMediaTo(ctx, nil, cid, &att, version, 0); !errors.Is(err, xchat.ErrInvalidArgument) {
		t.Fatalf("nil writer: %v, want xchat.ErrInvalidArgument", err)
	}
	if _, err := bob.e.DownloadMediaTo(ctx, io.Discard, cid, &event.MediaAttachment{}, version, 0); !errors.Is(err, xchat.ErrInvalidArgument) {
		t.Fatalf("no hash key: %v, want xchat.ErrInvalidArgument", err)
	}
}

// TestMediaToHoldsOneFrame downloads a 32 MiB attachment from the emulator
// over loopback into io.Discard and bounds the bytes the whole process
// allocates meanwhile (the emulator serving it included): DownloadMedia
// costs the plaintext (TestMediaDownloadHoldsOnlyPlaintext), the streaming
// form a few frames and the connection's buffers, whatever the size: about
// 16 KiB, bounded here at 2 MiB (1/16 of the plaintext) because the
// emulator's contract recorder, on under scripts/test.sh, keeps up to 256
// KiB of every body it serves and encodes it.
func TestMediaToHoldsOneFrame(t *testing.T) {
	ctx := ctxT(t)
	const size = 32 << 20
	bob, cid, att, version, _ := sentMedia(t, size, nil)
	var (
		n   int64
		err error
	)
	alloc := testutil.AllocatedBytes(func() { n, err = bob.e.DownloadMediaTo(ctx, io.Discard, cid, &att, version, 0) })
	if err != nil || n != size {
		t.Fatalf("DownloadMediaTo: %d bytes, %v", n, err)
	}
	t.Logf("streaming %d bytes (%d encrypted) allocated %d bytes (%.4f× the plaintext)", size, att.FilesizeBytes, alloc, float64(alloc)/size)
	if bound := uint64(2 << 20); alloc > bound {
		t.Errorf("allocated %d bytes, want at most %d", alloc, bound)
	}
}
