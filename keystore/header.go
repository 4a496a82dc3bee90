package keystore

import (
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// The store header lives in the "meta" bucket under "header". Layout
// (big-endian):
//
//	"XCKS" magic (4) ‖ format version (1) ‖ protection mode (1) ‖
//	argon2 time (4) ‖ argon2 memory KiB (4) ‖ argon2 threads (1) ‖ salt (16) ‖
//	wrapped store key: nonce (24) ‖ XChaCha20-Poly1305(KEK, store key) (48)
//
// The wrapped store key is authenticated with everything before it as AAD,
// so the parameters cannot be altered without detection.
//
// Format 2 differs from format 1 only in the message-id index (see
// msgindex.go): a program knowing only format 1 refuses a format-2 store,
// since it would miss the index entries format 2 keeps elsewhere. Format 3
// differs from format 2 only in the event records it writes (binary, see
// recordbin.go; the JSON records of the formats before are still read): a
// program knowing only formats 1 and 2 refuses a format-3 store, whose
// new records it would take for damaged ones. Headers of formats 1 and 2
// are still read, and upgraded by OpenHeader.
const (
	headerMagic      = "XCKS"
	formatVersion    = 3
	formatVersion2   = 2
	formatVersion1   = 1
	headerPrefixSize = 4 + 1 + 1 + 4 + 4 + 1 + saltSize
	wrappedKeySize   = chacha20poly1305.NonceSizeX + 32 + chacha20poly1305.Overhead
	headerSize       = headerPrefixSize + wrappedKeySize
)

// protection modes
const (
	modePassphrase byte = 1
	modeKey        byte = 2
)

// header is the parsed store header.
type header struct {
	version byte // formatVersion1, formatVersion2 or formatVersion
	mode    byte
	params  Argon2Params // zero in key mode
	salt    [saltSize]byte
	wrapped [wrappedKeySize]byte
}

func (h *header) prefix() []byte {
	b := make([]byte, 0, headerSize)
	b = append(b, headerMagic...)
	b = append(b, h.version, h.mode)
	b = binary.BigEndian.AppendUint32(b, h.params.Time)
	b = binary.BigEndian.AppendUint32(b, h.params.MemoryKiB)
	b = append(b, h.params.Threads)
	b = append(b, h.salt[:]...)
	return b
}

func (h *header) marshal() []byte { return append(h.prefix(), h.wrapped[:]...) }

// parseHeader strictly decodes a store header.
func parseHeader(b []byte) (*header, error) {
	if len(b) < len(headerMagic)+1 || string(b[:len(headerMagic)]) != headerMagic {
		return nil, fmt.Errorf("%w: not a keystore header", ErrCorrupt)
	}
	v := b[len(headerMagic)]
	if v != formatVersion && v != formatVersion2 && v != formatVersion1 {
		return nil, fmt.Errorf("%w: store format %d", ErrUnsupportedVersion, v)
	}
	if len(b) != headerSize {
		return nil, fmt.Errorf("%w: header is %d bytes, want %d", ErrCorrupt, len(b), headerSize)
	}
	h := &header{version: v, mode: b[5]}
	h.params.Time = binary.BigEndian.Uint32(b[6:])
	h.params.MemoryKiB = binary.BigEndian.Uint32(b[10:])
	h.params.Threads = b[14]
	copy(h.salt[:], b[15:headerPrefixSize])
	copy(h.wrapped[:], b[headerPrefixSize:])
	switch h.mode {
	case modePassphrase:
		if err := h.params.validate(); err != nil {
			return nil, fmt.Errorf("%w: header: %w", ErrCorrupt, err)
		}
	case modeKey:
		if h.params != (Argon2Params{}) {
			return nil, fmt.Errorf("%w: header: key mode with argon2 parameters", ErrCorrupt)
		}
	default:
		return nil, fmt.Errorf("%w: protection mode %d", ErrUnsupportedVersion, h.mode)
	}
	return h, nil
}

// wrap seals the store key under kek into h.wrapped.
func (h *header) wrap(kek, storeKey *SecretKey, rand io.Reader) error {
	aead, err := chacha20poly1305.NewX(kek[:])
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	nonce := h.wrapped[:chacha20poly1305.NonceSizeX]
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return fmt.Errorf("keystore: reading nonce: %w", err)
	}
	ct := aead.Seal(nil, nonce, storeKey[:], h.prefix())
	copy(h.wrapped[chacha20poly1305.NonceSizeX:], ct)
	return nil
}

// unwrap recovers the store key; ok is false when kek is wrong or the
// header was altered.
func (h *header) unwrap(kek *SecretKey) (key SecretKey, ok bool) {
	aead, err := chacha20poly1305.NewX(kek[:])
	if err != nil {
		return key, false
	}
	pt, err := aead.Open(nil, h.wrapped[:chacha20poly1305.NonceSizeX], h.wrapped[chacha20poly1305.NonceSizeX:], h.prefix())
	if err != nil || len(pt) != len(key) {
		return key, false
	}
	copy(key[:], pt)
	clear(pt)
	return key, true
}
