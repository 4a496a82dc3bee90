package secretstream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
)

const (
	// ChunkSize is the plaintext size of every frame but the last in the
	// XChat framing.
	ChunkSize = 1024
	// EncryptedChunkSize is the wire size of a full frame (1041 bytes).
	EncryptedChunkSize = ChunkSize + ABytes
)

// EncryptedSize returns the size of Encrypt's output for an n-byte
// plaintext, or -1 if n is negative or the result overflows int64.
func EncryptedSize(n int64) int64 {
	if n < 0 {
		return -1
	}
	if n == 0 {
		return HeaderSize
	}
	chunks := (n-1)/ChunkSize + 1
	if n > math.MaxInt64-HeaderSize-chunks*ABytes {
		return -1
	}
	return HeaderSize + n + chunks*ABytes
}

// PlaintextSize inverts EncryptedSize: it returns the plaintext size of an
// n-byte encrypted stream, or -1 when no plaintext encrypts to exactly n
// bytes.
func PlaintextSize(n int64) int64 {
	if n < HeaderSize {
		return -1
	}
	m := n - HeaderSize
	if m == 0 {
		return 0
	}
	full, rem := m/EncryptedChunkSize, m%EncryptedChunkSize
	if rem == 0 {
		return full * ChunkSize
	}
	if rem <= ABytes {
		return -1 // a frame holds at least one byte
	}
	return full*ChunkSize + rem - ABytes
}

// Encrypt encrypts plaintext under key with the XChat framing: header, then
// 1024-byte chunks with the last one tagged FINAL; empty plaintext yields
// the header alone. The header is drawn from rand (nil means
// crypto/rand.Reader).
func Encrypt(rand io.Reader, key, plaintext []byte) ([]byte, error) {
	size := EncryptedSize(int64(len(plaintext)))
	if size < 0 || size > math.MaxInt {
		return nil, fmt.Errorf("secretstream: plaintext too large")
	}
	p, header, err := NewPushState(rand, key)
	if err != nil {
		return nil, err
	}
	defer p.Zero()
	out := make([]byte, 0, size+pushSlack) // Push works in the slack after the last frame
	out = append(out, header[:]...)
	for len(plaintext) > 0 {
		n, tag := ChunkSize, TagMessage
		if len(plaintext) <= ChunkSize {
			n, tag = len(plaintext), TagFinal
		}
		if out, err = p.Push(out, plaintext[:n], nil, tag); err != nil {
			return nil, err
		}
		plaintext = plaintext[n:]
	}
	return out, nil
}

// Decrypt reverses Encrypt. It returns ErrTruncated if ciphertext is shorter
// than a header or a non-empty stream lacks its FINAL frame,
// ErrDataAfterFinal if a FINAL frame is not last, and ErrDecrypt if any frame
// fails authentication or carries a tag other than MESSAGE, PUSH, REKEY or
// FINAL. Non-final frames may carry MESSAGE, PUSH or REKEY (REKEY is
// honoured) and the FINAL frame may be empty, exactly as the XDK accepts.
func Decrypt(key, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) < HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, header needs %d", ErrTruncated, len(ciphertext), HeaderSize)
	}
	p, err := NewPullState(key, ciphertext[:HeaderSize])
	if err != nil {
		return nil, err
	}
	defer p.Zero()
	body := ciphertext[HeaderSize:]
	if len(body) == 0 {
		return []byte{}, nil
	}
	frames := (len(body)-1)/EncryptedChunkSize + 1
	// Exact for a well-formed stream, plus the slack Pull works in.
	out := make([]byte, 0, max(len(body)-frames*ABytes, 0)+pullSlack)
	for len(body) > 0 {
		n := min(len(body), EncryptedChunkSize)
		var tag Tag
		out, tag, err = p.Pull(out, body[:n], nil)
		if err != nil {
			clear(out)
			return nil, err
		}
		body = body[n:]
		if tag > TagFinal {
			clear(out)
			return nil, fmt.Errorf("%w: unknown tag %d", ErrDecrypt, tag)
		}
		if tag == TagFinal && len(body) > 0 {
			clear(out)
			return nil, ErrDataAfterFinal
		}
		if len(body) == 0 && tag != TagFinal {
			clear(out)
			return nil, fmt.Errorf("%w: last frame is not FINAL", ErrTruncated)
		}
	}
	return out, nil
}

// Writer encrypts everything written to it onto an underlying writer with
// the XChat framing. Close must be called to emit the FINAL frame; the
// header is written with the first output.
type Writer struct {
	w       io.Writer
	p       *PushState
	header  []byte // pending header, nil once written
	buf     []byte // up to ChunkSize+1 bytes of pending plaintext
	frame   []byte
	started bool
	err     error
}

// NewWriter returns a Writer that encrypts onto w under key, drawing the
// header from rand (nil means crypto/rand.Reader).
func NewWriter(w io.Writer, key []byte, rand io.Reader) (*Writer, error) {
	p, header, err := NewPushState(rand, key)
	if err != nil {
		return nil, err
	}
	return &Writer{
		w:      w,
		p:      p,
		header: bytes.Clone(header[:]),
		buf:    make([]byte, 0, ChunkSize+1),
		frame:  make([]byte, 0, EncryptedChunkSize+pushSlack),
	}, nil
}

// Write buffers and encrypts b. A chunk is emitted once more plaintext
// follows it, so that the last chunk can be tagged FINAL by Close.
func (w *Writer) Write(b []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(b) > 0 {
		if len(w.buf) == ChunkSize {
			// More data follows the buffered chunk: it is not the last.
			if err := w.emit(TagMessage); err != nil {
				return written, err
			}
		}
		n := copy(w.buf[len(w.buf):ChunkSize], b)
		w.buf = w.buf[:len(w.buf)+n]
		b = b[n:]
		written += n
		w.started = true
	}
	return written, nil
}

func (w *Writer) emit(tag Tag) error {
	if err := w.flushHeader(); err != nil {
		return err
	}
	var err error
	w.frame, err = w.p.Push(w.frame[:0], w.buf, nil, tag)
	clear(w.buf)
	w.buf = w.buf[:0]
	if err != nil {
		w.err = err
		return err
	}
	if _, err := w.w.Write(w.frame); err != nil {
		w.err = fmt.Errorf("secretstream: write: %w", err)
		return w.err
	}
	return nil
}

func (w *Writer) flushHeader() error {
	if w.header == nil {
		return nil
	}
	if _, err := w.w.Write(w.header); err != nil {
		w.err = fmt.Errorf("secretstream: write: %w", err)
		return w.err
	}
	w.header = nil
	return nil
}

// Close writes the FINAL frame (or only the header for an empty stream) and
// wipes the state. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		if errors.Is(w.err, ErrClosed) {
			return nil
		}
		return w.err
	}
	var err error
	if w.started {
		err = w.emit(TagFinal)
	} else {
		err = w.flushHeader()
	}
	w.p.Zero()
	if err == nil {
		w.err = ErrClosed
	}
	return err
}

// Reader decrypts an XChat-framed stream read from an underlying reader.
//
// Every frame is authenticated before its plaintext is returned, but the
// stream is only known to be complete when Read returns io.EOF: a stream
// cut short yields ErrTruncated at the end, after earlier chunks were
// already returned. Callers must not treat the data as whole until they see
// io.EOF.
type Reader struct {
	r      io.Reader
	key    []byte
	p      *PullState
	cur    []byte // encrypted frame being assembled
	next   []byte // lookahead byte storage
	out    []byte // decrypted, not yet returned plaintext
	outBuf []byte
	frames int
	final  bool
	err    error
}

// NewReader returns a Reader decrypting r under key. The key is copied.
func NewReader(r io.Reader, key []byte) (*Reader, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKey, len(key), KeySize)
	}
	return &Reader{
		r:      r,
		key:    bytes.Clone(key),
		cur:    make([]byte, EncryptedChunkSize+1),
		outBuf: make([]byte, 0, ChunkSize+pullSlack),
	}, nil
}

// Read implements io.Reader.
func (r *Reader) Read(b []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.fill()
	}
	n := copy(b, r.out)
	clear(r.out[:n])
	r.out = r.out[n:]
	return n, nil
}

// fill decrypts the next frame into r.out, or returns the terminal error
// (io.EOF on a complete stream).
func (r *Reader) fill() error {
	frameLen, last, err := r.frame()
	if err != nil {
		return err
	}
	out, err := r.pull(r.outBuf[:0], frameLen, last)
	if err != nil {
		return err
	}
	r.outBuf, r.out = out, out
	return nil
}

// frame reads the next frame into r.cur and returns its length and
// whether it is the last one, or the terminal error (io.EOF on a complete
// stream).
func (r *Reader) frame() (frameLen int, last bool, err error) {
	if r.p == nil {
		var header [HeaderSize]byte
		if _, err := io.ReadFull(r.r, header[:]); err != nil {
			return 0, false, r.fail(readErr(err, "header"))
		}
		p, err := NewPullState(r.key, header[:])
		clear(r.key)
		if err != nil {
			return 0, false, r.fail(err)
		}
		r.p = p
	}
	// Read one full frame plus one byte of lookahead, to learn whether the
	// frame is the last one.
	have := len(r.next)
	copy(r.cur, r.next)
	n, err := io.ReadFull(r.r, r.cur[have:])
	total := have + n
	switch {
	case err == nil:
		// A full frame and at least one more byte.
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		if total == 0 {
			if r.frames > 0 && !r.final {
				return 0, false, r.fail(fmt.Errorf("%w: last frame is not FINAL", ErrTruncated))
			}
			r.p.Zero()
			return 0, false, io.EOF
		}
	default:
		return 0, false, r.fail(fmt.Errorf("secretstream: read: %w", err))
	}
	if r.final {
		return 0, false, r.fail(ErrDataAfterFinal)
	}
	frameLen = min(total, EncryptedChunkSize)
	r.next = append(r.next[:0], r.cur[frameLen:total]...)
	return frameLen, total <= EncryptedChunkSize, nil
}

// pull authenticates the frame read by frame and appends its plaintext
// to dst (Pull grows dst unless it has frameLen-ABytes+pullSlack bytes of
// spare capacity).
func (r *Reader) pull(dst []byte, frameLen int, last bool) ([]byte, error) {
	start := len(dst)
	out, tag, err := r.p.Pull(dst, r.cur[:frameLen], nil)
	if err != nil {
		return nil, r.fail(err)
	}
	r.frames++
	if tag > TagFinal {
		clear(out[start:])
		return nil, r.fail(fmt.Errorf("%w: unknown tag %d", ErrDecrypt, tag))
	}
	if tag == TagFinal {
		if !last {
			clear(out[start:])
			return nil, r.fail(ErrDataAfterFinal)
		}
		r.final = true
	} else if last {
		clear(out[start:])
		return nil, r.fail(fmt.Errorf("%w: last frame is not FINAL", ErrTruncated))
	}
	return out, nil
}

// ReadAll decrypts the rest of the stream into one buffer, each frame
// straight into its place, and returns it once the stream has ended
// complete (io.EOF is not an error). The buffer starts at 64 KiB and
// doubles when a frame that has arrived does not fit: it is never sized
// from a length the sender or the server announces, and a stream whose
// plaintext fills it exactly does not double it. Every buffer it
// outgrows is wiped, and on error so is what was decrypted. After Read,
// it returns the rest (what Read has not returned yet first).
func (r *Reader) ReadAll() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	buf := make([]byte, 0, max(64<<10, len(r.out))+pullSlack)
	buf = append(buf, r.out...)
	clear(r.out)
	r.out = nil
	for {
		frameLen, last, err := r.frame()
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			clear(buf)
			return nil, err
		}
		if need := len(buf) + frameLen - ABytes + pullSlack; need > cap(buf) {
			grown := make([]byte, len(buf), max(2*cap(buf), need))
			copy(grown, buf)
			clear(buf)
			buf = grown
		}
		out, err := r.pull(buf, frameLen, last)
		if err != nil {
			clear(buf[:cap(buf)])
			return nil, err
		}
		buf = out
	}
}

func (r *Reader) fail(err error) error {
	if r.p != nil {
		r.p.Zero()
	}
	clear(r.key)
	return err
}

func readErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: incomplete %s", ErrTruncated, what)
	}
	return fmt.Errorf("secretstream: read %s: %w", what, err)
}
