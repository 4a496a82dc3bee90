package secretstream

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"
	// The deprecated poly1305 package serves frames whose MAC layout differs
	// from RFC 8439 (see state.finish).
	//lint:ignore SA1019 libsodium's MAC layout needs raw Poly1305
	"golang.org/x/crypto/poly1305"
)

const (
	// KeySize is the length of a stream key.
	KeySize = 32
	// HeaderSize is the length of the stream header.
	HeaderSize = 24
	// ABytes is the per-frame overhead: one tag byte and a 16-byte MAC.
	ABytes = 1 + macSize

	macSize     = 16
	inonceSize  = 8
	counterSize = 4
	blockSize   = 64
)

// Tag is the per-frame tag of a secretstream.
type Tag byte

// Frame tags, as defined by libsodium.
const (
	// TagMessage marks an ordinary frame.
	TagMessage Tag = 0
	// TagPush marks the end of a set of messages without ending the stream.
	TagPush Tag = 1
	// TagRekey makes both sides derive a new key after this frame.
	TagRekey Tag = 2
	// TagFinal marks the last frame of the stream; it also rekeys.
	TagFinal Tag = TagPush | TagRekey
)

// Errors returned by this package. Functions wrap them with %w.
var (
	// ErrInvalidKey reports a key that is not 32 bytes.
	ErrInvalidKey = errors.New("secretstream: invalid key")
	// ErrDecrypt reports a frame that is too short or fails authentication.
	ErrDecrypt = errors.New("secretstream: decryption failed")
	// ErrTruncated reports a stream that ends before its header is complete
	// or, when non-empty, before a FINAL frame.
	ErrTruncated = errors.New("secretstream: stream truncated")
	// ErrDataAfterFinal reports data following a FINAL frame.
	ErrDataAfterFinal = errors.New("secretstream: data after final frame")
	// ErrClosed reports use of a Writer after Close or of a finished state.
	ErrClosed = errors.New("secretstream: use after close")
)

// state is the libsodium crypto_secretstream_xchacha20poly1305_state: the
// subkey and the 12-byte IETF nonce made of a little-endian 32-bit counter
// followed by the 8-byte inonce.
//
// A libsodium frame encrypts the 64-byte block [tag, 0 × 63] at ChaCha20
// block counter 1 and the message from counter 2, with a Poly1305 key from
// counter 0 over ad, its padding, the 64+mlen ciphertext bytes, padding and
// both lengths; the wire frame keeps only the first ciphertext byte of the
// tag block. That is an RFC 8439 ChaCha20-Poly1305 seal of
// [tag, 0 × 63] ‖ msg except for the padding after the ciphertext, which
// libsodium computes as mlen mod 16 where RFC 8439 uses -(64+mlen) mod 16.
// The two agree when mlen is a multiple of 8, which includes every full
// 1024-byte chunk: such frames go through the x/crypto AEAD, which has an
// assembly implementation (see Push and Pull); the others use ChaCha20
// and Poly1305 directly (pushGeneric, pullGeneric).
type state struct {
	k     [KeySize]byte
	nonce [chacha20.NonceSize]byte
	// aead is ChaCha20-Poly1305 keyed with k, built lazily and dropped on
	// every rekey. The x/crypto AEAD keeps its own copy of the key, which
	// this package cannot wipe; it becomes garbage when dropped.
	aead cipher.AEAD
	live bool
}

// pushSlack and pullSlack are the spare capacity Push and Pull need after
// their output when they work in place in a short dst: they handle the
// whole 64-byte tag block (plus the MAC when pulling) and then move the
// message down.
const (
	pushSlack = blockSize - 1
	pullSlack = blockSize + macSize
)

func (s *state) init(key []byte, header *[HeaderSize]byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKey, len(key), KeySize)
	}
	sub, err := chacha20.HChaCha20(key, header[:16])
	if err != nil {
		return fmt.Errorf("secretstream: hchacha20: %w", err)
	}
	copy(s.k[:], sub)
	clear(sub)
	s.resetCounter()
	copy(s.nonce[counterSize:], header[16:])
	s.aead = nil
	s.live = true
	return nil
}

// begin starts a frame: it returns the ChaCha20 stream positioned at block 1
// and a Poly1305 MAC keyed with block 0 that has absorbed ad and its padding.
func (s *state) begin(ad []byte) (*chacha20.Cipher, *poly1305.MAC, error) {
	c, err := chacha20.NewUnauthenticatedCipher(s.k[:], s.nonce[:])
	if err != nil {
		return nil, nil, fmt.Errorf("secretstream: %w", err)
	}
	var block0 [blockSize]byte
	c.XORKeyStream(block0[:], block0[:])
	mac := poly1305.New((*[32]byte)(block0[:32]))
	clear(block0[:])
	mac.Write(ad)
	mac.Write(zeros[:(0x10-len(ad))&0xf])
	return c, mac, nil
}

// finish absorbs the ciphertext and lengths and writes the MAC to out. The
// padding after the ciphertext is libsodium's (0x10 - 64 + mlen) & 0xf, which
// is mlen mod 16 rather than the RFC 8439 padding; compatibility requires
// reproducing it.
func (s *state) finish(mac *poly1305.MAC, ct []byte, adLen int, out []byte) {
	mac.Write(ct)
	mac.Write(zeros[:(0x10-blockSize+len(ct))&0xf])
	var lens [16]byte
	binary.LittleEndian.PutUint64(lens[:8], uint64(adLen))
	binary.LittleEndian.PutUint64(lens[8:], uint64(blockSize+len(ct)))
	mac.Write(lens[:])
	mac.Sum(out[:0])
}

var zeros [16]byte

// aeadFits reports whether a frame with an mlen-byte message has the RFC
// 8439 MAC layout (see state).
func aeadFits(mlen int) bool { return mlen%8 == 0 }

// cipher returns the AEAD for the current key, building it after a (re)key.
func (s *state) cipher() (cipher.AEAD, error) {
	if s.aead == nil {
		a, err := chacha20poly1305.New(s.k[:])
		if err != nil {
			return nil, fmt.Errorf("secretstream: %w", err)
		}
		s.aead = a
	}
	return s.aead, nil
}

func (s *state) resetCounter() {
	clear(s.nonce[:counterSize])
	s.nonce[0] = 1
}

// rekey replaces k ‖ inonce with their ChaCha20 encryption under the current
// key and nonce (block counter 0), then resets the counter to 1.
func (s *state) rekey() {
	var kn [KeySize + inonceSize]byte
	copy(kn[:KeySize], s.k[:])
	copy(kn[KeySize:], s.nonce[counterSize:])
	c, err := chacha20.NewUnauthenticatedCipher(s.k[:], s.nonce[:])
	if err != nil {
		// Unreachable: key and nonce sizes are fixed.
		panic("secretstream: " + err.Error())
	}
	c.XORKeyStream(kn[:], kn[:])
	copy(s.k[:], kn[:KeySize])
	copy(s.nonce[counterSize:], kn[KeySize:])
	clear(kn[:])
	s.resetCounter()
	s.aead = nil
}

// advance folds the MAC into the inonce, increments the counter and rekeys
// when the tag asks for it or the counter wrapped.
func (s *state) advance(mac []byte, tag Tag) {
	for i := range inonceSize {
		s.nonce[counterSize+i] ^= mac[i]
	}
	ctr := binary.LittleEndian.Uint32(s.nonce[:counterSize]) + 1
	binary.LittleEndian.PutUint32(s.nonce[:counterSize], ctr)
	if tag&TagRekey != 0 || ctr == 0 {
		s.rekey()
	}
}

func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

func (s *state) zero() {
	clear(s.k[:])
	clear(s.nonce[:])
	s.aead = nil
	s.live = false
}

// PushState encrypts the frames of one stream.
type PushState struct {
	s state
}

// NewPushState starts a stream under key with a header drawn from rand (nil
// means crypto/rand.Reader) and returns the state and the header to send
// first.
func NewPushState(rand io.Reader, key []byte) (*PushState, [HeaderSize]byte, error) {
	var header [HeaderSize]byte
	if len(key) != KeySize {
		return nil, header, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKey, len(key), KeySize)
	}
	if _, err := io.ReadFull(randOrDefault(rand), header[:]); err != nil {
		return nil, header, fmt.Errorf("secretstream: reading randomness: %w", err)
	}
	p := &PushState{}
	if err := p.s.init(key, &header); err != nil {
		return nil, header, err
	}
	return p, header, nil
}

// Push encrypts msg with additional data ad and tag, appends the
// len(msg)+ABytes frame to dst and returns the result. msg and dst must not
// overlap. Push works in dst's spare capacity (up to 63 bytes beyond the
// frame, wiped before it returns).
func (p *PushState) Push(dst, msg, ad []byte, tag Tag) ([]byte, error) {
	if !p.s.live {
		return nil, ErrClosed
	}
	if !aeadFits(len(msg)) {
		return p.pushGeneric(dst, msg, ad, tag)
	}
	aead, err := p.s.cipher()
	if err != nil {
		return nil, err
	}
	n, mlen := len(dst), len(msg)
	// Seal [tag, 0 × 63] ‖ msg in place in dst's spare capacity, then drop
	// ciphertext bytes 1..63 by moving the rest down.
	dst = slices.Grow(dst, blockSize+mlen+macSize)
	buf := dst[n : n+blockSize+mlen]
	buf[0] = byte(tag)
	clear(buf[1:blockSize])
	copy(buf[blockSize:], msg)
	aead.Seal(buf[:0], p.s.nonce[:], buf, ad)
	dst = dst[:n+ABytes+mlen]
	copy(dst[n+1:], dst[n+blockSize:n+blockSize+mlen+macSize])
	clear(dst[n+ABytes+mlen : n+blockSize+mlen+macSize]) // stale bytes beyond the frame
	p.s.advance(dst[n+1+mlen:], tag)
	return dst, nil
}

// pushGeneric is Push for any message length, with ChaCha20 and Poly1305
// applied separately.
func (p *PushState) pushGeneric(dst, msg, ad []byte, tag Tag) ([]byte, error) {
	c, mac, err := p.s.begin(ad)
	if err != nil {
		return nil, err
	}
	var block [blockSize]byte
	block[0] = byte(tag)
	c.XORKeyStream(block[:], block[:])
	mac.Write(block[:])
	n := len(dst)
	dst = slices.Grow(dst, ABytes+len(msg))
	dst = append(dst, block[0])
	dst = append(dst, msg...)
	ct := dst[n+1:]
	c.XORKeyStream(ct, ct)
	var tagOut [macSize]byte
	p.s.finish(mac, ct, len(ad), tagOut[:])
	dst = append(dst, tagOut[:]...)
	p.s.advance(tagOut[:], tag)
	return dst, nil
}

// Rekey derives a new key without sending a frame, like
// crypto_secretstream_xchacha20poly1305_rekey. The receiver must call Rekey
// at the same point.
func (p *PushState) Rekey() {
	if p.s.live {
		p.s.rekey()
	}
}

// Zero wipes the state; it cannot be used afterwards.
func (p *PushState) Zero() {
	p.s.zero()
}

// PullState decrypts the frames of one stream.
type PullState struct {
	s state
}

// NewPullState starts decrypting a stream under key from its 24-byte header.
func NewPullState(key, header []byte) (*PullState, error) {
	if len(header) != HeaderSize {
		return nil, fmt.Errorf("%w: header is %d bytes, want %d", ErrTruncated, len(header), HeaderSize)
	}
	p := &PullState{}
	if err := p.s.init(key, (*[HeaderSize]byte)(header)); err != nil {
		return nil, err
	}
	return p, nil
}

// Pull authenticates and decrypts one frame with additional data ad,
// appends the plaintext to dst and returns it with the frame's tag. On
// failure the state is unchanged and nil is returned. dst and frame must
// not overlap. Pull works in dst's spare capacity (up to 80 bytes beyond
// the plaintext, wiped before it returns).
func (p *PullState) Pull(dst, frame, ad []byte) ([]byte, Tag, error) {
	if !p.s.live {
		return nil, 0, ErrClosed
	}
	if len(frame) < ABytes {
		return nil, 0, fmt.Errorf("%w: frame is %d bytes, minimum %d", ErrDecrypt, len(frame), ABytes)
	}
	n, mlen := len(dst), len(frame)-ABytes
	if !aeadFits(mlen) {
		return p.pullGeneric(dst, frame, ad)
	}
	// Work in place in dst's spare capacity (the frame after blockSize-1
	// bytes of room for its tag block) and move the message down.
	dst = slices.Grow(dst, pullSlack+mlen)
	buf := dst[n : n+blockSize+mlen+macSize]
	copy(buf[blockSize-1:], frame)
	tag, err := p.openInPlace(buf, ad)
	if err != nil {
		clear(buf)
		return nil, 0, err
	}
	dst = dst[:n+mlen]
	copy(dst[n:], buf[blockSize:])
	clear(dst[n+mlen : n+mlen+pullSlack]) // stale plaintext beyond the result
	return dst, tag, nil
}

// openInPlace authenticates and decrypts a frame whose message length
// mlen = len(buf)-blockSize-macSize is a multiple of 8, laid out in buf
// after blockSize-1 bytes of room: buf[blockSize-1] is the encrypted tag,
// then come the ciphertext and the MAC. On success the plaintext is in
// buf[blockSize:blockSize+mlen], buf[:blockSize] holds the decrypted tag
// block and the state has advanced; on failure the state is unchanged.
//
// The AEAD ciphertext is c0 ‖ keystream[1:64] ‖ cm ‖ mac: the sender
// encrypted 63 zero bytes after the tag, so their ciphertext is the
// keystream of block 1, computed here into the room before the frame.
func (p *PullState) openInPlace(buf, ad []byte) (Tag, error) {
	if !p.s.live {
		return 0, ErrClosed
	}
	aead, err := p.s.cipher()
	if err != nil {
		return 0, err
	}
	c0 := buf[blockSize-1]
	p.s.keystreamBlock1((*[blockSize]byte)(buf[:blockSize]))
	buf[0] = c0
	if _, err := aead.Open(buf[:0], p.s.nonce[:], buf, ad); err != nil {
		return 0, ErrDecrypt
	}
	p.s.advance(buf[len(buf)-macSize:], Tag(buf[0]))
	return Tag(buf[0]), nil
}

// pullGeneric is Pull for any message length, with ChaCha20 and Poly1305
// applied separately.
func (p *PullState) pullGeneric(dst, frame, ad []byte) ([]byte, Tag, error) {
	mlen := len(frame) - ABytes
	ct, got := frame[1:1+mlen], frame[1+mlen:]
	c, mac, err := p.s.begin(ad)
	if err != nil {
		return nil, 0, err
	}
	var block [blockSize]byte
	block[0] = frame[0]
	c.XORKeyStream(block[:], block[:])
	tag := Tag(block[0])
	block[0] = frame[0]
	mac.Write(block[:])
	var want [macSize]byte
	p.s.finish(mac, ct, len(ad), want[:])
	if subtle.ConstantTimeCompare(want[:], got) != 1 {
		return nil, 0, ErrDecrypt
	}
	n := len(dst)
	dst = append(dst, ct...)
	c.XORKeyStream(dst[n:], dst[n:])
	p.s.advance(want[:], tag)
	return dst, tag, nil
}

// Rekey mirrors PushState.Rekey on the receiving side.
func (p *PullState) Rekey() {
	if p.s.live {
		p.s.rekey()
	}
}

// Zero wipes the state; it cannot be used afterwards.
func (p *PullState) Zero() {
	p.s.zero()
}
