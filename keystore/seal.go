package keystore

import (
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// sealVersion is the format version byte that prefixes every sealed value.
const sealVersion = 1

// aadPrefix domain-separates record AAD from every other use of the store key.
const aadPrefix = "xchat-go keystore record v1"

// sealedOverhead is the size a sealed value adds to its plaintext.
const sealedOverhead = 1 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// recordAAD binds a sealed value to its location: the bucket path and key.
// Each element is length-prefixed so distinct paths never collide.
func recordAAD(path ...[]byte) []byte {
	n := len(aadPrefix)
	for _, p := range path {
		n += binary.MaxVarintLen64 + len(p)
	}
	aad := make([]byte, 0, n)
	aad = append(aad, aadPrefix...)
	for _, p := range path {
		aad = appendAADElem(aad, p)
	}
	return aad
}

// appendRecordAAD appends recordAAD(bucket..., key) to dst.
func appendRecordAAD(dst []byte, bucket [][]byte, key []byte) []byte {
	dst = append(dst, aadPrefix...)
	for _, p := range bucket {
		dst = appendAADElem(dst, p)
	}
	return appendAADElem(dst, key)
}

// appendAADElem appends one length-prefixed element of a record's AAD.
func appendAADElem(dst, p []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(p)))
	return append(dst, p...)
}

// seal encrypts plaintext as version ‖ nonce ‖ ciphertext.
func seal(aead cipher.AEAD, rand io.Reader, plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, sealedOverhead+len(plaintext))
	out[0] = sealVersion
	if _, err := io.ReadFull(rand, out[1:]); err != nil {
		return nil, fmt.Errorf("keystore: reading nonce: %w", err)
	}
	return aead.Seal(out, out[1:1+chacha20poly1305.NonceSizeX], plaintext, aad), nil
}

// sealAppended seals, as seal does, the plaintext that appendPT appends to
// the empty slice it is given (of capacity n at least), in place: the
// plaintext is encrypted where it was written, so no copy of it is left.
// A plaintext that outgrew the room made for it is cleared once sealed.
func sealAppended(aead cipher.AEAD, rand io.Reader, aad []byte, n int, appendPT func([]byte) ([]byte, error)) ([]byte, error) {
	return sealInto(aead, rand, aad, make([]byte, 0, sealedSize(n)), appendPT)
}

// sealedSize is the size of a sealed value of a plaintext of n bytes.
func sealedSize(n int) int { return sealedOverhead + n }

// sealInto is sealAppended sealing into room, an empty slice whose
// capacity is the room made for the sealed value (sealedSize of the
// plaintext's expected size): the sealed value is room's array when it
// fits. A plaintext that outgrew room is cleared from wherever it was
// written but the sealed value; so is room, when the value does not start
// there, and on an error.
func sealInto(aead cipher.AEAD, rand io.Reader, aad, room []byte, appendPT func([]byte) ([]byte, error)) ([]byte, error) {
	const head = 1 + chacha20poly1305.NonceSizeX
	room = room[:0]
	if cap(room) < head {
		room = make([]byte, 0, head)
	}
	buf, err := appendPT(room[:head])
	if err != nil {
		clear(buf)
		clear(room[:cap(room)])
		return nil, err
	}
	buf[0] = sealVersion
	if _, err := io.ReadFull(rand, buf[1:head]); err != nil {
		clear(buf)
		clear(room[:cap(room)])
		return nil, fmt.Errorf("keystore: reading nonce: %w", err)
	}
	out := aead.Seal(buf[:head], buf[1:head], buf[head:], aad)
	if &out[0] != &buf[0] {
		clear(buf) // Seal needed a larger buffer: buf still holds the plaintext
	}
	if &out[0] != &room[:1][0] {
		clear(room[:cap(room)]) // appendPT outgrew room, leaving part of the plaintext there
	}
	return out, nil
}

// unseal reverses seal. what names the record for the error message (it
// is called only on failure: naming a record costs more than opening it).
func unseal(aead cipher.AEAD, sealed, aad []byte, what func() string) ([]byte, error) {
	if len(sealed) < sealedOverhead {
		return nil, fmt.Errorf("%w: %s: sealed value too short", ErrCorrupt, what())
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: %s: sealed value version %d", ErrUnsupportedVersion, what(), sealed[0])
	}
	nonce := sealed[1 : 1+chacha20poly1305.NonceSizeX]
	pt, err := aead.Open(nil, nonce, sealed[1+chacha20poly1305.NonceSizeX:], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: authentication failed", ErrCorrupt, what())
	}
	return pt, nil
}
