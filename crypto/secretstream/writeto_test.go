package secretstream

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/xchat-go/xchat/internal/testutil"
)

// frameWriter records every Write as one piece.
type frameWriter struct {
	pieces [][]byte
	failAt int // fail the Write that would make len(pieces) exceed failAt (if > 0)
}

var errSink = errors.New("sink full")

func (w *frameWriter) Write(p []byte) (int, error) {
	if w.failAt > 0 && len(w.pieces) == w.failAt {
		return 0, errSink
	}
	w.pieces = append(w.pieces, bytes.Clone(p))
	return len(p), nil
}

func (w *frameWriter) bytes() []byte { return slices.Concat(w.pieces...) }

// TestWriteTo: WriteTo writes the plaintext of every size of stream, read
// whole, in halves or byte by byte, one Write per frame (the last frame
// of a non-empty stream included) and none for an empty one; io.Copy uses
// it; after a Read it writes the rest.
func TestWriteTo(t *testing.T) {
	key := testKey()
	for _, size := range []int{0, 1, 8, 1016, 1023, 1024, 1025, 2048, 3000, 64<<10 + 1} {
		pt := make([]byte, size)
		for i := range pt {
			pt[i] = byte(i*7 + 3)
		}
		ct := testutil.Must(Encrypt(nil, key, pt))(t)
		for _, rd := range []func() io.Reader{
			func() io.Reader { return bytes.NewReader(ct) },
			func() io.Reader { return iotest.HalfReader(bytes.NewReader(ct)) },
			func() io.Reader { return iotest.OneByteReader(bytes.NewReader(ct)) },
		} {
			r := testutil.Must(NewReader(rd(), key))(t)
			var w frameWriter
			n, err := r.WriteTo(&w)
			if err != nil || n != int64(size) || !bytes.Equal(w.bytes(), pt) {
				t.Fatalf("size %d: wrote %d bytes (%d reported), %v", size, len(w.bytes()), n, err)
			}
			if frames := (size + ChunkSize - 1) / ChunkSize; len(w.pieces) != frames {
				t.Fatalf("size %d: %d writes, want one per frame (%d)", size, len(w.pieces), frames)
			}
			for i, p := range w.pieces {
				if len(p) != min(ChunkSize, size-i*ChunkSize) {
					t.Fatalf("size %d: write %d is %d bytes", size, i, len(p))
				}
			}
			if n, err := r.WriteTo(&w); n != 0 || err != nil {
				t.Fatalf("size %d: WriteTo after the end: %d, %v", size, n, err)
			}
		}
		var buf bytes.Buffer
		r := testutil.Must(NewReader(bytes.NewReader(ct), key))(t)
		if n, err := io.Copy(&buf, r); err != nil || n != int64(size) || !bytes.Equal(buf.Bytes(), pt) {
			t.Fatalf("size %d: io.Copy %d, %v", size, n, err)
		}
		if size > 100 {
			r := testutil.Must(NewReader(bytes.NewReader(ct), key))(t)
			head := make([]byte, 100)
			testutil.Must(io.ReadFull(r, head))(t)
			buf.Reset()
			if n, err := r.WriteTo(&buf); err != nil || n != int64(size-100) || !bytes.Equal(append(head, buf.Bytes()...), pt) {
				t.Fatalf("size %d: WriteTo after Read: %d, %v", size, n, err)
			}
		}
	}
}

// TestWriteToRejects: the failures of TestReadAllHintRejects through
// WriteTo fail with the same errors, and what reached the writer before is
// exactly the plaintext of the frames that authenticated: whole frames of
// the stream, in order, none after the failure.
func TestWriteToRejects(t *testing.T) {
	key := testKey()
	pt := bytes.Repeat([]byte("xchat media "), 300) // 3600 bytes: 4 frames
	ct := testutil.Must(Encrypt(nil, key, pt))(t)
	full := testutil.Must(Encrypt(nil, key, pt[:3*ChunkSize]))(t)
	flip := bytes.Clone(ct)
	flip[HeaderSize+EncryptedChunkSize+7] ^= 1 // inside frame 1
	flipLast := bytes.Clone(ct)
	flipLast[len(flipLast)-20] ^= 1 // inside the short last frame
	f0, f1 := HeaderSize, HeaderSize+EncryptedChunkSize
	f2 := f1 + EncryptedChunkSize
	reordered := slices.Concat(ct[:f0], ct[f1:f2], ct[f0:f1], ct[f2:])
	other := testutil.Must(Encrypt(nil, key, pt))(t)
	spliced := slices.Concat(ct[:f2], other[f2:])
	for _, c := range []struct {
		name   string
		ct     []byte
		want   error
		frames int // frames written before the failure
	}{
		{"short header", ct[:HeaderSize-1], ErrTruncated, 0},
		{"truncated at frame boundary", ct[:f1], ErrTruncated, 0},
		{"truncated at the second frame boundary", ct[:f2], ErrTruncated, 1},
		{"truncated mid frame", ct[:f1+100], ErrDecrypt, 1},
		{"last frame dropped", ct[:f2+EncryptedChunkSize], ErrTruncated, 2},
		{"data after final", append(bytes.Clone(full), 0), ErrDataAfterFinal, 2},
		{"trailing bytes", append(bytes.Clone(ct), 0), ErrDecrypt, 3},
		{"bit flip", flip, ErrDecrypt, 1},
		{"last frame flip", flipLast, ErrDecrypt, 3},
		{"frames reordered", reordered, ErrDecrypt, 0},
		{"streams spliced", spliced, ErrDecrypt, 2},
	} {
		for _, rd := range []io.Reader{bytes.NewReader(c.ct), iotest.OneByteReader(bytes.NewReader(c.ct))} {
			r := testutil.Must(NewReader(rd, key))(t)
			var w frameWriter
			n, err := r.WriteTo(&w)
			if !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, err, c.want)
			}
			if got := w.bytes(); n != int64(len(got)) || !bytes.Equal(got, pt[:c.frames*ChunkSize]) || len(w.pieces) != c.frames {
				t.Errorf("%s: wrote %d bytes in %d writes (%d reported), want the first %d frames", c.name, len(got), len(w.pieces), n, c.frames)
			}
			if n, err2 := r.WriteTo(&w); n != 0 || !errors.Is(err2, c.want) {
				t.Errorf("%s: WriteTo again: %d, %v, want the same failure", c.name, n, err2)
			}
		}
	}
}

// TestWriteToWriterFails: a failing writer stops the stream at once, its
// error is returned wrapped, and the Reader stays failed.
func TestWriteToWriterFails(t *testing.T) {
	key := testKey()
	pt := bytes.Repeat([]byte{7}, 5*ChunkSize)
	ct := testutil.Must(Encrypt(nil, key, pt))(t)
	src := bytes.NewReader(ct)
	r := testutil.Must(NewReader(src, key))(t)
	w := frameWriter{failAt: 2}
	n, err := r.WriteTo(&w)
	if !errors.Is(err, errSink) || n != 2*ChunkSize || !bytes.Equal(w.bytes(), pt[:2*ChunkSize]) {
		t.Fatalf("wrote %d (%d reported), %v, want two frames and errSink", len(w.bytes()), n, err)
	}
	if read := len(ct) - src.Len(); read > HeaderSize+3*EncryptedChunkSize+1 {
		t.Fatalf("read %d bytes of the stream after the writer failed at the third frame", read)
	}
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, errSink) {
		t.Fatalf("Read after a failed WriteTo: %v", err)
	}
	short := writerFunc(func(p []byte) (int, error) { return len(p) - 1, nil })
	r = testutil.Must(NewReader(bytes.NewReader(ct), key))(t)
	if _, err := r.WriteTo(short); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("short write: %v", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestWriteToHoldsOneFrame: streaming 1 MiB to io.Discard allocates the
// Reader and one frame buffer, not the stream.
func TestWriteToHoldsOneFrame(t *testing.T) {
	key := testKey()
	ct := testutil.Must(Encrypt(nil, key, make([]byte, 1<<20)))(t)
	var err error
	n := testutil.LeastAllocatedBytes(3, func() {
		r, rerr := NewReader(bytes.NewReader(ct), key)
		if rerr != nil {
			err = rerr
			return
		}
		_, err = r.WriteTo(io.Discard)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n > 16<<10 {
		t.Errorf("%d bytes allocated, want at most 16 KiB", n)
	}
}

// FuzzWriteTo checks WriteTo against Read for any stream, read in pieces
// of any size: the same error class, and the same bytes before it.
func FuzzWriteTo(f *testing.F) {
	key := testKey()
	for _, n := range []int{0, 1, 1024, 1500, 2048} {
		ct := testutil.Must(Encrypt(nil, key, make([]byte, n)))(f)
		f.Add(ct, uint8(0))
		f.Add(ct[:len(ct)-1], uint8(7))
	}
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, ct []byte, piece uint8) {
		pieces := func() io.Reader {
			if piece > 0 {
				return &pieceReader{r: bytes.NewReader(ct), n: int(piece)}
			}
			return bytes.NewReader(ct)
		}
		want, werr := io.ReadAll(testutil.Must(NewReader(pieces(), key))(t))
		var got bytes.Buffer
		n, err := testutil.Must(NewReader(pieces(), key))(t).WriteTo(&got)
		if (err == nil) != (werr == nil) || n != int64(got.Len()) || !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("WriteTo: %d bytes (%d reported), %v; Read: %d bytes, %v", got.Len(), n, err, len(want), werr)
		}
		if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrDataAfterFinal) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}
