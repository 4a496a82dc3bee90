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
	return r.frameInto(r.cur)
}

// frameInto reads the next frame into win[:frameLen], using
// win[frameLen:] (win is EncryptedChunkSize+1 bytes) to look one byte
// ahead, which it keeps for the next frame. It returns the frame's length
// and whether it is the last one, or the terminal error (io.EOF on a
// complete stream).
func (r *Reader) frameInto(win []byte) (frameLen int, last bool, err error) {
	if r.p == nil {
		if err := r.start(); err != nil {
			return 0, false, err
		}
	}
	// Read one full frame plus one byte of lookahead, to learn whether the
	// frame is the last one.
	have := copy(win, r.next)
	n, err := io.ReadFull(r.r, win[have:])
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
	r.next = append(r.next[:0], win[frameLen:total]...)
	return frameLen, total <= EncryptedChunkSize, nil
}

// start reads the header and derives the pull state.
func (r *Reader) start() error {
	var header [HeaderSize]byte
	if _, err := io.ReadFull(r.r, header[:]); err != nil {
		return r.fail(readErr(err, "header"))
	}
	p, err := NewPullState(r.key, header[:])
	clear(r.key)
	if err != nil {
		return r.fail(err)
	}
	r.p = p
	return nil
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
	if err := r.checkTag(tag, last); err != nil {
		clear(out[start:])
		return nil, err
	}
	return out, nil
}

// checkTag counts an authenticated frame and refuses its tag where the
// framing does not allow it: an unknown tag, FINAL before the end, or a
// last frame that is not FINAL.
func (r *Reader) checkTag(tag Tag, last bool) error {
	r.frames++
	switch {
	case tag > TagFinal:
		return r.fail(fmt.Errorf("%w: unknown tag %d", ErrDecrypt, tag))
	case tag == TagFinal && !last:
		return r.fail(ErrDataAfterFinal)
	case tag != TagFinal && last:
		return r.fail(fmt.Errorf("%w: last frame is not FINAL", ErrTruncated))
	}
	r.final = tag == TagFinal
	return nil
}

// WriteTo implements io.WriterTo (io.Copy uses it): it decrypts the rest
// of the stream one frame at a time, each read into one frame-sized buffer
// and decrypted there, and writes each frame's plaintext to w, in one
// Write, only after the frame authenticated; it wipes the plaintext before
// it returns. After Read, it writes what Read has not returned yet first.
// It returns the number of plaintext bytes written and nil once the stream
// has ended complete.
//
// As with Read, the stream is only known to be whole when WriteTo returns
// nil: on any error w has received the plaintext of the frames that
// authenticated before the failure (a prefix of the stream, whole frames
// except where w failed), and the caller must discard it. An error of w
// is returned wrapped, and ends the Reader.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var written int64
	if len(r.out) > 0 {
		n, err := r.emit(w, r.out)
		clear(r.out)
		r.out, written = nil, int64(n)
		if err != nil {
			return written, err
		}
	}
	// blockSize-1 bytes of room before the frame, where its tag block is
	// decrypted (see openInPlace), then the frame and one byte of lookahead.
	// Each frame overwrites the last one's plaintext; what is left is wiped
	// on return, as is a short last frame's plaintext, decrypted aside.
	win := make([]byte, blockSize+EncryptedChunkSize)
	defer clear(win)
	defer clear(r.outBuf[:cap(r.outBuf)])
	for r.err == nil {
		var plain []byte
		if plain, r.err = r.openFrame(win); r.err != nil {
			break
		}
		n, err := r.emit(w, plain)
		written += int64(n)
		if err != nil {
			return written, err
		}
	}
	if r.err == io.EOF {
		return written, nil
	}
	return written, r.err
}

// emit writes plain, a frame's authenticated plaintext, to w. A failure
// of w ends the Reader.
func (r *Reader) emit(w io.Writer, plain []byte) (int, error) {
	n, err := w.Write(plain)
	if err == nil && n != len(plain) {
		err = io.ErrShortWrite
	}
	if err != nil {
		r.err = r.fail(fmt.Errorf("secretstream: write: %w", err))
		return n, r.err
	}
	return n, nil
}

// openFrame reads the next frame into win (blockSize+EncryptedChunkSize
// bytes) after blockSize-1 bytes of room, and authenticates and decrypts it
// there. It returns the frame's plaintext, a slice of win (or, for a short
// last frame, of r.outBuf), or the terminal error (io.EOF on a complete
// stream).
func (r *Reader) openFrame(win []byte) ([]byte, error) {
	frameLen, last, err := r.frameInto(win[blockSize-1:])
	if err != nil {
		return nil, err
	}
	mlen := frameLen - ABytes
	var (
		plain []byte
		tag   Tag
	)
	if mlen >= 0 && aeadFits(mlen) {
		tag, err = r.p.openInPlace(win[:blockSize+mlen+macSize], nil)
		plain = win[blockSize : blockSize+mlen]
	} else {
		// A short last frame: decrypted from a copy.
		copy(r.cur, win[blockSize-1:blockSize-1+frameLen])
		plain, tag, err = r.p.Pull(r.outBuf[:0], r.cur[:frameLen], nil)
	}
	if err != nil {
		return nil, r.fail(err)
	}
	if err := r.checkTag(tag, last); err != nil {
		clear(plain)
		return nil, err
	}
	return plain, nil
}

// ReadAll decrypts the rest of the stream into one buffer and returns it
// once the stream has ended complete (io.EOF is not an error). It is
// ReadAllHint with no size announced: the buffer starts at 64 KiB.
func (r *Reader) ReadAll() ([]byte, error) {
	return r.ReadAllHint(0)
}

// ReadAllHint decrypts the rest of the stream into one buffer, each frame
// read straight into its place and decrypted there, and returns it once
// the stream has ended complete (io.EOF is not an error). After Read, it
// returns the rest (what Read has not returned yet first).
//
// size, if positive, is the plaintext size the caller expects; it sizes
// the first buffer and nothing else. The caller must bound it by what it
// is willing to allocate before any byte has arrived, for it is usually
// announced by someone else. A stream longer than size doubles the buffer
// when a frame that has arrived does not fit (a stream whose plaintext
// fills it exactly does not double it), a shorter one leaves it partly
// unused, and the result and the errors are those of a stream read with
// the exact size. Every buffer it outgrows is wiped, and on error so is
// what was decrypted. A size beyond the memory available fails as make
// does.
func (r *Reader) ReadAllHint(size int) ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	if size <= 0 {
		size = 64 << 10
	}
	size = min(size, math.MaxInt-blockSize-EncryptedChunkSize)
	// blockSize bytes of room before the plaintext, where each frame's tag
	// block is decrypted (see openInPlace).
	buf := make([]byte, blockSize, blockSize+max(size, len(r.out))+EncryptedChunkSize)
	buf = append(buf, r.out...)
	clear(r.out)
	r.out = nil
	for {
		var err error
		if cap(buf)-len(buf) >= EncryptedChunkSize {
			buf, err = r.decryptInPlace(buf)
		} else {
			buf, err = r.decryptGrowing(buf)
		}
		if err == io.EOF {
			return buf[blockSize:], nil
		}
		if err != nil {
			clear(buf[:cap(buf)])
			return nil, err
		}
	}
}

// decryptInPlace reads the next frame into buf's spare capacity, where
// its plaintext belongs, and decrypts it there (buf has EncryptedChunkSize
// bytes of spare capacity and blockSize bytes before the plaintext). It
// returns buf extended by the plaintext, or the terminal error (io.EOF on
// a complete stream).
func (r *Reader) decryptInPlace(buf []byte) ([]byte, error) {
	p := len(buf)
	// The frame's first byte (its encrypted tag) goes just before the
	// plaintext's place, and its tag block is decrypted in the blockSize
	// bytes before that: keep what they hold and put it back.
	var kept [blockSize]byte
	copy(kept[:], buf[p-blockSize:p])
	defer clear(kept[:])
	frameLen, last, err := r.frameInto(buf[p-1 : p+EncryptedChunkSize])
	if err != nil {
		copy(buf[p-blockSize:p], kept[:])
		return buf, err
	}
	mlen := frameLen - ABytes
	var tag Tag
	if mlen >= 0 && aeadFits(mlen) {
		tag, err = r.p.openInPlace(buf[p-blockSize:p+mlen+macSize], nil)
		copy(buf[p-blockSize:p], kept[:])
	} else {
		// A short last frame: decrypted from a copy.
		copy(r.cur, buf[p-1:p-1+frameLen])
		copy(buf[p-blockSize:p], kept[:])
		_, tag, err = r.p.Pull(buf[:p], r.cur[:frameLen], nil)
	}
	if err != nil {
		return buf, r.fail(err)
	}
	buf = buf[:p+mlen]
	return buf, r.checkTag(tag, last)
}

// decryptGrowing reads the next frame aside and decrypts it onto buf,
// which it first moves to a buffer twice as large if the frame does not
// fit. It returns buf extended by the plaintext, or the terminal error
// (io.EOF on a complete stream).
func (r *Reader) decryptGrowing(buf []byte) ([]byte, error) {
	frameLen, last, err := r.frame()
	if err != nil {
		return buf, err
	}
	if need := len(buf) + frameLen - ABytes + pullSlack; need > cap(buf) {
		grown := make([]byte, len(buf), max(2*cap(buf), need+EncryptedChunkSize))
		copy(grown, buf)
		clear(buf[:cap(buf)])
		buf = grown
	}
	out, err := r.pull(buf, frameLen, last)
	if err != nil {
		return buf, err
	}
	return out, nil
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
