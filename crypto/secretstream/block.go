package secretstream

import (
	"encoding/binary"
	"math/bits"
)

// keystreamBlock1 writes ChaCha20 block 1 of the current key and nonce
// (RFC 8439, section 2.3: the keystream that encrypts a frame's tag block)
// to out. It is one block of golang.org/x/crypto/chacha20, which on most
// platforms is portable Go with a per-cipher setup that costs as much again
// for a single block; every full frame needs exactly one.
func (s *state) keystreamBlock1(out *[blockSize]byte) {
	const j0, j1, j2, j3 = 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574
	k, n := &s.k, &s.nonce
	j4, j5 := binary.LittleEndian.Uint32(k[0:]), binary.LittleEndian.Uint32(k[4:])
	j6, j7 := binary.LittleEndian.Uint32(k[8:]), binary.LittleEndian.Uint32(k[12:])
	j8, j9 := binary.LittleEndian.Uint32(k[16:]), binary.LittleEndian.Uint32(k[20:])
	j10, j11 := binary.LittleEndian.Uint32(k[24:]), binary.LittleEndian.Uint32(k[28:])
	j12 := uint32(1) // the block counter
	j13, j14, j15 := binary.LittleEndian.Uint32(n[0:]), binary.LittleEndian.Uint32(n[4:]), binary.LittleEndian.Uint32(n[8:])

	x0, x1, x2, x3 := uint32(j0), uint32(j1), uint32(j2), uint32(j3)
	x4, x5, x6, x7, x8, x9, x10, x11 := j4, j5, j6, j7, j8, j9, j10, j11
	x12, x13, x14, x15 := j12, j13, j14, j15
	for range 10 {
		// A column round, then a diagonal round.
		x0, x4, x8, x12 = quarterRound(x0, x4, x8, x12)
		x1, x5, x9, x13 = quarterRound(x1, x5, x9, x13)
		x2, x6, x10, x14 = quarterRound(x2, x6, x10, x14)
		x3, x7, x11, x15 = quarterRound(x3, x7, x11, x15)
		x0, x5, x10, x15 = quarterRound(x0, x5, x10, x15)
		x1, x6, x11, x12 = quarterRound(x1, x6, x11, x12)
		x2, x7, x8, x13 = quarterRound(x2, x7, x8, x13)
		x3, x4, x9, x14 = quarterRound(x3, x4, x9, x14)
	}
	binary.LittleEndian.PutUint32(out[0:], x0+j0)
	binary.LittleEndian.PutUint32(out[4:], x1+j1)
	binary.LittleEndian.PutUint32(out[8:], x2+j2)
	binary.LittleEndian.PutUint32(out[12:], x3+j3)
	binary.LittleEndian.PutUint32(out[16:], x4+j4)
	binary.LittleEndian.PutUint32(out[20:], x5+j5)
	binary.LittleEndian.PutUint32(out[24:], x6+j6)
	binary.LittleEndian.PutUint32(out[28:], x7+j7)
	binary.LittleEndian.PutUint32(out[32:], x8+j8)
	binary.LittleEndian.PutUint32(out[36:], x9+j9)
	binary.LittleEndian.PutUint32(out[40:], x10+j10)
	binary.LittleEndian.PutUint32(out[44:], x11+j11)
	binary.LittleEndian.PutUint32(out[48:], x12+j12)
	binary.LittleEndian.PutUint32(out[52:], x13+j13)
	binary.LittleEndian.PutUint32(out[56:], x14+j14)
	binary.LittleEndian.PutUint32(out[60:], x15+j15)
}

// quarterRound is the ChaCha quarter round (RFC 8439, section 2.1).
func quarterRound(a, b, c, d uint32) (uint32, uint32, uint32, uint32) {
	a += b
	d = bits.RotateLeft32(d^a, 16)
	c += d
	b = bits.RotateLeft32(b^c, 12)
	a += b
	d = bits.RotateLeft32(d^a, 8)
	c += d
	b = bits.RotateLeft32(b^c, 7)
	return a, b, c, d
}
